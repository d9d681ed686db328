"""Fidelity tests of the Everest REST API emulator (reference §6, §7) with a manual clock (no sleeps)."""

import base64
import copy
import json

import pytest

from everest_sandbox import DEFAULT_ADMIN_PASSWORD
from everest_sandbox.restapi import testing as rt
from everest_sandbox.restapi.kube import path as kpath
from everest_sandbox.restapi.testing import everest_api  # noqa: F401  pylint: disable=unused-import

GROUP = 'everest.percona.com/v1alpha1'
PG = {
    'apiVersion': GROUP,
    'kind': 'DatabaseCluster',
    'metadata': {'name': 'pg-alice'},
    'spec': {
        'engine': {'type': 'postgresql', 'version': '17.4', 'replicas': 1, 'storage': {'size': '25Gi'}, 'resources': {'cpu': '1', 'memory': '2Gi'}},
        'proxy': {'type': 'pgbouncer', 'replicas': 1, 'expose': {'type': 'external'}},
    },
}
S3 = {
    'name': 'alice-s3',
    'type': 's3',
    'bucketName': 'everest-alice',
    'accessKey': 'AK-1',
    'secretKey': 'SK-1',
    'url': 'https://s3.example.com',
    'region': 'us-east-1',
}


def _pg(**engine):
    body = copy.deepcopy(PG)
    body['spec']['engine'].update(engine)
    return body


@pytest.fixture
def api(everest_api, clean_sandbox):  # pylint: disable=redefined-outer-name
    rt.bootstrap_seed000(clean_sandbox, DEFAULT_ADMIN_PASSWORD)
    return everest_api


def login(api, user, password, expect=200):  # pylint: disable=redefined-outer-name
    api.manual_clock.advance(5)  # stay clear of the session rate limit unless a test wants it
    status, body, _hdr = rt.call(api.url, 'POST', '/v1/session', {'username': user, 'password': password})
    assert status == expect, body
    return body.get('token') if status == 200 else body


def alice(api):  # pylint: disable=redefined-outer-name
    return login(api, 'alice', rt.ALICE_PASSWORD)


def bob(api):  # pylint: disable=redefined-outer-name
    return login(api, 'bob', rt.BOB_PASSWORD)


# ---------------------------------------------------------------------------------------------- session


def test_login_pbkdf2_and_plain_admin(api):
    assert alice(api).count('.') == 2
    assert login(api, 'admin', DEFAULT_ADMIN_PASSWORD)
    assert login(api, 'alice', 'wrong-pass', 401) == {'message': 'Incorrect username or password provided'}
    assert login(api, 'nobody', 'whatever', 401) == {'message': 'Incorrect username or password provided'}
    # the PBKDF2 hash is checked, not the plain text: the stored !!binary value as a password fails
    assert login(api, 'bob', 'Bob-pass1x', 401)


def test_login_disabled_and_capabilities(api, clean_sandbox):
    kube = rt.kube_for(clean_sandbox)
    secret_path = kpath('v1', 'secrets', 'everest-system', 'everest-accounts')
    secret = kube.get(secret_path)
    text = base64.b64decode(secret['data']['users.yaml']).decode()
    text = text.replace('bob:\n  enabled: true', 'bob:\n  enabled: false')
    text = text.replace('alice:\n  enabled: true\n  capabilities:\n  - login', 'alice:\n  enabled: true\n  capabilities:\n  - apiKey')
    secret['data']['users.yaml'] = base64.b64encode(text.encode()).decode()
    kube.replace(secret_path, secret)
    assert login(api, 'bob', rt.BOB_PASSWORD, 403) == {'message': 'User account is disabled'}
    assert login(api, 'alice', rt.ALICE_PASSWORD, 403) == {'message': 'User account lacks required capabilities'}


