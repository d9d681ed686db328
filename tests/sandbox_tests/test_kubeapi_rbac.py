"""RBAC of the Kubernetes API emulator: denial texts, binding scopes, rule matching, escalation prevention,
aggregation, the review APIs and impersonation, checked with raw HTTP and the official Python client."""

import json

import pytest

RBAC = '/apis/rbac.authorization.k8s.io/v1'
SSAR = '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews'
G = 'rbac.authorization.k8s.io'


def role(raw, namespace, name, rules):
    path = f'{RBAC}/namespaces/{namespace}/roles' if namespace else f'{RBAC}/clusterroles'
    body = {'metadata': {'name': name}, 'rules': rules}
    status, out = raw('POST', path, body)
    assert status == 201, out
    return out


def bind(raw, namespace, name, kind, role_name, subjects):
    path = f'{RBAC}/namespaces/{namespace}/rolebindings' if namespace else f'{RBAC}/clusterrolebindings'
    body = {'metadata': {'name': name}, 'roleRef': {'apiGroup': G, 'kind': kind, 'name': role_name}, 'subjects': subjects}
    status, out = raw('POST', path, body)
    assert status == 201, out
    return out


def sa_subject(namespace, name='bot'):
    return {'kind': 'ServiceAccount', 'name': name, 'namespace': namespace}


def rule(verbs, resources, groups=('',), names=None):
    out = {'apiGroups': list(groups), 'resources': list(resources), 'verbs': list(verbs)}
    if names:
        out['resourceNames'] = list(names)
    return out


def can(identity, **attrs):
    status, review = identity.request(
        'POST', SSAR, {'apiVersion': 'authorization.k8s.io/v1', 'kind': 'SelfSubjectAccessReview', 'spec': {'resourceAttributes': attrs}}
    )
    assert status == 201, review
    return review['status']


def denial(user, verb, resource, group='', namespace=None):
    scope = f'in the namespace "{namespace}"' if namespace else 'at the cluster scope'
    return f'User "{user}" cannot {verb} resource "{resource}" in API group "{group}" {scope}'


# ---------------------------------------------------------------------------------------------- denial texts
def test_list_watch_create_delete_denials_are_exact_403s(service_account):
    bot = service_account('team-a')
    user = bot.username
    status, body = bot.request('GET', '/api/v1/namespaces/team-a/configmaps')
    assert status == 403
    assert body == {
        'kind': 'Status',
        'apiVersion': 'v1',
        'metadata': {},
        'status': 'Failure',
        'reason': 'Forbidden',
        'code': 403,
        'message': 'configmaps is forbidden: ' + denial(user, 'list', 'configmaps', namespace='team-a'),
        'details': {'kind': 'configmaps'},
    }
    for path in ('/api/v1/namespaces/team-a/configmaps?watch=true', '/api/v1/watch/namespaces/team-a/configmaps'):
        status, body = bot.request('GET', path)
        assert (status, body['message']) == (403, 'configmaps is forbidden: ' + denial(user, 'watch', 'configmaps', namespace='team-a'))
    status, body = bot.request('POST', '/apis/apps/v1/namespaces/team-a/deployments', {'metadata': {'name': 'd'}})
    assert (status, body['message']) == (403, 'deployments.apps is forbidden: ' + denial(user, 'create', 'deployments', 'apps', 'team-a'))
    assert body['details'] == {'group': 'apps', 'kind': 'deployments'}
    status, body = bot.request('DELETE', '/api/v1/namespaces/team-a/secrets/s1')
    assert (status, body['message']) == (403, 'secrets "s1" is forbidden: ' + denial(user, 'delete', 'secrets', namespace='team-a'))
    assert body['details'] == {'name': 's1', 'kind': 'secrets'}
    status, body = bot.request('DELETE', '/api/v1/namespaces/team-a/secrets')
    assert body['message'] == 'secrets is forbidden: ' + denial(user, 'deletecollection', 'secrets', namespace='team-a')
    status, body = bot.request('PATCH', '/api/v1/namespaces/team-a/configmaps/c', b'{}', {'Content-Type': 'application/merge-patch+json'})
    assert body['message'] == 'configmaps "c" is forbidden: ' + denial(user, 'patch', 'configmaps', namespace='team-a')


def test_cluster_scoped_and_namespace_object_denials(service_account):
    bot = service_account('team-a')
    status, body = bot.request('GET', '/api/v1/namespaces')
    assert (status, body['message']) == (403, 'namespaces is forbidden: ' + denial(bot.username, 'list', 'namespaces'))
    status, body = bot.request('GET', f'{RBAC}/clusterroles/view')
    assert body['message'] == 'clusterroles.rbac.authorization.k8s.io "view" is forbidden: ' + denial(bot.username, 'get', 'clusterroles', G)
    # a namespace is its own namespace for authorization
    status, body = bot.request('GET', '/api/v1/namespaces/team-a')
    assert body['message'] == 'namespaces "team-a" is forbidden: ' + denial(bot.username, 'get', 'namespaces', namespace='team-a')


