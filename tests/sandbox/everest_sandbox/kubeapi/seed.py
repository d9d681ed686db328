"""Pre-seeded cluster state: a cluster with Everest 1.10.0 installed (reference §3, §4.4 and §5.2).

Plain data; ``objects(admin_password)`` returns the manifests in creation order (CRDs first).
"""

from __future__ import annotations

import base64

from . import bootstrap_rbac

EVEREST_IMAGE = 'perconalab/everest:1.10.0'
NAMESPACES = ('default', 'kube-node-lease', 'kube-public', 'kube-system', 'everest-system', 'everest-monitoring', 'everest-olm')
KEEP = {'helm.sh/resource-policy': 'keep'}

_STR = {'type': 'string'}
_INT = {'type': 'integer'}
_BOOL = {'type': 'boolean'}
_QTY = {'anyOf': [{'type': 'integer'}, {'type': 'string'}], 'x-kubernetes-int-or-string': True}
_FREE = {'type': 'object', 'x-kubernetes-preserve-unknown-fields': True}
_STR_LIST = {'type': 'array', 'items': {'type': 'string'}}
_RESOURCES = {'type': 'object', 'properties': {'cpu': _QTY, 'memory': _QTY}}
_QTY_MAP = {'type': 'object', 'additionalProperties': _QTY}

# Reference §6.4 lists the fields of spec.backup, spec.monitoring.resources, engineFeatures.psmdb and the proxy replicas
# minimum: those are typed (unknown fields pruned, required ones enforced). Where the reference is silent the schema keeps
# x-kubernetes-preserve-unknown-fields: spec.dataSource (only "dataSource{...}"), the rest of spec.engineFeatures and
# of engineFeatures.psmdb, and the items of monitoring.resources.claims.
BACKUP_SCHEDULE = {
    'type': 'object',
    'required': ['name', 'enabled', 'schedule', 'backupStorageName'],  # all but retentionCopies (reference §6.4)
    'properties': {'name': _STR, 'enabled': _BOOL, 'schedule': _STR, 'backupStorageName': _STR, 'retentionCopies': {'type': 'integer', 'format': 'int32'}},
}
BACKUP = {
    'type': 'object',
    'properties': {
        'enabled': _BOOL,
        'schedules': {'type': 'array', 'items': BACKUP_SCHEDULE},
        'pitr': {'type': 'object', 'required': ['enabled'], 'properties': {'enabled': _BOOL, 'backupStorageName': _STR, 'uploadIntervalSec': _INT}},
    },
}
MONITORING_RESOURCES = {  # a Kubernetes ResourceRequirements: limits, requests, claims
    'type': 'object',
    'properties': {'limits': _QTY_MAP, 'requests': _QTY_MAP, 'claims': {'type': 'array', 'items': _FREE}},
}
ENGINE_FEATURES = {
    'type': 'object',
    'x-kubernetes-preserve-unknown-fields': True,
    'properties': {'psmdb': {'type': 'object', 'x-kubernetes-preserve-unknown-fields': True, 'properties': {'splitHorizonDnsConfigName': _STR}}},
}

DATABASECLUSTER_SPEC = {
    'type': 'object',
    'required': ['engine'],
    'properties': {
        'engine': {
            'type': 'object',
            'required': ['type', 'storage'],
            'properties': {
                'type': {'type': 'string', 'enum': ['pxc', 'postgresql', 'psmdb']},
                'version': _STR,
                'replicas': {'type': 'integer', 'format': 'int32', 'minimum': 1},
                'resources': _RESOURCES,
                'storage': {'type': 'object', 'required': ['size'], 'properties': {'size': _QTY, 'class': _STR}},
                'config': _STR,
                'userSecretsName': _STR,
                'crVersion': _STR,
            },
        },
        'proxy': {
            'type': 'object',
            'properties': {
                'type': {'type': 'string', 'enum': ['mongos', 'haproxy', 'proxysql', 'pgbouncer']},
                'replicas': {'type': 'integer', 'format': 'int32', 'minimum': 1},
                'resources': _RESOURCES,
                'config': _STR,
                'expose': {'type': 'object', 'properties': {'type': _STR, 'ipSourceRanges': _STR_LIST, 'loadBalancerConfigName': _STR}},
            },
        },
        'backup': BACKUP,
        'monitoring': {'type': 'object', 'properties': {'monitoringConfigName': _STR, 'resources': MONITORING_RESOURCES}},
        'paused': _BOOL,
        'allowUnsafeConfiguration': _BOOL,
        'dataSource': _FREE,  # reference §6.4 says only "dataSource{...}"
        'podSchedulingPolicyName': _STR,
        'engineFeatures': ENGINE_FEATURES,
        'sharding': {
            'type': 'object',
            'properties': {
                'enabled': _BOOL,
                'shards': {'type': 'integer', 'format': 'int32'},
                'configServer': {'type': 'object', 'properties': {'replicas': {'type': 'integer', 'format': 'int32'}}},
            },
        },
    },
}

BACKUPSTORAGE_SPEC = {
    'type': 'object',
    'required': ['type', 'bucket', 'credentialsSecretName'],
    'properties': {
        'type': {'type': 'string', 'enum': ['s3', 'azure']},
        'bucket': _STR,
        'region': _STR,
        'endpointURL': _STR,
        'credentialsSecretName': _STR,
        'allowedNamespaces': _STR_LIST,
        'verifyTLS': _BOOL,
        'forcePathStyle': _BOOL,
        'description': _STR,
    },
}

