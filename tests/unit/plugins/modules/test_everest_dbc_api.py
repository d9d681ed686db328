"""everest_database_cluster's update path: conditional PUT, re-read and re-apply on 409, check mode; everest_restore's reads."""

import copy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.virakcloud.everest.plugins.module_utils import _everest_client as api
from ansible_collections.virakcloud.everest.plugins.module_utils import _database_cluster as dbc
from ansible_collections.virakcloud.everest.plugins.module_utils import _constants
from ansible_collections.virakcloud.everest.plugins.modules import everest_restore

OBJ = {
    'apiVersion': _constants.DBC_API_VERSION,
    'kind': 'DatabaseCluster',
    'metadata': {'name': 'pg', 'namespace': 'ns-a', 'resourceVersion': '10', 'managedFields': [{'x': 1}]},
    'spec': {'engine': {'type': 'postgresql', 'replicas': 1, 'resources': {'cpu': '1', 'memory': '2Gi'}, 'storage': {'size': '5Gi'}}},
    'status': {'status': 'ready'},
}


class FakeModule:
    def __init__(self, check_mode=False, **engine):
        self.check_mode = check_mode
        self.params = {
            'namespace': 'ns-a',
            'name': 'pg',
            'engine': engine,
            'proxy': None,
            'backup': None,
            'monitoring': None,
            'enforce_quota': False,
            'policy_name': 'resource-policy',
            'wait': False,
            'wait_timeout': 5,
            'cleanup_backup_storage': False,
            'state': 'present',
        }
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


class FakeClient:
    """Answers GET with the stored object; the first ``conflicts`` PUTs fail with 409 after a concurrent change
    (``concurrent(obj)``, default: a label, not the spec)."""

    def __init__(self, conflicts=0, concurrent=None):
        self.obj = copy.deepcopy(OBJ)
        self.conflicts = conflicts
        self.concurrent = concurrent
        self.puts = []

    def get_or_none(self, path, rbac=None, what=None):  # pylint: disable=unused-argument
        return copy.deepcopy(self.obj)

    def request(self, method, path, body=None, query=None, rbac=None, what=None):  # pylint: disable=unused-argument,too-many-arguments
        assert method == 'PUT'
        self.puts.append(copy.deepcopy(body))
        if body['metadata']['resourceVersion'] != self.obj['metadata']['resourceVersion'] or self.conflicts:
            if self.conflicts:
                self.conflicts -= 1
                self.obj['metadata']['resourceVersion'] = str(int(self.obj['metadata']['resourceVersion']) + 1)
                self.obj['metadata'].setdefault('labels', {})['touched'] = 'yes'  # someone else's change
                if self.concurrent is not None:
                    self.concurrent(self.obj)
            raise api.EverestApiConflict('409', status=409)
        self.obj = copy.deepcopy(body)
        self.obj['metadata']['resourceVersion'] = str(int(body['metadata']['resourceVersion']) + 1)
        return copy.deepcopy(self.obj)


def test_update_rereads_and_reapplies_on_conflict():
    client = FakeClient(conflicts=2)
    runner = dbc.Runner(FakeModule(replicas=3), client)
    changed, obj, diff = runner.update(client.get_or_none(runner.path))
    assert changed and obj['spec']['engine']['replicas'] == 3
    assert [p['metadata']['resourceVersion'] for p in client.puts] == ['10', '11', '12']
    assert obj['metadata']['labels'] == {'touched': 'yes'}  # the concurrent change survives
    assert 'managedFields' not in client.puts[0]['metadata'] and 'status' not in client.puts[0]
    assert diff == {'before': OBJ['spec'], 'after': obj['spec']}


def test_update_gives_up_after_the_attempts():
    client = FakeClient(conflicts=dbc.CONFLICT_ATTEMPTS)
    runner = dbc.Runner(FakeModule(replicas=3), client)
    with pytest.raises(api.EverestApiConflict):
        runner.update(client.get_or_none(runner.path))
    assert len(client.puts) == dbc.CONFLICT_ATTEMPTS


def test_no_change_and_check_mode():
    client = FakeClient()
    runner = dbc.Runner(FakeModule(replicas=1, cpu='1000m', memory='2048Mi'), client)
    assert runner.update(client.get_or_none(runner.path))[0] is False
    runner = dbc.Runner(FakeModule(check_mode=True, replicas=5), client)
    changed, planned, diff = runner.update(client.get_or_none(runner.path))
    assert changed and planned['spec']['engine']['replicas'] == 5 and diff['after']['engine']['replicas'] == 5
    assert client.puts == []


def test_shrinking_storage_is_refused_before_any_call():
    client = FakeClient()
    runner = dbc.Runner(FakeModule(storage_size='1Gi'), client)
    with pytest.raises(api.ValidationError, match='storage can only grow'):
        runner.update(client.get_or_none(runner.path))
    assert client.puts == []


def _scaled_to(replicas):
    def change(obj):
        obj['spec']['engine']['replicas'] = replicas

    return change


def test_reread_that_already_matches_reports_no_change_and_writes_nothing():
    """Someone else made the same change between our read and our PUT: the 409 re-read matches, nothing is written."""
    client = FakeClient(conflicts=1, concurrent=_scaled_to(3))
    runner = dbc.Runner(FakeModule(replicas=3), client)
    changed, obj, diff = runner.update(client.get_or_none(runner.path))
    assert changed is False and diff is None
    assert len(client.puts) == 1  # only the refused PUT
    assert obj['spec']['engine']['replicas'] == 3 and obj['metadata']['resourceVersion'] == '11'


