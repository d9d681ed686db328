"""Unit tests of the Everest REST client and the day-2 helpers. The boundary is HTTP: a scripted local server answers."""

import base64
import copy
import json
import random
import threading
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.virakcloud.everest.plugins.module_utils import _everest_client as api
from ansible_collections.virakcloud.everest.plugins.module_utils import _database_cluster as dbc
from ansible_collections.virakcloud.everest.plugins.module_utils import _everest_objects as objects
from ansible_collections.virakcloud.everest.plugins.plugin_utils import _secret_result
from ansible_collections.virakcloud.everest.plugins.module_utils import _quota
from ansible_collections.virakcloud.everest.plugins.module_utils import _trp_policy
from ansible_collections.virakcloud.everest.plugins.module_utils import _constants
from ansible_collections.virakcloud.everest.plugins.module_utils import _k8s
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import TimeoutExceeded, ValidationError


def jwt(claims):
    def enc(doc):
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b'=').decode()

    return '%s.%s.sig' % (enc({'alg': 'HS256'}), enc(claims))


VALID = jwt({'sub': 'alice:login', 'exp': 2_000_000_000, 'iss': 'everest'})
EXPIRED = jwt({'sub': 'alice:login', 'exp': 1_000_000_000, 'iss': 'everest'})


class Scripted:
    """A local HTTP server answering from a queue of (code, body, headers); records requests."""

    def __init__(self):
        self.queue = []
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def _answer(self):
                length = int(self.headers.get('Content-Length') or 0)
                body = self.rfile.read(length) if length else b''
                outer.requests.append(
                    {'method': self.command, 'path': self.path, 'auth': self.headers.get('Authorization'), 'body': json.loads(body) if body else None}
                )
                code, payload, headers = outer.queue.pop(0) if outer.queue else (500, {'message': 'queue empty'}, {})
                data = b'' if payload is None else json.dumps(payload).encode()
                self.send_response(code)
                self.send_header('Content-Length', str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

            def log_message(self, *args):  # pylint: disable=arguments-differ
                pass

        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, kwargs={'poll_interval': 0.02}, daemon=True).start()
        self.url = 'http://127.0.0.1:%d' % self.httpd.server_address[1]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    srv = Scripted()
    yield srv
    srv.close()


def client_for(server, **kwargs):
    sleeps = []
    kwargs.setdefault('token', VALID)
    client = api.EverestClient(server.url, sleep=sleeps.append, clock=lambda: 1_500_000_000, **kwargs)
    client.sleeps = sleeps
    return client


def test_429_is_retried_after_retry_after(server):
    server.queue = [(429, {'message': 'rate limit exceeded'}, {'Retry-After': '2'}), (200, {'items': []}, {})]
    client = client_for(server)
    assert client.request('GET', '/v1/namespaces/ns-a/database-clusters') == {'items': []}
    assert client.sleeps == [2.0]
    assert [r['auth'] for r in server.requests] == ['Bearer ' + VALID] * 2


def test_429_gives_up_with_the_fix(server):
    server.queue = [(429, {'message': 'rate limit exceeded'}, {'Retry-After': '1'})] * api.RATE_LIMIT_ATTEMPTS
    client = client_for(server)
    with pytest.raises(api.EverestApiRateLimited) as info:
        client.request('POST', '/v1/namespaces/ns-a/backup-storages', {'name': 'x'}, what='backup storage ns-a/x')
    assert 'everest_session' in info.value.msg and 'backup storage ns-a/x' in info.value.msg
    assert len(client.sleeps) == api.RATE_LIMIT_ATTEMPTS - 1


class FixedRng:
    """random.Random stand-in: always the same draw, so the backoff is exact."""

    def __init__(self, value):
        self.value = value

    def random(self):
        return self.value


