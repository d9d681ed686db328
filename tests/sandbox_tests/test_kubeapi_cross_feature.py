"""The four emulator features in one server: authentication and RBAC feed ValidatingAdmissionPolicy's ``request``,
LimitRanger's defaults feed the policies and the quota, the admission order decides which refusal is reported, the
operator simulation goes through admission as the statefulset controller, and pods bring ``pods/log`` and
Pod-bound tokens (kubernetes reference §1, §2.4, §4.2, §5, §6, §7). Clients: kubectl with the TLS kubeconfig and the
official Python client, as the probes use them."""

import base64
import json

import pytest

ADM = '/apis/admissionregistration.k8s.io/v1'
RBAC = '/apis/rbac.authorization.k8s.io/v1'
G = 'rbac.authorization.k8s.io'
DBC = '/apis/everest.percona.com/v1alpha1/namespaces/{ns}/databaseclusters'
CONTROLLER = 'system:serviceaccount:kube-system:statefulset-controller'


def policy(name, resources, validations, operations=('CREATE',), **spec):
    rule = {'apiGroups': [''], 'apiVersions': ['v1'], 'operations': list(operations), 'resources': list(resources)}
    return {
        'apiVersion': 'admissionregistration.k8s.io/v1',
        'kind': 'ValidatingAdmissionPolicy',
        'metadata': {'name': name},
        'spec': dict({'matchConstraints': {'resourceRules': [rule]}, 'validations': validations}, **spec),
    }


def binding(name, actions=('Deny',)):
    return {
        'apiVersion': 'admissionregistration.k8s.io/v1',
        'kind': 'ValidatingAdmissionPolicyBinding',
        'metadata': {'name': name},
        'spec': {'policyName': name, 'validationActions': list(actions)},
    }


def install(raw, *objects):
    for obj in objects:
        plural = {'ValidatingAdmissionPolicy': 'validatingadmissionpolicies', 'ValidatingAdmissionPolicyBinding': 'validatingadmissionpolicybindings'}[
            obj['kind']
        ]
        status, body = raw('POST', f'{ADM}/{plural}', obj)
        assert status == 201, body


def bind_role(raw, namespace, name, rules):
    assert raw('POST', f'{RBAC}/namespaces/{namespace}/roles', {'metadata': {'name': name}, 'rules': rules})[0] == 201
    body = {
        'metadata': {'name': name},
        'roleRef': {'apiGroup': G, 'kind': 'Role', 'name': name},
        'subjects': [{'kind': 'ServiceAccount', 'name': 'bot', 'namespace': namespace}],
    }
    assert raw('POST', f'{RBAC}/namespaces/{namespace}/rolebindings', body)[0] == 201


def bind_cluster_role(raw, namespace, role):
    body = {
        'metadata': {'name': role},
        'roleRef': {'apiGroup': G, 'kind': 'ClusterRole', 'name': role},
        'subjects': [{'kind': 'ServiceAccount', 'name': 'bot', 'namespace': namespace}],
    }
    assert raw('POST', f'{RBAC}/namespaces/{namespace}/rolebindings', body)[0] == 201


def claims(token):
    part = token.split('.')[1]
    return json.loads(base64.urlsafe_b64decode(part + '=' * (-len(part) % 4)))


def pod_manifest(name, cpu=None, service_account=None):
    lines = ['apiVersion: v1', 'kind: Pod', f'metadata: {{name: {name}}}', 'spec:']
    if service_account:
        lines.append(f'  serviceAccountName: {service_account}')
    lines += ['  containers:', '  - name: c', '    image: nginx:1.27']
    if cpu:
        lines.append(f'    resources: {{limits: {{cpu: "{cpu}"}}}}')
    return '\n'.join(lines) + '\n'


