# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tenant_plan: the tenant_bootstrap role's tenants, resolved, validated and derived on the controller.

One implementation for both modes of the role: per tenant (one host, facts set on it) and fleet (every tenant in
one execution). For each tenant host it takes the variables that host would see in this task (role defaults,
inventory, group_vars, extra vars, facts), templates the role's inputs in that host's context, validates them
against the role's own ``meta/argument_specs.yml`` and Everest's rules (module_utils/_validation.py, the single
source of the regexes), and derives the namespace, users, RBAC lines and summary row.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.six import string_types
from ansible.plugins.action import ActionBase

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    yaml = None

from ansible_collections.virakcloud.everest.plugins.module_utils import _validation

# The role inputs a tenant is made of (everything else in the host's variables is ignored).
INPUTS = ('tenant_bootstrap_state', 'tenant_bootstrap_namespace', 'tenant_bootstrap_users', 'tenant_bootstrap_update_password',
          'tenant_bootstrap_operators', 'tenant_bootstrap_limits', 'tenant_bootstrap_engines', 'tenant_bootstrap_rbac_preset',
          'tenant_bootstrap_rbac_policies', 'tenant_bootstrap_enable_rbac', 'tenant_bootstrap_purge', 'tenant_bootstrap_force',
          'tenant_bootstrap_take_ownership', 'tenant_bootstrap_everest_url', 'tenant_bootstrap_password')
# Role constants (vars/main.yml) the derivation needs.
CONSTANTS = ('tenant_bootstrap__presets', 'tenant_bootstrap__global_resources')


def rbac_lines(ns, users, preset, custom, presets, global_resources):
    """The tenant's RBAC block, exactly as validate.yml used to render it."""
    role = 'role:tenant-' + ns
    out = []
    if preset == 'custom':
        for line in custom or []:
            if isinstance(line, dict) and 'user' in line:
                out.append('g, %s, %s' % (line['user'], line['role']))
            elif isinstance(line, dict):
                out.append('p, %s, %s, %s, %s' % (line['subject'], line['resource'], line['action'], line['object']))
            else:
                out.append(str(line))
        return out
    for grant in presets.get(preset) or []:
        obj = ns if grant['resource'] in global_resources else ns + '/*'
        out.append('p, %s, %s, %s, %s' % (role, grant['resource'], grant['action'], obj))
    for user in users:
        out.append('g, %s, %s' % (user['username'], role))
    return out


