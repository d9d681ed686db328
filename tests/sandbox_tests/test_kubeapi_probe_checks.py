"""Every behaviour of kubernetes reference §8 (groups vap, cel_quantity, quota, limitrange, rbac, tokenrequest),
checked the way a client sees it: kubectl 1.32 with the TLS kubeconfig and the official Python client over TLS.

Each test names the §8 items it covers in its docstring; the texts are those of the reference's §1-§7."""

import base64
import calendar
import json
import time

import pytest

ADM = 'admissionregistration.k8s.io'
G = 'rbac.authorization.k8s.io'
FORMAT_WRONG = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"


# ---------------------------------------------------------------------------------------------- clients
@pytest.fixture
def k8s(clean_sandbox):
    """The official Python client on the TLS kubeconfig kubectl uses (the admin identity)."""
    from kubernetes import config  # pylint: disable=import-outside-toplevel

    api = config.new_client_from_config(config_file=clean_sandbox.kubectl_kubeconfig)
    try:
        yield api
    finally:
        api.close()


@pytest.fixture
def ns(k8s):
    """A fresh namespace ``probe`` (created through the Python client)."""
    from kubernetes import client  # pylint: disable=import-outside-toplevel

    client.CoreV1Api(k8s).create_namespace({'metadata': {'name': 'probe'}})
    return 'probe'


def api_error(call, *args, **kwargs):
    """(status, Status body) of a call that must fail with an ApiException."""
    from kubernetes.client.rest import ApiException  # pylint: disable=import-outside-toplevel

    with pytest.raises(ApiException) as info:
        call(*args, **kwargs)
    return info.value.status, json.loads(info.value.body)


def apis(k8s):
    from kubernetes import client  # pylint: disable=import-outside-toplevel

    return client.CoreV1Api(k8s), client.AdmissionregistrationV1Api(k8s), client.CustomObjectsApi(k8s)


def raw_json(api_call, *args, **kwargs) -> dict:
    """The JSON of a Python client read, untyped (so defaults and empty maps are visible)."""
    return json.loads(api_call(*args, _preload_content=False, **kwargs).data)


def warnings_of(response) -> list:
    """The ``Warning`` header values of an urllib3 response (``_preload_content=False``)."""
    return response.headers.getlist('Warning') if hasattr(response.headers, 'getlist') else [response.headers.get('Warning')]


