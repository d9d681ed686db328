"""RBAC authorization: rule matching, the binding walk, and the texts of a denial.

Upstream: ``plugin/pkg/auth/authorizer/rbac/rbac.go``, ``pkg/apis/rbac/v1/evaluation_helpers.go``,
``pkg/registry/rbac/validation/rule.go`` (kubernetes/kubernetes) and
``staging/src/k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/errors.go``.

* A rule allows a resource request when its verbs (``*`` or the verb), apiGroups (``*`` or the group, ``""`` = core),
  resources (``*``, the resource, ``resource/subresource``, or ``*/subresource`` for a subresource request) and
  resourceNames (empty = any name; a non-empty list never matches an empty name) all match; a non-resource request
  when the verb and a nonResourceURL match (``*``, the path, or a prefix ending in ``*``).
* Walk: every ClusterRoleBinding, then the RoleBindings of the request's namespace (none for cluster-scoped and
  non-resource requests); the first allowing rule wins. A binding whose role is missing records an error and the
  walk goes on.
* Subjects: ``User`` by name, ``Group`` by the user's groups, ``ServiceAccount`` as
  ``system:serviceaccount:<ns>:<name>`` (the namespace defaults to the RoleBinding's; a ClusterRoleBinding must give it).
* Members of ``system:masters`` are allowed everything without a walk (kube-apiserver's privileged-group authorizer
  runs before RBAC).
* Denied: 403 ``<resource>[.<group>] ["<name>" ]is forbidden: User "<u>" cannot <verb> resource "<res>[/<sub>]" in API
  group "<g>" in the namespace "<ns>"`` (or ``at the cluster scope``; non-resource: ``forbidden: User "<u>" cannot
  <verb> path "<path>"``), ``&<>`` HTML-escaped, then ``: RBAC: <errors>`` when roles could not be resolved.
"""

from __future__ import annotations

from . import errors as E
from .registry import RBAC_GROUP
from .requestinfo import Attributes

MASTERS = 'system:masters'
SA_PREFIX = 'system:serviceaccount:'


class ResolutionError(Exception):
    """A roleRef that does not resolve (the apiserver's lister error text)."""


def verb_matches(rule: dict, verb: str) -> bool:
    verbs = rule.get('verbs') or ()
    return '*' in verbs or verb in verbs


def api_group_matches(rule: dict, group: str) -> bool:
    groups = rule.get('apiGroups') or ()
    return '*' in groups or group in groups


def resource_matches(rule: dict, combined: str, subresource: str) -> bool:
    for resource in rule.get('resources') or ():
        if resource in ('*', combined):
            return True
        if subresource and resource == '*/' + subresource:
            return True
    return False


def resource_name_matches(rule: dict, name: str) -> bool:
    names = rule.get('resourceNames')
    return not names or name in names


def non_resource_url_matches(rule: dict, path: str) -> bool:
    for url in rule.get('nonResourceURLs') or ():
        if url in ('*', path) or (url.endswith('*') and path.startswith(url.rstrip('*'))):
            return True
    return False


def rule_allows(attrs, rule: dict) -> bool:
    if not verb_matches(rule, attrs.verb):
        return False
    if not attrs.resource_request:
        return non_resource_url_matches(rule, attrs.path)
    combined = f'{attrs.resource}/{attrs.subresource}' if attrs.subresource else attrs.resource
    return api_group_matches(rule, attrs.api_group) and resource_matches(rule, combined, attrs.subresource) and resource_name_matches(rule, attrs.name)


def service_account_username(namespace: str, name: str) -> str:
    return f'{SA_PREFIX}{namespace}:{name}'


def applies_to(user: dict, subjects, namespace: str) -> int:
    """Index of the first subject that names ``user`` (-1 if none)."""
    for index, subject in enumerate(subjects or ()):
        kind, name = subject.get('kind'), subject.get('name')
        if kind == 'User' and user['username'] == name:
            return index
        if kind == 'Group' and name in user['groups']:
            return index
        if kind == 'ServiceAccount':
            sa_namespace = subject.get('namespace') or namespace
            if sa_namespace and user['username'] == service_account_username(sa_namespace, name):
                return index
    return -1


def describe_subject(subject: dict, binding_namespace: str) -> str:
    name = subject.get('name', '')
    if subject.get('kind') == 'ServiceAccount':
        name = f'{name}/{subject.get("namespace") or binding_namespace}'
    return f'{subject.get("kind", "")} {E.go_value(name)}'


def describe_binding(binding: dict, subject: dict) -> str:
    """What the ``allowed by`` reason names (the resolver's binding describers)."""
    meta, ref = binding['metadata'], binding.get('roleRef') or {}
    namespace = meta.get('namespace', '')
    kind, name = ('RoleBinding', f'{meta["name"]}/{namespace}') if namespace else ('ClusterRoleBinding', meta['name'])
    return f'{kind} {E.go_value(name)} of {ref.get("kind", "")} {E.go_value(ref.get("name", ""))} to {describe_subject(subject, namespace)}'