def test_token_claims_expiry_and_logout(everest_api, clean_sandbox):  # pylint: disable=redefined-outer-name
    rt.bootstrap_seed000(clean_sandbox, DEFAULT_ADMIN_PASSWORD)
    server = rt.start(clean_sandbox, clock=everest_api.manual_clock, token_ttl=100)
    try:
        status, body, _hdr = rt.call(server.url, 'POST', '/v1/session', {'username': 'alice', 'password': rt.ALICE_PASSWORD})
        assert status == 200
        token = body['token']
        payload = token.split('.')[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + '=' * (-len(payload) % 4)))
        assert claims['iss'] == 'everest' and claims['sub'] == 'alice:login' and claims['jti']
        assert claims['exp'] - claims['iat'] == 100
        assert rt.call(server.url, 'GET', '/v1/namespaces', token=token)[0] == 200
        everest_api.manual_clock.advance(100)
        assert rt.call(server.url, 'GET', '/v1/namespaces', token=token)[:2] == (401, {'message': 'invalid or expired jwt'})
        everest_api.manual_clock.advance(5)
        status, body, _hdr = rt.call(server.url, 'POST', '/v1/session', {'username': 'alice', 'password': rt.ALICE_PASSWORD})
        token = body['token']
        assert rt.call(server.url, 'DELETE', '/v1/session', token=token)[0] == 429  # /v1/session is rate limited, any method
        everest_api.manual_clock.advance(1)
        assert rt.call(server.url, 'DELETE', '/v1/session', token=token)[0] == 204
        assert rt.call(server.url, 'GET', '/v1/namespaces', token=token)[:2] == (401, {'message': 'Invalid token'})
        # echo-jwt v4.3.1 (Everest's): no bearer token at all is a 400
        assert rt.call(server.url, 'GET', '/v1/namespaces')[:2] == (400, {'message': 'missing or malformed jwt'})
        assert rt.call(server.url, 'GET', '/v1/version')[0] == 200  # no token needed
    finally:
        server.stop()


def test_session_rate_limit_default_one_per_second(api):
    api.manual_clock.advance(5)
    creds = {'username': 'alice', 'password': rt.ALICE_PASSWORD}
    assert rt.call(api.url, 'POST', '/v1/session', creds)[0] == 200
    status, body, headers = rt.call(api.url, 'POST', '/v1/session', creds)
    assert (status, body) == (429, {'message': 'rate limit exceeded'})
    assert 'retry-after' not in headers  # like Everest: echo's rate limiter sends no Retry-After (reference §7)
    api.manual_clock.advance(0.5)
    assert rt.call(api.url, 'POST', '/v1/session', creds)[0] == 429
    api.manual_clock.advance(1.0)
    assert rt.call(api.url, 'POST', '/v1/session', creds)[0] == 200
    assert api.stats['rate_limited'] == 2


def test_retry_after_header_is_optional(everest_api, clean_sandbox):  # pylint: disable=redefined-outer-name
    """retry_after=True adds Retry-After (whole seconds, at least 1) to both limiters' 429 answers, as a proxy might."""
    rt.bootstrap_seed000(clean_sandbox, DEFAULT_ADMIN_PASSWORD)
    clock = everest_api.manual_clock
    server = rt.start(clean_sandbox, clock=clock, retry_after=True, api_rate=2, api_burst=2)
    creds = {'username': 'alice', 'password': rt.ALICE_PASSWORD}
    try:
        assert rt.call(server.url, 'POST', '/v1/session', creds)[0] == 200
        status, body, headers = rt.call(server.url, 'POST', '/v1/session', creds)  # the session limiter (1/s)
        assert (status, body, headers['retry-after']) == (429, {'message': 'rate limit exceeded'}, '1')
        status, _body, headers = rt.call(server.url, 'GET', '/v1/version')  # the API limiter (2/s, burst 2)
        assert (status, headers['retry-after']) == (429, '1')
        clock.advance(1.0)
        assert rt.call(server.url, 'GET', '/v1/version')[0] == 200
    finally:
        server.stop()


def test_login_lockout_doubles_after_failures(everest_api, clean_sandbox):  # pylint: disable=redefined-outer-name
    rt.bootstrap_seed000(clean_sandbox, DEFAULT_ADMIN_PASSWORD)
    clock = everest_api.manual_clock
    server = rt.start(clean_sandbox, clock=clock, session_rate=10_000, session_burst=10_000)
    bad = {'username': 'alice', 'password': 'wrong-1'}
    good = {'username': 'alice', 'password': rt.ALICE_PASSWORD}
    try:
        assert rt.call(server.url, 'POST', '/v1/session', bad)[0] == 401  # gap becomes 20 ms
        clock.advance(0.010)
        assert rt.call(server.url, 'POST', '/v1/session', good)[0] == 429  # too soon; restarts the gap
        clock.advance(0.015)
        assert rt.call(server.url, 'POST', '/v1/session', good)[0] == 429  # 15 ms after the refused attempt
        clock.advance(0.021)
        assert rt.call(server.url, 'POST', '/v1/session', bad)[0] == 401  # gap becomes 40 ms
        clock.advance(0.030)
        assert rt.call(server.url, 'POST', '/v1/session', good)[0] == 429
        clock.advance(0.041)
        assert rt.call(server.url, 'POST', '/v1/session', good)[0] == 200  # success resets the gap
        assert rt.call(server.url, 'POST', '/v1/session', good)[0] == 200
    finally:
        server.stop()


