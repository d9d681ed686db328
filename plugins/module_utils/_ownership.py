# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which tenant owns a cluster object, and whether a tenant may write it (pure: no I/O).

Ownership is recorded in the cluster, next to each object, so that it holds whoever acts and in whatever run (another
play, a ``--limit``, an AWX slice or survey), not only among the tenants of one play:

* Namespace, TenantResourcePolicy, ResourceQuota, LimitRange: the label ``virakcloud.everest/tenant``;
* Everest account: the accounts Secret's annotation ``virakcloud.everest/account-tenants`` (a JSON map username ->
  tenant; usernames may not be valid annotation keys); accounts recorded nowhere there are attributed to the tenant
  whose RBAC block binds them (installations from before the annotation);
* RBAC block: its metadata line (``_rbac.block_meta``), else the owner of the namespace the block is named after.

A tenant may write an object nobody owns or that it owns itself. Taking an object another tenant owns needs an
explicit handover (``takeover_from`` naming that tenant); removing it is never allowed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.virakcloud.everest.plugins.module_utils import _rbac
from ansible_collections.virakcloud.everest.plugins.module_utils._constants import (
    ACCOUNT_OWNERS_ANNOTATION,
    RBAC_ROLE_PREFIX,
    TENANT_LABEL,
)
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError

HANDOVER_HINT = (
    "offboard tenant '%(owner)s' first (its state: absent), or hand the object over explicitly with "
    "takeover_from: %(owner)s (role variable tenant_bootstrap_takeover_from)"
)


class OwnershipError(EverestError):
    """A tenant tried to write (or remove) an object another tenant owns. Raised before any write."""


def label_owner(obj):
    """The tenant named by an object's tenant label, or None."""
    return (((obj or {}).get('metadata') or {}).get('labels') or {}).get(TENANT_LABEL) or None


def account_owners(secret):
    """{username: tenant} recorded on the accounts Secret (an unreadable annotation counts as empty)."""
    raw = (((secret or {}).get('metadata') or {}).get('annotations') or {}).get(ACCOUNT_OWNERS_ANNOTATION)
    if not raw:
        return {}
    try:
        owners = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(owners, dict):
        return {}
    return dict((str(k), str(v)) for k, v in owners.items() if isinstance(v, str) and v)


def owners_annotation(owners):
    """The annotation value for ``owners`` (sorted keys, compact: it is compared as text)."""
    return json.dumps(dict(owners), sort_keys=True, separators=(',', ':'))


def may_take(owner, tenant, takeover_from=None):
    """Whether ``tenant`` may write an object owned by ``owner`` (None: nobody)."""
    return owner is None or owner == tenant or (takeover_from is not None and takeover_from == owner)


def check_take(kind, name, owner, tenant, takeover_from=None, how=''):
    """Raise OwnershipError when ``tenant`` may not write ``kind name`` owned by ``owner``."""
    if tenant is None or may_take(owner, tenant, takeover_from):
        return
    values = {'kind': kind, 'name': name, 'owner': owner, 'tenant': tenant, 'how': (' (%s)' % how) if how else ''}
    raise OwnershipError(
        ("%(kind)s '%(name)s' belongs to tenant '%(owner)s'%(how)s; tenant '%(tenant)s' may not take it over. " + HANDOVER_HINT) % values,
        owner=owner,
        tenant=tenant,
        object_kind=kind,
        object_name=name,
    )


def check_remove(kind, name, owner, tenant):
    """Raise OwnershipError when ``tenant`` would remove ``kind name`` that another tenant owns (never allowed)."""
    if tenant is None or owner is None or owner == tenant:
        return
    raise OwnershipError(
        "%s '%s' belongs to tenant '%s'; offboarding tenant '%s' never removes what another tenant owns. Remove it from "
        "tenant '%s''s inventory, or offboard tenant '%s' instead" % (kind, name, owner, tenant, tenant, owner),
        owner=owner,
        tenant=tenant,
        object_kind=kind,
        object_name=name,
    )


def block_owners(blocks, namespace_owners):
    """{block name: tenant} for managed RBAC blocks: the block's metadata line, else the owner of the namespace the
    block is named after (the role names a tenant's block after its namespace)."""
    out = {}
    for name, lines in (blocks or {}).items():
        tenant, _namespace = _rbac.block_meta(lines)
        owner = tenant or (namespace_owners or {}).get(name)
        if owner:
            out[name] = owner
    return out


def account_owner_map(secret, blocks, namespace_owners):
    """{username: tenant}: the accounts Secret's record first, then the tenant whose RBAC block binds the user."""
    owners = {}
    by_block = block_owners(blocks, namespace_owners)
    for name, lines in sorted((blocks or {}).items()):
        tenant = by_block.get(name)
        if tenant:
            for member in _rbac.block_members(lines):
                owners.setdefault(member, tenant)
    owners.update(account_owners(secret))
    return owners


def identity_facts(text, blocks, namespace_owners):
    """What the policy binds, for the checks of SSO identities (reference §9.1: one flat name space):

    * ``members``: {name: [blocks]} the managed blocks whose ``g`` lines bind the name (users, SSO subjects, groups);
    * ``shared``: {block: [names]} the members each block declares shared on purpose (``_rbac.block_shared``);
    * ``policy_names``: sorted names (not ``role:...``) that lines outside the tenants' blocks grant to or bind (``p``
      subjects, ``g`` members and targets), such as ``admin`` of the chart's ``g, admin, role:admin``: an IdP group or
      subject of such a name would inherit what they grant."""
    members, shared = {}, {}
    for name, lines in sorted((blocks or {}).items()):
        for member in _rbac.block_members(lines):
            members.setdefault(member, []).append(name)
        declared = _rbac.block_shared(lines)
        if declared:
            shared[name] = declared
    owned = block_owners(blocks, namespace_owners)
    where = _rbac.line_blocks(text or '')
    names = set()
    policy = _rbac.parse_policy(text or '')
    for rule in policy.p_rules + policy.g_rules:
        if where.get(rule.line) in owned:
            continue
        for value in rule.values[:1] if rule.ptype == 'p' else rule.values[:2]:
            if not value.startswith(RBAC_ROLE_PREFIX):
                names.add(value)
    return {'members': members, 'shared': shared, 'policy_names': sorted(names)}


def namespace_owner_map(namespaces):
    """{namespace name: tenant} from Namespace objects carrying the tenant label."""
    out = {}
    for item in namespaces or []:
        owner = label_owner(item)
        if owner:
            out[(item.get('metadata') or {}).get('name')] = owner
    return out
