# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report's drift: each tenant's inventory (a tenant_plan summary) against the cluster (a tenant_info row).

tenant_info's own ``drift`` says where the cluster disagrees with itself (a policy whose namespace or RBAC block is
gone, usage over a limit); this module says where the cluster disagrees with the inventory: users, operators, engines
and limits, with quantities shown in the unit the inventory wrote (``memory: cluster 4Gi, inventory 8Gi``). Pure:
the role's ``tenant_report`` filter is its only caller, and nothing here contacts the cluster.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.virakcloud.everest.plugins.module_utils import _constants, _quantity, _trp_policy
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import ValidationError

# inventory limit key -> (tenant_info limit key, how the cluster's value is shown)
LIMITS = (
    ('cpu', 'cpu_cores', 'cpu'),
    ('memory', 'memory_bytes', 'bytes'),
    ('storage', 'storage_bytes', 'bytes'),
    ('max_clusters', 'max_clusters', 'count'),
    ('max_db_users', 'max_db_users', 'count'),
)
HEADER = ('NAMESPACE', 'TENANT', 'INVENTORY', 'MANAGED', 'USERS', 'OPERATORS', 'LIMITS', 'DRIFT')
_INTERNAL = (  # tenant_info's drift flags, as the report words them
    ('namespace_missing', 'namespace missing'),
    ('namespace_not_managed', 'namespace not managed by Everest'),
    ('rbac_block_missing', 'RBAC block missing'),
    ('missing_accounts', 'accounts missing'),
    ('over_limits', 'usage over'),
)


def _operator_names(installed):
    """tenant_info's operator short names (``pxc``) in the inventory's words (``mysql``)."""
    short_to_inventory = dict((_constants.SUBSCRIPTION_SHORT_NAMES[sub], op) for op, sub in _constants.OPERATOR_SUBSCRIPTIONS.items())
    return sorted(short_to_inventory.get(name, name) for name in installed or [])


def _same_number(cluster_value, normalized):
    return cluster_value is not None and float(cluster_value) == float(normalized)


def _normalized(key, value):
    """The inventory's value as the policy stores it, or None when it cannot be read (tenant_plan reports that)."""
    try:
        spec = _trp_policy.desired_spec({key: value}, None)['limits']
    except (ValidationError, TypeError, ValueError):
        return None
    return next(iter(spec.values()), None)


def _shown(kind, value):
    if value is None:
        return 'none'
    if kind == 'bytes':
        return _quantity.format_bytes(value)
    if kind == 'cpu':
        return _quantity.format_cores(_quantity.parse(value))
    return str(value)


def limit_differences(wanted, cluster):
    """['memory: cluster 4Gi, inventory 8Gi', ...] for every limit the inventory sets and the policy does not hold."""
    out = []
    for key, cluster_key, kind in LIMITS:
        value = (wanted or {}).get(key)
        if value is None:
            continue
        normalized = _normalized(key, value)
        if normalized is None:
            continue
        have = (cluster or {}).get(cluster_key)
        if not _same_number(have, normalized):
            out.append('%s: cluster %s, inventory %s' % (key, _shown(kind, have), value))
    return out


def _set_differences(what, wanted, have):
    missing = sorted(set(wanted) - set(have))
    extra = sorted(set(have) - set(wanted))
    out = []
    if missing:
        out.append('%s missing in the cluster: %s' % (what, ', '.join(missing)))
    if extra:
        out.append('%s not in the inventory: %s' % (what, ', '.join(extra)))
    return out


