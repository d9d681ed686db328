# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TenantResourcePolicy (TRP): desired state, observation, diff, apply, usage and enforcement.

Structure (so one policy and a batch of policies share everything):

* ``normalize_item`` validates one item of module options before any call (quantities, negatives, names);
* ``observe_one`` / ``observe_all`` fetch the TRP and the managed ResourceQuota (GET/GET, or one LIST each);
* ``plan_item`` compares desired and observed state (pure) and says what to write;
* ``apply_plan`` performs the writes (conditional PUT with conflict retry, create, delete).

Canonical spec form (what we write and what we compare):

* ``limits.cpuCores``: number of cores, an int when integral (``4``), else a float (``0.5`` for ``500m``);
  never finer than nano cores;
* ``limits.memoryBytes``: integer bytes, fractional bytes rounded up (``1.5`` -> 2, like ``Quantity.Value()``);
* ``limits.maxClusters`` / ``limits.maxDbUsers``: integers;
* a limit that is not given is absent (not enforced);
* ``selectors.engines``: sorted and de-duplicated (the order carries no meaning, so one order is written
  and a list written by someone else in another order is not a change).

Usage rule (``cluster_usage``), used by tenant_quota_check and tenant_info:
per DatabaseCluster, ``engine.replicas x engine.resources`` (``x sharding.shards`` when sharding is enabled)
plus ``proxy.replicas x proxy.resources`` when ``spec.proxy.resources`` is set (proxy replicas default to
the engine replicas); a missing engine ``replicas`` counts as 1; missing engine resources count as 0 and
produce a warning; config servers of sharded MongoDB clusters are not counted. Clusters are counted as
DatabaseCluster objects; DB users are the users bound (``g, <user>, <role>``) in the tenant's RBAC block.

