"""CRUD semantics of the Kubernetes API emulator: Status bodies, conflicts, server-owned metadata."""

import base64
import json
import re

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from everest_sandbox.launcher import raw_request

CM_PATH = '/api/v1/namespaces/everest-system/configmaps'
CONFLICT = (
    'Operation cannot be fulfilled on configmaps "everest-rbac": the object has been modified; please apply your changes to the latest version and try again'
)


def cm(name, data=None, **meta):
    return {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': dict({'name': name}, **meta), 'data': data or {}}


def test_seeded_everest_installation(raw):
    status, secret = raw('GET', '/api/v1/namespaces/everest-system/secrets/everest-accounts')
    assert status == 200
    assert secret['type'] == 'Opaque'
    assert secret['metadata']['annotations'] == {'helm.sh/resource-policy': 'keep', 'insecure-password/admin': 'true'}
    users = base64.b64decode(secret['data']['users.yaml']).decode()
    assert users == 'admin:\n  enabled: true\n  capabilities:\n  - login\n  passwordHash: everest-admin-sandbox\n'
    status, rbac = raw('GET', CM_PATH + '/everest-rbac')
    assert rbac['data'] == {'enabled': 'false', 'policy.csv': 'g, admin, role:admin\n'}
    assert rbac['metadata']['annotations'] == {'helm.sh/resource-policy': 'keep'}
    status, dep = raw('GET', '/apis/apps/v1/namespaces/everest-system/deployments/everest-server')
    assert [(c['name'], c['image']) for c in dep['spec']['template']['spec']['containers']] == [('everest', 'perconalab/everest:1.10.0')]
    assert dep['status']['readyReplicas'] == 1
    status, nss = raw('GET', '/api/v1/namespaces')
    names = {n['metadata']['name']: n for n in nss['items']}
    assert set(names) == {'default', 'kube-system', 'everest-system', 'everest-monitoring', 'everest-olm'}
    assert all(re.fullmatch(r'[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}', n['metadata']['uid']) for n in names.values())


def test_reset_restores_seed_and_keeps_uids(clean_sandbox):
    _st, before = clean_sandbox.request('GET', '/api/v1/namespaces/everest-system')
    status, _body = clean_sandbox.request('DELETE', '/api/v1/namespaces/everest-system')
    assert status == 200
    assert clean_sandbox.request('GET', '/api/v1/namespaces/everest-system')[0] == 404
    clean_sandbox.reset()
    status, after = clean_sandbox.request('GET', '/api/v1/namespaces/everest-system')
    assert status == 200
    assert after['metadata']['uid'] == before['metadata']['uid']
    assert int(after['metadata']['resourceVersion']) > int(before['metadata']['resourceVersion'])
    assert clean_sandbox.request('GET', CM_PATH + '/everest-rbac')[0] == 200


def test_already_exists_status(raw):
    status, body = raw('POST', CM_PATH, cm('everest-rbac'))
    assert status == 409
    assert body == {
        'kind': 'Status',
        'apiVersion': 'v1',
        'metadata': {},
        'status': 'Failure',
        'message': 'configmaps "everest-rbac" already exists',
        'reason': 'AlreadyExists',
        'details': {'name': 'everest-rbac', 'kind': 'configmaps'},
        'code': 409,
    }


def test_create_in_missing_namespace(raw):
    status, body = raw('POST', '/api/v1/namespaces/ns-a/configmaps', cm('x'))
    assert status == 404
    assert body['message'] == 'namespaces "ns-a" not found'
    assert body['reason'] == 'NotFound'
    assert body['details'] == {'name': 'ns-a', 'kind': 'namespaces'}


def test_not_found_status_for_grouped_resource(raw):
    status, body = raw('GET', '/apis/everest.percona.com/v1alpha1/namespaces/default/databaseclusters/nope')
    assert status == 404
    assert body['message'] == 'databaseclusters.everest.percona.com "nope" not found'
    assert body['details'] == {'name': 'nope', 'group': 'everest.percona.com', 'kind': 'databaseclusters'}


def test_stale_resource_version_conflicts(raw):
    _st, cur = raw('GET', CM_PATH + '/everest-rbac')
    cur['data']['enabled'] = 'true'
    status, updated = raw('PUT', CM_PATH + '/everest-rbac', cur)
    assert status == 200
    assert int(updated['metadata']['resourceVersion']) > int(cur['metadata']['resourceVersion'])
    cur['data']['enabled'] = 'false'  # still carries the old resourceVersion
    status, body = raw('PUT', CM_PATH + '/everest-rbac', cur)
    assert status == 409
    assert body['message'] == CONFLICT
    assert body['reason'] == 'Conflict'
    assert body['details'] == {'name': 'everest-rbac', 'kind': 'configmaps'}
    assert raw('GET', CM_PATH + '/everest-rbac')[1]['data']['enabled'] == 'true'


def test_unconditional_put_and_put_missing(raw):
    status, body = raw('PUT', CM_PATH + '/everest-rbac', cm('everest-rbac', {'enabled': 'true'}))
    assert status == 200
    assert body['data'] == {'enabled': 'true'}
    assert 'annotations' not in body['metadata'], 'PUT replaces the whole object'
    status, body = raw('PUT', CM_PATH + '/missing', cm('missing'))
    assert status == 404
    assert body['message'] == 'configmaps "missing" not found'
    status, body = raw('PUT', CM_PATH + '/everest-rbac', cm('other'))
    assert status == 400
    assert body['message'] == 'the name of the object (other) does not match the name on the URL (everest-rbac)'


def test_server_owned_metadata_and_noop_update(raw):
    status, created = raw('POST', CM_PATH, cm('c1', {'a': 'b'}, uid='bogus', resourceVersion='999'))
    assert status == 201
    meta = created['metadata']
    assert meta['uid'] != 'bogus' and re.fullmatch(r'[0-9a-f-]{36}', meta['uid'])
    assert re.fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ', meta['creationTimestamp'])
    assert meta['resourceVersion'] != '999'
    assert 'generation' not in meta
    status, same = raw('PUT', CM_PATH + '/c1', created)
    assert status == 200
    assert same['metadata']['resourceVersion'] == meta['resourceVersion'], 'a no-op update must not bump resourceVersion'
    created['data']['a'] = 'c'
    _st, changed = raw('PUT', CM_PATH + '/c1', created)
    assert int(changed['metadata']['resourceVersion']) > int(meta['resourceVersion'])
    assert changed['metadata']['uid'] == meta['uid']
    assert changed['metadata']['creationTimestamp'] == meta['creationTimestamp']


def test_resource_versions_come_from_one_counter(raw):
    _st, a = raw('POST', CM_PATH, cm('c1'))
    _st, b = raw('POST', '/api/v1/namespaces', {'metadata': {'name': 'ns-b'}})
    _st, c = raw('POST', '/api/v1/namespaces/everest-system/secrets', {'metadata': {'name': 's1'}})
    rvs = [int(x['metadata']['resourceVersion']) for x in (a, b, c)]
    assert rvs == sorted(rvs) and len(set(rvs)) == 3
    _st, listing = raw('GET', '/api/v1/namespaces/everest-system/configmaps')
    assert int(listing['metadata']['resourceVersion']) >= rvs[-1]


def test_generate_name(raw):
    status, body = raw('POST', CM_PATH, {'metadata': {'generateName': 'gen-'}})
    assert status == 201
    assert re.fullmatch(r'gen-[a-z0-9]{5}', body['metadata']['name'])


def test_configmap_data_must_be_strings(raw):
    status, body = raw('POST', CM_PATH, cm('bad', {'n': 1}))
    assert status == 400
    assert body['reason'] == 'BadRequest'
    assert body['message'] == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go struct field ConfigMap.data of type string'
    )


