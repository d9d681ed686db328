"""Object store with apiserver semantics: one lock, one global resourceVersion counter, deep copies in and out.

Objects are kept by (group, plural) -> (namespace, name). Type-specific behaviour (Namespaces, Secrets,
ConfigMaps, Deployments, CustomResourceDefinitions, custom resources) lives in the ``_prepare_*`` helpers, that of
the core kinds with resource quantities (Pods, PVCs, LimitRanges, ResourceQuotas) in ``coretypes``; admission runs
through ``self.admission`` (``admission.Chain``: LimitRanger, ResourceQuota); ``quota.refresh`` is the quota
controller (admission charges creates; the controller recounts after deletes and after pod/PVC updates that change
their usage, like its replenishment).
``watchers`` are called (under the lock) after every stored change: ``watcher(event, rtype, obj, subresource)``
with event ADDED, MODIFIED or DELETED (``operators.OperatorSimulation`` is one).
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime
import json
import random
import re
import string
import threading
import uuid

from . import coretypes
from . import errors as E
from . import quota
from .admission import ADMIN_USER, Attributes, Chain
from .errors import FieldError
from .limitranger import LimitRanger
from .patch import PatchError, json_patch, merge_patch, strategic_merge
from .registry import Registry, ResourceType
from .schema import process_custom_resource
from .selectors import fields_match, labels_match, parse_field_selector, parse_label_selector
from .serviceaccount_admission import ServiceAccount
from .vap import ValidatingAdmissionPolicy
from .vap_objects import KEYS as VAP_KEYS, prepare as prepare_vap_object

DNS1123_LABEL = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')
DNS1123_SUBDOMAIN = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_VALUE = re.compile(r'^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$')
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
    "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
NAME_PART = re.compile(r'^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$')
NAME_PART_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
CONFIG_KEY = re.compile(r'^[-._a-zA-Z0-9]+$')
CONFIG_KEY_MSG = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
    "'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
)
OBJECT_META_FIELDS = (
    'name',
    'generateName',
    'namespace',
    'selfLink',
    'uid',
    'resourceVersion',
    'generation',
    'creationTimestamp',
    'deletionTimestamp',
    'deletionGracePeriodSeconds',
    'labels',
    'annotations',
    'ownerReferences',
    'finalizers',
    'managedFields',
)
UNDELETABLE_NAMESPACES = ('default', 'kube-system', 'kube-public')
IMMUTABLE_SET = 'field is immutable when `immutable` is set'
GENERATE_CHARS = 'bcdfghjklmnpqrstvwxz2456789'
# pods (graceful deletion, ReturnDeletedObject) and PVCs (the pvc-protection finalizer) answer a DELETE with the object
RETURNS_OBJECT_ON_DELETE = {('', 'namespaces'), ('apiextensions.k8s.io', 'customresourcedefinitions'), ('', 'pods'), ('', 'persistentvolumeclaims')}
GENERATION_KINDS = {('apps', 'deployments'), ('apiextensions.k8s.io', 'customresourcedefinitions')} | set(VAP_KEYS)
PATCH_TYPES_BUILTIN = ('application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml')
PATCH_TYPES_CR = ('application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml')


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def path_segment_errors(name: str) -> list:
    """What apimachinery's ``path.IsValidPathSegmentName`` says about a name (the RBAC kinds' only name rule)."""
    if name in ('.', '..'):
        return [f"may not be '{name}'"]
    return [f"may not contain '{char}'" for char in ('/', '%') if char in name]


def deterministic_uid(key: str) -> str:
    return str(uuid.UUID(int=random.Random(key).getrandbits(128), version=4))


def _go_type(value) -> str:
    if isinstance(value, bool):
        return 'bool'
    if isinstance(value, (int, float)):
        return 'number'
    if isinstance(value, list):
        return 'array'
    if isinstance(value, dict):
        return 'object'
    return 'string'


class Store:
    """The cluster state. Every public method takes the lock for its whole duration."""

    def __init__(self, registry: Registry | None = None):
        self.lock = threading.RLock()
        self.registry = registry or Registry()
        self.rv = 0
        self.data: dict = {}
        self._local = threading.local()
        self.admission = Chain([LimitRanger(), ServiceAccount(), quota.ResourceQuota()])
        self.vap = ValidatingAdmissionPolicy()  # validating phase, before ResourceQuota (kube's plugin order)
        self.admission.register(self.vap, before='ResourceQuota')
        self.watchers: list = []

    # ------------------------------------------------------------------ helpers
    def collect_warnings(self) -> list:
        """Start collecting API warnings (``Warning: 299`` headers) for the calling thread; returns the list."""
        self._local.warnings = []
        return self._local.warnings

    def recorded_warnings(self) -> list:
        """The warnings collected so far for the calling thread's request."""
        return list(getattr(self._local, 'warnings', None) or [])

    def warn(self, *texts):
        bucket = getattr(self._local, 'warnings', None)
        if bucket is not None:
            bucket.extend(t for t in texts if t not in bucket)

    def set_request_user(self, user: dict | None):
        """The authenticated user of the calling thread's request (None: the sandbox admin)."""
        self._local.user = user

    def request_user(self) -> dict:
        return getattr(self._local, 'user', None) or dict(ADMIN_USER)

    def _admit(self, operation: str, rtype: ResourceType, namespace: str, name: str, obj, old, subresource=None, dry_run: bool = False):
        def validate_object():
            if obj is not None and not subresource and rtype.storage_key in coretypes.KINDS:
                errs = coretypes.validate(rtype.storage_key, obj, old)
                if errs:
                    raise E.invalid(rtype.kind, rtype.group, name, errs)

        self.admission.admit(
            self, Attributes(operation, rtype, namespace or '', name, obj, old, subresource or '', dry_run, self.request_user()), validate_object
        )

    def _next_rv(self) -> str:
        self.rv += 1
        return str(self.rv)

    def next_resource_version(self) -> str:
        """A new resourceVersion (for writers outside this class that change a stored object in place)."""
        return self._next_rv()

    def _notify(self, event: str, rtype: ResourceType, obj: dict, subresource: str | None = None):
        """Tell the watchers: ``watcher(event, rtype, obj, subresource)`` (``obj`` is the stored dict; read only)."""
        for watcher in list(self.watchers):
            watcher(event, rtype, obj, subresource or '')

    def _bucket(self, rtype: ResourceType) -> dict:
        return self.data.setdefault(rtype.storage_key, {})

    @staticmethod
    def _out(rtype: ResourceType, obj: dict, with_type: bool = True) -> dict:
        out = copy.deepcopy(obj)
        if with_type:
            rest = {k: v for k, v in out.items() if k not in ('apiVersion', 'kind')}
            return dict({'apiVersion': rtype.api_version, 'kind': rtype.kind}, **rest)
        out.pop('apiVersion', None)
        out.pop('kind', None)
        return out

    def namespace_exists(self, name: str) -> bool:
        with self.lock:
            return ('', name) in self.data.get(('', 'namespaces'), {})

    def raw(self, group: str, plural: str, namespace: str, name: str) -> dict | None:
        """Deep copy of a stored object or None (for tests and the server's own use)."""
        with self.lock:
            obj = self.data.get((group, plural), {}).get((namespace or '', name))
            return copy.deepcopy(obj)

    def clear(self):
        with self.lock:
            self.data = {}
            self.registry.reset()

    # ------------------------------------------------------------------ body checks
    @staticmethod
    def _check_body(rtype: ResourceType, body) -> dict:
        if not isinstance(body, dict):
            raise E.bad_request(
                f'{rtype.kind} in version "{rtype.version}" cannot be handled as a {rtype.kind}: '
                f'json: cannot unmarshal {_go_type(body)} into Go value of type struct'
            )
        body = copy.deepcopy(body)
        api_version, kind = body.get('apiVersion'), body.get('kind')
        if not rtype.builtin and not kind:
            raise E.bad_request(f"Object 'Kind' is missing in '{json.dumps(body, separators=(',', ':'))}'")
        if api_version and api_version != rtype.api_version:
            if rtype.builtin or api_version.split('/')[0] != rtype.group:
                raise E.bad_request(f'the API version in the data ({api_version}) does not match the expected API version ({rtype.api_version})')
        if kind and kind != rtype.kind:
            raise E.bad_request(f'the kind in the data ({kind}) does not match the expected kind ({rtype.kind})')
        meta = body.get('metadata')
        if meta is None:
            meta = body['metadata'] = {}
        if not isinstance(meta, dict):
            raise E.bad_request(
                f'{rtype.kind} in version "{rtype.version}" cannot be handled as a {rtype.kind}: '
                f'json: cannot unmarshal {_go_type(meta)} into Go struct field {rtype.kind}.metadata of type v1.ObjectMeta'
            )
        for field in [k for k in meta if k not in OBJECT_META_FIELDS]:
            del meta[field]  # metadata round-trips through the typed ObjectMeta: unknown fields are dropped
        for field in ('ownerReferences', 'finalizers', 'managedFields'):
            if meta.get(field) in (None, [], {}):
                meta.pop(field, None)
        for field in ('labels', 'annotations'):
            values = meta.get(field)
            if values == {}:
                del meta[field]
                continue
            if values is None:
                meta.pop(field, None)
                continue
            bad = None if isinstance(values, dict) else values
            if isinstance(values, dict):
                bad = next((v for v in values.values() if not isinstance(v, str)), None)
                if bad is None and any(v is None for v in values.values()):
                    bad = 0
            if bad is not None:
                raise E.bad_request(
                    f'{rtype.kind} in version "{rtype.version}" cannot be handled as a {rtype.kind}: json: '
                    f'cannot unmarshal {_go_type(bad)} into Go struct field ObjectMeta.metadata.{field} '
                    f'of type {"map[string]string" if not isinstance(values, dict) else "string"}'
                )
        return body

    @staticmethod
    def _validate_meta(rtype: ResourceType, obj: dict) -> list:
        meta = obj['metadata']
        name = meta.get('name', '')
        errs = []
        if not name:
            errs.append(FieldError('Required', 'metadata.name', detail='name or generateName is required'))
        elif rtype.storage_key == ('', 'namespaces'):
            if len(name) > 63:
                errs.append(FieldError('Invalid', 'metadata.name', name, 'must be no more than 63 characters'))
            if not DNS1123_LABEL.match(name):
                errs.append(FieldError('Invalid', 'metadata.name', name, LABEL_MSG))
        elif rtype.path_segment_names:
            errs += [FieldError('Invalid', 'metadata.name', name, msg) for msg in path_segment_errors(name)]
        else:
            if len(name) > 253:
                errs.append(FieldError('Invalid', 'metadata.name', name, 'must be no more than 253 characters'))
            if not DNS1123_SUBDOMAIN.match(name):
                errs.append(FieldError('Invalid', 'metadata.name', name, SUBDOMAIN_MSG))
        for key, value in (meta.get('labels') or {}).items():
            prefix, _sep, part = key.rpartition('/')
            if not NAME_PART.match(part) or len(part) > 63 or (prefix and not DNS1123_SUBDOMAIN.match(prefix)):
                errs.append(FieldError('Invalid', 'metadata.labels', key, NAME_PART_MSG))
            if len(value) > 63 or not LABEL_VALUE.match(value):
                errs.append(FieldError('Invalid', 'metadata.labels', value, LABEL_VALUE_MSG))
        for key in meta.get('annotations') or {}:
            prefix, _sep, part = key.rpartition('/')
            if not NAME_PART.match(part) or len(part) > 63 or (prefix and not DNS1123_SUBDOMAIN.match(prefix)):
                errs.append(FieldError('Invalid', 'metadata.annotations', key, NAME_PART_MSG))
        return errs

    # ------------------------------------------------------------------ type-specific preparation
    def _prepare(self, rtype: ResourceType, obj: dict, old: dict | None, strict: bool = False) -> list:
        """Normalise ``obj`` in place for create (old None) or update; returns field errors."""
        key = rtype.storage_key
        errs = []
        if key in (('', 'secrets'), ('', 'configmaps')):
            errs += self._prepare_data(rtype, obj, old)
        elif key == ('', 'namespaces'):
            name = obj['metadata']['name']
            obj['metadata'].setdefault('labels', {})['kubernetes.io/metadata.name'] = name
            obj['spec'] = copy.deepcopy(old['spec']) if old else {'finalizers': ['kubernetes']}
            if old is None:
                obj['status'] = {'phase': 'Active'}
        elif key == ('apps', 'deployments'):
            spec = obj.setdefault('spec', {})
            spec.setdefault('replicas', 1)
            spec.setdefault('revisionHistoryLimit', 10)
            spec.setdefault('progressDeadlineSeconds', 600)
            spec.setdefault('strategy', {'type': 'RollingUpdate', 'rollingUpdate': {'maxUnavailable': '25%', 'maxSurge': '25%'}})
            if not isinstance(spec.get('selector'), dict):
                errs.append(FieldError('Required', 'spec.selector'))
        elif key == ('apiextensions.k8s.io', 'customresourcedefinitions'):
            errs += self._prepare_crd(obj, old)
        elif key in VAP_KEYS:
            errs += prepare_vap_object(key, obj, old)
        elif key in coretypes.KINDS:
            coretypes.prepare(key, rtype.kind, obj)
        elif not rtype.builtin:
            unknown: list = []
            processed, errs2 = process_custom_resource(rtype.schema, obj, unknown)
            if unknown and strict:
                raise E.bad_request(
                    f'{rtype.kind} in version "{rtype.version}" cannot be handled as a {rtype.kind}: strict decoding '
                    'error: ' + ', '.join(f'unknown field "{u}"' for u in unknown)
                )
            self.warn(*(f'unknown field "{u}"' for u in unknown))
            obj.clear()
            obj.update(processed)
            errs += errs2
        return errs

    @staticmethod
    def _prepare_data(rtype: ResourceType, obj: dict, old: dict | None) -> list:
        kind = rtype.kind
        is_secret = kind == 'Secret'
        data = obj.get('data')
        if data is None:
            obj.pop('data', None)
            data = {}
        if not isinstance(data, dict):
            raise E.bad_request(
                f'{kind} in version "v1" cannot be handled as a {kind}: json: cannot unmarshal '
                f'{_go_type(data)} into Go struct field {kind}.data of type map[string]'
                f'{"[]uint8" if is_secret else "string"}'
            )
        for dkey, val in list(data.items()):
            if val is None:
                data[dkey] = ''
                continue
            if not isinstance(val, str):
                raise E.bad_request(
                    f'{kind} in version "v1" cannot be handled as a {kind}: json: cannot unmarshal '
                    f'{_go_type(val)} into Go struct field {kind}.data of type {"[]uint8" if is_secret else "string"}'
                )
            if is_secret:
                try:
                    base64.b64decode(val, validate=True)
                except (binascii.Error, ValueError):
                    pos = next((i for i, c in enumerate(val) if c not in string.ascii_letters + string.digits + '+/='), len(val))
                    raise E.bad_request(f'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte {pos}') from None
        binary = obj.get('binaryData') or {}
        if not isinstance(binary, dict) or not all(isinstance(v, str) for v in binary.values()):
            raise E.bad_request(
                f'{kind} in version "v1" cannot be handled as a {kind}: json: cannot unmarshal into Go struct field {kind}.binaryData of type []uint8'
            )
        if is_secret:
            sdata = obj.pop('stringData', None) or {}
            if not isinstance(sdata, dict) or not all(isinstance(v, str) for v in sdata.values()):
                raise E.bad_request(
                    'Secret in version "v1" cannot be handled as a Secret: json: cannot unmarshal into Go struct field Secret.stringData of type string'
                )
            for skey, sval in sdata.items():
                data[skey] = base64.b64encode(sval.encode()).decode()
            if data:
                obj['data'] = data
            obj['type'] = obj.get('type') or 'Opaque'
        for field in ('data', 'binaryData'):
            if obj.get(field) == {}:
                del obj[field]
        errs = []
        for dkey in list(data) + list(binary):
            if not CONFIG_KEY.match(dkey):
                errs.append(FieldError('Invalid', f'data[{dkey}]', dkey, CONFIG_KEY_MSG))
        if old is not None:
            if is_secret and obj.get('type') != old.get('type'):
                errs.append(FieldError('Invalid', 'type', obj.get('type'), 'field is immutable'))
            if old.get('immutable'):
                if not obj.get('immutable'):
                    errs.append(FieldError('Forbidden', 'immutable', detail=IMMUTABLE_SET))
                if obj.get('data') != old.get('data'):
                    errs.append(FieldError('Forbidden', 'data', detail=IMMUTABLE_SET))
                if obj.get('binaryData') != old.get('binaryData'):
                    errs.append(FieldError('Forbidden', 'binaryData', detail=IMMUTABLE_SET))
        return errs

    @staticmethod
    def _prepare_crd(obj: dict, old: dict | None) -> list:
        errs = []
        spec = obj.get('spec')
        if not isinstance(spec, dict):
            return [FieldError('Required', 'spec')]
        group = spec.get('group') or ''
        names = spec.get('names') if isinstance(spec.get('names'), dict) else {}
        plural, kind = names.get('plural') or '', names.get('kind') or ''
        if not group:
            errs.append(FieldError('Required', 'spec.group'))
        elif '.' not in group:
            errs.append(FieldError('Invalid', 'spec.group', group, 'should be a domain with at least one dot'))
        if not plural:
            errs.append(FieldError('Required', 'spec.names.plural'))
        if not kind:
            errs.append(FieldError('Required', 'spec.names.kind'))
        if obj['metadata'].get('name') != f'{plural}.{group}':
            errs.append(FieldError('Invalid', 'metadata.name', obj['metadata'].get('name', ''), 'must be spec.names.plural+"."+spec.group'))
        if spec.get('scope') not in ('Namespaced', 'Cluster'):
            errs.append(FieldError('NotSupported', 'spec.scope', spec.get('scope', ''), supported=['Cluster', 'Namespaced']))
        versions = spec.get('versions') or []
        if not versions:
            errs.append(FieldError('Invalid', 'spec.versions', versions, 'must have exactly one version marked as storage version'))
        elif sum(1 for v in versions if isinstance(v, dict) and v.get('storage')) != 1:
            errs.append(FieldError('Invalid', 'spec.versions', 'versions', 'must have exactly one version marked as storage version'))
        for idx, ver in enumerate(versions):
            if not isinstance(ver, dict) or not ver.get('name'):
                errs.append(FieldError('Required', f'spec.versions[{idx}].name'))
                continue
            if not ((ver.get('schema') or {}).get('openAPIV3Schema')):
                errs.append(FieldError('Required', f'spec.versions[{idx}].schema.openAPIV3Schema', detail='schemas are required'))
        if old is not None and not errs:
            old_spec = old.get('spec') or {}
            if old_spec.get('group') != group:
                errs.append(FieldError('Invalid', 'spec.group', group, 'field is immutable'))
            if old_spec.get('scope') != spec.get('scope'):
                errs.append(FieldError('Invalid', 'spec.scope', spec.get('scope'), 'field is immutable'))
        if errs:
            return errs
        names.setdefault('singular', kind.lower())
        names.setdefault('listKind', kind + 'List')
        spec.setdefault('conversion', {'strategy': 'None'})
        stamp = now()
        stored = [v['name'] for v in versions if v.get('storage')]
        if old is not None:
            stored = list(dict.fromkeys((old.get('status') or {}).get('storedVersions', []) + stored))
        old_conditions = (old or {}).get('status', {}).get('conditions')
        obj['status'] = {
            'acceptedNames': copy.deepcopy(names),
            'conditions': copy.deepcopy(old_conditions)
            if old_conditions
            else [
                {'type': 'NamesAccepted', 'status': 'True', 'lastTransitionTime': stamp, 'reason': 'NoConflicts', 'message': 'no conflicts found'},
                {
                    'type': 'Established',
                    'status': 'True',
                    'lastTransitionTime': stamp,
                    'reason': 'InitialNamesAccepted',
                    'message': 'the initial names have been accepted',
                },
            ],
            'storedVersions': stored,
        }
        return errs

    def _register_crd(self, crd: dict):
        spec = crd['spec']
        names = spec['names']
        self.registry.unregister(spec['group'], names['plural'])
        versions = sorted(spec['versions'], key=lambda v: not v.get('storage'))
        for ver in versions:
            if not ver.get('served', True):
                continue
            self.registry.register(
                ResourceType(
                    group=spec['group'],
                    version=ver['name'],
                    plural=names['plural'],
                    singular=names.get('singular', ''),
                    kind=names['kind'],
                    namespaced=spec['scope'] == 'Namespaced',
                    short_names=tuple(names.get('shortNames') or ()),
                    categories=tuple(names.get('categories') or ()),
                    status='status' in (ver.get('subresources') or {}),
                    schema=copy.deepcopy(ver['schema']['openAPIV3Schema']),
                    builtin=False,
                    list_kind=names.get('listKind', ''),
                    printer_columns=tuple(copy.deepcopy(ver.get('additionalPrinterColumns') or ())),
                )
            )

    @staticmethod
    def _deployment_status(obj: dict):
        replicas = (obj.get('spec') or {}).get('replicas', 1)
        stamp = now()
        status = {'observedGeneration': obj['metadata'].get('generation', 1)}
        if replicas:
            status.update({'replicas': replicas, 'updatedReplicas': replicas, 'readyReplicas': replicas, 'availableReplicas': replicas})
        status['conditions'] = [
            {
                'type': 'Available',
                'status': 'True',
                'lastUpdateTime': stamp,
                'lastTransitionTime': stamp,
                'reason': 'MinimumReplicasAvailable',
                'message': 'Deployment has minimum availability.',
            },
            {
                'type': 'Progressing',
                'status': 'True',
                'lastUpdateTime': stamp,
                'lastTransitionTime': stamp,
                'reason': 'NewReplicaSetAvailable',
                'message': f'ReplicaSet "{obj["metadata"]["name"]}-7d9f8b6c5d" has successfully progressed.',
            },
        ]
        obj['status'] = status

    # ------------------------------------------------------------------ verbs
    def get(self, rtype: ResourceType, namespace: str, name: str) -> dict:
        with self.lock:
            obj = self._bucket(rtype).get((namespace or '', name))
            if obj is None:
                raise E.not_found(rtype.group, rtype.plural, name)
            return self._out(rtype, obj)

    def list(
        self,
        rtype: ResourceType,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> dict:
        supported = {'metadata.name'}
        if rtype.namespaced:
            supported.add('metadata.namespace')
        if rtype.storage_key == ('', 'secrets'):
            supported.add('type')
        if rtype.storage_key == ('', 'namespaces'):
            supported.add('status.phase')
        lreqs = parse_label_selector(label_selector)
        freqs = parse_field_selector(field_selector, supported)
        start = None
        if continue_token:
            try:
                start = tuple(json.loads(base64.b64decode(continue_token))['start'])
            except (ValueError, KeyError, TypeError, binascii.Error):
                raise E.bad_request('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)') from None
        with self.lock:
            items = []
            for key in sorted(self._bucket(rtype)):
                if namespace and key[0] != namespace:
                    continue
                if start is not None and key <= start:
                    continue
                obj = self._bucket(rtype)[key]
                if labels_match(lreqs, obj['metadata'].get('labels')) and fields_match(freqs, obj):
                    items.append((key, obj))
            meta = {'resourceVersion': str(self.rv)}
            if limit and len(items) > limit:
                meta['continue'] = base64.b64encode(json.dumps({'start': list(items[limit - 1][0])}).encode()).decode()
                meta['remainingItemCount'] = len(items) - limit
                items = items[:limit]
            out = [self._out(rtype, obj, with_type=not rtype.builtin) for _k, obj in items]
        return {'apiVersion': rtype.api_version, 'kind': rtype.list_kind, 'metadata': meta, 'items': out}

    def create(self, rtype: ResourceType, namespace: str | None, body, dry_run: bool = False, uid: str | None = None, strict: bool = False) -> dict:
        obj = self._check_body(rtype, body)
        meta = obj['metadata']
        if rtype.namespaced:
            if meta.get('namespace') and namespace and meta['namespace'] != namespace:
                raise E.bad_request('the namespace of the provided object does not match the namespace sent on the request')
            namespace = namespace or meta.get('namespace') or 'default'
            meta['namespace'] = namespace
        else:
            meta.pop('namespace', None)
            namespace = ''
        for field in (
            'uid',
            'resourceVersion',
            'creationTimestamp',
            'deletionTimestamp',
            'deletionGracePeriodSeconds',
            'generation',
            'managedFields',
            'selfLink',
        ):
            meta.pop(field, None)
        with self.lock:
            if not meta.get('name') and meta.get('generateName'):
                while True:
                    meta['name'] = meta['generateName'] + ''.join(random.choice(GENERATE_CHARS) for _idx in range(5))
                    if (namespace, meta['name']) not in self._bucket(rtype):
                        break
            name = meta.get('name', '')
            if rtype.namespaced and not self.namespace_exists(namespace):
                raise E.not_found('', 'namespaces', namespace)
            obj = dict({'apiVersion': rtype.api_version, 'kind': rtype.kind}, **{k: v for k, v in obj.items() if k not in ('apiVersion', 'kind')})
            if rtype.status:
                obj.pop('status', None)
            errs = self._validate_meta(rtype, obj) + self._prepare(rtype, obj, None, strict)
            if errs:
                raise E.invalid(rtype.kind, rtype.group, name, errs)
            self._admit('CREATE', rtype, namespace, name, obj, None, dry_run=dry_run)
            bucket = self._bucket(rtype)
            if (namespace, name) in bucket:
                raise E.already_exists(rtype.group, rtype.plural, name)
            meta = obj['metadata']
            meta['uid'] = uid or str(uuid.uuid4())
            meta['creationTimestamp'] = now()
            if not rtype.builtin or rtype.storage_key in GENERATION_KINDS:
                meta['generation'] = 1
            if rtype.storage_key == ('apps', 'deployments'):
                self._deployment_status(obj)
            if rtype.storage_key == quota.QUOTA_KEY:
                obj['status'] = quota.controller_status(self, obj)
            if dry_run:
                return self._out(rtype, obj)
            meta['resourceVersion'] = self._next_rv()
            bucket[(namespace, name)] = obj
            if rtype.storage_key == ('apiextensions.k8s.io', 'customresourcedefinitions'):
                self._register_crd(obj)
                quota.refresh(self)
            out = self._out(rtype, obj)
            self._notify('ADDED', rtype, obj)
            return out

    def update(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        body,
        subresource: str | None = None,
        dry_run: bool = False,
        force_conflict: bool = False,
        strict: bool = False,
    ) -> dict:
        obj = self._check_body(rtype, body)
        meta = obj['metadata']
        if meta.get('name', '') != name:
            raise E.bad_request(f'the name of the object ({meta.get("name", "")}) does not match the name on the URL ({name})')
        namespace = namespace or '' if rtype.namespaced else ''
        if rtype.namespaced and meta.get('namespace') and meta['namespace'] != namespace:
            raise E.bad_request('the namespace of the provided object does not match the namespace sent on the request')
        with self.lock:
            old = self._bucket(rtype).get((namespace, name))
            if old is None:
                raise E.not_found(rtype.group, rtype.plural, name)
            given_rv = meta.get('resourceVersion')
            if force_conflict or (given_rv and given_rv != old['metadata']['resourceVersion']):
                raise E.conflict(rtype.group, rtype.plural, name)
            return self._update_locked(rtype, namespace, name, old, obj, subresource, dry_run, strict)

    def _update_locked(self, rtype, namespace, name, old, obj, subresource, dry_run, strict=False):  # pylint: disable=too-many-arguments
        obj = dict({'apiVersion': rtype.api_version, 'kind': rtype.kind}, **{k: v for k, v in obj.items() if k not in ('apiVersion', 'kind')})
        if subresource == 'status':
            new = copy.deepcopy(old)
            new['apiVersion'], new['kind'] = rtype.api_version, rtype.kind
            if 'status' in obj:
                new['status'] = obj['status']
            else:
                new.pop('status', None)
        else:
            new = obj
            meta, old_meta = new['metadata'], old['metadata']
            if meta.get('uid') and meta['uid'] != old_meta['uid']:
                raise E.conflict(
                    rtype.group, rtype.plural, name, f'Precondition failed: UID in precondition: {meta["uid"]}, UID in object meta: {old_meta["uid"]}'
                )
            for field in ('uid', 'creationTimestamp', 'generation', 'deletionTimestamp', 'deletionGracePeriodSeconds'):
                if field in old_meta:
                    meta[field] = old_meta[field]
                else:
                    meta.pop(field, None)
            meta.pop('managedFields', None)
            if rtype.namespaced:
                meta['namespace'] = namespace
            else:
                meta.pop('namespace', None)
            if rtype.status:
                if 'status' in old:
                    new['status'] = copy.deepcopy(old['status'])
                else:
                    new.pop('status', None)
        new['metadata']['resourceVersion'] = old['metadata']['resourceVersion']
        errs = self._validate_meta(rtype, new)
        if subresource != 'status' or not rtype.builtin:
            errs += self._prepare(rtype, new, old, strict)
        elif rtype.storage_key in coretypes.KINDS:
            coretypes.canonicalize(rtype.storage_key, rtype.kind, new)
        if errs:
            raise E.invalid(rtype.kind, rtype.group, name, errs)
        if 'generation' in old['metadata']:
            ignore = ('apiVersion', 'kind', 'metadata', 'status') if rtype.status else ('apiVersion', 'kind', 'metadata')
            if {k: v for k, v in new.items() if k not in ignore} != {k: v for k, v in old.items() if k not in ignore}:
                new['metadata']['generation'] = old['metadata']['generation'] + 1
        if rtype.storage_key == ('apps', 'deployments') and subresource != 'status':
            self._deployment_status(new)
            if old.get('status') and new['metadata'].get('generation') == old['metadata'].get('generation'):
                new['status'] = copy.deepcopy(old['status'])
        if rtype.storage_key == quota.QUOTA_KEY and subresource != 'status':
            new['status'] = quota.controller_status(self, new)
        if new == old or self._out(rtype, new) == self._out(rtype, old):
            return self._out(rtype, old)
        self._admit('UPDATE', rtype, namespace, name, new, old, subresource, dry_run)
        if dry_run:
            return self._out(rtype, new)
        if new['metadata'].get('deletionTimestamp') and not new['metadata'].get('finalizers'):
            self._remove(rtype, namespace, name)
            return self._out(rtype, new)
        new['metadata']['resourceVersion'] = self._next_rv()
        self._bucket(rtype)[(namespace, name)] = new
        if rtype.storage_key == ('apiextensions.k8s.io', 'customresourcedefinitions') and subresource != 'status':
            self._register_crd(new)
            quota.refresh(self)
        if quota.usage_changed(rtype.storage_key, old, new):
            quota.refresh(self, namespace)
        out = self._out(rtype, new)
        self._notify('MODIFIED', rtype, new, subresource)
        return out

    def patch(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        content_type: str,
        raw: bytes,
        subresource: str | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
        strict: bool = False,
    ) -> tuple:
        """Returns (http_code, object)."""
        accepted = PATCH_TYPES_BUILTIN if rtype.builtin else PATCH_TYPES_CR
        if content_type not in accepted:
            raise E.unsupported_media_type(accepted)
        namespace = namespace or '' if rtype.namespaced else ''
        try:
            if content_type == 'application/apply-patch+yaml':
                import yaml  # pylint: disable=import-outside-toplevel

                patch = yaml.safe_load(raw.decode() or 'null')
            else:
                patch = json.loads(raw.decode() or 'null')
        except (ValueError, UnicodeDecodeError) as exc:
            raise E.bad_request(f'error decoding patch: {exc}') from None
        except Exception as exc:  # yaml.YAMLError
            raise E.bad_request(f'error decoding YAML: {exc}') from None
        with self.lock:
            old = self._bucket(rtype).get((namespace, name))
            if content_type == 'application/apply-patch+yaml':
                if not field_manager:
                    missing = FieldError('Required', 'fieldManager', detail='is required for apply patch')
                    raise E.invalid('PatchOptions', 'meta.k8s.io', '', [missing])
                if not isinstance(patch, dict):
                    raise E.bad_request('error decoding YAML: the apply patch must be an object')
                if old is None:
                    body = copy.deepcopy(patch)
                    body.setdefault('metadata', {})['name'] = name
                    return 201, self.create(rtype, namespace or None, body, dry_run=dry_run, strict=strict)
            if old is None:
                raise E.not_found(rtype.group, rtype.plural, name)
            current = self._out(rtype, old)
            try:
                if content_type == 'application/json-patch+json':
                    patched = json_patch(current, patch)
                elif content_type == 'application/strategic-merge-patch+json':
                    if not isinstance(patch, dict):
                        raise ValueError('json: cannot unmarshal array into Go value of type map[string]interface {}')
                    patched = strategic_merge(current, patch)
                else:
                    if not isinstance(patch, dict) and content_type == 'application/merge-patch+json':
                        raise ValueError('json: cannot unmarshal array into Go value of type map[string]interface {}')
                    patched = merge_patch(current, patch)
            except PatchError as exc:
                raise E.unprocessable_patch(str(exc)) from None
            except ValueError as exc:
                raise E.bad_request(str(exc)) from None
            patched = self._check_body(rtype, patched)
            pmeta = patched['metadata']
            if pmeta.get('name') != name:
                raise E.bad_request(f'the name of the object ({pmeta.get("name", "")}) does not match the name on the URL ({name})')
            if pmeta.get('resourceVersion') and pmeta['resourceVersion'] != old['metadata']['resourceVersion']:
                raise E.conflict(rtype.group, rtype.plural, name)
            return 200, self._update_locked(rtype, namespace, name, old, patched, subresource, dry_run, strict)

    @staticmethod
    def _scale_of(obj: dict) -> dict:
        meta = obj['metadata']
        labels = ((obj.get('spec') or {}).get('selector') or {}).get('matchLabels') or {}
        return {
            'kind': 'Scale',
            'apiVersion': 'autoscaling/v1',
            'metadata': {k: meta[k] for k in ('name', 'namespace', 'uid', 'resourceVersion', 'creationTimestamp') if k in meta},
            'spec': {'replicas': (obj.get('spec') or {}).get('replicas', 1)},
            'status': {'replicas': (obj.get('status') or {}).get('replicas', 0), 'selector': ','.join(f'{k}={v}' for k, v in sorted(labels.items()))},
        }

    def get_scale(self, rtype: ResourceType, namespace: str, name: str) -> dict:
        return self._scale_of(self.get(rtype, namespace, name))

    def update_scale(
        self, rtype: ResourceType, namespace: str, name: str, body=None, content_type: str | None = None, raw: bytes | None = None, dry_run: bool = False
    ) -> dict:
        """PUT (``body``) or PATCH (``content_type`` + ``raw``) of the /scale subresource."""
        with self.lock:
            old = self._bucket(rtype).get((namespace, name))
            if old is None:
                raise E.not_found(rtype.group, rtype.plural, name)
            if content_type is not None:
                if content_type not in PATCH_TYPES_BUILTIN[:3]:
                    raise E.unsupported_media_type(PATCH_TYPES_BUILTIN)
                try:
                    patch = json.loads((raw or b'').decode() or 'null')
                    current = self._scale_of(old)
                    body = json_patch(current, patch) if content_type == PATCH_TYPES_BUILTIN[0] else merge_patch(current, patch)
                except PatchError as exc:
                    raise E.unprocessable_patch(str(exc)) from None
                except ValueError as exc:
                    raise E.bad_request(str(exc)) from None
            if not isinstance(body, dict):
                raise E.bad_request('Scale in version "v1" cannot be handled as a Scale')
            given_rv = (body.get('metadata') or {}).get('resourceVersion')
            if given_rv and given_rv != old['metadata']['resourceVersion']:
                raise E.conflict(rtype.group, rtype.plural, name)
            replicas = (body.get('spec') or {}).get('replicas', 0)
            if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
                raise E.invalid('Scale', 'autoscaling', name, [FieldError('Invalid', 'spec.replicas', replicas, 'must be greater than or equal to 0')])
            new = self._out(rtype, old)
            new['spec']['replicas'] = replicas
            return self._scale_of(self._update_locked(rtype, namespace, name, old, new, None, dry_run))

    def _remove(self, rtype: ResourceType, namespace: str, name: str):
        obj = self._bucket(rtype).pop((namespace, name))
        self._next_rv()
        if rtype.storage_key == ('', 'namespaces'):
            for (grp, plural), bucket in self.data.items():
                if (grp, plural) != ('', 'namespaces'):
                    for key in [k for k in bucket if k[0] == name]:
                        del bucket[key]
        elif rtype.storage_key == ('apiextensions.k8s.io', 'customresourcedefinitions'):
            spec = obj['spec']
            self.data.pop((spec['group'], spec['names']['plural']), None)
            self.registry.unregister(spec['group'], spec['names']['plural'])
            quota.refresh(self)
        elif rtype.namespaced:
            quota.refresh(self, namespace)
            self._notify('DELETED', rtype, obj)
        return obj

    def delete(self, rtype: ResourceType, namespace: str | None, name: str, options: dict | None = None, dry_run: bool = False) -> tuple:
        """Returns (http_code, body): the object for kinds that return it, else a Success Status."""
        namespace = namespace or '' if rtype.namespaced else ''
        options = options if isinstance(options, dict) else {}
        with self.lock:
            old = self._bucket(rtype).get((namespace, name))
            if old is None:
                raise E.not_found(rtype.group, rtype.plural, name)
            if rtype.storage_key == ('', 'namespaces') and name in UNDELETABLE_NAMESPACES:
                raise E.forbidden('', 'namespaces', name, 'this namespace may not be deleted')
            pre = options.get('preconditions') or {}
            if pre.get('uid') and pre['uid'] != old['metadata']['uid']:
                raise E.conflict(
                    rtype.group, rtype.plural, name, f'Precondition failed: UID in precondition: {pre["uid"]}, UID in object meta: {old["metadata"]["uid"]}'
                )
            if pre.get('resourceVersion') and pre['resourceVersion'] != old['metadata']['resourceVersion']:
                raise E.conflict(
                    rtype.group,
                    rtype.plural,
                    name,
                    'Precondition failed: ResourceVersion in precondition: '
                    f'{pre["resourceVersion"]}, ResourceVersion in object meta: {old["metadata"]["resourceVersion"]}',
                )
            self._admit('DELETE', rtype, namespace, name, None, old, dry_run=dry_run)
            if dry_run:
                return 200, self._out(rtype, old)
            if old['metadata'].get('finalizers') and rtype.storage_key != ('', 'namespaces'):
                if not old['metadata'].get('deletionTimestamp'):
                    old['metadata']['deletionTimestamp'] = now()
                    old['metadata']['deletionGracePeriodSeconds'] = 0
                    old['metadata']['resourceVersion'] = self._next_rv()
                    self._notify('MODIFIED', rtype, old)
                return 202, self._out(rtype, old)
            obj = self._remove(rtype, namespace, name)
            if rtype.storage_key == ('', 'namespaces'):
                obj['metadata']['deletionTimestamp'] = now()
                obj['status'] = {'phase': 'Terminating'}
            elif rtype.storage_key in RETURNS_OBJECT_ON_DELETE and rtype.namespaced:
                obj['metadata']['deletionTimestamp'] = now()
                if rtype.storage_key == ('', 'pods'):
                    obj['metadata']['deletionGracePeriodSeconds'] = 0  # not on a node: deleted at once
            obj['metadata']['resourceVersion'] = str(self.rv)
            if not rtype.builtin or rtype.storage_key in RETURNS_OBJECT_ON_DELETE:
                return 200, self._out(rtype, obj)
            details = {'name': name}
            if rtype.group:
                details['group'] = rtype.group
            details['kind'] = rtype.plural
            details['uid'] = obj['metadata']['uid']
            return 200, {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Success', 'details': details}

    def delete_collection(
        self, rtype: ResourceType, namespace: str | None, label_selector: str | None = None, field_selector: str | None = None, dry_run: bool = False
    ) -> dict:
        with self.lock:
            listing = self.list(rtype, namespace, label_selector, field_selector)
            items = []
            for item in listing['items']:
                meta = item['metadata']
                _code, _body = self.delete(rtype, meta.get('namespace'), meta['name'], dry_run=dry_run)
                items.append(item)
            listing['items'] = items
            listing['metadata'] = {'resourceVersion': str(self.rv)}
            return listing
