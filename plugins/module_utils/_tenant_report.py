# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tenant_info's view of every tenant: its policy, namespace, operators, users, usage, headroom, the layers that
enforce its policy (with the live quota usage Kubernetes reports) and drift, read with a fixed number of calls.

``layers`` is a map from a layer's name to what is known of it, every entry with at least ``required`` (the policy
calls for the layer), ``in_force`` (Kubernetes enforces it now) and ``name`` (the object, or null): the admission policy
(``admission_policy``: the ValidatingAdmissionPolicy and its binding), then the layers of ``_tenant_quotas.LAYERS``.
A new layer is one more key; readers that iterate over it need no change.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.virakcloud.everest.plugins.module_utils import (
    _accounts,
    _admission,
    _constants,
    _k8s,
    _quota,
    _rbac_store,
    _tenant_quotas,
    _trp_policy,
)

ADMISSION = 'admission_policy'


def admission_layer(vap, binding):
    """The admission layer: in force when the policy and a binding to it that denies exist (the API server then refuses a
    DatabaseCluster breaking its namespace's policy)."""
    name = _admission.names()[0]
    spec = (binding or {}).get('spec') or {}
    bound = vap is not None and binding is not None and spec.get('policyName') == name and 'Deny' in (spec.get('validationActions') or [])
    return {'required': True, 'in_force': bound, 'name': name if vap is not None else None}


def layers_report(policy, objects, admission):
    """``layers`` of one tenant (see the file docstring): ``objects`` {layer: object} of its namespace, ``admission``
    the admission layer (``admission_layer``)."""
    spec = _trp_policy.canonical_spec(policy.get('spec'))
    out = {ADMISSION: dict(admission)}
    for layer in _tenant_quotas.LAYERS:
        out[layer] = _tenant_quotas.layer_status(layer, (objects or {}).get(layer), spec)
    return out


def tenant_report(policy, namespace_obj, subscriptions, clusters, policy_csv, accounts, objects=None, admission=None):
    """One tenant's view for tenant_info (pure). ``policy_csv`` None = no RBAC ConfigMap; ``accounts`` None = unknown;
    ``objects`` {layer: object} found in its namespace; ``admission`` the admission layer (None: not in force)."""
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
    layers = layers_report(policy, objects, admission or admission_layer(None, None))
    drift = {
        'namespace_missing': namespace_obj is None,
        'namespace_not_managed': not managed,
        'rbac_block_missing': not block_found,
        'missing_accounts': missing_accounts,
        'over_limits': over,
        'layers_missing': [name for name, layer in layers.items() if layer['required'] and not layer['in_force']],
        'quota_over': ['%s %s' % (layer['name'], key) for name, layer in layers.items() for key in layer.get('over') or []],
    }
    return {
        'namespace': namespace,
        'policy_name': meta.get('name'),
        'managed': managed,
        'operators': operators,
        'users': users,
        'groups': _quota.rbac_block_groups(policy_csv, namespace),
        'allowed_engines': _trp_policy.canonical_spec(policy.get('spec'))['selectors']['engines'],
        'limits': limits,
        'usage': _quota.usage_view(usage),
        'headroom': _quota.headroom_view(limits, usage),
        'layers': layers,
        'drift': drift,
        'drifted': bool(
            drift['namespace_not_managed'] or drift['rbac_block_missing'] or missing_accounts or over or drift['layers_missing'] or drift['quota_over']
        ),
        'warnings': usage['warnings'],
    }


def _by_namespace(items):
    out = {}
    for obj in items:
        out.setdefault((obj.get('metadata') or {}).get('namespace'), []).append(obj)
    return out


def _layer_objects(client, namespace):
    """{namespace: {(kind, name): object}} of the ResourceQuotas and LimitRanges (of one namespace, or all): one LIST each."""
    out = {}
    for kind in sorted(set(_tenant_quotas.KIND.values())):
        for obj in client.list(_tenant_quotas.path(kind, namespace))['items']:
            meta = obj.get('metadata') or {}
            out.setdefault(meta.get('namespace'), {})[(kind, meta.get('name'))] = obj
    return out


def _objects_of(found, policy):
    meta = policy.get('metadata') or {}
    objects = found.get(meta.get('namespace'), {})
    out = {}
    for layer in _tenant_quotas.LAYERS:
        obj = objects.get((_tenant_quotas.KIND[layer], _tenant_quotas.object_name(layer, meta.get('name'))))
        if obj is not None:
            out[layer] = obj
    return out


def collect_tenants(client, namespace=None, policy_name=None):
    """Read everything tenant_info needs with a fixed number of calls (LISTs, not per-tenant GETs when listing all):
    besides the tenants' objects, the admission policy and its binding (two GETs) and one LIST each of ResourceQuotas and
    LimitRanges."""
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
    found, admission = {}, None
    if policies:
        vap_name, binding_name = _admission.names()
        vap = client.get_or_none(_admission.path(_constants.ADMISSION_POLICY_PLURAL, vap_name))
        binding = client.get_or_none(_admission.path(_constants.ADMISSION_BINDING_PLURAL, binding_name))
        admission = admission_layer(vap, binding)
        found = _layer_objects(client, namespace)
    reports = []
    for pol in sorted(policies, key=lambda p: ((p.get('metadata') or {}).get('namespace'), (p.get('metadata') or {}).get('name'))):
        ns = (pol.get('metadata') or {}).get('namespace')
        reports.append(tenant_report(pol, namespaces.get(ns), subs.get(ns, []), clusters.get(ns, []), policy_csv, accounts, _objects_of(found, pol), admission))
    return reports