# ---------------------------------------------------------------------------------------------- authn/RBAC -> VAP
def test_vap_request_user_info_is_the_authenticated_service_account(service_account, raw):
    bot = service_account('t1')
    install(
        raw,
        policy(
            'who',
            ['configmaps'],
            [
                {
                    'expression': "request.userInfo.username != 'system:serviceaccount:t1:bot'",
                    'messageExpression': "'user ' + request.userInfo.username + ' uid ' + request.userInfo.uid + ' groups '"
                    " + request.userInfo.groups.join(',') + ' credential ' + "
                    "string(request.userInfo.extra['authentication.kubernetes.io/credential-id'][0].startsWith('JTI='))",
                }
            ],
        ),
        binding('who'),
    )
    result = bot.kubectl('create', 'configmap', 'a', '-n', 't1')
    assert result.returncode == 1
    assert 'cannot create resource "configmaps"' in result.stderr, 'RBAC refuses before admission runs'
    bind_cluster_role(raw, 't1', 'edit')
    uid = raw('GET', '/api/v1/namespaces/t1/serviceaccounts/bot')[1]['metadata']['uid']
    result = bot.kubectl('create', 'configmap', 'a', '-n', 't1')
    assert result.returncode == 1
    text = (
        f"ValidatingAdmissionPolicy 'who' with binding 'who' denied request: user system:serviceaccount:t1:bot uid {uid} "
        'groups system:serviceaccounts,system:serviceaccounts:t1,system:authenticated credential true'
    )
    assert result.stderr == f'error: failed to create configmap: configmaps "a" is forbidden: {text}\n'
    assert raw('POST', '/api/v1/namespaces/t1/configmaps', {'metadata': {'name': 'a'}})[0] == 201  # the admin passes


def test_vap_sees_an_impersonated_user(kubectl, raw, make_ns):
    make_ns('t1')
    install(
        raw,
        policy('who', ['configmaps'], [{'expression': "!('ops' in request.userInfo.groups)", 'messageExpression': "'no ops: ' + request.userInfo.username"}]),
        binding('who'),
    )
    bind = {'metadata': {'name': 'alice'}, 'roleRef': {'apiGroup': G, 'kind': 'ClusterRole', 'name': 'edit'}, 'subjects': [{'kind': 'User', 'name': 'alice'}]}
    assert raw('POST', f'{RBAC}/namespaces/t1/rolebindings', bind)[0] == 201
    assert kubectl('create', 'configmap', 'a', '-n', 't1', '--as', 'alice').returncode == 0
    result = kubectl('create', 'configmap', 'b', '-n', 't1', '--as', 'alice', '--as-group', 'ops')
    assert result.stderr.endswith("with binding 'who' denied request: no ops: alice\n")


# ---------------------------------------------------------------------------------------------- LimitRanger -> VAP -> quota
def test_vap_sees_limitranger_defaults(kubectl, raw, make_ns):
    make_ns('t1')
    limits = {'metadata': {'name': 'lr'}, 'spec': {'limits': [{'type': 'Container', 'default': {'cpu': '800m', 'memory': '64Mi'}}]}}
    assert raw('POST', '/api/v1/namespaces/t1/limitranges', limits)[0] == 201
    install(
        raw,
        policy(
            'small',
            ['pods'],
            [
                {
                    'expression': "object.spec.containers.all(c, quantity(c.resources.limits.cpu).compareTo(quantity('500m')) <= 0)",
                    'messageExpression': "'cpu limit ' + object.spec.containers[0].resources.limits.cpu + ' request ' + "
                    "object.spec.containers[0].resources.requests.cpu + '; ' + "
                    "object.metadata.annotations['kubernetes.io/limit-ranger']",
                }
            ],
        ),
        binding('small'),
    )
    result = kubectl('apply', '-n', 't1', '-f', '-', stdin=pod_manifest('p1'))
    assert result.returncode == 1
    assert result.stderr.endswith(
        "denied request: cpu limit 800m request 800m; LimitRanger plugin set: cpu, memory request for container c; cpu, memory limit for container c\n"
    )
    assert kubectl('apply', '-n', 't1', '-f', '-', stdin=pod_manifest('p2', cpu='400m')).returncode == 0


def test_admission_order_limitranger_then_vap_then_quota(kubectl, raw, make_ns):
    make_ns('t1')
    quota = {'metadata': {'name': 'q'}, 'spec': {'hard': {'limits.cpu': '1'}}}
    assert raw('POST', '/api/v1/namespaces/t1/resourcequotas', quota)[0] == 201
    limits = {'metadata': {'name': 'lr'}, 'spec': {'limits': [{'type': 'Container', 'max': {'cpu': '2'}}]}}
    assert raw('POST', '/api/v1/namespaces/t1/limitranges', limits)[0] == 201
    install(
        raw,
        policy(
            'half',
            ['pods'],
            [{'expression': "quantity(object.spec.containers[0].resources.limits.cpu).isLessThan(quantity('1500m'))", 'message': 'at most 1500m'}],
        ),
        binding('half'),
    )
    result = kubectl('apply', '-n', 't1', '-f', '-', stdin=pod_manifest('p1', cpu='3'))  # all three refuse it
    assert result.stderr.strip().endswith('pods "p1" is forbidden: maximum cpu usage per Container is 2, but limit is 3')
    result = kubectl('apply', '-n', 't1', '-f', '-', stdin=pod_manifest('p1', cpu='1600m'))  # the policy and the quota
    assert result.stderr.strip().endswith("with binding 'half' denied request: at most 1500m")
    result = kubectl('apply', '-n', 't1', '-f', '-', stdin=pod_manifest('p1', cpu='1200m'))  # the quota only
    assert result.stderr.strip().endswith('pods "p1" is forbidden: exceeded quota: q, requested: limits.cpu=1200m, used: limits.cpu=0, limited: limits.cpu=1')
    assert kubectl('apply', '-n', 't1', '-f', '-', stdin=pod_manifest('p1', cpu='600m')).returncode == 0
    used = raw('GET', '/api/v1/namespaces/t1/resourcequotas/q')[1]['status']['used']
    assert used == {'limits.cpu': '600m'}


