#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: everest_backup
short_description: Take (and wait for) or delete an on-demand backup of an Everest database cluster
version_added: 0.1.0
author:
  - VirakCloud (@virakcloud)
description:
  - Creates C(/v1/namespaces/{ns}/database-cluster-backups) (a C(DatabaseClusterBackup)) and waits until its
    C(status.state) is C(Succeeded), or deletes it.
  - Idempotent by name - an existing backup of the same name is left alone (a backup cannot be changed; a different
    O(cluster) or O(backup_storage_name) is refused).
  - RBAC - resource C(database-cluster-backups), object C(<namespace>/<cluster>).
options:
  namespace:
    description: Namespace of the cluster.
    type: str
    required: true
  name:
    description: Name of the backup.
    type: str
    required: true
  cluster:
    description: Database cluster to back up; needed to create.
    type: str
  backup_storage_name:
    description: Backup storage of the same namespace; needed to create.
    type: str
  state:
    description: V(present) takes the backup; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  wait:
    description: Wait until the backup has succeeded (fails when it ends in C(Failed) or C(Error)).
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait.
    type: int
    default: 1800
extends_documentation_fragment:
  - virakcloud.everest.everest_api
  - virakcloud.everest.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
seealso:
  - module: virakcloud.everest.everest_restore
  - module: virakcloud.everest.everest_backup_storage
"""

EXAMPLES = r"""
- name: Back up pg-alice to alice-s3 and wait
  virakcloud.everest.everest_backup:
    everest_token: "{{ alice_session.token }}"
    namespace: ns-alice
    name: backup-2025-09-25-01
    cluster: pg-alice
    backup_storage_name: alice-s3
"""

RETURN = r"""
backup:
  description: The DatabaseClusterBackup as Everest returns it; empty when absent.
  returned: always
  type: dict
  sample: {metadata: {name: backup-2025-09-25-01, namespace: ns-alice}, spec: {dbClusterName: pg-alice, backupStorageName: alice-s3},
           status: {state: Succeeded, created: "2026-11-23T10:00:00Z", completed: "2026-11-23T10:01:00Z"}}
"""

from ansible_collections.virakcloud.everest.plugins.module_utils._module import EverestModule
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError, ValidationError
from ansible_collections.virakcloud.everest.plugins.module_utils import _constants
from ansible_collections.virakcloud.everest.plugins.module_utils import _everest_client
from ansible_collections.virakcloud.everest.plugins.module_utils import _everest_objects

FAILED_STATES = ('Failed', 'Error')


def state_of(obj):
    return ((obj or {}).get('status') or {}).get('state')


def main():
    module = EverestModule(
        argument_spec=_everest_client.argument_spec(
            dict(
                namespace=dict(type='str', required=True),
                name=dict(type='str', required=True),
                cluster=dict(type='str'),
                backup_storage_name=dict(type='str'),
                state=dict(type='str', choices=['present', 'absent'], default='present'),
                wait=dict(type='bool', default=True),
                wait_timeout=dict(type='int', default=1800),
            )
        ),
        supports_check_mode=True,
        k8s=False,
    )
    p = module.params
    ns, name = p['namespace'], p['name']
    path = _everest_client.ns_path(ns, 'database-cluster-backups', name)
    what = 'backup %s/%s' % (ns, name)
    client = None
    changed = False
    try:
        client = _everest_client.api_client(module)
        current = client.get_or_none(path, what=what, rbac=('database-cluster-backups', 'read', '%s/%s' % (ns, p['cluster'] or '<cluster>')))
        obj = current
        if p['state'] == 'absent':
            if current is not None:
                changed = True
                obj = {}
                if not module.check_mode:
                    cluster = (current.get('spec') or {}).get('dbClusterName')
                    client.request('DELETE', path, what=what, rbac=('database-cluster-backups', 'delete', '%s/%s' % (ns, cluster)))
            module.exit_json(changed=changed, backup=obj or {})
        if current is not None:
            spec = current.get('spec') or {}
            for option, field in (('cluster', 'dbClusterName'), ('backup_storage_name', 'backupStorageName')):
                if p[option] is not None and spec.get(field) != p[option]:
                    raise ValidationError('%s exists with %s %r; a backup cannot be changed (use another name)' % (what, option, spec.get(field)))
        else:
            if not p['cluster'] or not p['backup_storage_name']:
                raise ValidationError('%s does not exist; taking it needs cluster and backup_storage_name' % what)
            body = {
                'apiVersion': _constants.DBC_API_VERSION,
                'kind': _constants.DBC_BACKUP_KIND,
                'metadata': {'name': name, 'namespace': ns},
                'spec': {'dbClusterName': p['cluster'], 'backupStorageName': p['backup_storage_name']},
            }
            changed = True
            if module.check_mode:
                module.exit_json(changed=True, backup=body)
            obj = client.request(
                'POST',
                _everest_client.ns_path(ns, 'database-cluster-backups'),
                body,
                what=what,
                rbac=('database-cluster-backups', 'create', '%s/%s' % (ns, p['cluster'])),
            )
        if p['wait'] and not module.check_mode and state_of(obj) != 'Succeeded':
            read = ('database-cluster-backups', 'read', '%s/%s' % (ns, (obj.get('spec') or {}).get('dbClusterName') or p['cluster']))
            obj = _everest_objects.wait_for(
                lambda: client.request('GET', path, what=what, rbac=read),
                lambda o: state_of(o) == 'Succeeded',
                p['wait_timeout'],
                'waiting for %s' % what,
                failed=lambda o: 'state %s: %s' % (state_of(o), (o.get('status') or {}).get('message') or '') if state_of(o) in FAILED_STATES else None,
            )
    except EverestError as exc:
        module.fail_from(exc, changed=changed)
    finally:
        if client is not None:
            client.close()
    module.exit_json(changed=changed, backup=_everest_objects.object_view(obj))


if __name__ == '__main__':
    main()