def test_api_rate_limit(everest_api, clean_sandbox):  # pylint: disable=redefined-outer-name
    server = rt.start(clean_sandbox, clock=everest_api.manual_clock, api_rate=2)
    try:
        assert [rt.call(server.url, 'GET', '/v1/version')[0] for _i in range(3)] == [200, 200, 429]
        everest_api.manual_clock.advance(1)
        assert rt.call(server.url, 'GET', '/v1/version')[0] == 200
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------- rbac


def test_rbac_confines_tenants_and_honours_enabled(api, clean_sandbox):
    a, b = alice(api), bob(api)
    assert rt.call(api.url, 'POST', '/v1/namespaces/ns-alice/database-clusters', PG, a)[0] == 201
    assert rt.call(api.url, 'GET', '/v1/namespaces', token=a)[1] == ['ns-alice']
    assert rt.call(api.url, 'GET', '/v1/namespaces', token=b)[1] == ['ns-bob']
    forbidden = (403, {'message': 'insufficient permissions for performing the operation'})
    for method, path in (
        ('GET', '/database-clusters/pg-alice'),
        ('PUT', '/database-clusters/pg-alice'),
        ('DELETE', '/database-clusters/pg-alice'),
        ('GET', '/database-clusters/pg-alice/credentials'),
        ('GET', '/database-clusters/pg-alice/backups'),
        ('GET', '/backup-storages/x'),
    ):
        body = PG if method == 'PUT' else None
        assert rt.call(api.url, method, '/v1/namespaces/ns-alice' + path, body, b)[:2] == forbidden, (method, path)
    assert rt.call(api.url, 'POST', '/v1/namespaces/ns-alice/database-clusters', PG, b)[:2] == forbidden
    # a list is filtered, not refused
    listed = rt.call(api.url, 'GET', '/v1/namespaces/ns-alice/database-clusters', token=b)
    assert listed[0] == 200 and listed[1]['items'] == []
    # RBAC off: everything is allowed
    rt.set_rbac(rt.kube_for(clean_sandbox), 'g, admin, role:admin\n' + rt.SEED_POLICY, enabled=False)
    assert rt.call(api.url, 'GET', '/v1/namespaces/ns-alice/database-clusters/pg-alice', token=b)[0] == 200


def test_rbac_object_of_backups_is_the_cluster(api, clean_sandbox):
    """database-cluster-backups rules match <ns>/<cluster name>, not the backup's name."""
    a = alice(api)
    assert rt.call(api.url, 'POST', '/v1/namespaces/ns-alice/database-clusters', PG, a)[0] == 201
    assert rt.call(api.url, 'POST', '/v1/namespaces/ns-alice/backup-storages', S3, a)[0] == 201
    policy = rt.SEED_POLICY.replace(
        'p, role:tenant-ns-alice, database-cluster-backups, *, ns-alice/*', 'p, role:tenant-ns-alice, database-cluster-backups, *, ns-alice/pg-alice'
    )
    rt.set_rbac(rt.kube_for(clean_sandbox), policy)
    body = {'metadata': {'name': 'nightly-1'}, 'spec': {'dbClusterName': 'pg-alice', 'backupStorageName': 'alice-s3'}}
    assert rt.call(api.url, 'POST', '/v1/namespaces/ns-alice/database-cluster-backups', body, a)[0] == 200


# ---------------------------------------------------------------------------------------------- database clusters


