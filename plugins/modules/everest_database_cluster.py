#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: everest_database_cluster
short_description: Create, update (scale) and delete an Everest database cluster through Everest's REST API
version_added: 0.1.0
author:
  - VirakCloud (@virakcloud)
description:
  - Manages one C(DatabaseCluster) with C(/v1/namespaces/{ns}/database-clusters) of Everest's REST API, as the tenant (the
    token's RBAC applies).
  - "Declarative and partial: only the options given are managed; everything else in the cluster's spec is kept.
    Quantities are compared by value (V(1) = V(\"1\") = V(1000m)) and always sent as strings."
  - "Updates are conditional: the object read (with its C(metadata.resourceVersion)) is sent back with the new spec; when
    Everest answers 409 because someone changed it meanwhile, the module reads it again and re-applies (up to 6 times),
    checking the quota again when the cluster read again has other replicas or resources. When the cluster read again
    already has the desired spec, nothing is written and the task reports no change."
  - Refused before any call, as Everest would refuse them, with a clearer message - shrinking the storage, changing the engine type.
  - "Quota: before creating a cluster or changing its replicas or resources, the module runs the check of
    M(virakcloud.everest.tenant_quota_check) (same code, same message) against the namespace's TenantResourcePolicy and
    refuses when a limit would be exceeded (O(enforce_quota)). This reads Kubernetes, so the Kubernetes connection options
    apply; when the namespace has no policy, a warning says nothing was enforced."
options:
  namespace:
    description: Namespace of the cluster (an Everest-managed DB namespace).
    type: str
    required: true
  name:
    description: Name of the cluster (RFC 1035, at most 22 characters).
    type: str
    required: true
  state:
    description: V(present) creates or updates the cluster; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  engine:
    description: The database engine (C(spec.engine)). Creating a cluster needs O(engine.type), O(engine.storage_size), O(engine.cpu) and O(engine.memory).
    type: dict
    suboptions:
      type:
        description: Engine type (cannot be changed later).
        type: str
        choices: [pxc, postgresql, psmdb]
      version:
        description: Engine version, for example V(17.4).
        type: str
      replicas:
        description: Number of engine nodes (Everest - odd for pxc and psmdb, at most 5 for pxc).
        type: int
      cpu:
        description: CPU per node, a quantity (V(1), V(600m)); at least V(600m).
        type: raw
      memory:
        description: Memory per node, a quantity (V(2Gi)); at least V(512M).
        type: raw
      storage_size:
        description: Volume size per node (V(25Gi)); at least V(1G); can only grow.
        type: raw
      storage_class:
        description: Storage class of the volumes.
        type: str
      config:
        description: Engine configuration text.
        type: str
      cr_version:
        description: Version of the operator's custom resource.
        type: str
  proxy:
    description: Proxy or router (C(spec.proxy)).
    type: dict
    suboptions:
      type:
        description: Proxy type; must fit the engine (pxc - haproxy or proxysql; postgresql - pgbouncer; psmdb - mongos).
        type: str
        choices: [haproxy, proxysql, pgbouncer, mongos]
      replicas:
        description: Proxy replicas.
        type: int
      cpu:
        description: CPU per proxy replica.
        type: raw
      memory:
        description: Memory per proxy replica.
        type: raw
      expose_type:
        description: How the proxy is exposed.
        type: str
        choices: [internal, external, ClusterIP, LoadBalancer, NodePort]
      ip_source_ranges:
        description: Source ranges allowed to reach an external proxy.
        type: list
        elements: str
      config:
        description: Proxy configuration text.
        type: str
  backup:
    description: Backups (C(spec.backup)). Schedules, when given, replace the cluster's list.
    type: dict
    suboptions:
      enabled:
        description: Whether backups are enabled.
        type: bool
      schedules:
        description: Scheduled backups.
        type: list
        elements: dict
        suboptions:
          name:
            description: Schedule name.
            type: str
            required: true
          schedule:
            description: Cron expression.
            type: str
            required: true
          backup_storage_name:
            description: Backup storage of the same namespace.
            type: str
            required: true
          enabled:
            description: Whether the schedule is active.
            type: bool
            default: true
          retention_copies:
            description: Number of backups to keep.
            type: int
      pitr:
        description: Point-in-time recovery.
        type: dict
        suboptions:
          enabled:
            description: Whether PITR is enabled.
            type: bool
            required: true
          backup_storage_name:
            description: Backup storage for the binlogs/WAL.
            type: str
          upload_interval_sec:
            description: Upload interval.
            type: int
  monitoring:
    description: Monitoring (C(spec.monitoring)).
    type: dict
    suboptions:
      monitoring_instance:
        description: Name of a monitoring instance of the same namespace; an empty string removes it.
        type: str
  cleanup_backup_storage:
    description: With O(state=absent), also delete the cluster's backups (C(?cleanupBackupStorage=true)).
    type: bool
    default: false
  wait:
    description:
      - Wait until the cluster reports C(status.status=ready) (O(state=present)) or is gone (O(state=absent)).
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait.
    type: int
    default: 600
  enforce_quota:
    description:
      - Refuse a creation or a resize that would exceed the namespace's TenantResourcePolicy (see the description).
    type: bool
    default: true
  policy_name:
    description: Name of the TenantResourcePolicy in O(namespace).
    type: str
    default: resource-policy
extends_documentation_fragment:
  - virakcloud.everest.everest_api
  - virakcloud.everest.connection
  - virakcloud.everest.everestctl
  - virakcloud.everest.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows the cluster's spec before and after.
seealso:
  - module: virakcloud.everest.everest_session
  - module: virakcloud.everest.everest_database_cluster_info
  - module: virakcloud.everest.tenant_quota_check
"""

EXAMPLES = r"""
- name: PostgreSQL cluster of tenant Alice, wait until ready
  virakcloud.everest.everest_database_cluster:
    everest_token: "{{ alice_session.token }}"
    namespace: ns-alice
    name: pg-alice
    engine:
      type: postgresql
      version: "17.4"
      replicas: 1
      cpu: 1
      memory: 2Gi
      storage_size: 25Gi
      storage_class: standard-rwo
    proxy:
      type: pgbouncer
      replicas: 1
      expose_type: external
    backup:
      pitr:
        enabled: false
    wait: true

- name: Scale to 3 nodes (refused with the quota message when ns-alice's policy would be exceeded)
  virakcloud.everest.everest_database_cluster:
    everest_token: "{{ alice_session.token }}"
    namespace: ns-alice
    name: pg-alice
    engine:
      replicas: 3

- name: Delete it and its backups
  virakcloud.everest.everest_database_cluster:
    everest_token: "{{ alice_session.token }}"
    namespace: ns-alice
    name: pg-alice
    state: absent
    cleanup_backup_storage: true
"""

RETURN = r"""
database_cluster:
  description: The cluster as Everest returned it (after the change; the planned object in check mode; empty when absent).
  returned: always
  type: dict
  sample:
    apiVersion: everest.percona.com/v1alpha1
    kind: DatabaseCluster
    metadata: {name: pg-alice, namespace: ns-alice, resourceVersion: "42"}
    spec: {engine: {type: postgresql, replicas: 1, resources: {cpu: "1", memory: 2Gi}, storage: {size: 25Gi}}}
    status: {status: ready, hostname: pg-alice-pgbouncer.ns-alice.svc, port: 5432}
quota:
  description: Usage and limits of the quota check (as M(virakcloud.everest.tenant_quota_check) returns them), when one ran.
  returned: when the quota was checked and the namespace has a policy
  type: dict
  sample: {usage_after: {clusters: 1, cpu_cores: 1, memory_bytes: 2147483648, db_users: 1}}
"""

from ansible_collections.virakcloud.everest.plugins.module_utils._module import EverestModule
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError
from ansible_collections.virakcloud.everest.plugins.module_utils import _constants
from ansible_collections.virakcloud.everest.plugins.module_utils import _database_cluster
from ansible_collections.virakcloud.everest.plugins.module_utils import _everest_client
from ansible_collections.virakcloud.everest.plugins.module_utils import _everest_objects

QTY = dict(type='raw')
ENGINE = dict(
    type=dict(type='str', choices=list(_constants.DB_ENGINE_TYPES)),
    version=dict(type='str'),
    replicas=dict(type='int'),
    cpu=QTY,
    memory=QTY,
    storage_size=QTY,
    storage_class=dict(type='str'),
    config=dict(type='str'),
    cr_version=dict(type='str'),
)
PROXY = dict(
    type=dict(type='str', choices=['haproxy', 'proxysql', 'pgbouncer', 'mongos']),
    replicas=dict(type='int'),
    cpu=QTY,
    memory=QTY,
    expose_type=dict(type='str', choices=['internal', 'external', 'ClusterIP', 'LoadBalancer', 'NodePort']),
    ip_source_ranges=dict(type='list', elements='str'),
    config=dict(type='str'),
)
SCHEDULE = dict(
    name=dict(type='str', required=True),
    schedule=dict(type='str', required=True),
    backup_storage_name=dict(type='str', required=True),
    enabled=dict(type='bool', default=True),
    retention_copies=dict(type='int'),
)
PITR = dict(enabled=dict(type='bool', required=True), backup_storage_name=dict(type='str'), upload_interval_sec=dict(type='int'))
BACKUP = dict(enabled=dict(type='bool'), schedules=dict(type='list', elements='dict', options=SCHEDULE), pitr=dict(type='dict', options=PITR))

ARGUMENT_SPEC = dict(
    namespace=dict(type='str', required=True),
    name=dict(type='str', required=True),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    engine=dict(type='dict', options=ENGINE),
    proxy=dict(type='dict', options=PROXY),
    backup=dict(type='dict', options=BACKUP),
    monitoring=dict(type='dict', options=dict(monitoring_instance=dict(type='str'))),
    cleanup_backup_storage=dict(type='bool', default=False),
    wait=dict(type='bool', default=False),
    wait_timeout=dict(type='int', default=600),
    enforce_quota=dict(type='bool', default=True),
    policy_name=dict(type='str', default=_constants.DEFAULT_POLICY_NAME),
)


def main():
    module = EverestModule(argument_spec=_everest_client.argument_spec(ARGUMENT_SPEC), supports_check_mode=True, k8s=True)
    params = module.params
    client = None
    try:
        _everest_objects.check_name(params['name'], 'database cluster')
        client = _everest_client.api_client(module)
        runner = _database_cluster.Runner(module, client)
        current = runner.get()
        if params['state'] == 'absent':
            changed, obj, diff = runner.absent(current)
        elif current is None:
            changed, obj, diff = runner.create()
        else:
            changed, obj, diff = runner.update(current)
    except EverestError as exc:  # QuotaExceeded too
        module.fail_from(exc, changed=False)
    finally:
        if client is not None:
            client.close()
    result = dict(changed=changed, database_cluster=_everest_objects.object_view(obj))
    if runner.quota is not None:
        result['quota'] = runner.quota
    if module._diff and diff is not None:
        result['diff'] = diff
    module.exit_json(**result)


if __name__ == '__main__':
    main()