MONITORINGCONFIG_SPEC = {
    'type': 'object',
    'required': ['type', 'credentialsSecretName'],
    'properties': {
        'type': {'type': 'string', 'enum': ['pmm']},
        'credentialsSecretName': _STR,
        'pmm': {'type': 'object', 'properties': {'url': _STR, 'image': _STR}},
        'allowedNamespaces': _STR_LIST,
        'verifyTLS': _BOOL,
    },
}


def crd(group, version, kind, plural, spec_schema, short_names=(), scope='Namespaced', status=True, categories=()):
    """A CustomResourceDefinition manifest with one served/storage version."""
    names = {'plural': plural, 'singular': kind.lower(), 'kind': kind, 'listKind': kind + 'List'}
    if short_names:
        names['shortNames'] = list(short_names)
    if categories:
        names['categories'] = list(categories)
    schema = {'type': 'object', 'properties': {'apiVersion': _STR, 'kind': _STR, 'metadata': {'type': 'object'}, 'spec': spec_schema, 'status': _FREE}}
    ver = {'name': version, 'served': True, 'storage': True, 'schema': {'openAPIV3Schema': schema}}
    if status:
        ver['subresources'] = {'status': {}}
    return {
        'apiVersion': 'apiextensions.k8s.io/v1',
        'kind': 'CustomResourceDefinition',
        'metadata': {'name': f'{plural}.{group}'},
        'spec': {'group': group, 'names': names, 'scope': scope, 'versions': [ver]},
    }


def crds() -> list:
    eg = 'everest.percona.com'
    og = 'operators.coreos.com'
    return [
        crd(eg, 'v1alpha1', 'DatabaseCluster', 'databaseclusters', DATABASECLUSTER_SPEC, ('db', 'dbc', 'dbcluster'), categories=('everest',)),
        crd(eg, 'v1alpha1', 'BackupStorage', 'backupstorages', BACKUPSTORAGE_SPEC, categories=('everest',)),
        crd(eg, 'v1alpha1', 'MonitoringConfig', 'monitoringconfigs', MONITORINGCONFIG_SPEC, categories=('everest',)),
        crd(eg, 'v1alpha1', 'DatabaseClusterBackup', 'databaseclusterbackups', _FREE, ('dbbackup', 'dbb'), categories=('everest',)),
        crd(eg, 'v1alpha1', 'DatabaseClusterRestore', 'databaseclusterrestores', _FREE, ('dbrestore', 'dbr'), categories=('everest',)),
        crd(eg, 'v1alpha1', 'DatabaseEngine', 'databaseengines', _FREE, ('dbengine',), categories=('everest',)),
        crd(og, 'v1alpha1', 'Subscription', 'subscriptions', _FREE, ('sub', 'subs'), categories=('olm',)),
        crd(og, 'v1alpha1', 'ClusterServiceVersion', 'clusterserviceversions', _FREE, ('csv', 'csvs'), categories=('olm',)),
        crd(og, 'v1alpha1', 'InstallPlan', 'installplans', _FREE, ('ip',), categories=('olm',)),
        crd(og, 'v1', 'OperatorGroup', 'operatorgroups', _FREE, ('og',), categories=('olm',)),
    ]


def accounts_yaml(users: dict) -> str:
    """``users.yaml`` as the chart writes it: per user (sorted) enabled, the login capability and ``passwordHash``
    (the text as given: a plain password, or ``!!binary <base64>`` for a PBKDF2 hash)."""
    lines = []
    for name in sorted(users):
        lines += [f'{name}:', '  enabled: true', '  capabilities:', '  - login', f'  passwordHash: {users[name]}']
    return '\n'.join(lines) + '\n'


def objects(admin_password: str) -> list:
    """Every seeded object (CRDs, namespaces, namespaced objects, then the bootstrap RBAC policy)."""
    labels = {'app.kubernetes.io/name': 'everest-server', 'app.kubernetes.io/component': 'server'}
    out = list(crds())
    out += [{'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': ns}} for ns in NAMESPACES]
    out += [
        {
            'apiVersion': 'apps/v1',
            'kind': 'Deployment',
            'metadata': {'name': 'everest-server', 'namespace': 'everest-system', 'labels': dict(labels)},
            'spec': {
                'replicas': 1,
                'selector': {'matchLabels': dict(labels)},
                'template': {
                    'metadata': {'labels': dict(labels)},
                    'spec': {'containers': [{'name': 'everest', 'image': EVEREST_IMAGE, 'ports': [{'containerPort': 8080, 'protocol': 'TCP'}]}]},
                },
            },
        },
        {
            'apiVersion': 'v1',
            'kind': 'Secret',
            'type': 'Opaque',
            'metadata': {'name': 'everest-accounts', 'namespace': 'everest-system', 'annotations': dict(KEEP, **{'insecure-password/admin': 'true'})},
            'data': {'users.yaml': base64.b64encode(accounts_yaml({'admin': admin_password}).encode()).decode()},
        },
        {
            'apiVersion': 'v1',
            'kind': 'ConfigMap',
            'metadata': {'name': 'everest-rbac', 'namespace': 'everest-system', 'annotations': dict(KEEP)},
            'data': {'enabled': 'false', 'policy.csv': 'g, admin, role:admin\n'},
        },
    ]
    out += bootstrap_rbac.objects()  # the ServiceAccount and aggregation controllers run after seeding
    return out