Request rule (``evaluate``, shared by tenant_quota_check and everest_database_cluster's enforce_quota): a
request is refused as incomplete, not answered, when ``cluster_name`` names no existing cluster and no ``engine``
is given, or when a new cluster leaves out ``cpu``/``memory`` while the policy limits that dimension; replicas
are at least 1. Engine selectors are read literally: a policy without ``spec.selectors.engines`` (or with an
empty list) allows no engine; tenant_resource_policy writes all four names when ``allowed_engines`` is left out.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import datetime
import time
from fractions import Fraction

try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    yaml = None
    HAS_YAML = False

from ansible_collections.virakcloud.everest.plugins.module_utils import _accounts, _constants, _k8s, _ownership, _quantity, _rbac, _retry, _trp_crd
from ansible_collections.virakcloud.everest.plugins.module_utils import _validation
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import (
    EverestError,
    K8sAlreadyExists,
    K8sInvalid,
    K8sNotFound,
    TimeoutExceeded,
    ValidationError,
)

# ----------------------------------------------------------------------------------------------- constants

CRD_PATH = _k8s.path(_constants.CRD_API_VERSION, 'customresourcedefinitions', name=_constants.TRP_CRD_NAME)
CRD_COLLECTION_PATH = _k8s.path(_constants.CRD_API_VERSION, 'customresourcedefinitions')
RBAC_PATH = _k8s.path('v1', 'configmaps', _constants.SYSTEM_NAMESPACE, _constants.RBAC_CONFIGMAP)

POLICY_ENGINES = tuple(sorted(_constants.POLICY_ENGINE_TO_TYPE))                      # mongodb, mysql, postgresql, xtradb_cluster
ENGINE_CHOICES = tuple(sorted(set(POLICY_ENGINES) | set(_constants.DB_ENGINE_TYPES)))  # what tenant_quota_check accepts

LIMIT_KEYS = ('cpuCores', 'memoryBytes', 'maxClusters', 'maxDbUsers')
INT64_MAX = 2 ** 63 - 1
CONDITION_TYPE = 'WithinLimits'


def trp_path(namespace=None, name=None, subresource=None):
    return _k8s.path(_constants.TRP_API_VERSION, _constants.TRP_PLURAL, namespace, name, subresource)


def quota_path(namespace=None, name=None):
    return _k8s.path('v1', 'resourcequotas', namespace, name)


def quota_name(policy_name):
    """Name of the ResourceQuota a policy manages: ``<policy name>-clusters``."""
    return policy_name + _constants.QUOTA_NAME_SUFFIX


def engine_type(name):
    """DatabaseCluster engine type for a policy name or an engine type (``mysql`` -> ``pxc``), or None."""
    if name in _constants.DB_ENGINE_TYPES:
        return name
    return _constants.POLICY_ENGINE_TO_TYPE.get(name)


# ----------------------------------------------------------------------------------------------- normalisation

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
        raise ValidationError('%s is %d, more than the %d this collection accepts; a count that large is a typo, not a plan'
                              % (what, value, _validation.MAX_COUNT_LIMIT))
    return value


def normalize_cpu(value, what='limits.cpu'):
    """Cores as a JSON number (``'500m'`` -> 0.5, ``4.0`` -> 4). Raises ValidationError."""
    try:
        frac = _quantity.parse(value, what)
    except _quantity.QuantityError as exc:
        raise ValidationError(str(exc))
    if frac < 0:
        raise ValidationError('%s must not be negative, got %r' % (what, value))
    return _quantity.to_number(frac)


def normalize_memory(value, what='limits.memory'):
    """Integer bytes (``'16Gi'`` -> 17179869184, ``1.5`` -> 2). Raises ValidationError."""
    try:
        frac = _quantity.parse(value, what)
    except _quantity.QuantityError as exc:
        raise ValidationError(str(exc))
    if frac < 0:
        raise ValidationError('%s must not be negative, got %r' % (what, value))
    result = _quantity.value_ceil(frac)
    if result > INT64_MAX:
        raise ValidationError('%s is too large: %r is more than 2^63-1 bytes' % (what, value))
    return result


def normalize_engines(engines, what='allowed_engines'):
    if engines is None:
        return list(POLICY_ENGINES)
    if not isinstance(engines, (list, tuple)):
        raise ValidationError('%s must be a list of engine names' % what)
    bad = [e for e in engines if e not in POLICY_ENGINES]
    if bad:
        raise ValidationError('%s: unknown engine(s) %s; use %s' % (what, ', '.join(str(b) for b in bad), ', '.join(POLICY_ENGINES)))
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
    if not isinstance(name, str) or len(name) > _validation.DNS_SUBDOMAIN_MAX_LENGTH - len(_constants.QUOTA_NAME_SUFFIX) \
            or not _validation.DNS_SUBDOMAIN_RE.match(name):
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
        'namespace': namespace, 'name': name, 'state': state, 'tenant': tenant,
        'claimant': labels.get(_constants.TENANT_LABEL), 'takeover_from': item.get('takeover_from'),
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


# ----------------------------------------------------------------------------------------------- objects

def policy_body(namespace, name, spec, labels):
    return {
        'apiVersion': _constants.TRP_API_VERSION, 'kind': _constants.TRP_KIND,
        'metadata': {'name': name, 'namespace': namespace, 'labels': dict(labels)},
        'spec': copy.deepcopy(spec),
    }


def quota_body(namespace, policy_name, max_clusters, labels):
    return {
        'apiVersion': 'v1', 'kind': 'ResourceQuota',
        'metadata': {'name': quota_name(policy_name), 'namespace': namespace, 'labels': dict(labels)},
        'spec': {'hard': {_constants.DBC_COUNT_RESOURCE: str(max_clusters)}},
    }


def _labels(obj):
    return ((obj or {}).get('metadata') or {}).get('labels') or {}


def labels_missing(obj, labels):
    have = _labels(obj)
    return dict((k, v) for k, v in labels.items() if have.get(k) != v)


def is_managed(obj):
    return _labels(obj).get(_constants.MANAGED_BY_LABEL) == _constants.MANAGED_BY


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


# ----------------------------------------------------------------------------------------------- observe

def observe_one(client, namespace, name, cluster_quota=True):
    """(policy or None, quota or None) with two GETs (one when ``cluster_quota`` is false)."""
    policy = client.get_or_none(trp_path(namespace, name))
    quota = client.get_or_none(quota_path(namespace, quota_name(name))) if cluster_quota else None
    return policy, quota


def observe_all(client):
    """One LIST of every TRP and one label-selected LIST of our ResourceQuotas; returns a lookup function."""
    policies = {}
    quotas = {}
    try:
        items = client.list(trp_path())['items']
    except K8sNotFound:  # CRD not installed yet
        items = []
    for obj in items:
        meta = obj.get('metadata') or {}
        policies[(meta.get('namespace'), meta.get('name'))] = obj
    for obj in client.list(quota_path(), label_selector='%s=%s' % (_constants.MANAGED_BY_LABEL, _constants.MANAGED_BY))['items']:
        meta = obj.get('metadata') or {}
        quotas[(meta.get('namespace'), meta.get('name'))] = obj

    def lookup(namespace, name):
        return policies.get((namespace, name)), quotas.get((namespace, quota_name(name)))
    return lookup


# ----------------------------------------------------------------------------------------------- plan

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
            before['labels'] = dict(_labels(self.observed_policy))
        if self.predicted_policy is not None:
            after['spec'] = canonical_spec(self.predicted_policy.get('spec'))
            after['labels'] = dict(_labels(self.predicted_policy))
        if self.item['cluster_quota']:
            if self.observed_quota is not None:
                before['resource_quota'] = {'name': self.observed_quota['metadata']['name'],
                                            'hard': dict((self.observed_quota.get('spec') or {}).get('hard') or {})}
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
            _ownership.check_take(kind, where, owner, item.get('claimant'), item.get('takeover_from'),
                                  how='label %s=%s' % (_constants.TENANT_LABEL, owner))


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
        missing = labels_missing(policy, item['labels'])
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
        elif not _hard_equal((quota.get('spec') or {}).get('hard'), desired_quota['spec']['hard']) \
                or labels_missing(quota, item['labels']):
            plan.actions.append(('update', 'quota', desired_quota))
    return plan


# ----------------------------------------------------------------------------------------------- apply

def _invalid_message(exc, what):
    causes = ['%s: %s' % (c.get('field') or '<object>', c.get('message') or c.get('reason') or 'invalid') for c in exc.causes]
    detail = '; '.join(causes) if causes else (exc.message or exc.msg)
    return ('the API server refused %s (422 Invalid): %s; the installed TenantResourcePolicy CRD may be older or stricter '
            'than this collection\'s (install_crd: true updates it)' % (what, detail))


def _raise_invalid(exc, what):
    fields = [c.get('field') for c in exc.causes if c.get('field')]
    raise EverestError(_invalid_message(exc, what), status=exc.status, reason=exc.reason, causes=exc.causes or None,
                       fields=fields or None)


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
        stored_spec=got, desired_spec=spec)


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
                raise EverestError('%s cannot be created: namespace %s does not exist (%s); create the namespace first, for example with '
                                   'virakcloud.everest.everest_namespace' % (what, namespace, exc.message or exc.msg),
                                   status=exc.status, reason=exc.reason)
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
        if canonical_spec(current.get('spec')) == item['spec'] and not labels_missing(current, item['labels']):
            return None
        new = copy.deepcopy(current)
        new.pop('status', None)
        new['spec'] = copy.deepcopy(item['spec'])
        new.setdefault('metadata', {}).setdefault('labels', {}).update(item['labels'])
        return new
    return _k8s.read_modify_write(client, trp_path(item['namespace'], item['name']), mutate, sleep=sleep)[1]


