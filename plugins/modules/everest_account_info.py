#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: everest_account_info
short_description: List Percona Everest local accounts
version_added: 0.1.0
author:
  - VirakCloud (@virakcloud)
description:
  - Lists the Everest local accounts (or one of them) from the Kubernetes API (Secret C(everest-system/everest-accounts)),
    never by parsing C(everestctl accounts list). No password or hash is ever returned.
options:
  username:
    description:
      - Only this account. The result is an empty list when it does not exist.
    type: str
extends_documentation_fragment:
  - virakcloud.everest.connection
  - virakcloud.everest.everestctl
  - virakcloud.everest.attributes
  - virakcloud.everest.attributes.info_module
seealso:
  - module: virakcloud.everest.everest_account
"""

EXAMPLES = r"""
- name: List all Everest accounts
  virakcloud.everest.everest_account_info:
  register: everest_accounts

- name: Names of the accounts
  ansible.builtin.debug:
    msg: "{{ everest_accounts.accounts | map(attribute='username') | list }}"

- name: Does acme_admin exist?
  virakcloud.everest.everest_account_info:
    username: acme_admin
  register: acme
  failed_when: acme.accounts | length == 0
"""

RETURN = r"""
accounts:
  description: The accounts, sorted by name (empty list when none match).
  returned: always
  type: list
  elements: dict
  contains:
    username:
      description: Account name.
      type: str
      sample: admin
    exists:
      description: Always V(true) here.
      type: bool
      sample: true
    enabled:
      description: Whether the account is enabled.
      type: bool
      sample: true
    capabilities:
      description: Capabilities of the account.
      type: list
      elements: str
      sample: [login]
    password_mtime:
      description: When the password was last set; null for the chart's initial admin.
      type: str
      sample: "2026-11-23T10:00:00Z"
    plain_text_password:
      description: Whether the stored password is plain text (the initial admin has this until its password is changed).
      type: bool
      sample: true
  sample:
    - {username: admin, exists: true, enabled: true, capabilities: [login], password_mtime: null, plain_text_password: true}
"""

from ansible_collections.virakcloud.everest.plugins.module_utils._module import EverestModule
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError
from ansible_collections.virakcloud.everest.plugins.module_utils import _accounts


def main():
    module = EverestModule(argument_spec=dict(username=dict(type='str')), supports_check_mode=True, k8s=True)
    try:
        accounts = _accounts.list_accounts(_accounts.AccountStore(module.k8s), module.params['username'])
    except EverestError as exc:
        module.fail_from(exc)
    module.exit_json(changed=False, accounts=accounts)


if __name__ == '__main__':
    main()
