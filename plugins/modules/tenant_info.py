#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: tenant_info
short_description: List Everest tenants (namespaces with a TenantResourcePolicy) with usage and drift
version_added: 0.1.0
author:
  - VirakCloud (@virakcloud)
description:
  - Lists every namespace holding a C(TenantResourcePolicy) (or only O(namespace)) with whether Everest manages it, its
    operators, the users bound in its RBAC block, the policy's limits, the current usage, the headroom and drift flags.
  - "Drift flags: C(namespace_missing), C(namespace_not_managed) (no label C(app.kubernetes.io/managed-by=everest)),
    C(rbac_block_missing) (no C(# BEGIN virakcloud.everest <namespace>) block in C(everest-system/everest-rbac)),
    C(missing_accounts) (users bound in the block without an Everest account), C(over_limits) (usage above a limit)."
  - Usage follows the rule documented in M(virakcloud.everest.tenant_quota_check).
  - Listing all tenants costs a fixed number of reads (one LIST each of policies, namespaces, subscriptions and
    database clusters, plus the RBAC ConfigMap and the accounts Secret), whatever the number of tenants.
options:
  namespace:
    description: Only this namespace.
    type: str
  policy_name:
    description: Only policies of this name.
    type: str
extends_documentation_fragment:
  - virakcloud.everest.connection
  - virakcloud.everest.everestctl
  - virakcloud.everest.attributes.INFO_MODULE
seealso:
  - module: virakcloud.everest.tenant_resource_policy
  - module: virakcloud.everest.tenant_quota_check
"""

EXAMPLES = r"""
- name: All tenants
  virakcloud.everest.tenant_info:
  register: tenants

- name: Tenants that need attention
  ansible.builtin.debug:
    msg: "{{ tenants.tenants | selectattr('drifted') | map(attribute='namespace') | list }}"
"""

RETURN = r"""
tenants:
  description: One entry per TenantResourcePolicy, sorted by namespace and name.
  returned: always
  type: list
  elements: dict
  contains:
    namespace:
      description: Tenant namespace.
      type: str
      sample: ns-alice
    policy_name:
      description: Name of the TenantResourcePolicy.
      type: str
      sample: resource-policy
    managed:
      description: Whether the namespace exists and carries C(app.kubernetes.io/managed-by=everest).
      type: bool
      sample: true
    operators:
      description: Operators installed in the namespace (OLM Subscriptions; C(pxc), C(psmdb), C(postgresql)).
      type: list
      elements: str
      sample: [postgresql, pxc]
    users:
      description: Users bound in the tenant's RBAC block.
      type: list
      elements: str
      sample: [alice]
    allowed_engines:
      description:
        - Engines the policy allows (C(spec.selectors.engines), sorted). Empty when the policy lists none, which allows no
          engine (also when a hand-written policy has no C(engines) key at all).
      type: list
      elements: str
      sample: [mysql, postgresql]
    limits:
      description: The policy's limits (null = not enforced).
      type: dict
      sample: {cpu_cores: 4, memory_bytes: 17179869184, max_clusters: 3, max_db_users: 20}
    usage:
      description: Current usage.
      type: dict
      sample: {clusters: 1, cpu_cores: 1, memory_bytes: 2147483648, db_users: 1}
    headroom:
      description: Limit minus usage (negative when over; null when not limited).
      type: dict
      sample: {clusters: 2, cpu_cores: 3, memory_bytes: 15032385536, db_users: 19}
    drift:
      description: Drift flags (see the description).
      type: dict
      sample: {namespace_missing: false, namespace_not_managed: false, rbac_block_missing: false, missing_accounts: [], over_limits: []}
    drifted:
      description: Whether any drift flag is set.
      type: bool
      sample: false
"""

from ansible_collections.virakcloud.everest.plugins.module_utils._module import EverestModule
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError
from ansible_collections.virakcloud.everest.plugins.module_utils import _constants, _tenant_report, _trp_policy


def main():
    module = EverestModule(
        argument_spec=dict(
            namespace=dict(type='str'),
            policy_name=dict(type='str'),
        ),
        supports_check_mode=True,
        k8s=True,
    )
    namespace = module.params['namespace']
    try:
        if namespace is not None:
            _trp_policy.check_names(namespace, module.params['policy_name'] or _constants.DEFAULT_POLICY_NAME)
        tenants = _tenant_report.collect_tenants(module.k8s, namespace=namespace, policy_name=module.params['policy_name'])
    except EverestError as exc:
        module.fail_from(exc)
    for tenant in tenants:
        for warning in tenant.pop('warnings'):
            module.warn(warning)
    module.exit_json(changed=False, tenants=tenants)


if __name__ == '__main__':
    main()