def _update_quota(client, namespace, qname, body, sleep):
    def mutate(current):
        if _hard_equal((current.get('spec') or {}).get('hard'), body['spec']['hard']) \
                and not labels_missing(current, body['metadata']['labels']):
            return None
        new = copy.deepcopy(current)
        new.pop('status', None)
        new['spec'] = dict(new.get('spec') or {})
        new['spec']['hard'] = dict(body['spec']['hard'])
        new.setdefault('metadata', {}).setdefault('labels', {}).update(body['metadata']['labels'])
        return new
    _k8s.read_modify_write(client, quota_path(namespace, qname), mutate, sleep=sleep)


# ----------------------------------------------------------------------------------------------- CRD

def crd_document():
    if not HAS_YAML:
        raise EverestError('PyYAML is required to install the TenantResourcePolicy CRD')
    return yaml.safe_load(_trp_crd.CRD_YAML)


def contains(actual, wanted):
    """True when every field of ``wanted`` is present with the same value in ``actual`` (server defaults ignored)."""
    if isinstance(wanted, dict):
        if not isinstance(actual, dict):
            return False
        return all(key in actual and contains(actual[key], value) for key, value in wanted.items())
    if isinstance(wanted, list):
        if not isinstance(actual, list) or len(actual) != len(wanted):
            return False
        return all(contains(a, w) for a, w in zip(actual, wanted))
    if isinstance(wanted, bool) or isinstance(actual, bool):
        return actual is wanted
    return actual == wanted


def _condition(obj, ctype):
    for cond in ((obj or {}).get('status') or {}).get('conditions') or []:
        if cond.get('type') == ctype:
            return cond
    return None


def crd_established(obj):
    cond = _condition(obj, 'Established')
    return bool(cond) and cond.get('status') == 'True'


