#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: everest_restore
short_description: Restore an Everest backup into an existing or a new database cluster, and wait
version_added: 0.1.0
author:
  - VirakCloud (@virakcloud)
description:
  - "Into an existing cluster (O(new_cluster=false)): creates the C(DatabaseClusterRestore) O(name)
    (C(POST /v1/namespaces/{ns}/database-cluster-restores)) and waits until its C(status.state) is C(Succeeded).
    Idempotent by O(name)."
  - "Into a new cluster (O(new_cluster=true)): creates the cluster O(cluster) with the spec of the backup's source cluster
    (engine, proxy, monitoring; no backup schedules) and C(spec.dataSource.dbClusterBackupName), after the same tenant
    quota check as M(virakcloud.everest.everest_database_cluster), and waits until it is ready. Idempotent when the
    cluster already exists and was restored from the same backup."
options:
  namespace:
    description: Namespace of the backup and the cluster.
    type: str
    required: true
  name:
    description: Name of the restore object; needed when O(new_cluster=false).
    type: str
  backup_name:
    description: The backup to restore.
    type: str
    required: true
  cluster:
    description: Target cluster (existing, or the one to create).
    type: str
    required: true
  new_cluster:
    description: Restore into a new cluster O(cluster) instead of an existing one.
    type: bool
    default: false
  wait:
    description: Wait until the restore has succeeded (or the new cluster is ready).
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait.
    type: int
    default: 1800
  enforce_quota:
    description: Check the new cluster against the namespace's TenantResourcePolicy first (see M(virakcloud.everest.everest_database_cluster)).
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
    support: none
seealso:
  - module: virakcloud.everest.everest_backup
"""

EXAMPLES = r"""
- name: Restore a backup of pg-alice into a new cluster
  virakcloud.everest.everest_restore:
    everest_token: "{{ alice_session.token }}"
    namespace: ns-alice
    backup_name: backup-2025-09-25-01
    cluster: pg-alice-restore
    new_cluster: true

- name: Roll pg-alice back to that backup
  virakcloud.everest.everest_restore:
    everest_token: "{{ alice_session.token }}"
    namespace: ns-alice
    name: pg-alice-rollback-1
    backup_name: backup-2025-09-25-01
    cluster: pg-alice
"""

RETURN = r"""
restore:
  description: The DatabaseClusterRestore (O(new_cluster=false)).
  returned: when O(new_cluster=false)
  type: dict
  sample: {metadata: {name: pg-alice-rollback-1}, spec: {dbClusterName: pg-alice, dataSource: {dbClusterBackupName: b1}},
           status: {state: Succeeded}}
database_cluster:
  description: The new cluster (O(new_cluster=true)).
  returned: when O(new_cluster=true)
  type: dict
