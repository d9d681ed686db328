#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: everest_monitoring_instance
short_description: Manage a PMM monitoring instance of an Everest namespace through Everest's REST API
version_added: 0.1.0
author:
  - VirakCloud (@virakcloud)
description:
  - Creates, updates (C(PATCH)) or deletes C(/v1/namespaces/{ns}/monitoring-instances/{name}) (a C(MonitoringConfig)).
  - "Everest never returns the PMM API key or password, so they cannot be compared: O(update_secrets) decides whether they
    are sent when the instance exists. O(url), O(allowed_namespaces) and O(verify_tls) are compared."
options:
  namespace:
    description: Namespace of the instance.
    type: str
    required: true
  name:
    description: Name (RFC 1035, at most 22 characters).
    type: str
    required: true
  state:
    description: Whether the instance should exist. Everest refuses (400) to delete an instance a cluster uses.
    type: str
    choices: [present, absent]
    default: present
  url:
    description: URL of the PMM server; needed to create.
    type: str
  allowed_namespaces:
    description: Namespaces allowed to use it.
    type: list
    elements: str
  verify_tls:
    description: Whether Everest verifies the PMM server's certificate.
    type: bool
  api_key:
    description: PMM API key (or give O(user) and O(password)). One of them is needed to create.
    type: str
  user:
    description: PMM user.
    type: str
  password:
    description: Password of O(user).
    type: str
  update_secrets:
    description:
      - V(on_create) sends the key or user/password only when creating (idempotent); V(always) also sends them to an
        existing instance, and the task then always reports a change.
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
      - Secrets never appear in the diff.
seealso:
  - module: virakcloud.everest.everest_session
  - module: virakcloud.everest.everest_database_cluster
"""

EXAMPLES = r"""
- name: Alice's PMM
  virakcloud.everest.everest_monitoring_instance:
    everest_token: "{{ alice_session.token }}"
    namespace: ns-alice
    name: alice-pmm
    url: https://pmm.alice.example.com
    api_key: "{{ alice_pmm_api_key }}"
"""

RETURN = r"""
monitoring_instance:
  description: The instance as Everest returns it (no secrets); empty when absent.
  returned: always
  type: dict
  sample: {name: alice-pmm, namespace: ns-alice, type: pmm, url: "https://pmm.alice.example.com", allowedNamespaces: [], verifyTLS: true}
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
                url=dict(type='str'),
                allowed_namespaces=dict(type='list', elements='str'),
                verify_tls=dict(type='bool'),
                api_key=dict(type='str', no_log=True),
                user=dict(type='str'),
                password=dict(type='str', no_log=True),
                update_secrets=dict(type='str', choices=['always', 'on_create'], default='on_create'),
            )
        ),
        mutually_exclusive=[('api_key', 'user')],
        required_together=[('user', 'password')],
        supports_check_mode=True,
        k8s=False,
    )
    p = module.params
    client = None
    try:
        _everest_objects.check_name(p['name'], 'monitoring instance')
        client = _everest_client.api_client(module)
        desired = {'url': p['url'], 'allowedNamespaces': p['allowed_namespaces'], 'verifyTLS': p['verify_tls']}
        secrets = {}
        if p['api_key']:
            secrets = {'pmm': {'apiKey': p['api_key']}}
        elif p['user']:
            secrets = {'pmm': {'user': p['user'], 'password': p['password']}}
        changed, obj, diff = _everest_objects.converge_object(
            module,
            client,
            'monitoring-instances',
            'monitoring-instances',
            'monitoring instance',
            desired,
            secrets,
            create_required=[('url', 'url')],
            create_extra={'type': 'pmm'},
        )
    except EverestError as exc:
        module.fail_from(exc, changed=False)
    finally:
        if client is not None:
            client.close()
    result = dict(changed=changed, monitoring_instance=obj or {})
    if module._diff and diff is not None:
        result['diff'] = diff
    module.exit_json(**result)


if __name__ == '__main__':
    main()