def test_invalid_names_are_422(raw):
    status, body = raw('POST', '/api/v1/namespaces', {'metadata': {'name': 'Bad_Name'}})
    assert status == 422
    assert body['message'].startswith('Namespace "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 label must consist of')
    assert body['details']['causes'][0]['field'] == 'metadata.name'
    status, body = raw('POST', CM_PATH, {'metadata': {}})
    assert status == 422
    assert body['message'] == 'ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required'


def test_secret_string_data_merged_and_dropped(core):
    created = core.create_namespaced_secret(
        'everest-system', client.V1Secret(metadata=client.V1ObjectMeta(name='s1'), data={'a': base64.b64encode(b'old').decode()}, string_data={'b': 'plain'})
    )
    assert created.string_data is None
    assert created.type == 'Opaque'
    assert {k: base64.b64decode(v) for k, v in created.data.items()} == {'a': b'old', 'b': b'plain'}
    created.string_data = {'a': 'new'}
    replaced = core.replace_namespaced_secret('s1', 'everest-system', created)
    assert base64.b64decode(replaced.data['a']) == b'new'
    assert replaced.string_data is None


def test_secret_bad_base64_is_400(raw):
    status, body = raw('POST', '/api/v1/namespaces/everest-system/secrets', {'metadata': {'name': 's'}, 'data': {'a': 'not base64!'}})
    assert status == 400
    assert body['message'].startswith('Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte')


