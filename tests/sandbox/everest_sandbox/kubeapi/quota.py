"""ResourceQuota: the admission plugin and the quota controller of a real cluster, over the emulator's store.

Evaluators (``pkg/quota/v1/evaluator/core`` and ``generic``):

* pods: ``count/pods`` (every pod), ``pods`` and the compute names (only pods that are not Succeeded/Failed):
  ``cpu``/``requests.cpu``, ``memory``/``requests.memory``, ``ephemeral-storage``/``requests.ephemeral-storage``,
  ``limits.*``, hugepages and ``requests.<extended>``, from the pod's requests and limits (``podresources``);
  scopes Terminating, NotTerminating, BestEffort, NotBestEffort, PriorityClass, CrossNamespacePodAffinity;
* persistentvolumeclaims: ``count/persistentvolumeclaims``, ``persistentvolumeclaims``, ``requests.storage`` (the
  larger of the request and ``status.allocatedResources``, rounded up to whole bytes) and the same two per storage class
  (``<class>.storageclass.storage.k8s.io/requests.storage``);
* every other resource: ``count/<plural>[.<group>]`` plus the legacy names ``configmaps``, ``secrets``,
  ``resourcequotas``, ``replicationcontrollers``; charged on CREATE only.

Admission (``staging/src/k8s.io/apiserver/pkg/admission/plugin/resourcequota/controller.go``, ``CheckRequest``):
pods and object counts on CREATE, PVCs on CREATE and UPDATE (charged by the increase), never subresources. A quota
takes part when its ``status.hard`` names a resource the evaluator handles and its scopes match. Pod quotas on
cpu/memory need every container to state them (``must specify``); a hard name without ``status.used`` is
``status unknown``; negative usage is refused; then used + requested <= hard for every charged name, else ``exceeded
quota`` listing only the exceeded names. All refusals are 403 Forbidden. On success the new ``status.used`` is written
before the object is stored (not for dry runs).

Controller (``pkg/controller/resourcequota``): ``status.hard`` = ``spec.hard``; ``status.used`` for exactly the hard
names an evaluator can count (zero as ``0``), written when a quota is created or its spec changes and recomputed
(``refresh``) after deletes of namespaced objects and after pod/PVC updates that change their usage (a real
controller replenishes on deletes and terminal pods, and resyncs every few minutes; creates are charged by admission
in both). A status written by hand stays until the next such event. The sandbox counts a new custom resource at
once, where kube-controller-manager waits for its discovery resync.
"""

from __future__ import annotations

from . import errors as E
from .podresources import pod_limits, pod_requests, qos_class
from .quantity import ZERO, Quantity, add_lists, mask, subtract_non_negative

POD_KEY = ('', 'pods')
PVC_KEY = ('', 'persistentvolumeclaims')
QUOTA_KEY = ('', 'resourcequotas')
LEGACY_COUNTS = {
    'configmaps': ('', 'configmaps'),
    'secrets': ('', 'secrets'),
    'resourcequotas': ('', 'resourcequotas'),
    'replicationcontrollers': ('', 'replicationcontrollers'),
}
POD_RESOURCES = (
    'count/pods',
    'cpu',
    'memory',
    'ephemeral-storage',
    'requests.cpu',
    'requests.memory',
    'requests.ephemeral-storage',
    'limits.cpu',
    'limits.memory',
    'limits.ephemeral-storage',
    'pods',
)
POD_CONSTRAINED = ('cpu', 'memory', 'requests.cpu', 'requests.memory', 'limits.cpu', 'limits.memory')
PVC_RESOURCES = ('persistentvolumeclaims', 'requests.storage')
STORAGE_CLASS_SUFFIX = '.storageclass.storage.k8s.io/'
ONE = Quantity(1)
_USAGE_CACHE: dict = {}  # (uid, resourceVersion) -> usage of a stored object
_USAGE_CACHE_MAX = 50000


def _extended(name: str) -> bool:
    """A resource outside the kubernetes.io namespace (``example.com/gpu``)."""
    return '/' in name and not name.split('/', 1)[0].endswith('kubernetes.io') and not name.startswith('requests.')


def _count_name(group: str, plural: str) -> str:
    return f'count/{plural}.{group}' if group else f'count/{plural}'


