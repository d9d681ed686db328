# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TenantResourcePolicy (TRP) and the objects it implies in its namespace (count, compute and storage
ResourceQuotas, the LimitRange: ``_tenant_quotas.py``): desired state, observation, plan and apply.

Structure (so one policy and a batch of policies share everything):

* ``normalize_item`` validates one item of module options before any call (quantities, negatives, names);
* ``observe_one`` / ``observe_all`` fetch the TRP and its quotas and LimitRange (a GET and a LIST of each kind in the
  namespace, or one LIST per kind for a whole batch);
* ``plan_item`` compares desired and observed state (pure) and says what to write;
* ``apply_plan`` performs the writes (conditional PUT with conflict retry, create, delete);
* ``converge_policies`` runs the three for a list of items.

Canonical spec form (what we write and what we compare):

* ``limits.cpuCores``: number of cores, an int when integral (``4``), else a float (``0.5`` for ``500m``);
  never finer than nano cores;
* ``limits.memoryBytes``, ``limits.storageBytes``: integer bytes, fractional bytes rounded up (``1.5`` -> 2, like
  ``Quantity.Value()``);
* ``limits.maxClusters`` / ``limits.maxDbUsers``: integers;
* a limit that is not given is absent (not enforced);
* ``selectors.engines``: sorted and de-duplicated (the order carries no meaning, so one order is written
  and a list written by someone else in another order is not a change).

The CRD itself: ``_trp_crd.py``; usage and requests against a policy: ``_quota.py``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import time

from ansible_collections.virakcloud.everest.plugins.module_utils import _constants, _k8s, _ownership, _quantity, _tenant_quotas, _trp_crd, _validation
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import (
    EverestError,
    K8sAlreadyExists,
    K8sInvalid,
    K8sNotFound,
    ValidationError,
)

LIMIT_KEYS = ('cpuCores', 'memoryBytes', 'storageBytes', 'maxClusters', 'maxDbUsers')
LIMIT_OPTIONS = ('cpu', 'memory', 'storage', 'max_clusters', 'max_db_users')
LAYER_OPTIONS = {
    _tenant_quotas.COUNT: 'cluster_quota',
    _tenant_quotas.COMPUTE: 'compute_quota',
    _tenant_quotas.STORAGE: 'storage_quota',
    _tenant_quotas.LIMIT_RANGE: 'compute_quota',
}
INT64_MAX = 2**63 - 1


def trp_path(namespace=None, name=None, subresource=None):
    return _k8s.path(_constants.TRP_API_VERSION, _constants.TRP_PLURAL, namespace, name, subresource)


def quota_path(namespace=None, name=None):
    return _k8s.path('v1', 'resourcequotas', namespace, name)


def quota_name(policy_name):
    """Name of the count ResourceQuota a policy manages: ``<policy name>-clusters``."""
    return _tenant_quotas.object_name(_tenant_quotas.COUNT, policy_name)


# ------------------------------------------------------------------------------------------------- normalisation


def _limit_int(value, what):
    if isinstance(value, bool):
        raise ValidationError('%s must be an integer, got %r' % (what, value))
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and _validation.INTEGER_RE.match(value.strip()):
        value = int(value.strip())
    if not isinstance(value, int):
        raise ValidationError('%s must be an integer, got %r' % (what, value))
    if value < 0:
        raise ValidationError('%s must not be negative, got %d' % (what, value))
    if value > INT64_MAX:
        raise ValidationError('%s is too large: %d' % (what, value))
    return value


def _count_limit(value, what):
    """A count a tenant may be given (max_clusters, max_db_users): 0 to _validation.MAX_COUNT_LIMIT."""
    value = _limit_int(value, what)
    if value > _validation.MAX_COUNT_LIMIT:
        raise ValidationError(
            '%s is %d, more than the %d this collection accepts; a count that large is a typo, not a plan' % (what, value, _validation.MAX_COUNT_LIMIT)
        )
    return value


non_negative_quantity = _quantity.non_negative  # the name the quota check and the tests use


