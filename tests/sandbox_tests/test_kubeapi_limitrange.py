"""LimitRange: write-time defaulting, the LimitRanger admission plugin's defaults, annotation and messages, and its
place before ResourceQuota (raw HTTP, kubectl and the official Python client)."""

import pytest

NS = '/api/v1/namespaces/t1'
LIMITS = NS + '/limitranges'
PODS = NS + '/pods'
PVCS = NS + '/persistentvolumeclaims'


def limit_range(*items, name='lr'):
    return {'apiVersion': 'v1', 'kind': 'LimitRange', 'metadata': {'name': name}, 'spec': {'limits': list(items)}}


def container(name='c', requests=None, limits=None, **extra):
    resources = {k: v for k, v in (('requests', requests), ('limits', limits)) if v}
    return dict({'name': name, 'image': 'nginx:1.27', 'resources': resources}, **extra)


def pod(name, *containers, init=()):
    spec = {'containers': list(containers) or [container()]}
    if init:
        spec['initContainers'] = list(init)
    return {'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': name}, 'spec': spec}


@pytest.fixture
def t1(raw, make_ns):
    make_ns('t1')
    return raw


@pytest.mark.parametrize(
    'item, expected',
    [
        ({'type': 'Container', 'default': {'cpu': '500m'}}, {'type': 'Container', 'default': {'cpu': '500m'}, 'defaultRequest': {'cpu': '500m'}}),
        (
            {'type': 'Container', 'max': {'memory': '1Gi'}},
            {'type': 'Container', 'max': {'memory': '1Gi'}, 'default': {'memory': '1Gi'}, 'defaultRequest': {'memory': '1Gi'}},
        ),
        ({'type': 'Container', 'min': {'cpu': '0.1'}}, {'type': 'Container', 'min': {'cpu': '100m'}, 'defaultRequest': {'cpu': '100m'}}),
        (
            {'type': 'Container', 'min': {'cpu': '100m'}, 'default': {'cpu': '1'}, 'defaultRequest': {'cpu': '200m'}},
            {'type': 'Container', 'min': {'cpu': '100m'}, 'default': {'cpu': '1'}, 'defaultRequest': {'cpu': '200m'}},
        ),
        ({'type': 'Pod', 'max': {'cpu': '2'}}, {'type': 'Pod', 'max': {'cpu': '2'}}),
    ],
)
def test_write_time_defaulting(t1, item, expected):
    status, body = t1('POST', LIMITS, limit_range(item))
    assert status == 201, body
    assert body['spec']['limits'] == [expected]


def test_limit_range_validation(t1):
    status, body = t1('POST', LIMITS, limit_range({'type': 'Container', 'min': {'cpu': '2'}, 'max': {'cpu': '1'}}, {'type': 'Pod', 'default': {'cpu': '1'}}))
    assert status == 422
    assert body['message'] == (
        'LimitRange "lr" is invalid: [spec.limits[0].min[cpu]: Invalid value: "2": min value 2 is greater than max value 1, '
        'spec.limits[0].defaultRequest[cpu]: Invalid value: "1": min value 2 is greater than default request value 1, '
        'spec.limits[0].default[cpu]: Invalid value: "2": min value 2 is greater than default value 1, '
        "spec.limits[1].default: Forbidden: may not be specified when `type` is 'Pod']"
    )
    status, body = t1('POST', LIMITS, limit_range({'type': 'PersistentVolumeClaim', 'min': {'cpu': '1'}}))
    assert (status, body['message']) == (
        422,
        'LimitRange "lr" is invalid: spec.limits[0].limits: Required value: either minimum or maximum storage value is required, but neither was provided',
    )