def test_delete_returns_status_or_object(raw, make_ns):
    make_ns('ns-a')
    raw('POST', '/api/v1/namespaces/ns-a/configmaps', cm('c'))
    status, body = raw('DELETE', '/api/v1/namespaces/ns-a/configmaps/c')
    assert status == 200
    assert body['kind'] == 'Status' and body['status'] == 'Success'
    assert body['details']['name'] == 'c' and body['details']['kind'] == 'configmaps'
    status, body = raw('DELETE', '/api/v1/namespaces/ns-a/configmaps/c')
    assert status == 404
    assert body['message'] == 'configmaps "c" not found'


def test_namespace_delete_cascades(raw, make_ns):
    make_ns('ns-a')
    make_ns('ns-b')
    for nsn in ('ns-a', 'ns-b'):
        assert raw('POST', f'/api/v1/namespaces/{nsn}/configmaps', cm('c'))[0] == 201
    dbc = {
        'apiVersion': 'everest.percona.com/v1alpha1',
        'kind': 'DatabaseCluster',
        'metadata': {'name': 'db1'},
        'spec': {'engine': {'type': 'pxc', 'storage': {'size': '1Gi'}}},
    }
    assert raw('POST', '/apis/everest.percona.com/v1alpha1/namespaces/ns-a/databaseclusters', dbc)[0] == 201
    status, body = raw('DELETE', '/api/v1/namespaces/ns-a')
    assert status == 200
    assert body['kind'] == 'Namespace' and body['status']['phase'] == 'Terminating'
    assert raw('GET', '/api/v1/namespaces/ns-a')[0] == 404
    assert raw('GET', '/api/v1/namespaces/ns-a/configmaps/c')[0] == 404
    assert raw('GET', '/apis/everest.percona.com/v1alpha1/databaseclusters')[1]['items'] == []
    assert raw('GET', '/api/v1/namespaces/ns-b/configmaps/c')[0] == 200


def test_finalizers_delay_deletion(raw):
    assert raw('POST', CM_PATH, cm('f', finalizers=['x/y']))[0] == 201
    status, body = raw('DELETE', CM_PATH + '/f')
    assert status == 202
    assert body['metadata']['deletionTimestamp']
    _st, cur = raw('GET', CM_PATH + '/f')
    cur['metadata']['finalizers'] = []
    assert raw('PUT', CM_PATH + '/f', cur)[0] == 200
    assert raw('GET', CM_PATH + '/f')[0] == 404


def test_delete_preconditions(raw):
    _st, cur = raw('GET', CM_PATH + '/everest-rbac')
    status, body = raw('DELETE', CM_PATH + '/everest-rbac', {'preconditions': {'resourceVersion': '1'}})
    assert status == 409
    assert body['message'].startswith('Operation cannot be fulfilled on configmaps "everest-rbac": Precondition failed')
    status, _body = raw('DELETE', CM_PATH + '/everest-rbac', {'preconditions': {'uid': cur['metadata']['uid']}})
    assert status == 200


def test_dry_run_does_not_persist(raw):
    status, body = raw('POST', CM_PATH + '?dryRun=All', cm('dry'))
    assert status == 201 and body['metadata']['name'] == 'dry'
    assert raw('GET', CM_PATH + '/dry')[0] == 404


