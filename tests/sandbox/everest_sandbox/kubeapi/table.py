"""Server-side printing: ``meta.k8s.io/v1`` Table answers for ``Accept: application/json;as=Table;...`` (what
``kubectl get`` asks for). Columns follow the built-in printers of the kinds we serve and, for custom resources,
the CRD's ``additionalPrinterColumns`` (default: Age)."""

from __future__ import annotations

import datetime
import json
import re

NAME_DESC = (
    'Name must be unique within a namespace. Is required when creating resources, although some resources may allow '
    'a client to request the generation of an appropriate name automatically. Name is primarily intended for '
    'creation idempotence and configuration definition. Cannot be updated. More info: '
    'https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names'
)
AGE_DESC = (
    'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed '
    'to be set in happens-before order across separate operations. Clients may not set this value. It is represented '
    'in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: '
    'https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata'
)
SECRETS_DESC = 'Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.'
DEFAULT_CR_COLUMNS = ({'name': 'Age', 'type': 'date', 'jsonPath': '.metadata.creationTimestamp', 'description': AGE_DESC},)


def wants_table(accept: str | None) -> bool:
    return bool(accept) and 'as=Table' in accept and 'g=meta.k8s.io' in accept


def _parse_time(text):
    try:
        return datetime.datetime.strptime(text, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return None


def human_duration(seconds: float) -> str:  # pylint: disable=too-many-return-statements
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    secs = int(seconds)
    if secs < -1:
        return '<invalid>'
    if secs < 0:
        return '0s'
    if secs < 120:
        return f'{secs}s'
    minutes = secs // 60
    if minutes < 10:
        rest = secs % 60
        return f'{minutes}m' if rest == 0 else f'{minutes}m{rest}s'
    if minutes < 180:
        return f'{minutes}m'
    hours = secs // 3600
    if hours < 8:
        rest = minutes % 60
        return f'{hours}h' if rest == 0 else f'{hours}h{rest}m'
    if hours < 48:
        return f'{hours}h'
    if hours < 24 * 8:
        rest = hours % 24
        return f'{hours // 24}d' if rest == 0 else f'{hours // 24}d{rest}h'
    if hours < 24 * 365 * 2:
        return f'{hours // 24}d'
    if hours < 24 * 365 * 8:
        rest = (hours // 24) % 365
        return f'{hours // 24 // 365}y' if rest == 0 else f'{hours // 24 // 365}y{rest}d'
    return f'{hours // 24 // 365}y'


def age(obj: dict) -> str:
    created = _parse_time(obj.get('metadata', {}).get('creationTimestamp'))
    if created is None:
        return '<unknown>'
    return human_duration((datetime.datetime.now(datetime.timezone.utc) - created).total_seconds())


def json_path(obj, path: str):
    """Simple JSONPath (``.a.b[0].c``) as CRD printer columns use; None when absent."""
    cur = obj
    for part in re.findall(r'[^.\[\]]+|\[\d+\]', path.strip().strip('{}').lstrip('.')):
        if part.startswith('['):
            idx = int(part[1:-1])
            if not isinstance(cur, list) or idx >= len(cur):
                return None
            cur = cur[idx]
        elif isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            return None
    return cur


def _quota_cells(obj):
    hard = (obj.get('status') or {}).get('hard') or {}
    used = (obj.get('status') or {}).get('used') or {}
    request = [f'{k}: {used.get(k, "0")}/{v}' for k, v in sorted(hard.items()) if not k.startswith('limits.')]
    limit = [f'{k}: {used.get(k, "0")}/{v}' for k, v in sorted(hard.items()) if k.startswith('limits.')]
    return ', '.join(request), ', '.join(limit)


def _deployment(obj):
    spec, status = obj.get('spec') or {}, obj.get('status') or {}
    containers = ((spec.get('template') or {}).get('spec') or {}).get('containers') or []
    labels = (spec.get('selector') or {}).get('matchLabels') or {}
    return [
        f'{status.get("readyReplicas", 0)}/{spec.get("replicas", 1)}',
        status.get('updatedReplicas', 0),
        status.get('availableReplicas', 0),
        age(obj),
        ','.join(c.get('name', '') for c in containers),
        ','.join(c.get('image', '') for c in containers),
        ','.join(f'{k}={v}' for k, v in sorted(labels.items())),
    ]


def _pod(obj):
    spec, status = obj.get('spec') or {}, obj.get('status') or {}
    statuses = status.get('containerStatuses') or []
    ready = sum(1 for c in statuses if c.get('ready'))
    restarts = sum(c.get('restartCount', 0) for c in statuses)
    return [
        f'{ready}/{len(spec.get("containers") or [])}',
        status.get('reason') or status.get('phase', ''),
        restarts,
        age(obj),
        status.get('podIP') or '<none>',
        spec.get('nodeName') or '<none>',
        '<none>',
        '<none>',
    ]


def _pvc(obj):
    spec, status = obj.get('spec') or {}, obj.get('status') or {}
    abbreviations = {'ReadWriteOnce': 'RWO', 'ReadOnlyMany': 'ROX', 'ReadWriteMany': 'RWX', 'ReadWriteOncePod': 'RWOP'}
    modes = ','.join(abbreviations.get(m, m) for m in status.get('accessModes') or [])
    return [
        status.get('phase', ''),
        spec.get('volumeName', ''),
        (status.get('capacity') or {}).get('storage', ''),
        modes,
        spec.get('storageClassName') or '',
        spec.get('volumeAttributesClassName') or '<unset>',
        age(obj),
        spec.get('volumeMode') or '',
    ]


def _col(name, ctype='string', priority=0, desc='', fmt=''):
    return {'name': name, 'type': ctype, 'format': fmt, 'description': desc, 'priority': priority}


BINDING_COLUMNS = [
    _col('Role', desc='RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace.'),
    _col('Age', desc=AGE_DESC),
    _col('Users', priority=1, desc='Users in the roleBinding'),
    _col('Groups', priority=1, desc='Groups in the roleBinding'),
    _col('ServiceAccounts', priority=1, desc='ServiceAccounts in the roleBinding'),
]


def _binding(obj):
    ref, subjects = obj.get('roleRef') or {}, obj.get('subjects') or []
    namespace = obj['metadata'].get('namespace', '')

    def names(kind):
        return ', '.join(
            s.get('name', '') if kind != 'ServiceAccount' else f'{s.get("namespace") or namespace}/{s.get("name", "")}'
            for s in subjects
            if s.get('kind') == kind
        )

    return [f'{ref.get("kind", "")}/{ref.get("name", "")}', age(obj), names('User'), names('Group'), names('ServiceAccount')]


BUILTIN_COLUMNS = {
    ('', 'namespaces'): (
        [_col('Status', desc='The status of the namespace'), _col('Age', desc=AGE_DESC)],
        lambda o: [(o.get('status') or {}).get('phase', ''), age(o)],
    ),
    ('', 'configmaps'): (
        [_col('Data', 'integer', desc='Data contains the configuration data.'), _col('Age', desc=AGE_DESC)],
        lambda o: [len(o.get('data') or {}) + len(o.get('binaryData') or {}), age(o)],
    ),
    ('', 'secrets'): (
        [
            _col('Type', desc='Used to facilitate programmatic handling of secret data.'),
            _col('Data', 'integer', desc='Data contains the secret data.'),
            _col('Age', desc=AGE_DESC),
        ],
        lambda o: [o.get('type', ''), len(o.get('data') or {}), age(o)],
    ),
    ('', 'resourcequotas'): (
        [
            _col('Age', desc=AGE_DESC),
            _col('Request', desc='Request represents a minimum amount of cpu/memory that a container may consume.'),
            _col('Limit', desc='Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.'),
        ],
        lambda o: [age(o), *_quota_cells(o)],
    ),
    ('', 'pods'): (
        [
            _col('Ready', desc='The aggregate readiness state of this pod for accepting traffic.'),
            _col('Status', desc='The aggregate status of the containers in this pod.'),
            _col('Restarts', desc='The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'),
            _col('Age', desc=AGE_DESC),
            _col('IP', priority=1, desc='The IP address assigned to the pod'),
            _col('Node', priority=1, desc='The name of the node assigned to the pod'),
            _col('Nominated Node', priority=1, desc='The name of the node nominated by the scheduler'),
            _col('Readiness Gates', priority=1, desc='The readiness gates of the pod'),
        ],
        _pod,
    ),
    ('', 'persistentvolumeclaims'): (
        [
            _col('Status', desc='The phase of the claim.'),
            _col('Volume', desc='The binding reference to the PersistentVolume.'),
            _col('Capacity', desc='The actual resources of the underlying volume.'),
            _col('Access Modes', desc='The access modes of the underlying volume.'),
            _col('StorageClass', desc='The name of the StorageClass required by the claim.'),
            _col('VolumeAttributesClass', desc='The name of the VolumeAttributesClass.'),
            _col('Age', desc=AGE_DESC),
            _col('VolumeMode', priority=1, desc='The volume mode of the claim.'),
        ],
        _pvc,
    ),
    ('', 'limitranges'): ([_col('Created At', 'date', desc=AGE_DESC)], lambda o: [o.get('metadata', {}).get('creationTimestamp')]),
    ('apps', 'deployments'): (
        [
            _col('Ready', desc='Number of the pod with ready state'),
            _col('Up-to-date', 'integer', desc='Total number of non-terminated pods targeted by this deployment that have the desired template spec.'),
            _col('Available', 'integer', desc='Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.'),
            _col('Age', desc=AGE_DESC),
            _col('Containers', priority=1, desc='Names of each container in the template.'),
            _col('Images', priority=1, desc='Images referenced by each container in the template.'),
            _col(
                'Selector',
                priority=1,
                desc='Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.',
            ),
        ],
        _deployment,
    ),
    ('apiextensions.k8s.io', 'customresourcedefinitions'): (
        [_col('Created At', 'date', desc=AGE_DESC)],
        lambda o: [o.get('metadata', {}).get('creationTimestamp')],
    ),
    ('', 'serviceaccounts'): ([_col('Secrets', 'integer', desc=SECRETS_DESC), _col('Age', desc=AGE_DESC)], lambda o: [len(o.get('secrets') or ()), age(o)]),
    ('rbac.authorization.k8s.io', 'roles'): ([_col('Created At', 'date', desc=AGE_DESC)], lambda o: [o.get('metadata', {}).get('creationTimestamp')]),
    ('rbac.authorization.k8s.io', 'clusterroles'): ([_col('Created At', 'date', desc=AGE_DESC)], lambda o: [o.get('metadata', {}).get('creationTimestamp')]),
    ('rbac.authorization.k8s.io', 'rolebindings'): (BINDING_COLUMNS, _binding),
    ('rbac.authorization.k8s.io', 'clusterrolebindings'): (BINDING_COLUMNS, _binding),
}


def _cr_cell(column: dict, obj: dict):
    value = json_path(obj, column.get('jsonPath', ''))
    ctype = column.get('type', 'string')
    if value is None:
        return None
    if ctype == 'string':
        return value if isinstance(value, str) else json.dumps(value, separators=(',', ':'))
    if ctype == 'integer' and isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    if ctype == 'number' and isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if ctype == 'boolean' and isinstance(value, bool):
        return value
    if ctype == 'date' and isinstance(value, str):
        created = _parse_time(value)
        if created is None:
            return '<invalid>'
        return human_duration((datetime.datetime.now(datetime.timezone.utc) - created).total_seconds())
    return None


def _age_cells(obj: dict) -> list:
    return [age(obj)]


def to_table(rtype, items: list, list_meta: dict | None, include_object: str = 'Metadata') -> dict:
    """A Table for ``items`` (full objects with apiVersion/kind)."""
    name_col = _col('Name', fmt='name', desc=NAME_DESC)
    if rtype.builtin and rtype.storage_key in BUILTIN_COLUMNS:
        columns, cells = BUILTIN_COLUMNS[rtype.storage_key]
    elif rtype.builtin:
        columns, cells = [_col('Age', desc=AGE_DESC)], _age_cells
    else:
        printer = rtype.printer_columns or DEFAULT_CR_COLUMNS
        columns = [_col(c['name'], c.get('type', 'string'), c.get('priority', 0), c.get('description', ''), c.get('format', '')) for c in printer]

        def cells(obj, printer=printer):
            return [_cr_cell(c, obj) for c in printer]

    rows = []
    for obj in items:
        row = {'cells': [obj['metadata'].get('name', '')] + cells(obj)}
        if include_object == 'Object':
            row['object'] = obj
        elif include_object != 'None':
            row['object'] = {'kind': 'PartialObjectMetadata', 'apiVersion': 'meta.k8s.io/v1', 'metadata': obj['metadata']}
        rows.append(row)
    meta = {k: v for k, v in (list_meta or {}).items() if k in ('resourceVersion', 'continue', 'remainingItemCount')}
    return {'kind': 'Table', 'apiVersion': 'meta.k8s.io/v1', 'metadata': meta, 'columnDefinitions': [name_col] + columns, 'rows': rows}
