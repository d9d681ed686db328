# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""everest_rbac_check: the questions asked of Everest's RBAC policy and their answers, as Everest gives them.

* ``load_source``: the policy from the ConfigMap, a file or inline text (``_rbac_store``), with ``overlay`` of blocks
  a run is about to write and ``with_cluster_tenants`` (every tenant block of the policy joins the matrix);
* ``evaluate``: answers for a list of checks, a check with ``groups`` answered as Everest answers an SSO token
  (reference §9.2: allowed if the subject or any group is allowed); ``evaluate_matrix``: the tenant isolation matrix
  over every tenant's users, OIDC subjects and IdP groups, linear for policies without patterns in the namespace part;
  ``cross_check``: the same questions asked of everestctl (``can`` for the subject and each group, answers OR'd);
* ``mismatch_message`` and ``table``: what the module prints.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import tempfile

from ansible_collections.virakcloud.everest.plugins.module_utils import _constants
from ansible_collections.virakcloud.everest.plugins.module_utils import _rbac
from ansible_collections.virakcloud.everest.plugins.module_utils import _rbac_store
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError


class Source:
    """Where the policy came from: ``text`` (None when the ConfigMap has no policy.csv: ``missing`` says so),
    ``rbac_enabled`` (None for a file or inline policy), ``enabled_value`` (the raw ``enabled`` value of the ConfigMap) and ``label``."""

    def __init__(self, text, label, rbac_enabled=None, enabled_value=None, missing=None):
        self.text = text
        self.label = label
        self.rbac_enabled = rbac_enabled
        self.enabled_value = enabled_value
        self.missing = missing


def load_source(module):
    params = module.params
    if params.get("policy") is not None:
        return Source(params["policy"], "inline")
    if params.get("policy_file"):
        return Source(_rbac_store.read_policy_file(params["policy_file"]), "file %s" % params["policy_file"])
    obj = _rbac_store.read_configmap(module.k8s)
    if obj is None:
        raise EverestError(
            'configmaps "%s" not found in %s: Everest is probably not installed in this cluster (or the '
            'kubeconfig/context point at another cluster)' % (_constants.RBAC_CONFIGMAP, _constants.SYSTEM_NAMESPACE)
        )
    data = obj.get("data") or {}
    label = "configmap %s" % _rbac_store.CONFIGMAP
    enabled = data.get(_constants.RBAC_ENABLED_KEY)
    if _constants.RBAC_POLICY_KEY not in data:
        return Source(
            None, label, enabled == "true", enabled, missing="policy.csv not found in ConfigMap %s; Everest cannot load its RBAC policy" % _rbac_store.CONFIGMAP
        )
    return Source(data[_constants.RBAC_POLICY_KEY], label, enabled == "true", enabled)


def overlay(text, blocks):
    """``text`` with ``blocks`` (planned changes) applied, as everest_rbac_policy would write them."""
    changes = {}
    for block in blocks or []:
        if block["state"] == "absent":
            changes[block["block"]] = None
            continue
        lines = list(block["policies"] or [])
        if block.get("tenant"):
            namespace = block.get("namespace") or block["block"]
            lines = _rbac.tenant_block_lines(block["tenant"], namespace, lines, block.get("shared_members"), block.get("group_members"))
        changes[block["block"]] = lines
    try:
        return _rbac.apply_blocks(text or "", changes)
    except _rbac.BlockError as exc:
        raise EverestError("overlay_blocks cannot be applied to the policy: %s" % exc)


def with_cluster_tenants(tenants, text):
    """``tenants`` plus every other tenant whose block in ``text`` carries a metadata line (users = the block's members,
    no grants: they are checked as targets, and their users only for denials)."""
    names = set(t["name"] for t in tenants)
    namespaces = set(t["namespace"] for t in tenants)
    out = list(tenants)
    try:
        found = _rbac.tenant_blocks(text or "")
        blocks = _rbac.get_blocks(text or "")
    except _rbac.BlockError:
        found, blocks = {}, {}
    for tenant, (namespace, members, block) in sorted(found.items()):
        if tenant not in names and namespace not in namespaces:
            # a block does not say which members are accounts and which SSO identities: all are checked alike
            out.append({"name": tenant, "namespace": namespace, "users": members, "grants": [], "shared": _rbac.block_shared(blocks.get(block))})
    return out


KIND_WORDS = {"user": "user", "sso_subject": "OIDC subject", "sso_group": "IdP group"}


def mismatch_message(m):
    """One line per mismatch, naming both tenants (the role prints these as they are)."""
    text = "tenant %s -> tenant %s: %s %s %s %s %s on %s (expected %s)" % (
        m.get("tenant"),
        m.get("target_tenant"),
        KIND_WORDS.get(m.get("kind"), "user"),
        m["subject"],
        "CAN" if m["allowed"] else "CANNOT",
        m["action"],
        m["resource"],
        m["object"],
        m["expect"],
    )
    if m.get("rule"):
        text += " via rule '%s'%s" % (m["rule"], (" (line %d)" % m["rule_line"]) if m.get("rule_line") else " (implicit)")
    return text


def identities(check):
    """The names Everest enforces for a check, in its order (reference §9.2): the subject, then each group."""
    return [check["subject"]] + list(check.get("groups") or [])


def _can(enforcer, check):
    """(first matching rule, the identity it matched for), or (None, None): the subject, then each group, as Everest's
    ``enforce`` loop tries them; the first allowed one decides."""
    for name in identities(check):
        try:
            rule = enforcer.can(name, check["action"], check["resource"], check["object"])
        except _rbac.BadPattern as exc:
            raise EverestError(
                "the policy has a malformed glob pattern (%s); Everest answers every request matched against it with an "
                "error, including %s %s %s %s" % (exc, name, check["action"], check["resource"], check["object"])
            )
        if rule is not None:
            return rule, name
    return None, None


def evaluate(enforcer, checks, enforced):
    results = []
    for check in checks:
        item = dict((key, check.get(key)) for key in ("subject", "action", "resource", "object", "expect"))
        if check.get("groups"):
            item["groups"] = list(check["groups"])
        rule = matched = None
        if enforced:
            rule, matched = _can(enforcer, check)
            allowed = rule is not None
            item["reason"] = "rule" if allowed else "no_rule"
        else:
            allowed = True
            item["reason"] = "rbac_disabled"
        item["allowed"] = allowed
        item["matched"] = matched
        item["rule"] = rule.render() if rule is not None else None
        item["rule_line"] = rule.line if rule is not None else None
        item["met"] = None if not check.get("expect") else (check["expect"] == "allow") == allowed
        results.append(item)
    return results


def _pair_checks(user, target, own, granted, resources, actions):
    """The checks of one (user, target tenant) pair: allow exactly what the preset grants in the own namespace."""
    for resource in resources:
        obj = target["namespace"] if resource in _constants.RBAC_GLOBAL_RESOURCES else target["namespace"] + "/*"
        for action in actions:
            allowed = own and bool(granted.get(resource, set()) & set([action, "*"]))
            yield {"subject": user, "action": action, "resource": resource, "object": obj, "expect": "allow" if allowed else "deny"}


def tenant_identities(tenant):
    """[(name, kind)] of a tenant item: its users, OIDC subjects and IdP groups."""
    out = [(name, "user") for name in tenant.get("users") or []]
    out += [(name, "sso_subject") for name in tenant.get("sso_subjects") or []]
    out += [(name, "sso_group") for name in tenant.get("sso_groups") or []]
    return out


def _granted(tenant):
    granted = {}
    for grant in tenant.get("grants") or []:
        granted.setdefault(grant["resource"], set()).add(grant["action"])
    return granted


def _shares(owner, target, name):
    """Whether both tenants bind ``name`` and declare it shared on purpose (then ``target`` is its own tenant too)."""
    return name in (owner.get("shared") or []) and name in (target.get("shared") or []) and name in [n for n, _k in tenant_identities(target)]


def evaluate_matrix(enforcer, enforced, params):
    """Evaluate the isolation matrix (see the tenants option) without keeping every result: (number of checks, mismatches).

    Every identity of a tenant (user, OIDC subject, IdP group) is asked alone. That covers an SSO token too: Everest
    allows a request when the token's subject or any of its groups is allowed (reference §9.2) and the model has no deny,
    so a token gets exactly the union of what its names get alone; if each of them is denied in a namespace, so is the
    token. An identity two tenants declare shared is that other tenant's own identity as well (its grants expected there).

    A pair (identity, other tenant) whose namespace none of the identity's rules can match (_rbac.Enforcer.literal_scopes)
    is counted without being evaluated: every answer there is "deny" by construction, as expected. So the cost is linear
    in the number of tenants for policies without patterns in the namespace part, and the full matrix otherwise.
    """
    tenants, resources, actions = params["tenants"], params["tenant_resources"], params["tenant_actions"]
    per_pair = len(resources) * len(actions)
    total, mismatches = 0, []
    granted = [_granted(t) for t in tenants]
    for index, owner in enumerate(tenants):
        for name, kind in tenant_identities(owner):
            scopes = enforcer.literal_scopes(name) if enforced else None
            for target_index, target in enumerate(tenants):
                own = target is owner or _shares(owner, target, name)
                if own and not target.get("grants"):
                    continue
                if not own and scopes is not None and target["namespace"] not in scopes:
                    total += per_pair
                    continue
                for check in _pair_checks(name, target, own, granted[target_index if own else index], resources, actions):
                    total += 1
                    result = evaluate(enforcer, [check], enforced)[0]
                    if result["met"] is False:
                        result.update(index=total - 1, tenant=owner["name"], target_tenant=target["name"], kind=kind)
                        mismatches.append(result)
    return total, mismatches


def table(rows):
    headers = ["#", "SUBJECT", "ACTION", "RESOURCE", "OBJECT", "EXPECT", "GOT", "RULE"]
    body = [
        [str(r["index"]), r["subject"], r["action"], r["resource"], r["object"], r["expect"] or "-", "allow" if r["allowed"] else "deny", r["rule"] or "-"]
        for r in rows
    ]
    widths = [max([len(h)] + [len(row[i]) for row in body]) for i, h in enumerate(headers)]
    lines = ["  ".join(value.ljust(widths[i]) for i, value in enumerate(row)).rstrip() for row in [headers] + body]
    return "\n".join(lines)


def cross_check(module, text, checks, results, enforcer):
    """Ask everestctl (--policy-file, enforcement on) for every check; returns the disagreements."""
    fd, path = tempfile.mkstemp(prefix=_constants.RBAC_CONFIGMAP + "-", suffix=".csv")
    disagreements = []
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        for index, (check, result) in enumerate(zip(checks, results)):
            ours = _can(enforcer, check)[0] is not None
            # `can` takes one subject and knows nothing of tokens (reference §9.3): ask for the subject and for each
            # group, and OR the answers, as the server does for a token
            theirs, cmds = False, []
            for name in identities(check):
                answer = module.everestctl.run(
                    "rbac_can", subject=name, action=check["action"], resource=check["resource"], object=check["object"], policy_file=path
                )
                cmds.append(answer.cmd)
                if answer.stdout.strip().splitlines()[-1:] == ["Yes"]:
                    theirs = True
                    break
            result["everestctl"] = theirs
            if theirs != ours:
                asked = dict((k, check[k]) for k in ("subject", "action", "resource", "object"))
                if check.get("groups"):
                    asked["groups"] = list(check["groups"])
                disagreements.append({"index": index, "check": asked, "module": ours, "everestctl": theirs, "cmd": cmds[-1], "cmds": cmds})
    finally:
        os.unlink(path)
    return disagreements
