# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the tenant_bootstrap role: a step's result mapped back to tenants, the run's summary table, and the
report's table of the cluster's tenants against the inventory.

The logic and every message are in module_utils/_tenants.py; these are the role's handles on it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.virakcloud.everest.plugins.module_utils import _inventory_drift, _tenants


def tenant_step(result, plans, step):
    """{'failed': {tenant: message}, 'changed': [tenants]} of one converge step's registered result."""
    if step not in _tenants.STEP_KEYS:
        raise AnsibleFilterError('tenant_step: unknown step %r (one of %s)' % (step, ', '.join(sorted(_tenants.STEP_KEYS))))
    if not isinstance(plans, list):
        raise AnsibleFilterError('tenant_step: plans must be the list of tenant plans')
    return {'failed': _tenants.step_failures(result, plans, step), 'changed': _tenants.step_changed(result, plans, step)}


def tenant_summary(plans, failed=None, changed=None, check_mode=False, isolation='not run', names=None):
    """{'rows': [...], 'lines': [...]} of the run's tenants (no secrets: plans carry names only). ``names``: every tenant
    of the run, so that one refused before planning (the role's argument spec) still gets its FAILED row."""
    if not isinstance(plans, list):
        raise AnsibleFilterError('tenant_summary: plans must be the list of tenant plans')
    planned = set(p.get('name') for p in plans)
    plans = list(plans) + [{'name': n, 'valid': False, 'namespace': '?'} for n in (names or []) if n not in planned]
    if isinstance(failed, (list, tuple)):  # names only: the failure was shown by the failed task itself
        failed = dict((name, 'failed: see its failed task above') for name in failed)
    rows = _tenants.summary_rows(plans, dict(failed or {}), set(changed or []), bool(check_mode))
    return {'rows': rows, 'lines': _tenants.summary_lines(rows, isolation)}


def tenant_report(tenants, plans=None):
    """{'rows', 'lines', 'drifted'}: the cluster's tenants (tenant_info ``tenants``) against the inventory's plans."""
    if not isinstance(tenants, list):
        raise AnsibleFilterError('tenant_report: the input must be the tenants list of tenant_info')
    if plans is not None and not isinstance(plans, list):
        raise AnsibleFilterError('tenant_report: plans must be the list of tenant plans (tenant_plan tenants)')
    summaries = [p.get('summary') or {} for p in plans or []]
    return _inventory_drift.report(tenants, summaries)


class FilterModule(object):
    def filters(self):
        return {'tenant_step': tenant_step, 'tenant_summary': tenant_summary, 'tenant_report': tenant_report}
