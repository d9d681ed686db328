"""Bootstrap RBAC policy, as kube-apiserver creates it at start-up (seeded, so ``reset`` restores it).

Upstream: ``plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go`` (kubernetes/kubernetes). The subset an
emulator needs: ``cluster-admin`` (bound to ``system:masters``), ``system:discovery``, ``system:basic-user`` and
``system:public-info-viewer`` (bound to ``system:authenticated``), and the user-facing ``admin``/``edit``/``view``,
which aggregate the ``system:aggregate-to-{admin,edit,view}`` roles (and any ClusterRole labelled
``rbac.authorization.k8s.io/aggregate-to-<name>: "true"``). Their rule sets are upstream's, including kinds the
emulator does not serve. ``objects()`` returns the manifests in creation order, the aggregated roles with the rules
the aggregation controller would give them (so that a reset does not have to update them).
"""

from __future__ import annotations

import functools

from .controllers import MAX_PASSES, stale_aggregations
from .registry import RBAC_GROUP

API_VERSION = f'{RBAC_GROUP}/v1'
BOOTSTRAP_LABELS = {'kubernetes.io/bootstrapping': 'rbac-defaults'}
AUTOUPDATE = {'rbac.authorization.kubernetes.io/autoupdate': 'true'}
READ = ['get', 'list', 'watch']
WRITE = ['create', 'delete', 'deletecollection', 'patch', 'update']
ALL = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch']


def _rule(verbs, groups, resources) -> dict:
    return {'apiGroups': list(groups), 'resources': list(resources), 'verbs': list(verbs)}


def _urls(*urls) -> dict:
    return {'nonResourceURLs': list(urls), 'verbs': ['get']}


def _aggregate_label(name: str) -> dict:
    return {f'{RBAC_GROUP}/aggregate-to-{name}': 'true'}


def _cluster_role(name: str, rules, labels=None, aggregate_from: str = '') -> dict:
    role = {
        'apiVersion': API_VERSION,
        'kind': 'ClusterRole',
        'metadata': {'name': name, 'labels': dict(BOOTSTRAP_LABELS, **(labels or {})), 'annotations': dict(AUTOUPDATE)},
        'rules': rules,
    }
    if aggregate_from:
        role['aggregationRule'] = {'clusterRoleSelectors': [{'matchLabels': _aggregate_label(aggregate_from)}]}
    return role


def _cluster_role_binding(name: str, *groups) -> dict:
    return {
        'apiVersion': API_VERSION,
        'kind': 'ClusterRoleBinding',
        'metadata': {'name': name, 'labels': dict(BOOTSTRAP_LABELS), 'annotations': dict(AUTOUPDATE)},
        'roleRef': {'apiGroup': RBAC_GROUP, 'kind': 'ClusterRole', 'name': name},
        'subjects': [{'apiGroup': RBAC_GROUP, 'kind': 'Group', 'name': group} for group in groups],
    }


