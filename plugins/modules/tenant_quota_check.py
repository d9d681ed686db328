#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: tenant_quota_check
short_description: Check a database cluster or user request against a tenant's TenantResourcePolicy
version_added: 0.1.0
author:
  - VirakCloud (@virakcloud)
description:
  - The enforcement step to run before creating or resizing an Everest database cluster, or before binding more users to
    a tenant. Reads the namespace's C(TenantResourcePolicy), its C(DatabaseClusters) and the tenant's RBAC block, and
    fails, with one message per violated limit, when the request would go over a limit or uses an engine the policy does
    not allow. Reaching a limit exactly is allowed.
  - "Usage is computed from what exists, never from counters. Per DatabaseCluster: C(spec.engine.replicas) x
    C(spec.engine.resources) (x C(spec.sharding.shards) when sharding is enabled), plus C(spec.proxy.replicas) x
    C(spec.proxy.resources) when C(spec.proxy.resources) is set (proxy replicas default to the engine replicas). A missing
    engine C(replicas) counts as 1; missing engine resources count as 0 and produce a warning; config servers of sharded
    MongoDB clusters are not counted. Clusters are counted as DatabaseCluster objects. DB users are the users bound by
    C(g, <user>, <role>) lines inside the block C(# BEGIN virakcloud.everest <namespace>) ... C(# END virakcloud.everest <namespace>)
    of C(policy.csv) in ConfigMap C(everest-system/everest-rbac)."
  - A limit fails only when the request increases that dimension and the new total is above the limit, so shrinking a
    cluster of a namespace that is already over a limit is allowed.
  - "Incomplete requests fail instead of being answered (the task fails with RV(allowed=false) and a message naming what is
    missing, before any write): O(cluster_name) naming no existing cluster without O(engine) (a mistyped resize would
    otherwise request nothing and pass); and a new cluster without O(cpu) (O(memory)) while the policy limits CPU (memory).
    Everest requires C(cpu) and C(memory) for every cluster and has no default for them, so a missing value is not
    assumed to be 0; when the policy does not limit a dimension, its value is not needed."
  - "Engines are read from the policy literally: a policy without C(spec.selectors.engines) (for example a hand-written
    C(selectors: {})) or with an empty list allows no engine. M(virakcloud.everest.tenant_resource_policy) writes all four
    engine names when its O(virakcloud.everest.tenant_resource_policy#module:allowed_engines) is left out, so only
    hand-written policies are affected."
  - The number of clusters is also enforced by Kubernetes itself through the ResourceQuota that
    M(virakcloud.everest.tenant_resource_policy) manages.
  - Read-only, except with O(update_status).
options:
  namespace:
    description: Tenant namespace.
    type: str
    required: true
  policy_name:
    description: Name of the TenantResourcePolicy in O(namespace).
    type: str
    default: resource-policy
  engine:
    description:
      - Engine of the cluster to create or resize. DatabaseCluster engine types (V(pxc), V(postgresql), V(psmdb)) and the
        policy's names (V(mysql) and V(xtradb_cluster) = V(pxc), V(mongodb) = V(psmdb)) are accepted.
      - Without O(engine), O(cluster_name) must name an existing cluster (a resize); when it names none the task fails
        and says so (give O(engine) to check a new cluster of that name, or fix the name).
      - Without O(engine) and O(cluster_name) no cluster is requested (for example a users-only check with O(db_users)).
    type: str
    choices: [pxc, postgresql, psmdb, mysql, xtradb_cluster, mongodb]
  replicas:
    description:
      - Engine replicas of the cluster, at least 1 (V(0) fails before any call). Default 1 for a new cluster, the current
        value for a resize.
    type: int
  cpu:
    description:
      - CPU per engine replica, a number of cores or a Kubernetes quantity (V(600m), V(1), V(0.5)).
      - For a new cluster, required when the policy limits CPU (the task fails and names it otherwise); for a resize, the
        current value is kept when it is left out.
      - "Quantities are parsed exactly as Kubernetes does, with one deliberate difference: degenerate forms that Kubernetes
        reads as zero are refused (a suffix or exponent without digits such as V(m), V(Ki), V(e3); a lone V(.), V(+) or
        V(-)), and so are decimal exponents beyond 64 either way (V(1e65))."
    type: raw
  memory:
    description:
      - Memory per engine replica, bytes or a Kubernetes quantity (V(1Gi), V(2G), V(512Mi)).
      - For a new cluster, required when the policy limits memory (the task fails and names it otherwise); for a resize,
        the current value is kept when it is left out.
      - Quantities as for O(cpu) (the same degenerate forms are refused).
    type: raw
  proxy_replicas:
    description:
      - Proxy replicas, at least 1 (counted only when O(proxy_cpu) or O(proxy_memory) is set). Default the engine replicas.
    type: int
  proxy_cpu:
    description: CPU per proxy replica, a quantity as for O(cpu). Never required (a proxy without resources counts as 0).
    type: raw
  proxy_memory:
    description: Memory per proxy replica, a quantity as for O(memory). Never required.
    type: raw
  cluster_name:
    description:
      - Name of the cluster. When a DatabaseCluster of that name exists, the request is a resize. Its current usage is
        replaced by the requested shape (not added) and the cluster count does not change; options left out keep the
        cluster's current values.
      - When none exists, the request is a new cluster and needs O(engine); without it the task fails naming the cluster
        and the namespace.
    type: str
  db_users:
    description: Number of users about to be bound to the tenant (added to the users already bound).
    type: int
    default: 0
  update_status:
    description:
      - Write the observed usage and a C(WithinLimits) condition to the policy's status subresource (skipped in check mode).
        Only this makes the task report a change.
    type: bool
    default: false
extends_documentation_fragment:
  - virakcloud.everest.connection
  - virakcloud.everest.everestctl
  - virakcloud.everest.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
seealso:
  - module: virakcloud.everest.tenant_resource_policy
  - module: virakcloud.everest.tenant_info
"""

EXAMPLES = r"""
- name: May ns-alice create a 3-node PostgreSQL cluster with 1 core and 2Gi per node?
  # cpu and memory are needed for a new cluster when the policy limits them
  virakcloud.everest.tenant_quota_check:
    namespace: ns-alice
    engine: postgresql
    replicas: 3
    cpu: 1
    memory: 2Gi

- name: Resize cluster pg1 to 2 cores per node (its current usage is replaced)
  virakcloud.everest.tenant_quota_check:
    namespace: ns-alice
    cluster_name: pg1
    cpu: 2

- name: Report usage and headroom, and record them in the policy status
  virakcloud.everest.tenant_quota_check:
    namespace: ns-alice
    update_status: true
  register: quota
"""

RETURN = r"""
allowed:
  description: Whether the request fits the policy (the task fails when it does not).
  returned: always
  type: bool
  sample: true
violations:
  description: One message per violated limit (empty when the request was refused as invalid or incomplete; the failure message says why).
  returned: always
  type: list
  elements: str
  sample: ["ns-alice: cpu 4.5 cores would exceed the limit of 4 (in use 3.5, requested 1)"]
usage:
  description: Current usage of the namespace.
  returned: when the policy exists
  type: dict
  sample: {clusters: 2, cpu_cores: 3.5, memory_bytes: 8589934592, db_users: 4}
requested:
  description: What the request adds (for a resize, the new shape of the cluster).
  returned: when the policy exists
  type: dict
  sample: {clusters: 1, cpu_cores: 1, memory_bytes: 2147483648, db_users: 0}
usage_after:
  description: Usage if the request is carried out.
  returned: when the policy exists
  type: dict
  sample: {clusters: 3, cpu_cores: 4.5, memory_bytes: 10737418240, db_users: 4}
limits:
  description: The policy's limits (null = not enforced).
  returned: when the policy exists
  type: dict
  sample: {cpu_cores: 4, memory_bytes: 17179869184, max_clusters: 3, max_db_users: 20}
headroom:
  description: Limit minus current usage per limited dimension (negative when over, null when not limited).
  returned: when the policy exists
  type: dict
  sample: {clusters: 1, cpu_cores: 0.5, memory_bytes: 8589934592, db_users: 16}
allowed_engines:
  description: The policy's engine names.
  returned: when the policy exists
  type: list
  elements: str
  sample: [mysql, postgresql]
resize:
  description: Whether O(cluster_name) named an existing cluster.
  returned: when the policy exists
  type: bool
  sample: false
"""

from ansible_collections.virakcloud.everest.plugins.module_utils._module import EverestModule
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError, ValidationError
from ansible_collections.virakcloud.everest.plugins.module_utils import _constants, _quota, _trp_policy

REQUEST_KEYS = ('engine', 'replicas', 'cpu', 'memory', 'proxy_replicas', 'proxy_cpu', 'proxy_memory', 'cluster_name', 'db_users')
RESULT_KEYS = ('allowed', 'violations', 'usage', 'requested', 'usage_after', 'limits', 'headroom', 'allowed_engines', 'resize')


def main():
    module = EverestModule(
        argument_spec=dict(
            namespace=dict(type='str', required=True),
            policy_name=dict(type='str', default=_constants.DEFAULT_POLICY_NAME),
            engine=dict(type='str', choices=list(_quota.ENGINE_CHOICES)),
            replicas=dict(type='int'),
            cpu=dict(type='raw'),
            memory=dict(type='raw'),
            proxy_replicas=dict(type='int'),
            proxy_cpu=dict(type='raw'),
            proxy_memory=dict(type='raw'),
            cluster_name=dict(type='str'),
            db_users=dict(type='int', default=0),
            update_status=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
        k8s=True,
    )
    params = module.params
    namespace = params['namespace']
    name = params['policy_name']
    request = dict((k, params.get(k)) for k in REQUEST_KEYS)
    try:
        _trp_policy.check_names(namespace, name)
        _quota.validate_request(request)
    except EverestError as exc:
        module.fail_from(exc, changed=False, allowed=False, violations=[])

    client = module.k8s
    changed = False
    try:
        policy, clusters, users = _quota.read_inputs(client, namespace, name)
        if policy is None:
            module.fail_json(
                msg='%s: no TenantResourcePolicy %r in namespace %s, so nothing can be checked; create it with '
                'virakcloud.everest.tenant_resource_policy (namespace: %s) or fix policy_name' % (namespace, name, namespace, namespace),
                changed=False,
                allowed=False,
                violations=[],
            )
        result = _quota.evaluate(namespace, policy, clusters, users, request)
        if params['update_status'] and not module.check_mode:
            status = _quota.status_for(policy, result)
            if status is not None:
                _quota.write_status(client, policy, status)
                changed = True
    except ValidationError as exc:
        # an incomplete request (mistyped resize, missing cpu/memory): refused, not answered
        module.fail_from(exc, changed=False, allowed=False, violations=[])
    except EverestError as exc:
        module.fail_from(exc, changed=changed)

    for warning in result['warnings']:
        module.warn(warning)
    output = dict((k, result[k]) for k in RESULT_KEYS)
    output['changed'] = changed
    if not result['allowed']:
        output['msg'] = '; '.join(result['violations'])
        module.fail_json(**output)
    module.exit_json(**output)


if __name__ == '__main__':
    main()