def plan_tenant(name, values, constants, spec):
    """(plan, problems) of one tenant from its templated inputs. ``plan`` never contains a password."""
    problems = []
    if spec is not None:
        params = dict((key, values[key]) for key in values if key in spec)
        validated = ArgumentSpecValidator(spec).validate(params)
        if validated.error_messages:
            problems.append('tenant %s: invalid role variables: %s. Fix the inventory and re-run.' % (
                name, '; '.join(validated.error_messages)))
            return None, problems
    state = values.get('tenant_bootstrap_state') or 'present'
    present = state == 'present'
    ns = values.get('tenant_bootstrap_namespace')
    ns = ns if isinstance(ns, string_types) else str(ns)
    users = values.get('tenant_bootstrap_users') or []
    usernames = [u.get('username') for u in users if isinstance(u, dict)]
    operators = values.get('tenant_bootstrap_operators') or {}
    limits = values.get('tenant_bootstrap_limits') or {}
    preset = values.get('tenant_bootstrap_rbac_preset') or 'namespace_admin'
    custom = values.get('tenant_bootstrap_rbac_policies') or []
    reserved = _validation.RESERVED_NAMESPACES

    if not (_validation.LABEL_VALUE_RE.match(name) and len(name) <= 63
            and _validation.NAMESPACE_RE.match(ns) and ns not in reserved
            and usernames and len(set(usernames)) == len(usernames)
            and all(isinstance(u, string_types) and _validation.USERNAME_RE.match(u) for u in usernames)):
        problems.append(
            "tenant %s: invalid input. The host name must be a Kubernetes label value (letters, digits, '-', '_', '.', at most 63 "
            "characters) because it labels the tenant's objects; tenant_bootstrap_namespace (%s) must be an RFC 1035 label "
            "(lowercase letters, digits, '-', starting with a letter, at most 63 characters) and not one of %s; "
            "tenant_bootstrap_users (%s) must be non-empty, unique, letters/digits/underscores of at least 3 characters each. "
            "Fix the inventory and re-run." % (name, ns, ', '.join(reserved), ', '.join(str(u) for u in usernames)))
    if present:
        passwords = [u.get('password') for u in users if isinstance(u, dict)]
        if any(not isinstance(p, string_types) or not _validation.PASSWORD_RE.match(p) for p in passwords):
            problems.append(
                "tenant %s: the password of at least one of %s is empty or not accepted by Everest (letters, digits and "
                "@*#$%%^&+=!_- only, at least 6 characters). Set tenant_bootstrap_password or tenant_bootstrap_users[].password "
                "(ansible-vault) and re-run." % (name, ', '.join(str(u) for u in usernames)))
        max_users = limits.get('max_db_users')
        if max_users is not None and len(usernames) > int(max_users):
            problems.append("tenant %s: %d users (%s) but tenant_bootstrap_limits.max_db_users is %s. Remove users or raise the "
                            "limit." % (name, len(usernames), ', '.join(usernames), max_users))
        if not any(operators.values()) or (preset == 'custom' and not custom):
            problems.append("tenant %s: at least one operator of tenant_bootstrap_operators must be true, and "
                            "tenant_bootstrap_rbac_preset=custom needs tenant_bootstrap_rbac_policies." % name)
    enabled_operators = [key for key, enabled in operators.items() if enabled]
    engines = values.get('tenant_bootstrap_engines')
    engines = list(enabled_operators if engines is None else engines)
    enable_rbac = bool(values.get('tenant_bootstrap_enable_rbac', True))
    purge = bool(values.get('tenant_bootstrap_purge'))
    summary = {
        'tenant': name, 'state': state, 'namespace': ns, 'users': usernames, 'operators': enabled_operators,
        'engines': engines, 'limits': limits, 'rbac_preset': preset, 'rbac_enabled': enable_rbac,
        'everest_url': values.get('tenant_bootstrap_everest_url') or '', 'purge': purge,
    }
    plan = {
        'name': name, 'state': state, 'present': present, 'namespace': ns, 'usernames': usernames,
        'grants': list(constants['tenant_bootstrap__presets'].get(preset) or []),
        'rbac_lines': [] if problems else rbac_lines(ns, users, preset, custom, constants['tenant_bootstrap__presets'],
                                                     constants['tenant_bootstrap__global_resources']),
        'operators': operators, 'engines': engines, 'limits': limits,
        'update_password': values.get('tenant_bootstrap_update_password') or 'always', 'enable_rbac': enable_rbac,
        'take_ownership': bool(values.get('tenant_bootstrap_take_ownership')),
        'purge': purge, 'force': bool(values.get('tenant_bootstrap_force')),
        'summary': summary,
    }
    return plan, problems


