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
        renamed over the target, keeping its mode (and owner when allowed), so readers see either the old or the new
        policy, never a partial one. If any of these steps fails (disk full, permissions, ...) the task fails naming the
        file and the cause, the temporary file is removed and the target is unchanged. A symbolic link is followed
        (the file it points to is replaced, the link stays).
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

import copy
import os
import tempfile
import time

from ansible_collections.virakcloud.everest.plugins.module_utils import _constants
from ansible_collections.virakcloud.everest.plugins.module_utils import _k8s
from ansible_collections.virakcloud.everest.plugins.module_utils import _ownership
from ansible_collections.virakcloud.everest.plugins.module_utils import _validation
from ansible_collections.virakcloud.everest.plugins.module_utils import _rbac
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError, EverestctlError, K8sAlreadyExists
from ansible_collections.virakcloud.everest.plugins.module_utils._module import EverestModule

try:
    import fcntl
    HAS_FCNTL = True
except ImportError:  # pragma: no cover
    HAS_FCNTL = False

try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover
    HAS_YAML = False

CONFLICT_ATTEMPTS = 16
DEFAULT_BACKUP_DIR = os.path.join(os.environ.get("HOME") or tempfile.gettempdir(), ".ansible", "backups", _constants.RBAC_CONFIGMAP)

ARGUMENT_SPEC = dict(
    block=dict(type="str"),
    policies=dict(type="list", elements="raw", default=[]),
    tenant=dict(type="str"),
    namespace=dict(type="str"),
    takeover_from=dict(type="str"),
    blocks=dict(type="list", elements="dict", options=dict(
        block=dict(type="str", required=True),
        policies=dict(type="list", elements="raw", default=[]),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        tenant=dict(type="str"),
        namespace=dict(type="str"),
        takeover_from=dict(type="str"),
    )),
    isolation=dict(type="bool", default=True),
    allow_unknown_actions=dict(type="bool", default=False),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    enabled=dict(type="bool"),
    validate=dict(type="bool", default=True),
    validate_with_everestctl=dict(type="bool", default=False),
    backup=dict(type="bool", default=False),
    backup_dir=dict(type="path"),
    policy_file=dict(type="path"),
    create_configmap=dict(type="bool", default=False),
)


class PolicyInvalid(EverestError):
    pass


# ---------------------------------------------------------------------------------------------------------------
# pure helpers

class Request:
    """One requested block: name, state, rendered lines (None for absent) and its tenant metadata."""

    def __init__(self, name, state, lines, tenant=None, namespace=None, takeover_from=None):
        self.name = name
        self.state = state
        self.lines = lines
        self.tenant = tenant
        self.namespace = namespace or name
        self.takeover_from = takeover_from

    def content(self):
        """The block's lines as written: the tenant metadata line first for a tenant's block."""
        if self.lines is None or self.tenant is None:
            return self.lines
        return [_rbac.block_meta_line(self.tenant, self.namespace)] + self.lines


def _check_request(request, where, allow_unknown_actions):
    """Problems of one request that can be found without reading anything."""
    problems = []
    if request.tenant is not None:
        for problem in (_validation.check_tenant_name(request.tenant), _validation.check_namespace(request.namespace)):
            if problem:
                problems.append("%s: %s" % (where, problem))
        if request.lines is not None and not problems:
            problems.extend("%s: %s" % (where, p) for p in _rbac.tenant_scope_problems(
                request.lines, _constants.tenant_role(request.namespace), request.namespace,
                allow_unknown_actions=allow_unknown_actions))
    elif request.lines is not None and not allow_unknown_actions:
        problems.extend("%s: %s" % (where, p) for p in _unknown_actions(request.lines))
    return problems


def _unknown_actions(lines):
    out = []
    for line in lines:
        fields = [f.strip() for f in line.split(",")]
        if fields[0] == "p" and len(fields) == 5 and not _rbac._known_action(fields[3]):  # pylint: disable=protected-access
            out.append("%r names action %r, which matches none of Everest's actions (%s); it would grant nothing (set "
                       "allow_unknown_actions to write it anyway)" % (line, fields[3], ", ".join(_constants.RBAC_ACTIONS)))
    return out


