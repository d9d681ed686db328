"""CustomResourceDefinitions and custom resources: schema validation, pruning, status subresource, generation."""

import copy

import pytest
from kubernetes import dynamic

DBC = '/apis/everest.percona.com/v1alpha1/namespaces/{ns}/databaseclusters'
TRP_CRD = {
    'apiVersion': 'apiextensions.k8s.io/v1',
    'kind': 'CustomResourceDefinition',
    'metadata': {'name': 'tenantresourcepolicies.everest.local'},
    'spec': {
        'group': 'everest.local',
        'scope': 'Namespaced',
        'names': {'plural': 'tenantresourcepolicies', 'singular': 'tenantresourcepolicy', 'kind': 'TenantResourcePolicy', 'shortNames': ['trp']},
        'versions': [
            {
                'name': 'v1',
                'served': True,
                'storage': True,
                'subresources': {'status': {}},
                'schema': {
                    'openAPIV3Schema': {
                        'type': 'object',
                        'properties': {
                            'spec': {
                                'type': 'object',
                                'required': ['limits'],
                                'properties': {
                                    'limits': {
                                        'type': 'object',
                                        'properties': {
                                            'cpuCores': {'type': 'integer', 'minimum': 0},
                                            'maxClusters': {'type': 'integer', 'minimum': 0, 'maximum': 100},
                                            'memory': {'x-kubernetes-int-or-string': True},
                                            'ratio': {'type': 'number'},
                                        },
                                    },
                                    'selectors': {
                                        'type': 'object',
                                        'properties': {
                                            'engines': {
                                                'type': 'array',
                                                'items': {'type': 'string', 'enum': ['postgresql', 'mysql', 'mongodb', 'xtradb_cluster']},
                                            },
                                        },
                                    },
                                    'extra': {'type': 'object', 'x-kubernetes-preserve-unknown-fields': True},
                                    'mode': {'type': 'string', 'default': 'enforce'},
                                },
                            },
                            'status': {'type': 'object', 'properties': {'used': {'type': 'integer'}, 'phase': {'type': 'string'}}},
                        },
                    }
                },
            }
        ],
    },
}
TRP = '/apis/everest.local/v1/namespaces/{ns}/tenantresourcepolicies'


def trp(name, spec):
    return {'apiVersion': 'everest.local/v1', 'kind': 'TenantResourcePolicy', 'metadata': {'name': name}, 'spec': spec}


@pytest.fixture
def with_trp(raw, make_ns):
    status, body = raw('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', TRP_CRD)
    assert status == 201, body
    make_ns('x')
    return raw


def test_crd_status_established(with_trp):
    _st, crd = with_trp('GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/tenantresourcepolicies.everest.local')
    conds = {c['type']: c['status'] for c in crd['status']['conditions']}
    assert conds == {'NamesAccepted': 'True', 'Established': 'True'}
    assert crd['status']['acceptedNames']['kind'] == 'TenantResourcePolicy'
    assert crd['status']['acceptedNames']['shortNames'] == ['trp']
    assert crd['status']['storedVersions'] == ['v1']
    assert crd['metadata']['generation'] == 1


def test_crd_name_must_match(raw):
    bad = copy.deepcopy(TRP_CRD)
    bad['metadata']['name'] = 'wrong.everest.local'
    status, body = raw('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', bad)
    assert status == 422
    assert body['message'] == (
        'CustomResourceDefinition.apiextensions.k8s.io "wrong.everest.local" is invalid: metadata.name: '
        'Invalid value: "wrong.everest.local": must be spec.names.plural+"."+spec.group'
    )