def differences(summary, tenant):
    """The inventory's view of one tenant against the cluster's, as short sentences (empty: no drift)."""
    if summary.get('state') == 'absent':
        return ['offboarded in the inventory, still in the cluster'] if tenant is not None else []
    if tenant is None:
        return ['not onboarded: no TenantResourcePolicy in namespace %s' % summary.get('namespace')]
    # tenant_info's users: the block's members without its IdP groups (# sso-group lines), so subjects count, groups not
    wanted_members = list(summary.get('users') or []) + list(summary.get('sso_subjects') or [])
    out = _set_differences('users', wanted_members, tenant.get('users') or [])
    out += _set_differences('groups', summary.get('sso_groups') or [], tenant.get('groups') or [])
    out += _set_differences('operators', summary.get('operators') or [], _operator_names(tenant.get('operators')))
    wanted_engines = summary.get('engines')
    if wanted_engines is not None:
        out += _set_differences('engines', _trp_policy.normalize_engines(wanted_engines), tenant.get('allowed_engines') or [])
    out += limit_differences(summary.get('limits'), tenant.get('limits'))
    return out


def sso_identities(summary):
    """The IdP groups and OIDC subjects the inventory binds to the tenant: members of its RBAC block, never accounts."""
    return list((summary or {}).get('sso_subjects') or []) + list((summary or {}).get('sso_groups') or [])


def internal_drift(tenant, summary=None):
    """tenant_info's own drift flags of one tenant, as short sentences. tenant_info cannot tell an SSO identity from a
    user whose account is gone (both are block members without an account): the inventory's SSO names (``summary``)
    are not reported as missing accounts."""
    out = []
    flags = dict((tenant or {}).get('drift') or {})
    sso = set(sso_identities(summary))
    if sso and flags.get('missing_accounts'):
        flags['missing_accounts'] = [u for u in flags['missing_accounts'] if u not in sso]
    for key, words in _INTERNAL:
        value = flags.get(key)
        if value:
            out.append(words + ((': ' + ', '.join(str(v) for v in value)) if isinstance(value, (list, tuple)) else ''))
    return out


def _limits_text(view):
    """The policy's limits in force, human units (``4/8Gi/-/5/10``; ``-`` = not enforced)."""
    return '/'.join('-' if view.get(ckey) is None else _shown(kind, view.get(ckey)) for _key, ckey, kind in LIMITS)


def report(tenants, summaries):
    """{'rows': [...], 'lines': [...], 'drifted': [namespaces]} of the cluster's tenants (tenant_info ``tenants``)
    and the inventory's (tenant_plan summaries): one row per namespace, cluster tenants outside the inventory marked."""
    by_ns = dict((t.get('namespace'), t) for t in tenants or [])
    wanted = dict((s.get('namespace'), s) for s in summaries or [] if s.get('namespace'))
    rows = []
    for namespace in sorted(set(by_ns) | set(wanted)):
        tenant, summary = by_ns.get(namespace), wanted.get(namespace)
        drift = internal_drift(tenant, summary) + (differences(summary, tenant) if summary is not None else [])
        rows.append(
            {
                'namespace': namespace,
                'tenant': (summary or {}).get('tenant'),
                'in_inventory': summary is not None,
                'managed': bool((tenant or {}).get('managed')),
                'users': list((tenant or {}).get('users') or []),
                'operators': _operator_names((tenant or {}).get('operators')),
                'limits': dict((tenant or {}).get('limits') or {}),
                'usage': (tenant or {}).get('usage'),
                'drift': drift,
            }
        )
    return {'rows': rows, 'lines': lines(rows), 'drifted': [r['namespace'] for r in rows if r['drift']]}


def lines(rows):
    """The table as a list of lines (readable with the default callback and in AWX's job output)."""
    fmt = '%-20s %-14s %-9s %-7s %-24s %-22s %-34s %s'
    out = [fmt % (HEADER[:6] + ('LIMITS (cpu/mem/storage/clusters/users)', 'DRIFT'))]
    for row in rows:
        out.append(
            fmt
            % (
                row['namespace'],
                row['tenant'] or '-',
                'yes' if row['in_inventory'] else 'no',
                'yes' if row['managed'] else 'no',
                ','.join(row['users']) or '-',
                ','.join(row['operators']) or '-',
                _limits_text(row['limits']),
                '; '.join(row['drift']) or 'none',
            )
        )
    drifted = [r['namespace'] for r in rows if r['drift']]
    out.append('drifted tenants: %s' % (', '.join(drifted) or 'none'))
    return out
