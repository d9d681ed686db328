"""everestctl emulator against the sandbox: `settings rbac validate|can` with the live ConfigMap (reference §5)."""

from __future__ import annotations

import pathlib

import pytest

from everest_sandbox.everestctl.testing import ectl, get, must

CM = '/api/v1/namespaces/everest-system/configmaps/everest-rbac'
FIXTURES = pathlib.Path(__file__).parent / 'fixtures' / 'everestctl'


def set_policy(sb, policy=None, enabled='true'):
    cm = get(sb, CM)
    data = {'enabled': enabled}
    if policy is not None:
        data['policy.csv'] = policy
    cm['data'] = data
    must(sb, 'PUT', CM, cm)


def can(sb, *args):
    res = ectl(sb, 'settings', 'rbac', 'can', *args)
    return res.returncode, res.stdout, res.stderr


def test_seeded_policy_is_valid_and_disabled_means_yes(clean_sandbox):
    sb = clean_sandbox
    res = ectl(sb, 'settings', 'rbac', 'validate')
    assert (res.returncode, res.stdout, res.stderr) == (0, '\u2705 Valid\n\n', '')
    assert can(sb, 'nobody', 'delete', 'namespaces', 'all') == (0, 'Yes\n', '')
    # with --policy-file enforcement is always on, whatever the ConfigMap says
    policy = str(FIXTURES / 'policy-1-good.csv')
    assert can(sb, 'nobody', 'delete', 'namespaces', 'all', '--policy-file', policy) == (0, 'No\n', '')


@pytest.mark.parametrize(
    'fixture, cases',
    [
        (
            'policy-1-good.csv',
            [
                (('admin', 'create', 'database-clusters', '*'), 'Yes'),
                (('admin', 'update', 'database-cluster-backups', 'all'), 'Yes'),
                (('alice', 'create', 'database-clusters', '*'), 'No'),
                (('alice', 'read', 'database-engines', '*'), 'Yes'),
                (('alice', 'create', 'database-clusters', 'alice/alice-cluster-1'), 'Yes'),
                (('bob', 'create', 'database-clusters', '*'), 'No'),
                (('bob', 'create', 'database-clusters', 'dev/*'), 'Yes'),
                (('bob', 'create', 'database-clusters', 'dev/bob-1'), 'Yes'),
                (('bob', 'read', 'made-up-resource', 'dev/x'), 'No'),
            ],
        ),
    ],
)
def test_can_against_enabled_configmap(clean_sandbox, fixture, cases):
    sb = clean_sandbox
    set_policy(sb, (FIXTURES / fixture).read_text())
    for args, answer in cases:
        assert can(sb, *args) == (0, answer + '\n', ''), args


def test_validate_and_can_report_bad_configmaps(clean_sandbox):
    sb = clean_sandbox
    set_policy(sb, (FIXTURES / 'policy-4-bad.csv').read_text())
    res = ectl(sb, 'settings', 'rbac', 'validate')
    assert (res.returncode, res.stdout, res.stderr) == (
        1,
        "\u274c Invalid\npolicy syntax error - policy syntax error - role 'role:notexists' does not exist\n",
        '',
    )
    assert can(sb, 'admin', 'read', 'namespaces', 'all') == (1, '', "\u274c policy syntax error\nrole 'role:notexists' does not exist\n\n")
    set_policy(sb, (FIXTURES / 'policy-7-bad.csv').read_text())
    res = ectl(sb, 'settings', 'rbac', 'validate')
    assert res.stdout == "\u274c Invalid\npolicy syntax error - invalid policy line 'a, role:admin, database-clusters, *, */*'\n"
    set_policy(sb, None)
    res = ectl(sb, 'settings', 'rbac', 'validate')
    assert (res.returncode, res.stdout) == (1, '\u274c Invalid\npolicy syntax error - policy.csv not found in ConfigMap\n')
    must(sb, 'DELETE', CM)
    res = ectl(sb, 'settings', 'rbac', 'validate')
    assert (res.returncode, res.stdout) == (1, '\u274c Invalid\npolicy syntax error - configmaps "everest-rbac" not found\n')
    assert can(sb, 'admin', 'read', 'namespaces', 'all') == (1, '', '\u274c configmaps "everest-rbac" not found\n\n')
    res = ectl(sb, '--json', 'settings', 'rbac', 'can', 'admin', 'read', 'namespaces', 'all')
    assert res.returncode == 1 and res.stdout == '' and '"level":"error"' in res.stderr


def test_validate_without_kube_client_logs_only(clean_sandbox, tmp_path):
    res = ectl(clean_sandbox, 'settings', 'rbac', 'validate', '-k', str(tmp_path / 'none'), kubeconfig=False)
    assert (res.returncode, res.stdout) == (1, '')
    assert '\terror\t' in res.stderr and 'could not read kubeconfig file' in res.stderr
