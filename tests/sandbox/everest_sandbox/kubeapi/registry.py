"""Generic resource registry: built-in kinds and CRD-defined kinds are registered the same way."""

from __future__ import annotations

import dataclasses
import threading

# No 'watch': the emulator does not serve watches, and a real API server neither advertises nor serves the verbs a
# resource lacks (its watch requests get 405 MethodNotAllowed, which is what the emulator answers; see server.py).
ALL_VERBS = ('create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update')
RBAC_GROUP = 'rbac.authorization.k8s.io'


@dataclasses.dataclass
class ResourceType:
    """One served resource (group, version, plural) and what the server needs to know about it."""

    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple = ()
    categories: tuple = ()
    status: bool = False  # has the /status subresource
    schema: dict | None = None  # openAPIV3Schema (custom resources only)
    builtin: bool = True
    verbs: tuple = ALL_VERBS
    list_kind: str = ''
    scale: bool = False  # has the /scale subresource (autoscaling/v1 Scale)
    printer_columns: tuple = ()  # CRD additionalPrinterColumns (custom resources only)
    subresources: tuple = ()  # further APIResource entries (dicts without 'name'/'namespaced'), e.g. serviceaccounts/token
    path_segment_names: bool = False  # names need only be valid path segments (RBAC kinds), not DNS subdomains

    def __post_init__(self):
        if not self.list_kind:
            self.list_kind = self.kind + 'List'

    @property
    def api_version(self) -> str:
        return f'{self.group}/{self.version}' if self.group else self.version

    @property
    def qualified(self) -> str:
        """``plural.group`` (``plural`` for the core group): what error messages and quotas use."""
        return f'{self.plural}.{self.group}' if self.group else self.plural

    @property
    def storage_key(self) -> tuple:
        return (self.group, self.plural)

    def discovery(self) -> list:
        """APIResource entries (the resource and its subresources) for ``/api/v1`` and ``/apis/<g>/<v>``."""
        entry = {'name': self.plural, 'singularName': self.singular, 'namespaced': self.namespaced, 'kind': self.kind, 'verbs': list(self.verbs)}
        if self.short_names:
            entry['shortNames'] = list(self.short_names)
        if self.categories:
            entry['categories'] = list(self.categories)
        out = []
        if self.status:
            out.append(
                {'name': self.plural + '/status', 'singularName': '', 'namespaced': self.namespaced, 'kind': self.kind, 'verbs': ['get', 'patch', 'update']}
            )
        if self.scale:
            out.append(
                {
                    'name': self.plural + '/scale',
                    'singularName': '',
                    'namespaced': self.namespaced,
                    'group': 'autoscaling',
                    'version': 'v1',
                    'kind': 'Scale',
                    'verbs': ['get', 'patch', 'update'],
                }
            )
        for sub in self.subresources:
            out.append(
                dict(
                    {'name': f'{self.plural}/{sub["subresource"]}', 'singularName': '', 'namespaced': self.namespaced},
                    **{k: v for k, v in sub.items() if k != 'subresource'},
                )
            )
        return [entry] + sorted(out, key=lambda item: item['name'])  # subresources in name order, as upstream lists them