@pytest.mark.parametrize('draw', [0.0, 0.999999])
def test_429_without_retry_after_backs_off_exponentially_with_a_cap(server, draw):
    """Everest's rate limiter sends no Retry-After (reference §7): jittered exponential backoff, capped, bounded, then a clear error."""
    server.queue = [(429, {'message': 'rate limit exceeded'}, {})] * api.RATE_LIMIT_ATTEMPTS
    client = client_for(server, rng=FixedRng(draw))
    with pytest.raises(api.EverestApiRateLimited) as info:
        client.request('GET', '/v1/namespaces/ns-a/database-clusters', what='database clusters of ns-a')
    sleeps = client.sleeps
    assert len(server.requests) == api.RATE_LIMIT_ATTEMPTS and len(sleeps) == api.RATE_LIMIT_ATTEMPTS - 1
    jitter = 0.5 + draw / 2
    bases = [min(api.RETRY_AFTER_CAP, api.BACKOFF_BASE * 2**n) for n in range(api.RATE_LIMIT_ATTEMPTS - 1)]
    assert sleeps == pytest.approx([b * jitter for b in bases])
    assert all(later >= earlier for earlier, later in zip(sleeps, sleeps[1:]))  # grows
    assert max(sleeps) <= api.RETRY_AFTER_CAP and bases[-1] == api.RETRY_AFTER_CAP  # and is capped
    assert client.rate_limit_waits == sleeps
    msg = info.value.msg
    assert 'database clusters of ns-a' in msg and '%d attempts over %.1f s' % (api.RATE_LIMIT_ATTEMPTS, sum(sleeps)) in msg
    assert 'everest_session' in msg and info.value.status == 429


def test_429_jitter_stays_within_half_to_full_delay(server):
    server.queue = [(429, {'message': 'rate limit exceeded'}, {})] * 4 + [(200, {'ok': 1}, {})]
    client = client_for(server, rng=random.Random(7))
    assert client.request('GET', '/v1/version') == {'ok': 1}
    for attempt, delay in enumerate(client.sleeps, 1):
        base = api.BACKOFF_BASE * 2 ** (attempt - 1)
        assert base / 2 <= delay < base


def test_login_rate_limited_then_succeeds_without_retry_after(server):
    server.queue = [(429, {'message': 'rate limit exceeded'}, {}), (200, {'token': VALID}, {})]
    client = api.EverestClient(server.url, username='alice', password='Secret-pw1', sleep=[].append, rng=FixedRng(0.0))
    assert client.login() == VALID and client.logins == 1
    assert client.rate_limit_waits == [api.BACKOFF_BASE / 2]
    assert [r['path'] for r in server.requests] == ['/v1/session', '/v1/session']


def test_login_once_then_token_reused(server):
    server.queue = [(200, {'token': VALID}, {}), (200, [], {}), (200, [], {})]
    client = api.EverestClient(server.url, username='alice', password='Secret-pw1', sleep=lambda s: None)
    client.request('GET', '/v1/namespaces')
    client.request('GET', '/v1/namespaces')
    assert client.logins == 1
    assert server.requests[0] == {'method': 'POST', 'path': '/v1/session', 'auth': None, 'body': {'username': 'alice', 'password': 'Secret-pw1'}}
    assert server.requests[2]['auth'] == 'Bearer ' + VALID


def test_bad_login_names_the_user_not_the_password(server):
    server.queue = [(401, {'message': 'Incorrect username or password provided'}, {})]
    client = api.EverestClient(server.url, username='alice', password='Secret-pw1')
    with pytest.raises(api.EverestApiUnauthorized) as info:
        client.login()
    assert "'alice'" in info.value.msg and 'everest_password' in info.value.msg
    assert 'Secret-pw1' not in json.dumps(info.value.to_fail_kwargs())


def test_expired_token_says_when_and_how_to_fix(server):
    server.queue = [(401, {'message': 'invalid or expired jwt'}, {})]
    client = client_for(server, token=EXPIRED)
    with pytest.raises(api.EverestApiUnauthorized) as info:
        client.request('GET', '/v1/namespaces')
    assert 'expired at 2001-09-09T01:46:40Z' in info.value.msg
    assert 'everest_session again' in info.value.msg
    assert EXPIRED not in info.value.msg


def test_revoked_token(server):
    server.queue = [(401, {'message': 'invalid or expired jwt'}, {})]
    with pytest.raises(api.EverestApiUnauthorized) as info:
        client_for(server).request('GET', '/v1/namespaces')
    assert 'revoked' in info.value.msg and 'expired at' not in info.value.msg


