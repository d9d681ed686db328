"""Core v1 kinds with resource quantities: Pods, PersistentVolumeClaims, LimitRanges, ResourceQuotas.

What the apiserver does to them, in this order: ``prepare`` before admission, ``validate`` between the mutating
and the validating admission plugins (where kube-apiserver's ``BeforeCreate``/``BeforeUpdate`` run):

* decoding: every quantity of a typed field must parse (else 400 ``<Kind> in version "v1" cannot be handled as a
  <Kind>: <quantity error>``) and reads back in canonical form (``cpu: 0.5`` is stored as ``500m``);
* API defaulting (``pkg/apis/core/v1/defaults.go``): a Pod container with limits but no request for a resource gets the
  limit as its request; a LimitRange ``type: Container`` item gets ``default`` from ``max`` and ``defaultRequest`` from
  ``default``, then from ``min``; PVCs get ``volumeMode: Filesystem``; Pods get the usual spec defaults;
* create/update strategy: a new Pod's status is ``Pending`` with its QoS class, a new PVC's ``Pending``;
* validation with the apiserver's texts (the subset the sandbox needs: containers, resource values, requests <= limits,
  PVC access modes and storage, LimitRange consistency, ResourceQuota names, values and scopes; Pod and PVC spec
  immutability without the diff the real message appends).

LimitRanger's defaults are therefore validated like user input, and ResourceQuota sees the validated object.
"""

from __future__ import annotations

import copy

from . import errors as E
from .errors import FieldError
from .podresources import qos_class
from .quantity import Quantity, QuantityError

POD_KEY = ('', 'pods')
PVC_KEY = ('', 'persistentvolumeclaims')
LIMITRANGE_KEY = ('', 'limitranges')
QUOTA_KEY = ('', 'resourcequotas')

ACCESS_MODES = ('ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOnce', 'ReadWriteOncePod')
STANDARD_CONTAINER_RESOURCES = ('cpu', 'memory', 'ephemeral-storage')
STANDARD_QUOTA_RESOURCES = (
    'cpu',
    'memory',
    'ephemeral-storage',
    'requests.cpu',
    'requests.memory',
    'requests.storage',
    'requests.ephemeral-storage',
    'limits.cpu',
    'limits.memory',
    'limits.ephemeral-storage',
    'pods',
    'services',
    'replicationcontrollers',
    'resourcequotas',
    'secrets',
    'persistentvolumeclaims',
    'configmaps',
    'services.loadbalancers',
    'services.nodeports',
)
INTEGER_QUOTA_RESOURCES = (
    'pods',
    'services',
    'replicationcontrollers',
    'resourcequotas',
    'secrets',
    'persistentvolumeclaims',
    'configmaps',
    'services.loadbalancers',
    'services.nodeports',
)
POD_QUOTA_SCOPES = ('Terminating', 'NotTerminating', 'BestEffort', 'NotBestEffort', 'PriorityClass', 'CrossNamespacePodAffinity')
POD_COMPUTE_QUOTA = ('cpu', 'memory', 'limits.cpu', 'limits.memory', 'requests.cpu', 'requests.memory')
LIMIT_TYPES = ('Pod', 'Container', 'PersistentVolumeClaim')
LIMIT_FIELDS = ('max', 'min', 'default', 'defaultRequest', 'maxLimitRequestRatio')
POD_UPDATE_FORBIDDEN = (
    'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,'
    '`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),'
    '`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)'
)
PVC_UPDATE_FORBIDDEN = 'spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims'
DEFAULT_TOLERATIONS = (
    {'key': 'node.kubernetes.io/not-ready', 'operator': 'Exists', 'effect': 'NoExecute', 'tolerationSeconds': 300},
    {'key': 'node.kubernetes.io/unreachable', 'operator': 'Exists', 'effect': 'NoExecute', 'tolerationSeconds': 300},
)


class GoStructValueError(FieldError):
    """An Invalid field error whose value Go prints with ``%#v`` (a typed slice, not a quoted string)."""

    def body(self) -> str:
        return f'Invalid value: {self.value}: {self.detail}'


