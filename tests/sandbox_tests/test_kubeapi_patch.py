"""PATCH: merge (RFC 7386), JSON (RFC 6902), strategic merge (built-ins only), apply (simplified)."""

import pytest
from kubernetes import client

CM = '/api/v1/namespaces/everest-system/configmaps/everest-rbac'
DEP = '/apis/apps/v1/namespaces/everest-system/deployments/everest-server'
DBC = '/apis/everest.percona.com/v1alpha1/namespaces/default/databaseclusters'
MERGE = {'Content-Type': 'application/merge-patch+json'}
JSONP = {'Content-Type': 'application/json-patch+json'}
SMP = {'Content-Type': 'application/strategic-merge-patch+json'}
APPLY = {'Content-Type': 'application/apply-patch+yaml'}


def dbc(name='db1'):
    return {
        'apiVersion': 'everest.percona.com/v1alpha1',
        'kind': 'DatabaseCluster',
        'metadata': {'name': name},
        'spec': {'engine': {'type': 'pxc', 'replicas': 1, 'storage': {'size': '1Gi'}}},
    }


def test_merge_patch(raw):
    status, body = raw('PATCH', CM, {'data': {'enabled': 'true', 'policy.csv': None, 'new': 'x'}}, MERGE)
    assert status == 200
    assert body['data'] == {'enabled': 'true', 'new': 'x'}
    assert body['metadata']['annotations'] == {'helm.sh/resource-policy': 'keep'}


def test_merge_patch_with_stale_resource_version_conflicts(raw):
    status, body = raw('PATCH', CM, {'metadata': {'resourceVersion': '1'}, 'data': {'enabled': 'true'}}, MERGE)
    assert status == 409
    assert body['reason'] == 'Conflict'


def test_json_patch_and_test_op(raw):
    ops = [
        {'op': 'test', 'path': '/data/enabled', 'value': 'false'},
        {'op': 'replace', 'path': '/data/enabled', 'value': 'true'},
        {'op': 'add', 'path': '/metadata/labels', 'value': {'a': 'b'}},
        {'op': 'copy', 'from': '/data/enabled', 'path': '/data/copy'},
        {'op': 'remove', 'path': '/data/policy.csv'},
    ]
    status, body = raw('PATCH', CM, ops, JSONP)
    assert status == 200, body
    assert body['data'] == {'enabled': 'true', 'copy': 'true'}
    assert body['metadata']['labels'] == {'a': 'b'}
    status, body = raw(
        'PATCH', CM, [{'op': 'test', 'path': '/data/enabled', 'value': 'false'}, {'op': 'replace', 'path': '/data/enabled', 'value': 'never'}], JSONP
    )
    assert status == 422
    assert body['reason'] == 'Invalid'
    assert body['message'] == 'the server rejected our request due to an error in our request'
    assert body['details']['causes'][0]['message'] == 'testing value /data/enabled failed: test failed'
    assert raw('GET', CM)[1]['data']['enabled'] == 'true'


def test_json_patch_array_append_and_missing_path(raw):
    status, body = raw('PATCH', DEP, [{'op': 'add', 'path': '/spec/template/spec/containers/-', 'value': {'name': 'side', 'image': 'busybox'}}], JSONP)
    assert status == 200
    assert [c['name'] for c in body['spec']['template']['spec']['containers']] == ['everest', 'side']
    status, body = raw('PATCH', CM, [{'op': 'remove', 'path': '/data/nope'}], JSONP)
    assert status == 422


def test_strategic_merge_on_builtin(api):
    apps = client.AppsV1Api(api)
    # a dict body is sent as strategic-merge-patch+json by the typed client
    patch = {
        'spec': {
            'template': {
                'metadata': {'annotations': {'kubectl.kubernetes.io/restartedAt': 'now'}},
                'spec': {'containers': [{'name': 'everest', 'image': 'perconalab/everest:1.11.0'}]},
            }
        }
    }
    dep = apps.patch_namespaced_deployment('everest-server', 'everest-system', patch)
    containers = dep.spec.template.spec.containers
    assert [(c.name, c.image) for c in containers] == [('everest', 'perconalab/everest:1.11.0')]
    assert containers[0].ports[0].container_port == 8080, 'containers are merged by name, not replaced'
    assert dep.metadata.generation == 2
    assert dep.spec.template.metadata.annotations == {'kubectl.kubernetes.io/restartedAt': 'now'}
    assert dep.status.observed_generation == 2


def test_strategic_merge_on_custom_resource_is_415(raw):
    assert raw('POST', DBC, dbc())[0] == 201
    status, body = raw('PATCH', f'{DBC}/db1', {'spec': {'paused': True}}, SMP)
    assert status == 415
    assert body == {
        'kind': 'Status',
        'apiVersion': 'v1',
        'metadata': {},
        'status': 'Failure',
        'message': 'the body of the request was in an unknown format - accepted media types include: '
        'application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml',
        'reason': 'UnsupportedMediaType',
        'code': 415,
    }
    status, body = raw('PATCH', f'{DBC}/db1', {'spec': {'paused': True}}, MERGE)
    assert status == 200 and body['spec']['paused'] is True


def test_patch_validates_custom_resource(raw):
    raw('POST', DBC, dbc())
    status, body = raw('PATCH', f'{DBC}/db1', {'spec': {'engine': {'replicas': 0}}}, MERGE)
    assert status == 422
    assert body['message'] == (
        'DatabaseCluster.everest.percona.com "db1" is invalid: spec.engine.replicas: Invalid value: 0: '
        'spec.engine.replicas in body should be greater than or equal to 1'
    )


def test_patch_missing_object_404(raw):
    status, body = raw('PATCH', f'{DBC}/nope', {'spec': {}}, MERGE)
    assert status == 404
    assert body['message'] == 'databaseclusters.everest.percona.com "nope" not found'


@pytest.mark.parametrize('ctype', ['application/json', 'text/plain'])
def test_unknown_patch_type_415(raw, ctype):
    status, body = raw('PATCH', CM, {'data': {}}, {'Content-Type': ctype})
    assert status == 415
    assert 'application/strategic-merge-patch+json' in body['message']


def test_apply_patch_creates_then_merges(raw):
    manifest = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: "1"\n'
    path = '/api/v1/namespaces/default/configmaps/applied?fieldManager=test'
    status, body = raw('PATCH', path, manifest, APPLY)
    assert status == 201 and body['data'] == {'a': '1'}
    status, body = raw('PATCH', path, manifest.replace('"1"', '"2"'), APPLY)
    assert status == 200 and body['data'] == {'a': '2'}
    status, body = raw('PATCH', '/api/v1/namespaces/default/configmaps/applied', manifest, APPLY)
    assert status == 422
    assert 'fieldManager: Required value' in body['message']