def test_403_names_the_missing_permission(server):
    server.queue = [(403, {'message': 'insufficient permissions for performing the operation'}, {})]
    with pytest.raises(api.EverestApiForbidden) as info:
        client_for(server).request(
            'GET', '/v1/namespaces/ns-alice/database-clusters/pg', what='database cluster ns-alice/pg', rbac=('database-clusters', 'read', 'ns-alice/pg')
        )
    msg = info.value.msg
    assert "user 'alice'" in msg and "'p, <user or role>, database-clusters, read, ns-alice/pg'" in msg
    assert info.value.status == 403


@pytest.mark.parametrize(
    'text,cause',
    [
        ('User account is disabled', 'the account is disabled'),
        ('User account lacks required capabilities', "lacks the 'login' capability"),
        ('forbidden', "disabled or lacks the 'login' capability"),
    ],
)
def test_403_on_login_says_the_account_cannot_log_in(server, text, cause):
    server.queue = [(403, {'message': text}, {})]
    client = api.EverestClient(server.url, username='bob', password='Secret-pw1')
    with pytest.raises(api.EverestApiForbidden) as info:
        client.login()
    msg = info.value.msg
    assert "login of 'bob'" in msg and cause in msg and text in msg
    assert 'virakcloud.everest.everest_account' in msg and api.ACCOUNTS_DOC in msg
    assert 'p, <user or role>' not in msg and 'not an RBAC permission' in msg  # no policy line can fix this
    assert info.value.status == 403 and 'Secret-pw1' not in json.dumps(info.value.to_fail_kwargs())
    assert client.token is None


def test_kubernetes_forbidden_is_not_reported_as_rbac(server):
    text = (
        'databaseclusters.everest.percona.com "pg-4" is forbidden: exceeded quota: everest-tenant-quota, requested: '
        'count/databaseclusters.everest.percona.com=1, used: count/databaseclusters.everest.percona.com=3, limited: '
        'count/databaseclusters.everest.percona.com=3'
    )
    server.queue = [(403, {'message': text}, {})]
    with pytest.raises(api.EverestApiForbidden) as info:
        client_for(server).request(
            'POST',
            '/v1/namespaces/ns-alice/database-clusters',
            {},
            what='database cluster ns-alice/pg-4',
            rbac=('database-clusters', 'create', 'ns-alice/pg-4'),
        )
    msg = info.value.msg
    assert 'exceeded quota' in msg and 'ResourceQuota' in msg and 'database cluster ns-alice/pg-4' in msg
    assert 'p, <user or role>' not in msg


@pytest.mark.parametrize(
    'text,field',
    [
        ('DatabaseCluster.everest.percona.com "pg" is invalid: spec.engine.replicas: Invalid value: 4: must be odd', 'spec.engine.replicas'),
        (
            'DatabaseCluster.everest.percona.com "pg" is invalid: [spec.proxy.expose.ipSourceRanges[0]: Invalid value: "x": bad, '
            'spec.engine.replicas: Required value]',
            'spec.proxy.expose.ipSourceRanges[0]',
        ),
        ('admission webhook denied: BackupStorage.everest.percona.com "s3" is invalid: spec.bucket: Required value', 'spec.bucket'),
    ],
)
def test_422_kubernetes_style_names_the_field(server, text, field):
    server.queue = [(422, {'message': text}, {})]
    with pytest.raises(api.EverestApiInvalid) as info:
        client_for(server).request('PUT', '/v1/namespaces/a/database-clusters/pg', {}, what='database cluster a/pg')
    assert info.value.field == field and info.value.status == 422
    assert info.value.msg.startswith('Everest refused database cluster a/pg (422): ') and info.value.msg.endswith('(field: %s)' % field)


def test_400_and_422_name_the_field(server):
    server.queue = [
        (400, {'message': "invalid request\n'metadata.name' can be at most 22 characters long"}, {}),
        (400, {'message': 'request body has an error: Error at "/spec/engine/type": value is not one of the allowed values'}, {}),
    ]
    client = client_for(server)
    with pytest.raises(api.EverestApiInvalid) as info:
        client.request('POST', '/v1/namespaces/a/database-clusters', {}, what='database cluster a/b')
    assert info.value.field == 'metadata.name'
    assert 'database cluster a/b' in info.value.msg and 'invalid request: ' in info.value.msg
    with pytest.raises(api.EverestApiInvalid) as info:
        client.request('POST', '/v1/namespaces/a/database-clusters', {})
    assert info.value.field == '/spec/engine/type'