def test_non_resource_denials_and_sandbox_endpoints(service_account):
    bot = service_account('team-a')
    status, body = bot.request('GET', '/metrics')
    assert (status, body['message'], body['details']) == (403, f'forbidden: User "{bot.username}" cannot get path "/metrics"', {})
    for method, path in (('GET', '/_sandbox/stats'), ('POST', '/_sandbox/reset'), ('GET', '/_sandbox/access')):
        status, body = bot.request(method, path)
        assert (status, body['message']) == (403, f'forbidden: User "{bot.username}" cannot {method.lower()} path "{path}"')


def test_routing_errors_come_after_authorization(service_account, raw):
    bot = service_account('team-a')
    status, body = bot.request('GET', '/api/v1/namespaces/team-a/nosuchthings')
    assert status == 403 and 'cannot list resource "nosuchthings"' in body['message']
    assert raw('GET', '/api/v1/namespaces/team-a/nosuchthings')[0] == 404
    role(raw, 'team-a', 'cm-reader', [rule(['get', 'list'], ['configmaps'])])
    bind(raw, 'team-a', 'cm-reader', 'Role', 'cm-reader', [sa_subject('team-a')])
    assert bot.request('GET', '/api/v1/namespaces/team-a/configmaps')[0] == 200
    assert bot.request('GET', '/api/v1/namespaces/team-a/configmaps?watch=1')[0] == 403  # no watch verb: 403, not 405


def test_denied_names_are_html_escaped_but_reasons_are_not(clean_sandbox, raw):
    bind(raw, 'default', 'dangling', 'Role', 'x<y', [{'kind': 'User', 'name': 'a<b&c>'}])
    status, body = raw('GET', '/api/v1/namespaces/default/configmaps', headers={'Impersonate-User': 'a<b&c>'})
    assert status == 403
    assert body['message'] == (
        'configmaps is forbidden: User "a&lt;b&amp;c&gt;" cannot list resource "configmaps" in API group "" '
        'in the namespace "default": RBAC: role.rbac.authorization.k8s.io "x<y" not found'
    )


def test_discovery_and_public_paths_work_for_service_accounts(service_account):
    bot = service_account('team-a')
    for path in (
        '/api',
        '/api/v1',
        '/apis',
        '/apis/apps',
        '/apis/apps/v1',
        '/apis/rbac.authorization.k8s.io/v1',
        '/version',
        '/openapi/v3',
        '/healthz',
        '/readyz',
        '/livez',
    ):
        assert bot.request('GET', path)[0] == 200, path
    assert bot.request('GET', '/openapi/v2')[0] == 404  # allowed, and then not served


# ---------------------------------------------------------------------------------------------- binding scopes
def test_role_and_rolebinding_apply_only_in_their_namespace(service_account, raw):
    bot = service_account('team-a')
    raw('POST', '/api/v1/namespaces', {'metadata': {'name': 'team-b'}})
    role(raw, 'team-a', 'reader', [rule(['list'], ['configmaps'])])
    bind(raw, 'team-a', 'reader', 'Role', 'reader', [{'kind': 'ServiceAccount', 'name': 'bot'}])  # namespace defaults to team-a
    assert bot.request('GET', '/api/v1/namespaces/team-a/configmaps')[0] == 200
    assert bot.request('GET', '/api/v1/namespaces/team-b/configmaps')[0] == 403
    assert bot.request('GET', '/api/v1/configmaps')[0] == 403  # all namespaces is a cluster-scoped list


def test_clusterrole_through_rolebinding_is_namespaced_and_through_clusterrolebinding_global(service_account, raw):
    bot = service_account('team-a')
    raw('POST', '/api/v1/namespaces', {'metadata': {'name': 'team-b'}})
    role(raw, '', 'secret-lister', [rule(['list'], ['secrets', 'namespaces'])])
    bind(raw, 'team-b', 'lister', 'ClusterRole', 'secret-lister', [sa_subject('team-a')])
    assert bot.request('GET', '/api/v1/namespaces/team-b/secrets')[0] == 200
    assert bot.request('GET', '/api/v1/namespaces/team-a/secrets')[0] == 403
    assert bot.request('GET', '/api/v1/namespaces')[0] == 403
    bind(raw, '', 'lister', 'ClusterRole', 'secret-lister', [sa_subject('team-a')])
    for path in ('/api/v1/namespaces/team-a/secrets', '/api/v1/secrets', '/api/v1/namespaces'):
        assert bot.request('GET', path)[0] == 200, path


