# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TenantResourcePolicy (TRP) and the ResourceQuota it manages: desired state, observation, plan and apply.

Structure (so one policy and a batch of policies share everything):

* ``normalize_item`` validates one item of module options before any call (quantities, negatives, names);
* ``observe_one`` / ``observe_all`` fetch the TRP and the managed ResourceQuota (GET/GET, or one LIST each);
* ``plan_item`` compares desired and observed state (pure) and says what to write;
* ``apply_plan`` performs the writes (conditional PUT with conflict retry, create, delete);
* ``converge_policies`` runs the three for a list of items.

Canonical spec form (what we write and what we compare):

* ``limits.cpuCores``: number of cores, an int when integral (``4``), else a float (``0.5`` for ``500m``);
  never finer than nano cores;
* ``limits.memoryBytes``: integer bytes, fractional bytes rounded up (``1.5`` -> 2, like ``Quantity.Value()``);
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

from ansible_collections.virakcloud.everest.plugins.module_utils import _constants, _k8s, _ownership, _quantity, _trp_crd, _validation
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import (
    EverestError,
    K8sAlreadyExists,
    K8sInvalid,
    K8sNotFound,
    ValidationError,
)

LIMIT_KEYS = ('cpuCores', 'memoryBytes', 'maxClusters', 'maxDbUsers')
INT64_MAX = 2**63 - 1


def trp_path(namespace=None, name=None, subresource=None):
    return _k8s.path(_constants.TRP_API_VERSION, _constants.TRP_PLURAL, namespace, name, subresource)


def quota_path(namespace=None, name=None):
    return _k8s.path('v1', 'resourcequotas', namespace, name)


def quota_name(policy_name):
    """Name of the ResourceQuota a policy manages: ``<policy name>-clusters``."""
    return policy_name + _constants.QUOTA_NAME_SUFFIX


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


def non_negative_quantity(value, what):
    """The exact value (a Fraction) of a Kubernetes quantity that must not be negative. Raises ValidationError."""
    try:
        frac = _quantity.parse(value, what)
    except _quantity.QuantityError as exc:
        raise ValidationError(str(exc))
    if frac < 0:
        raise ValidationError('%s must not be negative, got %r' % (what, value))
    return frac


def normalize_cpu(value, what='limits.cpu'):
    """Cores as a JSON number (``'500m'`` -> 0.5, ``4.0`` -> 4). Raises ValidationError."""
    return _quantity.to_number(non_negative_quantity(value, what))


def normalize_memory(value, what='limits.memory'):
    """Integer bytes (``'16Gi'`` -> 17179869184, ``1.5`` -> 2). Raises ValidationError."""
    result = _quantity.value_ceil(non_negative_quantity(value, what))
    if result > INT64_MAX:
        raise ValidationError('%s is too large: %r is more than 2^63-1 bytes' % (what, value))
    return result


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
    """Canonical spec from module options ``limits`` (cpu, memory, max_clusters, max_db_users) and ``allowed_engines``."""
    limits = limits or {}
    unknown = sorted(set(limits) - set(('cpu', 'memory', 'max_clusters', 'max_db_users')))
    if unknown:
        raise ValidationError('limits: unknown key(s) %s; use cpu, memory, max_clusters, max_db_users' % ', '.join(unknown))
    out = {}
    if limits.get('cpu') is not None:
        out['cpuCores'] = normalize_cpu(limits['cpu'])
    if limits.get('memory') is not None:
        out['memoryBytes'] = normalize_memory(limits['memory'])
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
            elif key == 'memoryBytes':
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
        'labels': managed_labels(namespace, labels),
        'spec': None,
    }
    if state == 'present':
        result['spec'] = desired_spec(item.get('limits'), item.get('allowed_engines'))
    return result


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