def requested_blocks(params):
    """[Request] from the parameters; raises EverestError naming every bad item."""
    keys = ("tenant", "namespace", "takeover_from")
    if params.get("blocks") is not None:
        items = [(b["block"], b["state"], b.get("policies") or [], "blocks[%d]" % i, dict((k, b.get(k)) for k in keys))
                 for i, b in enumerate(params["blocks"])]
    else:
        items = [(params["block"], params["state"], params.get("policies") or [], "policies", dict((k, params.get(k)) for k in keys))]
    problems = []
    result = []
    seen = set()
    for name, state, policies, where, meta in items:
        problem = _rbac.check_block_name(name)
        if problem:
            problems.append("%s: %s" % (where, problem))
            continue
        if name in seen:
            problems.append("%s: block '%s' is listed twice" % (where, name))
            continue
        seen.add(name)
        if state == "absent":
            result.append(Request(name, state, None, **meta))
            continue
        lines = []
        for index, item in enumerate(policies):
            label = "%s[%d]" % (where, index) if where == "policies" else "%s.policies[%d]" % (where, index)
            try:
                line = _rbac.render_line(item)
            except _rbac.ItemError as exc:
                problems.append("%s: %s" % (label, exc))
                continue
            if line not in lines:
                lines.append(line)
        request = Request(name, state, lines, **meta)
        problems.extend(_check_request(request, where, params.get("allow_unknown_actions")))
        result.append(request)
    if problems:
        raise EverestError("%d policy item(s) rejected before anything was read or written: %s" % (len(problems), "; ".join(problems)),
                           problems=problems)
    return result


def check_owners(text, requests, namespace_owner):
    """Raise OwnershipError when a request would take or remove another tenant's block. A block's owner is its metadata
    line, else (blocks from before the metadata existed) the tenant label of the namespace it is named after, read
    through ``namespace_owner(name)`` only for such blocks."""
    try:
        existing = _rbac.get_blocks(text)
    except _rbac.BlockError:
        return  # compute() reports the broken markers
    for request in requests:
        if request.tenant is None or request.name not in existing:
            continue
        owner, _namespace = _rbac.block_meta(existing[request.name])
        if owner is None and namespace_owner is not None:
            owner = namespace_owner(request.name)
        if request.state == "absent":
            _ownership.check_remove("RBAC block", request.name, owner, request.tenant)
        else:
            _ownership.check_take("RBAC block", request.name, owner, request.tenant, request.takeover_from)


class IsolationBroken(EverestError):
    pass


def check_isolation(before, after):
    """Raise IsolationBroken when ``after`` lets a member of one tenant's block reach another tenant's namespace and
    ``before`` did not (violations already present are returned, to be reported as warnings)."""
    resources, actions = _constants.TENANT_RESOURCES, _constants.ISOLATION_ACTIONS
    try:
        old = set(_violation_keys(_rbac.isolation_violations(before or "", resources, actions, limit=1000)))
    except ValueError:
        old = set()
    new = _rbac.isolation_violations(after, resources, actions, limit=1000)
    added = [v for v in new if _violation_key(v) not in old]
    if added:
        texts = [_rbac.violation_text(v) for v in added]
        raise IsolationBroken("writing this RBAC policy would break tenant isolation, nothing was written: %s%s" % (
            texts[0], "" if len(texts) == 1 else " (and %d more, see isolation_violations)" % (len(texts) - 1)),
            isolation_violations=texts)
    return [_rbac.violation_text(v) for v in new]


def _violation_key(v):
    return (v["member"], v["target_namespace"], v["resource"], v["rule"])


def _violation_keys(violations):
    return [_violation_key(v) for v in violations]


def describe(errors, text, blocking=None):
    """One text per problem; a hazard not in ``blocking`` (a list of problems) is marked as a mere warning."""
    owner = _rbac.line_blocks(text)
    messages = []
    for error in errors:
        where = ""
        if error.line:
            block = owner.get(error.line)
            where = "line %d (%s): %r: " % (error.line, "block '%s'" % block if block else "outside managed blocks", error.text)
        elif error.text is None:
            where = "implicit admin rule: "
        tag = ""
        if not error.everest:
            tag = ", stricter than Everest"
            if blocking is not None and not any(error is b for b in blocking):
                tag += "; warning only: not in a block written by this task"
        messages.append("%s%s [%s%s]" % (where, error.message, error.rule, tag))
    return messages


