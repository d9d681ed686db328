"""Authentication: who is asking (bearer tokens) and as whom (impersonation headers).

* The server's own token is the sandbox admin: user ``sandbox-admin``, groups ``system:masters``,
  ``system:authenticated`` (``ADMIN``; the request path skips RBAC for it).
* A ServiceAccount JWT from the TokenRequest API (``tokens.py``) is valid while its signature, issuer, audience
  (one of the server's) and expiry (60 s leeway) hold and its ServiceAccount -- and bound Secret/Pod/Node, if any --
  still exists with the uid in the token. User: ``system:serviceaccount:<ns>:<name>``, uid = the ServiceAccount's,
  groups ``system:serviceaccounts``, ``system:serviceaccounts:<ns>``, ``system:authenticated``, extra
  ``authentication.kubernetes.io/credential-id: [JTI=<jti>]`` (and pod-name/pod-uid/node-name for bound tokens).
* Anything else: 401 (the caller answers the ``Unauthorized`` Status).
* Impersonation (upstream ``staging/src/k8s.io/apiserver/pkg/endpoints/filters/impersonation.go``): ``Impersonate-User``
  (a ``system:serviceaccount:<ns>:<n>`` name is the ServiceAccount ``<n>`` in ``<ns>``), ``Impersonate-Group``
  (repeatable), ``Impersonate-Uid``, ``Impersonate-Extra-<key>``; each needs the ``impersonate`` verb on users, groups,
  serviceaccounts, uids or userextras/<key> (authentication.k8s.io for the last two), else 403 naming the first
  refused one. The new user gets ``system:authenticated`` unless a group says otherwise; a ServiceAccount without
  ``Impersonate-Group`` gets its fixed groups. Groups, uid or extra without a user is a 500.
"""

from __future__ import annotations

import hmac
import time
from urllib.parse import unquote

from .admission import ADMIN_USER
from .rbac import SA_PREFIX, forbidden
from .requestinfo import Attributes
from .store import DNS1123_LABEL, DNS1123_SUBDOMAIN
from .tokens import API_AUDIENCES, ISSUER

ADMIN = ADMIN_USER
AUTHENTICATED, UNAUTHENTICATED = 'system:authenticated', 'system:unauthenticated'
LEEWAY_SECONDS = 60
EXTRA_PREFIX = 'impersonate-extra-'


def service_account_groups(namespace: str) -> list:
    return ['system:serviceaccounts', f'system:serviceaccounts:{namespace}']


def split_service_account(username: str):
    """(namespace, name) of a ServiceAccount username, else None."""
    if not username.startswith(SA_PREFIX):
        return None
    parts = username[len(SA_PREFIX) :].split(':')
    if len(parts) != 2 or len(parts[0]) > 63 or not DNS1123_LABEL.match(parts[0]) or not DNS1123_SUBDOMAIN.match(parts[1]):
        return None
    return parts[0], parts[1]


class ImpersonationError(Exception):
    """Impersonation headers that do not form a request: the filter's plain-text 500."""


def _all(headers, name: str) -> list:
    getter = getattr(headers, 'get_all', None)
    if getter is not None:
        return getter(name) or []
    value = headers.get(name)
    return [value] if value else []


class Authenticator:
    """Maps an ``Authorization`` header to a user dict (``ADMIN`` for the admin token), or None."""

    def __init__(self, admin_token: str, issuer, store):
        self._admin = admin_token.encode()
        self.issuer = issuer
        self.store = store

    def authenticate(self, header: str | None):
        if not header or not header.startswith('Bearer '):
            return None
        token = header[7:].strip()
        if hmac.compare_digest(token.encode(), self._admin):
            return ADMIN
        claims = self.issuer.verify(token)
        return self._service_account_user(claims) if claims is not None else None

    def _service_account_user(self, claims: dict):
        now = time.time()
        audiences = claims.get('aud') if isinstance(claims.get('aud'), list) else [claims.get('aud')]
        if claims.get('iss') != ISSUER or not set(audiences) & set(API_AUDIENCES):
            return None
        if not isinstance(claims.get('exp'), int) or now > claims['exp'] + LEEWAY_SECONDS or now < claims.get('nbf', 0) - LEEWAY_SECONDS:
            return None
        private = claims.get('kubernetes.io') or {}
        namespace, account = private.get('namespace', ''), private.get('serviceaccount') or {}
        extra = {'authentication.kubernetes.io/credential-id': [f'JTI={claims.get("jti", "")}']}
        if not self._exists('serviceaccounts', namespace, account):
            return None
        if any(private.get(kind) and not self._exists(kind + 's', namespace, private[kind]) for kind in ('secret', 'pod')):
            return None
        if private.get('pod'):
            extra['authentication.kubernetes.io/pod-name'] = [private['pod']['name']]
            extra['authentication.kubernetes.io/pod-uid'] = [private['pod']['uid']]
        if private.get('node'):
            extra['authentication.kubernetes.io/node-name'] = [private['node']['name']]
        return {'username': claims.get('sub', ''), 'uid': account.get('uid', ''), 'groups': service_account_groups(namespace) + [AUTHENTICATED], 'extra': extra}

    def _exists(self, plural: str, namespace: str, ref: dict) -> bool:
        with self.store.lock:
            obj = self.store.data.get(('', plural), {}).get((namespace, ref.get('name', '')))
            return obj is not None and obj['metadata'].get('uid') == ref.get('uid')