def test_group_and_user_subjects(clean_sandbox, raw, service_account):
    bot = service_account('team-a')
    role(raw, '', 'ns-reader', [rule(['get', 'list'], ['namespaces'])])
    bind(raw, '', 'sa-group', 'ClusterRole', 'ns-reader', [{'kind': 'Group', 'name': 'system:serviceaccounts:team-a'}])
    assert bot.request('GET', '/api/v1/namespaces')[0] == 200
    alice = {'Impersonate-User': 'alice', 'Impersonate-Group': 'devs'}
    status, body = raw('GET', '/api/v1/namespaces', headers=alice)
    assert (status, body['message']) == (403, 'namespaces is forbidden: ' + denial('alice', 'list', 'namespaces'))
    bind(raw, '', 'devs', 'ClusterRole', 'ns-reader', [{'kind': 'Group', 'name': 'devs'}])
    assert raw('GET', '/api/v1/namespaces', headers=alice)[0] == 200
    assert raw('GET', '/api/v1/namespaces', headers={'Impersonate-User': 'alice'})[0] == 403
    bind(raw, '', 'bob', 'ClusterRole', 'ns-reader', [{'kind': 'User', 'name': 'bob'}])
    assert raw('GET', '/api/v1/namespaces', headers={'Impersonate-User': 'bob'})[0] == 200


def test_service_account_subject_namespace(service_account, raw):
    bot = service_account('team-a')
    raw('POST', '/api/v1/namespaces', {'metadata': {'name': 'team-b'}})
    role(raw, 'team-b', 'reader', [rule(['list'], ['configmaps'])])
    bind(raw, 'team-b', 'wrong-ns', 'Role', 'reader', [{'kind': 'ServiceAccount', 'name': 'bot'}])  # means team-b's bot
    assert bot.request('GET', '/api/v1/namespaces/team-b/configmaps')[0] == 403
    bind(raw, 'team-b', 'cross-ns', 'Role', 'reader', [sa_subject('team-a')])
    assert bot.request('GET', '/api/v1/namespaces/team-b/configmaps')[0] == 200
    crb = {
        'metadata': {'name': 'x'},
        'subjects': [{'kind': 'ServiceAccount', 'name': 'bot'}],
        'roleRef': {'apiGroup': G, 'kind': 'ClusterRole', 'name': 'view'},
    }
    status, body = raw('POST', f'{RBAC}/clusterrolebindings', crb)
    assert (status, body['message']) == (422, 'ClusterRoleBinding.rbac.authorization.k8s.io "x" is invalid: subjects[0].namespace: Required value')


# ---------------------------------------------------------------------------------------------- rule matching
def test_resource_names_and_field_selector(service_account, raw):
    bot = service_account('team-a')
    for name in ('mine', 'other'):
        raw('POST', '/api/v1/namespaces/team-a/configmaps', {'metadata': {'name': name}})
    role(raw, 'team-a', 'one-cm', [rule(['get', 'list', 'watch', 'create', 'delete', 'deletecollection', 'update'], ['configmaps'], names=['mine'])])
    bind(raw, 'team-a', 'one-cm', 'Role', 'one-cm', [sa_subject('team-a')])
    assert bot.request('GET', '/api/v1/namespaces/team-a/configmaps/mine')[0] == 200
    status, body = bot.request('GET', '/api/v1/namespaces/team-a/configmaps/other')
    assert (status, body['message']) == (403, 'configmaps "other" is forbidden: ' + denial(bot.username, 'get', 'configmaps', namespace='team-a'))
    assert bot.request('GET', '/api/v1/namespaces/team-a/configmaps')[0] == 403
    status, listing = bot.request('GET', '/api/v1/namespaces/team-a/configmaps?fieldSelector=metadata.name%3Dmine')
    assert status == 200 and [i['metadata']['name'] for i in listing['items']] == ['mine']
    status, body = bot.request('GET', '/api/v1/namespaces/team-a/configmaps?fieldSelector=metadata.name%3Dother')
    assert (status, body['message']) == (403, 'configmaps "other" is forbidden: ' + denial(bot.username, 'list', 'configmaps', namespace='team-a'))
    assert bot.request('POST', '/api/v1/namespaces/team-a/configmaps', {'metadata': {'name': 'mine2'}})[0] == 403
    assert bot.request('DELETE', '/api/v1/namespaces/team-a/configmaps')[0] == 403
    assert bot.request('DELETE', '/api/v1/namespaces/team-a/configmaps/mine')[0] == 200


def test_subresources_need_their_own_rules(service_account, raw):
    bot = service_account('team-a')
    deploy = {'metadata': {'name': 'web'}, 'spec': {'selector': {'matchLabels': {'a': 'b'}}, 'template': {'metadata': {'labels': {'a': 'b'}}}}}
    assert raw('POST', '/apis/apps/v1/namespaces/team-a/deployments', deploy)[0] == 201
    scale = '/apis/apps/v1/namespaces/team-a/deployments/web/scale'
    role(raw, 'team-a', 'deploys', [rule(['get'], ['deployments'], ['apps'])])
    bind(raw, 'team-a', 'deploys', 'Role', 'deploys', [sa_subject('team-a')])
    assert bot.request('GET', '/apis/apps/v1/namespaces/team-a/deployments/web')[0] == 200
    status, body = bot.request('GET', scale)
    assert (status, body['message']) == (403, 'deployments.apps "web" is forbidden: ' + denial(bot.username, 'get', 'deployments/scale', 'apps', 'team-a'))
    for index, resources in enumerate((['deployments/scale'], ['*/scale'], ['*'])):
        raw('DELETE', f'{RBAC}/namespaces/team-a/roles/sub{index - 1}')
        role(raw, 'team-a', f'sub{index}', [rule(['get'], resources, ['apps'])])
        bind(raw, 'team-a', f'sub{index}', 'Role', f'sub{index}', [sa_subject('team-a')])
        assert bot.request('GET', scale)[0] == 200, resources
    assert bot.request('GET', '/apis/apps/v1/namespaces/team-a/deployments/web/status')[0] == 200  # '*' covers every subresource