def compute(text, changes):
    """(new_text, validation errors, blocking errors) for applying ``changes`` to ``text``.

    Blocking: every Everest problem anywhere, and glob hazards only inside the blocks this task writes
    (``_rbac.blocking_problems``). Raises EverestError on unusable markers.
    """
    try:
        new_text = _rbac.apply_blocks(text, changes)
    except _rbac.BlockError as exc:
        raise EverestError("the policy's managed-block markers are inconsistent, so no block can be edited safely: %s" % exc)
    errors = _rbac.validate(new_text)
    written = [name for name, lines in changes.items() if lines is not None]
    return new_text, errors, _rbac.blocking_problems(errors, new_text, written)


def enabled_text(value):
    return "true" if value else "false"


class Outcome:
    """What one evaluation of the change gave (the last attempt's, for the ConfigMap)."""

    def __init__(self):
        self.before = None
        self.after = None
        self.enabled_before = None
        self.enabled_after = None
        self.errors = []
        self.blocking = []
        self.backup_file = None


# ---------------------------------------------------------------------------------------------------------------
# the module

class RbacPolicy:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.requested = requested_blocks(module.params)
        self.changes = dict((r.name, r.content()) for r in self.requested)
        self._namespace_owners = None
        self.isolation_warnings = []
        self.validated_by_everestctl = set()
        self.backup_written = None  # path of a backup written by this run (reported even when the write then fails)
        self.stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + ".%06d.%d" % (int((time.time() % 1) * 1e6), os.getpid())

    # -- validation ------------------------------------------------------------------------------------------
    def namespace_owner(self, name):
        """Owner of namespace ``name`` by its tenant label (one labelled Namespace LIST, only for blocks without metadata)."""
        if self._namespace_owners is None:
            items = self.module.k8s.list(_k8s.path("v1", "namespaces"), label_selector=_constants.TENANT_LABEL).get("items") or []
            self._namespace_owners = _ownership.namespace_owner_map(items)
        return self._namespace_owners.get(name)

    def check(self, outcome, cluster=True):
        """Every guard on one computed change, before anything is written: ownership of the blocks, Everest's validation,
        and (O(isolation)) that no tenant can reach another's namespace afterwards."""
        check_owners(outcome.before or "", self.requested, self.namespace_owner if cluster else None)
        self._check_valid(outcome)
        if self.params["isolation"] and outcome.after != (outcome.before or "") and not outcome.blocking:
            self.isolation_warnings = check_isolation(outcome.before, outcome.after)

    def _check_valid(self, outcome):
        if outcome.blocking and self.params["validate"]:
            blocking = describe(outcome.blocking, outcome.after, outcome.blocking)
            raise PolicyInvalid("the resulting RBAC policy is invalid, nothing was written: %s" % blocking[0]
                                + ("" if len(blocking) == 1 else " (and %d more problem(s), see validation.messages)" % (len(blocking) - 1)),
                                validation={"ok": False, "messages": describe(outcome.errors, outcome.after, outcome.blocking),
                                            "everestctl": False})

    def everestctl_validate(self, text):
        if not self.params["validate_with_everestctl"] or text in self.validated_by_everestctl:
            return
        try:
            fd, path = tempfile.mkstemp(prefix=_constants.RBAC_CONFIGMAP + "-", suffix=".csv")
        except (IOError, OSError) as exc:
            raise EverestError("cannot create a temporary file for everestctl settings rbac validate: %s; nothing was written "
                               "(check TMPDIR)" % exc)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            try:
                self.module.everestctl.run("rbac_validate", policy_file=path)
            except EverestctlError as exc:
                raise PolicyInvalid("everestctl says the resulting RBAC policy is invalid, nothing was written: %s" % exc.msg,
                                    validation={"ok": False, "messages": [exc.msg], "everestctl": True},
                                    rc=exc.rc, stdout=exc.stdout, stderr=exc.stderr, cmd=exc.cmd)
        finally:
            os.unlink(path)
        self.validated_by_everestctl.add(text)

    # -- backups ---------------------------------------------------------------------------------------------
    def backup(self, text, default_dir, basename):
        directory = self.params.get("backup_dir") or default_dir
        path = os.path.join(directory, "%s.%s" % (basename, self.stamp))
        try:
            if not os.path.isdir(directory):
                os.makedirs(directory, 0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(text.encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
        except (IOError, OSError) as exc:
            raise EverestError("cannot write the backup %s: %s; fix backup_dir (nothing was written to the policy)" % (path, exc))
        self.backup_written = path
        return path

    # -- results ---------------------------------------------------------------------------------------------
    def result(self, outcome, changed, extra):
        blocks = _rbac.get_blocks(outcome.after)
        out = {"changed": changed, "validation": {
            "ok": not outcome.blocking, "messages": describe(outcome.errors, outcome.after, outcome.blocking),
            "everestctl": bool(self.params["validate_with_everestctl"])}}
        for message in describe([e for e in outcome.errors if not any(e is b for b in outcome.blocking)], outcome.after, []):
            self.module.warn("RBAC policy: %s" % message)
        if self.params.get("blocks") is not None:
            before_blocks = _rbac.get_blocks(outcome.before or "")
            out["results"] = [{"block": r.name, "state": r.state, "policy": blocks.get(r.name, []),
                               "changed": before_blocks.get(r.name) != blocks.get(r.name)} for r in self.requested]
        else:
            out["policy"] = blocks.get(self.requested[0].name, [])
        for warning in self.isolation_warnings:
            self.module.warn("tenant isolation already broken before this task (not by it): %s" % warning)
        out["enabled"] = None if outcome.enabled_after is None else outcome.enabled_after == "true"
        if outcome.backup_file:
            out["backup_file"] = outcome.backup_file
        if self.module._diff:  # pylint: disable=protected-access
            diffs = [{"before": outcome.before or "", "after": outcome.after,
                      "before_header": "%s (before)" % extra["header"], "after_header": "%s (after)" % extra["header"]}]
            if outcome.enabled_before != outcome.enabled_after:
                diffs.append({"before": "enabled: %s\n" % outcome.enabled_before, "after": "enabled: %s\n" % outcome.enabled_after,
                              "before_header": "%s enabled (before)" % extra["where"], "after_header": "%s enabled (after)" % extra["where"]})
            out["diff"] = diffs
        out.update(extra.get("keys", {}))
        return out

    # -- ConfigMap target ------------------------------------------------------------------------------------
    def evaluate(self, data, outcome):
        outcome.before = data.get(_constants.RBAC_POLICY_KEY, "")
        if not isinstance(outcome.before, str):
            outcome.before = ""
        outcome.after, outcome.errors, outcome.blocking = compute(outcome.before, self.changes)
        outcome.enabled_before = data.get(_constants.RBAC_ENABLED_KEY)
        outcome.enabled_after = outcome.enabled_before if self.params["enabled"] is None else enabled_text(self.params["enabled"])
        return outcome.after != outcome.before or outcome.enabled_after != outcome.enabled_before

    def run_configmap(self):
        client = self.module.k8s
        path = _k8s.path("v1", "configmaps", _constants.SYSTEM_NAMESPACE, _constants.RBAC_CONFIGMAP)
        where = "%s/%s" % (_constants.SYSTEM_NAMESPACE, _constants.RBAC_CONFIGMAP)
        extra = {"header": "%s %s" % (where, _constants.RBAC_POLICY_KEY), "where": where}
        outcome = Outcome()
        current = client.get_or_none(path)
        if current is None:
            return self.create_configmap(client, outcome, extra)
        differs = self.evaluate(current.get("data") or {}, outcome)
        self.check(outcome)
        extra["keys"] = {"configmap": self.cm_info(current)}
        if differs:
            self.everestctl_validate(outcome.after)  # read-only, so also in check mode
        if not differs or self.module.check_mode:
            return self.result(outcome, differs, extra)

        def mutate(obj):
            data = obj.get("data") or {}
            attempt = Outcome()
            if not self.evaluate(data, attempt):
                outcome.__dict__.update(attempt.__dict__)
                return None
            self.check(attempt)
            self.everestctl_validate(attempt.after)
            if self.params["backup"]:
                attempt.backup_file = self.backup(attempt.before, DEFAULT_BACKUP_DIR, "%s.%s" % (_constants.RBAC_CONFIGMAP, _constants.RBAC_POLICY_KEY))
            outcome.__dict__.update(attempt.__dict__)
            new = copy.deepcopy(obj)
            new_data = dict(data)
            new_data[_constants.RBAC_POLICY_KEY] = attempt.after
            if attempt.enabled_after is not None:
                new_data[_constants.RBAC_ENABLED_KEY] = attempt.enabled_after
            new["data"] = new_data
            return new

        try:
            changed, after = _k8s.read_modify_write(client, path, mutate, attempts=CONFLICT_ATTEMPTS)
        except EverestError as exc:
            raise self.with_backup(exc)
        extra["keys"] = {"configmap": self.cm_info(after)}
        return self.result(outcome, changed, extra)

    def with_backup(self, exc):
        """``exc`` naming the backup this run wrote before failing (the backup is kept: it is the previous policy)."""
        if self.backup_written and "backup_file" not in exc.details:
            exc.msg += "; the previous policy had already been saved to %s (kept)" % self.backup_written
            exc.details["backup_file"] = self.backup_written
        return exc

    @staticmethod
    def cm_info(obj):
        return {"namespace": _constants.SYSTEM_NAMESPACE, "name": _constants.RBAC_CONFIGMAP,
                "resource_version": (obj.get("metadata") or {}).get("resourceVersion")}

    def create_configmap(self, client, outcome, extra):
        if not self.params["create_configmap"]:
            raise EverestError(
                "ConfigMap %s/%s does not exist: Everest is probably not installed in this cluster (or kubeconfig/context "
                "point at another cluster); install Everest, or set create_configmap: true to create it" % (
                    _constants.SYSTEM_NAMESPACE, _constants.RBAC_CONFIGMAP))
        data = {_constants.RBAC_POLICY_KEY: _constants.RBAC_CHART_DEFAULT_POLICY, _constants.RBAC_ENABLED_KEY: "false"}
        self.evaluate(data, outcome)
        outcome.before = ""
        outcome.enabled_before = None
        self.check(outcome)
        extra["keys"] = {"configmap": {"namespace": _constants.SYSTEM_NAMESPACE, "name": _constants.RBAC_CONFIGMAP, "resource_version": None}}
        self.everestctl_validate(outcome.after)
        if self.module.check_mode:
            return self.result(outcome, True, extra)
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": _constants.RBAC_CONFIGMAP, "namespace": _constants.SYSTEM_NAMESPACE},
                "data": {_constants.RBAC_POLICY_KEY: outcome.after, _constants.RBAC_ENABLED_KEY: outcome.enabled_after}}
        try:
            created = client.create(_k8s.path("v1", "configmaps", _constants.SYSTEM_NAMESPACE), body)
        except K8sAlreadyExists:
            return self.run_configmap()  # created by someone else meanwhile: edit it like any other
        extra["keys"] = {"configmap": self.cm_info(created)}
        return self.result(outcome, True, extra)

    # -- file target -----------------------------------------------------------------------------------------
    def run_file(self):
        target = os.path.realpath(self.params["policy_file"])  # a symlinked file is edited where it really is
        directory, base = os.path.split(target)
        if not os.path.isdir(directory):
            raise EverestError("policy_file %s: directory %s does not exist; create it first" % (target, directory))
        extra = {"header": target, "where": target, "keys": {"policy_file": target}}
        lock_path = os.path.join(directory, ".%s.lock" % base)
        try:
            lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except (IOError, OSError) as exc:
            raise EverestError("policy_file %s: cannot create the lock file %s: %s; nothing was changed (the directory must be "
                               "writable)" % (target, lock_path, exc))
        try:
            if HAS_FCNTL:
                fcntl.flock(lock_fd, fcntl.LOCK_EX)
            return self._file_locked(target, directory, base, extra)
        finally:
            os.close(lock_fd)  # releases the lock

    def _file_locked(self, target, directory, base, extra):
        outcome = Outcome()
        exists = os.path.exists(target)
        raw_text = ""
        mode = None
        owner = None
        manifest = None
        if exists:
            try:
                with open(target, "rb") as handle:
                    raw = handle.read()
            except (IOError, OSError) as exc:
                raise EverestError("policy_file %s: cannot read it: %s; nothing was changed" % (target, exc))
            try:
                raw_text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise EverestError("policy_file %s is not UTF-8 text; Everest policies are text" % target)
            info = os.stat(target)
            mode = info.st_mode & 0o7777
            owner = (info.st_uid, info.st_gid)
            manifest = _load_manifest(raw_text)
        if manifest is None and self.params["enabled"] is not None:
            raise EverestError("enabled needs the ConfigMap or a ConfigMap manifest; policy_file %s holds plain policy.csv text" % target)
        data = manifest["data"] if manifest is not None else {}
        outcome.before = data[_constants.RBAC_POLICY_KEY] if manifest is not None else raw_text
        outcome.after, outcome.errors, outcome.blocking = compute(outcome.before, self.changes)
        if manifest is not None:
            outcome.enabled_before = data.get(_constants.RBAC_ENABLED_KEY)
            outcome.enabled_after = outcome.enabled_before if self.params["enabled"] is None else enabled_text(self.params["enabled"])
        self.check(outcome, cluster=False)
        changed = outcome.after != outcome.before or outcome.enabled_after != outcome.enabled_before
        if changed and self.module.check_mode:
            self.everestctl_validate(outcome.after)
        if not changed or self.module.check_mode:
            return self.result(outcome, changed, extra)
        content = outcome.after if manifest is None else _dump_manifest(manifest, outcome.after, outcome.enabled_after)
        self.everestctl_validate(outcome.after)
        if self.params["backup"] and exists:
            outcome.backup_file = self.backup(raw_text, directory, base)
        try:
            _atomic_replace(target, directory, base, content.encode("utf-8"), mode, owner)
        except EverestError as exc:
            raise self.with_backup(exc)
        if manifest is not None:
            self.module.warn("policy_file %s is a ConfigMap manifest and was re-serialised: its YAML comments and layout "
                             "outside data.policy.csv are not preserved" % target)
        return self.result(outcome, True, extra)


def _load_manifest(text):
    """The parsed document when ``text`` is a ConfigMap manifest with a string data.policy.csv (EF §5.3), else None."""
    if not HAS_YAML or text.lstrip().startswith(("p,", "g,")):
        return None
    try:
        doc = yaml.safe_load(text)
    except Exception:  # pylint: disable=broad-except
        return None
    if isinstance(doc, dict) and isinstance(doc.get("data"), dict) and isinstance(doc["data"].get(_constants.RBAC_POLICY_KEY), str):
        return doc
    return None


if HAS_YAML:
    class _BlockDumper(yaml.SafeDumper):  # pylint: disable=too-many-ancestors
        """Multi-line strings (the policy) as literal blocks, so the manifest stays reviewable."""

    def _represent_str(dumper, value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

    _BlockDumper.add_representer(str, _represent_str)


def _dump_manifest(doc, policy_text, enabled):
    new = copy.deepcopy(doc)
    new["data"][_constants.RBAC_POLICY_KEY] = policy_text
    if enabled is not None:
        new["data"][_constants.RBAC_ENABLED_KEY] = enabled
    text = yaml.dump(new, Dumper=_BlockDumper, default_flow_style=False, sort_keys=False, allow_unicode=True)
    if yaml.safe_load(text) != new:  # never write a manifest that does not read back to what we meant
        raise EverestError("cannot serialise the ConfigMap manifest faithfully; nothing was written")
    return text


def _atomic_replace(target, directory, base, data, mode, owner):
    """Replace ``target`` by ``data`` atomically: temporary file in the same directory, fsync, chmod (and chown when
    allowed), rename. Any OS error becomes an EverestError naming the file, the step and the cause; the temporary
    file is removed and the target is left as it was (the rename is the only step that touches it)."""
    step = "create a temporary file in %s" % directory
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".%s." % base, suffix=".tmp")
        step = "write the temporary file %s" % tmp
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            step = "flush the temporary file %s to disk (fsync)" % tmp
            os.fsync(handle.fileno())
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        step = "set mode %o on the temporary file %s" % (mode, tmp)
        os.chmod(tmp, mode)
        if owner is not None and hasattr(os, "chown"):
            try:
                os.chown(tmp, owner[0], owner[1])
            except OSError:
                pass  # not allowed to give the file away: it keeps our ownership
        step = "rename %s over %s" % (tmp, target)
        os.rename(tmp, target)
        tmp = None
    except (IOError, OSError) as exc:
        raise EverestError("policy_file %s: cannot %s: %s; nothing was changed (the temporary file was removed, the policy file is "
                           "as it was)" % (target, step, exc), policy_file=target)
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    _fsync_dir(directory)


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def main():
    module = EverestModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
        k8s=True,
        everestctl=True,
        mutually_exclusive=[("blocks", "block"), ("blocks", "policies")],
        required_one_of=[("block", "blocks")],
    )
    try:
        engine = RbacPolicy(module)
        if module.params["policy_file"]:
            result = engine.run_file()
        else:
            result = engine.run_configmap()
    except EverestError as exc:
        module.fail_from(exc)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