# ------------------------------------------------------------------ evaluators
class ObjectCountEvaluator:
    """``generic.NewObjectCountEvaluator``: one per resource; CREATE only; scopes never match."""

    def __init__(self, group: str, plural: str):
        self.key = (group, plural)
        self.names = [_count_name(group, plural)] + [k for k, v in LEGACY_COUNTS.items() if v == self.key]

    def handles(self, operation: str) -> bool:
        return operation == 'CREATE'

    def matching(self, names) -> list:
        return [n for n in names if n in self.names]

    def usage(self, _obj) -> dict:
        return {name: ONE for name in self.names}

    @staticmethod
    def constraints(_required, _obj):
        return None

    @staticmethod
    def matches_scope(_selector, _obj) -> bool:
        return False

    def usage_stats(self, objects, _selectors) -> dict:
        return {name: Quantity(len(objects)) for name in self.names}


class PodEvaluator(ObjectCountEvaluator):
    """``podEvaluator``."""

    def __init__(self):
        super().__init__('', 'pods')

    def matching(self, names) -> list:
        return [
            n
            for n in names
            if n in POD_RESOURCES or n.startswith(('hugepages-', 'requests.hugepages-')) or (n.startswith('requests.') and _extended(n[len('requests.') :]))
        ]

    def usage(self, pod) -> dict:
        result = {'count/pods': ONE}
        if not pod_counts_compute(pod):
            return result
        return add_lists(result, compute_usage(pod_requests(pod), pod_limits(pod)))

    def constraints(self, required, pod):
        wanted = set(required) & set(POD_CONSTRAINED)
        missing: dict = {}
        spec = pod.get('spec') or {}
        for container in list(spec.get('containers') or []) + list(spec.get('initContainers') or []):
            res = container.get('resources') or {}
            have = set(compute_usage(_qty_map(res.get('requests')), _qty_map(res.get('limits'))))
            for name in wanted - have:
                missing.setdefault(name, set()).add(container.get('name', ''))
        if not missing:
            return None
        return 'must specify ' + '; '.join(f'{name} for: {",".join(sorted(missing[name]))}' for name in sorted(missing))

    @staticmethod
    def matches_scope(selector, pod) -> bool:
        return pod_matches_scope(selector, pod)

    def usage_stats(self, objects, selectors) -> dict:
        total: dict = {}
        for pod in objects:
            if all(self.matches_scope(sel, pod) for sel in selectors):
                total = add_lists(total, stored_usage(self, pod))
        return total


class PvcEvaluator(ObjectCountEvaluator):
    """``pvcEvaluator``: CREATE and UPDATE."""

    def __init__(self):
        super().__init__('', 'persistentvolumeclaims')

    def handles(self, operation: str) -> bool:
        return operation in ('CREATE', 'UPDATE')

    def matching(self, names) -> list:
        return [
            n for n in names if n == 'count/persistentvolumeclaims' or n in PVC_RESOURCES or any(n.endswith(STORAGE_CLASS_SUFFIX + r) for r in PVC_RESOURCES)
        ]

    def usage(self, pvc) -> dict:
        result = {'persistentvolumeclaims': ONE, 'count/persistentvolumeclaims': ONE}
        spec = pvc.get('spec') or {}
        storage_class = spec.get('storageClassName') or ((pvc.get('metadata') or {}).get('annotations') or {}).get(
            'volume.beta.kubernetes.io/storage-class', ''
        )
        if storage_class:
            result[storage_class + STORAGE_CLASS_SUFFIX + 'persistentvolumeclaims'] = ONE
        requested = _qty_map((spec.get('resources') or {}).get('requests')).get('storage')
        allocated = _qty_map((pvc.get('status') or {}).get('allocatedResources')).get('storage')
        if requested is not None and allocated is not None and allocated > requested:
            requested = allocated
        if requested is not None:
            requested = requested.round_up()
            result['requests.storage'] = requested
            if storage_class:
                result[storage_class + STORAGE_CLASS_SUFFIX + 'requests.storage'] = requested
        return result

    def usage_stats(self, objects, _selectors) -> dict:
        total: dict = {}
        for pvc in objects:
            total = add_lists(total, stored_usage(self, pvc))
        return total


def stored_usage(evaluator, obj: dict) -> dict:
    """``evaluator.usage`` of a stored object, cached by uid and resourceVersion (the controller recounts often)."""
    meta = obj.get('metadata') or {}
    key = (meta.get('uid'), meta.get('resourceVersion'))
    if None in key:
        return evaluator.usage(obj)
    found = _USAGE_CACHE.get(key)
    if found is None:
        if len(_USAGE_CACHE) >= _USAGE_CACHE_MAX:
            _USAGE_CACHE.clear()
        found = _USAGE_CACHE[key] = evaluator.usage(obj)
    return found


def usage_changed(key: tuple, old: dict, new: dict) -> bool:
    """Whether an update of a stored object changes what quotas count (a pod turning terminal, a PVC growing)."""
    if key not in (POD_KEY, PVC_KEY):
        return False
    evaluator = evaluator_for(key)
    return stored_usage(evaluator, old) != stored_usage(evaluator, new)