def test_token_subresource_and_verb_wildcards(service_account, raw):
    bot = service_account('team-a')
    raw('POST', '/api/v1/namespaces/team-a/serviceaccounts', {'metadata': {'name': 'worker'}})
    token = '/api/v1/namespaces/team-a/serviceaccounts/worker/token'
    status, body = bot.request('POST', token, {'spec': {}})
    assert (status, body['message']) == (
        403,
        'serviceaccounts "worker" is forbidden: ' + denial(bot.username, 'create', 'serviceaccounts/token', namespace='team-a'),
    )
    role(raw, 'team-a', 'tokens', [rule(['*'], ['serviceaccounts/token'], names=['worker'])])
    bind(raw, 'team-a', 'tokens', 'Role', 'tokens', [sa_subject('team-a')])
    assert bot.request('POST', token, {'spec': {}})[0] == 201
    assert bot.request('POST', '/api/v1/namespaces/team-a/serviceaccounts/default/token', {'spec': {}})[0] == 403


# ---------------------------------------------------------------------------------------------- resolution errors
def test_missing_roles_are_reported_in_the_denial(service_account, raw):
    bot = service_account('team-a')
    bind(raw, 'team-a', 'ghost', 'Role', 'ghost', [sa_subject('team-a')])
    status, body = bot.request('GET', '/api/v1/namespaces/team-a/pods')
    assert body['message'] == (
        'pods is forbidden: ' + denial(bot.username, 'list', 'pods', namespace='team-a') + ': RBAC: role.rbac.authorization.k8s.io "ghost" not found'
    )
    bind(raw, '', 'phantom', 'ClusterRole', 'phantom', [sa_subject('team-a')])
    bind(raw, 'team-a', 'ghost-again', 'Role', 'ghost', [sa_subject('team-a')])
    status, body = bot.request('GET', '/api/v1/namespaces/team-a/pods')
    assert body['message'].endswith(': RBAC: [clusterrole.rbac.authorization.k8s.io "phantom" not found, role.rbac.authorization.k8s.io "ghost" not found]')
    status, body = bot.request('GET', '/api/v1/namespaces')  # cluster scope: RoleBindings are not visited
    assert body['message'].endswith(': RBAC: clusterrole.rbac.authorization.k8s.io "phantom" not found')
    role(raw, 'team-a', 'ghost', [rule(['list'], ['pods'])])
    assert can(bot, verb='list', resource='pods', namespace='team-a')['allowed'] is True


# ---------------------------------------------------------------------------------------------- writes to RBAC objects
def test_role_ref_is_immutable(clean_sandbox, raw):
    bind(raw, 'default', 'rb', 'ClusterRole', 'view', [{'kind': 'User', 'name': 'alice'}])
    status, body = raw(
        'PATCH',
        f'{RBAC}/namespaces/default/rolebindings/rb',
        {'roleRef': {'kind': 'ClusterRole', 'name': 'edit'}},
        {'Content-Type': 'application/merge-patch+json'},
    )
    assert status == 422
    assert body['message'] == (
        'RoleBinding.rbac.authorization.k8s.io "rb" is invalid: roleRef: Invalid value: '
        'rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"edit"}: cannot change roleRef'
    )
    assert body['details']['causes'] == [
        {
            'reason': 'FieldValueInvalid',
            'field': 'roleRef',
            'message': 'Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"edit"}: cannot change roleRef',
        }
    ]
    status, current = raw('GET', f'{RBAC}/namespaces/default/rolebindings/rb')
    current['subjects'].append({'kind': 'Group', 'name': 'devs'})
    status, updated = raw('PUT', f'{RBAC}/namespaces/default/rolebindings/rb', current)
    assert status == 200 and updated['subjects'][1] == {'kind': 'Group', 'name': 'devs', 'apiGroup': G}