def normalize_cpu(value, what='limits.cpu'):
    """Cores as a JSON number (``'500m'`` -> 0.5, ``4.0`` -> 4). Raises ValidationError."""
    return _quantity.to_number(non_negative_quantity(value, what))


def normalize_memory(value, what='limits.memory'):
    """Integer bytes (``'16Gi'`` -> 17179869184, ``1.5`` -> 2). Raises ValidationError."""
    result = _quantity.value_ceil(non_negative_quantity(value, what))
    if result > INT64_MAX:
        raise ValidationError('%s is too large: %r is more than 2^63-1 bytes' % (what, value))
    return result


def normalize_storage(value, what='limits.storage'):
    """Integer bytes, as for memory (``'100Gi'`` -> 107374182400). Raises ValidationError."""
    return normalize_memory(value, what)


def normalize_engines(engines, what='allowed_engines'):
    if engines is None:
        return list(_constants.POLICY_ENGINES)
    if not isinstance(engines, (list, tuple)):
        raise ValidationError('%s must be a list of engine names' % what)
    bad = [e for e in engines if e not in _constants.POLICY_ENGINES]
    if bad:
        raise ValidationError('%s: unknown engine(s) %s; use %s' % (what, ', '.join(str(b) for b in bad), ', '.join(_constants.POLICY_ENGINES)))
    return sorted(set(engines))


def desired_spec(limits, engines):
    """Canonical spec from module options ``limits`` (cpu, memory, storage, max_clusters, max_db_users) and ``allowed_engines``."""
    limits = limits or {}
    unknown = sorted(set(limits) - set(LIMIT_OPTIONS))
    if unknown:
        raise ValidationError('limits: unknown key(s) %s; use %s' % (', '.join(unknown), ', '.join(LIMIT_OPTIONS)))
    out = {}
    if limits.get('cpu') is not None:
        out['cpuCores'] = normalize_cpu(limits['cpu'])
    if limits.get('memory') is not None:
        out['memoryBytes'] = normalize_memory(limits['memory'])
    if limits.get('storage') is not None:
        out['storageBytes'] = normalize_storage(limits['storage'])
    if limits.get('max_clusters') is not None:
        out['maxClusters'] = _count_limit(limits['max_clusters'], 'limits.max_clusters')
    if limits.get('max_db_users') is not None:
        out['maxDbUsers'] = _count_limit(limits['max_db_users'], 'limits.max_db_users')
    return {'limits': out, 'selectors': {'engines': normalize_engines(engines)}}


def canonical_spec(spec):
    """Canonical form of a spec read from the API server (tolerant: values it cannot read are kept as they are,
    so they compare unequal and get rewritten)."""
    spec = spec if isinstance(spec, dict) else {}
    limits = spec.get('limits') if isinstance(spec.get('limits'), dict) else {}
    out = {}
    for key in LIMIT_KEYS:
        value = limits.get(key)
        if value is None:
            continue
        try:
            if key == 'cpuCores':
                out[key] = normalize_cpu(value)
            elif key in ('memoryBytes', 'storageBytes'):
                out[key] = normalize_memory(value)
            else:
                out[key] = _limit_int(value, key)
        except ValidationError:
            out[key] = value
    selectors = spec.get('selectors') if isinstance(spec.get('selectors'), dict) else {}
    engines = selectors.get('engines')
    if isinstance(engines, list):
        try:
            engines = sorted(set(engines))
        except TypeError:
            pass
    return {'limits': out, 'selectors': {'engines': engines if engines is not None else []}}


def limits_view(spec):
    """Policy limits in snake_case with exact values (``None`` = not enforced) for return values."""
    limits = canonical_spec(spec)['limits']
    return {
        'cpu_cores': limits.get('cpuCores'),
        'memory_bytes': limits.get('memoryBytes'),
        'storage_bytes': limits.get('storageBytes'),
        'max_clusters': limits.get('maxClusters'),
        'max_db_users': limits.get('maxDbUsers'),
    }