def ensure_crd(client, check_mode=False, wait_timeout=60, sleep=time.sleep, clock=time.monotonic):
    """Create or update the CRD, then wait until it is Established. Returns ``(changed, crd_object_or_None)``.

    The no-op path is one GET (the stored CRD already contains our spec and is Established).
    """
    desired = crd_document()
    current = client.get_or_none(CRD_PATH)
    changed = False
    if current is None:
        changed = True
        if check_mode:
            return True, None
        try:
            current = client.create(CRD_COLLECTION_PATH, desired)
        except K8sAlreadyExists:
            # another run (a fork, an AWX job slice) created it between our GET and POST: continue from its state
            return ensure_crd(client, check_mode=check_mode, wait_timeout=wait_timeout, sleep=sleep, clock=clock)
        except K8sInvalid as exc:
            raise EverestError(_invalid_message(exc, 'CustomResourceDefinition %s' % _constants.TRP_CRD_NAME))
    elif not (contains(current.get('spec'), desired['spec']) and not labels_missing(current, desired['metadata']['labels'])):
        changed = True
        if check_mode:
            return True, current

        def mutate(obj):
            if contains(obj.get('spec'), desired['spec']) and not labels_missing(obj, desired['metadata']['labels']):
                return None
            new = copy.deepcopy(obj)
            new.pop('status', None)
            new['spec'] = copy.deepcopy(desired['spec'])
            new.setdefault('metadata', {}).setdefault('labels', {}).update(desired['metadata']['labels'])
            return new
        current = _k8s.read_modify_write(client, CRD_PATH, mutate)[1]
    if check_mode or crd_established(current):
        return changed, current

    def names_accepted(obj):
        accepted = _condition(obj, 'NamesAccepted')
        if accepted and accepted.get('status') == 'False':
            raise EverestError('CustomResourceDefinition %s: names not accepted: %s' % (_constants.TRP_CRD_NAME, accepted.get('message')))

    def timed_out(_obj):
        return TimeoutExceeded('CustomResourceDefinition %s is not Established after %ss; check the API server (kubectl get crd %s -o yaml) '
                               'or raise wait_timeout' % (_constants.TRP_CRD_NAME, wait_timeout, _constants.TRP_CRD_NAME))

    current = _retry.poll(lambda: client.get(CRD_PATH), crd_established, wait_timeout, timed_out, check=names_accepted, first=current,
                          max_interval=1.0, sleep=sleep, clock=clock)
    return changed, current


# ----------------------------------------------------------------------------------------------- usage

def _fraction(value, what, warnings):
    if value is None:
        return Fraction(0)
    try:
        frac = _quantity.parse(value, what)
    except _quantity.QuantityError as exc:
        warnings.append('%s; counted as 0' % exc)
        return Fraction(0)
    return max(frac, Fraction(0))


def _count(value, default):
    if isinstance(value, bool) or not isinstance(value, int):
        return default
    return max(value, 0)


def cluster_usage(dbc):
    """Usage of one DatabaseCluster by the module's rule (see the file docstring).

    Returns ``{'name', 'engine', 'cpu' (Fraction cores), 'memory' (Fraction bytes), 'warnings'}``.
    """
    meta = dbc.get('metadata') or {}
    spec = dbc.get('spec') or {}
    name = '%s/%s' % (meta.get('namespace'), meta.get('name'))
    warnings = []
    engine = spec.get('engine') or {}
    replicas = _count(engine.get('replicas'), 1)
    sharding = spec.get('sharding') or {}
    if sharding.get('enabled') and _count(sharding.get('shards'), 0) > 0:
        replicas *= _count(sharding.get('shards'), 1)
    resources = engine.get('resources') or {}
    if resources.get('cpu') is None or resources.get('memory') is None:
        warnings.append('DatabaseCluster %s has no engine resources.%s; counted as 0' % (
            name, ' or '.join(k for k in ('cpu', 'memory') if resources.get(k) is None)))
    cpu = replicas * _fraction(resources.get('cpu'), 'DatabaseCluster %s engine cpu' % name, warnings)
    memory = replicas * _fraction(resources.get('memory'), 'DatabaseCluster %s engine memory' % name, warnings)
    proxy = spec.get('proxy') or {}
    presources = proxy.get('resources')
    if isinstance(presources, dict) and presources:
        preplicas = _count(proxy.get('replicas'), _count(engine.get('replicas'), 1))
        cpu += preplicas * _fraction(presources.get('cpu'), 'DatabaseCluster %s proxy cpu' % name, warnings)
        memory += preplicas * _fraction(presources.get('memory'), 'DatabaseCluster %s proxy memory' % name, warnings)
    return {'name': meta.get('name'), 'engine': engine.get('type'), 'cpu': cpu, 'memory': memory, 'warnings': warnings}


def list_clusters(client, namespace=None):
    """DatabaseClusters of a namespace (or all); [] when the DatabaseCluster CRD is not installed."""
    try:
        return client.list(_k8s.path(_constants.DBC_API_VERSION, _constants.DBC_PLURAL, namespace))['items']
    except K8sNotFound:
        return []


def _configmap_text(obj, key):
    return (((obj or {}).get('data') or {}).get(key)) or ''


