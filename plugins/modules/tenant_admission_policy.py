#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: tenant_admission_policy
short_description: Make the Kubernetes API server enforce every tenant's TenantResourcePolicy
version_added: 0.1.0
author:
  - VirakCloud (@virakcloud)
description:
  - Installs, upgrades or removes the collection's ValidatingAdmissionPolicy C(virakcloud-everest-tenant-resource-policy)
    and its binding (the same documents as C(files/tenant-policy-admission.yaml)). With them the API server itself refuses
    a DatabaseCluster that breaks its namespace's TenantResourcePolicy, whoever sends it (Everest's UI or REST API,
    kubectl, a GitOps controller), with no webhook server to run.
  - On CREATE and on spec UPDATE of a DatabaseCluster it refuses an engine the policy does not allow, a cluster without
    CPU (memory) while the policy limits CPU (memory), and a cluster whose own CPU or memory (replicas times resources,
    times shards, plus the proxies; the rule M(virakcloud.everest.tenant_quota_check) documents) is above the namespace's
    limit. A single object cannot see the other clusters; the sum over all clusters is what ResourceQuotas enforce.
  - One policy and ONE binding serve every tenant; the binding's C(paramRef) has no namespace, so each DatabaseCluster is
    checked against the TenantResourcePolicy of its own namespace, and a namespace without a policy is not affected
    (C(parameterNotFoundAction=Allow)). The number of admission objects does not grow with the number of tenants.
  - Reads first and writes only what differs; a no-op run is three GETs.
options:
  state:
    description:
      - V(present) installs the policy and its binding, or upgrades them to this collection's version.
      - V(absent) removes them (the binding first). Every tenant loses this layer at once; offboarding one tenant never
        needs it, so the P(virakcloud.everest.tenant_bootstrap#role) role never removes it.
    type: str
    choices: [present, absent]
    default: present
  if_unsupported:
    description:
      - What to do when the API server does not serve C(admissionregistration.k8s.io/v1) ValidatingAdmissionPolicy
        (Kubernetes before 1.30, or the API switched off).
      - V(fail) fails with a message naming the fix. V(warn) warns and succeeds without installing anything (RV(served)
        is V(false)); tenant limits are then only advice for clusters created outside the collection.
    type: str
    choices: [fail, warn]
    default: fail
extends_documentation_fragment:
  - virakcloud.everest.connection
  - virakcloud.everest.everestctl
  - virakcloud.everest.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows the specs of the policy and the binding before and after.
notes:
  - The policy's parameters are TenantResourcePolicy objects, so their CRD must be established first
    (M(virakcloud.everest.tenant_resource_policy_crd)); with O(state=present) the module refuses to install the policy
    otherwise, because the policy's C(failurePolicy=Fail) would then refuse every DatabaseCluster write of the cluster.
  - Needs C(get), C(create), C(update) and C(delete) on C(validatingadmissionpolicies) and
    C(validatingadmissionpolicybindings) (C(admissionregistration.k8s.io)), and C(get) on the CRD.
seealso:
  - module: virakcloud.everest.tenant_resource_policy
  - module: virakcloud.everest.tenant_resource_policy_crd
  - module: virakcloud.everest.tenant_info
"""

EXAMPLES = r"""
- name: Make the API server enforce every tenant's policy
  virakcloud.everest.tenant_admission_policy:
  run_once: true

- name: On clusters that may be older than 1.30, warn instead of failing
  virakcloud.everest.tenant_admission_policy:
    if_unsupported: warn
  register: admission

- name: What would change?
  virakcloud.everest.tenant_admission_policy:
  check_mode: true
  diff: true
"""

RETURN = r"""
served:
  description: Whether the API server serves ValidatingAdmissionPolicy (C(admissionregistration.k8s.io/v1)).
  returned: always
  type: bool
  sample: true
actions:
  description: What was done (or would be done in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: [create ValidatingAdmissionPolicy virakcloud-everest-tenant-resource-policy]
policy:
  description: The ValidatingAdmissionPolicy after the task (null when absent); its C(name), C(resource_version), C(spec).
  returned: when RV(served)
  type: dict
binding:
  description: The ValidatingAdmissionPolicyBinding after the task (null when absent); its C(name), C(resource_version), C(spec).
  returned: when RV(served)
  type: dict
"""

from ansible_collections.virakcloud.everest.plugins.module_utils import _admission
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError
from ansible_collections.virakcloud.everest.plugins.module_utils._module import EverestModule

UNSUPPORTED = (
    "the Kubernetes API server does not serve admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy "
    "(GA in Kubernetes 1.30); upgrade the cluster to 1.30 or later, or set if_unsupported: warn to go on without "
    "this layer (tenant limits are then enforced only where the collection is used)"
)


def main():
    module = EverestModule(
        argument_spec=dict(
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            if_unsupported=dict(type='str', choices=['fail', 'warn'], default='fail'),
        ),
        supports_check_mode=True,
        k8s=True,
    )
    state = module.params['state']
    client = module.k8s
    try:
        if not _admission.served(client):
            if state == 'present' and module.params['if_unsupported'] == 'fail':
                module.fail_json(msg=UNSUPPORTED, served=False)
            if state == 'present':
                module.warn(UNSUPPORTED)
            module.exit_json(changed=False, served=False, actions=[])
        if state == 'present' and not _admission.crd_established(client):
            problem = (
                "the TenantResourcePolicy CRD is not established: the policy's parameters are TenantResourcePolicy "
                "objects, and with failurePolicy Fail an unknown parameter kind would refuse every DatabaseCluster "
                "write; install it first with virakcloud.everest.tenant_resource_policy_crd"
            )
            if not module.check_mode:
                module.fail_json(msg=problem, served=True)
            module.warn(problem)
        result = _admission.converge(client, state=state, check_mode=module.check_mode)
    except EverestError as exc:
        module.fail_from(exc)
    output = {'changed': result['changed'], 'served': True, 'actions': result['actions'], 'policy': result.get('policy'), 'binding': result.get('binding')}
    if module._diff:
        output['diff'] = {
            'before': result['before'],
            'after': result['after'],
            'before_header': 'ValidatingAdmissionPolicy and binding (before)',
            'after_header': 'ValidatingAdmissionPolicy and binding (after)',
        }
    module.exit_json(**output)


if __name__ == '__main__':
    main()