def check_names(namespace, name):
    err = _validation.check_namespace(namespace)
    if err:
        raise ValidationError('namespace %r: %s' % (namespace, err))
    if (
        not isinstance(name, str)
        or len(name) > _validation.DNS_SUBDOMAIN_MAX_LENGTH - len(_constants.QUOTA_NAME_SUFFIX)
        or not _validation.DNS_SUBDOMAIN_RE.match(name)
    ):
        raise ValidationError('name %r is not a valid Kubernetes object name (RFC 1123 subdomain, at most 244 characters)' % (name,))


def normalize_item(item):
    """Validate one item (the single-form options) before any call. Returns a new dict with ``spec`` and ``labels``."""
    namespace = item.get('namespace')
    name = item.get('name') or _constants.DEFAULT_POLICY_NAME
    check_names(namespace, name)
    labels = item.get('labels') or {}
    if not isinstance(labels, dict):
        raise ValidationError('labels must be a map of strings to strings')
    for key, value in sorted(labels.items()):
        problem = _validation.check_label(key, value)
        if problem:
            raise ValidationError('TenantResourcePolicy %s/%s: %s; fix labels' % (namespace, name, problem))
    tenant = item.get('tenant')
    if tenant is not None:
        problem = _validation.check_tenant_name(tenant)
        if problem:
            raise ValidationError('TenantResourcePolicy %s/%s: %s' % (namespace, name, problem))
        labels = dict(labels, **{_constants.TENANT_LABEL: tenant})
    state = item.get('state') or 'present'
    if state not in ('present', 'absent'):
        raise ValidationError('state must be present or absent, got %r' % (state,))
    result = {
        'namespace': namespace,
        'name': name,
        'state': state,
        'tenant': tenant,
        'claimant': labels.get(_constants.TENANT_LABEL),
        'takeover_from': item.get('takeover_from'),
        'cluster_quota': item.get('cluster_quota', True) is not False,
        'compute_quota': item.get('compute_quota', True) is not False,
        'storage_quota': item.get('storage_quota', True) is not False,
        'labels': managed_labels(namespace, labels),
        'spec': None,
        'settings': _tenant_quotas.normalize_settings(item.get('quota_headroom'), item.get('default_requests')),
    }
    if state == 'present':
        result['spec'] = desired_spec(item.get('limits'), item.get('allowed_engines'))
    return result


def managed_layers(item):
    """The layers an item manages: those whose option is on; every layer when the item removes the policy (only
    objects this collection labelled are then deleted)."""
    return [layer for layer in _tenant_quotas.LAYERS if item['state'] == 'absent' or item[LAYER_OPTIONS[layer]]]


def managed_labels(namespace, extra=None):
    labels = dict(extra or {})
    labels[_constants.MANAGED_BY_LABEL] = _constants.MANAGED_BY
    labels[_constants.TENANT_NAMESPACE_LABEL] = namespace
    return labels


# ------------------------------------------------------------------------------------------------------- objects


def policy_body(namespace, name, spec, labels):
    return {
        'apiVersion': _constants.TRP_API_VERSION,
        'kind': _constants.TRP_KIND,
        'metadata': {'name': name, 'namespace': namespace, 'labels': dict(labels)},
        'spec': copy.deepcopy(spec),
    }


def is_managed(obj):
    return _k8s.labels_of(obj).get(_constants.MANAGED_BY_LABEL) == _constants.MANAGED_BY


def desired_layer(item, layer):
    """The object ``layer`` should be for this item (None: the policy does not call for it, or the item removes it)."""
    if item['state'] != 'present':
        return None
    return _tenant_quotas.desired(layer, item['namespace'], item['name'], item['spec'], item['labels'], item['settings'])


# ------------------------------------------------------------------------------------------------------- observe


def _by_layer(objects, policy_name):
    """{layer: object} of the objects named after ``policy_name`` (``objects``: {(kind, name): object})."""
    out = {}
    for layer in _tenant_quotas.LAYERS:
        obj = objects.get((_tenant_quotas.KIND[layer], _tenant_quotas.object_name(layer, policy_name)))
        if obj is not None:
            out[layer] = obj
    return out


