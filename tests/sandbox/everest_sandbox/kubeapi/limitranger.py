"""The LimitRanger admission plugin (``plugin/pkg/admission/limitranger/admission.go``), mutating and validating.

* Handles Pods on CREATE and PersistentVolumeClaims on CREATE and UPDATE; never a subresource, never an object that
  is being deleted. Every LimitRange of the namespace is applied in turn (name order here; a real server uses its
  informer's order).
* Mutate (pods only): for each ``type: Container`` item, every container and init container gets each missing limit
  from ``default`` and each missing request from ``defaultRequest``; what was set is recorded in the annotation
  ``kubernetes.io/limit-ranger``: ``LimitRanger plugin set: cpu, memory request for container app; cpu limit for
  container app`` (names sorted, the request part before the limit part, ``init container`` for init containers,
  parts joined by ``; ``). API defaulting copied limits into empty requests before, so a container with only a cpu
  limit keeps request = limit.
* Validate: ``type: Container`` items check every container (min, then max, then maxLimitRequestRatio, each over the
  item's resource names in sorted order -- Go ranges over a map, so a real server's order varies), ``type: Pod`` items
  check the pod's totals (``podresources``), ``type: PersistentVolumeClaim`` items check ``spec.resources.requests``
  (min, and max against the request). All violations of one LimitRange are reported together (one bare, several as
  ``[a, b]``) as ``<resource> "<name>" is forbidden: ...`` (403); the first LimitRange with a violation wins.
"""

from __future__ import annotations

from . import errors as E
from .podresources import pod_limits, pod_requests
from .quantity import ZERO, Quantity, parse_list

POD_KEY = ('', 'pods')
PVC_KEY = ('', 'persistentvolumeclaims')
LIMITRANGE_KEY = ('', 'limitranges')
ANNOTATION = 'kubernetes.io/limit-ranger'


def _limit_ranges(store, namespace: str) -> list:
    return [obj for (_ns, _n), obj in sorted(i for i in store.data.get(LIMITRANGE_KEY, {}).items() if i[0][0] == namespace)]


def _items(limit_range: dict, ltype: str) -> list:
    return [i for i in (limit_range.get('spec') or {}).get('limits') or [] if isinstance(i, dict) and i.get('type') == ltype]


# ------------------------------------------------------------------ mutation
def _defaults(limit_range: dict) -> tuple:
    """(requests, limits) a container without them gets (``defaultContainerResourceRequirements``)."""
    requests, limits = {}, {}
    for item in _items(limit_range, 'Container'):
        requests.update(item.get('defaultRequest') or {})
        limits.update(item.get('default') or {})
    return requests, limits


def _merge_container(container: dict, requests: dict, limits: dict, prefix: str) -> list:
    res = container.get('resources')
    if not isinstance(res, dict):
        res = container['resources'] = {}
    notes = []
    for field, defaults, label in (('limits', limits, 'limit'), ('requests', requests, 'request')):
        current = res.get(field) or {}
        added = sorted(k for k in defaults if k not in current)
        if added:
            res[field] = dict(current, **{k: defaults[k] for k in added})
            notes.append((label, f'{", ".join(added)} {label} for {prefix} {container.get("name", "")}'))
    return [text for label, text in sorted(notes, key=lambda n: n[0] != 'request')]


def mutate_pod(limit_range: dict, pod: dict):
    requests, limits = _defaults(limit_range)
    if not requests and not limits:
        return
    spec = pod.get('spec') or {}
    notes = []
    for kind, prefix in (('containers', 'container'), ('initContainers', 'init container')):
        for container in spec.get(kind) or []:
            notes += _merge_container(container, requests, limits, prefix)
    if notes:
        pod.setdefault('metadata', {}).setdefault('annotations', {})[ANNOTATION] = 'LimitRanger plugin set: ' + '; '.join(notes)


# ------------------------------------------------------------------ validation
def _min(ltype: str, name: str, enforced: Quantity, requests: dict, limits: dict):
    req, lim = requests.get(name), limits.get(name)
    observed_req, observed_lim, floor = Quantity.comparable(req or ZERO, lim or ZERO, enforced)
    if req is None:
        return f'minimum {name} usage per {ltype} is {enforced}.  No request is specified'
    if observed_req < floor:
        return f'minimum {name} usage per {ltype} is {enforced}, but request is {req}'
    if lim is not None and observed_lim < floor:
        return f'minimum {name} usage per {ltype} is {enforced}, but limit is {lim}'
    return None


