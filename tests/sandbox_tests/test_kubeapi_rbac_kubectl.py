"""RBAC as kubectl 1.32 shows it: a ServiceAccount token in a TLS kubeconfig, ``--as``, ``auth can-i``, ``auth whoami``."""

import json

RBAC = '/apis/rbac.authorization.k8s.io/v1'
G = 'rbac.authorization.k8s.io'


def bind_view(raw, namespace, subject, name='viewer'):
    body = {'metadata': {'name': name}, 'roleRef': {'apiGroup': G, 'kind': 'ClusterRole', 'name': 'view'}, 'subjects': [subject]}
    assert raw('POST', f'{RBAC}/namespaces/{namespace}/rolebindings', body)[0] == 201


def test_kubectl_prints_the_forbidden_line(service_account):
    bot = service_account('team-a')
    result = bot.kubectl('get', 'configmaps', '-n', 'team-a')
    assert result.returncode == 1
    assert result.stderr == (
        'Error from server (Forbidden): configmaps is forbidden: User "system:serviceaccount:team-a:bot" cannot list '
        'resource "configmaps" in API group "" in the namespace "team-a"\n'
    )
    result = bot.kubectl('get', 'namespace', 'team-a')
    assert result.stderr == (
        'Error from server (Forbidden): namespaces "team-a" is forbidden: User "system:serviceaccount:team-a:bot" '
        'cannot get resource "namespaces" in API group "" in the namespace "team-a"\n'
    )
    result = bot.kubectl('delete', 'clusterrole', 'view')
    assert result.stderr == (
        'Error from server (Forbidden): clusterroles.rbac.authorization.k8s.io "view" is forbidden: User '
        '"system:serviceaccount:team-a:bot" cannot delete resource "clusterroles" in API group '
        '"rbac.authorization.k8s.io" at the cluster scope\n'
    )


def test_kubectl_works_once_bound(service_account, raw):
    bot = service_account('team-a')
    bind_view(raw, 'team-a', {'kind': 'ServiceAccount', 'name': 'bot', 'namespace': 'team-a'})
    raw('POST', '/api/v1/namespaces/team-a/configmaps', {'metadata': {'name': 'settings'}})
    result = bot.kubectl('get', 'configmaps', '-n', 'team-a', '-o', 'name')
    assert (result.returncode, result.stdout) == (0, 'configmap/settings\n'), result.stderr
    result = bot.kubectl('create', 'configmap', 'new', '-n', 'team-a')
    assert result.returncode == 1 and 'cannot create resource "configmaps"' in result.stderr


def test_kubectl_auth_can_i(service_account, raw):
    bot = service_account('team-a')
    result = bot.kubectl('auth', 'can-i', 'list', 'configmaps', '-n', 'team-a')
    assert (result.returncode, result.stdout) == (1, 'no\n')
    bind_view(raw, 'team-a', {'kind': 'ServiceAccount', 'name': 'bot'})
    result = bot.kubectl('auth', 'can-i', 'list', 'configmaps', '-n', 'team-a')
    assert (result.returncode, result.stdout) == (0, 'yes\n')
    assert bot.kubectl('auth', 'can-i', 'delete', 'configmaps', '-n', 'team-a').stdout == 'no\n'
    assert bot.kubectl('auth', 'can-i', 'get', 'configmaps/anything', '-n', 'team-a').stdout == 'yes\n'
    assert bot.kubectl('auth', 'can-i', 'get', '/version').stdout == 'yes\n'
    assert bot.kubectl('auth', 'can-i', 'get', '/metrics').stdout == 'no\n'
    body = {'metadata': {'name': 'ghost'}, 'roleRef': {'apiGroup': G, 'kind': 'Role', 'name': 'ghost'}, 'subjects': [{'kind': 'ServiceAccount', 'name': 'bot'}]}
    raw('POST', f'{RBAC}/namespaces/team-a/rolebindings', body)
    result = bot.kubectl('auth', 'can-i', 'delete', 'configmaps', '-n', 'team-a')
    assert (result.returncode, result.stdout) == (1, 'no - RBAC: role.rbac.authorization.k8s.io "ghost" not found\n')