def _qty_map(raw) -> dict:
    return {k: Quantity.parse(v) for k, v in (raw or {}).items()}


def compute_usage(requests: dict, limits: dict) -> dict:
    """``podComputeUsageHelper``."""
    result = {'pods': ONE}
    for res in ('cpu', 'memory', 'ephemeral-storage'):
        if res in requests:
            result[res] = requests[res]
            result['requests.' + res] = requests[res]
        if res in limits:
            result['limits.' + res] = limits[res]
    for name, value in requests.items():
        if name.startswith('hugepages-'):
            result[name] = value
            result['requests.' + name] = value
        elif _extended(name):
            result['requests.' + name] = value
    return result


def pod_counts_compute(pod: dict) -> bool:
    """``QuotaV1Pod``: terminal pods (and pods past their deletion grace period) do not use compute quota."""
    return (pod.get('status') or {}).get('phase') not in ('Succeeded', 'Failed')


def _cross_namespace_affinity(pod: dict) -> bool:
    affinity = (pod.get('spec') or {}).get('affinity') or {}
    for kind in ('podAffinity', 'podAntiAffinity'):
        section = affinity.get(kind) or {}
        terms = list(section.get('requiredDuringSchedulingIgnoredDuringExecution') or [])
        terms += [t.get('podAffinityTerm') or {} for t in section.get('preferredDuringSchedulingIgnoredDuringExecution') or []]
        if any(t.get('namespaces') or t.get('namespaceSelector') is not None for t in terms):
            return True
    return False


def pod_matches_scope(selector: dict, pod: dict) -> bool:
    """``podMatchesScopeFunc`` for one scoped requirement ``{scopeName, operator, values}``."""
    spec = pod.get('spec') or {}
    scope = selector.get('scopeName')
    if scope in ('Terminating', 'NotTerminating'):
        deadline = spec.get('activeDeadlineSeconds')
        terminating = isinstance(deadline, int) and deadline >= 0
        return terminating if scope == 'Terminating' else not terminating
    if scope in ('BestEffort', 'NotBestEffort'):
        best_effort = qos_class(pod) == 'BestEffort'
        return best_effort if scope == 'BestEffort' else not best_effort
    if scope == 'PriorityClass':
        name = spec.get('priorityClassName') or ''
        operator, values = selector.get('operator'), selector.get('values') or []
        return {'Exists': bool(name), 'DoesNotExist': False, 'In': name in values, 'NotIn': name not in values}.get(operator, False)
    if scope == 'CrossNamespacePodAffinity':
        return _cross_namespace_affinity(pod)
    return False


def scope_selectors(quota: dict) -> list:
    spec = quota.get('spec') or {}
    out = [{'scopeName': s, 'operator': 'Exists'} for s in spec.get('scopes') or []]
    return out + list(((spec.get('scopeSelector') or {}).get('matchExpressions')) or [])


# ------------------------------------------------------------------ registry of evaluators
POD_EVALUATOR = PodEvaluator()
PVC_EVALUATOR = PvcEvaluator()


def evaluator_for(key: tuple):
    if key == POD_KEY:
        return POD_EVALUATOR
    if key == PVC_KEY:
        return PVC_EVALUATOR
    return ObjectCountEvaluator(*key)


def _known_keys(store) -> set:
    return {t.storage_key for t in store.registry.all() if t.namespaced}


def _evaluator_of_name(store, name: str):
    """The evaluator that counts the quota resource ``name``, or None (then the controller leaves it out of used)."""
    for special in (POD_EVALUATOR, PVC_EVALUATOR):
        if special.matching([name]):
            return special
    if name in LEGACY_COUNTS:
        key = LEGACY_COUNTS[name]
    elif name.startswith('count/'):
        plural, _sep, group = name[len('count/') :].partition('.')
        key = (group, plural)
    else:
        return None
    return evaluator_for(key) if key in _known_keys(store) else None


def _objects(store, key: tuple, namespace: str) -> list:
    return [obj for (ns, _name), obj in sorted(i for i in store.data.get(key, {}).items() if i[0][0] == namespace)]


def quotas_of(store, namespace: str) -> list:
    """The ResourceQuotas of ``namespace`` by name."""
    return _objects(store, QUOTA_KEY, namespace)


