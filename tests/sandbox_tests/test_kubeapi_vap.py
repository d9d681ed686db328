"""ValidatingAdmissionPolicy in the Kubernetes API emulator: objects, matching, params, actions, decisions, and the
collection's tenant policy (files/tenant-policy-admission.yaml) through the API, kubectl, the Python client and the
REST emulator."""

import json
import os

import pytest
import yaml

from everest_sandbox import DEFAULT_ADMIN_PASSWORD
from everest_sandbox.restapi import testing as rt
from everest_sandbox.restapi.testing import everest_api  # noqa: F401  pylint: disable=unused-import

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ADM = '/apis/admissionregistration.k8s.io/v1'
TRP = '/apis/everest.local/v1'
DBC = '/apis/everest.percona.com/v1alpha1'
POLICY_NAME = 'virakcloud-everest-tenant-resource-policy'
CM_RULE = {'apiGroups': [''], 'apiVersions': ['v1'], 'operations': ['CREATE', 'UPDATE'], 'resources': ['configmaps']}


def policy(name='p', validations=None, **spec):
    body = {
        'apiVersion': 'admissionregistration.k8s.io/v1',
        'kind': 'ValidatingAdmissionPolicy',
        'metadata': {'name': name},
        'spec': dict({'matchConstraints': {'resourceRules': [CM_RULE]}, 'validations': validations or [{'expression': "object.data.x == 'ok'"}]}, **spec),
    }
    return body


def binding(name='b', policy_name='p', actions=('Deny',), **spec):
    return {
        'apiVersion': 'admissionregistration.k8s.io/v1',
        'kind': 'ValidatingAdmissionPolicyBinding',
        'metadata': {'name': name},
        'spec': dict({'policyName': policy_name, 'validationActions': list(actions)}, **spec),
    }


