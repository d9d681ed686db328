# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tenant_info's view of every tenant: its policy, namespace, operators, users, usage, headroom and drift, read with
a fixed number of calls."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.virakcloud.everest.plugins.module_utils import _accounts, _constants, _k8s, _quota, _rbac_store, _trp_policy


def tenant_report(policy, namespace_obj, subscriptions, clusters, policy_csv, accounts):
    """One tenant's view for tenant_info (pure). ``policy_csv`` None = no RBAC ConfigMap; ``accounts`` None = unknown."""
    meta = policy.get('metadata') or {}
    namespace = meta.get('namespace')
    block_found, users = _quota.rbac_block(policy_csv, namespace)
    limits = _trp_policy.limits_view(policy.get('spec'))
    usage = _quota.namespace_usage(clusters, users)
    ns_labels = _k8s.labels_of(namespace_obj)
    managed = namespace_obj is not None and ns_labels.get(_constants.MANAGED_BY_LABEL) == _constants.EVEREST_MANAGED_BY
    operators = sorted(
        _constants.SUBSCRIPTION_SHORT_NAMES.get((s.get('metadata') or {}).get('name'), (s.get('metadata') or {}).get('name')) for s in subscriptions
    )
    missing_accounts = sorted(u for u in users if accounts is not None and u not in accounts)
    over = _quota.over_limits(limits, usage)
    drift = {
        'namespace_missing': namespace_obj is None,
        'namespace_not_managed': not managed,
        'rbac_block_missing': not block_found,
        'missing_accounts': missing_accounts,
        'over_limits': over,
    }
    return {
        'namespace': namespace,
        'policy_name': meta.get('name'),
        'managed': managed,
        'operators': operators,
        'users': users,
        'allowed_engines': _trp_policy.canonical_spec(policy.get('spec'))['selectors']['engines'],
        'limits': limits,
        'usage': _quota.usage_view(usage),
        'headroom': _quota.headroom_view(limits, usage),
        'drift': drift,
        'drifted': bool(drift['namespace_not_managed'] or drift['rbac_block_missing'] or missing_accounts or over),
        'warnings': usage['warnings'],
    }


def _by_namespace(items):
    out = {}
    for obj in items:
        out.setdefault((obj.get('metadata') or {}).get('namespace'), []).append(obj)
    return out


def collect_tenants(client, namespace=None, policy_name=None):
    """Read everything tenant_info needs with a fixed number of calls (LISTs, not per-tenant GETs when listing all)."""
    if namespace is not None:
        policies = _k8s.list_items(client, _trp_policy.trp_path(namespace))
        ns_obj = client.get_or_none(_k8s.path('v1', 'namespaces', name=namespace))
        namespaces = {namespace: ns_obj} if ns_obj is not None else {}
        subs = {namespace: _k8s.list_items(client, _k8s.path(_constants.SUBSCRIPTION_API_VERSION, 'subscriptions', namespace))}
        clusters = {namespace: _quota.list_clusters(client, namespace)}
    else:
        policies = _k8s.list_items(client, _trp_policy.trp_path())
        namespaces = dict(((o.get('metadata') or {}).get('name'), o) for o in client.list(_k8s.path('v1', 'namespaces'))['items'])
        subs = _by_namespace(_k8s.list_items(client, _k8s.path(_constants.SUBSCRIPTION_API_VERSION, 'subscriptions')))
        clusters = _by_namespace(_quota.list_clusters(client))
    if policy_name is not None:
        policies = [p for p in policies if (p.get('metadata') or {}).get('name') == policy_name]
    policy_csv = _rbac_store.read_policy_text(client) if policies else None
    accounts = _accounts.read_account_names(client) if policies else None
    reports = []
    for pol in sorted(policies, key=lambda p: ((p.get('metadata') or {}).get('namespace'), (p.get('metadata') or {}).get('name'))):
        ns = (pol.get('metadata') or {}).get('namespace')
        reports.append(tenant_report(pol, namespaces.get(ns), subs.get(ns, []), clusters.get(ns, []), policy_csv, accounts))
    return reports