def rbac_block(policy_csv, namespace):
    """(block found?, sorted users bound by ``g, <user>, <role>`` lines inside the tenant's block).

    The tenant's block is the managed block named after its namespace (``# BEGIN virakcloud.everest <ns>`` ...
    ``# END virakcloud.everest <ns>``); block parsing is ``_rbac.get_blocks``.
    """
    try:
        blocks = _rbac.get_blocks(policy_csv or '')
    except _rbac.BlockError as exc:
        raise EverestError('ConfigMap %s/%s, key %s: %s' % (_constants.SYSTEM_NAMESPACE, _constants.RBAC_CONFIGMAP, _constants.RBAC_POLICY_KEY, exc))
    if namespace not in blocks:
        return False, []
    users = set()
    for line in blocks[namespace]:
        fields = [f.strip().strip('"') for f in line.strip().split(',')]
        if len(fields) >= 3 and fields[0] == 'g' and fields[1] and not fields[1].startswith(_constants.RBAC_ROLE_PREFIX):
            users.add(fields[1])
    return True, sorted(users)


def read_rbac_policy(client):
    """policy.csv text of everest-system/everest-rbac, or None when the ConfigMap does not exist."""
    obj = client.get_or_none(RBAC_PATH)
    return None if obj is None else _configmap_text(obj, _constants.RBAC_POLICY_KEY)


def read_account_names(client):
    """Set of Everest account names, or None when the accounts Secret does not exist (parsing: ``_accounts``)."""
    obj = client.get_or_none(_accounts.SECRET_PATH)
    if obj is None:
        return None
    return set(_accounts.parse_accounts_secret(obj))


def namespace_usage(clusters, users, exclude=None):
    """Totals over ``clusters`` (DatabaseCluster objects) except the one named ``exclude``."""
    cpu = Fraction(0)
    memory = Fraction(0)
    count = 0
    warnings = []
    for dbc in clusters:
        use = cluster_usage(dbc)
        if exclude is not None and use['name'] == exclude:
            continue
        count += 1
        cpu += use['cpu']
        memory += use['memory']
        warnings.extend(use['warnings'])
    return {'clusters': count, 'cpu': cpu, 'memory': memory, 'db_users': len(users or ()), 'warnings': warnings}


def usage_view(usage):
    return {
        'clusters': usage['clusters'],
        'cpu_cores': _quantity.to_number(usage['cpu']),
        'memory_bytes': _quantity.value_ceil(usage['memory']),
        'db_users': usage['db_users'],
    }


def headroom_view(limits, usage):
    """limit - usage per limited dimension (negative when over), None when not limited."""
    def sub(limit, used):
        return None if limit is None else limit - used
    cpu = None if limits['cpu_cores'] is None else _quantity.to_number(_quantity.parse(limits['cpu_cores']) - usage['cpu'])
    return {
        'clusters': sub(limits['max_clusters'], usage['clusters']),
        'cpu_cores': cpu,
        'memory_bytes': None if limits['memory_bytes'] is None else limits['memory_bytes'] - _quantity.value_ceil(usage['memory']),
        'db_users': sub(limits['max_db_users'], usage['db_users']),
    }


def over_limits(limits, usage):
    """Names of the dimensions whose current usage is above the limit."""
    over = []
    if limits['max_clusters'] is not None and usage['clusters'] > limits['max_clusters']:
        over.append('clusters')
    if limits['cpu_cores'] is not None and usage['cpu'] > _quantity.parse(limits['cpu_cores']):
        over.append('cpu')
    if limits['memory_bytes'] is not None and usage['memory'] > limits['memory_bytes']:
        over.append('memory')
    if limits['max_db_users'] is not None and usage['db_users'] > limits['max_db_users']:
        over.append('db_users')
    return over


# ----------------------------------------------------------------------------------------------- enforcement

def allowed_engine_text(engines):
    if not engines:
        return 'none (spec.selectors.engines is empty or missing, so the policy allows no engine)'
    return ', '.join('%s (%s)' % (e, _constants.POLICY_ENGINE_TO_TYPE.get(e, '?')) for e in sorted(set(engines)))


def _fmt_cpu(frac):
    return '%s cores' % _quantity.format_cores(frac)


def _fmt_mem(frac):
    return _quantity.format_bytes(_quantity.value_ceil(frac))


