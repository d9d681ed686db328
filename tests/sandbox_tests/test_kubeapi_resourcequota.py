"""ResourceQuota on compute and storage: admission texts and codes, the controller's status, scopes (raw HTTP,
kubectl and the official Python client)."""

import json

import pytest

NS = '/api/v1/namespaces/t1'
QUOTAS = NS + '/resourcequotas'
PODS = NS + '/pods'
PVCS = NS + '/persistentvolumeclaims'


def quota(hard, name='q', **spec):
    return {'apiVersion': 'v1', 'kind': 'ResourceQuota', 'metadata': {'name': name}, 'spec': dict(spec, hard=hard)}


def pod(name, requests=None, limits=None, containers=('c',), **spec):
    resources = {k: v for k, v in (('requests', requests), ('limits', limits)) if v}
    body = {
        'apiVersion': 'v1',
        'kind': 'Pod',
        'metadata': {'name': name},
        'spec': dict(spec, containers=[{'name': c, 'image': 'nginx:1.27', 'resources': resources} for c in containers]),
    }
    return body


def pvc(name, storage, storage_class=None):
    spec = {'accessModes': ['ReadWriteOnce'], 'resources': {'requests': {'storage': storage}}}
    if storage_class:
        spec['storageClassName'] = storage_class
    return {'apiVersion': 'v1', 'kind': 'PersistentVolumeClaim', 'metadata': {'name': name}, 'spec': spec}


@pytest.fixture
def t1(raw, make_ns):
    make_ns('t1')
    return raw


def used(raw, name='q'):
    status, body = raw('GET', f'{QUOTAS}/{name}')
    assert status == 200, body
    return body['status']['used']


def test_status_is_initialised_from_spec_in_canonical_form(t1):
    status, body = t1('POST', QUOTAS, quota({'requests.cpu': '0.5', 'requests.memory': '1024Mi', 'pods': '10', 'count/secrets': 4, 'services': '2'}))
    assert status == 201, body
    assert body['spec']['hard'] == {'requests.cpu': '500m', 'requests.memory': '1Gi', 'pods': '10', 'count/secrets': '4', 'services': '2'}
    assert body['status']['hard'] == body['spec']['hard']
    # every hard name the controller can count, as 0; services are not served by the emulator, so nobody counts them
    assert body['status']['used'] == {'requests.cpu': '0', 'requests.memory': '0', 'pods': '0', 'count/secrets': '0'}


