"""everestctl emulator against the sandbox: `accounts` (reference §2, §3) and the invocation log."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import random
import re

import pytest

from everest_sandbox import DEFAULT_ADMIN_PASSWORD
from everest_sandbox.everestctl import cli
from everest_sandbox.everestctl.testing import CONFLICT, SECRET, accounts_secret, ectl, get, must, spawn, system_uid, users

RFC3339 = r'\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})'


def pbkdf2(sandbox, password: str) -> bytes:
    return hashlib.pbkdf2_hmac('sha256', password.encode(), system_uid(sandbox).encode(), 4096, 32)


def test_create_storage_layout_and_hash(clean_sandbox):
    sb = clean_sandbox
    res = ectl(sb, 'accounts', 'create', '-u', 'alice', '-p', 'Secret_1!')
    assert (res.returncode, res.stdout, res.stderr) == (0, "\u2705 User 'alice' has been created successfully\n\n", '')
    secret, text = accounts_secret(sb)
    expected_hash = pbkdf2(sb, 'Secret_1!')
    stored = users(sb)['alice']['passwordHash']
    stored = stored if isinstance(stored, bytes) else stored.encode()
    assert stored == expected_hash
    layout = (
        r'admin:\n  enabled: true\n  capabilities:\n  - login\n  passwordMtime: ""\n'
        rf'  passwordHash: {DEFAULT_ADMIN_PASSWORD}\n'
        rf'alice:\n  enabled: true\n  capabilities:\n  - login\n  passwordMtime: "{RFC3339}"\n  passwordHash: (.*)\n\Z'
    )
    match = re.match(layout, text)
    assert match, text
    if match.group(2).startswith('!!binary '):
        assert base64.b64decode(match.group(2)[len('!!binary ') :]) == expected_hash
    annotations = secret['metadata']['annotations']
    assert annotations.get('insecure-password/admin') == 'true'
    assert 'insecure-password/alice' not in annotations


def test_create_existing_and_missing_accounts(clean_sandbox):
    sb = clean_sandbox
    res = ectl(sb, 'accounts', 'create', '-u', 'admin', '-p', 'secret1')
    assert (res.returncode, res.stdout, res.stderr) == (1, '', '\u274c user already exists\n\n')
    res = ectl(sb, 'accounts', 'set-password', '-u', 'ghost', '--new-password', 'secret1')
    assert (res.returncode, res.stdout, res.stderr) == (1, '', '\u274c account not found\n\n')
    res = ectl(sb, 'accounts', 'delete', '-u', 'ghost')
    assert (res.returncode, res.stdout, res.stderr) == (1, '', '\u274c account not found\n\n')


def test_set_password_hashes_and_drops_annotation(clean_sandbox):
    sb = clean_sandbox
    res = ectl(sb, 'accounts', 'initial-admin-password')
    assert (res.returncode, res.stdout, res.stderr) == (0, DEFAULT_ADMIN_PASSWORD + '\n', '')
    res = ectl(sb, 'accounts', 'set-password', '--username', 'admin', '--new-password', 'N3w-admin')
    assert (res.returncode, res.stdout) == (0, "\u2705 Password for user 'admin' has been set successfully\n\n")
    secret, _users = accounts_secret(sb)
    assert 'insecure-password/admin' not in (secret['metadata'].get('annotations') or {})
    admin = users(sb)['admin']
    stored = admin['passwordHash'] if isinstance(admin['passwordHash'], bytes) else admin['passwordHash'].encode()
    assert stored == pbkdf2(sb, 'N3w-admin')
    assert re.fullmatch(RFC3339, admin['passwordMtime'])
    res = ectl(sb, 'accounts', 'initial-admin-password')
    assert (res.returncode, res.stdout, res.stderr) == (1, '', '\u274c cannot retrieve admin password after it has been updated\n\n')


def test_delete_leaves_stale_annotation(clean_sandbox):
    sb = clean_sandbox
    res = ectl(sb, 'accounts', 'delete', '-u', 'admin')
    assert (res.returncode, res.stdout, res.stderr) == (0, "\u2705 User 'admin' has been deleted successfully\n\n", '')
    secret, text = accounts_secret(sb)
    assert text == '{}\n'
    assert secret['metadata']['annotations'].get('insecure-password/admin') == 'true'
    res = ectl(sb, 'accounts', 'initial-admin-password')
    assert (res.returncode, res.stderr) == (1, '\u274c account not found\n\n')
    res = ectl(sb, 'accounts', 'list')
    assert (res.returncode, res.stdout) == (0, 'USER  CAPABILITIES  ENABLED  \n')


def test_list_formats(clean_sandbox):
    sb = clean_sandbox
    assert ectl(sb, 'accounts', 'create', '-u', 'bob_the_builder', '-p', 'secret1').returncode == 0
    res = ectl(sb, 'accounts', 'list')
    assert res.stdout == ('USER             CAPABILITIES  ENABLED  \nadmin            [login]       true     \nbob_the_builder  [login]       true     \n')
    res = ectl(sb, 'accounts', 'list', '--no-headers', '--columns', 'user,enabled')
    assert res.stdout == 'admin            true     \nbob_the_builder  true     \n'
    res = ectl(sb, 'accounts', 'list', '--columns=user,bogus,enabled')
    assert res.stdout == ('USER             BOGUS  ENABLED  \nadmin            true            \nbob_the_builder  true            \n')
    res = ectl(sb, '--json', 'accounts', 'list')  # tables go to stdout in every mode
    assert res.returncode == 0 and res.stdout.startswith('USER ') and res.stderr == ''


def test_list_order_is_random_without_deterministic_env(clean_sandbox, monkeypatch):
    sb = clean_sandbox
    for name in ('u_one', 'u_two', 'u_three'):
        assert ectl(sb, 'accounts', 'create', '-u', name, '-p', 'secret1').returncode == 0
    monkeypatch.delenv('EVEREST_SANDBOX_DETERMINISTIC', raising=False)
    monkeypatch.delenv('EVEREST_SANDBOX_CALL_LOG', raising=False)
    orders = set()
    for seed in range(6):  # in-process so the shuffle can be seeded: deterministic
        random.seed(seed)
        out = io.StringIO()
        assert cli.main(['-k', sb.kubeconfig, 'accounts', 'list', '--no-headers'], stdout=out, stderr=io.StringIO()) == 0
        orders.add(tuple(line.split()[0] for line in out.getvalue().splitlines()))
    assert all(sorted(order) == ['admin', 'u_one', 'u_three', 'u_two'] for order in orders)
    assert len(orders) > 1


def test_secret_missing(clean_sandbox):
    sb = clean_sandbox
    must(sb, 'DELETE', SECRET)
    res = ectl(sb, 'accounts', 'create', '-u', 'alice', '-p', 'secret1')
    assert (res.returncode, res.stderr) == (1, '\u274c secrets "everest-accounts" not found\nfailed to check if account already exists\n\n')
    res = ectl(sb, 'accounts', 'list')
    assert (res.returncode, res.stdout, res.stderr) == (1, '', '\u274c secrets "everest-accounts" not found\n\n')


def test_conflict_fault_passes_409_text_through(clean_sandbox):
    sb = clean_sandbox
    sb.faults(conflict_rate=1.0)
    res = ectl(sb, 'accounts', 'create', '-u', 'alice', '-p', 'secret1')
    assert (res.returncode, res.stdout, res.stderr) == (1, '', f'\u274c {CONFLICT}\n\n')
    res = ectl(sb, '--json', 'accounts', 'delete', '-u', 'admin')
    assert res.returncode == 1 and res.stdout == ''
    record = json.loads(res.stderr.splitlines()[-1])
    assert record['level'] == 'error' and record['msg'] == CONFLICT
    sb.clear_faults()
    assert sorted(users(sb)) == ['admin']


def test_concurrent_writers_never_lose_a_create(clean_sandbox):
    sb = clean_sandbox
    outcomes = []
    for round_no in range(3):
        procs = {f'user_{round_no}_{i}': spawn(sb, 'accounts', 'create', '-u', f'user_{round_no}_{i}', '-p', 'secret1') for i in range(3)}
        for name, proc in procs.items():
            out, err = proc.communicate(timeout=60)
            assert proc.returncode in (0, 1)
            if proc.returncode:
                assert (out, err) == ('', f'\u274c {CONFLICT}\n\n')
            outcomes.append((name, proc.returncode))
    created = {name for name, code in outcomes if code == 0}
    assert set(users(sb)) == {'admin'} | created


def test_json_mode_success_records(clean_sandbox):
    res = ectl(clean_sandbox, '--json', 'accounts', 'create', '-u', 'carol', '-p', 'secret1')
    assert (res.returncode, res.stdout) == (0, '')
    msgs = [json.loads(line)['msg'] for line in res.stderr.splitlines()]
    assert msgs == ["Creating user 'carol'", "User 'carol' has been created succesfully"]


def test_prompt_fails_fast_without_tty(clean_sandbox):
    res = ectl(clean_sandbox, 'accounts', 'set-password', '-u', 'admin', '-p', '')
    assert (res.returncode, res.stdout) == (1, '')
    assert res.stderr == '\u274c could not open a new TTY: open /dev/tty: no such device or address\n\n'
    assert users(clean_sandbox)['admin']['passwordHash'] == DEFAULT_ADMIN_PASSWORD


def test_reset_jwt_keys(clean_sandbox):
    sb = clean_sandbox
    res = ectl(sb, 'accounts', 'reset-jwt-keys')
    assert (res.returncode, res.stdout, res.stderr) == (0, '\u2705 JWT keys have been created/updated successfully\n\n', '')
    secret = get(sb, '/api/v1/namespaces/everest-system/secrets/everest-jwt')
    priv = base64.b64decode(secret['data']['id_rsa']).decode()
    pub = base64.b64decode(secret['data']['id_rsa.pub']).decode()
    assert priv.startswith('-----BEGIN RSA PRIVATE KEY-----\n') and pub.startswith('-----BEGIN RSA PUBLIC KEY-----\n')
    dep = get(sb, '/apis/apps/v1/namespaces/everest-system/deployments/everest-server')
    assert 'kubectl.kubernetes.io/restartedAt' in dep['spec']['template']['metadata']['annotations']
    assert ectl(sb, 'accounts', 'reset-jwt-keys').returncode == 0
    again = get(sb, '/api/v1/namespaces/everest-system/secrets/everest-jwt')
    assert again['data']['id_rsa'] != secret['data']['id_rsa']


def test_reset_jwt_keys_failure_is_silent_in_pretty_mode(clean_sandbox):
    sb = clean_sandbox
    must(sb, 'DELETE', '/apis/apps/v1/namespaces/everest-system/deployments/everest-server')
    res = ectl(sb, 'accounts', 'reset-jwt-keys')
    assert (res.returncode, res.stdout, res.stderr) == (1, '', '')
    res = ectl(sb, '--json', 'accounts', 'reset-jwt-keys')
    assert res.returncode == 1 and res.stdout == ''
    # RestartDeployment retries GET+Update, then joins the last error with its own (pkg/kubernetes/deployment.go)
    assert json.loads(res.stderr.splitlines()[-1])['msg'] == (
        'deployments.apps "everest-server" not found\ncannot add restart annotation to deployment=\'everest-server\' in namespace=\'everest-system\''
    )


@pytest.mark.parametrize(
    'args',
    [
        ('accounts', 'create', '-u', 'dave', '-p', 'Pa55word!'),
        ('accounts', 'create', '--username', 'erin', '--password=Pa55word!'),
        ('accounts', 'set-password', '-u', 'dave', '--new-password', 'Pa55word!'),
    ],
)
def test_call_log_records_masked_invocations(clean_sandbox, args):
    sb = clean_sandbox
    res = ectl(sb, *args)
    calls = sb.calls()
    assert len(calls) == 1
    rec = calls[0]
    assert list(rec)[:4] == ['ts', 'argv', 'rc', 'duration_s']  # then the timing fields (test_everestctl_timing.py)
    assert rec['rc'] == res.returncode
    assert 'Pa55word!' not in json.dumps(rec)
    assert rec['argv'][:2] == ['--kubeconfig', sb.kubeconfig]
    assert any('********' in a for a in rec['argv'])


@pytest.mark.parametrize(
    'args, secret_gets, secret_updates',
    [
        (('accounts', 'create', '-u', 'frank', '-p', 'secret1'), 2, 1),
        (('accounts', 'set-password', '-u', 'admin', '-p', 'secret1'), 2, 1),
        (('accounts', 'delete', '-u', 'admin'), 2, 1),
        (
            (
                'accounts',
                'list',
            ),
            1,
            0,
        ),
    ],
)
def test_request_pattern_reads_secret_twice(clean_sandbox, args, secret_gets, secret_updates):
    """Reference §3: a read to check, a second read to merge into, one plain Update (no retry, no patch)."""
    sb = clean_sandbox
    sb.reset_stats()
    assert ectl(sb, *args).returncode == 0
    stats = sb.stats()
    secrets = next(v for k, v in stats['by_resource'].items() if k.endswith('secrets'))
    assert (secrets['get'], secrets['update'], secrets['patch'], secrets['create']) == (secret_gets, secret_updates, 0, 0)
    assert stats['by_verb']['discovery'] == 0