# ---------------------------------------------------------------------------------------------- operator simulation
OPERATOR_DBC = {
    'apiVersion': 'everest.percona.com/v1alpha1',
    'kind': 'DatabaseCluster',
    'metadata': {'name': 'db'},
    'spec': {
        'engine': {'type': 'pxc', 'replicas': 1, 'resources': {'cpu': '1', 'memory': '2G'}, 'storage': {'size': '10Gi'}},
        'proxy': {'type': 'haproxy', 'replicas': 1},
    },
}


def test_operator_pods_pass_admission_as_the_statefulset_controller(service_account, raw):
    bot = service_account('t1')
    bind_role(raw, 't1', 'dbc-writer', [{'apiGroups': ['everest.percona.com'], 'resources': ['databaseclusters'], 'verbs': ['create', 'get']}])
    quota = {'metadata': {'name': 'q'}, 'spec': {'hard': {'requests.cpu': '3', 'persistentvolumeclaims': '5', 'count/pods': '5'}}}
    assert raw('POST', '/api/v1/namespaces/t1/resourcequotas', quota)[0] == 201
    limits = {'metadata': {'name': 'lr'}, 'spec': {'limits': [{'type': 'Container', 'default': {'cpu': '50m', 'memory': '64Mi'}}]}}
    assert raw('POST', '/api/v1/namespaces/t1/limitranges', limits)[0] == 201
    only = [{'expression': f"request.userInfo.username == '{CONTROLLER}'", 'messageExpression': "'created by ' + request.userInfo.username"}]
    install(raw, policy('by-controller', ['pods', 'persistentvolumeclaims'], only), binding('by-controller'))
    from kubernetes import client  # pylint: disable=import-outside-toplevel

    api = bot.client()
    try:
        client.CustomObjectsApi(api).create_namespaced_custom_object(
            'everest.percona.com', 'v1alpha1', 't1', 'databaseclusters', json.loads(json.dumps(OPERATOR_DBC))
        )
        with pytest.raises(client.ApiException) as info:
            client.CoreV1Api(api).list_namespaced_pod('t1')
        assert info.value.status == 403, 'the requester may not even list the pods its cluster got'
    finally:
        api.close()
    _st, pods = raw('GET', '/api/v1/namespaces/t1/pods')
    assert sorted(p['metadata']['name'] for p in pods['items']) == ['db-haproxy-0', 'db-pxc-0']
    haproxy = next(p for p in pods['items'] if p['metadata']['name'] == 'db-haproxy-0')
    assert 'pxc-monit' in haproxy['metadata']['annotations']['kubernetes.io/limit-ranger'], 'LimitRanger defaulted the sidecar'
    assert [c['metadata']['name'] for c in raw('GET', '/api/v1/namespaces/t1/persistentvolumeclaims')[1]['items']] == ['datadir-db-pxc-0']
    assert raw('GET', '/api/v1/namespaces/t1/resourcequotas/q')[1]['status']['used'] == {
        'requests.cpu': '1240m',
        'persistentvolumeclaims': '1',
        'count/pods': '2',
    }
    manual = {'metadata': {'name': 'manual'}, 'spec': {'containers': [{'name': 'c', 'image': 'x'}]}}
    status, body = raw('POST', '/api/v1/namespaces/t1/pods', manual)
    assert (status, body['message']) == (
        422,
        "pods \"manual\" is forbidden: ValidatingAdmissionPolicy 'by-controller' with binding 'by-controller' denied request: created by sandbox-admin",
    )
    audit = [e for e in raw('GET', '/_sandbox/audit')[1]['items'] if e['resource'] == 'pods']
    assert audit == [], 'Deny only: nothing audited'


