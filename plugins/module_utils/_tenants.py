# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tenant_bootstrap role's decisions, in one place (pure: no Ansible, no I/O).

``plan_tenants(inputs, cluster)`` turns the role inputs of every tenant of a run into plans: validated, derived
(namespace, users, SSO identities, RBAC lines), checked against each other (a namespace, user or SSO identity in two
tenants) and against the cluster (who owns what and which names the RBAC policy binds, read by ``everest_cluster_info``
with ``ownership: true``), and carrying the ready-made items of every module the role calls. Both modes of the role
use these plans: per tenant (one plan per host) and fleet (all plans in one task per step). Every message a tenant can
get is written here, once.

``step_failures`` maps a batch module's per-item failures back to tenants; ``summary_rows``/``summary_lines`` make the
run's table.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.virakcloud.everest.plugins.module_utils import _constants
from ansible_collections.virakcloud.everest.plugins.module_utils import _ownership
from ansible_collections.virakcloud.everest.plugins.module_utils import _rbac
from ansible_collections.virakcloud.everest.plugins.module_utils import _validation

# RBAC presets: the grants of a tenant's role on its own namespace (namespace_admin: full use of it; read_only).
PRESETS = {
    'namespace_admin': (
        ('namespaces', 'read'),
        ('database-engines', 'read'),
        ('database-clusters', '*'),
        ('database-cluster-backups', '*'),
        ('database-cluster-restores', '*'),
        ('database-cluster-credentials', 'read'),
        ('backup-storages', '*'),
        ('monitoring-instances', '*'),
    ),
    'read_only': (
        ('namespaces', 'read'),
        ('database-engines', 'read'),
        ('database-clusters', 'read'),
        ('database-cluster-backups', 'read'),
        ('database-cluster-restores', 'read'),
        ('database-cluster-credentials', 'read'),
        ('backup-storages', 'read'),
        ('monitoring-instances', 'read'),
    ),
}
FIX = 'Fix the inventory and re-run.'


def grants(preset):
    """[{resource, action}] of a preset (empty for custom)."""
    return [{'resource': r, 'action': a} for r, a in PRESETS.get(preset, ())]


def preset_lines(namespace, members, preset):
    """A preset's lines: its p lines, then one g line per member (local users, then OIDC subjects, then IdP groups)."""
    role = _constants.tenant_role(namespace)
    out = []
    for resource, action in PRESETS[preset]:
        obj = namespace if resource in _constants.RBAC_GLOBAL_RESOURCES else namespace + '/*'
        out.append('p, %s, %s, %s, %s' % (role, resource, action, obj))
    out.extend('g, %s, %s' % (member, role) for member in members)
    return out


def custom_lines(custom):
    """The custom preset's lines (strings or p/g dicts) rendered like everest_rbac_policy renders them."""
    out = []
    for item in custom or []:
        try:
            line = _rbac.render_line(item)
        except _rbac.ItemError as exc:
            raise ValueError(str(exc))
        if line not in out:
            out.append(line)
    return out


def _text(value):
    return value if isinstance(value, str) else ('' if value is None else str(value))


def _names(value):
    return list(value) if isinstance(value, (list, tuple)) else []


SSO_VARS = {'group': 'tenant_bootstrap_sso_groups', 'subject': 'tenant_bootstrap_sso_subjects'}
SSO_INPUTS = ('tenant_bootstrap_sso_groups', 'tenant_bootstrap_sso_subjects', 'tenant_bootstrap_sso_shared')
SSO_KINDS = {'group': 'IdP group', 'subject': 'OIDC subject'}
FLAT = "Everest's subjects are one name space shared by local accounts, OIDC subjects, IdP groups and roles"