def test_conflict_and_not_found(server):
    server.queue = [(409, {'message': 'Conflict'}, {}), (404, {'message': 'not found'}, {})]
    client = client_for(server)
    with pytest.raises(api.EverestApiConflict) as info:
        client.request('PUT', '/v1/x', {}, what='database cluster a/b')
    assert 'resourceVersion' in info.value.msg
    assert client.get_or_none('/v1/y') is None


def test_5xx_retried_for_get_only(server):
    server.queue = [(503, {'message': 'down'}, {}), (200, {'ok': 1}, {}), (503, {'message': 'down'}, {})]
    client = client_for(server)
    assert client.request('GET', '/v1/version') == {'ok': 1}
    with pytest.raises(api.EverestApiUnavailable):
        client.request('POST', '/v1/namespaces/a/backup-storages', {})
    assert len(server.requests) == 3


def test_url_is_checked():
    with pytest.raises(ValidationError):
        api.EverestClient('everest.example.com')


# ---------------------------------------------------------------------------------------------- spec helpers

CURRENT = {
    'engine': {'type': 'postgresql', 'replicas': 1, 'resources': {'cpu': '1', 'memory': '2Gi'}, 'storage': {'size': '25Gi', 'class': 'standard'}},
    'proxy': {'type': 'pgbouncer', 'replicas': 1},
    'backup': {'pitr': {'enabled': False}},
}


def params(**engine):
    return {'engine': engine, 'proxy': None, 'backup': None, 'monitoring': None}


def test_desired_spec_compares_quantities_by_value():
    assert dbc.desired_spec(params(cpu=1, memory='2048Mi', storage_size='25Gi'), CURRENT) == CURRENT
    changed = dbc.desired_spec(params(cpu='1500m', replicas=3), CURRENT)
    assert changed['engine']['resources']['cpu'] == '1500m' and changed['engine']['replicas'] == 3
    assert changed['proxy'] == CURRENT['proxy'] and changed['backup'] == CURRENT['backup']  # untouched
    created = dbc.desired_spec(params(type='pxc', cpu=2, memory='4Gi', storage_size=10), None)
    assert created['engine']['resources'] == {'cpu': '2', 'memory': '4Gi'}  # ints become strings
    assert created['engine']['storage'] == {'size': '10'}


def test_update_checks():
    with pytest.raises(ValidationError, match='storage can only grow'):
        dbc.check_update(CURRENT, dbc.desired_spec(params(storage_size='10Gi'), CURRENT), 'ns', 'pg')
    with pytest.raises(ValidationError, match='cannot be changed to pxc'):
        dbc.check_update(CURRENT, dbc.desired_spec(params(type='pxc'), CURRENT), 'ns', 'pg')
    dbc.check_update(CURRENT, dbc.desired_spec(params(storage_size='50Gi'), CURRENT), 'ns', 'pg')
    with pytest.raises(ValidationError, match='needs engine.cpu, engine.memory'):
        dbc.check_create_spec(dbc.desired_spec(params(type='pxc', storage_size='1Gi'), None), 'ns', 'pg')
    assert dbc.shape_changed(CURRENT, dbc.desired_spec(params(replicas=2), CURRENT))
    assert not dbc.shape_changed(CURRENT, dbc.desired_spec(params(version='17.5'), CURRENT))


def test_cluster_shape_is_what_the_quota_depends_on():
    assert dbc.cluster_shape(CURRENT) == dbc.cluster_shape(copy.deepcopy(CURRENT))
    assert dbc.cluster_shape(CURRENT) != dbc.cluster_shape(dbc.desired_spec(params(cpu='2'), CURRENT))
    assert dbc.cluster_shape(CURRENT) == dbc.cluster_shape(dbc.desired_spec(params(storage_size='50Gi'), CURRENT))
    assert dbc.cluster_shape(None) == dbc.cluster_shape({})


