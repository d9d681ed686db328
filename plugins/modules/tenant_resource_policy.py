#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: tenant_resource_policy
short_description: Manage the TenantResourcePolicy of an Everest tenant namespace
version_added: 0.1.0
author:
  - VirakCloud (@virakcloud)
description:
  - Creates, updates or deletes a C(TenantResourcePolicy) (C(everest.local/v1)) that sets the limits of one Everest
    tenant namespace (CPU cores, memory, number of database clusters, number of database users) and the database
    engines it may use.
  - Installs or updates the C(tenantresourcepolicies.everest.local) CRD first (O(install_crd)); the CRD shipped as
    C(files/crd-tenantresourcepolicy.yaml) in this collection is the same document, for C(kubectl apply -f).
  - With O(cluster_quota) it also manages a C(ResourceQuota) named C(<name>-clusters) with
    C(count/databaseclusters.everest.percona.com) set to O(limits.max_clusters), so the Kubernetes API server itself
    refuses one database cluster too many whoever creates it (Everest UI, REST API, kubectl).
  - CPU and memory limits are enforced by M(virakcloud.everest.tenant_quota_check) before a cluster is created or resized.
  - The module owns the whole C(spec) of the policy. A limit left out of O(limits) is removed (not enforced). The spec is
    written in one canonical form (CPU as a number of cores, memory in bytes, engines sorted and de-duplicated) and
    compared in that form, so re-running with the same values, or values written differently (V(16Gi) or
    V(17179869184)), changes nothing.
  - A no-op run reads the CRD (with O(install_crd)), the policy and the ResourceQuota, and writes nothing.