"""

import copy

from ansible_collections.virakcloud.everest.plugins.module_utils._module import EverestModule
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError, ValidationError
from ansible_collections.virakcloud.everest.plugins.module_utils import _constants
from ansible_collections.virakcloud.everest.plugins.module_utils import _database_cluster
from ansible_collections.virakcloud.everest.plugins.module_utils import _everest_client
from ansible_collections.virakcloud.everest.plugins.module_utils import _everest_objects

FAILED_STATES = ('Failed', 'Error')


def state_of(obj):
    return ((obj or {}).get('status') or {}).get('state')


def into_new_cluster(module, client):
    p = module.params
    ns, cluster, backup_name = p['namespace'], p['cluster'], p['backup_name']
    _everest_objects.check_name(cluster, 'database cluster')
    obj_name = '%s/%s' % (ns, cluster)
    what = 'database cluster %s' % obj_name
    cpath = _everest_client.ns_path(ns, 'database-clusters', cluster)
    existing = client.get_or_none(cpath, what=what, rbac=('database-clusters', 'read', obj_name))
    changed = False
    if existing is not None:
        source = ((existing.get('spec') or {}).get('dataSource') or {}).get('dbClusterBackupName')
        if source != backup_name:
            raise ValidationError(
                '%s already exists and was not restored from backup %s; choose another cluster name, or restore '
                'into it with new_cluster: false' % (what, backup_name)
            )
        obj = existing
    else:
        bwhat = 'backup %s/%s' % (ns, backup_name)
        # Everest checks 'database-cluster-backups read <ns>/<the backup's cluster>'; the cluster is only known once the
        # backup is read, so a refusal names the namespace-wide object (a rule for it is enough)
        backup = client.request(
            'GET', _everest_client.ns_path(ns, 'database-cluster-backups', backup_name), what=bwhat, rbac=('database-cluster-backups', 'read', '%s/*' % ns)
        )
        src_name = (backup.get('spec') or {}).get('dbClusterName')
        src = client.request(
            'GET',
            _everest_client.ns_path(ns, 'database-clusters', src_name),
            what='source cluster %s/%s of %s' % (ns, src_name, bwhat),
            rbac=('database-clusters', 'read', '%s/%s' % (ns, src_name)),
        )
        spec = dict((k, copy.deepcopy(v)) for k, v in (src.get('spec') or {}).items() if k in ('engine', 'proxy', 'monitoring'))
        spec['dataSource'] = {'dbClusterBackupName': backup_name}
        if p['enforce_quota']:
            _result, warnings = _database_cluster.enforce_quota(_database_cluster.quota_k8s(module), ns, p['policy_name'], spec, cluster)
            for warning in warnings:
                module.warn(warning)
        body = {'apiVersion': _constants.DBC_API_VERSION, 'kind': _constants.DBC_KIND, 'metadata': {'name': cluster, 'namespace': ns}, 'spec': spec}
        changed = True
        if module.check_mode:
            return True, {'database_cluster': body}
        obj = client.request('POST', _everest_client.ns_path(ns, 'database-clusters'), body, what=what, rbac=('database-clusters', 'create', obj_name))
    if p['wait'] and not module.check_mode and not _database_cluster.cluster_ready(obj):
        obj = _everest_objects.wait_for(
            lambda: client.request('GET', cpath, what=what, rbac=('database-clusters', 'read', obj_name)),
            _database_cluster.cluster_ready,
            p['wait_timeout'],
            'waiting for the restore into %s' % what,
        )
    return changed, {'database_cluster': _everest_objects.object_view(obj)}


def into_existing(module, client):
    p = module.params
    ns, name = p['namespace'], p['name']
    if not name:
        raise ValidationError('name (of the restore object) is required when new_cluster is false')
    obj_name = '%s/%s' % (ns, p['cluster'])
    what = 'restore %s/%s' % (ns, name)
    path = _everest_client.ns_path(ns, 'database-cluster-restores', name)
    obj = client.get_or_none(path, what=what, rbac=('database-cluster-restores', 'read', obj_name))
    changed = False
    if obj is not None:
        spec = obj.get('spec') or {}
        if spec.get('dbClusterName') != p['cluster'] or (spec.get('dataSource') or {}).get('dbClusterBackupName') != p['backup_name']:
            raise ValidationError(
                '%s exists for cluster %r and backup %r; a restore cannot be changed (use another name)'
                % (what, spec.get('dbClusterName'), (spec.get('dataSource') or {}).get('dbClusterBackupName'))
            )
    else:
        body = {
            'apiVersion': _constants.DBC_API_VERSION,
            'kind': _constants.DBC_RESTORE_KIND,
            'metadata': {'name': name, 'namespace': ns},
            'spec': {'dbClusterName': p['cluster'], 'dataSource': {'dbClusterBackupName': p['backup_name']}},
        }
        changed = True
        if module.check_mode:
            return True, {'restore': body}
        obj = client.request(
            'POST', _everest_client.ns_path(ns, 'database-cluster-restores'), body, what=what, rbac=('database-cluster-restores', 'create', obj_name)
        )
    if p['wait'] and not module.check_mode and state_of(obj) != 'Succeeded':
        obj = _everest_objects.wait_for(
            lambda: client.request('GET', path, what=what, rbac=('database-cluster-restores', 'read', obj_name)),
            lambda o: state_of(o) == 'Succeeded',
            p['wait_timeout'],
            'waiting for %s' % what,
            failed=lambda o: 'state %s: %s' % (state_of(o), (o.get('status') or {}).get('message') or '') if state_of(o) in FAILED_STATES else None,
        )
    return changed, {'restore': _everest_objects.object_view(obj)}


def main():
    module = EverestModule(
        argument_spec=_everest_client.argument_spec(
            dict(
                namespace=dict(type='str', required=True),
                name=dict(type='str'),
                backup_name=dict(type='str', required=True),
                cluster=dict(type='str', required=True),
                new_cluster=dict(type='bool', default=False),
                wait=dict(type='bool', default=True),
                wait_timeout=dict(type='int', default=1800),
                enforce_quota=dict(type='bool', default=True),
                policy_name=dict(type='str', default=_constants.DEFAULT_POLICY_NAME),
            )
        ),
        supports_check_mode=True,
        k8s=True,
    )
    client = None
    try:
        client = _everest_client.api_client(module)
        if module.params['new_cluster']:
            changed, result = into_new_cluster(module, client)
        else:
            changed, result = into_existing(module, client)
    except EverestError as exc:
        module.fail_from(exc, changed=False)
    finally:
        if client is not None:
            client.close()
    module.exit_json(changed=changed, **result)


if __name__ == '__main__':
    main()