def test_check_name():
    objects.check_name('pg-alice', 'database cluster')
    for bad in ('a' * 23, 'Pg', '1pg', 'pg-'):
        with pytest.raises(ValidationError):
            objects.check_name(bad, 'database cluster')


def test_wait_for_times_out_with_the_last_object():
    ticks = iter(range(100))
    with pytest.raises(TimeoutExceeded) as info:
        objects.wait_for(lambda: {'status': {'status': 'creating'}}, dbc.cluster_ready, 5, 'waiting for x', sleep=lambda s: None, clock=lambda: next(ticks))
    assert info.value.details['result'] == {'status': {'status': 'creating'}}


# ---------------------------------------------------------------------------------------------- quota


class FakeK8s:
    def __init__(self, objects):
        self.objects = objects

    def get_or_none(self, path):
        return self.objects.get(path)

    def list(self, path, label_selector=None, field_selector=None):  # pylint: disable=unused-argument
        return {'items': self.objects.get(path, [])}


def _policy(cpu=4, memory='8Gi'):
    return {
        'apiVersion': 'everest.local/v1',
        'kind': 'TenantResourcePolicy',
        'metadata': {'name': 'resource-policy', 'namespace': 'ns-a'},
        'spec': {
            'limits': {'cpuCores': cpu, 'memoryBytes': int(Fraction(8 * 2**30)) if memory == '8Gi' else memory, 'maxClusters': 3},
            'selectors': {'engines': ['postgresql']},
        },
    }


def _dbc(name, replicas, cpu='1', memory='2Gi'):
    return {
        'metadata': {'name': name, 'namespace': 'ns-a'},
        'spec': {'engine': {'type': 'postgresql', 'replicas': replicas, 'resources': {'cpu': cpu, 'memory': memory}, 'storage': {'size': '1Gi'}}},
    }


def test_quota_message_is_the_one_of_tenant_quota_check():
    clusters = [_dbc('pg-1', 2)]
    k8s = FakeK8s({_trp_policy.trp_path('ns-a', 'resource-policy'): _policy(), _k8s.path(_constants.DBC_API_VERSION, _constants.DBC_PLURAL, 'ns-a'): clusters})
    spec = dbc.desired_spec(params(type='postgresql', replicas=3, cpu=1, memory='2Gi', storage_size='1Gi'), None)
    with pytest.raises(dbc.QuotaExceeded) as info:
        dbc.enforce_quota(k8s, 'ns-a', 'resource-policy', spec, 'pg-2')
    # what tenant_quota_check computes for the same request
    expected = _quota.evaluate(
        'ns-a',
        _policy(),
        clusters,
        [],
        {
            'engine': 'postgresql',
            'replicas': 3,
            'cpu': '1',
            'memory': '2Gi',
            'proxy_replicas': None,
            'proxy_cpu': None,
            'proxy_memory': None,
            'cluster_name': 'pg-2',
            'db_users': 0,
        },
    )
    assert info.value.msg == '; '.join(expected['violations'])
    assert 'would exceed the limit of 4' in info.value.msg
    # within the limit: allowed, with usage
    spec = dbc.desired_spec(params(type='postgresql', replicas=2, cpu=1, memory='2Gi', storage_size='1Gi'), None)
    result, _warnings = dbc.enforce_quota(k8s, 'ns-a', 'resource-policy', spec, 'pg-2')
    assert result['usage_after']['cpu_cores'] == 4


def test_quota_without_policy_warns():
    result, warnings = dbc.enforce_quota(FakeK8s({}), 'ns-a', 'resource-policy', {'engine': {'type': 'postgresql'}}, 'pg')
    assert result is None and 'not enforced' in warnings[0]


# ---------------------------------------------------------------------------------------------- write-only secrets


class ObjModule:
    def __init__(self, state='present', update_secrets='on_create', check_mode=False):
        self.params = {'namespace': 'ns-a', 'name': 's3', 'state': state, 'update_secrets': update_secrets}
        self.check_mode = check_mode


