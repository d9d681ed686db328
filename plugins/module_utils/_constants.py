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
SERVER_DEPLOYMENTS = ('everest-server', 'percona-everest')  # the current name first, then the legacy one
ADMIN_USERNAME = 'admin'

# Everest marks the namespaces it manages with this label (reference §4.3).
MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by'
EVEREST_MANAGED_BY = 'everest'
NAME_LABEL = 'kubernetes.io/metadata.name'

# DatabaseCluster and friends (reference §6.4).
DBC_API_VERSION = 'everest.percona.com/v1alpha1'
DBC_KIND = 'DatabaseCluster'
DBC_PLURAL = 'databaseclusters'
DBC_RESOURCE = DBC_PLURAL + '.everest.percona.com'

# OLM Subscriptions of the database operators (reference §4.4).
SUBSCRIPTION_API_VERSION = 'operators.coreos.com/v1alpha1'

# ------------------------------------------------------------------------------------------------- this collection
COLLECTION = 'virakcloud.everest'
MANAGED_BY = COLLECTION                      # value of MANAGED_BY_LABEL on the objects this collection creates
TENANT_LABEL = COLLECTION + '/tenant'        # names the tenant that owns an object (Namespace, policy, quotas)
TENANT_NAMESPACE_LABEL = COLLECTION + '/tenant-namespace'
# Annotation of the accounts Secret: JSON map {username: tenant} of the accounts a tenant owns.
ACCOUNT_OWNERS_ANNOTATION = COLLECTION + '/account-tenants'
ACCOUNTS_LEASE = 'virakcloud-everest-accounts'

# Namespaces no tenant may take or remove: Everest's own, Kubernetes' own (kube-*), and default. Patterns are
# fnmatch-style; the role and the modules add their own configurable list.
RESERVED_NAMESPACE_PATTERNS = EVEREST_NAMESPACES + ('everest-*', 'kube-*', 'default', 'openshift-*')

# Everest RBAC resources a tenant's role is checked on by the isolation proof (all namespaced ones tenants use, plus
# the global "namespaces"); the role's presets grant a subset of them.
TENANT_RESOURCES = ('namespaces', 'database-engines', 'database-clusters', 'database-cluster-credentials',
                    'database-cluster-backups', 'database-cluster-restores', 'backup-storages', 'monitoring-instances')
ISOLATION_ACTIONS = ('read', 'create')
TENANT_ROLE_PREFIX = 'role:tenant-'


def tenant_role(namespace):
    """The Everest RBAC role of the tenant whose namespace is ``namespace``."""
    return TENANT_ROLE_PREFIX + namespace
