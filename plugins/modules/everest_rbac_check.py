#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: everest_rbac_check
short_description: Evaluate what Percona Everest's RBAC policy allows, exactly as Everest does
version_added: 0.1.0
author:
  - VirakCloud (@virakcloud)
description:
  - Read-only. Answers a list of questions "can <subject> <action> <resource> <object>?" against Everest's RBAC
    policy with Everest's own semantics (the same answers as C(everestctl settings rbac can)), and optionally fails
    when an answer differs from the expected one.
  - The policy comes from the live ConfigMap C(everest-system/everest-rbac) (default), from a local O(policy_file),
    or from inline O(policy) text.
  - "With the ConfigMap, RBAC enforcement follows its C(enabled) key, as C(everestctl settings rbac can) without
    C(--policy-file) does: when C(enabled) is not C(\"true\") (and O(assume_enabled=false)), Everest allows every
    request without even loading the policy, so every check is answered RV(results[].allowed=true) with
    RV(results[].reason=rbac_disabled) and no matching rule, and a check with C(expect: deny) is reported as a mismatch
    (which is the truth: nothing is denied while RBAC is off). An invalid policy, or a ConfigMap without C(policy.csv),
    does not fail the task then; the problems are returned in RV(validation) and as a warning, because Everest will
    reject that policy as soon as RBAC is enabled."
  - "Semantics: a rule matches when the subject is the rule's subject or reaches it through C(g) lines (transitively,
    at most 10 levels), and the resource, action and object match the rule's values as doublestar globs (C(*) never
    crosses C(/), C(**) does). C(role:admin) gets every resource implicitly, so a user has everything once bound to
    it. An object of C(*) or C(all) asks about every object: only rules with C(*/*) or C(**) (namespaced resources)
    or C(*) (global resources) match."
  - Thousands of checks are evaluated in one task in well under a second; the role uses it for an N x N tenant
    isolation matrix.
options:
  checks:
    description:
      - The questions. Exactly one of O(checks) and O(tenants) is required.
    type: list
    elements: dict
    suboptions:
      subject:
        description:
          - User name or role (for example C(alice) or C(role:acme)), or the OIDC subject (C(sub) claim) of an SSO user.
        type: str
        required: true
      groups:
        description:
          - The IdP groups of an SSO user (the C(groups) claim of the token). Everest allows a request when the subject or
            any group is allowed (it tries the subject, then each group, and the first allowed one decides), and so
            does this module; RV(results[].matched) names the one that was allowed.
        type: list
        elements: str
        default: []
      action:
        description: One of C(create), C(read), C(update), C(delete), C(*).
        type: str
        required: true
        choices: [create, read, update, delete, "*"]
      resource:
        description: Resource name, for example C(database-clusters). An unknown name is not an error, it is just never allowed.
        type: str
        required: true
      object:
        description: C(<namespace>/<name>) for namespaced resources, C(<name>) for global ones, C(*) or C(all) for "every object".
        type: str
        required: true
      expect:
        description: Expected answer; the task fails when any answer differs.
        type: str
        choices: [allow, deny]
  tenants:
    description:
      - Tenant isolation matrix, built and evaluated inside the module (instead of passing N x N O(checks) as task
        arguments, which grows quadratically in Ansible's templating and argument transfer).
      - For every tenant, every identity (user, OIDC subject, IdP group) and every resource in O(tenant_resources) and
        action in O(tenant_actions), the identity must be allowed exactly the O(tenants[].grants) in the tenant's own
        namespace, and must be denied everything in every other tenant's namespace. The object asked is C(<namespace>) for global resources and
        C(<namespace>/*) otherwise.
      - Only the mismatches are returned (RV(mismatches), with the tenant and target tenant named), and the number of
        checks in RV(checks_total); RV(results) is empty.
    type: list
    elements: dict
    version_added: 0.1.0
    suboptions:
      name:
        description: Tenant name (used in messages).
        type: str
        required: true
      namespace:
        description: The tenant's database namespace.
        type: str
        required: true
      users:
        description: The tenant's Everest users.
        type: list
        elements: str
        default: []
      sso_subjects:
        description:
          - OIDC subjects bound to the tenant's role. Checked like users.
        type: list
        elements: str
        default: []
      sso_groups:
        description:
          - IdP groups bound to the tenant's role. Checked like users; each group is asked alone, which covers every
            token carrying it (a token gets the union of what its subject and groups get, and the model has no deny).
        type: list
        elements: str
        default: []
      shared:
        description:
          - Identities of this tenant that other tenants bind too, on purpose. In another tenant's namespace such an
            identity is expected to get that tenant's grants (not a denial) when that tenant binds it and lists it as
            shared as well.
        type: list
        elements: str
        default: []
      grants:
        description:
          - What the tenant's users may do in their own namespace. V([]) means nothing is asserted for the own
            namespace (only the cross-tenant denials are checked).
        type: list
        elements: dict
        default: []
        suboptions:
          resource:
            description: Resource name.
            type: str
            required: true
          action:
            description: Granted action, or C(*) for all.
            type: str
            required: true
  cluster_tenants:
    description:
      - With O(tenants), also check every other tenant of the policy, the blocks that carry a tenant metadata line (as
        M(virakcloud.everest.everest_rbac_policy) writes them with its O(virakcloud.everest.everest_rbac_policy#module:tenant)
        option). Their members are checked for denials only (their grants are unknown here) and their namespaces as targets,
        so the proof covers the whole cluster, not just the tenants given.
    type: bool
    default: false
  overlay_blocks:
    description:
      - Planned blocks applied to the policy in memory before checking (what a check-mode run would write), each with
        C(block), C(policies) (lines), C(state), and optional C(tenant) and C(namespace) as in
        M(virakcloud.everest.everest_rbac_policy).
    type: list
    elements: dict
    suboptions:
      block:
        description: Block name.
        type: str
        required: true
      policies:
        description: The block's lines.
        type: list
        elements: str
        default: []
      state:
        description: V(absent) removes the block.
        type: str
        choices: [present, absent]
        default: present
      tenant:
        description: The tenant of the block (adds the metadata line).
        type: str
      namespace:
        description: The tenant's namespace (default the block name).
        type: str
      shared_members:
        description: Members the block shares on purpose, as in M(virakcloud.everest.everest_rbac_policy).
        type: list
        elements: str
        default: []
      group_members:
        description: Members of the block that are IdP groups, as in M(virakcloud.everest.everest_rbac_policy).
        type: list
        elements: str
        default: []
  tenant_resources:
    description: Resources checked for every pair in O(tenants) mode.
    type: list
    elements: str
    default: [namespaces, database-engines, database-clusters, database-cluster-credentials, database-cluster-backups,
              database-cluster-restores, backup-storages, monitoring-instances]
  tenant_actions:
    description: Actions checked for every resource in O(tenants) mode.
    type: list
    elements: str
    default: [read, create]
  policy_file:
    description:
      - Evaluate this local file instead of the ConfigMap. Like C(everestctl --policy-file), a YAML ConfigMap manifest
        with C(data.policy.csv) is accepted (only C(policy.csv) is used, C(data.enabled) is ignored), otherwise the
        whole file is the policy.
      - Enforcement is always on for a file, as in everestctl, whatever O(assume_enabled) says; an invalid policy fails
        the task.
    type: path
  policy:
    description:
      - Evaluate this policy text instead of the ConfigMap. Enforcement is always on, as with a file, whatever
        O(assume_enabled) says; an invalid policy fails the task.
    type: str
  assume_enabled:
    description:
      - Only has an effect with the ConfigMap (neither O(policy) nor O(policy_file) given).
      - With V(false), RBAC enforcement follows the ConfigMap's C(data.enabled), like C(everestctl settings rbac can)
        without C(--policy-file) - when it is not C("true") every check is allowed (see the description).
      - With V(true) the ConfigMap's policy is evaluated as if C(data.enabled) were C("true"), to test a policy before
        enabling it; an invalid policy or a missing C(policy.csv) then fails the task.
      - With O(policy) or O(policy_file) enforcement is always on, so the value is ignored; V(true) changes nothing.
    type: bool
    default: false
  cross_check_with_everestctl:
    description:
      - Also ask C(everestctl settings rbac can <subject> <action> <resource> <object> --policy-file <tmp>) for every
        check (the policy being evaluated written to a temporary file; enforcement on) and fail on any disagreement with
        this module's own answer. One everestctl process per check, so keep the list short.
      - A check with O(checks[].groups) asks C(can) for the subject and then each group until one answers C(Yes), and
        takes the OR of the answers, as Everest's server does for an SSO token.
      - Not available with O(tenants) (the matrix is too large for one process per check).
    type: bool
    default: false
extends_documentation_fragment:
  - virakcloud.everest.connection
  - virakcloud.everest.everestctl
  - virakcloud.everest.attributes.INFO_MODULE
notes:
  - An invalid policy fails the task when it is enforced (Everest answers every question with an error then), with the
    validation problems. With RBAC disabled in the ConfigMap (and O(assume_enabled=false)) it only gives a warning.
  - A malformed glob pattern (for example an unclosed C([)) passes Everest's validation; a request matched against it
    gets an error from Everest instead of an answer, so such a check fails the task. The patterns are also listed in
    RV(validation.messages) and as warnings.
  - O(policy_file) is read on the host that runs the module (the controller with C(ansible_connection=local)).
seealso:
  - module: virakcloud.everest.everest_rbac_policy
  - module: virakcloud.everest.everest_oidc
"""

EXAMPLES = r"""
- name: Tenant users may use their own namespace only
  virakcloud.everest.everest_rbac_check:
    checks:
      - {subject: acme_admin, action: create, resource: database-clusters, object: "acme/db1", expect: allow}
      - {subject: acme_admin, action: read, resource: database-clusters, object: "beta/db1", expect: deny}
      - {subject: acme_admin, action: read, resource: namespaces, object: "*", expect: deny}

- name: An SSO user (OIDC subject plus IdP groups) as Everest sees the token, compared with everestctl
  virakcloud.everest.everest_rbac_check:
    cross_check_with_everestctl: true
    checks:
      - {subject: 00u1a2b3c4, groups: [/acme/dbas, staff], action: create, resource: database-clusters, object: "ns-acme/db1", expect: allow}
      - {subject: 00u1a2b3c4, groups: [/acme/dbas, staff], action: read, resource: database-clusters, object: "ns-beta/db1", expect: deny}

- name: Test a policy before turning RBAC on
  virakcloud.everest.everest_rbac_check:
    assume_enabled: true
    checks: "{{ tenant_matrix }}"
  register: matrix

- name: Show the rule that allowed the first check
  ansible.builtin.debug:
    msg: "{{ matrix.results[0].rule }}"

- name: Evaluate a policy file from Git and compare with everestctl
  virakcloud.everest.everest_rbac_check:
    policy_file: "{{ playbook_dir }}/rbac/policy.csv"
    cross_check_with_everestctl: true
    checks:
      - {subject: admin, action: "*", resource: namespaces, object: all, expect: allow}
"""

RETURN = r"""
checks_total:
  description: Number of checks evaluated (in O(tenants) mode, the size of the matrix).
  returned: success
  type: int
  sample: 128
results:
  description: One entry per check, in order (empty in O(tenants) mode, where only RV(mismatches) are returned).
  returned: always
  type: list
  elements: dict
  contains:
    subject:
      description: As given.
      type: str
    groups:
      description: As given (only when given).
      type: list
      elements: str
    matched:
      description: The name (the subject or one of the groups) whose rule allowed the request; null when denied.
      type: str
    action:
      description: As given.
      type: str
    resource:
      description: As given.
      type: str
    object:
      description: As given.
      type: str
    expect:
      description: As given (null when not given).
      type: str
    allowed:
      description: Everest's answer.
      type: bool
    rule:
      description: The first rule that allowed the request (C(p, ...)), null when denied or when RBAC is disabled.
      type: str
    reason:
      description:
        - Why the answer is what it is. V(rule) - a rule matched (see RV(results[].rule)); V(no_rule) - no rule matched;
          V(rbac_disabled) - RBAC is disabled in the ConfigMap, so Everest allows the request without looking at the policy.
      type: str
      choices: [rule, no_rule, rbac_disabled]
    rule_line:
      description: Line of that rule in C(policy.csv); null for Everest's implicit C(role:admin) rules.
      type: int
    met:
      description: Whether the answer equals O(checks[].expect) (null when no expectation was given).
      type: bool
    everestctl:
      description: everestctl's answer (V(true) for C(Yes)) with O(cross_check_with_everestctl).
      type: bool
  sample:
    - {subject: alice, action: read, resource: database-clusters, object: "acme/db1", expect: allow, allowed: true,
       rule: "p, role:acme, database-clusters, *, acme/*", rule_line: 3, met: true}
rbac_enabled:
  description: Whether RBAC is enabled in the ConfigMap (null for a file or inline policy).
  returned: always
  type: bool
enforced:
  description: Whether the answers were computed with enforcement on (false only for a disabled ConfigMap without O(assume_enabled)).
  returned: always
  type: bool
messages:
  description: One readable line per mismatch of the O(tenants) matrix, naming both tenants.
  returned: when O(tenants) is used
  type: list
  elements: str
  sample: ["tenant alice -> tenant bob: user alice CAN read database-clusters on ns-bob/* (expected deny) via rule 'g, alice, role:admin' (line 3)"]
tenants_checked:
  description: Number of tenants in the matrix (with O(cluster_tenants), those found in the policy included).
  returned: when O(tenants) is used
  type: int
  sample: 12
mismatches:
  description:
    - The results whose expectation was not met (the task fails when this is not empty).
    - In O(tenants) mode each also names C(tenant) (the user's tenant) and C(target_tenant) (the namespace's tenant).
  returned: always
  type: list
  elements: dict
source:
  description: Where the policy came from (C(configmap everest-system/everest-rbac), C(file <path>) or C(inline)).
  returned: always
  type: str
validation:
  description:
    - Result of validating the policy with Everest's rules, plus malformed glob patterns (which Everest accepts).
    - With an enforced invalid policy the task fails; with RBAC disabled the task continues and RV(validation.ok) is false.
  returned: success, and failures caused by an invalid policy
  type: dict
  contains:
    ok:
      description: Whether Everest would accept the policy (malformed glob patterns do not make this false).
      type: bool
    messages:
      description: One text per problem, or the reason the policy could not be loaded (C(policy.csv not found ...)).
      type: list
      elements: str
  sample: {ok: true, messages: []}
disagreements:
  description:
    - With O(cross_check_with_everestctl), the checks on which everestctl's answer differs from this module's.
    - For a check with O(checks[].groups), everestctl is asked for the subject and for each group (C(can) takes one
      name and knows nothing of tokens) and its answers are OR'd, as Everest's server combines them.
  returned: when there is a disagreement (the task then fails)
  type: list
  elements: dict
  contains:
    index:
      description: Position of the check in O(checks).
      type: int
    check:
      description: Subject, action, resource and object asked.
      type: dict
    module:
      description: This module's answer (enforcement on).
      type: bool
    everestctl:
      description: everestctl's answer.
      type: bool
    cmd:
      description: The (last) everestctl command that was run.
      type: list
      elements: str
    cmds:
      description: Every everestctl command run for the check (one per name asked).
      type: list
      elements: list
"""

from ansible_collections.virakcloud.everest.plugins.module_utils import _constants
from ansible_collections.virakcloud.everest.plugins.module_utils import _rbac
from ansible_collections.virakcloud.everest.plugins.module_utils import _rbac_check
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError
from ansible_collections.virakcloud.everest.plugins.module_utils._module import EverestModule

ARGUMENT_SPEC = dict(
    tenants=dict(
        type="list",
        elements="dict",
        options=dict(
            name=dict(type="str", required=True),
            namespace=dict(type="str", required=True),
            users=dict(type="list", elements="str", default=[]),
            sso_subjects=dict(type="list", elements="str", default=[]),
            sso_groups=dict(type="list", elements="str", default=[]),
            shared=dict(type="list", elements="str", default=[]),
            grants=dict(
                type="list",
                elements="dict",
                default=[],
                options=dict(
                    resource=dict(type="str", required=True),
                    action=dict(type="str", required=True),
                ),
            ),
        ),
    ),
    cluster_tenants=dict(type="bool", default=False),
    overlay_blocks=dict(
        type="list",
        elements="dict",
        options=dict(
            block=dict(type="str", required=True),
            policies=dict(type="list", elements="str", default=[]),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            tenant=dict(type="str"),
            namespace=dict(type="str"),
            shared_members=dict(type="list", elements="str", default=[]),
            group_members=dict(type="list", elements="str", default=[]),
        ),
    ),
    tenant_resources=dict(type="list", elements="str", default=list(_constants.TENANT_RESOURCES)),
    tenant_actions=dict(type="list", elements="str", default=list(_constants.ISOLATION_ACTIONS)),
    checks=dict(
        type="list",
        elements="dict",
        options=dict(
            subject=dict(type="str", required=True),
            groups=dict(type="list", elements="str", default=[]),
            action=dict(type="str", required=True, choices=list(_constants.RBAC_ACTIONS)),
            resource=dict(type="str", required=True),
            object=dict(type="str", required=True),
            expect=dict(type="str", choices=["allow", "deny"]),
        ),
    ),
    policy_file=dict(type="path"),
    policy=dict(type="str"),
    assume_enabled=dict(type="bool", default=False),
    cross_check_with_everestctl=dict(type="bool", default=False),
)


def main():
    module = EverestModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
        k8s=True,
        everestctl=True,
        mutually_exclusive=[("policy", "policy_file"), ("checks", "tenants")],
        required_one_of=[("checks", "tenants")],
    )
    checks = module.params["checks"] or []
    matrix = module.params["tenants"] is not None
    if matrix and module.params["cross_check_with_everestctl"]:
        module.fail_json(
            msg="cross_check_with_everestctl cannot be used with tenants (one everestctl process per matrix check); cross-check a sample with checks instead"
        )
    try:
        src = _rbac_check.load_source(module)
        if module.params["overlay_blocks"] and not src.missing:
            src.text = _rbac_check.overlay(src.text, module.params["overlay_blocks"])
            src.label += " with the planned blocks"
        if matrix and module.params["cluster_tenants"]:
            module.params["tenants"] = _rbac_check.with_cluster_tenants(module.params["tenants"], src.text)
        source, rbac_enabled = src.label, src.rbac_enabled
        # reference §5.2: without --policy-file, `can` answers Yes when RBAC is disabled, before it even loads the policy;
        # a file or inline policy is always enforced (assume_enabled changes nothing there)
        enforced = rbac_enabled is not False or module.params["assume_enabled"]
        policy = _rbac.parse_policy(src.text or "")
        problems = [] if src.missing else _rbac.validate(policy)
        errors = [e for e in problems if e.everest]
        hazards = [e for e in problems if not e.everest]
        validation = {"ok": not (src.missing or errors), "messages": [src.missing] if src.missing else [str(e) for e in problems]}
        if enforced and src.missing:
            module.fail_json(msg=src.missing, validation=validation, source=source, rbac_enabled=rbac_enabled)
        if enforced and errors:
            module.fail_json(
                msg="the RBAC policy (%s) is invalid, Everest answers every question with an error: %s"
                % (source, _rbac.everest_error_text(errors, command="can").replace("\n", " - ")),
                validation=validation,
                source=source,
                rbac_enabled=rbac_enabled,
            )
        if not enforced and not validation["ok"]:
            module.warn(
                "RBAC is disabled in %s (enabled: %r), so Everest allows every request without loading the policy and every "
                "check is answered 'allowed'; but the policy is invalid and Everest will reject it once RBAC is enabled: %s"
                % (source, src.enabled_value, src.missing or _rbac.everest_error_text(errors, command="can").replace("\n", " - "))
            )
        for hazard in hazards:
            module.warn("RBAC policy (%s): %s" % (source, hazard))
        enforcer = _rbac.Enforcer(policy, check=False)
        if matrix:
            total, mismatches = _rbac_check.evaluate_matrix(enforcer, enforced, module.params)
            results = []
        else:
            results = _rbac_check.evaluate(enforcer, checks, enforced)
            total = len(checks)
            mismatches = [dict(r, index=i) for i, r in enumerate(results) if r["met"] is False]
        disagreements = []
        if module.params["cross_check_with_everestctl"] and not matrix:
            if validation["ok"]:
                disagreements = _rbac_check.cross_check(module, src.text, checks, results, enforcer)
            else:
                module.warn(
                    "cross_check_with_everestctl skipped: the policy is invalid, so everestctl settings rbac can --policy-file "
                    "would answer every question with an error"
                )
    except EverestError as exc:
        module.fail_from(exc)

    output = {
        "changed": False,
        "results": results,
        "rbac_enabled": rbac_enabled,
        "enforced": enforced,
        "source": source,
        "mismatches": mismatches,
        "checks_total": total,
        "validation": validation,
    }
    if matrix:
        output["messages"] = [_rbac_check.mismatch_message(m) for m in mismatches]
        output["tenants_checked"] = len(module.params["tenants"])
    if disagreements:
        output["disagreements"] = disagreements
        module.fail_json(
            msg="everestctl disagrees with this module on %d of %d check(s): %s"
            % (
                len(disagreements),
                total,
                "; ".join(
                    "#%d %s %s %s %s: module %s, everestctl %s"
                    % (
                        d["index"],
                        d["check"]["subject"],
                        d["check"]["action"],
                        d["check"]["resource"],
                        d["check"]["object"],
                        "allow" if d["module"] else "deny",
                        "allow" if d["everestctl"] else "deny",
                    )
                    for d in disagreements
                ),
            ),
            **output,
        )
    if mismatches:
        hint = ""
        if not enforced:
            hint = (
                " - RBAC is disabled in the ConfigMap, so Everest allows everything; enable it, or set assume_enabled: true "
                "to test the policy as if it were enabled"
            )
        module.fail_json(
            msg="%d of %d RBAC check(s) did not get the expected answer (%s)%s:\n%s" % (len(mismatches), total, source, hint, _rbac_check.table(mismatches)),
            **output,
        )
    module.exit_json(**output)


if __name__ == "__main__":
    main()