def test_rbac_validation_and_defaults(clean_sandbox, raw):
    status, body = raw(
        'POST',
        f'{RBAC}/namespaces/default/roles',
        {'metadata': {'name': 'bad'}, 'rules': [{'apiGroups': [''], 'resources': ['pods']}, {'nonResourceURLs': ['/healthz'], 'verbs': ['get']}]},
    )
    assert (status, body['message']) == (
        422,
        'Role.rbac.authorization.k8s.io "bad" is invalid: [rules[0].verbs: Required value: verbs must '
        'contain at least one value, rules[1].nonResourceURLs: Invalid value: []string{"/healthz"}: '
        'namespaced rules cannot apply to non-resource URLs]',
    )
    status, body = raw('POST', f'{RBAC}/clusterrolebindings', {'metadata': {'name': 'b'}, 'roleRef': {'kind': 'Role', 'name': 'r'}})
    assert (status, body['message']) == (
        422,
        'ClusterRoleBinding.rbac.authorization.k8s.io "b" is invalid: roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"',
    )
    status, created = raw('POST', f'{RBAC}/clusterroles', {'metadata': {'name': 'system:empty'}})
    assert status == 201 and created['rules'] is None  # names may contain ':'; rules serialise as null
    status, body = raw('POST', f'{RBAC}/clusterroles', {'metadata': {'name': 'a/b'}})
    assert body['message'] == 'ClusterRole.rbac.authorization.k8s.io "a/b" is invalid: metadata.name: Invalid value: "a/b": may not contain \'/\''


def test_escalation_is_prevented(service_account, raw):
    bot = service_account('team-a')
    role(raw, 'team-a', 'role-writer', [rule(['create', 'update', 'get'], ['roles'], [G]), rule(['get', 'list'], ['configmaps'])])
    bind(raw, 'team-a', 'role-writer', 'Role', 'role-writer', [sa_subject('team-a')])
    held = {'metadata': {'name': 'held'}, 'rules': [rule(['get'], ['configmaps'])]}
    assert bot.request('POST', f'{RBAC}/namespaces/team-a/roles', held)[0] == 201
    wants = {'metadata': {'name': 'wants'}, 'rules': [rule(['get', 'delete'], ['configmaps', 'pods']), rule(['*'], ['deployments'], ['apps'])]}
    status, body = bot.request('POST', f'{RBAC}/namespaces/team-a/roles', wants)
    assert status == 403 and body['details'] == {'name': 'wants', 'group': G, 'kind': 'roles'}
    assert body['message'] == (
        'roles.rbac.authorization.k8s.io "wants" is forbidden: user "system:serviceaccount:team-a:bot" (groups=["system:serviceaccounts" '
        '"system:serviceaccounts:team-a" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n'
        '{APIGroups:[""], Resources:["configmaps"], Verbs:["delete"]}\n'
        '{APIGroups:[""], Resources:["pods"], Verbs:["get" "delete"]}\n'
        '{APIGroups:["apps"], Resources:["deployments"], Verbs:["*"]}'
    )
    _st, current = bot.request('GET', f'{RBAC}/namespaces/team-a/roles/held')
    current['rules'].append(rule(['list'], ['secrets']))
    status, body = bot.request('PUT', f'{RBAC}/namespaces/team-a/roles/held', current)
    assert status == 403 and body['message'].endswith('not currently held:\n{APIGroups:[""], Resources:["secrets"], Verbs:["list"]}')
    role(raw, 'team-a', 'escalator', [rule(['escalate'], ['roles'], [G])])
    bind(raw, 'team-a', 'escalator', 'Role', 'escalator', [sa_subject('team-a')])
    assert bot.request('POST', f'{RBAC}/namespaces/team-a/roles', wants)[0] == 201


def test_aggregation_rule_needs_cluster_admin(service_account, raw):
    bot = service_account('team-a')
    role(raw, '', 'cr-writer', [rule(['create'], ['clusterroles'], [G])])
    bind(raw, '', 'cr-writer', 'ClusterRole', 'cr-writer', [sa_subject('team-a')])
    body = {'metadata': {'name': 'agg'}, 'aggregationRule': {'clusterRoleSelectors': [{'matchLabels': {'x': 'y'}}]}}
    status, out = bot.request('POST', f'{RBAC}/clusterroles', body)
    assert (status, out['message']) == (
        403,
        'clusterroles.rbac.authorization.k8s.io "agg" is forbidden: must have cluster-admin privileges to use the aggregationRule',
    )