def quota_body(namespace, policy_name, max_clusters, labels):
    return {
        'apiVersion': 'v1',
        'kind': 'ResourceQuota',
        'metadata': {'name': quota_name(policy_name), 'namespace': namespace, 'labels': dict(labels)},
        'spec': {'hard': {_constants.DBC_COUNT_RESOURCE: str(max_clusters)}},
    }


def is_managed(obj):
    return _k8s.labels_of(obj).get(_constants.MANAGED_BY_LABEL) == _constants.MANAGED_BY


def _hard_equal(observed_hard, desired_hard):
    observed_hard = observed_hard or {}
    if set(observed_hard) != set(desired_hard):
        return False
    for key, value in desired_hard.items():
        try:
            if _quantity.parse(observed_hard[key]) != _quantity.parse(value):
                return False
        except _quantity.QuantityError:
            return False
    return True


# ------------------------------------------------------------------------------------------------------- observe


def observe_one(client, namespace, name, cluster_quota=True):
    """(policy or None, quota or None) with two GETs (one when ``cluster_quota`` is false)."""
    policy = client.get_or_none(trp_path(namespace, name))
    quota = client.get_or_none(quota_path(namespace, quota_name(name))) if cluster_quota else None
    return policy, quota


def observe_all(client):
    """One LIST of every TRP and one label-selected LIST of our ResourceQuotas; returns a lookup function."""
    policies = {}
    quotas = {}
    for obj in _k8s.list_items(client, trp_path()):  # [] while the CRD is not installed
        meta = obj.get('metadata') or {}
        policies[(meta.get('namespace'), meta.get('name'))] = obj
    for obj in client.list(quota_path(), label_selector='%s=%s' % (_constants.MANAGED_BY_LABEL, _constants.MANAGED_BY))['items']:
        meta = obj.get('metadata') or {}
        quotas[(meta.get('namespace'), meta.get('name'))] = obj

    def lookup(namespace, name):
        return policies.get((namespace, name)), quotas.get((namespace, quota_name(name)))

    return lookup


# ---------------------------------------------------------------------------------------------------------- plan


class Plan(object):
    """What to write for one item. ``actions`` is a list of ``(verb, kind, body_or_None)``."""

    def __init__(self, item, policy, quota):
        self.item = item
        self.observed_policy = policy
        self.observed_quota = quota
        self.actions = []
        self.applied = 0
        self.predicted_policy = None

    @property
    def changed(self):
        return bool(self.actions)

    def diff(self):
        before = {}
        after = {}
        if self.observed_policy is not None:
            before['spec'] = canonical_spec(self.observed_policy.get('spec'))
            before['labels'] = dict(_k8s.labels_of(self.observed_policy))
        if self.predicted_policy is not None:
            after['spec'] = canonical_spec(self.predicted_policy.get('spec'))
            after['labels'] = dict(_k8s.labels_of(self.predicted_policy))
        if self.item['cluster_quota']:
            if self.observed_quota is not None:
                before['resource_quota'] = {
                    'name': self.observed_quota['metadata']['name'],
                    'hard': dict((self.observed_quota.get('spec') or {}).get('hard') or {}),
                }
            quota = self._desired_quota()
            if quota is not None:
                after['resource_quota'] = {'name': quota['metadata']['name'], 'hard': dict(quota['spec']['hard'])}
            elif self.observed_quota is not None and not is_managed(self.observed_quota):
                after['resource_quota'] = before['resource_quota']
        return {'before': before, 'after': after}

    def _desired_quota(self):
        item = self.item
        if item['state'] != 'present' or not item['cluster_quota']:
            return None
        max_clusters = item['spec']['limits'].get('maxClusters')
        if max_clusters is None:
            return None
        return quota_body(item['namespace'], item['name'], max_clusters, item['labels'])


