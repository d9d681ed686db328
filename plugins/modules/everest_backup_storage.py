#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: everest_backup_storage
short_description: Manage a backup storage (S3 or Azure) of an Everest namespace through Everest's REST API
version_added: 0.1.0
author:
  - VirakCloud (@virakcloud)
description:
  - Creates, updates (C(PATCH)) or deletes C(/v1/namespaces/{ns}/backup-storages/{name}). Since Everest 1.2 backup
    storages belong to a namespace and a database cluster can use only those of its own namespace.
  - "Everest never returns the keys, so they cannot be compared: O(update_secrets) decides whether they are sent when the
    storage exists. Every other option is compared and only differences are sent; options not given are left alone."
options:
  namespace:
    description: Namespace of the storage.
    type: str
    required: true
  name:
    description: Name of the storage (RFC 1035, at most 22 characters).
    type: str
    required: true
  state:
    description: Whether the storage should exist. Everest refuses to delete a storage a cluster uses.
    type: str
    choices: [present, absent]
    default: present
  type:
    description: Storage type; needed to create; cannot be changed.
    type: str
    choices: [s3, azure]
  bucket_name:
    description: Bucket (S3) or container (Azure); needed to create.
    type: str
  url:
    description: Endpoint URL, for example V(https://s3.example.com) or a MinIO URL.
    type: str
  region:
    description: Region.
    type: str
  description:
    description: Free text.
    type: str
  allowed_namespaces:
    description: Namespaces allowed to use the storage (order does not matter).
    type: list
    elements: str
  verify_tls:
    description: Whether Everest verifies the endpoint's TLS certificate.
    type: bool
  force_path_style:
    description: Use path-style S3 URLs (MinIO).
    type: bool
  access_key:
    description: Access key ID; needed to create.
    type: str
  secret_key:
    description: Secret access key; needed to create.
    type: str
  update_secrets:
    description:
      - V(on_create) sends O(access_key) and O(secret_key) only when creating the storage (idempotent).
      - V(always) also sends them to an existing storage, and the task then always reports a change.
    type: str
    choices: [always, on_create]
    default: on_create
extends_documentation_fragment:
  - virakcloud.everest.everest_api
  - virakcloud.everest.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - Keys never appear in the diff.
seealso:
  - module: virakcloud.everest.everest_session
  - module: virakcloud.everest.everest_backup
"""

EXAMPLES = r"""
- name: Alice's S3 backup storage
  virakcloud.everest.everest_backup_storage:
    everest_token: "{{ alice_session.token }}"
    namespace: ns-alice
    name: alice-s3
    type: s3
    bucket_name: everest-alice
    url: https://s3.example.com
    region: us-east-1
    access_key: "{{ alice_s3_access_key }}"
    secret_key: "{{ alice_s3_secret_key }}"

- name: Rotate the keys
  virakcloud.everest.everest_backup_storage:
    everest_token: "{{ alice_session.token }}"
    namespace: ns-alice
    name: alice-s3
    access_key: "{{ new_access_key }}"
    secret_key: "{{ new_secret_key }}"
    update_secrets: always
"""

RETURN = r"""
backup_storage:
  description: The storage as Everest returns it (no keys); empty when absent.
  returned: always
  type: dict
  sample: {name: alice-s3, namespace: ns-alice, type: s3, bucketName: everest-alice, url: "https://s3.example.com",
           region: us-east-1, description: "", verifyTLS: true, forcePathStyle: false, allowedNamespaces: []}
"""

from ansible_collections.virakcloud.everest.plugins.module_utils._module import EverestModule
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError
from ansible_collections.virakcloud.everest.plugins.module_utils import _everest_client
from ansible_collections.virakcloud.everest.plugins.module_utils import _everest_objects


def main():
    module = EverestModule(
        argument_spec=_everest_client.argument_spec(
            dict(
                namespace=dict(type='str', required=True),
                name=dict(type='str', required=True),
                state=dict(type='str', choices=['present', 'absent'], default='present'),
                type=dict(type='str', choices=['s3', 'azure']),
                bucket_name=dict(type='str'),
                url=dict(type='str'),
                region=dict(type='str'),
                description=dict(type='str'),
                allowed_namespaces=dict(type='list', elements='str'),
                verify_tls=dict(type='bool'),
                force_path_style=dict(type='bool'),
                access_key=dict(type='str', no_log=True),
                secret_key=dict(type='str', no_log=True),
                update_secrets=dict(type='str', choices=['always', 'on_create'], default='on_create'),
            )
        ),
        required_together=[('access_key', 'secret_key')],
        supports_check_mode=True,
        k8s=False,
    )
    p = module.params
    client = None
    try:
        _everest_objects.check_name(p['name'], 'backup storage')
        client = _everest_client.api_client(module)
        desired = {
            'type': p['type'],
            'bucketName': p['bucket_name'],
            'url': p['url'],
            'region': p['region'],
            'description': p['description'],
            'allowedNamespaces': p['allowed_namespaces'],
            'verifyTLS': p['verify_tls'],
            'forcePathStyle': p['force_path_style'],
        }
        secrets = {}
        if p['access_key'] is not None:
            secrets = {'accessKey': p['access_key'], 'secretKey': p['secret_key']}
        changed, obj, diff = _everest_objects.converge_object(
            module,
            client,
            'backup-storages',
            'backup-storages',
            'backup storage',
            desired,
            secrets,
            create_required=[('type', 'type'), ('bucket_name', 'bucketName')],
            immutable=[('type', 'type')],
        )
    except EverestError as exc:
        module.fail_from(exc, changed=False)
    finally:
        if client is not None:
            client.close()
    result = dict(changed=changed, backup_storage=obj or {})
    if module._diff and diff is not None:
        result['diff'] = diff
    module.exit_json(**result)


if __name__ == '__main__':
    main()