def test_bindings_need_bind_or_the_roles_permissions(service_account, raw):
    bot = service_account('team-a')
    role(raw, 'team-a', 'binder', [rule(['create'], ['rolebindings'], [G])])
    bind(raw, 'team-a', 'binder', 'Role', 'binder', [sa_subject('team-a')])
    role(raw, 'team-a', 'cm-reader', [rule(['get'], ['configmaps'])])
    binding = {'metadata': {'name': 'give'}, 'roleRef': {'apiGroup': G, 'kind': 'Role', 'name': 'cm-reader'}, 'subjects': [{'kind': 'User', 'name': 'alice'}]}
    status, body = bot.request('POST', f'{RBAC}/namespaces/team-a/rolebindings', binding)
    prefix = 'rolebindings.rbac.authorization.k8s.io "give" is forbidden: user "system:serviceaccount:team-a:bot" (groups='
    assert status == 403 and body['message'].startswith(prefix)
    assert body['message'].endswith('not currently held:\n{APIGroups:[""], Resources:["configmaps"], Verbs:["get"]}')
    missing = dict(binding, metadata={'name': 'missing'}, roleRef={'apiGroup': G, 'kind': 'Role', 'name': 'nope'})
    status, body = bot.request('POST', f'{RBAC}/namespaces/team-a/rolebindings', missing)
    assert (status, body['message']) == (403, 'rolebindings.rbac.authorization.k8s.io "missing" is forbidden: role.rbac.authorization.k8s.io "nope" not found')
    role(raw, 'team-a', 'bind-cm-reader', [rule(['bind'], ['roles'], [G], names=['cm-reader'])])
    bind(raw, 'team-a', 'bind-cm-reader', 'Role', 'bind-cm-reader', [sa_subject('team-a')])
    assert bot.request('POST', f'{RBAC}/namespaces/team-a/rolebindings', binding)[0] == 201
    assert bot.request('POST', f'{RBAC}/namespaces/team-a/rolebindings', missing)[0] == 403


# ---------------------------------------------------------------------------------------------- aggregation
def test_cluster_role_aggregation(service_account, raw):
    bot = service_account('team-a')
    bind(raw, 'team-a', 'viewer', 'ClusterRole', 'view', [sa_subject('team-a')])
    dbc = '/apis/everest.percona.com/v1alpha1/namespaces/team-a/databaseclusters'
    assert bot.request('GET', dbc)[0] == 403
    extra = {
        'metadata': {'name': 'everest-view', 'labels': {f'{G}/aggregate-to-view': 'true'}},
        'rules': [rule(['get', 'list'], ['databaseclusters'], ['everest.percona.com'])],
    }
    assert raw('POST', f'{RBAC}/clusterroles', extra)[0] == 201
    assert bot.request('GET', dbc)[0] == 200
    for name in ('view', 'edit', 'admin'):  # admin aggregates edit, which aggregates view
        assert extra['rules'][0] in raw('GET', f'{RBAC}/clusterroles/{name}')[1]['rules'], name
    status, view = raw('GET', f'{RBAC}/clusterroles/view')
    view['rules'] = [rule(['*'], ['*'], ['*'])]  # the controller overwrites what users write
    assert raw('PUT', f'{RBAC}/clusterroles/view', view)[0] == 200
    assert rule(['*'], ['*'], ['*']) not in raw('GET', f'{RBAC}/clusterroles/view')[1]['rules']
    raw(
        'PATCH',
        f'{RBAC}/clusterroles/everest-view',
        {'metadata': {'labels': {f'{G}/aggregate-to-view': None}}},
        {'Content-Type': 'application/merge-patch+json'},
    )
    assert bot.request('GET', dbc)[0] == 403
    own = {
        'metadata': {'name': 'mine'},
        'aggregationRule': {'clusterRoleSelectors': [{'matchExpressions': [{'key': 'team', 'operator': 'In', 'values': ['a', 'b']}]}]},
    }
    assert raw('POST', f'{RBAC}/clusterroles', own)[0] == 201
    raw('POST', f'{RBAC}/clusterroles', {'metadata': {'name': 'part-b', 'labels': {'team': 'b'}}, 'rules': [rule(['get'], ['secrets'])]})
    raw(
        'POST',
        f'{RBAC}/clusterroles',
        {'metadata': {'name': 'part-a', 'labels': {'team': 'a'}}, 'rules': [rule(['list'], ['secrets']), rule(['get'], ['secrets'])]},
    )
    assert raw('GET', f'{RBAC}/clusterroles/mine')[1]['rules'] == [rule(['list'], ['secrets']), rule(['get'], ['secrets'])]
    raw('DELETE', f'{RBAC}/clusterroles/part-a')
    assert raw('GET', f'{RBAC}/clusterroles/mine')[1]['rules'] == [rule(['get'], ['secrets'])]


def test_bootstrap_policy_is_seeded_and_restored(clean_sandbox, raw):
    _st, roles = raw('GET', f'{RBAC}/clusterroles')
    names = {item['metadata']['name'] for item in roles['items']}
    assert {'cluster-admin', 'admin', 'edit', 'view', 'system:discovery', 'system:basic-user', 'system:public-info-viewer'} <= names
    _st, crb = raw('GET', f'{RBAC}/clusterrolebindings/cluster-admin')
    assert crb['subjects'] == [{'apiGroup': G, 'kind': 'Group', 'name': 'system:masters'}]
    assert raw('DELETE', f'{RBAC}/clusterrolebindings/system:discovery')[0] == 200
    clean_sandbox.reset()
    assert raw('GET', f'{RBAC}/clusterrolebindings/system:discovery')[0] == 200
    _st, accounts = raw('GET', '/api/v1/serviceaccounts')
    assert {(i['metadata']['namespace'], i['metadata']['name']) for i in accounts['items']} >= {('default', 'default'), ('everest-system', 'default')}