class Tenant:
    """One tenant's inputs as the role sees them (templated host variables), and what is derived from them."""

    def __init__(self, name, values):
        self.name = name
        self.state = values.get('tenant_bootstrap_state') or 'present'
        self.present = self.state == 'present'
        self.namespace = _text(values.get('tenant_bootstrap_namespace'))
        users = values.get('tenant_bootstrap_users') or []
        self.users = [u for u in users if isinstance(u, dict)]
        self.usernames = [u.get('username') for u in self.users]
        # SSO identities bound to the tenant's role (reference §9.1): OIDC subjects (the token's sub) and IdP groups
        self.sso_subjects = _names(values.get('tenant_bootstrap_sso_subjects'))
        self.sso_groups = _names(values.get('tenant_bootstrap_sso_groups'))
        self.sso_shared = _names(values.get('tenant_bootstrap_sso_shared'))
        self.sso_names = self.sso_subjects + self.sso_groups
        self.not_lists = [k for k in SSO_INPUTS if values.get(k) is not None and not isinstance(values.get(k), (list, tuple))]
        self.members = self.usernames + self.sso_names  # every name the tenant's block binds, in its g lines' order
        self.operators = dict((k, bool((values.get('tenant_bootstrap_operators') or {}).get(k))) for k in _constants.OPERATORS)
        self.limits = dict(values.get('tenant_bootstrap_limits') or {})
        self.quota_headroom = dict((k, v) for k, v in (values.get('tenant_bootstrap_quota_headroom') or {}).items() if v is not None)
        engines = values.get('tenant_bootstrap_engines')
        self.engines = list([k for k in _constants.OPERATORS if self.operators[k]] if engines is None else engines)
        self.preset = values.get('tenant_bootstrap_rbac_preset') or 'namespace_admin'
        self.custom = values.get('tenant_bootstrap_rbac_policies') or []
        self.enable_rbac = bool(values.get('tenant_bootstrap_enable_rbac', True))
        self.update_password = values.get('tenant_bootstrap_update_password') or 'always'
        self.take_ownership = bool(values.get('tenant_bootstrap_take_ownership'))
        self.takeover_from = values.get('tenant_bootstrap_takeover_from') or None
        self.purge = bool(values.get('tenant_bootstrap_purge'))
        self.force = bool(values.get('tenant_bootstrap_force'))
        self.reserved = list(values.get('tenant_bootstrap_reserved_namespaces') or [])
        self.allow_unknown_actions = bool(values.get('tenant_bootstrap_allow_unknown_rbac_actions'))
        self.everest_url = values.get('tenant_bootstrap_everest_url') or ''
        self.backup_storage = values.get('tenant_bootstrap_backup_storage') or {}
        self.monitoring = values.get('tenant_bootstrap_monitoring') or {}
        self.problems = []
        self.rbac_lines = []

    # -- checks of the tenant alone -----------------------------------------------------------------------------
    def check_inputs(self):
        problem = _validation.check_tenant_name(self.name)
        if problem:
            self.problems.append('the inventory host name is the tenant name and labels its objects: %s.' % problem)
        problem = _validation.check_tenant_namespace(self.namespace, self.reserved)
        if problem:
            self.problems.append('tenant_bootstrap_namespace %r: %s.' % (self.namespace, problem))
        if not self.usernames and not self.sso_names:
            self.problems.append(
                'a tenant needs at least one local user (tenant_bootstrap_users) or, if its people sign in through SSO, one '
                'IdP group or OIDC subject (tenant_bootstrap_sso_groups, tenant_bootstrap_sso_subjects).'
            )
        elif len(set(self.usernames)) != len(self.usernames) or any(_validation.check_username(u) for u in self.usernames):
            self.problems.append(
                "tenant_bootstrap_users (%s) must be unique, each letters, digits or '_', at least 3 characters." % ', '.join(_text(u) for u in self.usernames)
            )
        elif _constants.ADMIN_USERNAME in self.usernames:
            self.problems.append("user 'admin' is Everest's own administrator account and cannot belong to a tenant.")
        if self.present:
            self._check_present()
            self._check_sso()

    def _check_sso(self):
        """The SSO identities on their own (reference §9.1, §9.4): usable names, each bound once, none that is a local
        account of the tenant or Everest's admin, and shared declarations naming the tenant's own identities."""
        for key in self.not_lists:
            # the argument spec would split a string on commas; a name is never guessed from one
            self.problems.append('%s must be a YAML list of names, not a string.' % key)
        for kind, names in (('group', self.sso_groups), ('subject', self.sso_subjects)):
            for name in names:
                problem = _validation.check_sso_name(name)
                if problem:
                    self.problems.append('%s: %s %r %s.' % (SSO_VARS[kind], SSO_KINDS[kind], name, problem))
            twice = sorted(set(_text(n) for n in names if names.count(n) > 1))
            if twice:
                self.problems.append('%s lists %s more than once.' % (SSO_VARS[kind], ', '.join(twice)))
        both = sorted(set(self.sso_groups) & set(self.sso_subjects))
        if both:
            self.problems.append(
                '%s listed both as an IdP group and as an OIDC subject; %s, so Everest cannot tell them apart: list each name once.' % (', '.join(both), FLAT)
            )
        for name in self.sso_names:
            if name == _constants.ADMIN_USERNAME:
                self.problems.append(
                    "SSO identity 'admin' is the name of Everest's administrator account; %s, so an IdP group or subject "
                    "named admin would inherit the chart's 'g, admin, role:admin' (everything, in every namespace). Rename "
                    "the group in the IdP." % FLAT
                )
            elif name in self.usernames:
                self.problems.append(
                    'SSO identity %r is also a local user of this tenant (tenant_bootstrap_users); %s, so the two would be '
                    'one subject with merged grants: rename one of them.' % (name, FLAT)
                )
        unknown = [_text(n) for n in self.sso_shared if n not in self.sso_names]
        if unknown:
            self.problems.append(
                'tenant_bootstrap_sso_shared lists %s, which is not one of this tenant\'s tenant_bootstrap_sso_groups or '
                'tenant_bootstrap_sso_subjects.' % ', '.join(unknown)
            )

    def _check_present(self):
        if any(_validation.check_password(u.get('password')) for u in self.users):
            self.problems.append(
                "the password of at least one of %s is empty, longer than %d characters or not accepted by Everest (letters, "
                "digits and @*#$%%^&+=!_- only, at least 6 characters). Set tenant_bootstrap_password or "
                "tenant_bootstrap_users[].password (ansible-vault)."
                % (', '.join(_text(u) for u in self.usernames), _validation.PASSWORD_MAX_LENGTH)
                + (' A tenant whose people all sign in through SSO sets tenant_bootstrap_users: [] (no local account).' if self.sso_names else '')
            )
        max_users = self.limits.get('max_db_users')
        counted = self.usernames + self.sso_subjects
        if max_users is not None and len(counted) > int(max_users):
            self.problems.append(
                '%d users (%s) but tenant_bootstrap_limits.max_db_users is %s (local users and OIDC subjects count; the '
                'members of an IdP group are known only to the IdP and cannot be counted). Remove users or raise the limit.'
                % (len(counted), ', '.join(_text(u) for u in counted), max_users)
            )
        for key in ('max_clusters', 'max_db_users'):
            value = self.limits.get(key)
            if value is not None and not 0 <= int(value) <= _validation.MAX_COUNT_LIMIT:
                self.problems.append('tenant_bootstrap_limits.%s is %s; it must be between 0 and %d.' % (key, value, _validation.MAX_COUNT_LIMIT))
        if not any(self.operators.values()):
            self.problems.append('at least one operator of tenant_bootstrap_operators must be true.')
        if self.preset == 'custom' and not self.custom:
            self.problems.append('tenant_bootstrap_rbac_preset=custom needs tenant_bootstrap_rbac_policies.')

    def derive_rbac(self):
        if self.problems:
            return
        if self.preset != 'custom':
            self.rbac_lines = preset_lines(self.namespace, self.members, self.preset)
            return
        try:
            self.rbac_lines = custom_lines(self.custom)
        except ValueError as exc:
            self.problems.append('tenant_bootstrap_rbac_policies: %s.' % exc)
            return
        # the escalation guard: a custom block stays inside the tenant, binding only its own users and SSO identities
        for problem in _rbac.tenant_scope_problems(
            self.rbac_lines, _constants.tenant_role(self.namespace), self.namespace, members=self.members, allow_unknown_actions=self.allow_unknown_actions
        ):
            self.problems.append('tenant_bootstrap_rbac_policies: %s.' % problem)
        unbound = [n for n in self.sso_names if n not in _rbac.block_members(self.rbac_lines)]
        if unbound:
            self.problems.append(
                'SSO identities %s are bound by no line of tenant_bootstrap_rbac_policies; with the custom preset bind each '
                "with a g line to one of the tenant's roles (g, <name>, %s...)." % (', '.join(unbound), _constants.tenant_role(self.namespace))
            )

    # -- checks against the cluster ---------------------------------------------------------------------------
    def check_cluster(self, cluster, run=None):
        """Ownership, read from the cluster (not from the play): the namespace, the accounts and the RBAC block; and the
        names the SSO identities and local users would share with what the policy binds elsewhere (``run``: the plans of
        this run, ``{tenant: set of planned members or None when offboarded}``, to name a release in progress)."""
        if self.problems or not cluster:
            return
        ns_owner = (cluster.get('namespaces') or {}).get(self.namespace)
        block_owner = (cluster.get('blocks') or {}).get(self.namespace)
        account_owners = cluster.get('accounts') or {}
        existing = set(cluster.get('existing_accounts') or [])
        bound_elsewhere = self._bound_elsewhere(cluster)
        checks = [('namespace', self.namespace, ns_owner), ('RBAC block', self.namespace, block_owner)]
        for user in self.usernames:
            sso_of = [t for b, t in bound_elsewhere.get(user, []) if t and t != self.name]
            if self.present and user not in existing and sso_of:
                self.problems.append(
                    'user %s: tenant %s binds %r as an SSO identity (an OIDC subject or IdP group; no such account exists); '
                    '%s, so the account would get that tenant\'s grants too. Choose another username.' % (user, sso_of[0], user, FLAT)
                )
                continue
            checks.append(('account', user, account_owners.get(user)))
        for kind, name, owner in checks:
            try:
                if self.present:
                    _ownership.check_take(kind, name, owner, self.name, self.takeover_from)
                else:
                    _ownership.check_remove(kind, name, owner, self.name)
            except _ownership.OwnershipError as exc:
                self.problems.append(exc.msg + '.')
        if self.present and not self.take_ownership:
            unowned = [u for u in self.usernames if u in existing and account_owners.get(u) is None]
            if unowned:
                self.problems.append(
                    'account(s) %s already exist and belong to no tenant (created outside this collection); set '
                    'tenant_bootstrap_take_ownership: true to adopt them, or choose other usernames.' % ', '.join(unowned)
                )
        if self.present:
            for name in self.sso_names:
                self._check_sso_cluster(name, cluster, existing, account_owners, bound_elsewhere.get(name, []), run or {})
        if self.present:
            others = sorted(ns for ns, owner in (cluster.get('namespaces') or {}).items() if owner == self.name and ns != self.namespace)
            if others:
                self.problems.append(
                    'tenant %s already owns namespace(s) %s (labelled %s=%s) but tenant_bootstrap_namespace is %s. A tenant\'s '
                    'namespace is immutable: renaming would orphan its data. Either set tenant_bootstrap_namespace back to the '
                    'old name; or offboard the tenant with tenant_bootstrap_purge=true (deletes the old namespace and its data) '
                    'and onboard it again; or, to keep the old data without an owner, run `kubectl label namespace %s %s-` after '
                    'offboarding.' % (self.name, ', '.join(others), _constants.TENANT_LABEL, self.name, self.namespace, others[0], _constants.TENANT_LABEL)
                )

    def _bound_elsewhere(self, cluster):
        """{name: [(block, owning tenant or None)]}: the managed blocks other than this tenant's own that bind a name."""
        owners = cluster.get('blocks') or {}
        out = {}
        for name, blocks in (cluster.get('members') or {}).items():
            others = [(b, owners.get(b)) for b in blocks or [] if b != self.namespace]
            if others:
                out[name] = others
        return out

    def _check_sso_cluster(self, name, cluster, existing, account_owners, bound, run):
        """One SSO identity against the cluster: no account of that name, no line outside the tenants' blocks granting
        to it, and no other tenant's block binding it (unless both declare it shared)."""
        kind = 'IdP group' if name in self.sso_groups else 'OIDC subject'
        if name in existing:
            owner = account_owners.get(name)
            self.problems.append(
                '%s %r has the name of an existing Everest account%s; %s, so the account and every token carrying that '
                'name would share their grants. Rename the group in the IdP (or bind the subject under another name).'
                % (kind, name, (' (of tenant %s)' % owner) if owner else '', FLAT)
            )
            return
        if name in set(cluster.get('policy_names') or []):
            self.problems.append(
                '%s %r is already named by lines of the RBAC policy outside the tenants\' blocks (everest-system/everest-rbac); '
                '%s, so it would inherit whatever those lines grant. Rename it in the IdP, or remove those lines.' % (kind, name, FLAT)
            )
            return
        for block, owner in bound:
            if owner is None:
                self.problems.append(
                    '%s %r is bound by RBAC block %s, which belongs to no tenant; a name may be bound by one tenant only. '
                    'Remove it from that block first.' % (kind, name, block)
                )
                continue
            if owner == self.name:
                continue
            shared = name in self.sso_shared and name in ((cluster.get('shared') or {}).get(block) or [])
            if shared:
                continue
            text = (
                '%s %r is bound by tenant %s (RBAC block %s); a name bound by two tenants gives its holders both tenants\' '
                'namespaces. If that is intended, list it in tenant_bootstrap_sso_shared of both tenants.' % (kind, name, owner, block)
            )
            if owner in run and (run[owner] is None or name not in run[owner]):
                text += (
                    ' Tenant %s releases it in this run: run again afterwards to bind it here (a move takes two runs, so '
                    'that no moment exists in which both tenants bind it).' % owner
                )
            self.problems.append(text)

    # -- the plan -----------------------------------------------------------------------------------------------
    def items(self, secrets):
        """The module items of this tenant (every step), ready for the batch forms."""
        own = {'tenant': self.name}
        handover = {'takeover_from': self.takeover_from} if self.takeover_from else {}
        items = {}
        if self.present:
            items['namespace'] = dict(
                {'name': self.namespace, 'operators': dict(self.operators), 'take_ownership': self.take_ownership}, **dict(own, **handover)
            )
            items['rbac'] = dict({'block': self.namespace, 'namespace': self.namespace, 'policies': list(self.rbac_lines)}, **dict(own, **handover))
            items['policy'] = dict({'namespace': self.namespace, 'limits': dict(self.limits), 'allowed_engines': list(self.engines)}, **dict(own, **handover))
            if self.quota_headroom:
                items['policy']['quota_headroom'] = dict(self.quota_headroom)
            items['isolation'] = {'name': self.name, 'namespace': self.namespace, 'users': list(self.usernames), 'grants': grants(self.preset)}
            if self.sso_names:
                items['isolation'].update(sso_subjects=list(self.sso_subjects), sso_groups=list(self.sso_groups), shared=list(self.sso_shared))
            if self.sso_shared:
                items['rbac']['shared_members'] = list(self.sso_shared)
            if self.sso_groups:
                items['rbac']['group_members'] = list(self.sso_groups)
            items['accounts'] = [
                dict(
                    {'username': u['username'], 'state': 'present', 'update_password': self.update_password, 'take_ownership': self.take_ownership},
                    **dict(own, **handover),
                )
                for u in self.users
            ]
            if secrets:
                for item, user in zip(items['accounts'], self.users):
                    item['password'] = user.get('password')
        else:
            items['rbac'] = {'block': self.namespace, 'state': 'absent', 'tenant': self.name}
            items['policy'] = {'namespace': self.namespace, 'state': 'absent', 'tenant': self.name}
            items['accounts'] = [{'username': u, 'state': 'absent', 'tenant': self.name} for u in self.usernames]
            if self.purge:
                items['purge'] = {'name': self.namespace, 'state': 'absent', 'force': self.force, 'tenant': self.name}
        return items

    def summary(self):
        return {
            'tenant': self.name,
            'state': self.state,
            'namespace': self.namespace,
            'users': list(self.usernames),
            'sso_groups': list(self.sso_groups),
            'sso_subjects': list(self.sso_subjects),
            'operators': [k for k in _constants.OPERATORS if self.operators[k]],
            'engines': list(self.engines),
            'limits': dict(self.limits),
            'rbac_preset': self.preset,
            'rbac_enabled': self.enable_rbac,
            'everest_url': self.everest_url,
            'purge': self.purge,
            'backup_storage': self.backup_storage.get('name') if self.backup_storage else None,
            'monitoring': self.monitoring.get('name') if self.monitoring else None,
        }

    def plan(self, secrets):
        plan = {
            'name': self.name,
            'state': self.state,
            'present': self.present,
            'valid': not self.problems,
            'problem': ('tenant %s: %s %s' % (self.name, ' '.join(self.problems), FIX)) if self.problems else None,
            'namespace': self.namespace,
            'usernames': list(self.usernames),
            'sso_groups': list(self.sso_groups),
            'sso_subjects': list(self.sso_subjects),
            'grants': grants(self.preset),
            'rbac_lines': list(self.rbac_lines),
            'enable_rbac': self.enable_rbac,
            'purge': self.purge,
            'summary': self.summary(),
            'day2': bool(self.present and (self.backup_storage or self.monitoring)),
        }
        if not self.problems:
            plan['steps'] = self.items(secrets)
            if secrets and plan['day2']:
                plan['steps']['day2'] = {'backup_storage': dict(self.backup_storage), 'monitoring': dict(self.monitoring)}
        return plan