def test_pod_defaults_and_annotation(t1):
    t1('POST', LIMITS, limit_range({'type': 'Container', 'default': {'cpu': '200m', 'memory': '128Mi'}, 'defaultRequest': {'cpu': '100m', 'memory': '64Mi'}}))
    body = pod('p1', container('app'), container('side', requests={'memory': '32Mi'}), init=[container('setup', limits={'cpu': '150m'})])
    status, created = t1('POST', PODS, body)
    assert status == 201, created
    assert created['metadata']['annotations'] == {
        'kubernetes.io/limit-ranger': (
            'LimitRanger plugin set: cpu, memory request for container app; cpu, memory limit for container app; '
            'cpu request for container side; cpu, memory limit for container side; '
            'memory request for init container setup; memory limit for init container setup'
        )
    }
    spec = created['spec']
    assert spec['containers'][0]['resources'] == {'limits': {'cpu': '200m', 'memory': '128Mi'}, 'requests': {'cpu': '100m', 'memory': '64Mi'}}
    assert spec['containers'][1]['resources'] == {'limits': {'cpu': '200m', 'memory': '128Mi'}, 'requests': {'cpu': '100m', 'memory': '32Mi'}}
    # limit only: API defaulting copied it into the request before LimitRanger ran, so defaultRequest.cpu is not used
    assert spec['initContainers'][0]['resources'] == {'limits': {'cpu': '150m', 'memory': '128Mi'}, 'requests': {'cpu': '150m', 'memory': '64Mi'}}
    assert created['status'] == {'phase': 'Pending', 'qosClass': 'Burstable'}


def test_no_annotation_when_nothing_is_set(t1):
    t1('POST', LIMITS, limit_range({'type': 'Container', 'default': {'cpu': '200m'}}))
    status, created = t1('POST', PODS, pod('p1', container(limits={'cpu': '1'})))
    assert status == 201 and 'annotations' not in created['metadata']


def test_quota_sees_the_defaults(t1):
    t1('POST', NS + '/resourcequotas', {'metadata': {'name': 'q'}, 'spec': {'hard': {'requests.cpu': '1', 'limits.memory': '1Gi'}}})
    status, body = t1('POST', PODS, pod('p0'))
    assert body['message'] == 'pods "p0" is forbidden: failed quota: q: must specify limits.memory for: c; requests.cpu for: c'
    t1('POST', LIMITS, limit_range({'type': 'Container', 'default': {'cpu': '300m', 'memory': '256Mi'}}))
    for name in ('p1', 'p2', 'p3'):
        assert t1('POST', PODS, pod(name))[0] == 201
    _st, q = t1('GET', NS + '/resourcequotas/q')
    assert q['status']['used'] == {'requests.cpu': '900m', 'limits.memory': '768Mi'}
    status, body = t1('POST', PODS, pod('p4'))
    assert body['message'] == ('pods "p4" is forbidden: exceeded quota: q, requested: requests.cpu=300m, used: requests.cpu=900m, limited: requests.cpu=1')


def test_default_limit_below_the_request_is_invalid_after_defaulting(t1):
    t1('POST', LIMITS, limit_range({'type': 'Container', 'default': {'cpu': '500m'}}))
    status, body = t1('POST', PODS, pod('p1', container(requests={'cpu': '1'})))
    assert (status, body['reason']) == (422, 'Invalid')
    assert body['message'] == (
        'Pod "p1" is invalid: spec.containers[0].resources.requests: Invalid value: "1": must be less than or equal to cpu limit of 500m'
    )


def test_min_max_ratio_messages_and_aggregation(t1):
    t1(
        'POST',
        LIMITS,
        limit_range({'type': 'Container', 'min': {'cpu': '100m'}, 'max': {'cpu': '1', 'memory': '1Gi'}, 'maxLimitRequestRatio': {'memory': '2'}}),
    )
    status, body = t1('POST', PODS, pod('p1', container(requests={'cpu': '50m', 'memory': '64Mi'}, limits={'cpu': '2', 'memory': '1Gi'})))
    assert status == 403 and body['reason'] == 'Forbidden' and body['details'] == {'name': 'p1', 'kind': 'pods'}
    assert body['message'] == (
        'pods "p1" is forbidden: [minimum cpu usage per Container is 100m, but request is 50m, '
        'maximum cpu usage per Container is 1, but limit is 2, '
        'memory max limit to request ratio per Container is 2, but provided ratio is 16.000000]'
    )
    status, body = t1('POST', PODS, pod('p2', container(limits={'cpu': '1', 'memory': '2Gi'})))
    assert body['message'] == 'pods "p2" is forbidden: maximum memory usage per Container is 1Gi, but limit is 2Gi'


