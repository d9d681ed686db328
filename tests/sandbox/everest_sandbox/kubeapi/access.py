"""The access log behind ``GET /_sandbox/access``: per user, the distinct authorization attributes of its requests.

Meant for least-privilege work: run a playbook under an identity (or as the admin), then read which verbs on which
resources (and non-resource paths) it needed and whether RBAC allowed them. Impersonation checks are included.

Answer: ``{"users": {"<username>": [{"verb", "apiGroup", "resource", "subresource", "namespace", "name", "path",
"allowed"}, ...]}}``, users sorted, entries sorted (resource requests first, then by group, resource, subresource,
namespace, name, verb; ``path`` is set for non-resource requests only, the resource fields for resource requests only).

Requests of ``system:masters`` members are recorded raw (method, path, watch and fieldSelector) and turned into
attributes only when the log is read, so the admin's path stays as cheap as before.
"""

from __future__ import annotations

import threading
from urllib.parse import unquote

from .requestinfo import request_attributes

FIELDS = ('verb', 'resourceRequest', 'path', 'apiGroup', 'resource', 'subresource', 'namespace', 'name')


class AccessLog:
    """Thread-safe; ``reset`` empties it."""

    def __init__(self):
        self._lock = threading.Lock()
        self._seen: dict = {}
        self._raw: dict = {}

    def reset(self):
        with self._lock:
            self._seen = {}
            self._raw = {}

    def record(self, attrs, allowed: bool):
        with self._lock:
            self._seen.setdefault(attrs.user['username'], set()).add(attrs.key() + (bool(allowed),))

    def record_raw(self, username: str, method: str, path: str, query: dict):
        """An allowed request of a privileged user, kept unparsed."""
        key = (method, path, tuple(query.get('watch') or ()), tuple(query.get('fieldSelector') or ()))
        with self._lock:
            self._raw.setdefault(username, set()).add(key)

    def snapshot(self) -> dict:
        with self._lock:
            seen = {user: set(keys) for user, keys in self._seen.items()}
            raw = {user: set(keys) for user, keys in self._raw.items()}
        for user, keys in raw.items():
            bucket = seen.setdefault(user, set())
            for method, path, watch, selector in keys:
                query = {k: list(v) for k, v in (('watch', watch), ('fieldSelector', selector)) if v}
                bucket.add(request_attributes({}, method, unquote(path), query).key() + (True,))
        return {'users': {user: [_entry(key) for key in sorted(keys, key=_order)] for user, keys in sorted(seen.items())}}


def _order(key: tuple) -> tuple:
    verb, resource_request, path, group, resource, subresource, namespace, name, allowed = key
    return (not resource_request, group, resource, subresource, namespace, name, path, verb, allowed)


def _entry(key: tuple) -> dict:
    out = dict(zip(FIELDS, key[:-1]))
    out['allowed'] = key[-1]
    del out['resourceRequest']
    return out
