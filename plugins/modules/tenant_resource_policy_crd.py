#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: tenant_resource_policy_crd
short_description: Install, update or remove the TenantResourcePolicy CRD
version_added: 0.1.0
author:
  - VirakCloud (@virakcloud)
description:
  - Creates the C(tenantresourcepolicies.everest.local) CustomResourceDefinition shipped with this collection (the same
    document as C(files/crd-tenantresourcepolicy.yaml)), updates it when the stored one differs, and waits until it is
    C(Established).
  - A no-op run is a single GET.
  - M(virakcloud.everest.tenant_resource_policy) can do the same on every call (its C(install_crd) option); a play that
    manages many tenants installs the CRD once with this module and passes C(install_crd=false) to the others.
options:
  state:
    description:
      - V(present) installs or updates the CRD.
      - V(absent) deletes it. Deleting a CRD deletes every TenantResourcePolicy in the cluster, so this is refused while
        any exists unless O(force=true).
    type: str
    choices: [present, absent]
    default: present
  wait:
    description: Wait until the CRD is C(Established) (O(state=present)).
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for C(Established).
    type: int
    default: 60
  force:
    description: With O(state=absent), delete the CRD even when TenantResourcePolicies exist (they are deleted with it).
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
    support: full
    details:
      - The diff shows C(present), C(up_to_date) and C(established).
seealso:
  - module: virakcloud.everest.tenant_resource_policy
  - module: virakcloud.everest.everest_cluster_info
"""

EXAMPLES = r"""
- name: Install the TenantResourcePolicy CRD once
  virakcloud.everest.tenant_resource_policy_crd:
  run_once: true

- name: Would the CRD change?
  virakcloud.everest.tenant_resource_policy_crd:
  check_mode: true
  diff: true
  register: crd

- name: Remove the CRD (only when no tenant policy is left)
  virakcloud.everest.tenant_resource_policy_crd:
    state: absent
"""

RETURN = r"""
crd:
  description: State of the CRD after the task (predicted in check mode).
  returned: always
  type: dict
  contains:
    name:
      description: CRD name.
      type: str
      sample: tenantresourcepolicies.everest.local
    present:
      description: Whether the CRD exists.
      type: bool
      sample: true
    up_to_date:
      description: Whether the stored CRD contains this collection's spec and labels.
      type: bool
      sample: true
    established:
      description: Whether the C(Established) condition is C(True).
      type: bool
      sample: true
    resource_version:
      description: The CRD's C(metadata.resourceVersion) (null when absent or predicted).
      type: str
      sample: "1234"
"""

from ansible_collections.virakcloud.everest.plugins.module_utils._module import EverestModule
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError, TimeoutExceeded
from ansible_collections.virakcloud.everest.plugins.module_utils import _constants
from ansible_collections.virakcloud.everest.plugins.module_utils import _k8s
from ansible_collections.virakcloud.everest.plugins.module_utils import _trp_crd
from ansible_collections.virakcloud.everest.plugins.module_utils import _trp_policy


def view(obj, desired):
    if obj is None:
        return {'name': _constants.TRP_CRD_NAME, 'present': False, 'up_to_date': False, 'established': False, 'resource_version': None}
    return {
        'name': _constants.TRP_CRD_NAME,
        'present': True,
        'up_to_date': bool(_k8s.contains(obj.get('spec'), desired['spec']) and not _k8s.labels_missing(obj, desired['metadata']['labels'])),
        'established': _trp_crd.crd_established(obj),
        'resource_version': (obj.get('metadata') or {}).get('resourceVersion'),
    }


def _diff_view(crd_view):
    return dict((k, crd_view[k]) for k in ('present', 'up_to_date', 'established'))


def present(module, client, desired):
    before_obj = client.get_or_none(_trp_crd.CRD_PATH)
    before = view(before_obj, desired)
    if before['up_to_date'] and (before['established'] or not module.params['wait']):
        return False, before, before
    if module.check_mode:
        after = dict(before, present=True, up_to_date=True, established=True)
        return not before['up_to_date'], before, after
    timeout = module.params['wait_timeout'] if module.params['wait'] else 0
    try:
        # ensure_crd converges on a CRD created concurrently by another run (AlreadyExists on create)
        changed, obj = _trp_crd.ensure_crd(client, check_mode=False, wait_timeout=timeout)
    except TimeoutExceeded:
        if module.params['wait']:
            raise
        obj = client.get_or_none(_trp_crd.CRD_PATH)
        changed = not before['up_to_date']
    return changed, before, view(obj, desired)


def absent(module, client, desired):
    obj = client.get_or_none(_trp_crd.CRD_PATH)
    before = view(obj, desired)
    after = view(None, desired)
    if obj is None:
        return False, before, after
    if not module.params['force']:
        items = _k8s.list_items(client, _trp_policy.trp_path())
        if items:
            names = sorted('%s/%s' % (i['metadata'].get('namespace'), i['metadata']['name']) for i in items)
            raise EverestError(
                'refusing to delete CustomResourceDefinition %s: %d TenantResourcePolicies would be deleted with it (%s); '
                'remove them first (offboard the tenants) or set force: true' % (_constants.TRP_CRD_NAME, len(names), ', '.join(names)),
                policies=names,
            )
    if not module.check_mode:
        client.delete(_trp_crd.CRD_PATH)
    return True, before, after


def main():
    module = EverestModule(
        argument_spec=dict(
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            wait=dict(type='bool', default=True),
            wait_timeout=dict(type='int', default=60),
            force=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
        k8s=True,
    )
    try:
        desired = _trp_crd.crd_document()
        client = module.k8s
        if module.params['state'] == 'present':
            changed, before, after = present(module, client, desired)
        else:
            changed, before, after = absent(module, client, desired)
    except EverestError as exc:
        module.fail_from(exc)
    result = dict(changed=changed, crd=after)
    if module._diff:
        result['diff'] = {'before': _diff_view(before), 'after': _diff_view(after)}
    module.exit_json(**result)


if __name__ == '__main__':
    main()