def _max(ltype: str, name: str, enforced: Quantity, requests: dict, limits: dict):
    req, lim = requests.get(name), limits.get(name)
    observed_req, observed_lim, ceiling = Quantity.comparable(req or ZERO, lim or ZERO, enforced)
    if lim is None:
        return f'maximum {name} usage per {ltype} is {enforced}.  No limit is specified'
    if observed_lim > ceiling:
        return f'maximum {name} usage per {ltype} is {enforced}, but limit is {lim}'
    if req is not None and observed_req > ceiling:
        return f'maximum {name} usage per {ltype} is {enforced}, but request is {req}'
    return None


def _max_request(ltype: str, name: str, enforced: Quantity, requests: dict):
    req = requests.get(name)
    observed_req, _zero, ceiling = Quantity.comparable(req or ZERO, ZERO, enforced)
    if req is None:
        return f'maximum {name} usage per {ltype} is {enforced}.  No request is specified'
    if observed_req > ceiling:
        return f'maximum {name} usage per {ltype} is {enforced}, but request is {req}'
    return None


def _ratio(ltype: str, name: str, enforced: Quantity, requests: dict, limits: dict):
    req, lim = requests.get(name), limits.get(name)
    observed_req, observed_lim, _enf = Quantity.comparable(req or ZERO, lim or ZERO, enforced)
    if req is None or observed_req == 0:
        return f'{name} max limit to request ratio per {ltype} is {enforced}, but no request is specified or request is 0'
    if lim is None or observed_lim == 0:
        return f'{name} max limit to request ratio per {ltype} is {enforced}, but no limit is specified or limit is 0'
    ratio = observed_lim / observed_req
    if enforced.value_int() <= (2**63 - 1) // 1000:
        over = ratio * 1000 > enforced.milli_value()
    else:
        over = ratio > enforced.value_int()
    return f'{name} max limit to request ratio per {ltype} is {enforced}, but provided ratio is {ratio:f}' if over else None


def _check_item(item: dict, ltype: str, requests: dict, limits: dict) -> list:
    found = []
    for name, raw in sorted((item.get('min') or {}).items()):
        found.append(_min(ltype, name, Quantity.parse(raw), requests, limits))
    for name, raw in sorted((item.get('max') or {}).items()):
        found.append(_max(ltype, name, Quantity.parse(raw), requests, limits))
    for name, raw in sorted((item.get('maxLimitRequestRatio') or {}).items()):
        found.append(_ratio(ltype, name, Quantity.parse(raw), requests, limits))
    return [f for f in found if f]


def validate_pod(limit_range: dict, pod: dict) -> list:
    found = []
    spec = pod.get('spec') or {}
    for item in (limit_range.get('spec') or {}).get('limits') or []:
        if not isinstance(item, dict):
            continue
        if item.get('type') == 'Container':
            for container in list(spec.get('containers') or []) + list(spec.get('initContainers') or []):
                res = container.get('resources') or {}
                found += _check_item(item, 'Container', parse_list(res.get('requests')), parse_list(res.get('limits')))
        elif item.get('type') == 'Pod':
            found += _check_item(item, 'Pod', pod_requests(pod), pod_limits(pod))
    return found


def validate_pvc(limit_range: dict, pvc: dict) -> list:
    requests = parse_list(((pvc.get('spec') or {}).get('resources') or {}).get('requests'))
    found = []
    for item in _items(limit_range, 'PersistentVolumeClaim'):
        for name, raw in sorted((item.get('min') or {}).items()):
            found.append(_min('PersistentVolumeClaim', name, Quantity.parse(raw), requests, {}))
        for name, raw in sorted((item.get('max') or {}).items()):
            found.append(_max_request('PersistentVolumeClaim', name, Quantity.parse(raw), requests))
    return [f for f in found if f]


class LimitRanger:
    """Admission plugin: ``mutate`` applies container defaults, ``validate`` enforces min/max/ratio."""

    @staticmethod
    def handles(attrs) -> bool:
        if attrs.subresource or attrs.obj is None:
            return False
        if attrs.old is not None and (attrs.old.get('metadata') or {}).get('deletionTimestamp'):
            return False
        key = attrs.rtype.storage_key
        return (key == POD_KEY and attrs.operation == 'CREATE') or (key == PVC_KEY and attrs.operation in ('CREATE', 'UPDATE'))

    @staticmethod
    def mutate(store, attrs):
        if attrs.rtype.storage_key != POD_KEY:
            return
        for limit_range in _limit_ranges(store, attrs.namespace):
            mutate_pod(limit_range, attrs.obj)

    @staticmethod
    def validate(store, attrs):
        check = validate_pod if attrs.rtype.storage_key == POD_KEY else validate_pvc
        for limit_range in _limit_ranges(store, attrs.namespace):
            found = check(limit_range, attrs.obj)
            if found:
                raise E.forbidden(attrs.rtype.group, attrs.rtype.plural, attrs.name, E.aggregate(found))