def test_kubectl_as_and_whoami(kubectl, raw, service_account):
    service_account('team-a')
    bind_view(raw, 'team-a', {'kind': 'User', 'name': 'alice'})
    result = kubectl('auth', 'can-i', 'list', 'configmaps', '-n', 'team-a', '--as', 'alice')
    assert (result.returncode, result.stdout) == (0, 'yes\n'), result.stderr
    result = kubectl('get', 'secrets', '-n', 'team-a', '--as', 'alice')
    assert result.stderr == (
        'Error from server (Forbidden): secrets is forbidden: User "alice" cannot list resource "secrets" in API group "" in the namespace "team-a"\n'
    )
    result = kubectl('auth', 'whoami', '--as', 'system:serviceaccount:team-a:bot', '-o', 'jsonpath={.status.userInfo.groups}')
    assert result.stdout == '["system:serviceaccounts","system:serviceaccounts:team-a","system:authenticated"]', result.stderr
    assert kubectl('auth', 'can-i', '--as', 'system:serviceaccount:team-a:bot', 'list', 'secrets', '-n', 'team-a').stdout == 'no\n'


def test_kubectl_escalation_message(service_account, raw):
    bot = service_account('team-a')
    writer = {'metadata': {'name': 'writer'}, 'rules': [{'apiGroups': [G], 'resources': ['roles'], 'verbs': ['create']}]}
    raw('POST', f'{RBAC}/namespaces/team-a/roles', writer)
    binding = {
        'metadata': {'name': 'writer'},
        'subjects': [{'kind': 'ServiceAccount', 'name': 'bot'}],
        'roleRef': {'apiGroup': G, 'kind': 'Role', 'name': 'writer'},
    }
    raw('POST', f'{RBAC}/namespaces/team-a/rolebindings', binding)
    result = bot.kubectl('create', 'role', 'cm-killer', '--verb=delete,get', '--resource=configmaps', '-n', 'team-a')
    assert result.returncode == 1
    assert result.stderr == (
        'Error from server (Forbidden): roles.rbac.authorization.k8s.io "cm-killer" is forbidden: user "system:serviceaccount:team-a:bot" '
        '(groups=["system:serviceaccounts" "system:serviceaccounts:team-a" "system:authenticated"]) is attempting to grant RBAC permissions '
        'not currently held:\n{APIGroups:[""], Resources:["configmaps"], Verbs:["delete" "get"]}\n'
    )


def test_kubectl_sees_aggregated_rules(kubectl, raw):
    extra = {
        'apiVersion': f'{G}/v1',
        'kind': 'ClusterRole',
        'metadata': {'name': 'dbc-view', 'labels': {f'{G}/aggregate-to-view': 'true'}},
        'rules': [{'apiGroups': ['everest.percona.com'], 'resources': ['databaseclusters'], 'verbs': ['get', 'list', 'watch']}],
    }
    result = kubectl('create', '-f', '-', stdin=json.dumps(extra))
    assert result.returncode == 0, result.stderr
    result = kubectl('auth', 'can-i', 'list', 'databaseclusters.everest.percona.com', '-n', 'default', '--as', 'alice')
    assert result.stdout == 'no\n'
    binding = {
        'metadata': {'name': 'alice-view'},
        'subjects': [{'kind': 'User', 'name': 'alice'}],
        'roleRef': {'apiGroup': G, 'kind': 'ClusterRole', 'name': 'view'},
    }
    raw('POST', f'{RBAC}/clusterrolebindings', binding)
    result = kubectl('auth', 'can-i', 'list', 'databaseclusters', '-n', 'default', '--as', 'alice')
    assert (result.returncode, result.stdout) == (0, 'yes\n'), result.stderr


def test_kubectl_tables_for_the_new_kinds(kubectl, raw, service_account):
    service_account('team-a')
    bind_view(raw, 'team-a', {'kind': 'ServiceAccount', 'name': 'bot'})
    header, row = kubectl('get', 'rolebindings', '-n', 'team-a', '-o', 'wide').stdout.splitlines()
    assert header.split() == ['NAME', 'ROLE', 'AGE', 'USERS', 'GROUPS', 'SERVICEACCOUNTS']
    assert row.split()[:2] == ['viewer', 'ClusterRole/view'] and row.split()[-1] == 'team-a/bot'
    lines = kubectl('get', 'serviceaccounts', '-n', 'team-a').stdout.splitlines()
    assert lines[0].split() == ['NAME', 'SECRETS', 'AGE'] and [line.split()[0] for line in lines[1:]] == ['bot', 'default']
    assert kubectl('get', 'clusterroles', 'view').stdout.splitlines()[0].split() == ['NAME', 'CREATED', 'AT']