# ------------------------------------------------------------------ quantities of typed fields
def _lists_at(obj, path: tuple):
    """Yield every dict reached by ``path`` (``'*'`` walks a list)."""
    if not path:
        if isinstance(obj, dict):
            yield obj
        return
    head, rest = path[0], path[1:]
    if head == '*':
        for item in obj if isinstance(obj, list) else []:
            yield from _lists_at(item, rest)
    elif isinstance(obj, dict) and head in obj:
        yield from _lists_at(obj[head], rest)


QUANTITY_PATHS = {
    POD_KEY: [('spec', kind, '*', 'resources', field) for kind in ('containers', 'initContainers') for field in ('limits', 'requests')]
    + [('spec', 'overhead')],
    PVC_KEY: [('spec', 'resources', 'requests'), ('spec', 'resources', 'limits'), ('status', 'capacity'), ('status', 'allocatedResources')],
    LIMITRANGE_KEY: [('spec', 'limits', '*', field) for field in LIMIT_FIELDS],
    QUOTA_KEY: [('spec', 'hard'), ('status', 'hard'), ('status', 'used')],
}


def canonicalize(key: tuple, kind: str, obj: dict):
    """Parse every quantity of the kind's typed fields and store its canonical text (400 on a bad one)."""
    for path in QUANTITY_PATHS.get(key, ()):
        for items in _lists_at(obj, path):
            for name, raw in list(items.items()):
                try:
                    items[name] = str(Quantity.decode(raw))
                except QuantityError as exc:
                    raise E.bad_request(f'{kind} in version "v1" cannot be handled as a {kind}: {exc}') from None


# ------------------------------------------------------------------ shared validation helpers
def _resource_value_errors(path: str, raw: str, integer: bool = False) -> list:
    value = Quantity.parse(raw)
    if value.sign() < 0:
        return [FieldError('Invalid', path, str(value), 'must be greater than or equal to 0')]
    if integer and value.value.denominator != 1:
        return [FieldError('Invalid', path, str(value), 'must be an integer')]
    return []


def _container_resource_name_errors(path: str, name: str) -> list:
    if '/' in name or name in STANDARD_CONTAINER_RESOURCES or name.startswith('hugepages-'):
        return []
    return [FieldError('Invalid', path, name, 'must be a standard resource for containers')]


# ------------------------------------------------------------------ pods
def _image_pull_policy(image: str) -> str:
    tail = image.rsplit('/', 1)[-1]
    if '@' in tail:
        return 'IfNotPresent'
    tag = tail.split(':', 1)[1] if ':' in tail else ''
    return 'Always' if tag in ('', 'latest') else 'IfNotPresent'


def _default_container(container: dict):
    res = container.get('resources')
    if not isinstance(res, dict):
        res = container['resources'] = {}
    limits = res.get('limits') or {}
    if limits:
        requests = res.setdefault('requests', {})
        for name, value in limits.items():
            requests.setdefault(name, value)
    for field in ('limits', 'requests'):
        if field in res and not res[field]:
            del res[field]
    container.setdefault('terminationMessagePath', '/dev/termination-log')
    container.setdefault('terminationMessagePolicy', 'File')
    if isinstance(container.get('image'), str) and container['image']:
        container.setdefault('imagePullPolicy', _image_pull_policy(container['image']))
    for port in container.get('ports') or []:
        if isinstance(port, dict):
            port.setdefault('protocol', 'TCP')