def cm(name, **data):
    return {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': name}, 'data': data}


# ---------------------------------------------------------------------------------------------- vap
CM_RULE = {'apiGroups': [''], 'apiVersions': ['v1'], 'operations': ['CREATE', 'UPDATE'], 'resources': ['configmaps']}


def vap(name, validations, **spec):
    spec = dict({'matchConstraints': {'resourceRules': [CM_RULE]}, 'validations': validations}, **spec)
    return {'apiVersion': f'{ADM}/v1', 'kind': 'ValidatingAdmissionPolicy', 'metadata': {'name': name}, 'spec': spec}


def vapb(name, policy_name=None, actions=('Deny',), **spec):
    spec = dict({'policyName': policy_name or name, 'validationActions': list(actions)}, **spec)
    return {'apiVersion': f'{ADM}/v1', 'kind': 'ValidatingAdmissionPolicyBinding', 'metadata': {'name': name}, 'spec': spec}


def install(k8s, *objects):
    _core, adm, _custom = apis(k8s)
    for obj in objects:
        if obj['kind'] == 'ValidatingAdmissionPolicy':
            adm.create_validating_admission_policy(obj)
        else:
            adm.create_validating_admission_policy_binding(obj)


def wait_denied(k8s, namespace, sentinel):
    """Poll until the sentinel ConfigMap is refused (a real server's informers take a moment)."""
    core = apis(k8s)[0]
    from kubernetes.client.rest import ApiException  # pylint: disable=import-outside-toplevel

    for _attempt in range(50):
        try:
            core.create_namespaced_config_map(namespace, sentinel, dry_run='All')
        except ApiException:
            return
        time.sleep(0.1)
    raise AssertionError('the policy never took effect')


def test_vap_deny_text_code_details_fallback_and_update(k8s, ns, kubectl):
    """vap: exact deny text + 422 + details; fallback message; UPDATE validated."""
    core = apis(k8s)[0]
    install(
        k8s,
        vap('p', [{'expression': "object.data.x == 'ok'", 'messageExpression': "'x must be ok, not ' + object.data.x"}, {'expression': "!has(object.data.y)"}]),
        vapb('b', 'p'),
    )
    wait_denied(k8s, ns, cm('sentinel', x='no'))
    status, body = api_error(core.create_namespaced_config_map, ns, cm('c1', x='bad'))
    text = "ValidatingAdmissionPolicy 'p' with binding 'b' denied request: x must be ok, not bad"
    assert (status, body['reason'], body['code'], body['message']) == (422, 'Invalid', 422, f'configmaps "c1" is forbidden: {text}')
    assert body['details'] == {'name': 'c1', 'kind': 'configmaps', 'causes': [{'message': text}]}
    status, body = api_error(core.create_namespaced_config_map, ns, cm('c1', x='ok', y='1'))
    assert (
        body['message'] == "configmaps \"c1\" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: "
        'failed expression: !has(object.data.y)'
    )
    core.create_namespaced_config_map(ns, cm('c1', x='ok'))
    status, body = api_error(core.replace_namespaced_config_map, 'c1', ns, cm('c1', x='worse'))
    assert (status, body['message']) == (422, f'configmaps "c1" is forbidden: {text.replace("bad", "worse")}')
    result = kubectl('create', 'configmap', 'c2', '-n', ns, '--from-literal=x=bad')
    assert result.stderr == f'error: failed to create configmap: configmaps "c2" is forbidden: {text}\n'


def test_vap_warn_header_and_silent_audit(k8s, ns, kubectl, clean_sandbox):
    """vap: Warn header; Audit silent."""
    install(
        k8s,
        vap('warned', [{'expression': "object.data.x == 'ok'", 'message': 'x should be ok'}]),
        vapb('warned', actions=('Warn',)),
        vap('audited', [{'expression': "object.data.x == 'ok'"}]),
        vapb('audited', actions=('Audit',)),
    )
    result = kubectl('create', 'configmap', 'c1', '-n', ns, '--from-literal=x=bad')
    assert result.returncode == 0, result.stderr
    assert result.stderr == "Warning: Validation failed for ValidatingAdmissionPolicy 'warned' with binding 'warned': x should be ok\n"
    response = apis(k8s)[0].create_namespaced_config_map(ns, cm('c2', x='bad'), _preload_content=False)
    assert response.status == 201
    assert warnings_of(response) == ['299 - "Validation failed for ValidatingAdmissionPolicy \'warned\' with binding \'warned\': x should be ok"']
    events = [e for e in clean_sandbox.request('GET', '/_sandbox/audit')[1]['items'] if e['name'] == 'c2']
    failure = json.loads(events[0]['annotations']['validation.policy.admission.k8s.io/validation_failure'])
    assert [f['policy'] for f in failure] == ['audited'], 'Audit records the failure without telling the client'


def test_vap_unbound_policy_and_defaults(k8s, ns, kubectl):
    """vap: unbound policy; defaults."""
    core = apis(k8s)[0]
    install(k8s, vap('p', [{'expression': 'false'}]))
    core.create_namespaced_config_map(ns, cm('c1'))
    install(k8s, vapb('b', 'p', matchResources={'resourceRules': [CM_RULE]}))
    policy = json.loads(kubectl('get', 'validatingadmissionpolicy', 'p', '-o', 'json').stdout)
    assert policy['spec']['failurePolicy'] == 'Fail'
    match = policy['spec']['matchConstraints']
    assert (match['matchPolicy'], match['namespaceSelector'], match['objectSelector']) == ('Equivalent', {}, {})
    binding = raw_json(apis(k8s)[1].read_validating_admission_policy_binding, 'b')
    match = binding['spec']['matchResources']
    assert (match['matchPolicy'], match['namespaceSelector'], match['objectSelector']) == ('Equivalent', {}, {})
    assert 'parameterNotFoundAction' not in json.dumps(binding)
    wait_denied(k8s, ns, cm('sentinel'))


def test_vap_namespaced_params_missing_params_and_selector_and(k8s, kubectl):
    """vap: namespaced params; Deny/Allow on missing params; selector AND."""
    core = apis(k8s)[0]
    for namespace in ('t1', 't2', 't3'):
        core.create_namespace({'metadata': {'name': namespace}})
    core.create_namespaced_config_map('t1', {'metadata': {'name': 'limits', 'labels': {'limit': 'yes'}}, 'data': {'max': '3'}})
    core.create_namespaced_config_map('t1', {'metadata': {'name': 'strict', 'labels': {'limit': 'yes'}}, 'data': {'max': '1'}})
    core.create_namespaced_config_map('t2', {'metadata': {'name': 'limits'}, 'data': {'max': '5'}})
    rule = dict(CM_RULE, operations=['CREATE'])
    check = [
        {
            'expression': "!has(object.data.n) || int(object.data.n) <= int(params.data.max)",
            'messageExpression': "'n is at most ' + params.data.max + ' (' + params.metadata.name + ', ' + params.kind + ')'",
        }
    ]
    install(
        k8s,
        vap('by-name', check, paramKind={'apiVersion': 'v1', 'kind': 'ConfigMap'}, matchConstraints={'resourceRules': [rule]}),
        vapb('by-name', paramRef={'name': 'limits', 'parameterNotFoundAction': 'Deny'}),
    )
    wait_denied(k8s, 't1', cm('sentinel', n='9'))
    status, body = api_error(core.create_namespaced_config_map, 't1', cm('c', n='4'))
    assert body['message'].endswith("denied request: n is at most 3 (limits, ConfigMap)")
    core.create_namespaced_config_map('t2', cm('c', n='4'))  # t2's own params: max 5
    status, body = api_error(core.create_namespaced_config_map, 't3', cm('c', n='1'))  # t3 has none: Deny
    assert (status, body['message']) == (
        422,
        "configmaps \"c\" is forbidden: ValidatingAdmissionPolicy 'by-name' with binding "
        "'by-name' denied request: failed to configure binding: no params found for policy "
        'binding with `Deny` parameterNotFoundAction',
    )
    apis(k8s)[1].delete_validating_admission_policy_binding('by-name')
    install(k8s, vapb('by-label', 'by-name', paramRef={'selector': {'matchLabels': {'limit': 'yes'}}, 'parameterNotFoundAction': 'Allow'}))
    wait_denied(k8s, 't1', cm('sentinel', n='9'))
    status, body = api_error(core.create_namespaced_config_map, 't1', cm('d', n='2'))  # limits allows 2, strict does not
    assert body['message'].endswith("with binding 'by-label' denied request: n is at most 1 (strict, ConfigMap)")
    core.create_namespaced_config_map('t3', cm('d', n='99'))  # nothing selected + Allow: admitted
    core.create_namespaced_config_map('t2', cm('d', n='99'))  # t2's params carry no label


def test_vap_runtime_errors_and_reason_forbidden(k8s, ns, kubectl):
    """vap: runtime error Fail/Ignore; reason Forbidden 403."""
    core, adm, _custom = apis(k8s)
    install(k8s, vap('strict', [{'expression': "object.data.x == 'ok'"}]), vapb('strict'))
    wait_denied(k8s, ns, cm('sentinel', x='no'))
    status, body = api_error(core.create_namespaced_config_map, ns, cm('c1', y='1'))
    assert (status, body['message']) == (
        422,
        "configmaps \"c1\" is forbidden: ValidatingAdmissionPolicy 'strict' with binding 'strict' "
        "denied request: expression 'object.data.x == 'ok'' resulted in error: no such key: x",
    )
    adm.patch_validating_admission_policy('strict', {'spec': {'failurePolicy': 'Ignore'}})
    core.create_namespaced_config_map(ns, cm('c1', y='1'))
    assert kubectl('create', 'configmap', 'c2', '-n', ns, '--from-literal=x=no').returncode == 1, 'a false result still denies'
    install(k8s, vap('forbid', [{'expression': "!has(object.data.secret)", 'reason': 'Forbidden', 'message': 'no secrets here'}]), vapb('forbid'))
    status, body = api_error(core.create_namespaced_config_map, ns, cm('c3', x='ok', secret='1'))
    assert (status, body['reason'], body['code']) == (403, 'Forbidden', 403)
    result = kubectl('create', 'configmap', 'c4', '-n', ns, '--from-literal=x=ok', '--from-literal=secret=1')
    assert result.stderr == (
        "error: failed to create configmap: configmaps \"c4\" is forbidden: ValidatingAdmissionPolicy 'forbid' with "
        "binding 'forbid' denied request: no secrets here\n"
    )


@pytest.mark.parametrize(
    'obj, message',
    [
        (
            vap('p', [{'expression': "quantity('1').isGreaterThan('2')"}]),
            'ValidatingAdmissionPolicy.admissionregistration.k8s.io "p" is invalid: spec.validations[0].expression: Invalid value: '
            "\"quantity('1').isGreaterThan('2')\": compilation failed: ERROR: <input>:1:28: found no matching overload for 'isGreaterThan' "
            "applied to 'kubernetes.Quantity.(string)'\n | quantity('1').isGreaterThan('2')\n | ...........................^",
        ),
        (
            vap('p', []),
            'ValidatingAdmissionPolicy.admissionregistration.k8s.io "p" is invalid: [spec.validations: Required value: validations or '
            'auditAnnotations must contain at least one item, spec.auditAnnotations: Required value: validations or auditAnnotations must '
            'contain at least one item]',
        ),
        (
            vap('p', [{'expression': 'true', 'message': 'two\nlines'}]),
            'ValidatingAdmissionPolicy.admissionregistration.k8s.io "p" is invalid: spec.validations[0].message: Invalid value: '
            '"two\\nlines": message must not contain line breaks',
        ),
        (
            vapb('b', 'p', actions=()),
            'ValidatingAdmissionPolicyBinding.admissionregistration.k8s.io "b" is invalid: spec.validationActions: Required value: at least '
            'one validation action is required',
        ),
        (
            vapb('b', 'p', actions=('Deny', 'Warn')),
            'ValidatingAdmissionPolicyBinding.admissionregistration.k8s.io "b" is invalid: spec.validationActions: Invalid value: '
            '[]admissionregistration.ValidationAction{"Deny", "Warn"}: must not contain both Deny and Warn (repeating the same validation '
            'failure information in the API response and headers serves no purpose)',
        ),
        (
            vapb('b', 'p', paramRef={'name': 'x', 'selector': {}, 'parameterNotFoundAction': 'Allow'}),
            'ValidatingAdmissionPolicyBinding.admissionregistration.k8s.io "b" is invalid: [spec.paramRef.name: Forbidden: name and selector '
            'are mutually exclusive, spec.paramRef.selector: Forbidden: name and selector are mutually exclusive]',
        ),
        (
            vapb('b', 'p', paramRef={'name': 'x'}),
            'ValidatingAdmissionPolicyBinding.admissionregistration.k8s.io "b" is invalid: spec.paramRef.parameterNotFoundAction: Required value',
        ),
    ],
)
def test_vap_create_time_422s(k8s, obj, message):
    """vap: create-time 422s."""
    adm = apis(k8s)[1]
    call = adm.create_validating_admission_policy if obj['kind'] == 'ValidatingAdmissionPolicy' else adm.create_validating_admission_policy_binding
    status, body = api_error(call, obj)
    assert (status, body['reason'], body['message']) == (422, 'Invalid', message)


# ---------------------------------------------------------------------------------------------- cel_quantity
QUANTITY_EXPRESSIONS = [
    "quantity('200M') == quantity('0.2G')",
    "quantity('512Mi') == quantity('0.5Gi')",
    "quantity('50M').compareTo(quantity('50Mi')) == -1",
    "!quantity('1').isGreaterThan(quantity('1000m')) && !quantity('1').isLessThan(quantity('1000m'))",
    "quantity('150Mi').isGreaterThan(quantity('100Mi'))",
    "isQuantity('1.3Gi') && isQuantity('20M') && isQuantity('10000k')",
    "!isQuantity('200K') && !isQuantity('1,3G') && !isQuantity('Mi') && !isQuantity('10Mo')",
    "quantity('50k').add(20) == quantity('50020')",
    "quantity('50k').add(quantity('20')) == quantity('50.02k')",
    "quantity('50k').sub(20000) == quantity('30k')",
    "quantity('50k').sub(quantity('20k')).asInteger() == 30000",
    "quantity('1.5k').isInteger() && !quantity('1500m').isInteger()",
    "quantity('50.703k').asApproximateFloat() == 50703.0",
    "quantity('9223372036854775807').add(quantity('1')).compareTo(quantity('9223372036854775807')) == 1",
    "quantity('1Gi').compareTo(quantity('1024Mi')) == 0 && quantity('1Gi').sub(quantity('1Gi')) == quantity('0')",
]


def test_cel_quantity_expressions_through_a_warn_binding(k8s, ns, kubectl):
    """cel_quantity: 15 quantity expressions via a Warn binding (each true one is silent, each negated one warns)."""
    validations = [{'expression': e} for e in QUANTITY_EXPRESSIONS] + [{'expression': f'!({e})'} for e in QUANTITY_EXPRESSIONS]
    install(k8s, vap('q', validations), vapb('q', actions=('Warn',)))
    result = kubectl('create', 'configmap', 'c1', '-n', ns)
    assert result.returncode == 0, result.stderr
    expected = [f"Warning: Validation failed for ValidatingAdmissionPolicy 'q' with binding 'q': failed expression: !({e})" for e in QUANTITY_EXPRESSIONS]
    assert result.stderr.splitlines() == expected


def test_cel_quantity_runtime_and_compile_errors(k8s, ns, kubectl):
    """cel_quantity: two runtime errors; one compile error."""
    install(
        k8s,
        vap('qerr', [{'expression': "quantity('10Mo').isInteger()"}, {'expression': "quantity('9999999999999999999999999999999999999G').asInteger() > 0"}]),
        vapb('qerr', actions=('Warn',)),
    )
    result = kubectl('create', 'configmap', 'c1', '-n', ns)
    prefix = "Warning: Validation failed for ValidatingAdmissionPolicy 'qerr' with binding 'qerr': "
    assert result.stderr.splitlines() == [
        f"{prefix}expression 'quantity('10Mo').isInteger()' resulted in error: {FORMAT_WRONG}",
        f"{prefix}expression 'quantity('9999999999999999999999999999999999999G').asInteger() > 0' resulted in error: cannot convert value to integer",
    ]
    status, body = api_error(apis(k8s)[1].create_validating_admission_policy, vap('bad', [{'expression': "quantity('1').add('2') > 0"}]))
    assert status == 422 and "found no matching overload for 'add' applied to 'kubernetes.Quantity.(string)'" in body['message']


# ---------------------------------------------------------------------------------------------- quota
def quota(name, hard):
    return {'apiVersion': 'v1', 'kind': 'ResourceQuota', 'metadata': {'name': name}, 'spec': {'hard': hard}}


def pod(name, requests=None, limits=None, containers=('c',)):
    resources = {k: v for k, v in (('requests', requests), ('limits', limits)) if v}
    return {
        'apiVersion': 'v1',
        'kind': 'Pod',
        'metadata': {'name': name},
        'spec': {'containers': [{'name': c, 'image': 'nginx:1.27', 'resources': resources} for c in containers]},
    }


def pvc(name, storage):
    return {
        'apiVersion': 'v1',
        'kind': 'PersistentVolumeClaim',
        'metadata': {'name': name},
        'spec': {'accessModes': ['ReadWriteOnce'], 'resources': {'requests': {'storage': storage}}},
    }


def quota_used(k8s, namespace, name='q'):
    return raw_json(apis(k8s)[0].read_namespaced_resource_quota, name, namespace)['status']['used']


def test_quota_status_init_counts_alias_exceeded_text_and_decrement(k8s, ns):
    """quota: status init; count + legacy alias; exact exceeded text; decrement after delete."""
    core = apis(k8s)[0]
    created = core.create_namespaced_resource_quota(ns, quota('q', {'configmaps': '2', 'count/configmaps': '5', 'requests.cpu': '1'}))
    read = raw_json(core.read_namespaced_resource_quota, 'q', ns)
    assert created.metadata.name == 'q'
    assert read['status'] == {
        'hard': {'configmaps': '2', 'count/configmaps': '5', 'requests.cpu': '1'},
        'used': {'configmaps': '0', 'count/configmaps': '0', 'requests.cpu': '0'},
    }
    for name in ('a', 'b'):
        core.create_namespaced_config_map(ns, cm(name))
    assert quota_used(k8s, ns) == {'configmaps': '2', 'count/configmaps': '2', 'requests.cpu': '0'}
    status, body = api_error(core.create_namespaced_config_map, ns, cm('c'))
    assert (status, body['reason'], body['message']) == (
        403,
        'Forbidden',
        'configmaps "c" is forbidden: exceeded quota: q, requested: configmaps=1, used: configmaps=2, limited: configmaps=2',
    )
    assert body['details'] == {'name': 'c', 'kind': 'configmaps'}
    core.delete_namespaced_config_map('a', ns)
    assert quota_used(k8s, ns) == {'configmaps': '1', 'count/configmaps': '1', 'requests.cpu': '0'}
    core.create_namespaced_config_map(ns, cm('c'))


def test_quota_deployments_and_crd_counts(k8s, ns, kubectl):
    """quota: count/deployments.apps; count/<crd>."""
    from kubernetes import client  # pylint: disable=import-outside-toplevel

    crd = {
        'apiVersion': 'apiextensions.k8s.io/v1',
        'kind': 'CustomResourceDefinition',
        'metadata': {'name': 'gadgets.probe.example'},
        'spec': {
            'group': 'probe.example',
            'scope': 'Namespaced',
            'names': {'plural': 'gadgets', 'singular': 'gadget', 'kind': 'Gadget'},
            'versions': [
                {'name': 'v1', 'served': True, 'storage': True, 'schema': {'openAPIV3Schema': {'type': 'object', 'x-kubernetes-preserve-unknown-fields': True}}}
            ],
        },
    }
    client.ApiextensionsV1Api(k8s).create_custom_resource_definition(crd)
    core, _adm, custom = apis(k8s)
    core.create_namespaced_resource_quota(ns, quota('q', {'count/deployments.apps': '1', 'count/gadgets.probe.example': '1'}))
    apps = client.AppsV1Api(k8s)
    deploy = {
        'apiVersion': 'apps/v1',
        'kind': 'Deployment',
        'metadata': {'name': 'd1'},
        'spec': {
            'selector': {'matchLabels': {'a': 'b'}},
            'template': {'metadata': {'labels': {'a': 'b'}}, 'spec': {'containers': [{'name': 'c', 'image': 'x'}]}},
        },
    }
    apps.create_namespaced_deployment(ns, deploy)
    deploy['metadata']['name'] = 'd2'
    status, body = api_error(apps.create_namespaced_deployment, ns, deploy)
    assert (status, body['message'], body['details']) == (
        403,
        'deployments.apps "d2" is forbidden: exceeded quota: q, requested: count/deployments.apps=1, used: count/deployments.apps=1, '
        'limited: count/deployments.apps=1',
        {'name': 'd2', 'group': 'apps', 'kind': 'deployments'},
    )
    gadget = {'apiVersion': 'probe.example/v1', 'kind': 'Gadget', 'metadata': {'name': 'g1'}}
    custom.create_namespaced_custom_object('probe.example', 'v1', ns, 'gadgets', gadget)
    result = kubectl('create', '-n', ns, '-f', '-', stdin=json.dumps(dict(gadget, metadata={'name': 'g2'})))
    assert result.stderr == (
        'Error from server (Forbidden): error when creating "STDIN": gadgets.probe.example "g2" is forbidden: exceeded '
        'quota: q, requested: count/gadgets.probe.example=1, used: count/gadgets.probe.example=1, limited: '
        'count/gadgets.probe.example=1\n'
    )
    assert quota_used(k8s, ns) == {'count/deployments.apps': '1', 'count/gadgets.probe.example': '1'}


def test_quota_pod_must_specify_charge_multi_key_limits_only_and_pods(k8s, ns, kubectl):
    """quota: pod must-specify; pod charge; multi-key exceeded; limits-only pod; `pods`."""
    core = apis(k8s)[0]
    core.create_namespaced_resource_quota(ns, quota('q', {'requests.cpu': '500m', 'requests.memory': '256Mi', 'limits.memory': '1Gi', 'pods': '3'}))
    status, body = api_error(core.create_namespaced_pod, ns, pod('p0', containers=('b', 'a')))
    assert (status, body['message']) == (
        403,
        'pods "p0" is forbidden: failed quota: q: must specify limits.memory for: a,b; requests.cpu for: a,b; requests.memory for: a,b',
    )
    core.create_namespaced_pod(ns, pod('p1', requests={'cpu': '200m', 'memory': '64Mi'}, limits={'memory': '64Mi'}))
    assert quota_used(k8s, ns) == {'requests.cpu': '200m', 'requests.memory': '64Mi', 'limits.memory': '64Mi', 'pods': '1'}
    status, body = api_error(core.create_namespaced_pod, ns, pod('p2', requests={'cpu': '400m', 'memory': '300Mi'}, limits={'memory': '300Mi'}))
    assert body['message'] == (
        'pods "p2" is forbidden: exceeded quota: q, requested: requests.cpu=400m,requests.memory=300Mi, '
        'used: requests.cpu=200m,requests.memory=64Mi, limited: requests.cpu=500m,requests.memory=256Mi'
    )
    created = core.create_namespaced_pod(ns, pod('p3', limits={'cpu': '100m', 'memory': '32Mi'}))  # limits only
    assert created.spec.containers[0].resources.requests == {'cpu': '100m', 'memory': '32Mi'}
    assert quota_used(k8s, ns) == {'requests.cpu': '300m', 'requests.memory': '96Mi', 'limits.memory': '96Mi', 'pods': '2'}
    core.create_namespaced_pod(ns, pod('p4', requests={'cpu': '10m', 'memory': '1Mi'}, limits={'memory': '1Mi'}))
    result = kubectl(
        'run',
        'p5',
        '-n',
        ns,
        '--image=nginx:1.27',
        '--overrides',
        json.dumps(
            {
                'spec': {
                    'containers': [
                        {'name': 'p5', 'image': 'nginx:1.27', 'resources': {'requests': {'cpu': '10m', 'memory': '1Mi'}, 'limits': {'memory': '1Mi'}}}
                    ]
                }
            }
        ),
    )
    assert result.stderr == ('Error from server (Forbidden): pods "p5" is forbidden: exceeded quota: q, requested: pods=1, used: pods=3, limited: pods=3\n')


def test_quota_pvc_storage_and_count(k8s, ns):
    """quota: PVC storage/count."""
    core = apis(k8s)[0]
    core.create_namespaced_resource_quota(ns, quota('q', {'requests.storage': '5Gi', 'persistentvolumeclaims': '2'}))
    core.create_namespaced_persistent_volume_claim(ns, pvc('d1', '3Gi'))
    status, body = api_error(core.create_namespaced_persistent_volume_claim, ns, pvc('d2', '3Gi'))
    assert (status, body['message']) == (
        403,
        'persistentvolumeclaims "d2" is forbidden: exceeded quota: q, requested: '
        'requests.storage=3Gi, used: requests.storage=3Gi, limited: requests.storage=5Gi',
    )
    core.create_namespaced_persistent_volume_claim(ns, pvc('d2', '1Gi'))
    status, body = api_error(core.create_namespaced_persistent_volume_claim, ns, pvc('d3', '1Mi'))
    assert body['message'] == (
        'persistentvolumeclaims "d3" is forbidden: exceeded quota: q, requested: persistentvolumeclaims=1, used: '
        'persistentvolumeclaims=2, limited: persistentvolumeclaims=2'
    )
    assert quota_used(k8s, ns) == {'requests.storage': '4Gi', 'persistentvolumeclaims': '2'}


# ---------------------------------------------------------------------------------------------- limitrange
def limit_range(*items):
    return {'apiVersion': 'v1', 'kind': 'LimitRange', 'metadata': {'name': 'lr'}, 'spec': {'limits': list(items)}}


@pytest.mark.parametrize(
    'item, defaulted',
    [
        ({'type': 'Container', 'default': {'cpu': '300m'}}, {'default': {'cpu': '300m'}, 'defaultRequest': {'cpu': '300m'}}),
        ({'type': 'Container', 'max': {'memory': '1Gi'}}, {'max': {'memory': '1Gi'}, 'default': {'memory': '1Gi'}, 'defaultRequest': {'memory': '1Gi'}}),
        ({'type': 'Container', 'min': {'cpu': '0.1'}}, {'min': {'cpu': '100m'}, 'defaultRequest': {'cpu': '100m'}}),
    ],
)
def test_limitrange_defaulting(k8s, ns, kubectl, item, defaulted):
    """limitrange: defaulting of default/max/min."""
    apis(k8s)[0].create_namespaced_limit_range(ns, limit_range(item))
    stored = json.loads(kubectl('get', 'limitrange', 'lr', '-n', ns, '-o', 'json').stdout)['spec']['limits'][0]
    assert stored == dict(defaulted, type='Container')


def test_limitrange_pod_defaults_annotation_limit_only_cpu_and_quota(k8s, ns, kubectl):
    """limitrange: pod defaults + annotation; limit-only cpu; quota sees defaults."""
    core = apis(k8s)[0]
    core.create_namespaced_resource_quota(ns, quota('q', {'requests.cpu': '2', 'limits.memory': '1Gi'}))
    core.create_namespaced_limit_range(
        ns, limit_range({'type': 'Container', 'default': {'cpu': '400m', 'memory': '128Mi'}, 'defaultRequest': {'cpu': '100m', 'memory': '64Mi'}})
    )
    created = raw_json(core.create_namespaced_pod, ns, pod('p1'))
    assert created['metadata']['annotations']['kubernetes.io/limit-ranger'] == (
        'LimitRanger plugin set: cpu, memory request for container c; cpu, memory limit for container c'
    )
    assert created['spec']['containers'][0]['resources'] == {'limits': {'cpu': '400m', 'memory': '128Mi'}, 'requests': {'cpu': '100m', 'memory': '64Mi'}}
    created = raw_json(core.create_namespaced_pod, ns, pod('p2', limits={'cpu': '250m'}))
    assert created['spec']['containers'][0]['resources'] == {'limits': {'cpu': '250m', 'memory': '128Mi'}, 'requests': {'cpu': '250m', 'memory': '64Mi'}}
    assert created['metadata']['annotations']['kubernetes.io/limit-ranger'] == (
        'LimitRanger plugin set: memory request for container c; memory limit for container c'
    )
    result = kubectl('describe', 'quota', 'q', '-n', ns)
    rows = [line.split() for line in result.stdout.splitlines()]
    assert ['requests.cpu', '350m', '2'] in rows and ['limits.memory', '256Mi', '1Gi'] in rows


def test_limitrange_min_max_and_aggregated_messages(k8s, ns, kubectl):
    """limitrange: min/max/aggregate messages."""
    core = apis(k8s)[0]
    core.create_namespaced_limit_range(ns, limit_range({'type': 'Container', 'min': {'cpu': '100m'}, 'max': {'cpu': '1', 'memory': '1Gi'}}))
    status, body = api_error(core.create_namespaced_pod, ns, pod('p1', requests={'cpu': '50m'}, limits={'cpu': '500m', 'memory': '512Mi'}))
    assert (status, body['reason'], body['message']) == (
        403,
        'Forbidden',
        'pods "p1" is forbidden: minimum cpu usage per Container is 100m, but request is 50m',
    )
    status, body = api_error(core.create_namespaced_pod, ns, pod('p1', limits={'cpu': '2', 'memory': '512Mi'}))
    assert body['message'] == 'pods "p1" is forbidden: maximum cpu usage per Container is 1, but limit is 2'
    result = kubectl(
        'run',
        'p1',
        '-n',
        ns,
        '--image=nginx:1.27',
        '--overrides',
        json.dumps(
            {
                'spec': {
                    'containers': [{'name': 'p1', 'image': 'nginx:1.27', 'resources': {'requests': {'cpu': '10m'}, 'limits': {'cpu': '3', 'memory': '2Gi'}}}]
                }
            }
        ),
    )
    assert result.stderr == (
        'Error from server (Forbidden): pods "p1" is forbidden: [minimum cpu usage per Container is 100m, but request '
        'is 10m, maximum cpu usage per Container is 1, but limit is 3, maximum memory usage per Container is 1Gi, '
        'but limit is 2Gi]\n'
    )


def test_limitrange_pvc_min_max(k8s, ns):
    """limitrange: PVC min/max."""
    core = apis(k8s)[0]
    core.create_namespaced_limit_range(ns, limit_range({'type': 'PersistentVolumeClaim', 'min': {'storage': '1Gi'}, 'max': {'storage': '10Gi'}}))
    status, body = api_error(core.create_namespaced_persistent_volume_claim, ns, pvc('d1', '500Mi'))
    assert (status, body['message']) == (
        403,
        'persistentvolumeclaims "d1" is forbidden: minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi',
    )
    status, body = api_error(core.create_namespaced_persistent_volume_claim, ns, pvc('d1', '11Gi'))
    assert body['message'] == ('persistentvolumeclaims "d1" is forbidden: maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 11Gi')
    core.create_namespaced_persistent_volume_claim(ns, pvc('d1', '10Gi'))


# ---------------------------------------------------------------------------------------------- rbac
def denial(user, verb, resource, group='', namespace=None):
    scope = f'in the namespace "{namespace}"' if namespace else 'at the cluster scope'
    return f'User "{user}" cannot {verb} resource "{resource}" in API group "{group}" {scope}'


def rbac_api(k8s):
    from kubernetes import client  # pylint: disable=import-outside-toplevel

    return client.RbacAuthorizationV1Api(k8s)


def role(name, rules, namespace=None, kind='Role', **extra):
    meta = {'name': name, **({'namespace': namespace} if namespace else {})}
    return dict({'apiVersion': f'{G}/v1', 'kind': kind, 'metadata': meta, 'rules': rules}, **extra)


def role_binding(name, role_kind, role_name, subjects, kind='RoleBinding'):
    return {
        'apiVersion': f'{G}/v1',
        'kind': kind,
        'metadata': {'name': name},
        'roleRef': {'apiGroup': G, 'kind': role_kind, 'name': role_name},
        'subjects': subjects,
    }


def rule(verbs, resources, groups=('',), names=None):
    out = {'apiGroups': list(groups), 'resources': list(resources), 'verbs': list(verbs)}
    if names:
        out['resourceNames'] = list(names)
    return out


def sa(namespace='team-a', name='bot'):
    return [{'kind': 'ServiceAccount', 'name': name, 'namespace': namespace}]


def test_rbac_forbidden_texts_and_kubectl_output(service_account):
    """rbac: forbidden texts (list/watch/create/delete/cluster/group); kubectl Forbidden."""
    bot = service_account('team-a')
    user = bot.username
    result = bot.kubectl('get', 'configmaps', '-n', 'team-a')
    assert result.stderr == f'Error from server (Forbidden): configmaps is forbidden: {denial(user, "list", "configmaps", namespace="team-a")}\n'
    result = bot.kubectl('create', 'configmap', 'x', '-n', 'team-a')
    assert result.stderr == f'error: failed to create configmap: configmaps is forbidden: {denial(user, "create", "configmaps", namespace="team-a")}\n'
    result = bot.kubectl('delete', 'secret', 's1', '-n', 'team-a')
    assert result.stderr == f'Error from server (Forbidden): secrets "s1" is forbidden: {denial(user, "delete", "secrets", namespace="team-a")}\n'
    result = bot.kubectl('get', 'namespaces')
    assert result.stderr == f'Error from server (Forbidden): namespaces is forbidden: {denial(user, "list", "namespaces")}\n'
    result = bot.kubectl('get', 'deployments.apps', '-n', 'team-a')
    assert result.stderr == (f'Error from server (Forbidden): deployments.apps is forbidden: {denial(user, "list", "deployments", "apps", "team-a")}\n')
    from kubernetes import client  # pylint: disable=import-outside-toplevel

    api = bot.client()
    try:
        core = client.CoreV1Api(api)
        status, body = api_error(core.list_namespaced_config_map, 'team-a', watch=True, _preload_content=False)
        assert (status, body['message']) == (403, f'configmaps is forbidden: {denial(user, "watch", "configmaps", namespace="team-a")}')
        status, body = api_error(client.RbacAuthorizationV1Api(api).list_cluster_role)
        assert body['message'] == f'clusterroles.rbac.authorization.k8s.io is forbidden: {denial(user, "list", "clusterroles", G)}'
        assert body['details'] == {'group': G, 'kind': 'clusterroles'}
    finally:
        api.close()


def test_rbac_group_subjects_and_discovery(service_account, k8s, kubectl):
    """rbac: forbidden text for a group member; discovery for a token without any binding."""
    bot = service_account('team-a')
    assert bot.kubectl('api-resources', '--api-group=apps', '-o', 'name').stdout.splitlines() == ['deployments.apps']
    assert 'v1' in bot.kubectl('api-versions').stdout.split()
    rbac_api(k8s).create_cluster_role(role('ns-reader', [rule(['list'], ['namespaces'])], kind='ClusterRole'))
    rbac_api(k8s).create_cluster_role_binding(
        role_binding('team-a-ns', 'ClusterRole', 'ns-reader', [{'kind': 'Group', 'name': 'system:serviceaccounts:team-a'}], kind='ClusterRoleBinding')
    )
    assert bot.kubectl('get', 'namespaces', '-o', 'name').returncode == 0
    result = kubectl('get', 'namespaces', '--as', 'alice', '--as-group', 'devs')
    assert result.stderr == f'Error from server (Forbidden): namespaces is forbidden: {denial("alice", "list", "namespaces")}\n'


def test_rbac_role_clusterrole_and_binding_scopes(service_account, k8s):
    """rbac: Role/ClusterRole/bindings scope."""
    bot = service_account('team-a')
    from kubernetes import client  # pylint: disable=import-outside-toplevel

    client.CoreV1Api(k8s).create_namespace({'metadata': {'name': 'team-b'}})
    rbac = rbac_api(k8s)
    rbac.create_namespaced_role('team-a', role('cm', [rule(['list'], ['configmaps'])]))
    rbac.create_namespaced_role_binding('team-a', role_binding('cm', 'Role', 'cm', sa()))
    rbac.create_cluster_role(role('secret-lister', [rule(['list'], ['secrets'])], kind='ClusterRole'))
    rbac.create_namespaced_role_binding('team-b', role_binding('secrets', 'ClusterRole', 'secret-lister', sa()))
    checks = [
        (('get', 'configmaps', '-n', 'team-a'), 0),
        (('get', 'configmaps', '-n', 'team-b'), 1),
        (('get', 'secrets', '-n', 'team-b'), 0),
        (('get', 'secrets', '-n', 'team-a'), 1),
        (('get', 'secrets', '-A'), 1),
    ]
    for args, code in checks:
        assert bot.kubectl(*args).returncode == code, args
    rbac.create_cluster_role_binding(role_binding('secrets', 'ClusterRole', 'secret-lister', sa(), kind='ClusterRoleBinding'))
    for args in (('get', 'secrets', '-n', 'team-a'), ('get', 'secrets', '-A')):
        assert bot.kubectl(*args).returncode == 0, args


def test_rbac_resource_names_field_selector_and_pod_log(service_account, k8s, kubectl):
    """rbac: resourceNames incl. fieldSelector; pods/log."""
    bot = service_account('team-a')
    from kubernetes import client  # pylint: disable=import-outside-toplevel

    core = client.CoreV1Api(k8s)
    for name in ('mine', 'other'):
        core.create_namespaced_config_map('team-a', cm(name))
    rbac = rbac_api(k8s)
    rbac.create_namespaced_role('team-a', role('one', [rule(['get', 'list', 'watch'], ['configmaps'], names=['mine']), rule(['get'], ['pods'])]))
    rbac.create_namespaced_role_binding('team-a', role_binding('one', 'Role', 'one', sa()))
    assert bot.kubectl('get', 'configmap', 'mine', '-n', 'team-a', '-o', 'name').stdout == 'configmap/mine\n'
    result = bot.kubectl('get', 'configmap', 'other', '-n', 'team-a')
    assert result.stderr == (
        f'Error from server (Forbidden): configmaps "other" is forbidden: {denial(bot.username, "get", "configmaps", namespace="team-a")}\n'
    )
    assert bot.kubectl('get', 'configmaps', '-n', 'team-a').returncode == 1
    result = bot.kubectl('get', 'configmaps', '-n', 'team-a', '--field-selector', 'metadata.name=mine', '-o', 'name')
    assert (result.returncode, result.stdout) == (0, 'configmap/mine\n'), result.stderr
    kubectl('run', 'web', '-n', 'team-a', '--image=nginx:1.27')
    result = bot.kubectl('logs', 'web', '-n', 'team-a')
    assert result.stderr == (f'Error from server (Forbidden): pods "web" is forbidden: {denial(bot.username, "get", "pods/log", namespace="team-a")}\n')
    rbac.create_namespaced_role('team-a', role('logs', [rule(['get'], ['pods/log'])]))
    rbac.create_namespaced_role_binding('team-a', role_binding('logs', 'Role', 'logs', sa()))
    assert bot.kubectl('logs', 'web', '-n', 'team-a').returncode == 0


def test_rbac_aggregation(k8s, kubectl):
    """rbac: aggregation."""
    rbac = rbac_api(k8s)
    rbac.create_cluster_role(
        role(
            'gadget-view',
            [rule(['get', 'list'], ['gadgets'], ['probe.example'])],
            kind='ClusterRole',
            metadata={'name': 'gadget-view', 'labels': {f'{G}/aggregate-to-view': 'true'}},
        )
    )
    rbac.create_cluster_role(role('agg', [], kind='ClusterRole', aggregationRule={'clusterRoleSelectors': [{'matchLabels': {'x': 'y'}}]}))
    rbac.create_cluster_role(role('part', [rule(['get'], ['configmaps'])], kind='ClusterRole', metadata={'name': 'part', 'labels': {'x': 'y'}}))
    for _attempt in range(50):
        view = json.loads(kubectl('get', 'clusterrole', 'view', '-o', 'json').stdout)
        agg = rbac.read_cluster_role('agg')
        if {'apiGroups': ['probe.example'], 'resources': ['gadgets'], 'verbs': ['get', 'list']} in view['rules'] and agg.rules:
            break
        time.sleep(0.1)
    assert [(r.api_groups, r.resources, r.verbs) for r in agg.rules] == [([''], ['configmaps'], ['get'])]
    assert kubectl('auth', 'can-i', 'list', 'gadgets.probe.example', '-n', 'default', '--as', 'alice').stdout == 'no\n'


def test_rbac_escalation_missing_role_and_role_ref_immutable(service_account, k8s, kubectl):
    """rbac: escalation; missing role reason; roleRef immutable."""
    bot = service_account('team-a')
    rbac = rbac_api(k8s)
    rbac.create_namespaced_role('team-a', role('writer', [rule(['create', 'get'], ['roles', 'rolebindings'], [G])]))
    rbac.create_namespaced_role_binding('team-a', role_binding('writer', 'Role', 'writer', sa()))
    result = bot.kubectl('create', 'role', 'killer', '--verb=delete', '--resource=pods', '-n', 'team-a')
    assert result.stderr == (
        f'Error from server (Forbidden): roles.rbac.authorization.k8s.io "killer" is forbidden: user "{bot.username}" (groups='
        '["system:serviceaccounts" "system:serviceaccounts:team-a" "system:authenticated"]) is attempting to grant RBAC permissions not '
        'currently held:\n{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}\n'
    )
    rbac.create_namespaced_role_binding('team-a', role_binding('ghost', 'Role', 'ghost', sa()))
    result = bot.kubectl('get', 'secrets', '-n', 'team-a')
    assert result.stderr == (
        'Error from server (Forbidden): secrets is forbidden: '
        f'{denial(bot.username, "list", "secrets", namespace="team-a")}: RBAC: role.rbac.authorization.k8s.io '
        '"ghost" not found\n'
    )
    binding = json.loads(kubectl('get', 'rolebinding', 'ghost', '-n', 'team-a', '-o', 'json').stdout)
    binding['roleRef']['name'] = 'writer'
    result = kubectl('replace', '-f', '-', stdin=json.dumps(binding))
    assert result.stderr == (
        'The RoleBinding "ghost" is invalid: roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", '
        'Kind:"Role", Name:"writer"}: cannot change roleRef\n'
    )


def test_rbac_can_i_and_ssar_reason(service_account, k8s):
    """rbac: can-i; SSAR reason."""
    bot = service_account('team-a')
    result = bot.kubectl('auth', 'can-i', 'list', 'pods', '-n', 'team-a')
    assert (result.returncode, result.stdout) == (1, 'no\n')
    rbac = rbac_api(k8s)
    rbac.create_namespaced_role('team-a', role('pods', [rule(['list'], ['pods'])]))
    rbac.create_namespaced_role_binding('team-a', role_binding('pods', 'Role', 'pods', sa()))
    result = bot.kubectl('auth', 'can-i', 'list', 'pods', '-n', 'team-a')
    assert (result.returncode, result.stdout) == (0, 'yes\n')
    from kubernetes import client  # pylint: disable=import-outside-toplevel

    api = bot.client()
    try:
        review = client.AuthorizationV1Api(api).create_self_subject_access_review(
            client.V1SelfSubjectAccessReview(
                spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=client.V1ResourceAttributes(namespace='team-a', verb='list', resource='pods'))
            )
        )
    finally:
        api.close()
    assert review.status.allowed is True
    assert review.status.reason == ('RBAC: allowed by RoleBinding "pods/team-a" of Role "pods" to ServiceAccount "bot/team-a"')


