"""The example tenants' day 2 (Alice and Bob through the REST API) against the sandbox: the day-2 REST modules and the
Everest REST API emulator.

The bootstrap (part A) runs with this collection's modules (everest_namespace, everest_account,
everest_rbac_policy, tenant_resource_policy); the check-mode test bootstraps directly through the Kubernetes API.
The REST emulator runs with 0.2 s status delays (clusters ready, backups and restores done) to keep the runs short.
"""

import pytest

from everest_sandbox import DEFAULT_ADMIN_PASSWORD
from everest_sandbox.restapi import testing as rt
from everest_sandbox.restapi.kube import path as kpath

SECRETS = {
    'alice_password': 'Alice-pass-7x',
    'bob_password': 'Bob-pass-9y',
    's3_access_key': 'AKIAVIRAKSEED000KEY',
    's3_secret_key': 'seed000-s3-secret-Zq81',
    'pmm_api_key': 'seed000-pmm-api-key-Lk42',
}
GROUP = 'everest.percona.com/v1alpha1'
JWT_HEADER = 'eyJhbGciOi'  # base64 of '{"alg":': the start of every session token
WRITES = ('POST ', 'PUT ', 'PATCH ', 'DELETE ')
BOB_REFUSED = (
    'Bob gets pg-alice',
    "Bob reads pg-alice's credentials",
    'Bob scales pg-alice',
    'Bob deletes pg-alice',
    'Bob reads alice-s3',
    'Bob deletes alice-s3',
    'Bob reads alice-pmm',
    'Bob deletes alice-pmm',
    'Bob reads backup b1',
    'Bob deletes backup b1',
    'Bob restores b1 into pg-alice',
    'Bob restores b1 into a new cluster in ns-alice',
)


@pytest.fixture
def rest(clean_sandbox):
    server = rt.start(clean_sandbox, ready_delay=0.2, job_delay=0.2)
    try:
        yield server
    finally:
        server.stop()


def _env(rest):
    return {'EVEREST_URL': rest.url}


def test_seed000_runbook(ansible, clean_sandbox, rest):
    boot = ansible.playbook('day2/bootstrap.yml', extra_vars=SECRETS, env=_env(rest))
    assert boot.rc == 0, boot.output[-3000:]
    rest.reset_stats()

    run = ansible.playbook('day2/seed000.yml', extra_vars=SECRETS, env=_env(rest), verbosity=4)
    assert run.rc == 0, run.output[-5000:]
    assert run.result('Check the results')  # the playbook's own assertions ran (and passed: rc 0)
    assert run.result('The registered tokens are usable (checked, never printed)')
    assert run.result('The registered credentials are usable (checked, never printed)')
    stats = rest.stats
    # one login per user for the whole play, never one per task
    assert stats['logins'] == 2
    assert stats['login_failures'] == 0
    # the quota refusal names the limit, the same text as tenant_quota_check
    too_big = run.result('Scale pg-alice to 5 nodes (beyond the quota)')
    assert 'ns-alice: cpu 5 cores would exceed the limit of 4' in too_big['msg']
    # Bob was refused with 403 on every kind of ns-alice object; the refusals are shown (no task-level no_log)
    for task in BOB_REFUSED:
        result = run.result(task)
        assert result['_status'] == 'failed' and result['status'] == 403 and 'censored' not in result, (task, result)
        assert "user 'bob'" in result['msg'], (task, result['msg'])
    # none of his calls wrote anything in ns-alice: every write route he reached was refused before any change
    assert 'bob-rollback' not in [o['metadata']['name'] for o in rt.kube_for(clean_sandbox).list(kpath(GROUP, 'databaseclusterrestores', 'ns-alice'))]
    # the logins and the credentials were hidden by the action plugins, without a task-level no_log
    for task in ('Log in as alice (once)', 'Log in as bob (once)', 'Credentials of pg-alice'):
        assert 'censored' in run.result(task), task
    # no secret anywhere in the -vvvv output
    output = run.output
    leaked = [name for name, value in SECRETS.items() if value in output]
    assert not leaked, leaked
    assert rest.generated_secrets, 'the emulator should have made up database passwords'
    assert not [p for p in rest.generated_secrets if p in output]
    assert JWT_HEADER not in output  # no session token either
    # Alice deleted her clusters, backup, storage and monitoring; Bob's storage and cluster stay
    kube = rt.kube_for(clean_sandbox)
    for plural in ('databaseclusters', 'databaseclusterbackups', 'backupstorages', 'monitoringconfigs'):
        assert kube.list(kpath(GROUP, plural, 'ns-alice')) == [], plural
    assert [o['metadata']['name'] for o in kube.list(kpath(GROUP, 'backupstorages', 'ns-bob'))] == ['bob-s3']
    assert [o['metadata']['name'] for o in kube.list(kpath(GROUP, 'databaseclusters', 'ns-bob'))] == ['pg-bob']