@pytest.mark.parametrize('auth', [None, 'Bearer wrong', 'Basic Zm9vOmJhcg=='])
@pytest.mark.parametrize('path', ['/api/v1/namespaces', '/version', '/apis', '/_sandbox/stats', '/_sandbox/reset'])
def test_unauthorized(sandbox, auth, path):
    headers = {'Authorization': auth} if auth else {}
    status, body = raw_request(sandbox.url, None, 'GET', path, headers=headers)
    assert status == 401
    assert body == {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure', 'message': 'Unauthorized', 'reason': 'Unauthorized', 'code': 401}


def test_typed_client_conflict_exception(core):
    cur = core.read_namespaced_config_map('everest-rbac', 'everest-system')
    stale = core.read_namespaced_config_map('everest-rbac', 'everest-system')
    cur.data['enabled'] = 'true'
    core.replace_namespaced_config_map('everest-rbac', 'everest-system', cur)
    stale.data['enabled'] = 'maybe'
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map('everest-rbac', 'everest-system', stale)
    assert err.value.status == 409
    assert json.loads(err.value.body)['message'] == CONFLICT


def test_metadata_is_normalised_like_object_meta(raw):
    status, body = raw('POST', CM_PATH, {'metadata': {'name': 'n', 'labels': {}, 'annotations': {}, 'finalizers': [], 'bogusField': 1}, 'data': {}})
    assert status == 201
    assert set(body['metadata']) == {'name', 'namespace', 'uid', 'resourceVersion', 'creationTimestamp'}
    assert 'data' not in body, 'empty maps of built-in kinds are omitted (omitempty)'


def test_deployment_scale_subresource(raw):
    path = '/apis/apps/v1/namespaces/everest-system/deployments/everest-server'
    status, scale = raw('GET', path + '/scale')
    assert status == 200
    assert scale['kind'] == 'Scale' and scale['apiVersion'] == 'autoscaling/v1'
    assert scale['spec'] == {'replicas': 1}
    assert scale['status']['selector'] == 'app.kubernetes.io/component=server,app.kubernetes.io/name=everest-server'
    status, scale = raw('PATCH', path + '/scale', {'spec': {'replicas': 3}}, {'Content-Type': 'application/merge-patch+json'})
    assert status == 200 and scale['spec']['replicas'] == 3
    _st, dep = raw('GET', path)
    assert dep['spec']['replicas'] == 3 and dep['metadata']['generation'] == 2 and dep['status']['readyReplicas'] == 3
    scale['spec']['replicas'] = -1
    status, body = raw('PUT', path + '/scale', scale)
    assert status == 422
    assert body['message'] == ('Scale.autoscaling "everest-server" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0')
    assert raw('GET', CM_PATH + '/everest-rbac/scale')[0] == 404


def test_reset_forgets_runtime_crds(clean_sandbox):
    crd = {
        'apiVersion': 'apiextensions.k8s.io/v1',
        'kind': 'CustomResourceDefinition',
        'metadata': {'name': 'things.example.com'},
        'spec': {
            'group': 'example.com',
            'scope': 'Cluster',
            'names': {'plural': 'things', 'kind': 'Thing'},
            'versions': [
                {'name': 'v1', 'served': True, 'storage': True, 'schema': {'openAPIV3Schema': {'type': 'object', 'x-kubernetes-preserve-unknown-fields': True}}}
            ],
        },
    }
    assert clean_sandbox.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd)[0] == 201
    assert clean_sandbox.request('GET', '/apis/example.com/v1/things')[0] == 200
    clean_sandbox.reset()
    assert clean_sandbox.request('GET', '/apis/example.com/v1/things')[0] == 404
    assert clean_sandbox.request('GET', '/apis/everest.percona.com/v1alpha1/databaseclusters')[0] == 200


def test_system_namespaces_cannot_be_deleted(raw):
    status, body = raw('DELETE', '/api/v1/namespaces/default')
    assert status == 403
    assert body['message'] == 'namespaces "default" is forbidden: this namespace may not be deleted'
    assert raw('GET', '/api/v1/namespaces/default')[0] == 200