# ------------------------------------------------------------------ controller
def calculate_used(store, quota: dict) -> dict:
    """``quota.CalculateUsage``: {name: Quantity} for the hard names some evaluator counts."""
    hard = (quota.get('spec') or {}).get('hard') or {}
    namespace = quota['metadata'].get('namespace', '')
    groups: dict = {}
    for name in hard:
        evaluator = _evaluator_of_name(store, name)
        if evaluator is not None:
            groups.setdefault(evaluator.key, (evaluator, []))[1].append(name)
    used: dict = {}
    selectors = scope_selectors(quota)
    for key, (evaluator, names) in groups.items():
        stats = evaluator.usage_stats(_objects(store, key, namespace), selectors)
        used.update({name: stats.get(name, ZERO) for name in names})
    return used


def controller_status(store, quota: dict) -> dict:
    """The status the quota controller writes: ``hard`` = ``spec.hard``, ``used`` for the countable hard names."""
    hard = dict((quota.get('spec') or {}).get('hard') or {})
    if not hard:
        return {}
    used = calculate_used(store, quota)
    return {'hard': hard, 'used': {name: str(used[name]) for name in hard if name in used}}


def refresh(store, namespace: str | None = None):
    """Recompute the status of the quotas of ``namespace`` (all when None); bumps resourceVersions of changed ones."""
    quotas = list(store.data.get(QUOTA_KEY, {}).values()) if namespace is None else quotas_of(store, namespace)
    for quota in quotas:
        status = controller_status(store, quota)
        if quota.get('status', {}) != status:
            quota['status'] = status
            quota['metadata']['resourceVersion'] = store.next_resource_version()


# ------------------------------------------------------------------ admission
def _pretty(items: dict) -> str:
    return ','.join(f'{name}={items[name]}' for name in sorted(items))


class ResourceQuota:
    """The ResourceQuota admission plugin (validating)."""

    aliases = ('ObjectCountQuota',)

    @staticmethod
    def handles(attrs) -> bool:
        return bool(attrs.namespace) and not attrs.subresource and attrs.operation in ('CREATE', 'UPDATE')

    def validate(self, store, attrs):
        evaluator = evaluator_for(attrs.rtype.storage_key)
        if not evaluator.handles(attrs.operation):
            return
        new_used = check_request(quotas_of(store, attrs.namespace), attrs, evaluator)
        if attrs.dry_run:
            return
        for quota, used in new_used:
            quota.setdefault('status', {})['used'] = {k: str(v) for k, v in used.items()}
            quota['metadata']['resourceVersion'] = store.next_resource_version()


def _forbidden(attrs, detail: str) -> E.ApiError:
    rtype = attrs.rtype
    return E.forbidden(rtype.group, rtype.plural, attrs.name, detail)


def _interesting(quotas: list, attrs, evaluator) -> list:
    """The quotas that cover this object: (quota, hard, used), after the constraint and status checks."""
    out = []
    for quota in quotas:
        status = quota.get('status') or {}
        hard = _qty_map(status.get('hard'))
        restricted = evaluator.matching(hard)
        if not restricted or not all(evaluator.matches_scope(sel, attrs.obj) for sel in scope_selectors(quota)):
            continue
        qname = quota['metadata']['name']
        problem = evaluator.constraints(restricted, attrs.obj)
        if problem:
            raise _forbidden(attrs, f'failed quota: {qname}: {problem}')
        used = _qty_map(status.get('used'))
        if any(name not in used for name in restricted):
            raise _forbidden(attrs, f'status unknown for quota: {qname}, resources: {",".join(sorted(restricted))}')
        out.append((quota, hard, used))
    return out


def check_request(quotas: list, attrs, evaluator) -> list:
    """``CheckRequest``: raises the 403 or returns [(quota, new used)] for the quotas this request charges."""
    interesting = _interesting(quotas, attrs, evaluator)
    delta = evaluator.usage(attrs.obj)
    negative = sorted(name for name, value in delta.items() if value.sign() < 0)
    if negative:
        raise _forbidden(attrs, f'quota usage is negative for resource(s): {",".join(negative)}')
    if attrs.operation == 'UPDATE' and attrs.old is not None:
        delta = subtract_non_negative(delta, evaluator.usage(attrs.old))
    delta = {k: v for k, v in delta.items() if not v.is_zero()}
    if not delta or not interesting:
        return []
    out = []
    for quota, hard, used in interesting:
        requested = mask(delta, hard)
        new_used = add_lists(used, requested)
        exceeded = sorted(name for name in requested if new_used[name] > hard[name])
        if exceeded:
            detail = (
                f'exceeded quota: {quota["metadata"]["name"]}, requested: {_pretty(mask(requested, exceeded))}, '
                f'used: {_pretty(mask(used, exceeded))}, limited: {_pretty(mask(hard, exceeded))}'
            )
            raise _forbidden(attrs, detail)
        if requested:
            out.append((quota, new_used))
    return out
