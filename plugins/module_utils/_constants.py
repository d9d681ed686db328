# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One home for the names of Everest's and this collection's objects: namespaces, object names, apiVersions, kinds,
labels, annotations and resource lists. Every other file imports them from here (docs/reference/everest.md says
where each fact comes from); a second copy of a constant is a bug waiting to drift.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# ---------------------------------------------------------------------------------------------------------- Everest
# Everest's own namespaces (everestctl refuses them as database namespaces: reference §4.3).
SYSTEM_NAMESPACE = 'everest-system'
MONITORING_NAMESPACE = 'everest-monitoring'
OLM_NAMESPACE = 'everest-olm'
EVEREST_NAMESPACES = (SYSTEM_NAMESPACE, MONITORING_NAMESPACE, OLM_NAMESPACE)

# Objects in everest-system (reference §3, §5.2, §9.5).
ACCOUNTS_SECRET = 'everest-accounts'
ACCOUNTS_KEY = 'users.yaml'
RBAC_CONFIGMAP = 'everest-rbac'
RBAC_POLICY_KEY = 'policy.csv'
RBAC_ENABLED_KEY = 'enabled'
RBAC_CHART_DEFAULT_POLICY = 'g, admin, role:admin\n'
SETTINGS_CONFIGMAP = 'everest-settings'
OIDC_SETTINGS_KEY = 'oidc.config'  # YAML: issuerUrl, clientId, scopes (reference §9.5)
OIDC_DEFAULT_SCOPES = ('openid', 'profile', 'email')  # everestctl's default --scopes: no 'groups'
OIDC_GROUPS_SCOPE = 'groups'
OIDC_DISCOVERY_PATH = '/.well-known/openid-configuration'
SERVER_DEPLOYMENTS = ('everest-server', 'percona-everest')  # the current name first, then the legacy one
ADMIN_USERNAME = 'admin'

# Everest marks the namespaces it manages with this label (reference §4.3).
MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by'
EVEREST_MANAGED_BY = 'everest'
NAME_LABEL = 'kubernetes.io/metadata.name'

# DatabaseCluster and friends (reference §6.4).
DBC_API_VERSION = 'everest.percona.com/v1alpha1'
DBC_KIND = 'DatabaseCluster'
DBC_BACKUP_KIND = 'DatabaseClusterBackup'
DBC_RESTORE_KIND = 'DatabaseClusterRestore'
DBC_PLURAL = 'databaseclusters'
DBC_RESOURCE = DBC_PLURAL + '.everest.percona.com'
DBC_COUNT_RESOURCE = 'count/' + DBC_RESOURCE  # the ResourceQuota key that counts DatabaseClusters
DB_ENGINE_TYPES = ('pxc', 'postgresql', 'psmdb')  # spec.engine.type

# OLM Subscriptions of the database operators (reference §4.4, §4.5, §4.7): the option name of each operator, the
# Subscription everestctl creates for it, and the short name `namespaces list` shows.
SUBSCRIPTION_API_VERSION = 'operators.coreos.com/v1alpha1'
OPERATORS = ('mysql', 'postgresql', 'mongodb')
OPERATOR_SUBSCRIPTIONS = {
    'mysql': 'percona-xtradb-cluster-operator',
    'postgresql': 'percona-postgresql-operator',
    'mongodb': 'percona-server-mongodb-operator',
}
SUBSCRIPTION_SHORT_NAMES = {
    'percona-xtradb-cluster-operator': 'pxc',
    'percona-postgresql-operator': 'postgresql',
    'percona-server-mongodb-operator': 'psmdb',
}
# Namespaces `everestctl namespaces list` never shows (reference §4.7).
NAMESPACES_LIST_HIDDEN = (
    ('kube-system', 'kube-public', 'kube-node-lease')
    + EVEREST_NAMESPACES
    + ('gke-managed-cim', 'gke-managed-system', 'gke-managed-volumepopulator', 'gmp-public', 'gmp-system')
)

# Everest RBAC (reference §5.5, §5.6): the 13 resources and their scope, and the actions.
RBAC_NAMESPACED = 'namespaced'
RBAC_GLOBAL = 'global'
RBAC_RESOURCES = {
    'backup-storages': RBAC_NAMESPACED,
    'data-import-jobs': RBAC_NAMESPACED,
    'data-importers': RBAC_GLOBAL,
    'database-cluster-backups': RBAC_NAMESPACED,
    'database-cluster-credentials': RBAC_NAMESPACED,
    'database-cluster-restores': RBAC_NAMESPACED,
    'database-clusters': RBAC_NAMESPACED,
    'database-engines': RBAC_NAMESPACED,
    'enginefeatures/split-horizon-dns-configs': RBAC_NAMESPACED,
    'load-balancer-configs': RBAC_GLOBAL,
    'monitoring-instances': RBAC_NAMESPACED,
    'namespaces': RBAC_GLOBAL,
    'pod-scheduling-policies': RBAC_GLOBAL,
}
RBAC_GLOBAL_RESOURCES = tuple(sorted(name for name, scope in RBAC_RESOURCES.items() if scope == RBAC_GLOBAL))
RBAC_ACTIONS = ('create', 'read', 'update', 'delete', '*')
RBAC_ADMIN_ROLE = 'role:admin'
RBAC_ROLE_PREFIX = 'role:'