def cm(name, ns='default', **data):
    return {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': name, 'namespace': ns}, 'data': data}


@pytest.fixture
def setup(raw):
    def _setup(*objects):
        for obj in objects:
            plural = 'validatingadmissionpolicies' if obj['kind'] == 'ValidatingAdmissionPolicy' else 'validatingadmissionpolicybindings'
            status, body = raw('POST', f'{ADM}/{plural}', obj)
            assert status == 201, body

    return _setup


def test_defaults_are_written(raw, setup):
    setup(policy(), binding(matchResources={'resourceRules': [CM_RULE]}))
    status, body = raw('GET', f'{ADM}/validatingadmissionpolicies/p')
    assert status == 200 and body['spec']['failurePolicy'] == 'Fail'
    assert {k: body['spec']['matchConstraints'][k] for k in ('matchPolicy', 'namespaceSelector', 'objectSelector')} == {
        'matchPolicy': 'Equivalent',
        'namespaceSelector': {},
        'objectSelector': {},
    }
    assert body['spec']['matchConstraints']['resourceRules'][0]['scope'] == '*'
    assert raw('GET', f'{ADM}/validatingadmissionpolicybindings/b')[1]['spec']['matchResources']['matchPolicy'] == 'Equivalent'


def test_create_time_422s(raw):
    status, body = raw('POST', f'{ADM}/validatingadmissionpolicies', policy(validations=[{'expression': "quantity('1').isGreaterThan('2')"}]))
    assert status == 422 and body['reason'] == 'Invalid'
    assert body['details']['causes'][0]['field'] == 'spec.validations[0].expression'
    assert "compilation failed: ERROR: <input>:1:28: found no matching overload for 'isGreaterThan'" in body['message']
    empty = policy()
    empty['spec']['validations'] = []
    status, body = raw('POST', f'{ADM}/validatingadmissionpolicies', empty)
    assert body['message'] == (
        'ValidatingAdmissionPolicy.admissionregistration.k8s.io "p" is invalid: [spec.validations: Required value: '
        'validations or auditAnnotations must contain at least one item, spec.auditAnnotations: Required value: '
        'validations or auditAnnotations must contain at least one item]'
    )
    status, body = raw('POST', f'{ADM}/validatingadmissionpolicybindings', binding(actions=()))
    assert status == 422 and 'spec.validationActions: Required value: at least one validation action is required' in body['message']
    status, body = raw('POST', f'{ADM}/validatingadmissionpolicybindings', binding(actions=('Deny', 'Warn')))
    assert 'must not contain both Deny and Warn (repeating the same validation failure information' in body['message']
    status, body = raw('POST', f'{ADM}/validatingadmissionpolicybindings', binding(paramRef={'name': 'x'}, matchResources={'matchPolicy': 'X'}))
    assert 'spec.paramRef.parameterNotFoundAction: Required value' in body['message']
    assert 'spec.matchResouces.matchPolicy: Unsupported value: "X"' in body['message']
    status, body = raw('POST', f'{ADM}/validatingadmissionpolicybindings', binding(paramRef={'parameterNotFoundAction': 'Allow'}))
    assert 'spec.paramRef: Required value: one of name or selector must be specified' in body['message']


def test_deny_text_code_and_details(raw, setup):
    setup(policy(validations=[{'expression': "object.data.x == 'ok'", 'messageExpression': "'x is ' + object.data.x"}]), binding())
    status, body = raw('POST', '/api/v1/namespaces/default/configmaps', cm('c1', x='bad'))
    text = "ValidatingAdmissionPolicy 'p' with binding 'b' denied request: x is bad"
    assert (status, body['reason'], body['code']) == (422, 'Invalid', 422)
    assert body['message'] == f'configmaps "c1" is forbidden: {text}'
    assert body['details'] == {'name': 'c1', 'kind': 'configmaps', 'causes': [{'message': text}]}
    assert raw('POST', '/api/v1/namespaces/default/configmaps', cm('c2', x='ok'))[0] == 201
    status, body = raw('PUT', '/api/v1/namespaces/default/configmaps/c2', cm('c2', x='worse'))  # UPDATE validated
    assert status == 422 and body['message'].endswith('denied request: x is worse')


def test_message_fallbacks_and_reason_forbidden(raw, setup):
    setup(policy(validations=[{'expression': "object.data.x == 'ok'", 'reason': 'Forbidden'}]), binding())
    status, body = raw('POST', '/api/v1/namespaces/default/configmaps', cm('c1', x='bad'))
    assert (status, body['reason']) == (403, 'Forbidden')
    assert body['message'].endswith("denied request: failed expression: object.data.x == 'ok'")


def test_runtime_error_follows_failure_policy(raw, setup):
    setup(policy(), binding())
    status, body = raw('POST', '/api/v1/namespaces/default/configmaps', cm('c1', y='1'))
    assert status == 422
    assert body['message'].endswith("denied request: expression 'object.data.x == 'ok'' resulted in error: no such key: x")
    ignoring = dict(raw('GET', f'{ADM}/validatingadmissionpolicies/p')[1], spec=dict(policy()['spec'], failurePolicy='Ignore'))
    assert raw('PUT', f'{ADM}/validatingadmissionpolicies/p', ignoring)[0] == 200
    assert raw('POST', '/api/v1/namespaces/default/configmaps', cm('c1', y='1'))[0] == 201


def test_unbound_policy_does_nothing(raw, setup):
    setup(policy())
    assert raw('POST', '/api/v1/namespaces/default/configmaps', cm('c1', x='bad'))[0] == 201


def test_warn_and_audit_admit(clean_sandbox, raw, setup):
    setup(policy(), binding(actions=('Warn', 'Audit')))
    status, body, headers = rt.call(clean_sandbox.url, 'POST', '/api/v1/namespaces/default/configmaps', cm('c1', x='bad'), clean_sandbox.token)
    assert status == 201, body
    assert headers['warning'] == (
        '299 - "Validation failed for ValidatingAdmissionPolicy \'p\' with binding \'b\': failed expression: object.data.x == \'ok\'"'
    )
    events = raw('GET', '/_sandbox/audit')[1]['items']
    failure = json.loads(events[-1]['annotations']['validation.policy.admission.k8s.io/validation_failure'])
    assert failure == [
        {'message': "failed expression: object.data.x == 'ok'", 'policy': 'p', 'binding': 'b', 'expressionIndex': 0, 'validationActions': ['Warn', 'Audit']}
    ]


def test_params_own_namespace_selector_and_missing(raw, setup, make_ns):
    make_ns('t1')
    make_ns('t2')
    for ns, name, limit in (('t1', 'a', '2'), ('t1', 'b', '5'), ('t2', 'a', '9')):
        assert raw('POST', f'/api/v1/namespaces/{ns}/configmaps', cm(name, ns, limit=limit))[0] == 201
    rule = dict(CM_RULE, resources=['configmaps'])
    setup(
        policy(
            validations=[
                {'expression': "!has(object.data.n) || int(object.data.n) <= int(params.data.limit)", 'messageExpression': "'limit ' + params.data.limit"}
            ],
            paramKind={'apiVersion': 'v1', 'kind': 'ConfigMap'},
            matchConstraints={'resourceRules': [rule]},
        ),
        binding(paramRef={'selector': {}, 'parameterNotFoundAction': 'Allow'}),
    )
    status, body = raw('POST', '/api/v1/namespaces/t1/configmaps', cm('x', 't1', n='3'))  # 3 > 2: the selector ANDs a and b
    assert status == 422 and body['message'].endswith('denied request: limit 2')
    assert raw('POST', '/api/v1/namespaces/t2/configmaps', cm('x', 't2', n='3'))[0] == 201  # own namespace's params only
    assert raw('POST', '/api/v1/namespaces/default/configmaps', cm('x', n='99'))[0] == 201  # no params + Allow


def test_missing_params_with_deny_and_cluster_scoped_request(raw, setup):
    rule = {'apiGroups': [''], 'apiVersions': ['v1'], 'operations': ['CREATE'], 'resources': ['configmaps', 'namespaces']}
    setup(
        policy(paramKind={'apiVersion': 'v1', 'kind': 'ConfigMap'}, matchConstraints={'resourceRules': [rule]}, validations=[{'expression': 'true'}]),
        binding(paramRef={'name': 'limits', 'parameterNotFoundAction': 'Deny'}),
    )
    status, body = raw('POST', '/api/v1/namespaces/default/configmaps', cm('x'))
    assert status == 422 and body['message'].endswith(
        "with binding 'b' denied request: failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction"
    )
    status, body = raw('POST', '/api/v1/namespaces', {'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': 'zz'}})
    assert status == 422 and body['message'].endswith(
        'failed to configure binding: cannot use namespaced paramRef in policy binding that matches cluster-scoped resources'
    )


