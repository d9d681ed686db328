#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: tenant_info
short_description: List Everest tenants (namespaces with a TenantResourcePolicy) with usage, enforcement layers and drift
version_added: 0.1.0
author:
  - VirakCloud (@virakcloud)
description:
  - Lists every namespace holding a C(TenantResourcePolicy) (or only O(namespace)) with whether Everest manages it, its
    operators, the users bound in its RBAC block, the policy's limits, the current usage, the headroom, the layers that
    enforce the policy in Kubernetes with the live usage of its quotas, and drift flags.
  - "Layers (RV(tenants[].layers)): C(admission_policy) (the ValidatingAdmissionPolicy of
    M(virakcloud.everest.tenant_admission_policy) and its binding, with C(Deny)), C(count_quota), C(compute_quota),
    C(storage_quota) (the ResourceQuotas C(<policy>-clusters), C(<policy>-compute), C(<policy>-storage)) and
    C(limit_range) (the LimitRange C(<policy>-defaults)), all managed by M(virakcloud.everest.tenant_resource_policy). A
    layer is C(required) when the policy calls for it (the admission policy always; each quota for the limits it
    enforces; the LimitRange with the compute quota), and C(in_force) when Kubernetes enforces it now: a quota counts
    only once the quota controller has written its C(status.hard) with the needed keys."
  - "Drift flags: C(namespace_missing), C(namespace_not_managed) (no label C(app.kubernetes.io/managed-by=everest)),
    C(rbac_block_missing) (no C(# BEGIN virakcloud.everest <namespace>) block in C(everest-system/everest-rbac)),
    C(missing_accounts) (users bound in the block without an Everest account), C(over_limits) (usage above a limit),
    C(layers_missing) (required layers not in force), C(quota_over) (quota keys whose C(status.used) is above the hard
    value: lowered below what exists, or objects older than the quota)."
  - Usage follows the rules documented in M(virakcloud.everest.tenant_quota_check); the quotas' C(used) is what
    Kubernetes counts (pod requests, sidecars included, and PersistentVolumeClaims).
  - Listing all tenants costs a fixed number of reads (one LIST each of policies, namespaces, subscriptions, database
    clusters, ResourceQuotas and LimitRanges, plus the RBAC ConfigMap, the accounts Secret and the admission policy and
    its binding), whatever the number of tenants.
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

- name: Layers missing per tenant
  ansible.builtin.debug:
    msg: "{{ item.namespace }}: {{ item.drift.layers_missing | join(', ') }}"
  loop: "{{ tenants.tenants | selectattr('drift.layers_missing') | list }}"
  loop_control:
    label: "{{ item.namespace }}"

- name: CPU requests in use against the compute quota of ns-alice
  virakcloud.everest.tenant_info:
    namespace: ns-alice
  register: alice
- name: Show them
  ansible.builtin.debug:
    msg: "{{ alice.tenants[0].layers.compute_quota.used['requests.cpu'] | default('0') }} of {{ alice.tenants[0].layers.compute_quota.hard['requests.cpu'] }}"
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
      description: Users and OIDC subjects bound in the tenant's RBAC block (what C(max_db_users) counts).
      type: list
      elements: str
      sample: [alice]
    groups:
      description: IdP groups bound in the tenant's RBAC block (marked by C(# sso-group) lines; not counted as users).
      type: list
      elements: str
      sample: [/acme/dbas]
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
      sample: {cpu_cores: 4, memory_bytes: 17179869184, storage_bytes: 214748364800, max_clusters: 3, max_db_users: 20}
    usage:
      description: Current usage by the policy's rules (not the quotas' C(status.used), see RV(tenants[].layers)).
      type: dict
      sample: {clusters: 1, cpu_cores: 1, memory_bytes: 2147483648, storage_bytes: 42949672960, db_users: 1}
    headroom:
      description: Limit minus usage (negative when over; null when not limited).
      type: dict
      sample: {clusters: 2, cpu_cores: 3, memory_bytes: 15032385536, storage_bytes: 171798691840, db_users: 19}
    layers:
      description:
        - The layers that enforce the policy in Kubernetes, by name. A map, so that further layers join as further keys;
          every entry has C(required), C(in_force) and C(name), the quotas add C(hard), C(used) and C(over), the compute
          quota its C(headroom), the LimitRange its C(default_requests).
      type: dict
      contains:
        admission_policy:
          description: The ValidatingAdmissionPolicy and its binding (shared by every tenant).
          type: dict
          sample: {required: true, in_force: true, name: virakcloud-everest-tenant-resource-policy}
        count_quota:
          description: The ResourceQuota C(<policy>-clusters).
          type: dict
          sample:
            required: true
            in_force: true
            name: resource-policy-clusters
            hard: {count/databaseclusters.everest.percona.com: '3'}
            used: {count/databaseclusters.everest.percona.com: '1'}
            over: []
        compute_quota:
          description: The ResourceQuota C(<policy>-compute), with the headroom it adds to the policy (per cluster, and the clusters covered).
          type: dict
          sample:
            required: true
            in_force: true
            name: resource-policy-compute
            hard: {requests.cpu: 9154m, requests.memory: 21229Mi}
            used: {requests.cpu: 1490m, requests.memory: 2370Mi}
            over: []
            headroom: {cpu: 1718m, memory: 1615Mi, volumes: 4, clusters: 3}
        storage_quota:
          description: The ResourceQuota C(<policy>-storage).
          type: dict
          sample:
            required: true
            in_force: true
            name: resource-policy-storage
            hard: {requests.storage: 200Gi, persistentvolumeclaims: '12'}
            used: {requests.storage: 40Gi, persistentvolumeclaims: '4'}
            over: []
        limit_range:
          description: The LimitRange C(<policy>-defaults) and the requests it gives containers that state none.
          type: dict
          sample: {required: true, in_force: true, name: resource-policy-defaults, default_requests: {cpu: 50m, memory: 64Mi}}
    drift:
      description: Drift flags (see the description).
      type: dict
      sample:
        namespace_missing: false
        namespace_not_managed: false
        rbac_block_missing: false
        missing_accounts: []
        over_limits: []
        layers_missing: []
        quota_over: []
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