@pytest.mark.parametrize(
    'mutate, detail',
    [
        (lambda b: b['metadata'].update(name='a' * 23), "'metadata.name' can be at most 22 characters long"),
        (lambda b: b['metadata'].update(name='Pg_1'), "'metadata.name' is not RFC 1035 compatible"),
        (lambda b: b['spec']['engine']['resources'].update(cpu='500m'), 'CPU limits should be above 600m'),
        (lambda b: b['spec']['engine']['resources'].update(memory='256M'), 'memory limits should be above 512M'),
        (lambda b: b['spec']['engine']['resources'].pop('memory'), 'please specify resource limits for the cluster'),
        (lambda b: b['spec']['engine']['storage'].update(size='512M'), 'storage size should be above 1G'),
        (lambda b: b['spec']['proxy'].update(type='haproxy'), 'you can use only PGBouncer as a proxy type for Postgres clusters'),
        (lambda b: b['spec']['engine'].update(type='pxc', replicas=2), 'must be odd'),
        (lambda b: b['spec'].update(proxy={'type': 'haproxy', 'replicas': 1}) or b['spec']['engine'].update(type='pxc', replicas=7), 'at most 5 replicas'),
        (
            lambda b: b['spec'].update(proxy={'type': 'haproxy', 'replicas': 1}) or b['spec']['engine'].update(type='pxc', replicas=3),
            'at least 2 proxy replicas',
        ),
    ],
)
def test_cluster_validation(api, mutate, detail):
    body = _pg()
    mutate(body)
    status, answer, _hdr = rt.call(api.url, 'POST', '/v1/namespaces/ns-alice/database-clusters', body, alice(api))
    assert status == 400
    assert answer['message'].startswith('invalid request\n') and detail in answer['message']


def test_cluster_schema_errors_are_400(api):
    body = _pg(type='oracle')
    status, answer, _hdr = rt.call(api.url, 'POST', '/v1/namespaces/ns-alice/database-clusters', body, alice(api))
    assert status == 400 and answer['message'].startswith('request body has an error')


@pytest.mark.parametrize(
    'schedule, pitr, field',
    [
        ({'name': 'd', 'schedule': '0 1 * * *', 'backupStorageName': 'alice-s3'}, None, '/spec/backup/schedules/0": property "enabled"'),
        ({'name': 'd', 'enabled': False, 'schedule': '0 1 * * *'}, None, '/spec/backup/schedules/0": property "backupStorageName"'),
        ({'enabled': True, 'schedule': '0 1 * * *', 'backupStorageName': 'alice-s3'}, None, '/spec/backup/schedules/0": property "name"'),
        (None, {'backupStorageName': 'alice-s3'}, '/spec/backup/pitr": property "enabled"'),
    ],
)
def test_backup_schema_required_fields_are_400(api, schedule, pitr, field):
    """Reference §6.4: every schedule field but retentionCopies, and pitr.enabled, are required by the OpenAPI schema."""
    body = _pg()
    body['spec']['backup'] = {'enabled': True}
    if schedule is not None:
        body['spec']['backup']['schedules'] = [schedule]
    if pitr is not None:
        body['spec']['backup']['pitr'] = pitr
    status, answer, _hdr = rt.call(api.url, 'POST', '/v1/namespaces/ns-alice/database-clusters', body, alice(api))
    assert status == 400 and answer['message'].startswith('request body has an error') and field in answer['message']


def test_cluster_with_no_ready_delay_is_ready_in_the_create_answer(api):
    a = alice(api)
    ticks = iter(range(10**6))
    base = api.clock()
    # a clock that moves on every reading, as a real one does between two calls
    delay, clock, api.ready_delay, api.clock = api.ready_delay, api.clock, 0, lambda: base + next(ticks) * 1e-6
    try:
        status, created, _hdr = rt.call(api.url, 'POST', '/v1/namespaces/ns-alice/database-clusters', _pg(), a)
    finally:
        api.ready_delay, api.clock = delay, clock
    assert status == 201 and created['status']['status'] == 'ready'


def test_cluster_lifecycle_status_and_conflict(api):
    a = alice(api)
    base = '/v1/namespaces/ns-alice/database-clusters'
    status, created, _hdr = rt.call(api.url, 'POST', base, _pg(), a)
    assert status == 201 and created['status']['status'] == 'creating'
    assert rt.call(api.url, 'POST', base, _pg(), a)[0] == 409
    api.manual_clock.advance(4.9)
    assert rt.call(api.url, 'GET', base + '/pg-alice', token=a)[1]['status']['status'] == 'creating'
    api.manual_clock.advance(0.2)
    current = rt.call(api.url, 'GET', base + '/pg-alice', token=a)[1]
    assert current['status']['status'] == 'ready' and current['status']['port'] == 5432
    # scale: PUT the object read back, with its resourceVersion
    current['spec']['engine']['replicas'] = 3
    status, updated, _hdr = rt.call(api.url, 'PUT', base + '/pg-alice', current, a)
    assert status == 200 and updated['spec']['engine']['replicas'] == 3
    assert updated['status']['status'] == 'initializing'
    # the stale object is refused with 409
    current['spec']['engine']['replicas'] = 2
    assert rt.call(api.url, 'PUT', base + '/pg-alice', current, a)[0] == 409
    # storage cannot shrink
    fresh = rt.call(api.url, 'GET', base + '/pg-alice', token=a)[1]
    fresh['spec']['engine']['storage']['size'] = '10Gi'
    status, answer, _hdr = rt.call(api.url, 'PUT', base + '/pg-alice', fresh, a)
    assert status == 400 and 'shrinking storage size is not allowed' in answer['message']
    api.manual_clock.advance(5.1)
    assert rt.call(api.url, 'GET', base + '/pg-alice', token=a)[1]['status']['status'] == 'ready'
    assert rt.call(api.url, 'DELETE', base + '/pg-alice', token=a)[:2] == (204, None)
    assert rt.call(api.url, 'GET', base + '/pg-alice', token=a)[0] == 404


