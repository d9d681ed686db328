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
- name: PostgreSQL cluster of seed 000, wait until ready
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

import copy

from ansible_collections.virakcloud.everest.plugins.module_utils._module import EverestModule
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError
from ansible_collections.virakcloud.everest.plugins.module_utils import _constants
from ansible_collections.virakcloud.everest.plugins.module_utils import _everest_api as api

QTY = dict(type='raw')
ENGINE = dict(type=dict(type='str', choices=list(_constants.DB_ENGINE_TYPES)), version=dict(type='str'), replicas=dict(type='int'),
              cpu=QTY, memory=QTY, storage_size=QTY, storage_class=dict(type='str'), config=dict(type='str'), cr_version=dict(type='str'))
PROXY = dict(type=dict(type='str', choices=['haproxy', 'proxysql', 'pgbouncer', 'mongos']), replicas=dict(type='int'), cpu=QTY, memory=QTY,
             expose_type=dict(type='str', choices=['internal', 'external', 'ClusterIP', 'LoadBalancer', 'NodePort']),
             ip_source_ranges=dict(type='list', elements='str'), config=dict(type='str'))
SCHEDULE = dict(name=dict(type='str', required=True), schedule=dict(type='str', required=True),
                backup_storage_name=dict(type='str', required=True), enabled=dict(type='bool', default=True),
                retention_copies=dict(type='int'))
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


class Runner(object):
    def __init__(self, module, client):
        self.module = module
        self.client = client
        params = module.params
        self.ns = params['namespace']
        self.name = params['name']
        self.obj = '%s/%s' % (self.ns, self.name)
        self.what = 'database cluster %s' % self.obj
        self.path = api.ns_path(self.ns, 'database-clusters', self.name)
        self.quota = None

    def get(self):
        return self.client.get_or_none(self.path, rbac=('database-clusters', 'read', self.obj), what=self.what)

    def check_quota(self, spec):
        params = self.module.params
        if not params['enforce_quota']:
            return
        result, warnings = api.enforce_quota(api.quota_k8s(self.module), self.ns, params['policy_name'], spec, self.name)
        for warning in warnings:
            self.module.warn(warning)
        if result is not None:
            self.quota = dict((k, result[k]) for k in ('usage', 'requested', 'usage_after', 'limits', 'headroom', 'resize'))

    def wait_ready(self, obj):
        if not self.module.params['wait']:
            return obj
        return api.wait_for(self.get, api.cluster_ready, self.module.params['wait_timeout'], 'waiting for %s to be ready' % self.what,
                            failed=lambda o: 'it no longer exists' if o is None else None)

    def absent(self, current):
        params = self.module.params
        if current is None:
            return False, {}, None
        diff = {'before': current.get('spec') or {}, 'after': {}}
        if not self.module.check_mode:
            query = {'cleanupBackupStorage': 'true' if params['cleanup_backup_storage'] else 'false'}
            try:
                self.client.request('DELETE', self.path, query=query, rbac=('database-clusters', 'delete', self.obj), what=self.what)
            except api.EverestApiNotFound:
                return False, {}, None
            if params['wait']:
                api.wait_for(self.get, lambda o: o is None, params['wait_timeout'], 'waiting for %s to be deleted' % self.what)
        return True, {}, diff

    def create(self):
        spec = api.desired_spec(self.module.params, None)
        api.check_create_spec(spec, self.ns, self.name)
        self.check_quota(spec)
        body = {'apiVersion': _constants.DBC_API_VERSION, 'kind': _constants.DBC_KIND, 'metadata': {'name': self.name, 'namespace': self.ns}, 'spec': spec}
        diff = {'before': {}, 'after': spec}
        if self.module.check_mode:
            return True, body, diff
        created = self.client.request('POST', api.ns_path(self.ns, 'database-clusters'), body,
                                      rbac=('database-clusters', 'create', self.obj), what=self.what)
        return True, self.wait_ready(created), diff

    def update(self, current):
        """Conditional PUT of the current object with the desired spec; on 409 read again and re-apply.

        ``changed`` is true only when this task wrote (or, in check mode, would write): when the object read again after a
        409 already has the desired spec, someone else made the change and nothing is written. The quota is checked
        again whenever the object read again has another shape (replicas, resources) than the one checked.
        """
        checked = None  # (current shape, desired shape) of the last quota check
        for attempt in range(1, api.CONFLICT_ATTEMPTS + 1):
            current_spec = current.get('spec') or {}
            spec = api.desired_spec(self.module.params, current_spec)
            if spec == current_spec:
                return False, self.wait_ready(current), None
            api.check_update(current_spec, spec, self.ns, self.name)
            if api.shape_changed(current_spec, spec):
                shape = (api.cluster_shape(current_spec), api.cluster_shape(spec))
                if shape != checked:
                    self.check_quota(spec)
                    checked = shape
            diff = {'before': copy.deepcopy(current_spec), 'after': spec}
            if self.module.check_mode:
                planned = copy.deepcopy(current)
                planned['spec'] = spec
                return True, planned, diff
            meta = dict((k, v) for k, v in (current.get('metadata') or {}).items() if k != 'managedFields')
            body = {'apiVersion': current.get('apiVersion', _constants.DBC_API_VERSION), 'kind': _constants.DBC_KIND, 'metadata': meta, 'spec': spec}
            try:
                updated = self.client.request('PUT', self.path, body, rbac=('database-clusters', 'update', self.obj), what=self.what)
            except api.EverestApiConflict:
                if attempt == api.CONFLICT_ATTEMPTS:
                    raise
                current = self.get()
                if current is None:
                    raise api.EverestApiNotFound('%s was deleted while it was being updated' % self.what)
                continue
            return True, self.wait_ready(updated), diff
        raise AssertionError('unreachable')  # pragma: no cover


def main():
    module = EverestModule(argument_spec=api.argument_spec(ARGUMENT_SPEC), supports_check_mode=True, k8s=True)
    params = module.params
    client = None
    try:
        api.check_name(params['name'], 'database cluster')
        client = api.api_client(module)
        runner = Runner(module, client)
        current = runner.get()
        if params['state'] == 'absent':
            changed, obj, diff = runner.absent(current)
        elif current is None:
            changed, obj, diff = runner.create()
        else:
            changed, obj, diff = runner.update(current)
    except api.QuotaExceeded as exc:
        module.fail_from(exc, changed=False)
    except EverestError as exc:
        module.fail_from(exc, changed=False)
    finally:
        if client is not None:
            client.close()
    result = dict(changed=changed, database_cluster=api.cluster_view(obj))
    if runner.quota is not None:
        result['quota'] = runner.quota
    if module._diff and diff is not None:
        result['diff'] = diff
    module.exit_json(**result)


if __name__ == '__main__':
    main()