options:
  namespace:
    description:
      - Tenant namespace that holds the policy. Required unless O(policies) is used.
    type: str
  name:
    description: Name of the TenantResourcePolicy object.
    type: str
    default: resource-policy
  state:
    description:
      - V(present) creates or updates the policy (and its ResourceQuota).
      - V(absent) deletes the policy and the ResourceQuota it manages. The CRD is never deleted.
    type: str
    choices: [present, absent]
    default: present
  limits:
    description:
      - The limits. Each one left out is not enforced (and removed from an existing policy).
    type: dict
    suboptions:
      cpu:
        description:
          - CPU cores for all database clusters of the namespace, as a number (V(4), V(0.5)) or a Kubernetes quantity
            (V(500m), V(4)). Written as C(spec.limits.cpuCores).
          - "Quantities are parsed exactly as Kubernetes does, with one deliberate difference: degenerate forms that
            Kubernetes reads as zero are refused before any call (a suffix or exponent without digits such as V(m), V(Ki),
            V(e3); a lone V(.), V(+) or V(-)), and so are decimal exponents beyond 64 either way (V(1e65))."
        type: raw
      memory:
        description:
          - Memory for all database clusters of the namespace, as bytes (V(17179869184)) or a Kubernetes quantity
            (V(16Gi), V(2G), V(1.5Gi), V(2e9)); fractional bytes are rounded up. Written as C(spec.limits.memoryBytes).
          - Quantities as for O(limits.cpu) (the same degenerate forms are refused on purpose, stricter than Kubernetes).
        type: raw
      max_clusters:
        description: Number of DatabaseClusters (0 to 100000). Written as C(spec.limits.maxClusters).
        type: int
      max_db_users:
        description: Number of Everest users bound in the tenant's RBAC block (0 to 100000). Written as C(spec.limits.maxDbUsers).
        type: int
  allowed_engines:
    description:
      - Engines the tenant may create. V(mysql) and V(xtradb_cluster) both mean the C(pxc) engine, V(mongodb) the
        C(psmdb) engine. Written sorted and de-duplicated.
      - Left out, every engine is allowed, and all four names are written to C(spec.selectors.engines). An empty list
        allows none.
      - "A policy is read literally by M(virakcloud.everest.tenant_quota_check): a hand-written policy whose
        C(spec.selectors) has no C(engines) list (C(selectors: {})) allows no engine, like an empty list. The CRD requires
        C(selectors) but not C(engines), and an absent list is not read as \"every engine\" (a policy that lost its list
        fails closed)."
    type: list
    elements: str
    choices: [postgresql, mysql, mongodb, xtradb_cluster]
  labels:
    description:
      - Extra labels for the policy and the ResourceQuota, merged with C(app.kubernetes.io/managed-by=virakcloud.everest)
        and C(virakcloud.everest/tenant-namespace=<namespace>). Labels set by others are kept.
      - Keys and values follow the Kubernetes label rules (checked before anything runs). A C(virakcloud.everest/tenant)
        key is an ownership claim, checked like O(tenant).
    type: dict
  tenant:
    description:
      - The tenant that owns the policy and its ResourceQuota, recorded as their label C(virakcloud.everest/tenant) and
        checked against the cluster before every write, whoever runs the task. A policy or quota labelled for another
        tenant is refused before anything is written (the message names the owner) unless O(takeover_from) names that
        tenant; removing it is always refused.
    type: str
  takeover_from:
    description:
      - Explicit handover, the tenant that owns the policy now.
    type: str
  cluster_quota:
    description:
      - Manage the ResourceQuota C(<name>-clusters) limiting C(count/databaseclusters.everest.percona.com) to
        O(limits.max_clusters). Without O(limits.max_clusters) the managed ResourceQuota is removed.
      - V(false) leaves any existing ResourceQuota alone.
    type: bool
    default: true
  install_crd:
    description:
      - Create the CRD when it is missing, update it when it differs from this collection's, and wait until it is
        C(Established). Not done with O(state=absent).
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for the CRD to become C(Established).
    type: int
    default: 60
  policies:
    description:
      - Several policies in one task, each item with the single-form options. One TRP LIST and one ResourceQuota LIST
        serve all items; a failing item is reported in RV(results) and does not stop the others.
      - Mutually exclusive with O(namespace).
    type: list
    elements: dict
    suboptions:
      namespace:
        description: As O(namespace).
        type: str
        required: true
      name:
        description: As O(name).
        type: str
        default: resource-policy
      state:
        description: As O(state).
        type: str
        choices: [present, absent]
        default: present
      limits:
        description: As O(limits).
        type: dict
        suboptions:
          cpu:
            description: As O(limits.cpu).
            type: raw
          memory:
            description: As O(limits.memory).
            type: raw
          max_clusters:
            description: As O(limits.max_clusters).
            type: int
          max_db_users:
            description: As O(limits.max_db_users).
            type: int
      allowed_engines:
        description: As O(allowed_engines).
        type: list
        elements: str
        choices: [postgresql, mysql, mongodb, xtradb_cluster]
      labels:
        description: As O(labels).
        type: dict
      tenant:
        description: As O(tenant).
        type: str
      takeover_from:
        description: As O(takeover_from).
        type: str
      cluster_quota:
        description: As O(cluster_quota).
        type: bool
        default: true
extends_documentation_fragment:
  - virakcloud.everest.connection
  - virakcloud.everest.everestctl
  - virakcloud.everest.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
notes:
  - Invalid values (a bad quantity such as V(16GB), a negative limit) fail before any call. When the API server refuses
    the policy (422), the failure names the field (for example C(spec.limits.maxClusters)).
  - When the API server drops a limit because the installed CRD is older than this collection's, the task fails and says
    so instead of reporting a change on every run.
seealso:
  - module: virakcloud.everest.tenant_quota_check
  - module: virakcloud.everest.tenant_info
"""

EXAMPLES = r"""
- name: Limit ns-alice to 3 clusters, 4 cores, 16Gi and 20 users, PostgreSQL and MySQL only
  virakcloud.everest.tenant_resource_policy:
    namespace: ns-alice
    limits:
      cpu: 4
      memory: 16Gi
      max_clusters: 3
      max_db_users: 20
    allowed_engines: [postgresql, mysql]
    labels:
      virakcloud.everest/tenant: alice

- name: Several tenants in one task
  virakcloud.everest.tenant_resource_policy:
    policies:
      - namespace: ns-alice
        limits: {cpu: 4, memory: 16Gi, max_clusters: 3}
        allowed_engines: [postgresql]
      - namespace: ns-bob
        limits: {cpu: 500m, memory: 2Gi, max_clusters: 1}

- name: Remove the policy and its ResourceQuota
  virakcloud.everest.tenant_resource_policy:
    namespace: ns-alice
    state: absent