def check_ownership(item, policy, quota):
    """Raise OwnershipError when the item would take or remove another tenant's policy or quota (their tenant label)."""
    for kind, obj in (('TenantResourcePolicy', policy), ('ResourceQuota', quota)):
        if obj is None:
            continue
        owner = _ownership.label_owner(obj)
        where = '%s/%s' % (item['namespace'], (obj.get('metadata') or {}).get('name'))
        if item['state'] == 'absent':
            _ownership.check_remove(kind, where, owner, item.get('tenant'))
        else:
            _ownership.check_take(kind, where, owner, item.get('claimant'), item.get('takeover_from'), how='label %s=%s' % (_constants.TENANT_LABEL, owner))


def plan_item(item, policy, quota):
    """Pure: compare one normalised item with the observed policy and quota."""
    check_ownership(item, policy, quota)
    plan = Plan(item, policy, quota)
    if item['state'] == 'absent':
        if policy is not None:
            plan.actions.append(('delete', 'policy', None))
        if quota is not None and is_managed(quota):
            plan.actions.append(('delete', 'quota', None))
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

    if item['cluster_quota']:
        desired_quota = plan._desired_quota()  # pylint: disable=protected-access
        if desired_quota is None:
            if quota is not None and is_managed(quota):
                plan.actions.append(('delete', 'quota', None))
        elif quota is None:
            plan.actions.append(('create', 'quota', desired_quota))
        elif not _hard_equal((quota.get('spec') or {}).get('hard'), desired_quota['spec']['hard']) or _k8s.labels_missing(quota, item['labels']):
            plan.actions.append(('update', 'quota', desired_quota))
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
            qname = quota_name(name)
            try:
                if verb == 'create':
                    try:
                        client.create(quota_path(namespace), body)
                    except K8sAlreadyExists:
                        _update_quota(client, namespace, qname, body, sleep)
                elif verb == 'update':
                    _update_quota(client, namespace, qname, body, sleep)
                else:
                    client.delete(quota_path(namespace, qname))
            except K8sInvalid as exc:
                _raise_invalid(exc, 'ResourceQuota %s/%s' % (namespace, qname))
            plan.applied += 1
    return result


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


def _update_quota(client, namespace, qname, body, sleep):
    def mutate(current):
        if _hard_equal((current.get('spec') or {}).get('hard'), body['spec']['hard']) and not _k8s.labels_missing(current, body['metadata']['labels']):
            return None
        new = copy.deepcopy(current)
        new.pop('status', None)
        new['spec'] = dict(new.get('spec') or {})
        new['spec']['hard'] = dict(body['spec']['hard'])
        new.setdefault('metadata', {}).setdefault('labels', {}).update(body['metadata']['labels'])
        return new

    _k8s.read_modify_write(client, quota_path(namespace, qname), mutate, sleep=sleep)


# ------------------------------------------------------------------------------------------------------ converge


def converge_policies(client, items, check_mode=False, batch=False, sleep=time.sleep):
    """observe -> plan -> apply for normalised items. Single form: two GETs per item; batch form: one TRP LIST and
    one ResourceQuota LIST for all items. In batch form a failing item is reported in its result and the others go on.
    Returns a list of results ``{namespace, name, changed, policy, resource_quota, before, after[, failed, msg]}``."""
    lookup = observe_all(client) if batch else None
    results = []
    for item in items:
        result = {'namespace': item['namespace'], 'name': item['name'], 'changed': False}
        plan = None
        try:
            if batch:
                policy, quota = lookup(item['namespace'], item['name'])
            else:
                policy, quota = observe_one(client, item['namespace'], item['name'], cluster_quota=item['cluster_quota'] or item['state'] == 'absent')
            plan = plan_item(item, policy, quota)
            diff = plan.diff()
            result.update(before=diff['before'], after=diff['after'])
            if plan.changed and not check_mode:
                result['policy'] = apply_plan(client, plan, sleep)
                result['changed'] = True
            else:
                result['changed'] = plan.changed
                result['policy'] = plan.predicted_policy
            result['resource_quota'] = diff['after'].get('resource_quota')
        except EverestError as exc:
            if not batch:
                raise
            result.update(failed=True, msg=exc.msg, changed=bool(plan and plan.applied))
        results.append(result)
    return results