def test_new_namespaces_get_a_default_service_account(clean_sandbox, raw):
    assert raw('POST', '/api/v1/namespaces', {'metadata': {'generateName': 'gen-'}})[0] == 201
    _st, listing = raw('GET', '/api/v1/serviceaccounts?fieldSelector=metadata.name%3Ddefault')
    namespace = next(i['metadata']['namespace'] for i in listing['items'] if i['metadata']['namespace'].startswith('gen-'))
    _st, before = raw('GET', f'/api/v1/namespaces/{namespace}/serviceaccounts/default')
    assert raw('DELETE', f'/api/v1/namespaces/{namespace}/serviceaccounts/default')[0] == 200
    status, after = raw('GET', f'/api/v1/namespaces/{namespace}/serviceaccounts/default')
    assert status == 200 and after['metadata']['uid'] != before['metadata']['uid']


# ---------------------------------------------------------------------------------------------- reviews
def test_self_subject_access_review_reasons(service_account, raw):
    bot = service_account('team-a')
    assert can(bot, verb='list', resource='configmaps', namespace='team-a') == {'allowed': False}
    bind(raw, 'team-a', 'viewer', 'ClusterRole', 'view', [{'kind': 'ServiceAccount', 'name': 'bot'}])
    assert can(bot, verb='list', resource='configmaps', namespace='team-a') == {
        'allowed': True,
        'reason': 'RBAC: allowed by RoleBinding "viewer/team-a" of ClusterRole "view" to ServiceAccount "bot/team-a"',
    }
    bind(raw, '', 'alice-view', 'ClusterRole', 'view', [{'kind': 'User', 'name': 'alice'}])
    status, review = raw('POST', SSAR, {'spec': {'resourceAttributes': {'verb': 'get', 'resource': 'pods', 'namespace': 'x'}}}, {'Impersonate-User': 'alice'})
    assert review['status']['reason'] == 'RBAC: allowed by ClusterRoleBinding "alice-view" of ClusterRole "view" to User "alice"'
    status, review = bot.request('POST', SSAR, {'spec': {'nonResourceAttributes': {'path': '/version', 'verb': 'get'}}})
    assert status == 201 and review['status'] == {
        'allowed': True,
        'reason': 'RBAC: allowed by ClusterRoleBinding "system:discovery" of ClusterRole "system:discovery" to Group "system:authenticated"',
    }
    assert raw('POST', SSAR, {'spec': {'resourceAttributes': {'verb': 'escalate', 'resource': 'x'}}})[1]['status'] == {'allowed': True}