def clashes(tenants):
    """{tenant: [other tenants of the run sharing its namespace or a user]} (linear: two indexes)."""
    by_ns, by_user = {}, {}
    for tenant in tenants:
        by_ns.setdefault(tenant.namespace, []).append(tenant.name)
        for user in tenant.usernames:
            by_user.setdefault(user, []).append(tenant.name)
    out = {}
    for tenant in tenants:
        others = set(by_ns[tenant.namespace])
        for user in tenant.usernames:
            others.update(by_user[user])
        others.discard(tenant.name)
        if others:
            out[tenant.name] = sorted(others)
    return out


def incumbents(cluster):
    """{name: set of tenants whose block binds it in the cluster} (from everest_cluster_info's ownership facts)."""
    owners = (cluster or {}).get('blocks') or {}
    out = {}
    for name, blocks in ((cluster or {}).get('members') or {}).items():
        out[name] = set(owners[b] for b in blocks or [] if owners.get(b))
    return out


def identity_clashes(tenants, cluster=None):
    """{tenant: [problems]} of the run's onboarded tenants: an SSO identity bound by two tenants (unless every tenant
    binding it lists it in tenant_bootstrap_sso_shared), or named like another tenant's local user (the SSO side is
    refused: the other tenant's account is not at fault, and in the cluster an existing account always wins).

    When some of the tenants binding a name already bind it in the cluster, only the newcomers are refused: an unchanged
    tenant never fails because another tenant's inventory reached for its group (the newcomers' cluster check says whose
    it is). When none does yet, all of them are refused, as two tenants claiming one namespace are."""
    present = [t for t in tenants if t.present]
    held = incumbents(cluster)
    by_name, by_user = {}, {}
    for tenant in present:
        for name in tenant.sso_names:
            by_name.setdefault(name, []).append(tenant)
        for user in tenant.usernames:
            by_user.setdefault(user, []).append(tenant.name)
    out = {}
    for name, binders in sorted(by_name.items()):
        names = sorted(t.name for t in binders)
        if len(binders) > 1 and not all(name in t.sso_shared for t in binders):
            holders = held.get(name) or set()
            for tenant in [t for t in binders if t.name not in holders] if holders & set(names) else binders:
                out.setdefault(tenant.name, []).append(
                    'SSO identity %r is bound by tenants %s of this run; a name bound by two tenants gives its holders both '
                    "tenants' namespaces. If that is intended, list it in tenant_bootstrap_sso_shared of every one of them." % (name, ', '.join(names))
                )
        for tenant in binders:
            for other in by_user.get(name, []):
                if other == tenant.name:
                    continue
                out.setdefault(tenant.name, []).append(
                    "SSO identity %r is also a local user of tenant %s; %s, so the two would be one subject with both tenants' "
                    'grants. Rename the group in the IdP (or bind the subject under another name).' % (name, other, FLAT)
                )
    return out