def test_credentials_per_engine(api):
    a = alice(api)
    base = '/v1/namespaces/ns-alice/database-clusters'
    assert rt.call(api.url, 'POST', base, _pg(), a)[0] == 201
    creds = rt.call(api.url, 'GET', base + '/pg-alice/credentials', token=a)[1]
    assert creds['username'] == 'postgres' and creds['password'] in api.generated_secrets
    assert creds['connectionUrl'] == f"postgres://postgres:{creds['password']}@pg-alice-pgbouncer.ns-alice.svc:5432"
    pxc = _pg(type='pxc', replicas=1)
    pxc['metadata']['name'] = 'my-alice'
    pxc['spec']['proxy'] = {'type': 'haproxy', 'replicas': 1}
    assert rt.call(api.url, 'POST', base, pxc, a)[0] == 201
    creds = rt.call(api.url, 'GET', base + '/my-alice/credentials', token=a)[1]
    assert creds['username'] == 'root' and 'connectionUrl' not in creds


# ---------------------------------------------------------------------------------------------- storages, monitoring


def test_backup_storage_crud_never_returns_keys(api, clean_sandbox):
    a = alice(api)
    base = '/v1/namespaces/ns-alice/backup-storages'
    status, created, _hdr = rt.call(api.url, 'POST', base, S3, a)
    assert status == 201
    assert 'accessKey' not in created and 'secretKey' not in created and created['bucketName'] == 'everest-alice'
    assert rt.call(api.url, 'POST', base, S3, a)[0] == 409
    secret = rt.kube_for(clean_sandbox).get(kpath('v1', 'secrets', 'ns-alice', 'alice-s3'))
    assert base64.b64decode(secret['data']['AWS_SECRET_ACCESS_KEY']).decode() == 'SK-1'
    status, patched, _hdr = rt.call(api.url, 'PATCH', base + '/alice-s3', {'region': 'eu-west-1', 'secretKey': 'SK-2'}, a)
    assert status == 200 and patched['region'] == 'eu-west-1'
    secret = rt.kube_for(clean_sandbox).get(kpath('v1', 'secrets', 'ns-alice', 'alice-s3'))
    assert base64.b64decode(secret['data']['AWS_SECRET_ACCESS_KEY']).decode() == 'SK-2'
    assert rt.call(api.url, 'PATCH', base + '/alice-s3', {'type': 'azure'}, a)[0] == 400
    long_name = dict(S3, name='a' * 23)
    assert rt.call(api.url, 'POST', base, long_name, a)[0] == 400
    # in use by a schedule -> 400
    pg = _pg()
    pg['spec']['backup'] = {'enabled': True, 'schedules': [{'name': 'daily', 'enabled': True, 'schedule': '0 1 * * *', 'backupStorageName': 'alice-s3'}]}
    assert rt.call(api.url, 'POST', '/v1/namespaces/ns-alice/database-clusters', pg, a)[0] == 201
    assert rt.call(api.url, 'DELETE', base + '/alice-s3', token=a)[0] == 400
    assert rt.call(api.url, 'DELETE', '/v1/namespaces/ns-alice/database-clusters/pg-alice', token=a)[0] == 204
    assert rt.call(api.url, 'DELETE', base + '/alice-s3', token=a)[0] == 204
    assert rt.kube_for(clean_sandbox).get_or_none(kpath('v1', 'secrets', 'ns-alice', 'alice-s3')) is None


