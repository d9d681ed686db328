# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Everest REST objects of the day-2 modules: names, the view returned, waits, and the converge of per-namespace
objects with write-only secrets (backup storages, monitoring instances)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import time

from ansible_collections.virakcloud.everest.plugins.module_utils import _everest_client, _retry, _validation
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError, TimeoutExceeded, ValidationError


def check_name(name, what):
    if not isinstance(name, str) or not _validation.OBJECT_NAME_RE.match(name) or len(name) > _validation.OBJECT_NAME_MAX_LENGTH:
        raise ValidationError(
            "%s name %r is invalid: Everest requires an RFC 1035 name of at most %d characters (lowercase letters, "
            "digits and '-', starting with a letter, ending with a letter or digit)" % (what, name, _validation.OBJECT_NAME_MAX_LENGTH)
        )


def object_view(obj):
    """The object without noise (managedFields)."""
    obj = copy.deepcopy(obj or {})
    (obj.get("metadata") or {}).pop("managedFields", None)
    return obj


def wait_for(fetch, done, timeout, what, sleep=time.sleep, clock=time.monotonic, failed=None):
    """Poll ``fetch()`` until ``done(obj)``; raise TimeoutExceeded (details: last object) or EverestError when ``failed(obj)``."""

    def check(obj):
        reason = failed(obj) if failed is not None else None
        if reason:
            raise EverestError("%s failed: %s" % (what, reason))

    def timed_out(obj):
        return TimeoutExceeded("%s did not finish within %s s; raise wait_timeout or check the operator" % (what, timeout), result=obj)

    return _retry.poll(fetch, done, timeout, timed_out, check=check, max_interval=2.0, sleep=sleep, clock=clock)


# ------------------------------------------------------------------------------- objects with write-only secrets


def _same(a, b):
    if isinstance(a, list) and isinstance(b, list):
        return sorted(a) == sorted(b)
    if a in (None, "") and b in (None, ""):
        return True
    return a == b


def converge_object(module, client, collection, resource, label, desired, secrets, create_required, immutable=(), create_extra=None):
    """Create / PATCH / delete one per-namespace object of Everest's API that has write-only secrets.

    ``desired``: API field -> value (None = not managed); ``secrets``: dict merged into the create body and, with
    ``update_secrets: always``, into the PATCH (the API never returns them, so they cannot be compared).
    Returns ``(changed, object view, diff)``; secrets appear in neither.
    """
    params = module.params
    ns, name = params["namespace"], params["name"]
    obj = "%s/%s" % (ns, name)
    what = "%s %s" % (label, obj)
    path = _everest_client.ns_path(ns, collection, name)
    current = client.get_or_none(path, rbac=(resource, "read", obj), what=what)
    if params["state"] == "absent":
        if current is None:
            return False, {}, None
        if not module.check_mode:
            try:
                client.request("DELETE", path, rbac=(resource, "delete", obj), what=what)
            except _everest_client.EverestApiNotFound:
                return False, {}, None
        return True, {}, {"before": current, "after": {}}
    if current is None:
        missing = [opt for opt, field in create_required if desired.get(field) is None and (create_extra or {}).get(field) is None]
        if not secrets:
            missing.append("the secret options")
        if missing:
            raise ValidationError("%s does not exist; creating it needs %s" % (what, ", ".join(missing)))
        body = {"name": name}
        body.update(create_extra or {})
        body.update(dict((k, v) for k, v in desired.items() if v is not None))
        after = dict((k, v) for k, v in body.items())
        after["namespace"] = ns
        body.update(secrets)
        diff = {"before": {}, "after": after}
        if module.check_mode:
            return True, after, diff
        created = client.request("POST", _everest_client.ns_path(ns, collection), body, rbac=(resource, "create", obj), what=what)
        return True, created, diff
    for field, option in immutable:
        if desired.get(field) is not None and desired[field] != current.get(field):
            raise ValidationError("%s has %s %r; it cannot be changed to %r (delete and re-create it)" % (what, option, current.get(field), desired[field]))
    patch = dict((k, v) for k, v in desired.items() if v is not None and k not in dict(immutable) and not _same(current.get(k), v))
    push_secrets = bool(secrets) and params.get("update_secrets") == "always"
    if not patch and not push_secrets:
        return False, current, None
    after = dict(current)
    after.update(patch)
    if push_secrets:
        after["secrets_updated"] = True
    diff = {"before": current, "after": after}
    if module.check_mode:
        return True, after, diff
    body = dict(patch)
    if push_secrets:
        body.update(secrets)
    updated = client.request("PATCH", path, body, rbac=(resource, "update", obj), what=what)
    return True, updated, diff