def plan_tenants(inputs, cluster=None, secrets=False, invalid=None):
    """Plans for ``inputs`` ([(name, values)] in order). ``invalid`` maps names to argument-spec problems found by the
    caller (the role's own spec). ``cluster``: RV(ownership) of everest_cluster_info, or None to skip those checks."""
    tenants = []
    for name, values in inputs:
        tenant = Tenant(name, values)
        if invalid and invalid.get(name):
            tenant.problems.append('invalid role variables: %s.' % invalid[name])
        else:
            tenant.check_inputs()
            tenant.derive_rbac()
        tenants.append(tenant)
    valid = [t for t in tenants if not t.problems]
    shared = clashes(valid)
    identities = identity_clashes(valid, cluster)
    run = dict((t.name, set(t.members) if t.present else None) for t in valid)
    for tenant in tenants:
        if tenant.name in shared:
            values = (tenant.namespace, ', '.join(tenant.usernames), ', '.join(shared[tenant.name]))
            tenant.problems.append(
                'it shares its namespace %s or a user (%s) with tenant(s) %s of this run; a namespace and an '
                'Everest user belong to exactly one tenant.' % values
            )
        for problem in identities.get(tenant.name, []):
            tenant.problems.append(problem)
        tenant.check_cluster(cluster, run)
    return [t.plan(secrets) for t in tenants]


