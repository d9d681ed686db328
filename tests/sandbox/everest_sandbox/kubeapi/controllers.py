"""The controllers the emulator runs synchronously, right after the write that triggers them.

* ClusterRole aggregation (upstream ``pkg/controller/clusterroleaggregation``): a ClusterRole with
  ``aggregationRule.clusterRoleSelectors`` gets as ``rules`` the union of the rules of every other ClusterRole any
  selector matches (roles visited by name, duplicates dropped); rules written by users are overwritten. kube-controller-
  manager does this asynchronously after every ClusterRole change; here it is done before the write returns, and
  repeated until nothing changes (``admin`` aggregates ``edit``, which aggregates ``view``).
* ServiceAccounts (upstream ``pkg/controller/serviceaccount``): every namespace gets a ``default`` ServiceAccount, and
  gets it back when it is deleted.

Controller writes go through the store as the sandbox admin (the controllers' own identities hold these rights).
"""

from __future__ import annotations

import copy

from . import errors as E
from .registry import RBAC_GROUP
from .selectors import label_selector_requirements, labels_match

MAX_PASSES = 10


def _as_controller(store, action):
    user = store.request_user()
    store.set_request_user(None)
    try:
        return action()
    finally:
        store.set_request_user(user)


def aggregated_rules(roles: dict, name: str, selectors: list) -> list:
    """The rules ClusterRole ``name`` aggregates from ``roles`` ({(ns, name): role}); shares the rule dicts."""
    rules = []
    for selector in selectors:
        reqs = label_selector_requirements(selector)
        if reqs is None:
            continue
        for (_ns, other), role in sorted(roles.items()):
            if other == name or not labels_match(reqs, role['metadata'].get('labels')):
                continue
            rules += [rule for rule in role.get('rules') or () if rule not in rules]
    return rules


def stale_aggregations(roles: dict) -> list:
    """[(name, wanted rules)] for every aggregated ClusterRole whose rules are not the union they should be."""
    out = []
    for (_ns, name), role in sorted(roles.items()):
        rule = role.get('aggregationRule')
        if isinstance(rule, dict):
            wanted = aggregated_rules(roles, name, rule.get('clusterRoleSelectors') or [])
            if wanted != (role.get('rules') or []):
                out.append((name, copy.deepcopy(wanted)))
    return out


def aggregate_cluster_roles(store):
    """Recompute every aggregated ClusterRole until stable."""
    rtype = store.registry.get(RBAC_GROUP, 'v1', 'clusterroles')

    def _run():
        with store.lock:
            for _pass in range(MAX_PASSES):
                pending = stale_aggregations(store.data.get((RBAC_GROUP, 'clusterroles'), {}))
                if not pending:
                    return
                for name, wanted in pending:
                    body = store.get(rtype, '', name)
                    body['rules'] = wanted
                    store.update(rtype, None, name, body)

    _run_safely(store, _run)


def ensure_default_service_account(store, namespace: str):
    rtype = store.registry.get('', 'v1', 'serviceaccounts')
    body = {'apiVersion': 'v1', 'kind': 'ServiceAccount', 'metadata': {'name': 'default', 'namespace': namespace}}

    def _run():
        with store.lock:
            if store.namespace_exists(namespace) and (namespace, 'default') not in store.data.get(('', 'serviceaccounts'), {}):
                store.create(rtype, namespace, body)

    _run_safely(store, _run)


def _run_safely(store, action):
    try:
        _as_controller(store, action)
    except E.ApiError:
        # a controller that cannot write retries later in kube-controller-manager; here the next trigger does
        pass


def after_write(store, method: str, route, code: int, payload):
    """Run the controllers a (not dry-run) API write triggers; ``payload`` is the response body."""
    if code >= 300:
        return
    if route.group == RBAC_GROUP and route.plural == 'clusterroles':
        aggregate_cluster_roles(store)
    elif not route.group and route.plural == 'namespaces' and code == 201 and route.subresource is None:
        ensure_default_service_account(store, ((payload or {}).get('metadata') or {}).get('name', ''))
    elif not route.group and route.plural == 'serviceaccounts' and method == 'DELETE' and route.namespace:
        ensure_default_service_account(store, route.namespace)  # a deleted ``default`` comes back (with a new uid)


def reconcile_all(store):
    """After seeding: every namespace has its ``default`` ServiceAccount and every aggregated ClusterRole is current."""
    for _ns, name in list(store.data.get(('', 'namespaces'), {})):
        ensure_default_service_account(store, name)
    aggregate_cluster_roles(store)