"""

RETURN = r"""
policy:
  description: The TenantResourcePolicy after the task (predicted in check mode); null when absent.
  returned: when O(namespace) is used
  type: dict
  sample:
    apiVersion: everest.local/v1
    kind: TenantResourcePolicy
    metadata:
      name: resource-policy
      namespace: ns-alice
      labels: {app.kubernetes.io/managed-by: virakcloud.everest, virakcloud.everest/tenant-namespace: ns-alice}
    spec:
      limits: {cpuCores: 4, memoryBytes: 17179869184, maxClusters: 3, maxDbUsers: 20}
      selectors: {engines: [mysql, postgresql]}
resource_quota:
  description: Name and C(hard) of the managed ResourceQuota after the task; null when there is none.
  returned: when O(namespace) is used
  type: dict
  sample: {name: resource-policy-clusters, namespace: ns-alice, hard: {count/databaseclusters.everest.percona.com: '3'}}
crd_changed:
  description: Whether the CRD was (or, in check mode, would be) created or updated.
  returned: always
  type: bool
  sample: false
results:
  description: One entry per item of O(policies) with C(namespace), C(name), C(changed), C(policy), C(resource_quota), or C(failed) and C(msg).
  returned: when O(policies) is used
  type: list
  elements: dict
  sample: [{namespace: ns-alice, name: resource-policy, changed: false}]
"""

from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError
from ansible_collections.virakcloud.everest.plugins.module_utils import _batch, _constants, _trp_crd, _trp_policy

ENGINES = list(_constants.POLICY_ENGINES)
LIMITS_SPEC = dict(
    cpu=dict(type='raw'),
    memory=dict(type='raw'),
    max_clusters=dict(type='int'),
    max_db_users=dict(type='int'),
)
ITEM_SPEC = dict(
    namespace=dict(type='str', required=True),
    name=dict(type='str', default=_constants.DEFAULT_POLICY_NAME),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    limits=dict(type='dict', options=LIMITS_SPEC),
    allowed_engines=dict(type='list', elements='str', choices=ENGINES),
    labels=dict(type='dict'),
    tenant=dict(type='str'),
    takeover_from=dict(type='str'),
    cluster_quota=dict(type='bool', default=True),
)
FORM = _batch.BatchForm(
    ITEM_SPEC,
    'policies',
    'namespace',
    'policy',
    module_options=dict(
        install_crd=dict(type='bool', default=True),
        wait_timeout=dict(type='int', default=60),
    ),
)
ARGUMENT_SPEC = FORM.argument_spec()

# the fields of one item in the batch form's results
RESULT_FIELDS = ('namespace', 'name', 'changed', 'policy', 'resource_quota', 'failed', 'msg')


def main():
    module = FORM.module(k8s=True)
    params = module.params
    raw_items, batch = FORM.items(params)

    # Validate everything before the first call.
    items = FORM.validate(
        module,
        raw_items,
        batch,
        _trp_policy.normalize_item,
        'policies',
        changed=False,
        label=lambda raw, exc: '%s/%s: %s' % (raw.get('namespace'), raw.get('name'), exc.msg),
    )
    keys = [(i['namespace'], i['name']) for i in items]
    duplicates = sorted(set('%s/%s' % k for k in keys if keys.count(k) > 1))
    if duplicates:
        module.fail_json(msg='policies lists %s more than once' % ', '.join(duplicates), changed=False)

    client = module.k8s
    crd_changed = False
    try:
        if params['install_crd'] and any(i['state'] == 'present' for i in items):
            crd_changed = _trp_crd.ensure_crd(client, check_mode=module.check_mode, wait_timeout=params['wait_timeout'])[0]
        results = _trp_policy.converge_policies(client, items, check_mode=module.check_mode, batch=batch)
    except EverestError as exc:
        module.fail_from(exc, changed=crd_changed)

    extra = {'crd_changed': crd_changed}
    if not batch:
        FORM.exit_single(module, results[0], ('policy', 'resource_quota'), changed=crd_changed, extra=extra)
    FORM.exit_batch(
        module, results, RESULT_FIELDS, header=lambda r: 'TenantResourcePolicy %s/%s' % (r['namespace'], r['name']), changed=crd_changed, extra=extra
    )


if __name__ == '__main__':
    main()