def observe_one(client, namespace, name, layers=_tenant_quotas.LAYERS):
    """(policy or None, {layer: object}): one GET of the policy and one LIST in the namespace of each kind ``layers``
    need (ResourceQuotas, LimitRanges); none when ``layers`` is empty."""
    policy = client.get_or_none(trp_path(namespace, name))
    objects = {}
    for kind in sorted(set(_tenant_quotas.KIND[layer] for layer in layers)):
        for obj in client.list(_tenant_quotas.path(kind, namespace))['items']:
            objects[(kind, obj['metadata']['name'])] = obj
    return policy, dict((k, v) for k, v in _by_layer(objects, name).items() if k in layers)


def observe_all(client):
    """One LIST of every TRP and one label-selected LIST each of our ResourceQuotas and LimitRanges, whatever the number
    of items; returns a lookup function ``(namespace, name) -> (policy, {layer: object})``."""
    selector = '%s=%s' % (_constants.MANAGED_BY_LABEL, _constants.MANAGED_BY)
    policies = {}
    objects = {}
    for obj in _k8s.list_items(client, trp_path()):  # [] while the CRD is not installed
        meta = obj.get('metadata') or {}
        policies[(meta.get('namespace'), meta.get('name'))] = obj
    for kind in sorted(set(_tenant_quotas.KIND.values())):
        for obj in client.list(_tenant_quotas.path(kind), label_selector=selector)['items']:
            meta = obj.get('metadata') or {}
            objects.setdefault(meta.get('namespace'), {})[(kind, meta.get('name'))] = obj

    def lookup(namespace, name):
        return policies.get((namespace, name)), _by_layer(objects.get(namespace, {}), name)

    return lookup


# ---------------------------------------------------------------------------------------------------------- plan


class Plan(object):
    """What to write for one item. ``actions`` is a list of ``(verb, kind, body_or_None)``; ``kind`` is ``policy`` or
    a layer of ``_tenant_quotas.LAYERS``."""

    def __init__(self, item, policy, objects):
        self.item = item
        self.observed_policy = policy
        self.observed = dict(objects or {})
        self.actions = []
        self.applied = 0
        self.predicted_policy = None

    @property
    def changed(self):
        return bool(self.actions)

    @property
    def observed_quota(self):
        return self.observed.get(_tenant_quotas.COUNT)

    def layer_after(self, layer):
        """The layer's object after the plan (the desired one, the observed one, or None)."""
        if layer not in managed_layers(self.item):
            return self.observed.get(layer)
        wanted = desired_layer(self.item, layer)
        if wanted is not None:
            return wanted
        current = self.observed.get(layer)
        return current if current is not None and not is_managed(current) else None

    def diff(self):
        before = {}
        after = {}
        if self.observed_policy is not None:
            before['spec'] = canonical_spec(self.observed_policy.get('spec'))
            before['labels'] = dict(_k8s.labels_of(self.observed_policy))
        if self.predicted_policy is not None:
            after['spec'] = canonical_spec(self.predicted_policy.get('spec'))
            after['labels'] = dict(_k8s.labels_of(self.predicted_policy))
        for layer in managed_layers(self.item):
            key = RESULT_KEYS[layer]
            if self.observed.get(layer) is not None:
                before[key] = _tenant_quotas.view(layer, self.observed[layer])
            obj = self.layer_after(layer)
            if obj is not None:
                after[key] = _tenant_quotas.view(layer, obj)
        return {'before': before, 'after': after}


# the result (and diff) key of each layer; the count quota keeps its historical name
RESULT_KEYS = {
    _tenant_quotas.COUNT: 'resource_quota',
    _tenant_quotas.COMPUTE: 'compute_quota',
    _tenant_quotas.STORAGE: 'storage_quota',
    _tenant_quotas.LIMIT_RANGE: 'limit_range',
}


def check_ownership(item, policy, objects):
    """Raise OwnershipError when the item would take or remove another tenant's policy, quota or LimitRange (their
    tenant label)."""
    pairs = [('TenantResourcePolicy', policy)] + [(_tenant_quotas.KIND[layer], (objects or {}).get(layer)) for layer in _tenant_quotas.LAYERS]
    for kind, obj in pairs:
        if obj is None:
            continue
        owner = _ownership.label_owner(obj)
        where = '%s/%s' % (item['namespace'], (obj.get('metadata') or {}).get('name'))
        if item['state'] == 'absent':
            _ownership.check_remove(kind, where, owner, item.get('tenant'))
        else:
            _ownership.check_take(kind, where, owner, item.get('claimant'), item.get('takeover_from'), how='label %s=%s' % (_constants.TENANT_LABEL, owner))


