"""Unit tests of the emulator's request attributes, RBAC rule matching and escalation comparison."""

import pytest

from everest_sandbox.kubeapi.escalation import compact, compact_string, uncovered
from everest_sandbox.kubeapi.rbac import rule_allows
from everest_sandbox.kubeapi.requestinfo import Attributes, exact_name, request_attributes

USER = {'username': 'u', 'groups': [], 'uid': '', 'extra': {}}


@pytest.mark.parametrize(
    'method, path, query, expected',
    [
        ('GET', '/api', {}, ('get', False, '/api', '', '', '', '', '')),
        ('GET', '/api/v1', {}, ('get', False, '/api/v1', '', '', '', '', '')),
        ('GET', '/apis/apps/v1', {}, ('get', False, '/apis/apps/v1', '', '', '', '', '')),
        ('POST', '/healthz', {}, ('post', False, '/healthz', '', '', '', '', '')),
        ('GET', '/api/v1/namespaces', {}, ('list', True, '', '', 'namespaces', '', '', '')),
        ('GET', '/api/v1/namespaces/ns1', {}, ('get', True, '', '', 'namespaces', '', 'ns1', 'ns1')),
        ('PUT', '/api/v1/namespaces/ns1/finalize', {}, ('update', True, '', '', 'namespaces', 'finalize', 'ns1', 'ns1')),
        ('GET', '/api/v1/namespaces/ns1/configmaps', {'watch': ['true']}, ('watch', True, '', '', 'configmaps', '', 'ns1', '')),
        ('GET', '/api/v1/namespaces/ns1/configmaps', {'watch': ['false']}, ('list', True, '', '', 'configmaps', '', 'ns1', '')),
        ('GET', '/api/v1/namespaces/ns1/configmaps', {'watch': ['yes']}, ('watch', True, '', '', 'configmaps', '', 'ns1', '')),
        ('GET', '/api/v1/watch/namespaces/ns1/configmaps', {}, ('watch', True, '', '', 'configmaps', '', 'ns1', '')),
        ('GET', '/api/v1/namespaces/ns1/configmaps', {'fieldSelector': ['metadata.name=a']}, ('list', True, '', '', 'configmaps', '', 'ns1', 'a')),
        (
            'DELETE',
            '/api/v1/namespaces/ns1/configmaps',
            {'fieldSelector': ['metadata.name=a']},
            ('deletecollection', True, '', '', 'configmaps', '', 'ns1', ''),
        ),
        ('DELETE', '/api/v1/namespaces/ns1/configmaps/a', {}, ('delete', True, '', '', 'configmaps', '', 'ns1', 'a')),
        ('PATCH', '/apis/apps/v1/namespaces/ns1/deployments/web/scale', {}, ('patch', True, '', 'apps', 'deployments', 'scale', 'ns1', 'web')),
        ('POST', '/api/v1/namespaces/ns1/serviceaccounts/sa/token', {}, ('create', True, '', '', 'serviceaccounts', 'token', 'ns1', 'sa')),
        (
            'GET',
            '/apis/rbac.authorization.k8s.io/v1/clusterroles/system:discovery',
            {},
            ('get', True, '', 'rbac.authorization.k8s.io', 'clusterroles', '', '', 'system:discovery'),
        ),
    ],
)
def test_request_attributes(method, path, query, expected):
    assert request_attributes(USER, method, path, query).key() == expected


@pytest.mark.parametrize(
    'selector, name',
    [
        ('metadata.name=a', 'a'),
        ('metadata.name==a', 'a'),
        ('metadata.name!=a', ''),
        ('a=b,metadata.name=x', 'x'),
        ('metadata.name=a/b', ''),
        ('metadata.name=..', ''),
        ('garbage', ''),
        ('metadata.name=a!=b', 'a!=b'),
        ('', ''),
    ],
)
def test_exact_name(selector, name):
    assert exact_name(selector) == name


def res(verb, resource, subresource='', name='', group=''):
    return Attributes(USER, verb, True, '', group, 'v1', resource, subresource, 'ns', name)