# ---------------------------------------------------------------------------------------------- tokenrequest
ISSUER = 'https://kubernetes.default.svc.cluster.local'


def jwt_claims(token):
    part = token.split('.')[1]
    return json.loads(base64.urlsafe_b64decode(part + '=' * (-len(part) % 4)))


@pytest.fixture
def robot(k8s):
    from kubernetes import client  # pylint: disable=import-outside-toplevel

    core = client.CoreV1Api(k8s)
    core.create_namespace({'metadata': {'name': 'tok'}})
    return core.create_namespaced_service_account('tok', {'metadata': {'name': 'robot'}})


def test_token_claims_duration_audience_and_errors(robot, kubectl):
    """tokenrequest: JWT claims; duration/audience; <10 min error; missing SA."""
    result = kubectl('create', 'token', 'robot', '-n', 'tok')
    assert result.returncode == 0, result.stderr
    claims = jwt_claims(result.stdout.strip())
    assert (claims['iss'], claims['sub'], claims['aud']) == (ISSUER, 'system:serviceaccount:tok:robot', [ISSUER])
    assert claims['nbf'] == claims['iat'] and claims['exp'] - claims['iat'] == 3600
    assert claims['kubernetes.io'] == {'namespace': 'tok', 'serviceaccount': {'name': 'robot', 'uid': robot.metadata.uid}}
    result = kubectl('create', 'token', 'robot', '-n', 'tok', '--duration=15m', '--audience=vault', '--audience', ISSUER)
    claims = jwt_claims(result.stdout.strip())
    assert (claims['exp'] - claims['iat'], claims['aud']) == (900, ['vault', ISSUER])
    result = kubectl('create', 'token', 'robot', '-n', 'tok', '--duration=9m59s')
    assert result.stderr == (
        'error: failed to create token: TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: '
        'Invalid value: 599: may not specify a duration less than 10 minutes\n'
    )
    result = kubectl('create', 'token', 'nobody', '-n', 'tok')
    assert result.stderr == 'error: failed to create token: serviceaccounts "nobody" not found\n'