def test_namespace_selector_and_match_conditions(raw, setup, make_ns):
    make_ns('t1')
    setup(
        policy(
            matchConstraints={'resourceRules': [CM_RULE], 'namespaceSelector': {'matchLabels': {'kubernetes.io/metadata.name': 't1'}}},
            matchConditions=[{'name': 'only-x', 'expression': "'x' in object.data"}],
        ),
        binding(),
    )
    assert raw('POST', '/api/v1/namespaces/default/configmaps', cm('c', x='bad'))[0] == 201
    assert raw('POST', '/api/v1/namespaces/t1/configmaps', cm('c', 't1', y='bad'))[0] == 201  # matchCondition false
    assert raw('POST', '/api/v1/namespaces/t1/configmaps', cm('d', 't1', x='bad'))[0] == 422


# ---------------------------------------------------------------------------------------------- the collection's policy


def _docs(name):
    """The objects of a shipped manifest (a v1 List's items, or the documents of the file)."""
    with open(os.path.join(REPO, 'files', name), encoding='utf-8') as handle:
        docs = list(yaml.safe_load_all(handle))
    return docs[0]['items'] if len(docs) == 1 and docs[0].get('kind') == 'List' else docs


@pytest.fixture
def tenants(raw, make_ns):
    crd = _docs('crd-tenantresourcepolicy.yaml')[0]
    assert raw('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd)[0] == 201
    vap, vapb = _docs('tenant-policy-admission.yaml')
    assert raw('POST', f'{ADM}/validatingadmissionpolicies', vap)[0] == 201
    assert raw('POST', f'{ADM}/validatingadmissionpolicybindings', vapb)[0] == 201
    for ns in ('ns-zed', 'ns-a', 'ns-free'):
        make_ns(ns)
    for ns, cpu, memory, engines in (('ns-zed', 2, 4 * 2**30, ['postgresql', 'mysql']), ('ns-a', 64, 2**40, ['mongodb'])):
        trp = {
            'apiVersion': 'everest.local/v1',
            'kind': 'TenantResourcePolicy',
            'metadata': {'name': 'resource-policy', 'namespace': ns},
            'spec': {'limits': {'cpuCores': cpu, 'memoryBytes': memory}, 'selectors': {'engines': engines}},
        }
        assert raw('POST', f'{TRP}/namespaces/{ns}/tenantresourcepolicies', trp)[0] == 201
    return raw


def dbc(name, ns, etype='postgresql', replicas=3, cpu='500m', memory='1Gi', **spec):
    resources = {k: v for k, v in (('cpu', cpu), ('memory', memory)) if v is not None}
    body = {
        'apiVersion': 'everest.percona.com/v1alpha1',
        'kind': 'DatabaseCluster',
        'metadata': {'name': name, 'namespace': ns},
        'spec': {'engine': {'type': etype, 'replicas': replicas, 'resources': resources, 'storage': {'size': '10Gi'}}},
    }
    body['spec'].update(spec)
    return body


def _denied(raw, body):
    status, out = raw('POST', f'{DBC}/namespaces/{body["metadata"]["namespace"]}/databaseclusters', body)
    assert status == 422, out
    prefix = (
        f'databaseclusters.everest.percona.com "{body["metadata"]["name"]}" is forbidden: ValidatingAdmissionPolicy '
        f"'{POLICY_NAME}' with binding '{POLICY_NAME}' denied request: "
    )
    assert out['message'].startswith(prefix)
    return out['message'][len(prefix) :]


def test_tenant_policy_refusals(tenants):
    raw = tenants
    assert (
        _denied(raw, dbc('mongo', 'ns-zed', 'psmdb'))
        == 'ns-zed does not allow the psmdb engine (TenantResourcePolicy ns-zed/resource-policy allows postgresql, mysql)'
    )
    assert (
        _denied(raw, dbc('big', 'ns-zed', cpu=64))
        == 'ns-zed allows at most 2 CPU for all its clusters; this cluster asks for 192 (TenantResourcePolicy ns-zed/resource-policy)'
    )
    assert _denied(raw, dbc('mem', 'ns-zed', memory='2Gi')) == (
        'ns-zed allows at most 4294967296 bytes of memory for all its clusters; this cluster asks for 6442450944 (TenantResourcePolicy ns-zed/resource-policy)'
    )
    assert _denied(raw, dbc('nocpu', 'ns-zed', cpu=None)) == (
        'ns-zed allows at most 2 CPU for all its clusters (TenantResourcePolicy ns-zed/resource-policy); this cluster must set spec.engine.resources.cpu'
    )
    proxy = {'type': 'haproxy', 'replicas': 2, 'resources': {'cpu': '300m'}}
    assert _denied(raw, dbc('proxy', 'ns-zed', 'pxc', proxy=proxy)).startswith(
        'ns-zed allows at most 2 CPU for all its clusters; this cluster asks for 2.1 '
    )  # 3 x 500m + 2 x 300m


def test_tenant_policy_admits_within_limits_and_checks_scale_up(tenants):
    raw = tenants
    status, body = raw('POST', f'{DBC}/namespaces/ns-zed/databaseclusters', dbc('ok', 'ns-zed', 'pxc', replicas=2, cpu='1', memory='2Gi'))
    assert status == 201, body
    body['spec']['engine']['replicas'] = 3
    status, out = raw('PUT', f'{DBC}/namespaces/ns-zed/databaseclusters/ok', body)
    assert status == 422 and 'this cluster asks for 3 ' in out['message']
    body['spec']['engine']['replicas'] = 2
    body['metadata'].setdefault('labels', {})['team'] = 'x'
    assert raw('PUT', f'{DBC}/namespaces/ns-zed/databaseclusters/ok', body)[0] == 200  # spec unchanged: not checked


def test_tenants_are_independent_and_untouched_namespaces(tenants):
    raw = tenants
    assert raw('POST', f'{DBC}/namespaces/ns-a/databaseclusters', dbc('m', 'ns-a', 'psmdb', cpu=8))[0] == 201
    assert _denied(raw, dbc('pg', 'ns-a', 'postgresql')).startswith('ns-a does not allow the postgresql engine')
    assert raw('POST', f'{DBC}/namespaces/ns-free/databaseclusters', dbc('any', 'ns-free', 'psmdb', cpu=999, memory=None))[0] == 201


def test_tenant_policy_through_kubectl(tenants, kubectl, tmp_path):
    path = tmp_path / 'dbc.yaml'
    path.write_text(yaml.safe_dump(dbc('big', 'ns-zed', cpu=64)))
    proc = kubectl('apply', '-f', str(path))
    assert proc.returncode == 1
    # kubectl prints a 422 whose details carry causes in its "is invalid" form (cause without a field: ": <message>")
    assert proc.stderr == (
        "The databaseclusters \"big\" is invalid: : ValidatingAdmissionPolicy '%s' with binding '%s' denied request: "
        'ns-zed allows at most 2 CPU for all its clusters; this cluster asks for 192 '
        '(TenantResourcePolicy ns-zed/resource-policy)\n' % (POLICY_NAME, POLICY_NAME)
    )


def test_tenant_policy_through_python_client(tenants, api):
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    from kubernetes.client.rest import ApiException  # pylint: disable=import-outside-toplevel

    objects = client.CustomObjectsApi(api)
    with pytest.raises(ApiException) as exc:
        objects.create_namespaced_custom_object('everest.percona.com', 'v1alpha1', 'ns-zed', 'databaseclusters', dbc('mongo', 'ns-zed', 'psmdb'))
    assert exc.value.status == 422
    assert json.loads(exc.value.body)['message'].endswith(
        'denied request: ns-zed does not allow the psmdb engine (TenantResourcePolicy ns-zed/resource-policy allows postgresql, mysql)'
    )


def test_tenant_policy_through_rest_emulator(everest_api, clean_sandbox, tenants):  # noqa: F811  pylint: disable=redefined-outer-name
    rt.bootstrap_seed000(clean_sandbox, DEFAULT_ADMIN_PASSWORD)
    raw = tenants
    trp = {
        'apiVersion': 'everest.local/v1',
        'kind': 'TenantResourcePolicy',
        'metadata': {'name': 'resource-policy', 'namespace': 'ns-alice'},
        'spec': {'limits': {'cpuCores': 1}, 'selectors': {'engines': ['postgresql']}},
    }
    assert raw('POST', f'{TRP}/namespaces/ns-alice/tenantresourcepolicies', trp)[0] == 201
    everest_api.manual_clock.advance(5)
    token = rt.call(everest_api.url, 'POST', '/v1/session', {'username': 'admin', 'password': DEFAULT_ADMIN_PASSWORD})[1]['token']
    body = dbc('pg', 'ns-alice', cpu='2', memory='1Gi', replicas=1)
    body['spec']['engine']['version'] = '17.4'
    status, out, _hdr = rt.call(everest_api.url, 'POST', '/v1/namespaces/ns-alice/database-clusters', body, token)
    assert status == 422, out
    assert out['message'].endswith(
        'ns-alice allows at most 1 CPU for all its clusters; this cluster asks for 2 (TenantResourcePolicy ns-alice/resource-policy)'
    )
    body['spec']['engine']['resources']['cpu'] = '1'
    assert rt.call(everest_api.url, 'POST', '/v1/namespaces/ns-alice/database-clusters', body, token)[0] == 201
