"""everest_database_cluster's update path: conditional PUT, re-read and re-apply on 409, check mode."""

import copy

import pytest

from ansible_collections.virakcloud.everest.plugins.module_utils import _everest_api as api
from ansible_collections.virakcloud.everest.plugins.modules import everest_database_cluster as mod

OBJ = {'apiVersion': api.DBC_API_VERSION, 'kind': 'DatabaseCluster',
       'metadata': {'name': 'pg', 'namespace': 'ns-a', 'resourceVersion': '10', 'managedFields': [{'x': 1}]},
       'spec': {'engine': {'type': 'postgresql', 'replicas': 1, 'resources': {'cpu': '1', 'memory': '2Gi'}, 'storage': {'size': '5Gi'}}},
       'status': {'status': 'ready'}}


class FakeModule:
    def __init__(self, check_mode=False, **engine):
        self.check_mode = check_mode
        self.params = {'namespace': 'ns-a', 'name': 'pg', 'engine': engine, 'proxy': None, 'backup': None, 'monitoring': None,
                       'enforce_quota': False, 'policy_name': 'resource-policy', 'wait': False, 'wait_timeout': 5,
                       'cleanup_backup_storage': False, 'state': 'present'}
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


class FakeClient:
    """Answers GET with the stored object; the first ``conflicts`` PUTs fail with 409 after a concurrent change."""

    def __init__(self, conflicts=0):
        self.obj = copy.deepcopy(OBJ)
        self.conflicts = conflicts
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
                self.obj['metadata'].setdefault('labels', {})['touched'] = 'yes'   # someone else's change
            raise api.EverestApiConflict('409', status=409)
        self.obj = copy.deepcopy(body)
        self.obj['metadata']['resourceVersion'] = str(int(body['metadata']['resourceVersion']) + 1)
        return copy.deepcopy(self.obj)


def test_update_rereads_and_reapplies_on_conflict():
    client = FakeClient(conflicts=2)
    runner = mod.Runner(FakeModule(replicas=3), client)
    changed, obj, diff = runner.update(client.get_or_none(runner.path))
    assert changed and obj['spec']['engine']['replicas'] == 3
    assert [p['metadata']['resourceVersion'] for p in client.puts] == ['10', '11', '12']
    assert obj['metadata']['labels'] == {'touched': 'yes'}          # the concurrent change survives
    assert 'managedFields' not in client.puts[0]['metadata'] and 'status' not in client.puts[0]
    assert diff == {'before': OBJ['spec'], 'after': obj['spec']}


def test_update_gives_up_after_the_attempts():
    client = FakeClient(conflicts=api.CONFLICT_ATTEMPTS)
    runner = mod.Runner(FakeModule(replicas=3), client)
    with pytest.raises(api.EverestApiConflict):
        runner.update(client.get_or_none(runner.path))
    assert len(client.puts) == api.CONFLICT_ATTEMPTS


def test_no_change_and_check_mode():
    client = FakeClient()
    runner = mod.Runner(FakeModule(replicas=1, cpu='1000m', memory='2048Mi'), client)
    assert runner.update(client.get_or_none(runner.path))[0] is False
    runner = mod.Runner(FakeModule(check_mode=True, replicas=5), client)
    changed, planned, diff = runner.update(client.get_or_none(runner.path))
    assert changed and planned['spec']['engine']['replicas'] == 5 and diff['after']['engine']['replicas'] == 5
    assert client.puts == []


def test_shrinking_storage_is_refused_before_any_call():
    client = FakeClient()
    runner = mod.Runner(FakeModule(storage_size='1Gi'), client)
    with pytest.raises(api.ValidationError, match='storage can only grow'):
        runner.update(client.get_or_none(runner.path))
    assert client.puts == []