class ObjClient:
    def __init__(self, current):
        self.current = current
        self.calls = []

    def get_or_none(self, path, rbac=None, what=None):  # pylint: disable=unused-argument
        return copy.deepcopy(self.current)

    def request(self, method, path, body=None, query=None, rbac=None, what=None):  # pylint: disable=unused-argument,too-many-arguments
        self.calls.append((method, path, copy.deepcopy(body), rbac))
        if method == 'DELETE':
            return None
        answer = dict(self.current or {'name': 's3', 'namespace': 'ns-a'})
        answer.update(dict((k, v) for k, v in (body or {}).items() if k not in ('accessKey', 'secretKey')))
        return answer


STORED = {'name': 's3', 'namespace': 'ns-a', 'type': 's3', 'bucketName': 'b1', 'url': '', 'region': 'r1', 'allowedNamespaces': ['x', 'y'], 'verifyTLS': True}
KEYS = {'accessKey': 'AK-secret', 'secretKey': 'SK-secret'}


def converge(module, client, desired, secrets=None):
    return objects.converge_object(
        module,
        client,
        'backup-storages',
        'backup-storages',
        'backup storage',
        desired,
        KEYS if secrets is None else secrets,
        create_required=[('type', 'type'), ('bucket_name', 'bucketName')],
        immutable=[('type', 'type')],
    )


def test_create_sends_keys_but_never_shows_them():
    client = ObjClient(None)
    changed, obj, diff = converge(ObjModule(), client, {'type': 's3', 'bucketName': 'b1', 'url': None})
    assert changed and client.calls[0][0] == 'POST' and client.calls[0][2]['secretKey'] == 'SK-secret'
    assert client.calls[0][3] == ('backup-storages', 'create', 'ns-a/s3')
    assert 'SK-secret' not in json.dumps([obj, diff])


def test_existing_object_only_differences_are_patched():
    client = ObjClient(STORED)
    # same values (list order ignored, '' == not set) and on_create keys: nothing to do
    assert converge(ObjModule(), client, {'type': 's3', 'bucketName': 'b1', 'allowedNamespaces': ['y', 'x'], 'url': ''})[0] is False
    assert client.calls == []
    changed, _obj, diff = converge(ObjModule(), client, {'bucketName': 'b2', 'region': 'r1'})
    assert changed and client.calls[-1][:3] == ('PATCH', '/v1/namespaces/ns-a/backup-storages/s3', {'bucketName': 'b2'})
    assert diff['before']['bucketName'] == 'b1' and diff['after']['bucketName'] == 'b2'


def test_update_secrets_always_pushes_keys_and_reports_change():
    client = ObjClient(STORED)
    changed, _obj, diff = converge(ObjModule(update_secrets='always'), client, {'bucketName': 'b1'})
    assert changed and client.calls[-1][2] == KEYS
    assert 'SK-secret' not in json.dumps(diff)
    client = ObjClient(STORED)
    assert converge(ObjModule(update_secrets='always', check_mode=True), client, {})[0] is True
    assert client.calls == []


def test_immutable_type_and_missing_create_options():
    with pytest.raises(ValidationError, match="has type 's3'"):
        converge(ObjModule(), ObjClient(STORED), {'type': 'azure'})
    with pytest.raises(ValidationError, match='needs type, bucket_name'):
        converge(ObjModule(), ObjClient(None), {})
    with pytest.raises(ValidationError, match='the secret options'):
        converge(ObjModule(), ObjClient(None), {'type': 's3', 'bucketName': 'b'}, secrets={})


def test_absent():
    client = ObjClient(STORED)
    assert converge(ObjModule(state='absent'), client, {})[0] is True and client.calls[0][0] == 'DELETE'
    client = ObjClient(None)
    assert converge(ObjModule(state='absent'), client, {})[0] is False and client.calls == []


def test_stale_keepalive_connection_is_reopened_once(server):
    server.queue = [(200, {'a': 1}, {}), (201, {'b': 2}, {})]
    client = client_for(server)
    assert client.request('GET', '/v1/version') == {'a': 1}
    client._transport._conn.sock.close()  # pylint: disable=protected-access  # what an idle timeout on the server side looks like
    assert client.request('POST', '/v1/namespaces/a/backup-storages', {'name': 'x'}) == {'b': 2}
    assert [r['method'] for r in server.requests] == ['GET', 'POST']


def test_unreachable_server_is_reported():
    client = api.EverestClient('http://127.0.0.1:9', token=VALID, sleep=lambda s: None)
    with pytest.raises(api.EverestApiUnavailable, match='cannot reach the Everest API at http://127.0.0.1:9'):
        client.request('GET', '/v1/version')