def test_pod_totals(t1):
    t1('POST', LIMITS, limit_range({'type': 'Pod', 'min': {'memory': '64Mi'}, 'max': {'cpu': '1'}}))
    status, body = t1('POST', PODS, pod('p1', container('a', requests={'cpu': '600m'}, limits={'cpu': '600m'}), container('b', limits={'cpu': '600m'})))
    assert body['message'] == (
        'pods "p1" is forbidden: [minimum memory usage per Pod is 64Mi.  No request is specified, maximum cpu usage per Pod is 1, but limit is 1200m]'
    )


def test_pvc_min_max(t1):
    t1('POST', LIMITS, limit_range({'type': 'PersistentVolumeClaim', 'min': {'storage': '1Gi'}, 'max': {'storage': '10Gi'}}))
    claim = {'metadata': {'name': 'd1'}, 'spec': {'accessModes': ['ReadWriteOnce'], 'resources': {'requests': {'storage': '500Mi'}}}}
    status, body = t1('POST', PVCS, claim)
    assert (status, body['message']) == (
        403,
        'persistentvolumeclaims "d1" is forbidden: minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi',
    )
    claim['spec']['resources']['requests']['storage'] = '20Gi'
    status, body = t1('POST', PVCS, claim)
    assert body['message'] == ('persistentvolumeclaims "d1" is forbidden: maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi')
    claim['spec']['resources']['requests']['storage'] = '5Gi'
    assert t1('POST', PVCS, claim)[0] == 201


def test_limit_ranger_is_reported_before_quota(t1):
    t1('POST', NS + '/resourcequotas', {'metadata': {'name': 'q'}, 'spec': {'hard': {'requests.cpu': '100m'}}})
    t1('POST', LIMITS, limit_range({'type': 'Container', 'max': {'cpu': '1'}}))
    status, body = t1('POST', PODS, pod('p1', container(requests={'cpu': '2'}, limits={'cpu': '2'})))
    assert body['message'] == 'pods "p1" is forbidden: maximum cpu usage per Container is 1, but limit is 2'


def test_kubectl_and_python_client(kubectl, core, make_ns):
    from kubernetes import client  # pylint: disable=import-outside-toplevel

    make_ns('t1')
    manifest = (
        'apiVersion: v1\nkind: LimitRange\nmetadata: {name: lr}\nspec:\n  limits:\n  - type: Container\n'
        '    default: {cpu: 250m, memory: 128Mi}\n    max: {cpu: "1"}\n'
    )
    assert kubectl('apply', '-n', 't1', '-f', '-', stdin=manifest).returncode == 0
    result = kubectl('get', 'limits', 'lr', '-n', 't1', '-o', 'jsonpath={.spec.limits[0].defaultRequest}')
    assert result.stdout == '{"cpu":"250m","memory":"128Mi"}'
    result = kubectl('run', 'p1', '-n', 't1', '--image=nginx:1.27')
    assert result.returncode == 0, result.stderr
    result = kubectl('get', 'pod', 'p1', '-n', 't1', '-o', "jsonpath={.metadata.annotations['kubernetes\\.io/limit-ranger']}")
    assert result.stdout == 'LimitRanger plugin set: cpu, memory request for container p1; cpu, memory limit for container p1'
    body = client.V1Pod(
        metadata=client.V1ObjectMeta(name='p2'),
        spec=client.V1PodSpec(containers=[client.V1Container(name='c', image='nginx:1.27', resources=client.V1ResourceRequirements(limits={'cpu': '3'}))]),
    )
    with pytest.raises(client.ApiException) as info:
        core.create_namespaced_pod('t1', body)
    assert info.value.status == 403
    assert 'pods \\"p2\\" is forbidden: maximum cpu usage per Container is 1, but limit is 3' in info.value.body
    result = kubectl('describe', 'limitrange', 'lr', '-n', 't1')
    assert ['Container', 'cpu', '-', '1', '250m', '250m', '-'] in [line.split() for line in result.stdout.splitlines()]