def wants_impersonation(headers) -> bool:
    return any(key[:1] in 'Ii' and key[:12].lower() == 'impersonate-' for key in headers.keys())


def _requests(headers) -> list:
    """(kind, namespace, name, extra key) in the filter's order; raises the 500 for groups/uid/extra without a user."""
    out = []
    username = headers.get('Impersonate-User') or ''
    if username:
        account = split_service_account(username)
        out.append(('ServiceAccount', account[0], account[1], '') if account else ('User', '', username, ''))
    out += [('Group', '', group, '') for group in _all(headers, 'Impersonate-Group')]
    for key in dict.fromkeys(headers.keys()):
        if key.lower().startswith(EXTRA_PREFIX):
            extra_key = unquote(key[len(EXTRA_PREFIX) :].lower())
            out += [('UserExtra', '', value, extra_key) for value in _all(headers, key)]
    if headers.get('Impersonate-Uid'):
        out.append(('UID', '', headers['Impersonate-Uid'], ''))
    if out and not username:
        listed = ' '.join('{' + ' '.join(_object_reference(*request)) + '}' for request in out)
        raise ImpersonationError(f'requested [{listed}] without impersonating a user')
    return out


def _object_reference(kind: str, namespace: str, name: str, extra_key: str) -> tuple:
    """The fields of the v1.ObjectReference the filter prints with %v (Kind Namespace Name UID APIVersion RV FieldPath)."""
    api_version = 'authentication.k8s.io/v1' if kind in ('UserExtra', 'UID') else ''
    return (kind, namespace, name, '', api_version, '', extra_key)


RESOURCES = {
    'ServiceAccount': ('', 'serviceaccounts'),
    'User': ('', 'users'),
    'Group': ('', 'groups'),
    'UserExtra': ('authentication.k8s.io', 'userextras'),
    'UID': ('authentication.k8s.io', 'uids'),
}


def impersonate(requestor: dict, headers, authorizer, on_check=None) -> dict:
    """The impersonated user; every requested identity must be allowed for ``requestor`` (403 for the first that is not).

    ``on_check(attrs, allowed)`` sees each authorization check (the access log)."""
    requests = _requests(headers)
    if not requests:
        return requestor  # only empty Impersonate-* headers: nothing to impersonate
    groups_given = bool(_all(headers, 'Impersonate-Group'))
    username, groups, extra, uid = '', [], {}, ''
    for kind, namespace, name, extra_key in requests:
        group, resource = RESOURCES[kind]
        attrs = Attributes(requestor, 'impersonate', True, '', group, 'v1', resource, extra_key, namespace, name)
        allowed, reason = authorizer.authorize(attrs)
        if on_check is not None:
            on_check(attrs, allowed)
        if not allowed:
            raise forbidden(attrs, reason)
        if kind == 'ServiceAccount':
            username = f'{SA_PREFIX}{namespace}:{name}'
            groups = groups if groups_given else service_account_groups(namespace)
        elif kind == 'User':
            username = name
        elif kind == 'Group':
            groups.append(name)
        elif kind == 'UserExtra':
            extra.setdefault(extra_key, []).append(name)
        else:
            uid = name
    marker = UNAUTHENTICATED if username == 'system:anonymous' else AUTHENTICATED
    if not any(g in (marker, UNAUTHENTICATED) for g in groups):
        groups.append(marker)
    return {'username': username, 'uid': uid, 'groups': groups, 'extra': extra}
