"""Authorization attributes of a request, derived from its method, path and query the way kube-apiserver does.

Upstream: ``staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go`` (RequestInfoFactory.NewRequestInfo) and
``pkg/endpoints/filters/authorization.go`` (GetAuthorizerAttributes).

* ``/api/<v>/...`` and ``/apis/<g>/<v>/...`` with at least one more segment are resource requests; everything else
  (``/api``, ``/api/v1``, ``/apis/<g>/<v>``, ``/version``, ``/openapi/...``, ``/healthz``, ``/_sandbox/...``) is a
  non-resource request whose verb is the lower-cased HTTP method and whose path is the URL path.
* Verbs: POST create, GET/HEAD get, PUT update, PATCH patch, DELETE delete; a GET without a name is list, or watch when
  ``watch`` is set to anything but ``0``/``f``/``false`` (or the path starts with ``/watch/``); a DELETE without a name
  is deletecollection.
* ``/namespaces/<ns>/<resource>/...`` sets the namespace; ``/namespaces/<ns>`` itself is the resource ``namespaces``
  named ``<ns>`` *in* namespace ``<ns>`` (``status`` and ``finalize`` are its subresources).
* A list or watch whose ``fieldSelector`` requires ``metadata.name=<n>`` is authorized with that name.
"""

from __future__ import annotations

from typing import NamedTuple

from .store import path_segment_errors

API_PREFIXES = ('api', 'apis')
SPECIAL_VERBS = ('proxy', 'watch')
NAMESPACE_SUBRESOURCES = ('status', 'finalize')
METHOD_VERBS = {'POST': 'create', 'GET': 'get', 'HEAD': 'get', 'PUT': 'update', 'PATCH': 'patch', 'DELETE': 'delete'}


class Attributes(NamedTuple):
    """authorizer.Attributes: who asks for what."""

    user: dict
    verb: str
    resource_request: bool
    path: str = ''
    api_group: str = ''
    api_version: str = ''
    resource: str = ''
    subresource: str = ''
    namespace: str = ''
    name: str = ''

    def key(self) -> tuple:
        """The attributes without the user (what the access log keeps)."""
        return (
            self.verb,
            self.resource_request,
            '' if self.resource_request else self.path,
            self.api_group,
            self.resource,
            self.subresource,
            self.namespace,
            self.name,
        )


def _query_bool(values) -> bool:
    """runtime.Convert_Slice_string_To_bool: only ``0``, ``f`` and ``false`` (any case) are false."""
    return bool(values) and values[0].lower() not in ('0', 'f', 'false')


def _split_term(term: str):
    """fields.splitTerm: the earliest operator wins; at one position ``!=`` before ``==`` before ``=``."""
    for index in range(len(term)):
        for operator in ('!=', '==', '='):
            if term.startswith(operator, index):
                return term[:index], operator, term[index + len(operator) :]
    return None


def exact_name(field_selector: str | None) -> str:
    """The name a field selector pins with ``metadata.name=`` (or ``==``), '' if none or unparsable."""
    if not field_selector:
        return ''
    terms = []
    for part in sorted(field_selector.split(',')):
        if part:
            term = _split_term(part)
            if term is None:
                return ''  # not a selector: the apiserver logs the parse error and ignores the name
            terms.append(term)
    name = next((value for key, operator, value in terms if key == 'metadata.name' and operator != '!='), '')
    return name if name and not path_segment_errors(name) else ''


def request_attributes(user: dict, method: str, path: str, query: dict) -> Attributes:
    """``path`` is the decoded URL path, ``query`` the ``parse_qs`` result."""
    verb = method.lower()
    parts = path.strip('/').split('/') if path.strip('/') else []
    if len(parts) < 3 or parts[0] not in API_PREFIXES or (parts[0] == 'apis' and len(parts) < 4):
        return Attributes(user, verb, False, path=path)
    group = parts[1] if parts[0] == 'apis' else ''
    rest = parts[2:] if parts[0] == 'apis' else parts[1:]
    version, rest = rest[0], rest[1:]
    if rest[0] in SPECIAL_VERBS:
        verb, rest = rest[0], rest[1:]
    else:
        verb = METHOD_VERBS.get(method, '')
    namespace = ''
    if rest and rest[0] == 'namespaces' and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0] if rest else ''
    name = rest[1] if len(rest) > 1 else ''
    subresource = rest[2] if len(rest) > 2 and verb != 'proxy' else ''
    if not name and verb == 'get':
        verb = 'watch' if _query_bool(query.get('watch')) else 'list'
        selector = query.get('fieldSelector')
        name = exact_name(selector[0] if selector else None)
    if not name and verb == 'delete':
        verb = 'deletecollection'
    return Attributes(user, verb, True, path, group, version, resource, subresource, namespace, name)