def test_token_response_shape_garbage_and_revocation(robot, k8s, clean_sandbox, tmp_path, kubectl):
    """tokenrequest: API response shape; 401 for garbage; SA deletion revokes."""
    from kubernetes import client  # pylint: disable=import-outside-toplevel

    core = client.CoreV1Api(k8s)
    response = raw_json(
        core.create_namespaced_service_account_token, 'robot', 'tok', {'apiVersion': 'authentication.k8s.io/v1', 'kind': 'TokenRequest', 'spec': {}}
    )
    assert (response['kind'], response['apiVersion']) == ('TokenRequest', 'authentication.k8s.io/v1')
    assert response['spec'] == {'audiences': [ISSUER], 'expirationSeconds': 3600, 'boundObjectRef': None}
    assert set(response['status']) == {'token', 'expirationTimestamp'}
    token = response['status']['token']
    assert jwt_claims(token)['exp'] == calendar.timegm(time.strptime(response['status']['expirationTimestamp'], '%Y-%m-%dT%H:%M:%SZ'))
    good = clean_sandbox.kubeconfig_for(token, tmp_path / 'good.yaml', tls=True)
    assert kubectl('--kubeconfig', good, 'auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}').stdout == 'system:serviceaccount:tok:robot'
    garbage = clean_sandbox.kubeconfig_for('garbage', tmp_path / 'garbage.yaml', tls=True)
    result = kubectl('--kubeconfig', garbage, 'get', 'namespaces')
    assert (result.returncode, result.stderr) == (1, 'error: You must be logged in to the server (Unauthorized)\n')
    from kubernetes import config  # pylint: disable=import-outside-toplevel

    api = config.new_client_from_config(config_file=garbage)
    try:
        status, body = api_error(client.CoreV1Api(api).list_namespace)
        assert (status, body['reason'], body['message']) == (401, 'Unauthorized', 'Unauthorized')
    finally:
        api.close()
    core.delete_namespaced_service_account('robot', 'tok')
    result = kubectl('--kubeconfig', good, 'auth', 'whoami')
    assert (result.returncode, result.stderr) == (1, 'error: You must be logged in to the server (Unauthorized)\n')