def test_diff_after_a_conflict_shows_what_this_task_changed():
    client = FakeClient(conflicts=1, concurrent=_scaled_to(2))
    runner = dbc.Runner(FakeModule(cpu='2'), client)
    changed, obj, diff = runner.update(client.get_or_none(runner.path))
    assert changed and obj['spec']['engine'] == dict(OBJ['spec']['engine'], replicas=2, resources={'cpu': '2', 'memory': '2Gi'})
    assert diff['before']['engine']['replicas'] == 2 and diff['before']['engine']['resources']['cpu'] == '1'


@pytest.mark.parametrize(
    'concurrent,checks',
    [
        (None, 1),  # the re-read has the same shape: the first check still holds
        (_scaled_to(2), 2),  # someone scaled meanwhile: the usage changed, check again
    ],
)
def test_quota_is_checked_again_when_the_reread_changed_the_shape(monkeypatch, concurrent, checks):
    calls = []

    def fake_enforce(k8s, ns, policy_name, spec, name):  # pylint: disable=unused-argument
        calls.append(copy.deepcopy(spec['engine']))
        return None, []

    monkeypatch.setattr(dbc, 'enforce_quota', fake_enforce)
    monkeypatch.setattr(dbc, 'quota_k8s', lambda module: object())
    module = FakeModule(cpu='2')
    module.params['enforce_quota'] = True
    client = FakeClient(conflicts=1, concurrent=concurrent)
    runner = dbc.Runner(module, client)
    assert runner.update(client.get_or_none(runner.path))[0] is True
    assert len(calls) == checks
    assert calls[-1]['replicas'] == (2 if concurrent else 1) and calls[-1]['resources']['cpu'] == '2'


def test_quota_refusal_after_the_reread_writes_nothing(monkeypatch):
    def fake_enforce(k8s, ns, policy_name, spec, name):  # pylint: disable=unused-argument
        if spec['engine']['replicas'] > 1:
            raise dbc.QuotaExceeded('ns-a: cpu 4 cores would exceed the limit of 3')
        return None, []

    monkeypatch.setattr(dbc, 'enforce_quota', fake_enforce)
    monkeypatch.setattr(dbc, 'quota_k8s', lambda module: object())
    module = FakeModule(cpu='2')
    module.params['enforce_quota'] = True
    client = FakeClient(conflicts=1, concurrent=_scaled_to(2))
    runner = dbc.Runner(module, client)
    with pytest.raises(dbc.QuotaExceeded, match='limit of 3'):
        runner.update(client.get_or_none(runner.path))
    assert len(client.puts) == 1  # the refused PUT only


# ---------------------------------------------------------------------------------------------- everest_restore


class RestoreModule:
    check_mode = False

    def __init__(self, **params):
        self.params = dict(
            {
                'namespace': 'ns-alice',
                'name': None,
                'backup_name': 'b1',
                'cluster': 'pg-copy',
                'new_cluster': True,
                'wait': False,
                'wait_timeout': 5,
                'enforce_quota': False,
                'policy_name': 'resource-policy',
            },
            **params,
        )

    def warn(self, text):
        raise AssertionError(text)


class RecordingClient:
    """Every GET is refused with 403 except the ones answered 404; records the rbac tuple of each call."""

    def __init__(self, missing=()):
        self.missing = missing
        self.calls = []

    def request(self, method, path, body=None, query=None, rbac=None, what=None):  # pylint: disable=unused-argument,too-many-arguments
        self.calls.append((method, path, rbac))
        if path in self.missing:
            raise api.EverestApiNotFound('%s: not found' % what, status=404)
        raise api.EverestApiForbidden('refused %s %s' % (what, rbac), status=403)

    def get_or_none(self, path, rbac=None, what=None):
        try:
            return self.request('GET', path, rbac=rbac, what=what)
        except api.EverestApiNotFound:
            return None


def test_restore_reads_the_backup_with_its_rbac_permission():
    """The backup GET passes the RBAC tuple, so a 403 names database-cluster-backups read (reference §6.1)."""
    client = RecordingClient(missing=(api.ns_path('ns-alice', 'database-clusters', 'pg-copy'),))
    with pytest.raises(api.EverestApiForbidden):
        everest_restore.into_new_cluster(RestoreModule(), client)
    method, path, rbac = client.calls[-1]
    assert (method, path) == ('GET', api.ns_path('ns-alice', 'database-cluster-backups', 'b1'))
    assert rbac == ('database-cluster-backups', 'read', 'ns-alice/*')


def test_restore_backup_403_message_names_the_permission():
    """The same through the real client and HTTP: the message has the policy line to add."""
    answers = [(404, {'message': 'not found'}), (403, {'message': 'insufficient permissions for performing the operation'})]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'

        def do_GET(self):  # pylint: disable=invalid-name
            code, payload = answers.pop(0)
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):  # pylint: disable=arguments-differ
            pass

    httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    threading.Thread(target=httpd.serve_forever, kwargs={'poll_interval': 0.02}, daemon=True).start()
    try:
        client = api.EverestClient('http://127.0.0.1:%d' % httpd.server_address[1], token='x.eyJzdWIiOiJib2I6bG9naW4ifQ.y')
        with pytest.raises(api.EverestApiForbidden) as info:
            everest_restore.into_new_cluster(RestoreModule(), client)
        client.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
    msg = info.value.msg
    assert "user 'bob'" in msg and 'backup ns-alice/b1' in msg
    assert "'p, <user or role>, database-cluster-backups, read, ns-alice/*'" in msg