class RuleResolver:
    """Reads bindings and roles from the store (callers hold no lock; each walk takes the store lock)."""

    def __init__(self, store):
        self.store = store

    def _bucket(self, plural: str) -> dict:
        return self.store.data.get((RBAC_GROUP, plural), {})

    def role_reference_rules(self, role_ref: dict, namespace: str) -> list:
        kind, name = role_ref.get('kind'), role_ref.get('name', '')
        if kind == 'Role':
            role = self._bucket('roles').get((namespace, name))
        elif kind == 'ClusterRole':
            role = self._bucket('clusterroles').get(('', name))
        else:
            raise ResolutionError(f'unsupported role reference kind: {E.go_value(kind or "")}')
        if role is None:
            raise ResolutionError(f'{kind.lower()}.{RBAC_GROUP} {E.go_value(name)} not found')
        return role.get('rules') or []

    def walk(self, user: dict, namespace: str):
        """Yield (binding, subject, rule, error) in the authorizer's order; call with the store lock held."""
        scopes = [('clusterrolebindings', '')]
        if namespace:
            scopes.append(('rolebindings', namespace))
        for plural, scope in scopes:
            for (binding_ns, _name), binding in sorted(self._bucket(plural).items()):
                if binding_ns != scope:
                    continue
                index = applies_to(user, binding.get('subjects'), scope)
                if index < 0:
                    continue
                try:
                    rules = self.role_reference_rules(binding.get('roleRef') or {}, scope)
                except ResolutionError as err:
                    yield binding, None, None, err
                    continue
                subject = binding['subjects'][index]
                for rule in rules:
                    yield binding, subject, rule, None

    def rules_for(self, user: dict, namespace: str) -> tuple:
        """(every rule that applies to ``user`` in ``namespace``, resolution errors)."""
        rules, errs = [], []
        with self.store.lock:
            for _binding, _subject, rule, err in self.walk(user, namespace):
                if err is not None:
                    errs.append(err)
                else:
                    rules.append(rule)
        return rules, errs


class Authorizer:
    """The union kube-apiserver runs: the ``system:masters`` short cut, then RBAC. ``authorize`` -> (allowed, reason)."""

    def __init__(self, store):
        self.resolver = RuleResolver(store)

    def authorize(self, attrs) -> tuple:
        if MASTERS in attrs.user['groups']:
            return True, ''
        errs = []
        namespace = attrs.namespace if attrs.resource_request else ''
        with self.resolver.store.lock:
            for binding, subject, rule, err in self.resolver.walk(attrs.user, namespace):
                if err is not None:
                    errs.append(err)
                elif rule_allows(attrs, rule):
                    return True, 'RBAC: allowed by ' + describe_binding(binding, subject)
        return False, ('RBAC: ' + E.aggregate(errs)) if errs else ''

    def allowed(self, user: dict, verb: str, group: str, resource: str, namespace: str = '', name: str = '') -> bool:
        """A resource check the server makes on its own (escalate, bind)."""
        return self.authorize(Attributes(user, verb, True, '', group, '*', resource, '', namespace, name))[0]


_HTML = str.maketrans({'&': '&amp;', '<': '&lt;', '>': '&gt;'})


def forbidden_message(attrs) -> str:
    user = E.go_value(attrs.user['username'])
    if not attrs.resource_request:
        return f'User {user} cannot {attrs.verb} path {E.go_value(attrs.path)}'
    resource = f'{attrs.resource}/{attrs.subresource}' if attrs.subresource else attrs.resource
    text = f'User {user} cannot {attrs.verb} resource {E.go_value(resource)} in API group {E.go_value(attrs.api_group)}'
    if attrs.namespace:
        return f'{text} in the namespace {E.go_value(attrs.namespace)}'
    return text + ' at the cluster scope'


def forbidden(attrs, reason: str = '') -> E.ApiError:
    """The 403 the authorization filter answers (responsewriters.Forbidden)."""
    detail = forbidden_message(attrs).translate(_HTML)
    if reason:
        detail += ': ' + reason
    group, resource, name = attrs.api_group, attrs.resource, attrs.name
    if not group and not resource:
        message = 'forbidden: ' + detail
    elif name:
        message = f'{E.qualified(group, resource)} {E.go_value(name)} is forbidden: {detail}'
    else:
        message = f'{E.qualified(group, resource)} is forbidden: {detail}'
    details = {k: v for k, v in (('name', name), ('group', group), ('kind', resource)) if v}
    return E.ApiError(403, 'Forbidden', message, details)