# ---------------------------------------------------------------------------------------------- warnings (reference §1)
def test_warnings_are_separate_headers_kept_on_a_refusal_and_cut_when_long(k8s, ns, kubectl):
    """One ``Warning`` header per text, written even when another binding then denies; past 4096 runes in total each
    text is cut to 256."""
    install(
        k8s,
        vap(
            'warned',
            [
                {'expression': "object.data.x == 'ok'", 'message': 'x should be ok'},
                {'expression': "!has(object.data.y)", 'message': 'y is "deprecated" \\ gone'},
            ],
        ),
        vapb('warned', actions=('Warn',)),
    )
    response = apis(k8s)[0].create_namespaced_config_map(ns, cm('c1', x='bad', y='1'), _preload_content=False)
    assert warnings_of(response) == [
        '299 - "Validation failed for ValidatingAdmissionPolicy \'warned\' with binding \'warned\': x should be ok"',
        '299 - "Validation failed for ValidatingAdmissionPolicy \'warned\' with binding \'warned\': y is \\"deprecated\\" \\\\ gone"',
    ]
    install(k8s, vap('denied', [{'expression': "!has(object.data.z)", 'message': 'no z'}]), vapb('denied'))
    result = kubectl('create', 'configmap', 'c2', '-n', ns, '--from-literal=x=bad', '--from-literal=z=1')
    assert result.stderr == (
        "Warning: Validation failed for ValidatingAdmissionPolicy 'warned' with binding 'warned': x should be ok\n"
        "error: failed to create configmap: configmaps \"c2\" is forbidden: ValidatingAdmissionPolicy 'denied' with "
        "binding 'denied' denied request: no z\n"
    )
    apis(k8s)[1].delete_validating_admission_policy_binding('denied')
    long = [{'expression': 'false', 'message': f'{index:02d} ' + 'w' * 600} for index in range(8)]
    install(k8s, vap('long', long), vapb('long', actions=('Warn',)))
    response = apis(k8s)[0].create_namespaced_config_map(ns, cm('c3', x='ok'), _preload_content=False)
    texts = [w for w in warnings_of(response) if "'long'" in w]
    prefix = "Validation failed for ValidatingAdmissionPolicy 'long' with binding 'long': "
    assert texts == [f'299 - "{(prefix + f"{index:02d} " + "w" * 600)[:256]}"' for index in range(8)]