def test_quota_without_kubernetes_connection_says_how_to_fix(monkeypatch, tmp_path):
    monkeypatch.delenv('KUBECONFIG', raising=False)
    monkeypatch.delenv('KUBERNETES_SERVICE_HOST', raising=False)
    monkeypatch.setenv('HOME', str(tmp_path))

    class NoK8sModule:
        params = dict((name, None) for name in _k8s.AUTH_OPTIONS)

        @property
        def k8s(self):
            raise AssertionError('must not be reached')

    with pytest.raises(dbc.ConnectionConfigError, match='enforce_quota: false'):
        dbc.quota_k8s(NoK8sModule())


# ---------------------------------------------------------------------------------------------- secret results (action plugins)


def test_hide_secret_result_hides_requested_and_secret_holding_successes():
    assert _secret_result.hide_secret_result({'changed': False, 'token': 'T'}, ('token',), True)['_ansible_no_log'] is True
    assert _secret_result.hide_secret_result({'changed': False, 'credentials': {}}, ('credentials',), False)['_ansible_no_log'] is True
    assert _secret_result.hide_secret_result({'changed': False, 'database_clusters': []}, ('credentials',), True)['_ansible_no_log'] is True
    assert '_ansible_no_log' not in _secret_result.hide_secret_result({'changed': False, 'database_clusters': []}, ('credentials',), False)


def test_hide_secret_result_keeps_failures_visible_but_never_raw_output():
    failed = {'failed': True, 'msg': "Everest refused the login of 'alice' (401 ...)", 'status': 401}
    assert _secret_result.hide_secret_result(dict(failed), ('token',), True) == failed
    broken = {'failed': True, 'msg': 'MODULE FAILURE', 'module_stdout': '{"token": "eyJ.x.y"} junk', 'module_stderr': 'trace', 'rc': 1}
    out = _secret_result.hide_secret_result(dict(broken), ('token',), True)
    assert 'eyJ' not in json.dumps(out) and out['msg'] == 'MODULE FAILURE' and out['module_stderr'] == 'trace'
    assert '_ansible_no_log' not in out
    assert _secret_result.hide_secret_result({'failed': True, 'msg': 'x', 'token': 'T'}, ('token',), True)['_ansible_no_log'] is True


# ---------------------------------------------------------------------------------------------- transport rule (_http.Transport)


@pytest.mark.parametrize(
    'url,kwargs,refused',
    [
        ('http://everest.example.com', {'token': VALID}, True),
        ('http://everest.example.com', {'username': 'alice', 'password': 'Secret-pw1'}, True),
        ('http://everest.example.com', {'token': VALID, 'allow_http_credentials': True}, False),
        ('http://everest.example.com', {}, False),  # nothing to protect yet
        ('http://127.0.0.1:8080', {'token': VALID}, False),  # loopback
        ('http://localhost:8080', {'username': 'alice', 'password': 'Secret-pw1'}, False),
        ('https://everest.example.com', {'token': VALID}, False),
    ],
)
def test_credentials_never_travel_over_plain_http_to_another_host(url, kwargs, refused):
    if not refused:
        api.EverestClient(url, **kwargs).close()
        return
    with pytest.raises(dbc.ConnectionConfigError) as info:
        api.EverestClient(url, **kwargs)
    msg = info.value.msg
    assert 'refusing to send the Everest credentials' in msg and 'everest_allow_http_credentials: true' in msg
    assert VALID not in msg and 'Secret-pw1' not in msg


def test_allow_http_credentials_option_and_environment(monkeypatch):
    spec = api.argument_spec({})['everest_allow_http_credentials']
    assert spec['default'] is False and spec['fallback'][1] == ['VIRAKCLOUD_EVEREST_ALLOW_HTTP_CREDENTIALS']
    params = {'everest_url': 'http://everest.example.com', 'everest_token': VALID, 'everest_allow_http_credentials': True}
    api.client_from_params(params).close()
    with pytest.raises(dbc.ConnectionConfigError):
        api.client_from_params(dict(params, everest_allow_http_credentials=False))
