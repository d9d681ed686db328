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
    tenant namespace (CPU cores, memory, storage, number of database clusters, number of database users) and the
    database engines it may use, and the objects through which Kubernetes enforces them in that namespace.
  - Installs or updates the C(tenantresourcepolicies.everest.local) CRD first (O(install_crd)); the CRD shipped as
    C(files/crd-tenantresourcepolicy.yaml) in this collection is the same document, for C(kubectl apply -f).
  - With O(cluster_quota) it also manages a C(ResourceQuota) named C(<name>-clusters) with
    C(count/databaseclusters.everest.percona.com) set to O(limits.max_clusters), so the Kubernetes API server itself
    refuses one database cluster too many whoever creates it (Everest UI, REST API, kubectl).
  - "With O(compute_quota), a C(ResourceQuota) C(<name>-compute) limits the sum of the C(requests.cpu) and
    C(requests.memory) of the namespace's pods to the policy's O(limits.cpu) and O(limits.memory) plus a headroom for
    what database pods carry beyond the engine and proxy containers the policy counts (PMM client, backup agents,
    sidecars, init containers): O(quota_headroom) per cluster, times O(limits.max_clusters) (one cluster without it).
    With it goes a C(LimitRange) C(<name>-defaults) that gives every container stating no requests the
    O(default_requests), so no operator sidecar or job is refused for lacking them. So the total is enforced at the
    level of pods, whoever creates the clusters; the policy's numbers stay the tenant's numbers (the admission policy and
    M(virakcloud.everest.tenant_quota_check) use them, not the quota's)."
  - "With O(storage_quota), a C(ResourceQuota) C(<name>-storage) limits C(requests.storage) to O(limits.storage) and
    C(persistentvolumeclaims) to O(limits.max_clusters) x the headroom's volumes per cluster."
  - "Only requests are limited, never C(limits.cpu)/C(limits.memory): the policy's numbers are reservations, and a
    C(limits.*) quota would require a limit on every container, which the Percona operators leave out for several
    (a LimitRange default limit would then throttle or kill them, or, below their request, make their pods invalid)."
  - CPU, memory and storage limits are also checked by M(virakcloud.everest.tenant_quota_check) before a cluster is
    created or resized, and per cluster by the admission policy of M(virakcloud.everest.tenant_admission_policy).
  - The module owns the whole C(spec) of the policy. A limit left out of O(limits) is removed (not enforced). The spec is
    written in one canonical form (CPU as a number of cores, memory in bytes, engines sorted and de-duplicated) and
    compared in that form, so re-running with the same values, or values written differently (V(16Gi) or
    V(17179869184)), changes nothing.
  - A no-op run reads the CRD (with O(install_crd)) and the policy, lists the ResourceQuotas and LimitRanges of the
    namespace (the batch form lists each kind once for all items), and writes nothing.
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
      - V(absent) deletes the policy and the ResourceQuotas and LimitRange it manages (those labelled
        C(app.kubernetes.io/managed-by=virakcloud.everest)). The CRD is never deleted.
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
      storage:
        description:
          - Storage for all database clusters of the namespace, as bytes or a quantity (V(100Gi), V(500G)); fractional
            bytes are rounded up. Written as C(spec.limits.storageBytes).
          - "Counted per cluster as C(volumes x spec.engine.storage.size): one volume per node (x shards), plus the
            config servers of a sharded MongoDB cluster, plus the pgBackRest repository volume of a PostgreSQL cluster
            (every PersistentVolumeClaim the operators create, so the rule and the storage quota agree)."
          - Quantities as for O(limits.cpu).
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
  compute_quota:
    description:
      - Manage the ResourceQuota C(<name>-compute) (C(requests.cpu) and C(requests.memory), each for the limit the
        policy sets) and the LimitRange C(<name>-defaults). Without O(limits.cpu) and O(limits.memory) the managed ones
        are removed.
      - V(false) leaves any existing ones alone.
    type: bool
    default: true
  storage_quota:
    description:
      - Manage the ResourceQuota C(<name>-storage) (C(requests.storage) = O(limits.storage), and
        C(persistentvolumeclaims) = O(limits.max_clusters) x O(quota_headroom.volumes) when the policy sets
        O(limits.max_clusters)). Without O(limits.storage) the managed one is removed.
      - V(false) leaves any existing one alone.
    type: bool
    default: true
  quota_headroom:
    description:
      - Per database cluster, what its pods may request beyond the engine and proxy resources the policy counts. The
        compute quota is the policy's limit plus O(limits.max_clusters) (1 without it) times this. Each value left out
        is derived from the Percona operators' defaults for the engines the policy allows.
      - "The default is what a reference cluster requests beyond the policy's count: 3 nodes and 3 proxies, monitoring
        (PMM client sized for the largest node the memory limit allows) and PITR on, not sharded, containers without
        requests counted at O(default_requests). With the default requests and PMM small: PostgreSQL 850m/1044Mi and
        4 volumes, PXC 920m/1032Mi and 3 volumes, MongoDB 1185m/3153Mi (its backup agent requests 300m/1G per node)
        and 3 volumes; the largest over the allowed engines, each value on its own. The headroom is pooled over the
        namespace: it covers that many reference clusters, or any mix of shapes with as many sidecars in all."
      - Proxies without C(spec.proxy.resources) get the operators' defaults, which the policy counts as 0 and this
        headroom does not cover.
    type: dict
    suboptions:
      cpu:
        description: CPU per cluster, a quantity (V(850m), V(1)).
        type: raw
      memory:
        description: Memory per cluster, a quantity (V(1Gi)).
        type: raw
      volumes:
        description: PersistentVolumeClaims per cluster (the storage quota's C(persistentvolumeclaims)).
        type: int
  default_requests:
    description:
      - The requests the LimitRange gives a container that states none (C(defaultRequest), type C(Container)). No
        default limit is set, so such a container is never throttled or killed by this collection.
      - Also what O(quota_headroom)'s default counts for each such container.
    type: dict
    suboptions:
      cpu:
        description: CPU request (default V(50m)).
        type: raw
      memory:
        description: Memory request (default V(64Mi)).
        type: raw
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
          storage:
            description: As O(limits.storage).
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
      compute_quota:
        description: As O(compute_quota).
        type: bool
        default: true
      storage_quota:
        description: As O(storage_quota).
        type: bool
        default: true
      quota_headroom:
        description: As O(quota_headroom).
        type: dict
        suboptions:
          cpu:
            description: As O(quota_headroom.cpu).
            type: raw
          memory:
            description: As O(quota_headroom.memory).
            type: raw
          volumes:
            description: As O(quota_headroom.volumes).
            type: int
      default_requests:
        description: As O(default_requests).
        type: dict
        suboptions:
          cpu:
            description: As O(default_requests.cpu).
            type: raw
          memory:
            description: As O(default_requests.memory).
            type: raw
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
  - A ResourceQuota does not remove what exists. Lowering a limit below the current use only refuses new pods and
    volumes; M(virakcloud.everest.tenant_info) shows the quotas' live use (C(status.used)) and flags any over its hard value.
seealso:
  - module: virakcloud.everest.tenant_quota_check
  - module: virakcloud.everest.tenant_info
"""

EXAMPLES = r"""
- name: Limit ns-alice to 3 clusters, 4 cores, 16Gi, 200Gi of storage and 20 users, PostgreSQL and MySQL only
  virakcloud.everest.tenant_resource_policy:
    namespace: ns-alice
    limits:
      cpu: 4
      memory: 16Gi
      storage: 200Gi
      max_clusters: 3
      max_db_users: 20
    allowed_engines: [postgresql, mysql]
    labels:
      virakcloud.everest/tenant: alice
  register: alice_policy

- name: Show the compute quota Kubernetes enforces (policy + 3 x headroom)
  ansible.builtin.debug:
    msg: "{{ alice_policy.compute_quota.hard }} (headroom per cluster {{ alice_policy.compute_quota.headroom }})"

- name: A tenant without monitoring and with single-node clusters needs less headroom
  virakcloud.everest.tenant_resource_policy:
    namespace: ns-carol
    limits: {cpu: 2, memory: 4Gi, storage: 50Gi, max_clusters: 2}
    allowed_engines: [postgresql]
    quota_headroom: {cpu: 300m, memory: 512Mi, volumes: 2}

- name: What would change, without changing it
  virakcloud.everest.tenant_resource_policy:
    namespace: ns-alice
    limits: {cpu: 6, memory: 24Gi, storage: 300Gi, max_clusters: 3, max_db_users: 20}
    allowed_engines: [postgresql, mysql]
  check_mode: true
  diff: true

- name: Several tenants in one task
  virakcloud.everest.tenant_resource_policy:
    policies:
      - namespace: ns-alice
        limits: {cpu: 4, memory: 16Gi, max_clusters: 3}
        allowed_engines: [postgresql]
      - namespace: ns-bob
        limits: {cpu: 500m, memory: 2Gi, max_clusters: 1}

- name: Remove the policy, its ResourceQuotas and its LimitRange
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
  description: Name and C(hard) of the count ResourceQuota C(<name>-clusters) after the task; null when there is none.
  returned: when O(namespace) is used
  type: dict
  sample: {name: resource-policy-clusters, hard: {count/databaseclusters.everest.percona.com: '3'}}
compute_quota:
  description:
    - The compute ResourceQuota C(<name>-compute) after the task (predicted in check mode); null when there is none.
  returned: when O(namespace) is used
  type: dict
  contains:
    name:
      description: Its name.
      type: str
      sample: resource-policy-compute
    hard:
      description: Its C(spec.hard), quantities as written (C(m) for CPU, the largest exact unit for memory).
      type: dict
      sample: {requests.cpu: 9154m, requests.memory: 21229Mi}
    headroom:
      description: The headroom per cluster it adds to the policy and how many clusters it covers.
      type: dict
      sample: {cpu: 1718m, memory: 1615Mi, volumes: 4, clusters: 3}
  sample:
    name: resource-policy-compute
    hard: {requests.cpu: 9154m, requests.memory: 21229Mi}
    headroom: {cpu: 1718m, memory: 1615Mi, volumes: 4, clusters: 3}
storage_quota:
  description: Name and C(hard) of the storage ResourceQuota C(<name>-storage) after the task; null when there is none.
  returned: when O(namespace) is used
  type: dict
  sample: {name: resource-policy-storage, hard: {requests.storage: 200Gi, persistentvolumeclaims: '12'}}
limit_range:
  description: Name and C(spec.limits) of the LimitRange C(<name>-defaults) after the task; null when there is none.
  returned: when O(namespace) is used
  type: dict
  sample: {name: resource-policy-defaults, limits: [{type: Container, defaultRequest: {cpu: 50m, memory: 64Mi}}]}
crd_changed:
  description: Whether the CRD was (or, in check mode, would be) created or updated.
  returned: always
  type: bool
  sample: false
results:
  description:
    - One entry per item of O(policies) with C(namespace), C(name), C(changed), C(policy), C(resource_quota),
      C(compute_quota), C(storage_quota), C(limit_range) (as the single form's keys, left out when null), or C(failed)
      and C(msg).
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
    storage=dict(type='raw'),
    max_clusters=dict(type='int'),
    max_db_users=dict(type='int'),
)
HEADROOM_SPEC = dict(cpu=dict(type='raw'), memory=dict(type='raw'), volumes=dict(type='int'))
REQUESTS_SPEC = dict(cpu=dict(type='raw'), memory=dict(type='raw'))
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
    compute_quota=dict(type='bool', default=True),
    storage_quota=dict(type='bool', default=True),
    quota_headroom=dict(type='dict', options=HEADROOM_SPEC),
    default_requests=dict(type='dict', options=REQUESTS_SPEC),
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
RESULT_FIELDS = ('namespace', 'name', 'changed', 'policy', 'resource_quota', 'compute_quota', 'storage_quota', 'limit_range', 'failed', 'msg')


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
        FORM.exit_single(module, results[0], ('policy',) + tuple(_trp_policy.RESULT_KEYS.values()), changed=crd_changed, extra=extra)
    FORM.exit_batch(
        module, results, RESULT_FIELDS, header=lambda r: 'TenantResourcePolicy %s/%s' % (r['namespace'], r['name']), changed=crd_changed, extra=extra
    )


if __name__ == '__main__':
    main()