BUILTINS = (
    ResourceType('', 'v1', 'namespaces', 'namespace', 'Namespace', False, ('ns',), status=True, verbs=('create', 'delete', 'get', 'list', 'patch', 'update')),
    ResourceType('', 'v1', 'configmaps', 'configmap', 'ConfigMap', True, ('cm',)),
    ResourceType('', 'v1', 'secrets', 'secret', 'Secret', True),
    ResourceType('', 'v1', 'resourcequotas', 'resourcequota', 'ResourceQuota', True, ('quota',), status=True),
    ResourceType('', 'v1', 'pods', 'pod', 'Pod', True, ('po',), ('all',), status=True, subresources=({'subresource': 'log', 'kind': 'Pod', 'verbs': ['get']},)),
    ResourceType('', 'v1', 'persistentvolumeclaims', 'persistentvolumeclaim', 'PersistentVolumeClaim', True, ('pvc',), status=True),
    ResourceType('', 'v1', 'limitranges', 'limitrange', 'LimitRange', True, ('limits',)),
    ResourceType('apps', 'v1', 'deployments', 'deployment', 'Deployment', True, ('deploy',), ('all',), status=True, scale=True),
    ResourceType('coordination.k8s.io', 'v1', 'leases', 'lease', 'Lease', True),
    ResourceType(
        'apiextensions.k8s.io',
        'v1',
        'customresourcedefinitions',
        'customresourcedefinition',
        'CustomResourceDefinition',
        False,
        ('crd', 'crds'),
        ('api-extensions',),
        status=True,
    ),
    ResourceType(
        'admissionregistration.k8s.io',
        'v1',
        'validatingadmissionpolicies',
        'validatingadmissionpolicy',
        'ValidatingAdmissionPolicy',
        False,
        ('vap',),
        ('api-extensions',),
        status=True,
    ),
    ResourceType(
        'admissionregistration.k8s.io',
        'v1',
        'validatingadmissionpolicybindings',
        'validatingadmissionpolicybinding',
        'ValidatingAdmissionPolicyBinding',
        False,
        ('vapb',),
        ('api-extensions',),
    ),
    # authentication, authorization and RBAC (authn.py, rbac.py, tokens.py, reviews.py)
    ResourceType(
        '',
        'v1',
        'serviceaccounts',
        'serviceaccount',
        'ServiceAccount',
        True,
        ('sa',),
        subresources=({'subresource': 'token', 'group': 'authentication.k8s.io', 'version': 'v1', 'kind': 'TokenRequest', 'verbs': ['create']},),
    ),
    ResourceType(RBAC_GROUP, 'v1', 'clusterrolebindings', 'clusterrolebinding', 'ClusterRoleBinding', False, path_segment_names=True),
    ResourceType(RBAC_GROUP, 'v1', 'clusterroles', 'clusterrole', 'ClusterRole', False, path_segment_names=True),
    ResourceType(RBAC_GROUP, 'v1', 'rolebindings', 'rolebinding', 'RoleBinding', True, path_segment_names=True),
    ResourceType(RBAC_GROUP, 'v1', 'roles', 'role', 'Role', True, path_segment_names=True),
    ResourceType('authorization.k8s.io', 'v1', 'selfsubjectaccessreviews', 'selfsubjectaccessreview', 'SelfSubjectAccessReview', False, verbs=('create',)),
    ResourceType('authorization.k8s.io', 'v1', 'selfsubjectrulesreviews', 'selfsubjectrulesreview', 'SelfSubjectRulesReview', False, verbs=('create',)),
    ResourceType('authorization.k8s.io', 'v1', 'subjectaccessreviews', 'subjectaccessreview', 'SubjectAccessReview', False, verbs=('create',)),
    ResourceType('authentication.k8s.io', 'v1', 'selfsubjectreviews', 'selfsubjectreview', 'SelfSubjectReview', False, verbs=('create',)),
)


class Registry:
    """Thread-safe map (group, version, plural) -> ResourceType."""

    def __init__(self):
        self._lock = threading.RLock()
        self._types: dict = {}
        self._builtin_keys = set()
        for rtype in BUILTINS:
            self._types[(rtype.group, rtype.version, rtype.plural)] = rtype
            self._builtin_keys.add((rtype.group, rtype.version, rtype.plural))

    def reset(self):
        with self._lock:
            self._types = {k: v for k, v in self._types.items() if k in self._builtin_keys}

    def register(self, rtype: ResourceType):
        with self._lock:
            self._types[(rtype.group, rtype.version, rtype.plural)] = rtype

    def unregister(self, group: str, plural: str):
        with self._lock:
            for key in [k for k in self._types if k[0] == group and k[2] == plural and k not in self._builtin_keys]:
                del self._types[key]

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        with self._lock:
            return self._types.get((group, version, plural))

    def any_version(self, group: str, plural: str) -> ResourceType | None:
        with self._lock:
            for (grp, _ver, plu), rtype in self._types.items():
                if grp == group and plu == plural:
                    return rtype
        return None

    def all(self) -> list:
        with self._lock:
            return list(self._types.values())

    def group_versions(self) -> dict:
        """{group: [versions]} in registration order (core group under '')."""
        out: dict = {}
        with self._lock:
            for grp, ver, _plu in self._types:
                versions = out.setdefault(grp, [])
                if ver not in versions:
                    versions.append(ver)
        return out

    def in_group_version(self, group: str, version: str) -> list:
        with self._lock:
            return [t for (g, v, _p), t in self._types.items() if g == group and v == version]
