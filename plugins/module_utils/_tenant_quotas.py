# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The objects a TenantResourcePolicy implies in its namespace, its *layers* beside the admission policy: what they
hold (pure), how they compare, how they are shown. ``_trp_policy.py`` writes them, ``_tenant_report.py`` reports them.

================ ================================ ================================================================
layer            object                           spec (present when)
================ ================================ ================================================================
``count_quota``  ResourceQuota ``<policy>-clusters`` ``count/databaseclusters.everest.percona.com`` = maxClusters
                                                  (maxClusters set)
``compute_quota`` ResourceQuota ``<policy>-compute`` ``requests.cpu`` = cpuCores + clusters x headroom cpu,
                                                  ``requests.memory`` = memoryBytes + clusters x headroom memory
                                                  (cpuCores or memoryBytes set; each key only for its own limit)
``storage_quota`` ResourceQuota ``<policy>-storage`` ``requests.storage`` = storageBytes, ``persistentvolumeclaims`` =
                                                  maxClusters x headroom volumes (storageBytes set; the count only
                                                  with maxClusters)
``limit_range``  LimitRange ``<policy>-defaults``  one ``Container`` item with ``defaultRequest`` (with the compute quota)
================ ================================ ================================================================

``clusters`` is maxClusters, or 1 without it. The headroom (``_headroom.py``) is per cluster: the value given in
``quota_headroom`` for each of cpu, memory and volumes, else the default derived from the engines the policy allows.
Only requests are limited, never ``limits.*``: the policy's numbers are what a tenant reserves, and a ``limits.*``
quota would force a limit on every container, where the Percona operators leave several without one (PMM client,
pgBackRest); a LimitRange default limit would then cap (or, below the container's request, invalidate) those pods.

Quantities are written the way Kubernetes writes them (``3700m``, ``6184Mi``, bytes when no unit divides exactly)
and compared by value, so a quota the API server rewrote in another spelling is not a change. The compute quota
carries the headroom it was derived from in the annotation ``virakcloud.everest/quota-headroom`` (JSON).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json

from ansible_collections.virakcloud.everest.plugins.module_utils import _constants, _headroom, _k8s, _quantity
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import ValidationError

COUNT, COMPUTE, STORAGE, LIMIT_RANGE = 'count_quota', 'compute_quota', 'storage_quota', 'limit_range'
LAYERS = (COUNT, COMPUTE, STORAGE, LIMIT_RANGE)
QUOTA_LAYERS = (COUNT, COMPUTE, STORAGE)
SUFFIX = {
    COUNT: _constants.QUOTA_NAME_SUFFIX,
    COMPUTE: _constants.COMPUTE_QUOTA_SUFFIX,
    STORAGE: _constants.STORAGE_QUOTA_SUFFIX,
    LIMIT_RANGE: _constants.LIMIT_RANGE_SUFFIX,
}
KIND = {COUNT: 'ResourceQuota', COMPUTE: 'ResourceQuota', STORAGE: 'ResourceQuota', LIMIT_RANGE: 'LimitRange'}
PLURAL = {'ResourceQuota': 'resourcequotas', 'LimitRange': 'limitranges'}
CPU, MEMORY = 'requests.cpu', 'requests.memory'
STORAGE_KEY, PVC_KEY = 'requests.storage', 'persistentvolumeclaims'
# Order of writes: the LimitRange before the compute quota (a pod created in between is never refused for lacking
# requests), and the quotas before the LimitRange when removing.
CREATE_ORDER = (LIMIT_RANGE, COUNT, COMPUTE, STORAGE)
DELETE_ORDER = (COUNT, COMPUTE, STORAGE, LIMIT_RANGE)


def object_name(layer, policy_name):
    return policy_name + SUFFIX[layer]


def path(layer_or_kind, namespace=None, name=None):
    kind = KIND.get(layer_or_kind, layer_or_kind)
    return _k8s.path('v1', PLURAL[kind], namespace, name)


# ------------------------------------------------------------------------------------------------------ settings


def normalize_settings(quota_headroom, default_requests):
    """Validate the module's ``quota_headroom`` ({cpu, memory, volumes}, per cluster, each optional) and
    ``default_requests`` ({cpu, memory}). Returns ``{'headroom': {...None = derived}, 'default_requests': {cpu, memory}}``
    with the requests in canonical text. Raises ValidationError."""
    given = quota_headroom or {}
    if not isinstance(given, dict):
        raise ValidationError('quota_headroom must be a map with cpu, memory and volumes (per cluster)')
    unknown = sorted(set(k for k, v in given.items() if v is not None) - set(('cpu', 'memory', 'volumes')))
    if unknown:
        raise ValidationError('quota_headroom: unknown key(s) %s; use cpu, memory, volumes' % ', '.join(unknown))
    headroom = {'cpu': None, 'memory': None, 'volumes': None}
    if given.get('cpu') is not None:
        headroom['cpu'] = _quantity.non_negative(given['cpu'], 'quota_headroom.cpu')
    if given.get('memory') is not None:
        headroom['memory'] = _quantity.value_ceil(_quantity.non_negative(given['memory'], 'quota_headroom.memory'))
    if given.get('volumes') is not None:
        value = given['volumes']
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValidationError('quota_headroom.volumes must be a non-negative integer (PersistentVolumeClaims per cluster), got %r' % (value,))
        headroom['volumes'] = value
    requests = dict(_headroom.DEFAULT_REQUESTS)
    for key, value in (default_requests or {}).items():
        if value is None:
            continue
        if key not in requests:
            raise ValidationError('default_requests: unknown key %s; use cpu, memory' % key)
        frac = _quantity.non_negative(value, 'default_requests.%s' % key)
        requests[key] = _quantity.format_cpu(frac) if key == 'cpu' else _quantity.format_bytes(_quantity.value_ceil(frac))
    return {'headroom': headroom, 'default_requests': requests}


def headroom_for(spec, settings):
    """The headroom per cluster a policy's quotas use and the clusters it covers: ``{'cpu': Fraction, 'memory': int,
    'volumes': int, 'clusters': int}`` (given values, else the defaults derived from the policy's engines)."""
    limits = spec['limits']
    engines = [_constants.POLICY_ENGINE_TO_TYPE[e] for e in spec['selectors']['engines'] or [] if e in _constants.POLICY_ENGINE_TO_TYPE]
    derived = _headroom.default_headroom(engines, limits.get('memoryBytes'), settings['default_requests'])
    out = dict((k, derived[k] if settings['headroom'][k] is None else settings['headroom'][k]) for k in ('cpu', 'memory', 'volumes'))
    out['clusters'] = limits['maxClusters'] if limits.get('maxClusters') is not None else 1
    return out


def headroom_view(headroom):
    """The headroom as text (and the annotation's content): ``{'cpu': '850m', 'memory': '1044Mi', 'volumes': 4, 'clusters': 2}``."""
    return {
        'cpu': _quantity.format_cpu(headroom['cpu']),
        'memory': _quantity.format_bytes(headroom['memory']),
        'volumes': headroom['volumes'],
        'clusters': headroom['clusters'],
    }


# ------------------------------------------------------------------------------------------------------- objects


def desired(layer, namespace, policy_name, spec, labels, settings):
    """The object ``layer`` should be for a policy ``spec`` (canonical, ``_trp_policy.canonical_spec``), or None when
    the policy does not call for it."""
    limits = spec['limits']
    meta = {'name': object_name(layer, policy_name), 'namespace': namespace, 'labels': dict(labels)}
    if layer == LIMIT_RANGE:
        if limits.get('cpuCores') is None and limits.get('memoryBytes') is None:
            return None
        requests = dict(settings['default_requests'])
        return {'apiVersion': 'v1', 'kind': 'LimitRange', 'metadata': meta, 'spec': {'limits': [{'type': 'Container', 'defaultRequest': requests}]}}
    hard = {}
    if layer == COUNT:
        if limits.get('maxClusters') is not None:
            hard[_constants.DBC_COUNT_RESOURCE] = str(limits['maxClusters'])
    elif layer == COMPUTE:
        headroom = headroom_for(spec, settings)
        if limits.get('cpuCores') is not None:
            hard[CPU] = _quantity.format_cpu(_quantity.parse(limits['cpuCores']) + headroom['clusters'] * headroom['cpu'])
        if limits.get('memoryBytes') is not None:
            hard[MEMORY] = _quantity.format_bytes(limits['memoryBytes'] + headroom['clusters'] * headroom['memory'])
        if hard:
            meta['annotations'] = {_constants.HEADROOM_ANNOTATION: json.dumps(headroom_view(headroom), sort_keys=True, separators=(',', ':'))}
    elif layer == STORAGE:
        if limits.get('storageBytes') is not None:
            hard[STORAGE_KEY] = _quantity.format_bytes(limits['storageBytes'])
            if limits.get('maxClusters') is not None:
                hard[PVC_KEY] = str(limits['maxClusters'] * headroom_for(spec, settings)['volumes'])
    if not hard:
        return None
    return {'apiVersion': 'v1', 'kind': 'ResourceQuota', 'metadata': meta, 'spec': {'hard': hard}}


def _quantities_equal(observed, wanted):
    observed = observed if isinstance(observed, dict) else {}
    if set(observed) != set(wanted):
        return False
    for key, value in wanted.items():
        try:
            if _quantity.parse(observed[key]) != _quantity.parse(value):
                return False
        except _quantity.QuantityError:
            return False
    return True


def hard_equal(observed_hard, desired_hard):
    """Whether two ``spec.hard`` maps name the same resources with the same values (spelling aside)."""
    return _quantities_equal(observed_hard, desired_hard)


def _limit_items_equal(observed, wanted):
    if not isinstance(observed, list) or len(observed) != len(wanted):
        return False
    for have, want in zip(observed, wanted):
        if not isinstance(have, dict) or have.get('type') != want.get('type') or set(k for k in have if k != 'type') != set(k for k in want if k != 'type'):
            return False
        if not all(_quantities_equal(have[k], want[k]) for k in want if k != 'type'):
            return False
    return True


def spec_equal(layer, observed, wanted):
    """Whether the observed object's spec is the wanted one (quantities by value)."""
    if layer == LIMIT_RANGE:
        return _limit_items_equal(((observed or {}).get('spec') or {}).get('limits'), wanted['spec']['limits'])
    return hard_equal(((observed or {}).get('spec') or {}).get('hard'), wanted['spec']['hard'])


def metadata_missing(observed, wanted):
    """Labels and annotations of ``wanted`` the observed object lacks (or has with another value)."""
    missing = dict(_k8s.labels_missing(observed, wanted['metadata'].get('labels') or {}))
    have = ((observed or {}).get('metadata') or {}).get('annotations') or {}
    missing.update((k, v) for k, v in (wanted['metadata'].get('annotations') or {}).items() if have.get(k) != v)
    return missing


def up_to_date(layer, observed, wanted):
    return spec_equal(layer, observed, wanted) and not metadata_missing(observed, wanted)


def updated(layer, current, wanted):
    """``current`` with the wanted spec, labels and annotations (others' labels and annotations kept), or None when it
    already is (for read_modify_write)."""
    if up_to_date(layer, current, wanted):
        return None
    new = copy.deepcopy(current)
    new.pop('status', None)
    new['spec'] = dict(new.get('spec') or {})
    if layer == LIMIT_RANGE:
        new['spec']['limits'] = copy.deepcopy(wanted['spec']['limits'])
    else:
        new['spec']['hard'] = dict(wanted['spec']['hard'])
    meta = new.setdefault('metadata', {})
    meta.setdefault('labels', {}).update(wanted['metadata'].get('labels') or {})
    if wanted['metadata'].get('annotations'):
        meta.setdefault('annotations', {}).update(wanted['metadata']['annotations'])
    return new


# --------------------------------------------------------------------------------------------------------- views


def annotated_headroom(obj):
    """The headroom a compute quota records in its annotation (None when absent or unreadable)."""
    text = (((obj or {}).get('metadata') or {}).get('annotations') or {}).get(_constants.HEADROOM_ANNOTATION)
    try:
        value = json.loads(text) if text else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def view(layer, obj):
    """What diffs and results show of a layer's object: its name and spec (hard values, or the LimitRange's items);
    the compute quota adds its headroom. None for no object."""
    if obj is None:
        return None
    out = {'name': obj['metadata']['name']}
    spec = obj.get('spec') or {}
    if layer == LIMIT_RANGE:
        out['limits'] = copy.deepcopy(spec.get('limits') or [])
        return out
    out['hard'] = dict(spec.get('hard') or {})
    if layer == COMPUTE:
        headroom = annotated_headroom(obj)
        if headroom is not None:
            out['headroom'] = headroom
    return out


# ---------------------------------------------------------------------------------------------- tenant_info's view


def required(layer, spec):
    """The keys (quota) or resources (LimitRange defaultRequest) a policy needs from a layer to be in force; empty when
    the policy does not call for the layer."""
    limits = spec['limits']
    if layer == COUNT:
        return [_constants.DBC_COUNT_RESOURCE] if limits.get('maxClusters') is not None else []
    if layer == COMPUTE:
        return [k for k, lim in ((CPU, 'cpuCores'), (MEMORY, 'memoryBytes')) if limits.get(lim) is not None]
    if layer == STORAGE:
        return [STORAGE_KEY] if limits.get('storageBytes') is not None else []
    return [k for k, lim in (('cpu', 'cpuCores'), ('memory', 'memoryBytes')) if limits.get(lim) is not None]


def over_hard(quota):
    """Keys of a quota whose ``status.used`` is above ``status.hard`` (Kubernetes never admits that, but lowering a
    quota below what exists, or objects created before it, leave it so)."""
    status = (quota or {}).get('status') or {}
    hard, used = status.get('hard') or {}, status.get('used') or {}
    over = []
    for key in sorted(hard):
        try:
            if key in used and _quantity.parse(used[key]) > _quantity.parse(hard[key]):
                over.append(key)
        except _quantity.QuantityError:
            continue
    return over


def layer_status(layer, obj, spec):
    """One layer as tenant_info reports it: ``required`` (the policy calls for it), ``in_force`` (it exists and
    Kubernetes enforces what the policy needs: a quota's ``status.hard`` lists the keys, since a quota without status
    does nothing; the LimitRange gives a default request for each limited resource), ``name``, and for a quota ``hard``,
    ``used`` (``status.used``, as Kubernetes reports it) and ``over`` (keys used above hard)."""
    keys = required(layer, spec)
    out = {'required': bool(keys), 'in_force': False, 'name': (obj or {}).get('metadata', {}).get('name')}
    if layer == LIMIT_RANGE:
        defaults = {}
        for item in ((obj or {}).get('spec') or {}).get('limits') or []:
            if isinstance(item, dict) and item.get('type') == 'Container':
                defaults.update(item.get('defaultRequest') or {})
        out['default_requests'] = defaults
        out['in_force'] = obj is not None and all(k in defaults for k in keys)
        return out
    status = (obj or {}).get('status') or {}
    out['hard'] = dict(status.get('hard') or ((obj or {}).get('spec') or {}).get('hard') or {})
    out['used'] = dict(status.get('used') or {})
    out['over'] = over_hard(obj)
    out['in_force'] = obj is not None and all(k in (status.get('hard') or {}) for k in keys)
    if layer == COMPUTE and annotated_headroom(obj) is not None:
        out['headroom'] = annotated_headroom(obj)
    return out