# ---------------------------------------------------------------------------------------------------------- steps

STEP_KEYS = {'namespace': ('name',), 'purge': ('name',), 'rbac': ('block',), 'policy': ('namespace',), 'accounts': ('username',)}


def step_failures(result, plans, step):
    """{tenant: message} for the items a batch module reported failed (``result``: its registered result)."""
    if not isinstance(result, dict) or not result.get('results'):
        return {}
    owner = {}
    for plan in plans:
        items = (plan.get('steps') or {}).get(step)
        for item in items if isinstance(items, list) else [items] if items else []:
            owner[item.get(STEP_KEYS[step][0])] = plan['name']
    out = {}
    for item in result['results']:
        if not item.get('failed'):
            continue
        key = item.get(STEP_KEYS[step][0])
        tenant = owner.get(key)
        if tenant is None:
            continue
        what = '%s %s: ' % ('account', key) if step == 'accounts' else ''
        text = 'tenant %s: %s%s' % (tenant, what, item.get('msg') or ('the %s step failed' % step))
        out[tenant] = (out[tenant] + ' | ' + text) if tenant in out else text
    return out


def step_changed(result, plans, step):
    """[tenants] whose items of ``step`` changed (or would change, in check mode)."""
    if not isinstance(result, dict):
        return []
    owner = {}
    for plan in plans:
        items = (plan.get('steps') or {}).get(step)
        for item in items if isinstance(items, list) else [items] if items else []:
            owner[item.get(STEP_KEYS[step][0])] = plan['name']
    if not result.get('results'):
        return [plan['name'] for plan in plans] if result.get('changed') and len(plans) == 1 else []
    changed = set()
    for item in result['results']:
        key = item.get(STEP_KEYS[step][0])
        if item.get('changed') and key in owner:
            changed.add(owner[key])
    return sorted(changed)