# ------------------------------------------------------------------------------------------------------- Kubernetes
CRD_API_VERSION = 'apiextensions.k8s.io/v1'
LEASE_API_VERSION = 'coordination.k8s.io/v1'
ADMISSION_API_VERSION = 'admissionregistration.k8s.io/v1'  # ValidatingAdmissionPolicy, GA in 1.30 (kubernetes reference §2)
ADMISSION_POLICY_PLURAL = 'validatingadmissionpolicies'
ADMISSION_BINDING_PLURAL = 'validatingadmissionpolicybindings'

# ------------------------------------------------------------------------------------------------- this collection
COLLECTION = 'virakcloud.everest'
MANAGED_BY = COLLECTION  # value of MANAGED_BY_LABEL on the objects this collection creates
TENANT_LABEL = COLLECTION + '/tenant'  # names the tenant that owns an object (Namespace, policy, quotas)
TENANT_NAMESPACE_LABEL = COLLECTION + '/tenant-namespace'
# Annotation of the accounts Secret: JSON map {username: tenant} of the accounts a tenant owns.
ACCOUNT_OWNERS_ANNOTATION = COLLECTION + '/account-tenants'
ACCOUNTS_LEASE = 'virakcloud-everest-accounts'
PURPOSE_ANNOTATION = COLLECTION + '/purpose'  # on the Leases of this collection: what the lock serialises

# The TenantResourcePolicy CRD of this collection (files/crd-tenantresourcepolicy.yaml, mirrored in _trp_crd.py).
TRP_GROUP = 'everest.local'
TRP_VERSION = 'v1'
TRP_API_VERSION = TRP_GROUP + '/' + TRP_VERSION
TRP_KIND = 'TenantResourcePolicy'
TRP_PLURAL = 'tenantresourcepolicies'
TRP_CRD_NAME = TRP_PLURAL + '.' + TRP_GROUP
DEFAULT_POLICY_NAME = 'resource-policy'
QUOTA_NAME_SUFFIX = '-clusters'  # the ResourceQuota a policy manages is named <policy name>-clusters
# The other objects a policy implies in its namespace (_tenant_quotas.py): <policy name><suffix>.
COMPUTE_QUOTA_SUFFIX = '-compute'  # ResourceQuota: requests.cpu, requests.memory (policy + headroom)
STORAGE_QUOTA_SUFFIX = '-storage'  # ResourceQuota: requests.storage, persistentvolumeclaims
LIMIT_RANGE_SUFFIX = '-defaults'  # LimitRange: the requests of containers that state none
# On the compute quota: how its hard values were derived (JSON: the headroom per cluster and the clusters it covers).
HEADROOM_ANNOTATION = COLLECTION + '/quota-headroom'
# Engine names of a policy (the CRD enum) -> DatabaseCluster spec.engine.type. The one mapping table: every other
# engine list of the policy code is derived from it (tests compare it with the CRD enum and the modules' choices).
POLICY_ENGINE_TO_TYPE = {'mysql': 'pxc', 'xtradb_cluster': 'pxc', 'postgresql': 'postgresql', 'mongodb': 'psmdb'}
POLICY_ENGINES = tuple(sorted(POLICY_ENGINE_TO_TYPE))  # mongodb, mysql, postgresql, xtradb_cluster

# Namespaces no tenant may take or remove: Everest's own, Kubernetes' own (kube-*), and default. Patterns are
# fnmatch-style; the role and the modules add their own configurable list.
RESERVED_NAMESPACE_PATTERNS = EVEREST_NAMESPACES + ('everest-*', 'kube-*', 'default', 'openshift-*')

# Everest RBAC resources a tenant's role is checked on by the isolation proof (all namespaced ones tenants use, plus
# the global "namespaces"); the role's presets grant a subset of them.
TENANT_RESOURCES = (
    'namespaces',
    'database-engines',
    'database-clusters',
    'database-cluster-credentials',
    'database-cluster-backups',
    'database-cluster-restores',
    'backup-storages',
    'monitoring-instances',
)
ISOLATION_ACTIONS = ('read', 'create')
TENANT_ROLE_PREFIX = 'role:tenant-'


def tenant_role(namespace):
    """The Everest RBAC role of the tenant whose namespace is ``namespace``."""
    return TENANT_ROLE_PREFIX + namespace