AGGREGATE_TO_ADMIN = [
    _rule(['create'], ['authorization.k8s.io'], ['localsubjectaccessreviews']),
    _rule(ALL, [RBAC_GROUP], ['rolebindings', 'roles']),
]
AGGREGATE_TO_EDIT = [
    _rule(READ, [''], ['pods/attach', 'pods/exec', 'pods/portforward', 'pods/proxy', 'secrets', 'services/proxy']),
    _rule(['impersonate'], [''], ['serviceaccounts']),
    _rule(WRITE, [''], ['pods', 'pods/attach', 'pods/exec', 'pods/portforward', 'pods/proxy']),
    _rule(['create'], [''], ['pods/eviction']),
    _rule(
        WRITE,
        [''],
        [
            'configmaps',
            'events',
            'persistentvolumeclaims',
            'replicationcontrollers',
            'replicationcontrollers/scale',
            'secrets',
            'serviceaccounts',
            'services',
            'services/proxy',
        ],
    ),
    _rule(['create'], [''], ['serviceaccounts/token']),
    _rule(
        WRITE,
        ['apps'],
        ['daemonsets', 'deployments', 'deployments/rollback', 'deployments/scale', 'replicasets', 'replicasets/scale', 'statefulsets', 'statefulsets/scale'],
    ),
    _rule(WRITE, ['autoscaling'], ['horizontalpodautoscalers']),
    _rule(WRITE, ['batch'], ['cronjobs', 'jobs']),
    _rule(
        WRITE,
        ['extensions'],
        [
            'daemonsets',
            'deployments',
            'deployments/rollback',
            'deployments/scale',
            'ingresses',
            'networkpolicies',
            'replicasets',
            'replicasets/scale',
            'replicationcontrollers/scale',
        ],
    ),
    _rule(WRITE, ['policy'], ['poddisruptionbudgets']),
    _rule(WRITE, ['networking.k8s.io'], ['ingresses', 'networkpolicies']),
    _rule(ALL, ['coordination.k8s.io'], ['leases']),
]
AGGREGATE_TO_VIEW = [
    _rule(
        READ,
        [''],
        [
            'configmaps',
            'endpoints',
            'persistentvolumeclaims',
            'persistentvolumeclaims/status',
            'pods',
            'replicationcontrollers',
            'replicationcontrollers/scale',
            'serviceaccounts',
            'services',
            'services/status',
        ],
    ),
    _rule(
        READ,
        [''],
        [
            'bindings',
            'events',
            'limitranges',
            'namespaces/status',
            'pods/log',
            'pods/status',
            'replicationcontrollers/status',
            'resourcequotas',
            'resourcequotas/status',
        ],
    ),
    _rule(READ, [''], ['namespaces']),
    _rule(READ, ['discovery.k8s.io'], ['endpointslices']),
    _rule(
        READ,
        ['apps'],
        [
            'controllerrevisions',
            'daemonsets',
            'daemonsets/status',
            'deployments',
            'deployments/scale',
            'deployments/status',
            'replicasets',
            'replicasets/scale',
            'replicasets/status',
            'statefulsets',
            'statefulsets/scale',
            'statefulsets/status',
        ],
    ),
    _rule(READ, ['autoscaling'], ['horizontalpodautoscalers', 'horizontalpodautoscalers/status']),
    _rule(READ, ['batch'], ['cronjobs', 'cronjobs/status', 'jobs', 'jobs/status']),
    _rule(
        READ,
        ['extensions'],
        [
            'daemonsets',
            'daemonsets/status',
            'deployments',
            'deployments/scale',
            'deployments/status',
            'ingresses',
            'ingresses/status',
            'networkpolicies',
            'replicasets',
            'replicasets/scale',
            'replicasets/status',
            'replicationcontrollers/scale',
        ],
    ),
    _rule(READ, ['policy'], ['poddisruptionbudgets', 'poddisruptionbudgets/status']),
    _rule(READ, ['networking.k8s.io'], ['ingresses', 'ingresses/status', 'networkpolicies']),
]


def objects() -> list:
    """Bootstrap ClusterRoles (``admin``/``edit``/``view`` already aggregated), then their ClusterRoleBindings.

    Computed once and shared: treat the manifests as read-only (``Store.create`` copies what it is given)."""
    return list(_objects())


@functools.lru_cache(maxsize=1)
def _objects() -> list:
    out = _manifests()
    roles = {('', obj['metadata']['name']): obj for obj in out if obj['kind'] == 'ClusterRole'}
    for _pass in range(MAX_PASSES):
        pending = stale_aggregations(roles)
        if not pending:
            break
        for name, rules in pending:
            roles[('', name)]['rules'] = rules
    return out


def _manifests() -> list:
    return [
        _cluster_role('admin', None, aggregate_from='admin'),
        _cluster_role('cluster-admin', [_rule(['*'], ['*'], ['*']), {'nonResourceURLs': ['*'], 'verbs': ['*']}]),
        _cluster_role('edit', None, _aggregate_label('admin'), aggregate_from='edit'),
        _cluster_role('view', None, _aggregate_label('edit'), aggregate_from='view'),
        _cluster_role('system:aggregate-to-admin', AGGREGATE_TO_ADMIN, _aggregate_label('admin')),
        _cluster_role('system:aggregate-to-edit', AGGREGATE_TO_EDIT, _aggregate_label('edit')),
        _cluster_role('system:aggregate-to-view', AGGREGATE_TO_VIEW, _aggregate_label('view')),
        _cluster_role(
            'system:basic-user',
            [
                _rule(['create'], ['authorization.k8s.io'], ['selfsubjectaccessreviews', 'selfsubjectrulesreviews']),
                _rule(['create'], ['authentication.k8s.io'], ['selfsubjectreviews']),
            ],
        ),
        _cluster_role(
            'system:discovery',
            [_urls('/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/openapi', '/openapi/*', '/readyz', '/version', '/version/')],
        ),
        _cluster_role('system:public-info-viewer', [_urls('/healthz', '/livez', '/readyz', '/version', '/version/')]),
        _cluster_role_binding('cluster-admin', 'system:masters'),
        _cluster_role_binding('system:basic-user', 'system:authenticated'),
        _cluster_role_binding('system:discovery', 'system:authenticated'),
        _cluster_role_binding('system:public-info-viewer', 'system:authenticated', 'system:unauthenticated'),
    ]
