"""Defaulting and validation of the RBAC kinds (Role, ClusterRole, RoleBinding, ClusterRoleBinding).

Upstream: ``pkg/apis/rbac/v1/defaults.go`` and ``pkg/apis/rbac/validation/validation.go``.

* Defaults: ``roleRef.apiGroup`` -> ``rbac.authorization.k8s.io``; a ``User``/``Group`` subject's ``apiGroup`` ->
  ``rbac.authorization.k8s.io``. ``rules`` is always serialised (``null`` when empty), empty optional lists are not.
* Rules: verbs required; a nonResourceURLs rule may not name groups, resources or names and is not allowed in a Role;
  a resource rule needs apiGroups and resources, and resourceNames only with a single resource.
* Bindings: roleRef apiGroup/kind (``Role``/``ClusterRole``; a ClusterRoleBinding only ``ClusterRole``)/name, subjects
  (kind, name, apiGroup; a ServiceAccount in a ClusterRoleBinding needs a namespace); ``roleRef`` cannot change:
  ``roleRef: Invalid value: rbac.RoleRef{APIGroup:"...", Kind:"...", Name:"..."}: cannot change roleRef``.
"""

from __future__ import annotations

import json

from . import errors as E
from .errors import FieldError
from .registry import RBAC_GROUP
from .store import DNS1123_SUBDOMAIN, SUBDOMAIN_MSG, path_segment_errors

OPTIONAL_RULE_LISTS = ('apiGroups', 'resources', 'resourceNames', 'nonResourceURLs')
ROLE_KINDS = ('roles', 'clusterroles')


class GoSyntaxError(FieldError):
    """An Invalid field error whose value prints as Go's ``%#v`` (structs, slices)."""

    def __init__(self, field: str, go_syntax: str, detail: str):
        super().__init__('Invalid', field, None, detail)
        self.go_syntax = go_syntax

    def body(self) -> str:
        return f'Invalid value: {self.go_syntax}: {self.detail}'


def go_string_slice(values) -> str:
    return '[]string{' + ', '.join(json.dumps(str(v), ensure_ascii=False) for v in values) + '}'


def go_role_ref(ref: dict) -> str:
    fields = ', '.join(
        f'{label}:{json.dumps(str(ref.get(key) or ""), ensure_ascii=False)}' for label, key in (('APIGroup', 'apiGroup'), ('Kind', 'kind'), ('Name', 'name'))
    )
    return 'rbac.RoleRef{' + fields + '}'


def _type_error(kind: str, field: str, go_type: str):
    return E.bad_request(f'{kind} in version "v1" cannot be handled as a {kind}: json: cannot unmarshal into Go struct field {kind}.{field} of type {go_type}')


def apply_defaults(plural: str, kind: str, obj: dict):
    """Decode-time checks and v1 defaulting, in place."""
    if plural in ROLE_KINDS:
        rules = obj.get('rules')
        if rules is not None and not (isinstance(rules, list) and all(isinstance(r, dict) for r in rules)):
            raise _type_error(kind, 'rules', '[]v1.PolicyRule')
        for rule in rules or ():
            for field in OPTIONAL_RULE_LISTS:
                if not rule.get(field):
                    rule.pop(field, None)
        obj['rules'] = rules or None
        if plural == 'clusterroles' and not obj.get('aggregationRule'):
            obj.pop('aggregationRule', None)
        return
    ref, subjects = obj.get('roleRef'), obj.get('subjects')
    if ref is not None and not isinstance(ref, dict):
        raise _type_error(kind, 'roleRef', 'v1.RoleRef')
    if subjects is not None and not (isinstance(subjects, list) and all(isinstance(s, dict) for s in subjects)):
        raise _type_error(kind, 'subjects', '[]v1.Subject')
    ref = obj['roleRef'] = ref or {}
    ref['apiGroup'] = ref.get('apiGroup') or RBAC_GROUP
    for subject in subjects or ():
        if not subject.get('apiGroup') and subject.get('kind') in ('User', 'Group'):
            subject['apiGroup'] = RBAC_GROUP
    if not subjects:
        obj.pop('subjects', None)