def default_pod(pod: dict):
    """SetDefaults_Pod/PodSpec/Container plus what the default admission chain adds (service account, priority,
    default tolerations)."""
    spec = pod.setdefault('spec', {})
    for kind in ('containers', 'initContainers'):
        for container in spec.get(kind) or []:
            if isinstance(container, dict):
                _default_container(container)
    for key, value in (
        ('restartPolicy', 'Always'),
        ('terminationGracePeriodSeconds', 30),
        ('dnsPolicy', 'ClusterFirst'),
        ('securityContext', {}),
        ('schedulerName', 'default-scheduler'),
        ('enableServiceLinks', True),
        ('serviceAccountName', 'default'),
        ('priority', 0),
        ('preemptionPolicy', 'PreemptLowerPriority'),
    ):
        spec.setdefault(key, copy.deepcopy(value))
    spec.setdefault('serviceAccount', spec['serviceAccountName'])
    tolerations = spec.setdefault('tolerations', [])
    for toleration in DEFAULT_TOLERATIONS:
        if not any(isinstance(t, dict) and t.get('key') == toleration['key'] for t in tolerations):
            tolerations.append(dict(toleration))


def _container_errors(container, path: str, seen: set) -> list:
    if not isinstance(container, dict):
        return [FieldError('Invalid', path, container, 'must be an object')]
    errs = []
    name = container.get('name')
    if not name:
        errs.append(FieldError('Required', f'{path}.name'))
    elif name in seen:
        errs.append(FieldError('Duplicate', f'{path}.name', name))
    seen.add(name)
    if not container.get('image'):
        errs.append(FieldError('Required', f'{path}.image'))
    res = container.get('resources') or {}
    limits = res.get('limits') or {}
    for field in ('limits', 'requests'):
        for rname, raw in sorted((res.get(field) or {}).items()):
            rpath = f'{path}.resources.{field}[{rname}]'
            errs += _container_resource_name_errors(rpath, rname) + _resource_value_errors(rpath, raw)
    for rname, raw in sorted((res.get('requests') or {}).items()):
        if rname in limits and Quantity.parse(raw) > Quantity.parse(limits[rname]):
            errs.append(FieldError('Invalid', f'{path}.resources.requests', raw, f'must be less than or equal to {rname} limit of {limits[rname]}'))
    return errs


def _pod_errors(pod: dict, old: dict | None) -> list:
    spec = pod.get('spec') or {}
    errs = []
    if not spec.get('containers'):
        errs.append(FieldError('Required', 'spec.containers'))
    seen: set = set()
    for kind in ('containers', 'initContainers'):
        for idx, container in enumerate(spec.get(kind) or []):
            errs += _container_errors(container, f'spec.{kind}[{idx}]', seen)
    if old is not None and not errs and _pod_spec_changed(old.get('spec') or {}, spec):
        errs.append(FieldError('Forbidden', 'spec', detail=POD_UPDATE_FORBIDDEN))
    return errs


def _pod_spec_changed(old: dict, new: dict) -> bool:
    def strip(spec):
        spec = copy.deepcopy(spec)
        for field in ('activeDeadlineSeconds', 'tolerations', 'terminationGracePeriodSeconds'):
            spec.pop(field, None)
        for kind in ('containers', 'initContainers'):
            for container in spec.get(kind) or []:
                if isinstance(container, dict):
                    container.pop('image', None)
        return spec

    return strip(old) != strip(new)


def validate_pod(pod: dict, old: dict | None) -> list:
    errs = _pod_errors(pod, old)
    if old is None and not errs:
        pod['status'] = {'phase': 'Pending', 'qosClass': qos_class(pod)}
    return errs


# ------------------------------------------------------------------ persistent volume claims
def default_pvc(pvc: dict):
    pvc.setdefault('spec', {}).setdefault('volumeMode', 'Filesystem')


def validate_pvc(pvc: dict, old: dict | None) -> list:
    spec = pvc.get('spec') or {}
    errs = []
    modes = spec.get('accessModes') or []
    if not modes:
        errs.append(FieldError('Required', 'spec.accessModes', detail='at least 1 access mode is required'))
    for mode in modes:
        if mode not in ACCESS_MODES:
            errs.append(FieldError('NotSupported', 'spec.accessModes', mode, supported=list(ACCESS_MODES)))
    requests = (spec.get('resources') or {}).get('requests') or {}
    if 'storage' not in requests:
        errs.append(FieldError('Required', 'spec.resources[storage]'))
    elif Quantity.parse(requests['storage']).sign() <= 0:
        errs.append(FieldError('Invalid', 'spec.resources[storage]', requests['storage'], 'must be greater than zero'))
    if old is not None and not errs:
        errs += _pvc_update_errors(old, pvc)
    if old is None and not errs:
        pvc['status'] = {'phase': 'Pending'}
    return errs