def plan_item(item, policy, objects):
    """Pure: compare one normalised item with the observed policy and its observed layers ({layer: object})."""
    objects = dict(objects or {})
    managed = managed_layers(item)
    check_ownership(item, policy, dict((k, v) for k, v in objects.items() if k in managed))
    plan = Plan(item, policy, objects)
    if item['state'] == 'absent':
        if policy is not None:
            plan.actions.append(('delete', 'policy', None))
        for layer in _tenant_quotas.DELETE_ORDER:
            if objects.get(layer) is not None and is_managed(objects[layer]):
                plan.actions.append(('delete', layer, None))
        return plan

    spec = item['spec']
    if policy is None:
        plan.predicted_policy = policy_body(item['namespace'], item['name'], spec, item['labels'])
        plan.actions.append(('create', 'policy', plan.predicted_policy))
    else:
        missing = _k8s.labels_missing(policy, item['labels'])
        if canonical_spec(policy.get('spec')) != spec or missing:
            predicted = copy.deepcopy(policy)
            predicted['spec'] = copy.deepcopy(spec)
            predicted.setdefault('metadata', {}).setdefault('labels', {}).update(item['labels'])
            plan.predicted_policy = predicted
            plan.actions.append(('update', 'policy', predicted))
        else:
            plan.predicted_policy = policy

    wanted = dict((layer, desired_layer(item, layer)) for layer in managed)
    # removals first (quotas before the LimitRange), then creations and updates (the LimitRange before the quotas)
    for layer in _tenant_quotas.DELETE_ORDER:
        current = objects.get(layer)
        if layer in managed and wanted[layer] is None and current is not None and is_managed(current):
            plan.actions.append(('delete', layer, None))
    for layer in _tenant_quotas.CREATE_ORDER:
        if layer not in managed or wanted[layer] is None:
            continue
        current = objects.get(layer)
        if current is None:
            plan.actions.append(('create', layer, wanted[layer]))
        elif not _tenant_quotas.up_to_date(layer, current, wanted[layer]):
            plan.actions.append(('update', layer, wanted[layer]))
    return plan


# --------------------------------------------------------------------------------------------------------- apply


def _raise_invalid(exc, what):
    fields = [c.get('field') for c in exc.causes if c.get('field')]
    raise EverestError(_trp_crd.invalid_message(exc, what), status=exc.status, reason=exc.reason, causes=exc.causes or None, fields=fields or None)


def _check_written(written, spec, namespace, name):
    """The API server prunes fields its CRD schema does not know; a pruned limit would never be enforced
    and would make every run 'changed', so say so instead."""
    got = canonical_spec((written or {}).get('spec'))
    if got == spec:
        return
    lost = sorted(set(spec['limits']) - set(got['limits']))
    detail = ('dropped spec.limits.%s' % ', spec.limits.'.join(lost)) if lost else 'stored %r instead of %r' % (got, spec)
    raise EverestError(
        'TenantResourcePolicy %s/%s: the API server %s; the installed CRD %s is older than this collection\'s: run with '
        'install_crd: true or apply files/crd-tenantresourcepolicy.yaml' % (namespace, name, detail, _constants.TRP_CRD_NAME),
        stored_spec=got,
        desired_spec=spec,
    )