def test_access_review_validation_and_other_reviews(service_account, raw):
    bot = service_account('team-a')
    status, body = bot.request('POST', SSAR, {'spec': {}})
    assert (status, body['message']) == (
        422,
        'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: '
        'Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified',
    )
    assert bot.request('GET', SSAR)[0] == 403 and raw('GET', SSAR)[0] == 405  # list is not a verb of reviews
    attributes = {'verb': 'create', 'resource': 'selfsubjectaccessreviews', 'group': 'authorization.k8s.io'}
    status, review = raw(
        'POST',
        '/apis/authorization.k8s.io/v1/subjectaccessreviews',
        {'spec': {'user': bot.username, 'groups': ['system:serviceaccounts'], 'resourceAttributes': attributes}},
    )
    assert status == 201 and review['status']['allowed'] is False  # system:authenticated not in the given groups
    status, rules = bot.request('POST', '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews', {'spec': {'namespace': 'team-a'}})
    assert status == 201 and rules['status']['incomplete'] is False and 'evaluationError' not in rules['status']
    assert {'verbs': ['get'], 'nonResourceURLs': ['/healthz', '/livez', '/readyz', '/version', '/version/']} in rules['status']['nonResourceRules']
    assert {'verbs': ['create'], 'apiGroups': ['authentication.k8s.io'], 'resources': ['selfsubjectreviews']} in rules['status']['resourceRules']
    status, who = bot.request('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {})
    assert status == 201 and who['status']['userInfo']['groups'] == ['system:serviceaccounts', 'system:serviceaccounts:team-a', 'system:authenticated']


def test_python_client_sees_forbidden_and_reviews(service_account):
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    from kubernetes.client.rest import ApiException  # pylint: disable=import-outside-toplevel

    bot = service_account('team-a')
    api = bot.client()
    try:
        with pytest.raises(ApiException) as info:
            client.CoreV1Api(api).list_namespaced_config_map('team-a')
        assert info.value.status == 403 and json.loads(info.value.body)['reason'] == 'Forbidden'
        review = client.AuthorizationV1Api(api).create_self_subject_access_review(
            client.V1SelfSubjectAccessReview(
                spec=client.V1SelfSubjectAccessReviewSpec(
                    resource_attributes=client.V1ResourceAttributes(verb='create', resource='selfsubjectaccessreviews', group='authorization.k8s.io')
                )
            )
        )
        assert review.status.allowed is True and review.status.reason.startswith('RBAC: allowed by ClusterRoleBinding "system:basic-user"')
    finally:
        api.close()


# ---------------------------------------------------------------------------------------------- impersonation
def test_impersonation_needs_the_impersonate_verb(service_account, raw):
    bot = service_account('team-a')
    status, body = bot.request('GET', '/api/v1/namespaces', headers={'Impersonate-User': 'alice'})
    assert (status, body['message']) == (403, 'users "alice" is forbidden: ' + denial(bot.username, 'impersonate', 'users'))
    status, body = bot.request('GET', '/version', headers={'Impersonate-User': 'system:serviceaccount:team-a:default'})
    assert body['message'] == 'serviceaccounts "default" is forbidden: ' + denial(bot.username, 'impersonate', 'serviceaccounts', namespace='team-a')
    bind(raw, 'team-a', 'editor', 'ClusterRole', 'edit', [sa_subject('team-a')])  # edit may impersonate service accounts
    status, who = bot.request('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {}, {'Impersonate-User': 'system:serviceaccount:team-a:default'})
    assert status == 201 and who['status']['userInfo'] == {
        'username': 'system:serviceaccount:team-a:default',
        'groups': ['system:serviceaccounts', 'system:serviceaccounts:team-a', 'system:authenticated'],
    }
    status, text = raw('GET', '/version', headers={'Impersonate-Group': 'devs'})
    assert (status, text) == (500, 'Internal Server Error: "/version": requested [{Group  devs    }] without impersonating a user\n')
    status, who = raw(
        'POST',
        '/apis/authentication.k8s.io/v1/selfsubjectreviews',
        {},
        {'Impersonate-User': 'carol', 'Impersonate-Group': 'ops', 'Impersonate-Uid': 'u-1', 'Impersonate-Extra-Scopes': 'a'},
    )
    assert who['status']['userInfo'] == {'username': 'carol', 'uid': 'u-1', 'groups': ['ops', 'system:authenticated'], 'extra': {'scopes': ['a']}}


# ---------------------------------------------------------------------------------------------- access log and stats
def test_access_log_lists_distinct_attributes_per_user(service_account, raw, clean_sandbox):
    bot = service_account('team-a')
    raw('POST', '/_sandbox/access/reset')
    for _attempt in range(2):
        bot.request('GET', '/api/v1/namespaces/team-a/configmaps')
    bot.request('GET', '/api/v1/namespaces/team-a/configmaps?fieldSelector=metadata.name%3Dx&watch=true')
    bot.request('GET', '/version')
    raw('GET', '/apis/apps/v1/namespaces/team-a/deployments/web/scale')
    _st, log = raw('GET', '/_sandbox/access')
    entry = dict.fromkeys(('apiGroup', 'resource', 'subresource', 'namespace', 'name', 'path'), '')
    assert log['users'][bot.username] == [
        dict(entry, verb='list', resource='configmaps', namespace='team-a', allowed=False),
        dict(entry, verb='watch', resource='configmaps', namespace='team-a', name='x', allowed=False),
        dict(entry, verb='get', path='/version', allowed=True),
    ]
    assert log['users']['sandbox-admin'] == [
        dict(entry, verb='get', apiGroup='apps', resource='deployments', subresource='scale', namespace='team-a', name='web', allowed=True)
    ]
    stats = clean_sandbox.stats()
    assert stats['by_user'][bot.username] == 4 and set(stats) == {'total', 'by_verb', 'by_resource', 'by_user'}
    raw('POST', '/_sandbox/access/reset')
    assert raw('GET', '/_sandbox/access')[1] == {'users': {}}


def test_pod_log_subresource_authorization_and_answer(service_account, raw):
    bot = service_account('team-a')
    log = '/api/v1/namespaces/team-a/pods/web/log'
    role(raw, 'team-a', 'pods', [rule(['get'], ['pods'])])
    bind(raw, 'team-a', 'pods', 'Role', 'pods', [sa_subject('team-a')])
    status, body = bot.request('GET', log)
    assert (status, body['message']) == (403, 'pods "web" is forbidden: ' + denial(bot.username, 'get', 'pods/log', namespace='team-a'))
    role(raw, 'team-a', 'logs', [rule(['get'], ['pods/log'])])
    bind(raw, 'team-a', 'logs', 'Role', 'logs', [sa_subject('team-a')])
    assert bot.request('GET', log)[1]['message'] == 'pods "web" not found'
    pod = {'metadata': {'name': 'web'}, 'spec': {'containers': [{'name': 'a', 'image': 'x'}, {'name': 'b', 'image': 'x'}]}}
    assert raw('POST', '/api/v1/namespaces/team-a/pods', pod)[0] == 201
    status, body = bot.request('GET', log)
    assert (status, body['message']) == (400, 'a container name must be specified for pod web, choose one of: [a b]')
    assert bot.request('GET', log + '?container=c')[1]['message'] == 'container c is not valid for pod web'
    assert bot.request('GET', log + '?container=b') == (200, '')