def _pvc_update_errors(old: dict, new: dict) -> list:
    old_spec, new_spec = copy.deepcopy(old.get('spec') or {}), copy.deepcopy(new.get('spec') or {})
    bound = (old.get('status') or {}).get('phase') == 'Bound'
    old_size = Quantity.parse(((old_spec.get('resources') or {}).get('requests') or {}).get('storage', '0'))
    new_size = Quantity.parse(((new_spec.get('resources') or {}).get('requests') or {}).get('storage', '0'))
    if bound:
        for spec in (old_spec, new_spec):
            (spec.get('resources') or {}).pop('requests', None)
            spec.pop('volumeAttributesClassName', None)
    errs = []
    if old_spec != new_spec:
        errs.append(FieldError('Forbidden', 'spec', detail=PVC_UPDATE_FORBIDDEN))
    if new_size < old_size:
        errs.append(FieldError('Forbidden', 'spec.resources.requests.storage', detail='field can not be less than previous value'))
    return errs


# ------------------------------------------------------------------ limit ranges
def default_limit_range(limit_range: dict):
    """SetDefaults_LimitRangeItem for every ``type: Container`` item."""
    for item in (limit_range.get('spec') or {}).get('limits') or []:
        if not isinstance(item, dict) or item.get('type') != 'Container':
            continue
        default = dict(item.get('default') or {})
        request = dict(item.get('defaultRequest') or {})
        for name, value in (item.get('max') or {}).items():
            default.setdefault(name, value)
        for name, value in default.items():
            request.setdefault(name, value)
        for name, value in (item.get('min') or {}).items():
            request.setdefault(name, value)
        for field, values in (('default', default), ('defaultRequest', request)):
            if values:
                item[field] = values


def _limit_item_errors(item: dict, path: str, types_seen: set) -> list:
    errs = []
    ltype = item.get('type') or ''
    if not ltype:
        errs.append(FieldError('Required', f'{path}.type'))
    elif '/' not in ltype and ltype not in LIMIT_TYPES:
        errs.append(FieldError('Invalid', f'{path}.type', ltype, 'must be a standard limit type or fully qualified'))
    if ltype in types_seen:
        errs.append(FieldError('Duplicate', f'{path}.type', ltype))
    types_seen.add(ltype)
    if ltype == 'Pod':
        for field in ('default', 'defaultRequest'):
            if item.get(field):
                errs.append(FieldError('Forbidden', f'{path}.{field}', detail="may not be specified when `type` is 'Pod'"))
    if ltype == 'PersistentVolumeClaim' and 'storage' not in (item.get('min') or {}) and 'storage' not in (item.get('max') or {}):
        errs.append(FieldError('Required', f'{path}.limits', detail='either minimum or maximum storage value is required, but neither was provided'))
    return errs + _limit_consistency_errors(item, path)


def _limit_consistency_errors(item: dict, path: str) -> list:
    values = {field: {k: Quantity.parse(v) for k, v in (item.get(field) or {}).items()} for field in LIMIT_FIELDS}
    if item.get('type') == 'Pod':
        values['default'], values['defaultRequest'] = {}, {}
    errs = []
    checks = (
        ('min', 'max', 'min', 'min', 'min value {a} is greater than max value {b}'),
        ('min', 'defaultRequest', 'defaultRequest', 'defaultRequest', 'min value {a} is greater than default request value {b}'),
        ('defaultRequest', 'max', 'defaultRequest', 'defaultRequest', 'default request value {a} is greater than max value {b}'),
        ('defaultRequest', 'default', 'defaultRequest', 'defaultRequest', 'default request value {a} is greater than default limit value {b}'),
        ('min', 'default', 'default', 'min', 'min value {a} is greater than default value {b}'),
        ('default', 'max', 'default', 'max', 'default value {a} is greater than max value {b}'),
    )
    names = sorted(set().union(*values.values()))
    for name in names:
        for left, right, where, shown, text in checks:
            if name in values[left] and name in values[right] and values[left][name] > values[right][name]:
                errs.append(
                    FieldError('Invalid', f'{path}.{where}[{name}]', str(values[shown][name]), text.format(a=values[left][name], b=values[right][name]))
                )
        ratio = values['maxLimitRequestRatio'].get(name)
        if ratio is not None and ratio < Quantity(1):
            errs.append(FieldError('Invalid', f'{path}.maxLimitRequestRatio[{name}]', str(ratio), f'ratio {ratio} is less than 1'))
    return errs