@pytest.mark.parametrize(
    'spec, message, field, reason',
    [
        (
            {'limits': {'cpuCores': -1}},
            'spec.limits.cpuCores: Invalid value: -1: spec.limits.cpuCores in body should be greater than or equal to 0',
            'spec.limits.cpuCores',
            'FieldValueInvalid',
        ),
        (
            {'limits': {'maxClusters': 101}},
            'spec.limits.maxClusters: Invalid value: 101: spec.limits.maxClusters in body should be less than or equal to 100',
            'spec.limits.maxClusters',
            'FieldValueInvalid',
        ),
        (
            {'limits': {'maxClusters': 'string'}},
            'spec.limits.maxClusters: Invalid value: "string": spec.limits.maxClusters in body must be of type integer: "string"',
            'spec.limits.maxClusters',
            'FieldValueTypeInvalid',
        ),
        (
            {'limits': {'maxClusters': 1.5}},
            'spec.limits.maxClusters: Invalid value: "number": spec.limits.maxClusters in body must be of type integer: "number"',
            'spec.limits.maxClusters',
            'FieldValueTypeInvalid',
        ),
        (
            {'limits': {'memory': True}},
            'spec.limits.memory: Invalid value: "boolean": spec.limits.memory in body must be of type integer,string: "boolean"',
            'spec.limits.memory',
            'FieldValueTypeInvalid',
        ),
        (
            {'limits': {}, 'selectors': {'engines': ['mysql', 'oracle']}},
            'spec.selectors.engines[1]: Unsupported value: "oracle": supported values: "postgresql", "mysql", "mongodb", "xtradb_cluster"',
            'spec.selectors.engines[1]',
            'FieldValueNotSupported',
        ),
        ({'selectors': {}}, 'spec.limits: Required value', 'spec.limits', 'FieldValueRequired'),
    ],
)
def test_schema_validation(with_trp, spec, message, field, reason):
    status, body = with_trp('POST', TRP.format(ns='x'), trp('p', spec))
    assert status == 422, body
    assert body['reason'] == 'Invalid'
    assert body['message'] == f'TenantResourcePolicy.everest.local "p" is invalid: {message}'
    assert body['details']['name'] == 'p'
    assert body['details']['group'] == 'everest.local'
    assert body['details']['kind'] == 'TenantResourcePolicy'
    assert body['details']['causes'] == [{'reason': reason, 'message': message.split(': ', 1)[1], 'field': field}]


def test_several_errors_are_aggregated(with_trp):
    status, body = with_trp('POST', TRP.format(ns='x'), trp('p', {'limits': {'cpuCores': -1, 'maxClusters': 'x'}}))
    assert status == 422
    assert body['message'].startswith('TenantResourcePolicy.everest.local "p" is invalid: [spec.limits.cpuCores: ')
    assert len(body['details']['causes']) == 2


def test_valid_values_accepted_and_unknown_fields_pruned(with_trp):
    spec = {
        'limits': {'cpuCores': 0, 'memory': '1Gi', 'ratio': 2, 'bogus': 1},
        'selectors': {'engines': ['mysql']},
        'extra': {'anything': {'goes': [1]}},
        'unknownTop': 'x',
    }
    status, body = with_trp('POST', TRP.format(ns='x'), dict(trp('p', spec), status={'used': 1}, junk=True))
    assert status == 201, body
    assert body['spec'] == {
        'limits': {'cpuCores': 0, 'memory': '1Gi', 'ratio': 2},
        'selectors': {'engines': ['mysql']},
        'extra': {'anything': {'goes': [1]}},
        'mode': 'enforce',
    }
    assert 'status' not in body, 'status is dropped on create when the status subresource is enabled'
    assert 'junk' not in body
    assert set(body) == {'apiVersion', 'kind', 'metadata', 'spec'}


def test_strict_field_validation(with_trp):
    status, body = with_trp('POST', TRP.format(ns='x') + '?fieldValidation=Strict', trp('p', {'limits': {'bogus': 1}}))
    assert status == 400
    assert body['message'] == (
        'TenantResourcePolicy in version "v1" cannot be handled as a TenantResourcePolicy: strict decoding error: unknown field "spec.limits.bogus"'
    )


def test_status_subresource_and_generation(with_trp):
    path = TRP.format(ns='x')
    _st, created = with_trp('POST', path, trp('p', {'limits': {'cpuCores': 1}}))
    assert created['metadata']['generation'] == 1
    # main resource: status changes ignored, spec change bumps generation
    obj = copy.deepcopy(created)
    obj['status'] = {'used': 5}
    _st, same = with_trp('PUT', f'{path}/p', obj)
    assert 'status' not in same
    assert same['metadata']['generation'] == 1
    assert same['metadata']['resourceVersion'] == created['metadata']['resourceVersion']
    obj = copy.deepcopy(same)
    obj['spec']['limits']['cpuCores'] = 2
    _st, bumped = with_trp('PUT', f'{path}/p', obj)
    assert bumped['metadata']['generation'] == 2
    # /status: only status changes are taken
    obj = copy.deepcopy(bumped)
    obj['status'] = {'used': 3}
    obj['spec']['limits']['cpuCores'] = 99
    obj['metadata']['labels'] = {'a': 'b'}
    status, st = with_trp('PUT', f'{path}/p/status', obj)
    assert status == 200, st
    assert st['status'] == {'used': 3}
    assert st['spec']['limits']['cpuCores'] == 2
    assert 'labels' not in st['metadata']
    assert st['metadata']['generation'] == 2
    status, st = with_trp('PATCH', f'{path}/p/status', {'status': {'used': 'many'}}, headers={'Content-Type': 'application/merge-patch+json'})
    assert status == 422
    assert st['details']['causes'][0]['field'] == 'status.used'
    status, st = with_trp('PATCH', f'{path}/p/status', {'status': {'phase': 'Ready'}}, headers={'Content-Type': 'application/merge-patch+json'})
    assert st['status'] == {'used': 3, 'phase': 'Ready'}
    # merge patch on the main resource ignores status
    _st, patched = with_trp(
        'PATCH', f'{path}/p', {'status': {'used': 0}, 'metadata': {'labels': {'l': 'v'}}}, headers={'Content-Type': 'application/merge-patch+json'}
    )
    assert patched['status'] == {'used': 3, 'phase': 'Ready'}
    assert patched['metadata']['labels'] == {'l': 'v'}
    assert patched['metadata']['generation'] == 2, 'metadata changes do not bump generation'