# -------------------------------------------------------------------------------------------------------- summary


def summary_rows(plans, failed, changed, check_mode):
    """One row per tenant (sorted by name): its summary plus a status (FAILED, changed / would change, ok, offboarded ...)."""
    rows = []
    for plan in sorted(plans, key=lambda p: p['name']):
        row = dict(
            plan.get('summary') or {'tenant': plan['name'], 'namespace': plan.get('namespace', '?'), 'users': [], 'operators': [], 'engines': [], 'limits': {}}
        )
        name = plan['name']
        if not plan.get('valid', True) or name in failed:
            status = 'FAILED'
        elif plan.get('state') == 'absent':
            status = ('would offboard' if check_mode else 'offboarded') + (' (purge)' if plan.get('purge') else ' (namespace kept)')
        elif name in changed:
            status = 'would change' if check_mode else 'changed'
        else:
            status = 'ok'
        row['status'] = status
        row['message'] = failed.get(name) or plan.get('problem') or ''
        rows.append(row)
    return rows


SUMMARY_FORMAT = '%-14s %-15s %-20s %-24s %-26s %-22s %s'


def _limits_text(limits):
    keys = ('cpu', 'memory', 'storage', 'max_clusters', 'max_db_users')
    return 'cpu=%s mem=%s storage=%s clusters=%s users=%s' % tuple('-' if limits.get(k) is None else limits.get(k) for k in keys)


def identities(row):
    """A summary row's users, then its SSO identities marked ``sub:`` and ``group:``."""
    return list(row.get('users') or []) + ['sub:' + n for n in row.get('sso_subjects') or []] + ['group:' + n for n in row.get('sso_groups') or []]


def summary_lines(rows, isolation):
    """The run's table as a list of lines (a list prints one line per item in every callback and in AWX)."""
    lines = [SUMMARY_FORMAT % ('TENANT', 'STATUS', 'NAMESPACE', 'USERS', 'OPERATORS', 'ENGINES', 'LIMITS')]
    for row in rows:
        lines.append(
            SUMMARY_FORMAT
            % (
                row.get('tenant'),
                row.get('status'),
                row.get('namespace'),
                ','.join(identities(row)),
                ','.join(row.get('operators') or []),
                ','.join(row.get('engines') or []),
                _limits_text(row.get('limits') or {}),
            )
        )
    lines.append('isolation proof: %s' % isolation)
    failed = [r['tenant'] for r in rows if r.get('status') == 'FAILED']
    lines.append('failed tenants: %s' % (', '.join(failed) or 'none'))
    return lines
