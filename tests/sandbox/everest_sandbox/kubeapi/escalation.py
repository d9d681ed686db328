"""RBAC escalation prevention: may this user grant these rules?

Upstream: ``pkg/registry/rbac/escalation_check.go``, ``pkg/registry/rbac/validation/policy_comparator.go`` (Covers),
``pkg/registry/rbac/validation/policy_compact.go`` (CompactRules), ``pkg/apis/rbac/v1/helpers.go`` (CompactString).

A user holds a set of rules (from every binding that applies to them in the namespace of the write, or cluster-wide
for cluster-scoped writes). The rules to grant are broken down into single (group, resource, verb[, name]) and
(nonResourceURL, verb) atoms; every atom some held rule does not cover is missing. Missing atoms of one group and
resource are merged again (their verbs joined), printed as ``{APIGroups:["g"], Resources:["r"], Verbs:["v1" "v2"]}``
and listed sorted, one per line, after
``user "<u>" (groups=["g1" "g2"]) is attempting to grant RBAC permissions not currently held:``.
"""

from __future__ import annotations

from . import errors as E

RULE_FIELDS = ('apiGroups', 'resources', 'nonResourceURLs', 'resourceNames', 'verbs')
FULL_AUTHORITY = ({'apiGroups': ['*'], 'resources': ['*'], 'verbs': ['*']}, {'nonResourceURLs': ['*'], 'verbs': ['*']})


def _values(rule: dict, field: str) -> list:
    return list(rule.get(field) or ())


def breakdown(rule: dict) -> list:
    """The atoms of one rule (BreakdownRule)."""
    atoms = []
    names = _values(rule, 'resourceNames')
    for group in _values(rule, 'apiGroups'):
        for resource in _values(rule, 'resources'):
            for verb in _values(rule, 'verbs'):
                base = {'apiGroups': [group], 'resources': [resource], 'verbs': [verb]}
                atoms += [dict(base, resourceNames=[name]) for name in names] if names else [base]
    for url in _values(rule, 'nonResourceURLs'):
        atoms += [{'nonResourceURLs': [url], 'verbs': [verb]} for verb in _values(rule, 'verbs')]
    return atoms


def _has_all(values: list, wanted: list) -> bool:
    return all(item in values for item in wanted)


def _resources_cover(owned: list, wanted: list) -> bool:
    if '*' in owned or _has_all(owned, wanted):
        return True
    for resource in wanted:
        if resource in owned:
            continue
        if '/' not in resource or '*/' + resource.split('/', 1)[1] not in owned:
            return False
    return True


def _url_covers(owned: str, wanted: str) -> bool:
    return owned == wanted or (owned.endswith('*') and wanted.startswith(owned.rstrip('*')))


def rule_covers(owner: dict, sub: dict) -> bool:
    owned_names, wanted_names = _values(owner, 'resourceNames'), _values(sub, 'resourceNames')
    return (
        ('*' in _values(owner, 'verbs') or _has_all(_values(owner, 'verbs'), _values(sub, 'verbs')))
        and ('*' in _values(owner, 'apiGroups') or _has_all(_values(owner, 'apiGroups'), _values(sub, 'apiGroups')))
        and _resources_cover(_values(owner, 'resources'), _values(sub, 'resources'))
        and all(any(_url_covers(o, w) for o in _values(owner, 'nonResourceURLs')) for w in _values(sub, 'nonResourceURLs'))
        and (not owned_names or (bool(wanted_names) and _has_all(owned_names, wanted_names)))
    )


def uncovered(owner_rules: list, rules: list) -> list:
    """The atoms of ``rules`` that no rule of ``owner_rules`` covers (Covers)."""
    return [atom for rule in rules for atom in breakdown(rule) if not any(rule_covers(owner, atom) for owner in owner_rules)]


def compact(rules: list) -> list:
    """Merge rules of one group, one resource and at most one name that differ only in verbs (CompactRules)."""
    out, simple = [], {}
    for rule in rules:
        groups, resources, names = _values(rule, 'apiGroups'), _values(rule, 'resources'), _values(rule, 'resourceNames')
        if len(names) > 1 or _values(rule, 'nonResourceURLs') or len(groups) != 1 or len(resources) != 1:
            out.append(rule)
            continue
        key = (groups[0], resources[0], bool(names), names[0] if names else '')
        if key in simple:
            simple[key]['verbs'] += [v for v in _values(rule, 'verbs') if v not in simple[key]['verbs']]
        else:
            simple[key] = {f: _values(rule, f) for f in RULE_FIELDS if rule.get(f)}
            simple[key]['verbs'] = _values(rule, 'verbs')
    return out + list(simple.values())


def go_strings(values) -> str:
    """Go's ``%q`` of a []string: ``["a" "b"]``."""
    return '[' + ' '.join(E.go_value(str(v)) for v in values) + ']'


def compact_string(rule: dict) -> str:
    labels = (
        ('APIGroups', 'apiGroups'),
        ('Resources', 'resources'),
        ('NonResourceURLs', 'nonResourceURLs'),
        ('ResourceNames', 'resourceNames'),
        ('Verbs', 'verbs'),
    )
    parts = [(label, rule.get(field)) for label, field in labels]
    return '{' + ', '.join(f'{label}:{go_strings(values)}' for label, values in parts if values) + '}'


def escalation_error(resolver, user: dict, namespace: str, rules: list) -> str:
    """'' when ``user`` holds every rule of ``rules`` in ``namespace``, else the apiserver's message (ConfirmNoEscalation)."""
    owner_rules, errs = resolver.rules_for(user, namespace)
    missing = uncovered(owner_rules, rules)
    if not missing:
        return ''
    lines = sorted({compact_string(rule) for rule in compact(missing)})
    message = (
        f'user {E.go_value(user["username"])} (groups={go_strings(user["groups"])}) is attempting to grant RBAC '
        'permissions not currently held:\n' + '\n'.join(lines)
    )
    if errs:
        message += f'; resolution errors: [{E.aggregate(errs)}]'
    return message