def evaluate(namespace, policy, clusters, users, request):
    """Decide a request against a policy. Pure.

    ``request``: ``{'engine', 'replicas', 'cpu', 'memory', 'proxy_replicas', 'proxy_cpu', 'proxy_memory',
    'cluster_name', 'db_users'}`` as given (quantities unparsed, None when absent). A cluster request is
    present when ``engine`` is given, or when ``cluster_name`` names an existing cluster (a resize).
    A limit is violated when the request increases that dimension and the new total is above the limit;
    reaching a limit exactly is allowed.

    Incomplete requests raise ``ValidationError`` instead of being answered (``check_new_cluster_request``):
    a ``cluster_name`` that names no cluster without ``engine`` (a mistyped resize would otherwise request
    nothing and pass), and a new cluster without ``cpu``/``memory`` when the policy limits that dimension
    (it would otherwise count as 0 and pass any limit; Everest itself has no default for them, EF 6.4).
    """
    spec = canonical_spec(policy.get('spec'))
    limits = limits_view(policy.get('spec'))
    engines = spec['selectors']['engines'] or []
    current = namespace_usage(clusters, users)
    existing = None
    if request.get('cluster_name'):
        for dbc in clusters:
            if (dbc.get('metadata') or {}).get('name') == request['cluster_name']:
                existing = dbc
                break
    resize = existing is not None
    base = namespace_usage(clusters, users, exclude=request['cluster_name']) if resize else current
    violations = []
    warnings = list(current['warnings'])

    req_engine = request.get('engine')
    cluster_request = req_engine is not None or resize
    if not resize:
        check_new_cluster_request(namespace, limits, request)
    req = {'clusters': 0, 'cpu': Fraction(0), 'memory': Fraction(0), 'db_users': int(request.get('db_users') or 0)}
    if cluster_request:
        shape = _requested_shape(request, existing)
        etype = engine_type(req_engine) if req_engine is not None else shape['engine']
        if resize and req_engine is not None and shape['engine'] and etype != shape['engine']:
            raise ValidationError('cluster %s/%s runs engine %s; a resize cannot change it to %s' % (
                namespace, request['cluster_name'], shape['engine'], req_engine))
        allowed_types = set(_constants.POLICY_ENGINE_TO_TYPE[e] for e in engines if e in _constants.POLICY_ENGINE_TO_TYPE)
        if etype not in allowed_types:
            shown = req_engine if req_engine is not None else etype
            label = shown if shown == etype else '%s (%s)' % (shown, etype)
            violations.append('%s: engine %s is not allowed by TenantResourcePolicy %s/%s; allowed engines: %s' % (
                namespace, label, namespace, policy['metadata']['name'], allowed_engine_text(engines)))
        req['clusters'] = 1  # a resize replaces the cluster's own count (``base`` excludes it)
        req['cpu'] = shape['cpu']
        req['memory'] = shape['memory']

    in_use_label = 'in use by other clusters' if resize else 'in use'
    checks = (
        ('clusters', 'clusters', limits['max_clusters'], str, str),
        ('cpu', 'cpu', limits['cpu_cores'], _fmt_cpu, _quantity.format_cores),
        ('memory', 'memory', limits['memory_bytes'], _fmt_mem, _fmt_mem),
        ('db_users', 'db users', limits['max_db_users'], str, str),
    )
    after = {}
    for key, label, limit, fmt_total, fmt_part in checks:
        used_base = base[key] if key != 'db_users' else current['db_users']
        total = used_base + req[key]
        after[key] = total
        if limit is None:
            continue
        limit_frac = _quantity.parse(limit)
        if total > limit_frac and total > current[key] and req[key] > 0:
            violations.append('%s: %s %s would exceed the limit of %s (%s %s, requested %s)' % (
                namespace, label, fmt_total(total), fmt_part(limit_frac), in_use_label, fmt_part(used_base), fmt_part(req[key])))
    return {
        'allowed': not violations,
        'violations': violations,
        'warnings': warnings,
        'resize': resize,
        'limits': limits,
        'allowed_engines': engines,
        'usage': usage_view(current),
        'requested': {'clusters': req['clusters'], 'cpu_cores': _quantity.to_number(req['cpu']),
                      'memory_bytes': _quantity.value_ceil(req['memory']), 'db_users': req['db_users']},
        'usage_after': {'clusters': after['clusters'], 'cpu_cores': _quantity.to_number(after['cpu']),
                        'memory_bytes': _quantity.value_ceil(after['memory']), 'db_users': after['db_users']},
        'headroom': headroom_view(limits, current),
        'within_limits': not over_limits(limits, current),
        'over_limits': over_limits(limits, current),
    }


