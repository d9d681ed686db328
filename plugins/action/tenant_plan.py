# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tenant_plan: the tenant_bootstrap role's tenants, resolved on the controller and planned by module_utils/_tenants.py.

One implementation for both modes of the role: per tenant (one plan per host) and fleet (every plan in one task per
step). For each tenant host this action takes the variables that host would see in this task (role defaults,
inventory, group_vars, extra vars, facts), templates the role's inputs in that host's context and validates them
against the role's own ``meta/argument_specs.yml``; ``_tenants.plan_tenants`` then checks Everest's rules, clashes
between the run's tenants and ownership in the cluster (``cluster``: everest_cluster_info's ``ownership``), and
derives every module item. Nothing here contacts the cluster.
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

from ansible_collections.virakcloud.everest.plugins.module_utils import _tenants

# The role inputs a tenant is made of (everything else in the host's variables is ignored).
INPUTS = (
    'tenant_bootstrap_state',
    'tenant_bootstrap_namespace',
    'tenant_bootstrap_users',
    'tenant_bootstrap_sso_groups',
    'tenant_bootstrap_sso_subjects',
    'tenant_bootstrap_sso_shared',
    'tenant_bootstrap_update_password',
    'tenant_bootstrap_operators',
    'tenant_bootstrap_limits',
    'tenant_bootstrap_quota_headroom',
    'tenant_bootstrap_engines',
    'tenant_bootstrap_rbac_preset',
    'tenant_bootstrap_rbac_policies',
    'tenant_bootstrap_enable_rbac',
    'tenant_bootstrap_purge',
    'tenant_bootstrap_force',
    'tenant_bootstrap_take_ownership',
    'tenant_bootstrap_takeover_from',
    'tenant_bootstrap_reserved_namespaces',
    'tenant_bootstrap_allow_unknown_rbac_actions',
    'tenant_bootstrap_everest_url',
    'tenant_bootstrap_password',
    'tenant_bootstrap_backup_storage',
    'tenant_bootstrap_monitoring',
)
# Where the role's constants live: the role must be the caller (its argument spec validates the inputs).
ROLE_MARKER = 'tenant_bootstrap__tenant_label'


def spec_problems(spec, values):
    """The argument-spec errors of one tenant's inputs (None when valid)."""
    if spec is None:
        return None
    params = dict((key, values[key]) for key in values if key in spec)
    validated = ArgumentSpecValidator(spec).validate(params)
    return '; '.join(validated.error_messages) if validated.error_messages else None


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(('tenants', 'secrets', 'cluster'))

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
        if ROLE_MARKER not in variables:
            raise AnsibleActionFail('tenant_plan must run inside the tenant_bootstrap role (missing %s)' % ROLE_MARKER)
        templar = self._templar.copy_with_new_env(available_variables=variables)
        return dict((key, templar.template(variables[key])) for key in INPUTS if key in variables)

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        args = self._task.args
        hosts = args.get('tenants')
        if hosts is None:
            hosts = [task_vars.get('inventory_hostname')]
        if isinstance(hosts, string_types) or not isinstance(hosts, list):
            raise AnsibleActionFail('tenant_plan: tenants must be a list of inventory host names')
        cluster = args.get('cluster')
        if cluster is not None and not isinstance(cluster, dict):
            raise AnsibleActionFail('tenant_plan: cluster must be the ownership dict of everest_cluster_info')
        spec = self._role_spec()
        inputs, invalid = [], {}
        for host in hosts:
            values = self._host_values(host, task_vars)
            problem = spec_problems(spec, values)
            if problem:
                invalid[host] = problem
            inputs.append((host, values))
        plans = _tenants.plan_tenants(inputs, cluster=cluster, secrets=bool(args.get('secrets')), invalid=invalid)
        result['tenants'] = plans
        result['plans'] = dict((plan['name'], plan) for plan in plans)
        result['problems'] = dict((plan['name'], plan['problem']) for plan in plans if not plan['valid'])
        result['changed'] = False
        return result