def apply_plan(client, plan, sleep=time.sleep):
    """Perform the plan's writes (``plan.applied`` counts the ones done); returns the policy after (None when absent)."""
    item = plan.item
    namespace, name = item['namespace'], item['name']
    what = 'TenantResourcePolicy %s/%s' % (namespace, name)
    result = plan.observed_policy
    for verb, kind, body in plan.actions:
        if kind == 'policy':
            try:
                if verb == 'create':
                    try:
                        result = client.create(trp_path(namespace), body)
                    except K8sAlreadyExists:  # created by someone else since we looked: converge it instead
                        result = _update_policy(client, item, sleep)
                elif verb == 'update':
                    result = _update_policy(client, item, sleep)
                else:
                    client.delete(trp_path(namespace, name))
                    result = None
            except K8sInvalid as exc:
                _raise_invalid(exc, what)
            except K8sNotFound as exc:
                if verb != 'create':
                    raise
                raise EverestError(
                    '%s cannot be created: namespace %s does not exist (%s); create the namespace first, for example with '
                    'virakcloud.everest.everest_namespace' % (what, namespace, exc.message or exc.msg),
                    status=exc.status,
                    reason=exc.reason,
                )
            plan.applied += 1
            if verb != 'delete':
                _check_written(result, item['spec'], namespace, name)
        else:
            _apply_layer(client, kind, verb, body, namespace, _tenant_quotas.object_name(kind, name), sleep)
            plan.applied += 1
    return result


def _apply_layer(client, layer, verb, body, namespace, obj_name, sleep):
    try:
        if verb == 'create':
            try:
                client.create(_tenant_quotas.path(layer, namespace), body)
            except K8sAlreadyExists:  # created since we looked (or not labelled ours, so not listed): converge it
                _update_layer(client, layer, namespace, obj_name, body, sleep)
        elif verb == 'update':
            _update_layer(client, layer, namespace, obj_name, body, sleep)
        else:
            try:
                client.delete(_tenant_quotas.path(layer, namespace, obj_name))
            except K8sNotFound:
                pass  # removed since we looked
    except K8sInvalid as exc:
        _raise_invalid(exc, '%s %s/%s' % (_tenant_quotas.KIND[layer], namespace, obj_name))


def _update_policy(client, item, sleep):
    def mutate(current):
        if canonical_spec(current.get('spec')) == item['spec'] and not _k8s.labels_missing(current, item['labels']):
            return None
        new = copy.deepcopy(current)
        new.pop('status', None)
        new['spec'] = copy.deepcopy(item['spec'])
        new.setdefault('metadata', {}).setdefault('labels', {}).update(item['labels'])
        return new

    return _k8s.read_modify_write(client, trp_path(item['namespace'], item['name']), mutate, sleep=sleep)[1]


def _update_layer(client, layer, namespace, obj_name, body, sleep):
    _k8s.read_modify_write(client, _tenant_quotas.path(layer, namespace, obj_name), lambda current: _tenant_quotas.updated(layer, current, body), sleep=sleep)


# ------------------------------------------------------------------------------------------------------ converge


def converge_policies(client, items, check_mode=False, batch=False, sleep=time.sleep):
    """observe -> plan -> apply for normalised items. Single form: a GET of the policy and a LIST in its namespace of
    each kind of object it manages; batch form: one LIST per kind (TRPs, ResourceQuotas, LimitRanges) for all items. In
    batch form a failing item is reported in its result and the others go on. Returns a list of results
    ``{namespace, name, changed, policy, resource_quota, compute_quota, storage_quota, limit_range, before, after[,
    warnings, failed, msg]}``."""
    lookup = observe_all(client) if batch else None
    results = []
    for item in items:
        result = {'namespace': item['namespace'], 'name': item['name'], 'changed': False}
        plan = None
        try:
            if batch:
                policy, objects = lookup(item['namespace'], item['name'])
            else:
                policy, objects = observe_one(client, item['namespace'], item['name'], managed_layers(item))
            plan = plan_item(item, policy, objects)
            diff = plan.diff()
            result.update(before=diff['before'], after=diff['after'])
            if plan.changed and not check_mode:
                result['policy'] = apply_plan(client, plan, sleep)
                result['changed'] = True
            else:
                result['changed'] = plan.changed
                result['policy'] = plan.predicted_policy
            for key in RESULT_KEYS.values():
                result[key] = diff['after'].get(key)
        except EverestError as exc:
            if not batch:
                raise
            result.update(failed=True, msg=exc.msg, changed=bool(plan and plan.applied))
        results.append(result)
    return results