def test_bad_quantity_is_a_decode_error_and_bad_names_are_invalid(t1):
    status, body = t1('POST', QUOTAS, quota({'requests.cpu': '1x'}))
    assert (status, body['reason']) == (400, 'BadRequest')
    assert body['message'] == (
        'ResourceQuota in version "v1" cannot be handled as a ResourceQuota: quantities must match the '
        "regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )
    status, body = t1('POST', QUOTAS, quota({'cpus': '1', 'pods': '1.5'}))
    assert status == 422
    assert body['message'] == (
        'ResourceQuota "q" is invalid: [spec.hard[cpus]: Invalid value: "cpus": must be a standard '
        'resource for quota, spec.hard[pods]: Invalid value: "1500m": must be an integer]'
    )
    status, body = t1('POST', QUOTAS, quota({'requests.cpu': '1'}, scopes=['BestEffort']))
    assert status == 422
    assert body['message'] == (
        'ResourceQuota "q" is invalid: spec.scopes: Invalid value: []core.ResourceQuotaScope{"BestEffort"}: unsupported scope applied to resource'
    )


def test_pod_without_requests_must_specify_them(t1):
    t1('POST', QUOTAS, quota({'requests.cpu': '1', 'memory': '1Gi', 'count/pods': '9'}))
    status, body = t1('POST', PODS, pod('p1', containers=('b', 'a')))
    assert status == 403
    assert body == {
        'kind': 'Status',
        'apiVersion': 'v1',
        'metadata': {},
        'status': 'Failure',
        'message': 'pods "p1" is forbidden: failed quota: q: must specify memory for: a,b; requests.cpu for: a,b',
        'reason': 'Forbidden',
        'details': {'name': 'p1', 'kind': 'pods'},
        'code': 403,
    }
    status, body = t1('POST', PODS, pod('p1', requests={'cpu': '100m'}))
    assert body['message'] == 'pods "p1" is forbidden: failed quota: q: must specify memory for: c'
    assert used(t1) == {'requests.cpu': '0', 'memory': '0', 'count/pods': '0'}


def test_pod_charge_and_exceeded_texts(t1):
    t1('POST', QUOTAS, quota({'requests.cpu': '500m', 'requests.memory': '256Mi', 'limits.cpu': '2'}))
    assert t1('POST', PODS, pod('p1', requests={'cpu': '200m', 'memory': '64Mi'}, limits={'cpu': '1'}))[0] == 201
    assert used(t1) == {'requests.cpu': '200m', 'requests.memory': '64Mi', 'limits.cpu': '1'}
    status, body = t1('POST', PODS, pod('p2', requests={'cpu': '400m', 'memory': '300Mi'}, limits={'cpu': '1'}))
    assert status == 403 and body['reason'] == 'Forbidden'
    assert body['message'] == (
        'pods "p2" is forbidden: exceeded quota: q, requested: requests.cpu=400m,requests.memory=300Mi, '
        'used: requests.cpu=200m,requests.memory=64Mi, limited: requests.cpu=500m,requests.memory=256Mi'
    )
    status, body = t1('POST', PODS, pod('p3', requests={'cpu': '100m', 'memory': '200Mi'}, limits={'cpu': '1'}))
    assert body['message'] == (
        'pods "p3" is forbidden: exceeded quota: q, requested: requests.memory=200Mi, used: requests.memory=64Mi, limited: requests.memory=256Mi'
    ), 'only the exceeded names are listed'
    assert used(t1) == {'requests.cpu': '200m', 'requests.memory': '64Mi', 'limits.cpu': '1'}


def test_limits_only_container_is_charged_its_limit_as_request(t1):
    t1('POST', QUOTAS, quota({'requests.cpu': '1', 'requests.memory': '1Gi', 'limits.memory': '1Gi'}))
    status, body = t1('POST', PODS, pod('p1', limits={'cpu': '300m', 'memory': '128Mi'}))
    assert status == 201, body
    assert body['spec']['containers'][0]['resources'] == {'limits': {'cpu': '300m', 'memory': '128Mi'}, 'requests': {'cpu': '300m', 'memory': '128Mi'}}
    assert body['status'] == {'phase': 'Pending', 'qosClass': 'Guaranteed'}
    assert used(t1) == {'requests.cpu': '300m', 'requests.memory': '128Mi', 'limits.memory': '128Mi'}


def test_init_containers_use_the_max_rule_and_sidecars_add(t1):
    t1('POST', QUOTAS, quota({'requests.cpu': '10'}))
    body = pod('p1', requests={'cpu': '1'})
    body['spec']['initContainers'] = [
        {'name': 'side', 'image': 'busybox:1', 'restartPolicy': 'Always', 'resources': {'requests': {'cpu': '500m'}}},
        {'name': 'init', 'image': 'busybox:1', 'resources': {'requests': {'cpu': '2'}}},
    ]
    assert t1('POST', PODS, body)[0] == 201
    assert used(t1) == {'requests.cpu': '2500m'}  # max(1 + 0.5, 2 + 0.5)


def test_decrement_after_delete_and_terminal_pods(t1):
    t1('POST', QUOTAS, quota({'pods': '2', 'count/pods': '5', 'requests.cpu': '1'}))
    for name in ('p1', 'p2'):
        assert t1('POST', PODS, pod(name, requests={'cpu': '300m'}))[0] == 201
    assert used(t1) == {'pods': '2', 'count/pods': '2', 'requests.cpu': '600m'}
    status, body = t1('POST', PODS, pod('p3', requests={'cpu': '300m'}))
    assert body['message'] == 'pods "p3" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2'
    status, body = t1('DELETE', PODS + '/p1')
    assert status == 200 and body['kind'] == 'Pod' and body['metadata']['deletionTimestamp']
    assert used(t1) == {'pods': '1', 'count/pods': '1', 'requests.cpu': '300m'}
    # a pod that has finished keeps counting in count/pods only
    _st, current = t1('GET', PODS + '/p2')
    current['status'] = {'phase': 'Succeeded'}
    assert t1('PUT', PODS + '/p2/status', current)[0] == 200
    assert used(t1) == {'pods': '0', 'count/pods': '1', 'requests.cpu': '0'}


def test_status_unknown_until_the_controller_has_counted(t1):
    assert t1('POST', NS + '/configmaps', {'metadata': {'name': 'c'}})[0] == 201
    t1('POST', QUOTAS, quota({'requests.cpu': '1', 'pods': '3'}))
    _st, current = t1('GET', QUOTAS + '/q')
    current['status'] = {'hard': {'requests.cpu': '1', 'pods': '3'}, 'used': {'pods': '0'}}
    assert t1('PUT', QUOTAS + '/q/status', current)[0] == 200
    status, body = t1('POST', PODS, pod('p1', requests={'cpu': '100m'}))
    assert (status, body['message']) == (403, 'pods "p1" is forbidden: status unknown for quota: q, resources: pods,requests.cpu')
    # a deletion in the namespace makes the controller recount (replenishment)
    assert t1('DELETE', NS + '/configmaps/c')[0] == 200
    assert t1('POST', PODS, pod('p1', requests={'cpu': '100m'}))[0] == 201


def test_spec_hard_alone_does_not_take_part(t1):
    t1('POST', QUOTAS, quota({'pods': '1'}))
    _st, current = t1('GET', QUOTAS + '/q')
    current['status'] = {}
    assert t1('PUT', QUOTAS + '/q/status', current)[0] == 200
    assert t1('POST', PODS, pod('p1', requests={'cpu': '1'}))[0] == 201
    assert t1('POST', PODS, pod('p2', requests={'cpu': '1'}))[0] == 201, 'admission skips a quota without status.hard'
    assert t1('DELETE', PODS + '/p2')[0] == 200  # the controller recounts on the delete
    assert used(t1) == {'pods': '1'}
    assert t1('POST', PODS, pod('p2', requests={'cpu': '1'}))[0] == 403


def test_object_counts_legacy_alias_crd_and_group(t1):
    t1('POST', QUOTAS, quota({'configmaps': '1', 'count/configmaps': '5', 'count/deployments.apps': '1', 'count/databaseclusters.everest.percona.com': '0'}))
    assert t1('POST', NS + '/configmaps', {'metadata': {'name': 'a'}})[0] == 201
    assert used(t1)['count/configmaps'] == '1' and used(t1)['configmaps'] == '1'
    status, body = t1('POST', NS + '/configmaps', {'metadata': {'name': 'b'}})
    assert body['message'] == ('configmaps "b" is forbidden: exceeded quota: q, requested: configmaps=1, used: configmaps=1, limited: configmaps=1')
    deploy = {
        'metadata': {'name': 'd1'},
        'spec': {
            'selector': {'matchLabels': {'a': 'b'}},
            'template': {'metadata': {'labels': {'a': 'b'}}, 'spec': {'containers': [{'name': 'c', 'image': 'x'}]}},
        },
    }
    assert t1('POST', '/apis/apps/v1/namespaces/t1/deployments', deploy)[0] == 201
    deploy['metadata']['name'] = 'd2'
    status, body = t1('POST', '/apis/apps/v1/namespaces/t1/deployments', deploy)
    assert (status, body['details']) == (403, {'name': 'd2', 'group': 'apps', 'kind': 'deployments'})
    assert body['message'].startswith('deployments.apps "d2" is forbidden: exceeded quota: q, requested: count/deployments.apps=1')
    dbc = {
        'apiVersion': 'everest.percona.com/v1alpha1',
        'kind': 'DatabaseCluster',
        'metadata': {'name': 'db'},
        'spec': {'engine': {'type': 'postgresql', 'storage': {'size': '1Gi'}}},
    }
    status, body = t1('POST', '/apis/everest.percona.com/v1alpha1/namespaces/t1/databaseclusters', dbc)
    assert body['message'] == (
        'databaseclusters.everest.percona.com "db" is forbidden: exceeded quota: q, requested: '
        'count/databaseclusters.everest.percona.com=1, used: count/databaseclusters.everest.percona.com=0, '
        'limited: count/databaseclusters.everest.percona.com=0'
    )


def test_count_of_a_new_crd(t1):
    crd = {
        'apiVersion': 'apiextensions.k8s.io/v1',
        'kind': 'CustomResourceDefinition',
        'metadata': {'name': 'widgets.example.com'},
        'spec': {
            'group': 'example.com',
            'scope': 'Namespaced',
            'names': {'plural': 'widgets', 'singular': 'widget', 'kind': 'Widget'},
            'versions': [
                {'name': 'v1', 'served': True, 'storage': True, 'schema': {'openAPIV3Schema': {'type': 'object', 'x-kubernetes-preserve-unknown-fields': True}}}
            ],
        },
    }
    t1('POST', QUOTAS, quota({'count/widgets.example.com': '1'}))
    assert used(t1) == {}, 'nobody counts a resource that does not exist'
    assert t1('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd)[0] == 201
    assert used(t1) == {'count/widgets.example.com': '0'}
    widgets = '/apis/example.com/v1/namespaces/t1/widgets'
    assert t1('POST', widgets, {'apiVersion': 'example.com/v1', 'kind': 'Widget', 'metadata': {'name': 'w1'}})[0] == 201
    status, body = t1('POST', widgets, {'apiVersion': 'example.com/v1', 'kind': 'Widget', 'metadata': {'name': 'w2'}})
    assert (status, body['message']) == (
        403,
        'widgets.example.com "w2" is forbidden: exceeded quota: q, requested: '
        'count/widgets.example.com=1, used: count/widgets.example.com=1, '
        'limited: count/widgets.example.com=1',
    )


def test_pvc_storage_count_storage_class_and_expansion(t1):
    t1('POST', QUOTAS, quota({'requests.storage': '10Gi', 'persistentvolumeclaims': '3', 'fast.storageclass.storage.k8s.io/requests.storage': '4Gi'}))
    status, body = t1('POST', PVCS, pvc('d1', '5Gi'))
    assert status == 201 and body['status'] == {'phase': 'Pending'} and body['spec']['volumeMode'] == 'Filesystem'
    assert t1('POST', PVCS, pvc('d2', '3Gi', 'fast'))[0] == 201
    assert used(t1) == {'requests.storage': '8Gi', 'persistentvolumeclaims': '2', 'fast.storageclass.storage.k8s.io/requests.storage': '3Gi'}
    status, body = t1('POST', PVCS, pvc('d3', '2Gi', 'fast'))
    assert body['message'] == (
        'persistentvolumeclaims "d3" is forbidden: exceeded quota: q, requested: '
        'fast.storageclass.storage.k8s.io/requests.storage=2Gi, used: '
        'fast.storageclass.storage.k8s.io/requests.storage=3Gi, limited: '
        'fast.storageclass.storage.k8s.io/requests.storage=4Gi'
    )
    status, body = t1('POST', PVCS, pvc('d3', '3Gi'))
    assert body['message'] == (
        'persistentvolumeclaims "d3" is forbidden: exceeded quota: q, requested: requests.storage=3Gi, '
        'used: requests.storage=8Gi, limited: requests.storage=10Gi'
    )
    # expanding a bound claim is an UPDATE charged by the increase
    _st, d1 = t1('GET', PVCS + '/d1')
    d1['status'] = {'phase': 'Bound', 'capacity': {'storage': '5Gi'}}
    assert t1('PUT', PVCS + '/d1/status', d1)[0] == 200
    _st, d1 = t1('GET', PVCS + '/d1')
    d1['spec']['resources']['requests']['storage'] = '8Gi'
    status, body = t1('PUT', PVCS + '/d1', d1)
    assert body['message'] == (
        'persistentvolumeclaims "d1" is forbidden: exceeded quota: q, requested: requests.storage=3Gi, '
        'used: requests.storage=8Gi, limited: requests.storage=10Gi'
    )
    d1['spec']['resources']['requests']['storage'] = '7Gi'
    assert t1('PUT', PVCS + '/d1', d1)[0] == 200
    assert used(t1)['requests.storage'] == '10Gi'
    assert t1('DELETE', PVCS + '/d2')[0] == 200
    assert used(t1) == {'requests.storage': '7Gi', 'persistentvolumeclaims': '1', 'fast.storageclass.storage.k8s.io/requests.storage': '0'}


def test_scopes_best_effort_and_terminating(t1):
    t1('POST', QUOTAS, quota({'pods': '1'}, name='besteffort', scopes=['BestEffort']))
    t1('POST', QUOTAS, quota({'pods': '1', 'requests.cpu': '1'}, name='terminating', scopes=['Terminating']))
    assert t1('POST', PODS, pod('be1'))[0] == 201
    status, body = t1('POST', PODS, pod('be2'))
    assert body['message'] == ('pods "be2" is forbidden: exceeded quota: besteffort, requested: pods=1, used: pods=1, limited: pods=1')
    assert t1('POST', PODS, pod('burst', requests={'cpu': '2'}))[0] == 201, 'neither quota covers it'
    status, body = t1('POST', PODS, pod('job', requests={'cpu': '2'}, activeDeadlineSeconds=60))
    assert body['message'] == ('pods "job" is forbidden: exceeded quota: terminating, requested: requests.cpu=2, used: requests.cpu=0, limited: requests.cpu=1')
    assert used(t1, 'besteffort') == {'pods': '1'}
    assert used(t1, 'terminating') == {'pods': '0', 'requests.cpu': '0'}


def test_dry_run_is_checked_but_not_charged(t1):
    t1('POST', QUOTAS, quota({'requests.cpu': '1'}))
    assert t1('POST', PODS + '?dryRun=All', pod('p1', requests={'cpu': '600m'}))[0] == 201
    assert used(t1) == {'requests.cpu': '0'}
    assert t1('POST', PODS + '?dryRun=All', pod('p1', requests={'cpu': '2'}))[0] == 403


def test_kubectl_texts(kubectl, make_ns):
    make_ns('t1')
    result = kubectl('create', 'quota', 'q', '-n', 't1', '--hard=requests.cpu=1,requests.memory=1Gi,pods=2')
    assert result.returncode == 0, result.stderr
    result = kubectl('run', 'p1', '-n', 't1', '--image=nginx:1.27')
    assert result.returncode == 1
    assert result.stderr.strip() == (
        'Error from server (Forbidden): pods "p1" is forbidden: failed quota: q: must specify requests.cpu for: p1; requests.memory for: p1'
    )
    manifest = (
        'apiVersion: v1\nkind: Pod\nmetadata: {name: p2}\nspec:\n  containers:\n  - name: c\n    image: nginx:1.27\n'
        '    resources: {limits: {cpu: 600m, memory: 256Mi}}\n'
    )
    assert kubectl('apply', '-n', 't1', '-f', '-', stdin=manifest).returncode == 0
    result = kubectl('describe', 'quota', 'q', '-n', 't1')
    lines = [line.split() for line in result.stdout.splitlines()]
    assert ['requests.cpu', '600m', '1'] in lines and ['requests.memory', '256Mi', '1Gi'] in lines and ['pods', '1', '2'] in lines
    result = kubectl('apply', '-n', 't1', '-f', '-', stdin=manifest.replace('p2', 'p3'))
    assert result.returncode == 1
    assert ('pods "p3" is forbidden: exceeded quota: q, requested: requests.cpu=600m, used: requests.cpu=600m, limited: requests.cpu=1') in result.stderr


def test_python_client(core, make_ns):
    from kubernetes import client  # pylint: disable=import-outside-toplevel

    make_ns('t1')
    spec = client.V1ResourceQuotaSpec(hard={'requests.storage': '2Gi', 'persistentvolumeclaims': '1'})
    core.create_namespaced_resource_quota('t1', client.V1ResourceQuota(metadata=client.V1ObjectMeta(name='q'), spec=spec))
    claim = client.V1PersistentVolumeClaim(
        metadata=client.V1ObjectMeta(name='d1'),
        spec=client.V1PersistentVolumeClaimSpec(access_modes=['ReadWriteOnce'], resources=client.V1VolumeResourceRequirements(requests={'storage': '1Gi'})),
    )
    assert core.create_namespaced_persistent_volume_claim('t1', claim).status.phase == 'Pending'
    claim.metadata.name = 'd2'
    with pytest.raises(client.ApiException) as info:
        core.create_namespaced_persistent_volume_claim('t1', claim)
    assert info.value.status == 403
    assert json.loads(info.value.body)['message'] == (
        'persistentvolumeclaims "d2" is forbidden: exceeded quota: q, requested: persistentvolumeclaims=1, used: '
        'persistentvolumeclaims=1, limited: persistentvolumeclaims=1'
    )
    status = core.read_namespaced_resource_quota('q', 't1').status
    assert (status.hard, status.used) == (
        {'requests.storage': '2Gi', 'persistentvolumeclaims': '1'},
        {'requests.storage': '1Gi', 'persistentvolumeclaims': '1'},
    )
    assert core.delete_namespaced_persistent_volume_claim('d1', 't1').metadata.name == 'd1'
    assert core.read_namespaced_resource_quota('q', 't1').status.used == {'requests.storage': '0', 'persistentvolumeclaims': '0'}


def test_admission_chain_order():
    from everest_sandbox.kubeapi.store import Store  # pylint: disable=import-outside-toplevel

    class Policy:  # pylint: disable=too-few-public-methods
        """A validating plugin registered the way the ValidatingAdmissionPolicy plugin is."""

    for before in ('ResourceQuota', 'ObjectCountQuota'):
        chain = Store().admission
        chain.register(Policy(), before=before)
        order = ['LimitRanger', 'ServiceAccount', 'ValidatingAdmissionPolicy', 'Policy', 'ResourceQuota']
        assert [type(p).__name__ for p in chain.plugins] == order