def test_check_mode_writes_nothing(ansible, clean_sandbox, rest):
    kube = rt.bootstrap_seed000(clean_sandbox, DEFAULT_ADMIN_PASSWORD)
    rt.set_accounts(kube, {'admin': DEFAULT_ADMIN_PASSWORD, 'alice': SECRETS['alice_password'], 'bob': SECRETS['bob_password']})
    live = {
        'apiVersion': GROUP,
        'kind': 'DatabaseCluster',
        'metadata': {'name': 'pg-live', 'namespace': 'ns-alice'},
        'spec': {'engine': {'type': 'postgresql', 'replicas': 1, 'resources': {'cpu': '1', 'memory': '2Gi'}, 'storage': {'size': '10Gi'}}},
    }
    kube.create(kpath(GROUP, 'databaseclusters', 'ns-alice'), live)
    before = {p: kube.list(kpath(GROUP, p, 'ns-alice')) for p in ('backupstorages', 'monitoringconfigs', 'databaseclusterbackups')}
    secrets_before = kube.list(kpath('v1', 'secrets', 'ns-alice'))
    rest.reset_stats()
    run = ansible.playbook('day2/check.yml', extra_vars=SECRETS, env=_env(rest), check=True, diff=True)
    assert run.rc == 0, run.output[-4000:]
    assert run.result('PostgreSQL cluster pg-alice')['changed'] is True
    assert run.result('Scale the existing pg-live to 3 nodes')['changed'] is True
    assert run.result('Delete the existing pg-live')['changed'] is True
    # nothing was written: no write route of the REST API was called (the login aside) ...
    writes = {route: n for route, n in rest.stats['by_route'].items() if route.startswith(WRITES) and route != 'POST /v1/session'}
    assert writes == {}, writes
    assert rest.stats['by_route'].get('GET /v1/namespaces/(?P<ns>[^/]+)/database-clusters/(?P<name>[^/]+)', 0) >= 3
    # ... and the objects are as before: pg-live unchanged and alone, nothing created
    clusters = kube.list(kpath(GROUP, 'databaseclusters', 'ns-alice'))
    assert [c['metadata']['name'] for c in clusters] == ['pg-live'] and clusters[0]['spec'] == live['spec']
    for plural, items in before.items():
        assert items == [] and kube.list(kpath(GROUP, plural, 'ns-alice')) == [], plural
    assert kube.list(kpath('v1', 'secrets', 'ns-alice')) == secrets_before
    for value in SECRETS.values():
        assert value not in run.output
    assert JWT_HEADER not in run.output


def test_revoked_and_expired_tokens_name_the_fix(ansible, clean_sandbox, rest):
    kube = rt.bootstrap_seed000(clean_sandbox, DEFAULT_ADMIN_PASSWORD)
    rt.set_accounts(kube, {'admin': DEFAULT_ADMIN_PASSWORD, 'alice': SECRETS['alice_password']})
    run = ansible.playbook('day2/session.yml', extra_vars=SECRETS, env=_env(rest))
    assert run.rc == 0, run.output[-4000:]
    assert run.result('Use the token')['database_clusters'] == []
    assert run.result('Log out')['changed'] is True and run.result('Log out')['username'] == 'alice'
    refused = run.result('Use the token again')
    assert refused['status'] == 401 and 'revoked' in refused['msg'] and 'everest_session again' in refused['msg']
    assert rest.stats['logouts'] == 1

    rest.token_ttl = -60  # every token is born expired
    run = ansible.playbook('day2/session.yml', extra_vars=SECRETS, env=_env(rest))
    assert run.rc == 0, run.output[-4000:]
    expired = run.result('Use the token')
    assert expired['status'] == 401 and 'expired at' in expired['msg'] and 'everest_session again' in expired['msg']
    assert SECRETS['alice_password'] not in run.output