def test_operator_pods_refused_by_quota_show_on_the_cluster(raw, make_ns):
    make_ns('t1')
    quota = {'metadata': {'name': 'q'}, 'spec': {'hard': {'requests.cpu': '1'}}}
    assert raw('POST', '/api/v1/namespaces/t1/resourcequotas', quota)[0] == 201
    assert raw('POST', DBC.format(ns='t1'), OPERATOR_DBC)[0] == 201
    status = raw('GET', DBC.format(ns='t1') + '/db')[1]['status']
    assert (status['status'], status['message']) == ('error', 'pods "db-haproxy-0" is forbidden: failed quota: q: must specify requests.cpu for: pxc-monit'), (
        'no LimitRange: the sidecar without resources fails the quota, as the statefulset controller reports it'
    )
    assert [p['metadata']['name'] for p in raw('GET', '/api/v1/namespaces/t1/pods')[1]['items']] == ['db-pxc-0']


# ---------------------------------------------------------------------------------------------- pods: discovery, logs, can-i
def test_pods_log_is_in_discovery(api):
    from kubernetes import client  # pylint: disable=import-outside-toplevel

    resources = {r.name: r for r in client.CoreV1Api(api).get_api_resources().resources}
    assert resources['pods/log'].verbs == ['get'] and resources['pods/log'].kind == 'Pod' and resources['pods/log'].namespaced
    assert resources['pods/status'].verbs == ['get', 'patch', 'update']
    names = [name for name in resources if name.startswith('pods')]
    assert names == ['pods', 'pods/log', 'pods/status']


def test_kubectl_logs_and_its_authorization(kubectl, service_account, raw):
    bot = service_account('t1')
    assert kubectl('apply', '-n', 't1', '-f', '-', stdin=pod_manifest('web')).returncode == 0
    result = kubectl('logs', 'web', '-n', 't1')
    assert (result.returncode, result.stdout) == (0, ''), result.stderr
    result = bot.kubectl('logs', 'web', '-n', 't1')
    assert result.stderr == (
        'Error from server (Forbidden): pods "web" is forbidden: User "system:serviceaccount:t1:bot" cannot get '
        'resource "pods" in API group "" in the namespace "t1"\n'
    ), 'kubectl reads the pod first'
    bind_role(raw, 't1', 'pod-reader', [{'apiGroups': [''], 'resources': ['pods'], 'verbs': ['get']}])
    result = bot.kubectl('logs', 'web', '-n', 't1')
    assert result.stderr == (
        'Error from server (Forbidden): pods "web" is forbidden: User "system:serviceaccount:t1:bot" cannot get '
        'resource "pods/log" in API group "" in the namespace "t1"\n'
    )


def test_kubectl_auth_can_i_on_pods(service_account, raw):
    bot = service_account('t1')
    assert bot.kubectl('auth', 'can-i', 'create', 'pods', '-n', 't1').stdout == 'no\n'
    bind_cluster_role(raw, 't1', 'edit')
    for args, answer in (
        (('create', 'pods'), 'yes'),
        (('list', 'pods'), 'yes'),
        (('get', 'pods', '--subresource=log'), 'yes'),
        (('create', 'pods', '--subresource=eviction'), 'yes'),
        (('create', 'resourcequotas'), 'no'),
        (('get', 'pods/web'), 'yes'),
        (('delete', 'pods', '-n', 'default'), 'no'),
    ):
        result = bot.kubectl('auth', 'can-i', *args, *(('-n', 't1') if '-n' not in args else ()))
        assert result.stdout == answer + '\n', (args, result.stderr)
    assert bot.kubectl('auth', 'can-i', 'create', 'validatingadmissionpolicies').stdout == 'no\n'