@pytest.mark.parametrize(
    'rule, attrs, allowed',
    [
        ({'apiGroups': [''], 'resources': ['pods'], 'verbs': ['get']}, res('get', 'pods'), True),
        ({'apiGroups': [''], 'resources': ['pods'], 'verbs': ['get']}, res('get', 'pods', 'log'), False),
        ({'apiGroups': [''], 'resources': ['pods/log'], 'verbs': ['get']}, res('get', 'pods', 'log'), True),
        ({'apiGroups': [''], 'resources': ['*/log'], 'verbs': ['get']}, res('get', 'pods', 'log'), True),
        ({'apiGroups': [''], 'resources': ['*/log'], 'verbs': ['get']}, res('get', 'pods', 'logs'), False),
        ({'apiGroups': [''], 'resources': ['*/log'], 'verbs': ['get']}, res('get', 'log'), False),
        ({'apiGroups': ['*'], 'resources': ['*'], 'verbs': ['*']}, res('escalate', 'roles', group='rbac.authorization.k8s.io'), True),
        ({'apiGroups': ['apps'], 'resources': ['*'], 'verbs': ['*']}, res('get', 'pods'), False),
        ({'apiGroups': [''], 'resources': ['pods'], 'verbs': ['get'], 'resourceNames': ['a']}, res('get', 'pods', name='a'), True),
        ({'apiGroups': [''], 'resources': ['pods'], 'verbs': ['list'], 'resourceNames': ['a']}, res('list', 'pods'), False),
        ({'nonResourceURLs': ['/apis/*'], 'verbs': ['get']}, Attributes(USER, 'get', False, '/apis/apps/v1'), True),
        ({'nonResourceURLs': ['/apis/*'], 'verbs': ['get']}, Attributes(USER, 'get', False, '/apis'), False),
        ({'nonResourceURLs': ['*'], 'verbs': ['get']}, Attributes(USER, 'post', False, '/x'), False),
        ({'nonResourceURLs': ['/version'], 'verbs': ['get']}, res('get', 'version'), False),
    ],
)
def test_rule_allows(rule, attrs, allowed):
    assert rule_allows(attrs, rule) is allowed


def test_uncovered_compact_and_strings():
    owner = [
        {'apiGroups': [''], 'resources': ['configmaps'], 'verbs': ['get']},
        {'apiGroups': ['apps'], 'resources': ['*/scale'], 'verbs': ['*']},
        {'nonResourceURLs': ['/logs/*'], 'verbs': ['get']},
    ]
    wanted = [
        {'apiGroups': ['', 'apps'], 'resources': ['configmaps'], 'verbs': ['get', 'list']},
        {'apiGroups': ['apps'], 'resources': ['deployments/scale', 'deployments'], 'verbs': ['patch']},
        {'apiGroups': [''], 'resources': ['secrets'], 'resourceNames': ['a', 'b'], 'verbs': ['get']},
        {'nonResourceURLs': ['/logs/x', '/metrics'], 'verbs': ['get']},
    ]
    missing = uncovered(owner, wanted)
    assert [compact_string(r) for r in compact(missing)] == [
        '{NonResourceURLs:["/metrics"], Verbs:["get"]}',
        '{APIGroups:[""], Resources:["configmaps"], Verbs:["list"]}',
        '{APIGroups:["apps"], Resources:["configmaps"], Verbs:["get" "list"]}',
        '{APIGroups:["apps"], Resources:["deployments"], Verbs:["patch"]}',
        '{APIGroups:[""], Resources:["secrets"], ResourceNames:["a"], Verbs:["get"]}',
        '{APIGroups:[""], Resources:["secrets"], ResourceNames:["b"], Verbs:["get"]}',
    ]
    named_owner = [{'apiGroups': [''], 'resources': ['secrets'], 'resourceNames': ['a'], 'verbs': ['get']}]
    assert uncovered(named_owner, [{'apiGroups': [''], 'resources': ['secrets'], 'resourceNames': ['a'], 'verbs': ['get']}]) == []
    assert len(uncovered(named_owner, [{'apiGroups': [''], 'resources': ['secrets'], 'verbs': ['get']}])) == 1