def check_new_cluster_request(namespace, limits, request):
    """Refuse a request that does not describe a cluster fully enough to be checked (``request`` is not a resize).

    * ``cluster_name`` given, no such cluster, no ``engine``: almost always a mistyped resize; answering it as
      "nothing requested" would let any shape through.
    * a new cluster (``engine`` given) without ``cpu`` (``memory``) while the policy limits CPU (memory): the
      missing value would count as 0 and pass any limit. Everest requires both for every cluster (EF 6.4), so
      there is no default to assume. When the policy does not limit a dimension its value is not needed.
    """
    name = request.get('cluster_name')
    if request.get('engine') is None:
        if name:
            raise ValidationError(
                '%s: database cluster %s/%s does not exist, so there is nothing to resize; give engine to check a new cluster '
                'of that name, or fix cluster_name' % (namespace, namespace, name))
        return
    missing = []
    if limits['cpu_cores'] is not None and request.get('cpu') is None:
        missing.append(('cpu', 'the cpu limit of %s' % _quantity.format_cores(_quantity.parse(limits['cpu_cores']))))
    if limits['memory_bytes'] is not None and request.get('memory') is None:
        missing.append(('memory', 'the memory limit of %s' % _fmt_mem(limits['memory_bytes'])))
    if missing:
        options = ' and '.join(m[0] for m in missing)
        what = 'a new cluster' if not name else 'new cluster %s/%s' % (namespace, name)
        raise ValidationError('%s: %s %s required to check %s against %s; give %s (per engine replica; Everest requires cpu '
                              'and memory for every cluster)' % (namespace, options, 'is' if len(missing) == 1 else 'are', what,
                                                                 ' and '.join(m[1] for m in missing), options))


def _requested_shape(request, existing):
    """cpu/memory of the requested cluster shape; unspecified values fall back to the existing cluster (resize)."""
    spec = (existing or {}).get('spec') or {}
    engine = spec.get('engine') or {}
    proxy = spec.get('proxy') or {}
    eres = engine.get('resources') or {}
    pres = proxy.get('resources') or {}

    def pick(key, fallback):
        return request.get(key) if request.get(key) is not None else fallback
    replicas = pick('replicas', engine.get('replicas') if existing else 1)
    cpu = pick('cpu', eres.get('cpu'))
    memory = pick('memory', eres.get('memory'))
    preplicas = pick('proxy_replicas', proxy.get('replicas') if pres else None)
    pcpu = pick('proxy_cpu', pres.get('cpu'))
    pmemory = pick('proxy_memory', pres.get('memory'))
    shape = {'spec': {'engine': {'type': engine.get('type'), 'replicas': replicas, 'resources': {'cpu': cpu, 'memory': memory}}}}
    if pcpu is not None or pmemory is not None:
        shape['spec']['proxy'] = {'replicas': preplicas, 'resources': {'cpu': pcpu, 'memory': pmemory}}
    if existing and (spec.get('sharding') or {}).get('enabled'):
        shape['spec']['sharding'] = spec['sharding']
    use = cluster_usage(shape)
    return {'engine': engine.get('type'), 'cpu': use['cpu'], 'memory': use['memory']}


def validate_request(request):
    """Check a quota-check request before any call (quantities, counts, engine names)."""
    if request.get('engine') is not None and engine_type(request['engine']) is None:
        raise ValidationError('engine %r is unknown; use one of %s' % (request['engine'], ', '.join(ENGINE_CHOICES)))
    for key in ('replicas', 'proxy_replicas'):
        value = request.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValidationError('%s must be an integer of at least 1 (Everest requires at least one replica), got %r' % (key, value))
    value = request.get('db_users')
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValidationError('db_users must be a non-negative integer, got %r' % (value,))
    for key in ('cpu', 'proxy_cpu', 'memory', 'proxy_memory'):
        value = request.get(key)
        if value is None:
            continue
        try:
            frac = _quantity.parse(value, key)
        except _quantity.QuantityError as exc:
            raise ValidationError(str(exc))
        if frac < 0:
            raise ValidationError('%s must not be negative, got %r' % (key, value))


def utcnow_text():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def status_for(policy, result, now=None):
    """The status the policy should carry after a check (usage + WithinLimits condition), or None if unchanged."""
    usage = result['usage']
    over = result['over_limits']
    cond_status = 'False' if over else 'True'
    reason = 'OverLimit' if over else 'WithinLimits'
    message = ('usage over the limit for: %s' % ', '.join(over)) if over else 'usage is within every limit'
    old = policy.get('status') or {}
    old_cond = None
    others = []
    for cond in old.get('conditions') or []:
        if cond.get('type') == CONDITION_TYPE:
            old_cond = cond
        else:
            others.append(cond)
    generation = (policy.get('metadata') or {}).get('generation')
    transition = old_cond.get('lastTransitionTime') if old_cond and old_cond.get('status') == cond_status else None
    cond = {'type': CONDITION_TYPE, 'status': cond_status, 'reason': reason, 'message': message,
            'lastTransitionTime': transition or now or utcnow_text()}
    if generation is not None:
        cond['observedGeneration'] = generation
    status = {
        'usage': {'clusters': usage['clusters'], 'cpuCores': usage['cpu_cores'], 'memoryBytes': usage['memory_bytes'],
                  'dbUsers': usage['db_users']},
        'conditions': others + [cond],
    }
    if generation is not None:
        status['observedGeneration'] = generation
    if _status_key(old, generation) == _status_key(status, generation):
        return None
    return status


