#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: tenant_plan
short_description: Resolve, validate and derive tenant_bootstrap tenants on the controller
version_added: 0.2.0
author:
  - VirakCloud (@virakcloud)
description:
  - The planning step of the P(virakcloud.everest.tenant_bootstrap#role) role, used by both of its modes. For each
    tenant (an inventory host) it takes the variables that host would see in the task (role defaults, inventory,
    group_vars, extra vars, facts), templates the role's inputs in that host's context, validates them against the
    role's own C(meta/argument_specs.yml) and Everest's rules, refuses tenants that share a namespace or a user, and
    derives the namespace, user names, RBAC lines and summary row.
  - An action plugin; nothing runs on the target and the cluster is not contacted. Meant to be used inside the role.
options:
  tenants:
    description:
      - Inventory host names of the tenants to plan. Default the current host only.
    type: list
    elements: str
  set_facts:
    description:
      - Set the derived facts (C(tenant_bootstrap__ns), C(tenant_bootstrap__usernames), ...) on the current host and fail
        when its tenant is invalid (the role's per-tenant mode).
    type: bool
    default: false
  secrets:
    description:
      - Also return RV(accounts), the account items (with passwords) of the valid tenants, for one batched
        M(virakcloud.everest.everest_account) call (the role's fleet mode). Register the result with C(no_log) then.
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
notes:
  - Must run inside the P(virakcloud.everest.tenant_bootstrap#role) role (it reads the role's constants and argument spec).
seealso:
  - module: virakcloud.everest.everest_account
"""

EXAMPLES = r"""
- name: Plan every tenant of the play at once (fleet mode)
  virakcloud.everest.tenant_plan:
    tenants: "{{ groups['everest_tenants'] }}"
    secrets: true
  register: plan
  no_log: true
"""

RETURN = r"""
tenants:
  description: One plan per tenant, in the order of O(tenants). Never contains a password.
  returned: always
  type: list
  elements: dict
  sample:
    - name: alice
      state: present
      present: true
      valid: true
      namespace: ns-alice
      usernames: [alice]
      rbac_lines: ["p, role:tenant-ns-alice, namespaces, read, ns-alice", "g, alice, role:tenant-ns-alice"]
problems:
  description: Why each invalid tenant was refused, by tenant name (no secrets).
  returned: always
  type: dict
  sample: {bob: "tenant bob: 3 users (a, b, c) but tenant_bootstrap_limits.max_db_users is 2. Remove users or raise the limit."}
accounts:
  description:
    - By valid tenant, its account items (with passwords; V(state=absent) items for a tenant being offboarded) for
      M(virakcloud.everest.everest_account)'s O(virakcloud.everest.everest_account#module:accounts).
  returned: with O(secrets=true)
  type: dict
"""
