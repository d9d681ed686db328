#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: everest_database_cluster_info
short_description: List or get Everest database clusters, their credentials and backups, through Everest's REST API
version_added: 0.1.0
author:
  - VirakCloud (@virakcloud)
description:
  - Lists the database clusters of a namespace that the token's user may read (Everest filters the list by RBAC, so a
    user without rights gets an empty list), or gets one.
  - "With O(credentials=true) also returns the cluster's database credentials (C(GET .../credentials), RBAC resource
    C(database-cluster-credentials)). The password is in the registered result, but the module's action plugin then marks
    the whole result as secret, the way a task-level C(no_log: true) does: no output shows it (the screen at any verbosity,
    callbacks, AWX job events), while the registered variable keeps it for later tasks. Without O(credentials) the result
    is shown as usual. A failure stays visible (its message never holds a credential)."
  - Do not print the registered credentials (for example with M(ansible.builtin.debug)).
options:
  namespace:
    description: Namespace to look in.
    type: str
    required: true
  name:
    description: Name of one cluster. When it does not exist the list is empty.
    type: str
  credentials:
    description: Also return the credentials of O(name) (requires O(name)).
    type: bool
    default: false
  backups:
    description: Also return the backups of O(name) (requires O(name)).
    type: bool
    default: false
extends_documentation_fragment:
  - virakcloud.everest.everest_api
  - virakcloud.everest.attributes
  - virakcloud.everest.attributes.info_module
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
    details:
      - The action plugin runs the module and hides the result from the output when O(credentials=true).
      - C(async) is refused, since C(async_status) would return the credentials without that protection.
seealso:
  - module: virakcloud.everest.everest_database_cluster
"""

EXAMPLES = r"""
- name: Alice's clusters
  virakcloud.everest.everest_database_cluster_info:
    everest_token: "{{ alice_session.token }}"
    namespace: ns-alice
  register: clusters

- name: Connection details of pg-alice
  virakcloud.everest.everest_database_cluster_info:
    everest_token: "{{ alice_session.token }}"
    namespace: ns-alice
    name: pg-alice
    credentials: true
  register: pg  # the output never shows this result; later tasks use pg.credentials.connection_url
"""

RETURN = r"""
database_clusters:
  description: The clusters (sorted by name), as Everest returns them, status included.
  returned: always
  type: list
  elements: dict
credentials:
  description: Credentials of O(name). Secret - the action plugin hides the result from the output; do not print it.
  returned: when O(credentials=true) and the cluster exists
  type: dict
  contains:
    username:
      description: Database user (V(postgres) for PostgreSQL, V(root) for MySQL).
      type: str
    password:
      description: Its password.
      type: str
    connection_url:
      description: Connection URL with the credentials in it; null for MySQL (Everest gives none).
      type: str
backups:
  description: Backups of O(name) (DatabaseClusterBackup objects).
  returned: when O(backups=true)
  type: list
  elements: dict
"""

from ansible_collections.virakcloud.everest.plugins.module_utils._module import EverestModule
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError, ValidationError
from ansible_collections.virakcloud.everest.plugins.module_utils import _everest_client
from ansible_collections.virakcloud.everest.plugins.module_utils import _everest_objects


def main():
    module = EverestModule(
        argument_spec=_everest_client.argument_spec(
            dict(
                namespace=dict(type='str', required=True),
                name=dict(type='str'),
                credentials=dict(type='bool', default=False),
                backups=dict(type='bool', default=False),
            )
        ),
        supports_check_mode=True,
        k8s=False,
    )
    params = module.params
    ns, name = params['namespace'], params['name']
    result = dict(changed=False)
    client = None
    try:
        if (params['credentials'] or params['backups']) and not name:
            raise ValidationError('credentials and backups need the name of one cluster')
        client = _everest_client.api_client(module)
        if name:
            obj = client.get_or_none(
                _everest_client.ns_path(ns, 'database-clusters', name),
                rbac=('database-clusters', 'read', '%s/%s' % (ns, name)),
                what='database cluster %s/%s' % (ns, name),
            )
            items = [obj] if obj is not None else []
        else:
            answer = client.request(
                'GET', _everest_client.ns_path(ns, 'database-clusters'), what='database clusters of %s' % ns, rbac=('database-clusters', 'read', '%s/*' % ns)
            )
            items = sorted((answer or {}).get('items') or [], key=lambda o: o['metadata']['name'])
        result['database_clusters'] = [_everest_objects.object_view(o) for o in items]
        if items and params['credentials']:
            creds = client.request(
                'GET',
                _everest_client.ns_path(ns, 'database-clusters', name, 'credentials'),
                rbac=('database-cluster-credentials', 'read', '%s/%s' % (ns, name)),
                what='credentials of database cluster %s/%s' % (ns, name),
            )
            creds = creds or {}
            result['credentials'] = {'username': creds.get('username'), 'password': creds.get('password'), 'connection_url': creds.get('connectionUrl') or None}
        if params['backups']:
            if items:
                answer = client.request(
                    'GET',
                    _everest_client.ns_path(ns, 'database-clusters', name, 'backups'),
                    rbac=('database-cluster-backups', 'read', '%s/%s' % (ns, name)),
                    what='backups of database cluster %s/%s' % (ns, name),
                )
                result['backups'] = sorted((answer or {}).get('items') or [], key=lambda o: o['metadata']['name'])
            else:
                result['backups'] = []
    except EverestError as exc:
        module.fail_from(exc, changed=False)
    finally:
        if client is not None:
            client.close()
    module.exit_json(**result)


if __name__ == '__main__':
    main()