def _status_key(status, generation):
    """What decides whether the status must be written: usage, our condition's meaning, the observed generation."""
    cond = None
    for item in status.get('conditions') or []:
        if item.get('type') == CONDITION_TYPE:
            cond = (item.get('status'), item.get('reason'), item.get('message'), item.get('observedGeneration', generation))
    return (status.get('usage'), cond, status.get('observedGeneration', generation) if status else None)


def write_status(client, policy, status):
    meta = policy['metadata']
    return client.patch(trp_path(meta['namespace'], meta['name'], 'status'), {'status': status}, patch_type='merge')


# ----------------------------------------------------------------------------------------------- info

def tenant_report(policy, namespace_obj, subscriptions, clusters, policy_csv, accounts):
    """One tenant's view for tenant_info (pure). ``policy_csv`` None = no RBAC ConfigMap; ``accounts`` None = unknown."""
    meta = policy.get('metadata') or {}
    namespace = meta.get('namespace')
    block_found, users = rbac_block(policy_csv, namespace)
    limits = limits_view(policy.get('spec'))
    usage = namespace_usage(clusters, users)
    ns_labels = _labels(namespace_obj)
    managed = namespace_obj is not None and ns_labels.get(_constants.MANAGED_BY_LABEL) == _constants.EVEREST_MANAGED_BY
    operators = sorted(_constants.SUBSCRIPTION_SHORT_NAMES.get((s.get('metadata') or {}).get('name'), (s.get('metadata') or {}).get('name'))
                       for s in subscriptions)
    missing_accounts = sorted(u for u in users if accounts is not None and u not in accounts)
    over = over_limits(limits, usage)
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
        'allowed_engines': canonical_spec(policy.get('spec'))['selectors']['engines'],
        'limits': limits,
        'usage': usage_view(usage),
        'headroom': headroom_view(limits, usage),
        'drift': drift,
        'drifted': bool(drift['namespace_not_managed'] or drift['rbac_block_missing'] or missing_accounts or over),
        'warnings': usage['warnings'],
    }


def _by_namespace(items):
    out = {}
    for obj in items:
        out.setdefault((obj.get('metadata') or {}).get('namespace'), []).append(obj)
    return out


def _list_or_empty(client, url, **kwargs):
    try:
        return client.list(url, **kwargs)['items']
    except K8sNotFound:
        return []


def collect_tenants(client, namespace=None, policy_name=None):
    """Read everything tenant_info needs with a fixed number of calls (LISTs, not per-tenant GETs when listing all)."""
    if namespace is not None:
        try:
            policies = client.list(trp_path(namespace))['items']
        except K8sNotFound:
            policies = []
        ns_obj = client.get_or_none(_k8s.path('v1', 'namespaces', name=namespace))
        namespaces = {namespace: ns_obj} if ns_obj is not None else {}
        subs = {namespace: _list_or_empty(client, _k8s.path(_constants.SUBSCRIPTION_API_VERSION, 'subscriptions', namespace))}
        clusters = {namespace: list_clusters(client, namespace)}
    else:
        try:
            policies = client.list(trp_path())['items']
        except K8sNotFound:
            policies = []
        namespaces = dict(((o.get('metadata') or {}).get('name'), o) for o in client.list(_k8s.path('v1', 'namespaces'))['items'])
        subs = _by_namespace(_list_or_empty(client, _k8s.path(_constants.SUBSCRIPTION_API_VERSION, 'subscriptions')))
        clusters = _by_namespace(list_clusters(client))
    if policy_name is not None:
        policies = [p for p in policies if (p.get('metadata') or {}).get('name') == policy_name]
    policy_csv = read_rbac_policy(client) if policies else None
    accounts = read_account_names(client) if policies else None
    reports = []
    for pol in sorted(policies, key=lambda p: ((p.get('metadata') or {}).get('namespace'), (p.get('metadata') or {}).get('name'))):
        ns = (pol.get('metadata') or {}).get('namespace')
        reports.append(tenant_report(pol, namespaces.get(ns), subs.get(ns, []), clusters.get(ns, []), policy_csv, accounts))
    return reports


# ----------------------------------------------------------------------------------------------- converge

def _quota_view(obj):
    if obj is None:
        return None
    return {'name': obj['metadata']['name'], 'namespace': obj['metadata'].get('namespace'),
            'hard': dict((obj.get('spec') or {}).get('hard') or {})}


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
                policy, quota = observe_one(client, item['namespace'], item['name'],
                                            cluster_quota=item['cluster_quota'] or item['state'] == 'absent')
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
