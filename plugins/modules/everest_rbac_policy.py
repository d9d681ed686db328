#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: everest_rbac_policy
short_description: Manage a block of Percona Everest's RBAC policy safely (validated, conditional, concurrent-safe)
version_added: 0.1.0
author:
  - VirakCloud (@virakcloud)
description:
  - Everest's RBAC policy is one shared ConfigMap, C(everest-system/everest-rbac), with the keys C(enabled) and
    C(policy.csv). This module owns one or more named B(blocks) of C(policy.csv) - the lines between
    C(# BEGIN virakcloud.everest <block>) and C(# END virakcloud.everest <block>) - and never touches anything
    outside its blocks (foreign lines are preserved byte for byte).
  - The whole resulting policy is validated with Everest's own rules before anything is written (an invalid policy
    makes Everest's API server fail when it reloads the ConfigMap), so an invalid policy is never written.
  - Updates are conditional on the C(resourceVersion) that was read and are retried (bounded, jittered) on
    409 Conflict, re-applying the block change to the fresh text each time, so parallel writers (forks, job slices,
    several job templates) never lose each other's lines.
  - Alternatively the policy can live in a local file (O(policy_file)) for GitOps or offline review, with an
    exclusive lock and an atomic replace.
options:
  block:
    description:
      - "Name of the managed block, for example the tenant namespace. Letters, digits and C(. _ : @ + / -)."
      - Required unless O(blocks) is used.
    type: str
  policies:
    description:
      - The lines of the block. Each item is either a policy line string (C(p, <subject>, <resource>, <action>, <object>)
        or C(g, <user>, <role>)), or a dict with the keys C(subject), C(resource), C(action), C(object) (a C(p) line)
        or C(user), C(role) (a C(g) line).
      - Every line is rendered canonically (C(p, sub, res, act, obj)); white space around string fields is removed.
      - Every field is checked before anything is built, more strictly than Everest does. It must be a single policy
        term (letters, digits and the characters C(*+-./:;<=>?@[\]^_)) and may not contain a comma, a quote, white
        space or a newline, so no value can inject another policy line.
      - Ignored with O(state=absent).
    type: list
    elements: raw
    default: []
  tenant:
    description:
      - Makes the block a tenant's block. Its first line records the tenant and namespace (a comment,
        C(# tenant=<tenant> namespace=<namespace>), which Everest skips), and before anything is written the module checks,
        against the policy read from the cluster, whoever runs the task, that
      - the block does not belong to another tenant (its metadata line, or for blocks written before it existed the
        C(virakcloud.everest/tenant) label of the namespace the block is named after); taking it needs O(takeover_from),
        removing it (O(state=absent)) is refused;
      - its lines stay inside the tenant (the escalation guard); C(p) lines grant only to the tenant's role
        C(role:tenant-<namespace>), on objects in the tenant's namespace (C(<namespace>/...), or exactly C(<namespace>)
        for C(namespaces)), with Everest's resources and actions; C(g) lines bind members (never a C(role:) name) to that
        role only; no C(role:admin), no other global resource.
    type: str
  namespace:
    description:
      - The tenant's namespace for O(tenant); defaults to the block name.
    type: str
  takeover_from:
    description:
      - Explicit handover of a block another tenant owns, naming that tenant.
    type: str
  shared_members:
    description:
      - With O(tenant), members of the block (names its C(g) lines bind, typically IdP groups) that other tenants' blocks
        may bind too, on purpose. Each becomes a comment line C(# sso-shared <name>) after the metadata line.
      - The isolation proof (O(isolation)) then accepts such a member reaching another tenant's namespace, but only through
        that tenant's own role and only when that tenant's block binds it and declares it shared too; otherwise a member
        bound by two tenants' blocks breaks isolation and the write is refused.
    type: list
    elements: str
    default: []
  group_members:
    description:
      - With O(tenant), members of the block that are IdP groups, not users or OIDC subjects (a group's C(g) line looks
        like a subject's). Each becomes a comment line C(# sso-group <name>) after the metadata line, so that
        M(virakcloud.everest.tenant_info) and M(virakcloud.everest.tenant_quota_check) leave groups out of the tenant's
        database-user count (C(max_db_users)).
    type: list
    elements: str
    default: []
  isolation:
    description:
      - Prove, on the resulting policy and before writing it, that no member of any tenant's block (every block with a
        metadata line in the whole policy, not only those of this task) can read or create anything in another
        tenant's namespace. A change that would break that is refused and nothing is written; isolation that was already
        broken before the task is reported as a warning, not blamed on it.
    type: bool
    default: true
  allow_unknown_actions:
    description:
      - Lines whose action matches none of Everest's actions (C(create), C(read), C(update), C(delete), C(*)) grant nothing
        and are almost always a typo (C(write)); they are refused unless this is V(true).
    type: bool
    default: false
  blocks:
    description:
      - Several blocks written in one update of the policy (one conditional write for all of them).
      - Mutually exclusive with O(block) and O(policies).
    type: list
    elements: dict
    suboptions:
      block:
        description: Name of the block.
        type: str
        required: true
      policies:
        description: Lines of the block, as in O(policies).
        type: list
        elements: raw
        default: []
      state:
        description: V(present) writes or replaces the block, V(absent) removes it.
        type: str
        choices: [present, absent]
        default: present
      tenant:
        description: As O(tenant).
        type: str
      namespace:
        description: As O(namespace).
        type: str
      takeover_from:
        description: As O(takeover_from).
        type: str
      shared_members:
        description: As O(shared_members).
        type: list
        elements: str
        default: []
      group_members:
        description: As O(group_members).
        type: list
        elements: str
        default: []
  state:
    description:
      - V(present) writes the block (or replaces its content); V(absent) removes the block and its markers.
    type: str
    choices: [present, absent]
    default: present
  enabled:
    description:
      - When set, C(data.enabled) of the ConfigMap is made C("true") or C("false") (Everest enforces RBAC only when it
        is exactly C("true")). When not set, the flag is left alone.
      - For the ConfigMap, or a O(policy_file) holding a ConfigMap manifest; not allowed with a plain policy file.
    type: bool
  validate:
    description:
      - Validate the B(whole resulting policy) with Everest's rules (line syntax, the term pattern, that every
        C(role:) subject is bound by a C(g) line, the 13 resource names). A problem found by these rules anywhere in
        the policy, inside or outside the blocks of this task, fails the task, because Everest would reject the policy.
      - One stricter rule applies to the lines of the block(s) this task writes only - no malformed glob pattern
        (for example an unclosed C([)). Everest's validation accepts such a pattern, but doublestar reports
        C(ErrBadPattern) when a request is matched against it, and casbin passes that error up, so the request gets an
        error from Everest instead of an answer. A malformed pattern in a foreign line or in another block does not
        fail the task; it is listed in RV(validation.messages) (marked C(warning only)) and as a warning.
      - On failure the task fails naming the offending line and rule, and nothing is written.
      - With V(false) the problems are still reported in RV(validation), but the policy is written anyway. Disable only
        to repair a policy that is already broken outside your blocks.
    type: bool
    default: true
  validate_with_everestctl:
    description:
      - Also run C(everestctl settings rbac validate --policy-file <temporary file>) on the resulting policy before
        writing it (also in check mode, it only reads a file), and fail (writing nothing) if everestctl says it is
        invalid. Not run when nothing changes.
    type: bool
    default: false
  backup:
    description:
      - Save the previous C(policy.csv) to a timestamped file in O(backup_dir) before changing it, and return its path
        as RV(backup_file). Nothing is saved when nothing changes.
      - For the ConfigMap the file is C(everest-rbac.policy.csv.<timestamp>) (mode 0600). For O(policy_file) it is
        Ansible's own backup (C(backup_local)), C(<name>.<pid>.<date>@<time>~), with the file's mode and owner.
      - The backup is written just before the write. If the write then fails (for example all conflict retries are
        refused), the backup is kept and the failure result names it in RV(backup_file).
    type: bool
    default: false
  backup_dir:
    description:
      - Directory for backups, on the host that runs the module (the controller with C(ansible_connection=local)). Created if
        missing.
      - Defaults to the directory of O(policy_file), or C(~/.ansible/backups/everest-rbac) for the ConfigMap.
    type: path
  policy_file:
    description:
      - Manage the blocks in this local policy file (plain C(policy.csv) text) instead of the ConfigMap. The file is
        created if missing (its directory must exist).
      - The file is locked exclusively for the whole read-modify-write, so forks on one host serialise. The lock is a
        sidecar file C(.<name>.lock) (for example C(.policy.csv.lock)) created next to the target and left in place
        afterwards; in a Git checkout add it to C(.gitignore) (for example C(.*.lock)).
      - The new content is written to a temporary file C(.<name>.*.tmp) in the same directory, flushed to disk and
        moved over the target with Ansible's C(atomic_move), keeping its mode, its owner (when allowed) and its SELinux
        context, so readers see either the old or the new policy, never a partial one. If any of these steps fails
        (disk full, permissions, ...) the task fails naming the file and the cause, the temporary file is removed and
        the target is unchanged. A symbolic link is followed (the file it points to is replaced, the link stays).
      - Like C(everestctl --policy-file), the file may also be a YAML ConfigMap manifest with C(data.policy.csv); then
        that string is edited (and C(data.enabled) with O(enabled)) and the manifest is re-serialised, which keeps the
        data but not YAML comments or layout (a warning says so).
    type: path
  create_configmap:
    description:
      - When the ConfigMap C(everest-system/everest-rbac) does not exist the task fails (Everest is probably not
        installed, or the kubeconfig points at the wrong cluster) unless this is V(true); it is then created with
        Everest's chart default policy (C(g, admin, role:admin)), C(enabled) from O(enabled) (default C("false")),
        plus the blocks.
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
      - The diff is a unified diff of C(policy.csv), plus one of C(enabled) when it changes.
notes:
  - Backups and O(policy_file) live on the host that runs the module, which is the controller in the intended use
    (C(ansible_connection=local)).
  - O(validate_with_everestctl) needs everestctl and passes it the kubeconfig, although validating a file does not
    contact the cluster.
  - Everest reloads the ConfigMap by itself; an invalid policy written by someone else still breaks it, so keep
    O(validate=true) and use M(virakcloud.everest.everest_rbac_check) to test what the policy allows.
seealso:
  - module: virakcloud.everest.everest_rbac_check
"""

EXAMPLES = r"""
- name: Give tenant acme its own role, bound to its users
  virakcloud.everest.everest_rbac_policy:
    block: acme
    policies:
      - {subject: "role:acme", resource: namespaces, action: read, object: acme}
      - {subject: "role:acme", resource: database-engines, action: read, object: "acme/*"}
      - {subject: "role:acme", resource: database-clusters, action: "*", object: "acme/*"}
      - {user: acme_admin, role: "role:acme"}
      - "g, acme_dev, role:acme"
    backup: true
  register: acme_rbac

- name: Show where the previous policy was saved
  ansible.builtin.debug:
    msg: "previous policy saved to {{ acme_rbac.backup_file }}"
  when: acme_rbac.backup_file is defined

- name: Turn RBAC on (the policy is validated first)
  virakcloud.everest.everest_rbac_policy:
    blocks: []
    enabled: true

- name: Preview the change for tenant beta without writing anything
  virakcloud.everest.everest_rbac_policy:
    block: beta
    policies:
      - "p, role:beta, database-clusters, *, beta/*"
      - "g, beta_admin, role:beta"
  check_mode: true
  diff: true

- name: Remove the block of an off-boarded tenant
  virakcloud.everest.everest_rbac_policy:
    block: old-tenant
    state: absent

- name: Write several tenants in one conditional update
  virakcloud.everest.everest_rbac_policy:
    blocks:
      - block: t1
        policies: ["p, role:t1, database-clusters, *, t1/*", "g, t1_admin, role:t1"]
      - block: t0
        state: absent

- name: Maintain a policy file in a Git checkout instead of the cluster
  virakcloud.everest.everest_rbac_policy:
    policy_file: "{{ playbook_dir }}/rbac/policy.csv"
    block: acme
    policies: ["p, role:acme, database-clusters, *, acme/*", "g, acme_admin, role:acme"]
"""

RETURN = r"""
policy:
  description: The lines of the block after the task (empty with O(state=absent)). Not returned with O(blocks).
  returned: success and O(block) was used
  type: list
  elements: str
  sample: ["p, role:acme, database-clusters, *, acme/*", "g, acme_admin, role:acme"]
results:
  description: One entry per item of O(blocks).
  returned: success and O(blocks) was used
  type: list
  elements: dict
  contains:
    block:
      description: Block name.
      type: str
    state:
      description: Requested state.
      type: str
    policy:
      description: Lines of the block after the task.
      type: list
      elements: str
    changed:
      description: Whether this block's content changed.
      type: bool
enabled:
  description: Whether RBAC is enabled after the task (C(data.enabled) is C("true")); null for a plain policy file.
  returned: success
  type: bool
  sample: true
validation:
  description: Result of validating the whole resulting policy (also computed with O(validate=false)).
  returned: always
  type: dict
  contains:
    ok:
      description: Whether the policy passed (no problem that blocks the write; see O(validate)).
      type: bool
    messages:
      description:
        - One text per problem (line number, where it is, Everest's message, rule).
        - A malformed glob pattern outside the blocks written by this task is listed with C(warning only); it does not
          make RV(validation.ok) false.
      type: list
      elements: str
    everestctl:
      description: Whether everestctl was also asked (O(validate_with_everestctl)).
      type: bool
  sample: {ok: true, messages: [], everestctl: false}
backup_file:
  description:
    - Path of the saved previous policy.
    - Also in the failure result when the backup had been written before the write failed.
  returned: changed and O(backup=true), or a failure after the backup was written
  type: str
  sample: /home/ops/.ansible/backups/everest-rbac/everest-rbac.policy.csv.20260101T120000.123456.4242
configmap:
  description: Namespace, name and resourceVersion of the ConfigMap after the task.
  returned: success, unless O(policy_file) is used
  type: dict
  sample: {namespace: everest-system, name: everest-rbac, resource_version: "4711"}
policy_file:
  description: The policy file that was managed.
  returned: O(policy_file) was used
  type: str
"""

from ansible_collections.virakcloud.everest.plugins.module_utils import _batch, _rbac_policy
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError

BLOCK_SPEC = dict(
    block=dict(type="str", required=True),
    policies=dict(type="list", elements="raw", default=[]),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    tenant=dict(type="str"),
    namespace=dict(type="str"),
    takeover_from=dict(type="str"),
    shared_members=dict(type="list", elements="str", default=[]),
    group_members=dict(type="list", elements="str", default=[]),
)
FORM = _batch.BatchForm(
    BLOCK_SPEC,
    "blocks",
    "block",
    "block",
    module_options=dict(
        isolation=dict(type="bool", default=True),
        allow_unknown_actions=dict(type="bool", default=False),
        enabled=dict(type="bool"),
        validate=dict(type="bool", default=True),
        validate_with_everestctl=dict(type="bool", default=False),
        backup=dict(type="bool", default=False),
        backup_dir=dict(type="path"),
        policy_file=dict(type="path"),
        create_configmap=dict(type="bool", default=False),
    ),
)
ARGUMENT_SPEC = FORM.argument_spec()


def main():
    module = FORM.module(k8s=True, everestctl=True, mutually_exclusive=[("blocks", "block"), ("blocks", "policies")])
    try:
        engine = _rbac_policy.RbacPolicy(module, *FORM.items(module.params))
        if module.params["policy_file"]:
            result = engine.run_file()
        else:
            result = engine.run_configmap()
    except EverestError as exc:
        module.fail_from(exc)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