# ---------------------------------------------------------------------------------------------- RBAC on the new kinds
def test_restricted_token_is_forbidden_to_write_policies_quotas_and_limit_ranges(service_account, raw):
    bot = service_account('t1')
    bind_cluster_role(raw, 't1', 'edit')
    user = bot.username
    vap = json.dumps(policy('p', ['configmaps'], [{'expression': 'true'}]))
    result = bot.kubectl('create', '-f', '-', stdin=vap)
    assert result.stderr == (
        'Error from server (Forbidden): error when creating "STDIN": validatingadmissionpolicies.admissionregistration.k8s.io '
        f'is forbidden: User "{user}" cannot create resource "validatingadmissionpolicies" in API group '
        '"admissionregistration.k8s.io" at the cluster scope\n'
    )
    result = bot.kubectl('create', 'quota', 'q', '-n', 't1', '--hard=pods=1')
    assert result.stderr == (
        'error: failed to create quota: resourcequotas is forbidden: User '
        f'"{user}" cannot create resource "resourcequotas" in API group "" in the namespace "t1"\n'
    )
    assert raw('POST', '/api/v1/namespaces/t1/resourcequotas', {'metadata': {'name': 'q'}, 'spec': {'hard': {'pods': '1'}}})[0] == 201
    result = bot.kubectl('delete', 'quota', 'q', '-n', 't1')
    assert result.stderr == (
        'Error from server (Forbidden): resourcequotas "q" is forbidden: User '
        f'"{user}" cannot delete resource "resourcequotas" in API group "" in the namespace "t1"\n'
    )
    assert bot.kubectl('get', 'quota', 'q', '-n', 't1', '-o', 'name').stdout == 'resourcequota/q\n', 'edit includes view'
    assert raw('POST', '/api/v1/namespaces/t1/limitranges', {'metadata': {'name': 'lr'}, 'spec': {'limits': []}})[0] == 201
    result = bot.kubectl('label', 'limitrange', 'lr', '-n', 't1', 'a=b')
    assert result.stderr == (
        'Error from server (Forbidden): limitranges "lr" is forbidden: User '
        f'"{user}" cannot patch resource "limitranges" in API group "" in the namespace "t1"\n'
    )
    from kubernetes import client  # pylint: disable=import-outside-toplevel

    api = bot.client()
    try:
        with pytest.raises(client.ApiException) as info:
            client.AdmissionregistrationV1Api(api).create_validating_admission_policy_binding(binding('p'))
        assert info.value.status == 403 and json.loads(info.value.body)['details'] == {
            'group': 'admissionregistration.k8s.io',
            'kind': 'validatingadmissionpolicybindings',
        }
    finally:
        api.close()


# ---------------------------------------------------------------------------------------------- Pod-bound tokens
def test_token_request_bound_to_a_pod(kubectl, service_account, raw, clean_sandbox, tmp_path):
    bot = service_account('t1')
    assert kubectl('apply', '-n', 't1', '-f', '-', stdin=pod_manifest('web', service_account='bot')).returncode == 0
    pod_uid = raw('GET', '/api/v1/namespaces/t1/pods/web')[1]['metadata']['uid']
    result = kubectl('create', 'token', 'bot', '-n', 't1', '--bound-object-kind', 'Pod', '--bound-object-name', 'web')
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert claims(token)['kubernetes.io']['pod'] == {'name': 'web', 'uid': pod_uid}
    config = clean_sandbox.kubeconfig_for(token, tmp_path / 'bound.yaml', tls=True)
    result = kubectl('--kubeconfig', config, 'auth', 'whoami', '-o', 'jsonpath={.status.userInfo.extra}')
    extra = json.loads(result.stdout)
    assert extra['authentication.kubernetes.io/pod-name'] == ['web'] and extra['authentication.kubernetes.io/pod-uid'] == [pod_uid]
    assert kubectl('apply', '-n', 't1', '-f', '-', stdin=pod_manifest('other')).returncode == 0  # runs as "default"
    result = kubectl('create', 'token', 'bot', '-n', 't1', '--bound-object-kind', 'Pod', '--bound-object-name', 'other')
    assert result.stderr == ('error: failed to create token: cannot bind token for serviceaccount "bot" to pod running with different serviceaccount name.\n')
    assert kubectl('delete', 'pod', 'web', '-n', 't1').returncode == 0
    result = kubectl('--kubeconfig', config, 'auth', 'whoami')
    assert result.returncode == 1 and 'error: You must be logged in to the server (Unauthorized)' in result.stderr
    assert bot.kubectl('auth', 'whoami', '-o', 'name').returncode == 0, 'the unbound token of the same account still works'


def test_pods_need_an_existing_service_account(kubectl, raw, make_ns):
    make_ns('t1')
    result = kubectl('apply', '-n', 't1', '-f', '-', stdin=pod_manifest('web', service_account='runner'))
    assert result.stderr == (
        'Error from server (Forbidden): error when creating "STDIN": pods "web" is forbidden: error looking up '
        'service account t1/runner: serviceaccount "runner" not found\n'
    )
    assert raw('POST', '/api/v1/namespaces/t1/serviceaccounts', {'metadata': {'name': 'runner'}})[0] == 201
    assert kubectl('apply', '-n', 't1', '-f', '-', stdin=pod_manifest('web', service_account='runner')).returncode == 0
    status, body = raw('POST', '/api/v1/namespaces/t1/pods', {'metadata': {'name': 'plain'}, 'spec': {'containers': [{'name': 'c', 'image': 'x'}]}})
    assert (status, body['spec']['serviceAccountName']) == (201, 'default')