def test_status_path_404_without_subresource(raw, make_ns):
    make_ns('x')
    crd = copy.deepcopy(TRP_CRD)
    crd['metadata']['name'] = 'widgets.example.com'
    crd['spec']['group'] = 'example.com'
    crd['spec']['names'] = {'plural': 'widgets', 'kind': 'Widget'}
    del crd['spec']['versions'][0]['subresources']
    crd['spec']['versions'][0]['schema']['openAPIV3Schema'] = {'type': 'object', 'x-kubernetes-preserve-unknown-fields': True}
    assert raw('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd)[0] == 201
    path = '/apis/example.com/v1/namespaces/x/widgets'
    sub = {'apiVersion': 'example.com/v1', 'kind': 'Widget', 'metadata': {'name': 's'}, 'spec': {'channel': 'stable-v1'}, 'status': {'state': 'AtLatestKnown'}}
    status, created = raw('POST', path, sub)
    assert status == 201
    assert created['status'] == {'state': 'AtLatestKnown'}, 'no status subresource: status is a normal field'
    assert raw('GET', f'{path}/s/status')[0] == 404
    created['status'] = {'state': 'UpgradePending'}
    _st, updated = raw('PUT', f'{path}/s', created)
    assert updated['status'] == {'state': 'UpgradePending'}
    assert updated['metadata']['generation'] == 2, 'without the subresource every non-metadata change bumps generation'


def test_database_cluster_schema(raw, make_ns):
    make_ns('x')
    body = {
        'apiVersion': 'everest.percona.com/v1alpha1',
        'kind': 'DatabaseCluster',
        'metadata': {'name': 'db'},
        'spec': {'engine': {'type': 'mysql', 'replicas': 0}},
    }
    status, err = raw('POST', DBC.format(ns='x'), body)
    assert status == 422
    fields = sorted(c['field'] for c in err['details']['causes'])
    assert fields == ['spec.engine.replicas', 'spec.engine.storage', 'spec.engine.type']
    body['spec'] = {
        'engine': {'type': 'pxc', 'replicas': 3, 'storage': {'size': 25}, 'resources': {'cpu': '600m', 'memory': '1G'}},
        'proxy': {'type': 'haproxy', 'expose': {'type': 'internal'}},
        'backup': {'enabled': False, 'x': 1},
    }
    status, created = raw('POST', DBC.format(ns='x'), body)
    assert status == 201, created
    assert created['spec']['backup'] == {'enabled': False}, 'spec.backup is typed (reference §6.4): unknown fields are pruned'


DBC_BASE = {'engine': {'type': 'pxc', 'replicas': 3, 'storage': {'size': '25Gi'}, 'resources': {'cpu': '1', 'memory': '2Gi'}}}
SCHEDULE = {'name': 'daily', 'enabled': True, 'schedule': '0 1 * * *', 'backupStorageName': 's3-a'}


def _dbc(name, **spec):
    return {'apiVersion': 'everest.percona.com/v1alpha1', 'kind': 'DatabaseCluster', 'metadata': {'name': name}, 'spec': dict(copy.deepcopy(DBC_BASE), **spec)}


@pytest.mark.parametrize(
    'spec, causes',
    [
        (
            {'backup': {'schedules': [{'name': 'daily'}]}},
            [
                ('FieldValueRequired', 'spec.backup.schedules[0].backupStorageName', 'Required value'),
                ('FieldValueRequired', 'spec.backup.schedules[0].enabled', 'Required value'),
                ('FieldValueRequired', 'spec.backup.schedules[0].schedule', 'Required value'),
            ],
        ),
        (
            {'backup': {'schedules': [dict(SCHEDULE, retentionCopies='3')]}},
            [
                (
                    'FieldValueTypeInvalid',
                    'spec.backup.schedules[0].retentionCopies',
                    'Invalid value: "string": spec.backup.schedules[0].retentionCopies in body must be of type integer: "string"',
                )
            ],
        ),
        (
            {'backup': {'schedules': [dict(SCHEDULE, enabled='yes')]}},
            [
                (
                    'FieldValueTypeInvalid',
                    'spec.backup.schedules[0].enabled',
                    'Invalid value: "string": spec.backup.schedules[0].enabled in body must be of type boolean: "string"',
                )
            ],
        ),
        (
            {'backup': {'schedules': {'name': 'daily'}}},
            [('FieldValueTypeInvalid', 'spec.backup.schedules', 'Invalid value: "object": spec.backup.schedules in body must be of type array: "object"')],
        ),
        ({'backup': {'pitr': {'backupStorageName': 's3-a'}}}, [('FieldValueRequired', 'spec.backup.pitr.enabled', 'Required value')]),
        (
            {'backup': {'pitr': {'enabled': True, 'uploadIntervalSec': '60'}}},
            [
                (
                    'FieldValueTypeInvalid',
                    'spec.backup.pitr.uploadIntervalSec',
                    'Invalid value: "string": spec.backup.pitr.uploadIntervalSec in body must be of type integer: "string"',
                )
            ],
        ),
        (
            {'proxy': {'type': 'haproxy', 'replicas': 0}},
            [('FieldValueInvalid', 'spec.proxy.replicas', 'Invalid value: 0: spec.proxy.replicas in body should be greater than or equal to 1')],
        ),
        (
            {'monitoring': {'resources': {'limits': {'cpu': True}}}},
            [
                (
                    'FieldValueTypeInvalid',
                    'spec.monitoring.resources.limits.cpu',
                    'Invalid value: "boolean": spec.monitoring.resources.limits.cpu in body must be of type integer,string: "boolean"',
                )
            ],
        ),
        (
            {'monitoring': {'resources': {'claims': {'name': 'gpu'}}}},
            [
                (
                    'FieldValueTypeInvalid',
                    'spec.monitoring.resources.claims',
                    'Invalid value: "object": spec.monitoring.resources.claims in body must be of type array: "object"',
                )
            ],
        ),
        (
            {'engineFeatures': {'psmdb': {'splitHorizonDnsConfigName': 5}}},
            [
                (
                    'FieldValueTypeInvalid',
                    'spec.engineFeatures.psmdb.splitHorizonDnsConfigName',
                    'Invalid value: "integer": spec.engineFeatures.psmdb.splitHorizonDnsConfigName in body must be of type string: "integer"',
                )
            ],
        ),
    ],
)
def test_database_cluster_typed_fields(raw, make_ns, spec, causes):
    make_ns('x')
    status, err = raw('POST', DBC.format(ns='x'), _dbc('db', **spec))
    assert status == 422, err
    assert err['reason'] == 'Invalid' and err['details']['kind'] == 'DatabaseCluster'
    assert sorted((c['reason'], c['field'], c['message']) for c in err['details']['causes']) == sorted(causes)
    for _reason, field, message in causes:
        assert f'{field}: {message}' in err['message']


def test_database_cluster_typed_fields_accept_and_prune(raw, make_ns):
    """Every field of reference §6.4 is accepted as documented; unknown fields inside typed objects are pruned, while the
    parts the reference leaves open (dataSource, other engineFeatures, claims items) keep whatever they are given."""
    make_ns('x')
    backup = {
        'enabled': True,
        'x': 1,
        'schedules': [dict(SCHEDULE, retentionCopies=3, y=2), dict(SCHEDULE, name='weekly', enabled=False)],
        'pitr': {'enabled': True, 'backupStorageName': 's3-a', 'uploadIntervalSec': 60, 'z': 3},
    }
    monitoring = {
        'monitoringConfigName': 'pmm',
        'resources': {'limits': {'cpu': '500m', 'memory': 1073741824}, 'requests': {'cpu': 1}, 'claims': [{'name': 'gpu', 'request': 'a'}], 'extra': 1},
    }
    data_source = {'dbClusterBackupName': 'b1', 'pitr': {'type': 'date', 'date': '2026-01-01T00:00:00Z'}, 'anything': {'x': 1}}
    features = {'psmdb': {'splitHorizonDnsConfigName': 'shd', 'future': True}, 'pxc': {'other': 'kept'}}
    body = _dbc('db', backup=backup, monitoring=monitoring, dataSource=data_source, engineFeatures=features, proxy={'type': 'haproxy', 'replicas': 2})
    status, created = raw('POST', DBC.format(ns='x'), body)
    assert status == 201, created
    spec = created['spec']
    assert spec['backup'] == {
        'enabled': True,
        'schedules': [dict(SCHEDULE, retentionCopies=3), dict(SCHEDULE, name='weekly', enabled=False)],
        'pitr': {'enabled': True, 'backupStorageName': 's3-a', 'uploadIntervalSec': 60},
    }
    assert spec['monitoring'] == {
        'monitoringConfigName': 'pmm',
        'resources': {'limits': {'cpu': '500m', 'memory': 1073741824}, 'requests': {'cpu': 1}, 'claims': [{'name': 'gpu', 'request': 'a'}]},
    }
    assert spec['dataSource'] == data_source
    assert spec['engineFeatures'] == features
    assert spec['proxy'] == {'type': 'haproxy', 'replicas': 2}


def test_short_names_and_scope_in_discovery(with_trp):
    _st, res = with_trp('GET', '/apis/everest.local/v1')
    entries = {r['name']: r for r in res['resources']}
    assert entries['tenantresourcepolicies']['shortNames'] == ['trp']
    assert entries['tenantresourcepolicies']['namespaced'] is True
    assert 'tenantresourcepolicies/status' in entries
    _st, groups = with_trp('GET', '/apis')
    assert {
        'name': 'everest.local',
        'versions': [{'groupVersion': 'everest.local/v1', 'version': 'v1'}],
        'preferredVersion': {'groupVersion': 'everest.local/v1', 'version': 'v1'},
    } in groups['groups']


def test_cluster_scoped_crd_and_crd_delete(raw):
    crd = copy.deepcopy(TRP_CRD)
    crd['metadata']['name'] = 'globalpolicies.everest.local'
    crd['spec']['scope'] = 'Cluster'
    crd['spec']['names'] = {'plural': 'globalpolicies', 'kind': 'GlobalPolicy'}
    assert raw('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd)[0] == 201
    body = {'apiVersion': 'everest.local/v1', 'kind': 'GlobalPolicy', 'metadata': {'name': 'g', 'namespace': 'ignored'}, 'spec': {'limits': {}}}
    status, created = raw('POST', '/apis/everest.local/v1/globalpolicies', body)
    assert status == 201, created
    assert 'namespace' not in created['metadata']
    assert raw('GET', '/apis/everest.local/v1/globalpolicies/g')[0] == 200
    assert raw('GET', '/apis/everest.local/v1/namespaces/default/globalpolicies/g')[0] == 404
    status, _body = raw('DELETE', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/globalpolicies.everest.local')
    assert status == 200
    status, body = raw('GET', '/apis/everest.local/v1/globalpolicies/g')
    assert status == 404 and body['message'] == 'the server could not find the requested resource'


def test_dynamic_client_discovers_runtime_crd(clean_sandbox):
    api = clean_sandbox.k8s()
    try:
        dyn = dynamic.DynamicClient(api)
        assert dyn.resources.get(api_version='v1', kind='ConfigMap').name == 'configmaps'
        assert dyn.resources.get(api_version='apps/v1', kind='Deployment').namespaced
        dbc = dyn.resources.get(api_version='everest.percona.com/v1alpha1', kind='DatabaseCluster')
        assert dbc.short_names == ['db', 'dbc', 'dbcluster']
        dyn.resources.get(api_version='apiextensions.k8s.io/v1', kind='CustomResourceDefinition').create(body=TRP_CRD)
        res = dyn.resources.get(api_version='everest.local/v1', kind='TenantResourcePolicy')
        assert res.name == 'tenantresourcepolicies'
        created = res.create(body=trp('p', {'limits': {'cpuCores': 1}}), namespace='default')
        assert created.metadata.generation == 1
        with pytest.raises(dynamic.exceptions.UnprocessibleEntityError):
            res.create(body=trp('q', {'limits': {'cpuCores': -5}}), namespace='default')
    finally:
        api.close()


def test_unknown_fields_warn_by_default(with_trp, clean_sandbox):
    import http.client  # pylint: disable=import-outside-toplevel
    import json  # pylint: disable=import-outside-toplevel
    from urllib.parse import urlsplit  # pylint: disable=import-outside-toplevel

    parts = urlsplit(clean_sandbox.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    body = json.dumps(trp('w', {'limits': {'bogus': 1}, 'other': 2}))
    conn.request('POST', TRP.format(ns='x'), body=body, headers={'Authorization': f'Bearer {clean_sandbox.token}', 'Content-Type': 'application/json'})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    assert resp.status == 201
    assert resp.getheader('Warning') == '299 - "unknown field \\"spec.limits.bogus\\"", 299 - "unknown field \\"spec.other\\""'