def _rule_errors(rule: dict, namespaced: bool, path: str) -> list:
    errs = []
    if not rule.get('verbs'):
        errs.append(FieldError('Required', f'{path}.verbs', detail='verbs must contain at least one value'))
    urls = rule.get('nonResourceURLs')
    if urls:
        if namespaced:
            errs.append(GoSyntaxError(f'{path}.nonResourceURLs', go_string_slice(urls), 'namespaced rules cannot apply to non-resource URLs'))
        if rule.get('apiGroups') or rule.get('resources') or rule.get('resourceNames'):
            errs.append(GoSyntaxError(f'{path}.nonResourceURLs', go_string_slice(urls), 'rules cannot apply to both regular resources and non-resource URLs'))
        return errs
    if not rule.get('apiGroups'):
        errs.append(FieldError('Required', f'{path}.apiGroups', detail='resource rules must supply at least one api group'))
    if not rule.get('resources'):
        errs.append(FieldError('Required', f'{path}.resources', detail='resource rules must supply at least one resource'))
    if rule.get('resourceNames') and len(rule.get('resources') or ()) > 1:
        errs.append(FieldError('Required', f'{path}.resourceNames', detail='resource names cannot apply to multiple resources'))
    return errs


def _subject_errors(subject: dict, namespaced: bool, path: str) -> list:
    errs = []
    kind, name, group = subject.get('kind', ''), subject.get('name', ''), subject.get('apiGroup', '')
    if not name:
        errs.append(FieldError('Required', f'{path}.name'))
    if kind == 'ServiceAccount':
        if name and len(name) > 253:
            errs.append(FieldError('Invalid', f'{path}.name', name, 'must be no more than 253 characters'))
        if name and not DNS1123_SUBDOMAIN.match(name):
            errs.append(FieldError('Invalid', f'{path}.name', name, SUBDOMAIN_MSG))
        if group:
            errs.append(FieldError('NotSupported', f'{path}.apiGroup', group, supported=['']))
        if not namespaced and not subject.get('namespace'):
            errs.append(FieldError('Required', f'{path}.namespace'))
    elif kind in ('User', 'Group'):
        if not name:
            errs.append(FieldError('Invalid', f'{path}.name', name, f'{kind.lower()} name cannot be empty'))
        if group != RBAC_GROUP:
            errs.append(FieldError('NotSupported', f'{path}.apiGroup', group, supported=[RBAC_GROUP]))
    else:
        errs.append(FieldError('NotSupported', f'{path}.kind', kind, supported=['ServiceAccount', 'User', 'Group']))
    return errs


def _binding_errors(obj: dict, namespaced: bool) -> list:
    ref = obj.get('roleRef') or {}
    errs = []
    if ref.get('apiGroup') != RBAC_GROUP:
        errs.append(FieldError('NotSupported', 'roleRef.apiGroup', ref.get('apiGroup', ''), supported=[RBAC_GROUP]))
    kinds = ['Role', 'ClusterRole'] if namespaced else ['ClusterRole']
    if ref.get('kind') not in kinds:
        errs.append(FieldError('NotSupported', 'roleRef.kind', ref.get('kind', ''), supported=kinds))
    if not ref.get('name'):
        errs.append(FieldError('Required', 'roleRef.name'))
    else:
        errs += [FieldError('Invalid', 'roleRef.name', ref['name'], msg) for msg in path_segment_errors(ref['name'])]
    for index, subject in enumerate(obj.get('subjects') or ()):
        errs += _subject_errors(subject, namespaced, f'subjects[{index}]')
    return errs


def _role_ref_key(ref: dict | None) -> tuple:
    ref = ref or {}
    return (ref.get('apiGroup') or '', ref.get('kind') or '', ref.get('name') or '')


def validation_errors(plural: str, obj: dict, old: dict | None) -> list:
    """Field errors of a create (``old`` None) or an update."""
    namespaced = plural in ('roles', 'rolebindings')
    if plural in ROLE_KINDS:
        return [err for index, rule in enumerate(obj.get('rules') or ()) for err in _rule_errors(rule, namespaced, f'rules[{index}]')]
    errs = _binding_errors(obj, namespaced)
    if old is not None and _role_ref_key(old.get('roleRef')) != _role_ref_key(obj.get('roleRef')):
        errs.append(GoSyntaxError('roleRef', go_role_ref(obj.get('roleRef') or {}), 'cannot change roleRef'))
    return errs
