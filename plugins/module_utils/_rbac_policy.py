# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""everest_rbac_policy: edit managed blocks of Everest's RBAC policy with every guard before anything is written.

* ``requested_blocks``: the blocks of the task, rendered and checked (names, terms, a tenant's lines stay inside it);
* ``compute``: the new policy text and Everest's validation of it (``_rbac``);
* ``RbacPolicy``: ownership of the blocks (``check_owners``), validity, tenant isolation (``check_isolation``) and the
  optional everestctl validation, then the write through ``_rbac_store`` (the ConfigMap with a conditional update, or
  a local file under a lock), with a backup of the previous policy when asked; results and diffs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import os
import tempfile
import time

from ansible_collections.virakcloud.everest.plugins.module_utils import _constants
from ansible_collections.virakcloud.everest.plugins.module_utils import _k8s
from ansible_collections.virakcloud.everest.plugins.module_utils import _ownership
from ansible_collections.virakcloud.everest.plugins.module_utils import _rbac
from ansible_collections.virakcloud.everest.plugins.module_utils import _rbac_store
from ansible_collections.virakcloud.everest.plugins.module_utils import _validation
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError, EverestctlError, K8sAlreadyExists

# Every tenant's block lives in one ConfigMap, and each attempt holds a window (GET, validation by everestctl, PUT)
# in which any other writer's PUT makes ours conflict. Of N writers at least one wins each round, so the last of N
# may need N attempts: per-tenant mode with forks 20 lost 16 in a row. 64 covers forks up to about 50 with margin;
# the backoff (0.05 s doubling to 2 s, jittered) spreads the rounds, so the worst case stays around two minutes.
CONFLICT_ATTEMPTS = 64
DEFAULT_BACKUP_DIR = os.path.join(os.environ.get("HOME") or tempfile.gettempdir(), ".ansible", "backups", _constants.RBAC_CONFIGMAP)


class PolicyInvalid(EverestError):
    pass


# ---------------------------------------------------------------------------------------------------------------
# pure helpers


class Request:
    """One requested block: name, state, rendered lines (None for absent) and its tenant metadata."""

    def __init__(self, name, state, lines, tenant=None, namespace=None, takeover_from=None, shared_members=None, group_members=None):
        self.name = name
        self.state = state
        self.lines = lines
        self.tenant = tenant
        self.namespace = namespace or name
        self.takeover_from = takeover_from
        self.shared_members = list(shared_members or [])
        self.group_members = list(group_members or [])

    def content(self):
        """The block's lines as written: the tenant metadata line first for a tenant's block, then one line per member
        it shares on purpose with other tenants' blocks, then one per member that is an IdP group."""
        if self.lines is None or self.tenant is None:
            return self.lines
        return _rbac.tenant_block_lines(self.tenant, self.namespace, self.lines, self.shared_members, self.group_members)


def _check_request(request, where, allow_unknown_actions):
    """Problems of one request that can be found without reading anything."""
    problems = []
    if request.tenant is not None:
        for problem in (_validation.check_tenant_name(request.tenant), _validation.check_namespace(request.namespace)):
            if problem:
                problems.append("%s: %s" % (where, problem))
        if request.lines is not None and not problems:
            problems.extend(
                "%s: %s" % (where, p)
                for p in _rbac.tenant_scope_problems(
                    request.lines, _constants.tenant_role(request.namespace), request.namespace, allow_unknown_actions=allow_unknown_actions
                )
            )
        if request.lines is not None:
            problems.extend("%s: %s" % (where, p) for p in _shared_problems(request))
    elif request.shared_members or request.group_members:
        problems.append("%s: shared_members and group_members need tenant (only a tenant's block carries member markers)" % where)
    elif request.lines is not None and not allow_unknown_actions:
        problems.extend("%s: %s" % (where, p) for p in _unknown_actions(request.lines))
    return problems


def _shared_problems(request):
    """shared_members and group_members must be members the block binds, each a name usable as an SSO identity or user."""
    members = _rbac.block_members(request.lines)
    problems = []
    for what, names in (("shared member", request.shared_members), ("group member", request.group_members)):
        for name in names:
            problem = _validation.check_sso_name(name)
            if problem:
                problems.append("%s %r %s" % (what, name, problem))
            elif name not in members:
                problems.append("%s %r is bound by no g line of the block" % (what, name))
    return problems


def _unknown_actions(lines):
    out = []
    for line in lines:
        fields = [f.strip() for f in line.split(",")]
        if fields[0] == "p" and len(fields) == 5:
            problem = _rbac.unknown_action_problem(line, fields[3])
            if problem:
                out.append(problem)
    return out


def requested_blocks(items, batch, allow_unknown_actions):
    """[Request] from the task's block items (the list form when ``batch``); raises EverestError naming every bad item."""
    problems = []
    result = []
    seen = set()
    for index, item in enumerate(items):
        name, state, policies = item["block"], item["state"], item.get("policies") or []
        where = "blocks[%d]" % index if batch else "policies"
        meta = dict((k, item.get(k)) for k in ("tenant", "namespace", "takeover_from", "shared_members", "group_members"))
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
        problems.extend(_check_request(request, where, allow_unknown_actions))
        result.append(request)
    if problems:
        raise EverestError("%d policy item(s) rejected before anything was read or written: %s" % (len(problems), "; ".join(problems)), problems=problems)
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
        raise IsolationBroken(
            "writing this RBAC policy would break tenant isolation, nothing was written: %s%s"
            % (texts[0], "" if len(texts) == 1 else " (and %d more, see isolation_violations)" % (len(texts) - 1)),
            isolation_violations=texts,
        )
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
    """One run of everest_rbac_policy: ``items`` are its block items (``batch``: the ``blocks`` form was used)."""

    def __init__(self, module, items, batch):
        self.module = module
        self.params = module.params
        self.batch = batch
        self.requested = requested_blocks(items, batch, module.params.get("allow_unknown_actions"))
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
            raise PolicyInvalid(
                "the resulting RBAC policy is invalid, nothing was written: %s" % blocking[0]
                + ("" if len(blocking) == 1 else " (and %d more problem(s), see validation.messages)" % (len(blocking) - 1)),
                validation={"ok": False, "messages": describe(outcome.errors, outcome.after, outcome.blocking), "everestctl": False},
            )

    def everestctl_validate(self, text):
        if not self.params["validate_with_everestctl"] or text in self.validated_by_everestctl:
            return
        try:
            fd, path = tempfile.mkstemp(prefix=_constants.RBAC_CONFIGMAP + "-", suffix=".csv")
        except (IOError, OSError) as exc:
            raise EverestError("cannot create a temporary file for everestctl settings rbac validate: %s; nothing was written (check TMPDIR)" % exc)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            try:
                self.module.everestctl.run("rbac_validate", policy_file=path)
            except EverestctlError as exc:
                raise PolicyInvalid(
                    "everestctl says the resulting RBAC policy is invalid, nothing was written: %s" % exc.msg,
                    validation={"ok": False, "messages": [exc.msg], "everestctl": True},
                    rc=exc.rc,
                    stdout=exc.stdout,
                    stderr=exc.stderr,
                    cmd=exc.cmd,
                )
        finally:
            os.unlink(path)
        self.validated_by_everestctl.add(text)

    # -- backups ---------------------------------------------------------------------------------------------
    def backup_configmap(self, text):
        name = "%s.%s.%s" % (_constants.RBAC_CONFIGMAP, _constants.RBAC_POLICY_KEY, self.stamp)
        self.backup_written = _rbac_store.write_backup(text, self.params.get("backup_dir") or DEFAULT_BACKUP_DIR, name)
        return self.backup_written

    def backup_file(self, policy_file):
        self.backup_written = policy_file.backup(self.params.get("backup_dir"))
        return self.backup_written

    # -- results ---------------------------------------------------------------------------------------------
    def result(self, outcome, changed, extra):
        blocks = _rbac.get_blocks(outcome.after)
        out = {
            "changed": changed,
            "validation": {
                "ok": not outcome.blocking,
                "messages": describe(outcome.errors, outcome.after, outcome.blocking),
                "everestctl": bool(self.params["validate_with_everestctl"]),
            },
        }
        for message in describe([e for e in outcome.errors if not any(e is b for b in outcome.blocking)], outcome.after, []):
            self.module.warn("RBAC policy: %s" % message)
        if self.batch:
            before_blocks = _rbac.get_blocks(outcome.before or "")
            out["results"] = [
                {"block": r.name, "state": r.state, "policy": blocks.get(r.name, []), "changed": before_blocks.get(r.name) != blocks.get(r.name)}
                for r in self.requested
            ]
        else:
            out["policy"] = blocks.get(self.requested[0].name, [])
        for warning in self.isolation_warnings:
            self.module.warn("tenant isolation already broken before this task (not by it): %s" % warning)
        out["enabled"] = None if outcome.enabled_after is None else outcome.enabled_after == "true"
        if outcome.backup_file:
            out["backup_file"] = outcome.backup_file
        if self.module._diff:  # pylint: disable=protected-access
            diffs = [
                {
                    "before": outcome.before or "",
                    "after": outcome.after,
                    "before_header": "%s (before)" % extra["header"],
                    "after_header": "%s (after)" % extra["header"],
                }
            ]
            if outcome.enabled_before != outcome.enabled_after:
                diffs.append(
                    {
                        "before": "enabled: %s\n" % outcome.enabled_before,
                        "after": "enabled: %s\n" % outcome.enabled_after,
                        "before_header": "%s enabled (before)" % extra["where"],
                        "after_header": "%s enabled (after)" % extra["where"],
                    }
                )
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
        where = _rbac_store.CONFIGMAP
        extra = {"header": "%s %s" % (where, _constants.RBAC_POLICY_KEY), "where": where}
        outcome = Outcome()
        current = _rbac_store.read_configmap(client)
        if current is None:
            return self.create_configmap(client, outcome, extra)
        differs = self.evaluate(current.get("data") or {}, outcome)
        self.check(outcome)
        extra["keys"] = {"configmap": _rbac_store.configmap_info(current)}
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
                attempt.backup_file = self.backup_configmap(attempt.before)
            outcome.__dict__.update(attempt.__dict__)
            new = copy.deepcopy(obj)
            new_data = dict(data)
            new_data[_constants.RBAC_POLICY_KEY] = attempt.after
            if attempt.enabled_after is not None:
                new_data[_constants.RBAC_ENABLED_KEY] = attempt.enabled_after
            new["data"] = new_data
            return new

        try:
            changed, after = _rbac_store.update_configmap(client, mutate, CONFLICT_ATTEMPTS)
        except EverestError as exc:
            raise self.with_backup(exc)
        extra["keys"] = {"configmap": _rbac_store.configmap_info(after)}
        return self.result(outcome, changed, extra)

    def with_backup(self, exc):
        """``exc`` naming the backup this run wrote before failing (the backup is kept: it is the previous policy)."""
        if self.backup_written and "backup_file" not in exc.details:
            exc.msg += "; the previous policy had already been saved to %s (kept)" % self.backup_written
            exc.details["backup_file"] = self.backup_written
        return exc

    def create_configmap(self, client, outcome, extra):
        if not self.params["create_configmap"]:
            raise EverestError(
                "ConfigMap %s/%s does not exist: Everest is probably not installed in this cluster (or kubeconfig/context "
                "point at another cluster); install Everest, or set create_configmap: true to create it"
                % (_constants.SYSTEM_NAMESPACE, _constants.RBAC_CONFIGMAP)
            )
        data = {_constants.RBAC_POLICY_KEY: _constants.RBAC_CHART_DEFAULT_POLICY, _constants.RBAC_ENABLED_KEY: "false"}
        self.evaluate(data, outcome)
        outcome.before = ""
        outcome.enabled_before = None
        self.check(outcome)
        extra["keys"] = {"configmap": _rbac_store.configmap_info(None)}
        self.everestctl_validate(outcome.after)
        if self.module.check_mode:
            return self.result(outcome, True, extra)
        try:
            created = _rbac_store.create_configmap(client, {_constants.RBAC_POLICY_KEY: outcome.after, _constants.RBAC_ENABLED_KEY: outcome.enabled_after})
        except K8sAlreadyExists:
            return self.run_configmap()  # created by someone else meanwhile: edit it like any other
        extra["keys"] = {"configmap": _rbac_store.configmap_info(created)}
        return self.result(outcome, True, extra)

    # -- file target -----------------------------------------------------------------------------------------
    def run_file(self):
        policy_file = _rbac_store.PolicyFile(self.module, self.params["policy_file"])
        with policy_file.locked():
            return self._file_locked(policy_file)

    def _file_locked(self, policy_file):
        target = policy_file.target
        extra = {"header": target, "where": target, "keys": {"policy_file": target}}
        outcome = Outcome()
        exists, raw_text = policy_file.read()
        manifest = _rbac_store.load_manifest(raw_text) if exists else None
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
        content = outcome.after if manifest is None else _rbac_store.dump_manifest(manifest, outcome.after, outcome.enabled_after)
        self.everestctl_validate(outcome.after)
        if self.params["backup"] and exists:
            outcome.backup_file = self.backup_file(policy_file)
        try:
            policy_file.replace(content.encode("utf-8"))
        except EverestError as exc:
            raise self.with_backup(exc)
        if manifest is not None:
            self.module.warn(
                "policy_file %s is a ConfigMap manifest and was re-serialised: its YAML comments and layout outside data.policy.csv are not preserved" % target
            )
        return self.result(outcome, True, extra)