def validate_limit_range(limit_range: dict, _old: dict | None) -> list:
    errs = []
    seen: set = set()
    for idx, item in enumerate((limit_range.get('spec') or {}).get('limits') or []):
        errs += _limit_item_errors(item if isinstance(item, dict) else {}, f'spec.limits[{idx}]', seen)
    return errs


# ------------------------------------------------------------------ resource quotas
def _quota_name_errors(path: str, name: str) -> list:
    if '/' not in name and name not in STANDARD_QUOTA_RESOURCES and not name.startswith(('hugepages-', 'requests.hugepages-')):
        return [FieldError('Invalid', path, name, 'must be a standard resource for quota')]
    return []


def _scope_errors(spec: dict) -> list:
    scopes = spec.get('scopes') or []
    if not scopes:
        return []
    shown = '[]core.ResourceQuotaScope{' + ', '.join(f'"{s}"' for s in scopes) + '}'
    errs = []
    for scope in scopes:
        if scope not in POD_QUOTA_SCOPES:
            errs.append(GoStructValueError('Invalid', 'spec.scopes', shown, 'unsupported scope'))
        allowed = ('pods',) if scope == 'BestEffort' else ('pods',) + POD_COMPUTE_QUOTA
        for name in sorted(spec.get('hard') or {}):
            if (name in STANDARD_QUOTA_RESOURCES or name.startswith('hugepages-')) and name not in allowed:
                errs.append(GoStructValueError('Invalid', 'spec.scopes', shown, 'unsupported scope applied to resource'))
    for pair in (('BestEffort', 'NotBestEffort'), ('Terminating', 'NotTerminating')):
        if set(pair) <= set(scopes):
            errs.append(GoStructValueError('Invalid', 'spec.scopes', shown, 'conflicting scopes'))
    return errs


def validate_quota(quota: dict, _old: dict | None) -> list:
    spec = quota.get('spec') or {}
    errs = []
    for name, raw in sorted((spec.get('hard') or {}).items()):
        path = f'spec.hard[{name}]'
        integer = name in INTEGER_QUOTA_RESOURCES or name.startswith('count/')
        errs += _quota_name_errors(path, name) + _resource_value_errors(path, raw, integer)
    return errs + _scope_errors(spec)


DEFAULTERS = {POD_KEY: default_pod, PVC_KEY: default_pvc, LIMITRANGE_KEY: default_limit_range, QUOTA_KEY: lambda _obj: None}
VALIDATORS = {POD_KEY: validate_pod, PVC_KEY: validate_pvc, LIMITRANGE_KEY: validate_limit_range, QUOTA_KEY: validate_quota}
KINDS = tuple(VALIDATORS)


def prepare(key: tuple, kind: str, obj: dict):
    """Decode (400 on a bad quantity) and default ``obj`` of a kind in ``KINDS``, before mutating admission."""
    canonicalize(key, kind, obj)
    DEFAULTERS[key](obj)


def validate(key: tuple, obj: dict, old: dict | None) -> list:
    """The create/update strategy after mutating admission: validation (field errors) and, on create, the initial
    status. kube-apiserver validates the object after the mutating admission plugins and before the validating ones,
    so a LimitRange default limit below the request is a 422 here."""
    return VALIDATORS[key](obj, old)