def clashes(plans):
    """{tenant: [other tenants sharing its namespace or a user]} over the given plans (linear: two indexes)."""
    by_ns, by_user = {}, {}
    for plan in plans:
        by_ns.setdefault(plan['namespace'], []).append(plan['name'])
        for user in plan['usernames']:
            by_user.setdefault(user, []).append(plan['name'])
    out = {}
    for plan in plans:
        others = set(by_ns[plan['namespace']])
        for user in plan['usernames']:
            others.update(by_user[user])
        others.discard(plan['name'])
        if others:
            out[plan['name']] = sorted(others)
    return out


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(('tenants', 'secrets', 'set_facts'))

    def _role_spec(self):
        role = getattr(self._task, '_role', None)
        path = os.path.join(role._role_path, 'meta', 'argument_specs.yml') if role is not None else None
        if not path or not os.path.exists(path):
            return None
        with open(path) as handle:
            return (yaml.safe_load(handle) or {}).get('argument_specs', {}).get('main', {}).get('options')

    def _host_values(self, host, task_vars):
        """The role inputs as ``host`` sees them in this task, templated in its context."""
        if host == task_vars.get('inventory_hostname'):
            variables = task_vars
        else:
            hostvars = task_vars['hostvars']
            manager, inventory = hostvars._variable_manager, hostvars._inventory
            host_obj = inventory.get_host(host)
            if host_obj is None:
                raise AnsibleActionFail('tenant_plan: %r is not a host of the inventory' % host)
            variables = manager.get_vars(play=self._task.get_play(), host=host_obj, task=self._task, include_hostvars=False)
        templar = self._templar.copy_with_new_env(available_variables=variables)
        values = {}
        for key in INPUTS + CONSTANTS:
            if key in variables:
                values[key] = templar.template(variables[key])
        return values

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        args = self._task.args
        hosts = args.get('tenants')
        if hosts is None:
            hosts = [task_vars.get('inventory_hostname')]
        if isinstance(hosts, string_types) or not isinstance(hosts, list):
            raise AnsibleActionFail('tenant_plan: tenants must be a list of inventory host names')
        spec = self._role_spec()
        plans, problems, accounts = [], {}, {}
        for host in hosts:
            values = self._host_values(host, task_vars)
            missing = [key for key in CONSTANTS if key not in values]
            if missing:
                raise AnsibleActionFail('tenant_plan must run inside the tenant_bootstrap role (missing %s)' % ', '.join(missing))
            constants = dict((key, values.pop(key)) for key in CONSTANTS)
            spec_values = dict((key, values[key]) for key in values if spec is None or key in spec)
            plan, host_problems = plan_tenant(host, spec_values, constants, spec)
            if host_problems:
                problems[host] = ' '.join(host_problems)
            if plan is None:
                plan = {'name': host, 'state': values.get('tenant_bootstrap_state') or 'present', 'namespace': '?', 'usernames': [],
                        'summary': {'tenant': host, 'namespace': '?', 'users': [], 'operators': [], 'engines': [], 'limits': {},
                                    'state': '?', 'everest_url': ''}}
            plan['valid'] = not host_problems
            plans.append(plan)
            if args.get('secrets') and not host_problems:
                items = accounts.setdefault(host, [])
                for user in values.get('tenant_bootstrap_users') or []:
                    if plan['present']:
                        items.append({'username': user['username'], 'password': user.get('password'), 'state': 'present',
                                      'update_password': plan['update_password']})
                    else:
                        items.append({'username': user['username'], 'state': 'absent'})
        shared = clashes([p for p in plans if p['valid']])
        for name, others in shared.items():
            plan = next(p for p in plans if p['name'] == name)
            plan['valid'] = False
            problems[name] = ('tenant %s (%s, users %s) shares its namespace or a user with %s in this play; a namespace and an '
                              'Everest user belong to exactly one tenant. Fix the inventory.' % (
                                  name, plan['namespace'], ', '.join(plan['usernames']), ', '.join(others)))
        if args.get('secrets'):
            result['accounts'] = dict((p['name'], accounts[p['name']]) for p in plans if p['valid'])
        result['tenants'] = plans
        result['problems'] = problems
        result['changed'] = False
        if args.get('set_facts'):
            plan = plans[0]
            result['ansible_facts'] = {
                'tenant_bootstrap__ns': plan['namespace'], 'tenant_bootstrap__present': plan.get('present', False),
                'tenant_bootstrap__usernames': plan['usernames'], 'tenant_bootstrap__grants': plan.get('grants', []),
                'tenant_bootstrap__summary': plan['summary'], 'tenant_bootstrap__rbac_lines': plan.get('rbac_lines', []),
            }
            if problems:
                result['failed'] = True
                result['msg'] = ' '.join(problems.values())
        return result