def test_monitoring_instance_crud(api):
    a = alice(api)
    base = '/v1/namespaces/ns-alice/monitoring-instances'
    body = {'name': 'alice-pmm', 'type': 'pmm', 'url': 'https://pmm.alice.example.com', 'pmm': {'apiKey': 'K-1'}}
    status, created, _hdr = rt.call(api.url, 'POST', base, body, a)
    assert status == 200 and created == {
        'name': 'alice-pmm',
        'namespace': 'ns-alice',
        'type': 'pmm',
        'url': 'https://pmm.alice.example.com',
        'allowedNamespaces': [],
        'verifyTLS': True,
    }
    assert rt.call(api.url, 'POST', base, dict(body, name='no-key', pmm={}), a)[0] == 400
    assert rt.call(api.url, 'POST', base, dict(body, name='bad-url', url='not a url'), a)[0] == 400
    pg = _pg()
    pg['spec']['monitoring'] = {'monitoringConfigName': 'alice-pmm'}
    assert rt.call(api.url, 'POST', '/v1/namespaces/ns-alice/database-clusters', pg, a)[0] == 201
    status, answer, _hdr = rt.call(api.url, 'DELETE', base + '/alice-pmm', token=a)
    assert status == 400 and 'in use' in answer['message']


# ---------------------------------------------------------------------------------------------- backups, restores


def test_backup_and_restore_progression(api):
    a = alice(api)
    ns = '/v1/namespaces/ns-alice'
    assert rt.call(api.url, 'POST', ns + '/database-clusters', _pg(), a)[0] == 201
    assert rt.call(api.url, 'POST', ns + '/backup-storages', S3, a)[0] == 201
    backup = {'metadata': {'name': 'b1'}, 'spec': {'dbClusterName': 'pg-alice', 'backupStorageName': 'alice-s3'}}
    status, created, _hdr = rt.call(api.url, 'POST', ns + '/database-cluster-backups', backup, a)
    assert status == 200 and created['status']['state'] == 'Starting'
    missing = {'metadata': {'name': 'b2'}, 'spec': {'dbClusterName': 'pg-alice', 'backupStorageName': 'nope'}}
    assert rt.call(api.url, 'POST', ns + '/database-cluster-backups', missing, a)[0] == 400
    # a restore needs a finished backup
    restore = {'metadata': {'name': 'r1'}, 'spec': {'dbClusterName': 'pg-alice', 'dataSource': {'dbClusterBackupName': 'b1'}}}
    assert rt.call(api.url, 'POST', ns + '/database-cluster-restores', restore, a)[0] == 400
    api.manual_clock.advance(3)
    assert rt.call(api.url, 'GET', ns + '/database-cluster-backups/b1', token=a)[1]['status']['state'] == 'Succeeded'
    status, created, _hdr = rt.call(api.url, 'POST', ns + '/database-cluster-restores', restore, a)
    assert status == 201 and created['status']['state'] == 'Starting'
    api.manual_clock.advance(3)
    assert rt.call(api.url, 'GET', ns + '/database-cluster-restores/r1', token=a)[1]['status']['state'] == 'Succeeded'
    listed = rt.call(api.url, 'GET', ns + '/database-clusters/pg-alice/restores', token=a)[1]
    assert [i['metadata']['name'] for i in listed['items']] == ['r1']
    # restore into a new cluster = a cluster with a dataSource; it is "restoring" first
    new = _pg()
    new['metadata']['name'] = 'pg-alice-restore'
    new['spec']['dataSource'] = {'dbClusterBackupName': 'b1'}
    status, created, _hdr = rt.call(api.url, 'POST', ns + '/database-clusters', new, a)
    assert status == 201 and created['status']['status'] == 'restoring'
    # cleanupBackupStorage deletes the cluster's backups
    assert rt.call(api.url, 'DELETE', ns + '/database-clusters/pg-alice?cleanupBackupStorage=true', token=a)[0] == 204
    assert rt.call(api.url, 'GET', ns + '/database-cluster-backups/b1', token=a)[0] == 404


def test_reset_forgets_revoked_tokens_and_limits(api):
    token = alice(api)
    api.manual_clock.advance(1)
    assert rt.call(api.url, 'DELETE', '/v1/session', token=token)[0] == 204
    assert rt.call(api.url, 'POST', '/v1/session', {'username': 'alice', 'password': 'wrong-1'})[0] == 429
    assert rt.call(api.url, 'POST', '/_sandbox/reset')[:2] == (200, {'status': 'ok'})
    assert api.stats['logins'] == 0
    assert rt.call(api.url, 'GET', '/v1/namespaces', token=token)[0] == 200  # the blocklist is gone
    assert rt.call(api.url, 'POST', '/v1/session', {'username': 'alice', 'password': rt.ALICE_PASSWORD})[0] == 200
