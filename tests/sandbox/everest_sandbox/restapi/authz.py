"""Who a verified token is for Everest's RBAC, and the checks made with it (``pkg/rbac/rbac.go`` ``GetUser``,
``internal/server/handlers/rbac/handler.go`` ``enforce``, ``kubernetes.go`` ``GetUserPermissions``).

* Subject: an Everest session token (``iss: everest``) gives ``sub`` cut at the first ``:`` (``alice:login`` ->
  ``alice``); any other token gives ``sub`` verbatim (no prefix, case folding, trimming or ``:`` split).
* Groups: claim ``groups`` as a JSON array (non-string items dropped) or a single string; anything else, or no
  claim, means no groups. No dedupe, no transformation.
* A request is allowed if the subject or any group is allowed (one ``Enforce`` per name, in that order; the model
  has no deny). Names share one flat namespace with local users and roles: a group ``admin`` inherits
  ``g, admin, role:admin``; a group or subject literally named ``role:x`` gets role x's rules.
* ``GET /v1/permissions``: the union over the subject and every group of the implicit permissions (rules of the
  name itself and of every role reachable through ``g`` lines, the implicit ``role:admin`` rules included), each
  row rewritten to ``[<subject>, resource, action, object]``, deduplicated (sorted here; Everest's order is random).

Policies are evaluated with the everestctl emulator's engine (``everestctl/rbac.py``), which is independent of
the collection's ``plugins/module_utils/_rbac.py``.
"""

from __future__ import annotations

from typing import NamedTuple

from .tokens import EVEREST_ISSUER


class User(NamedTuple):
    subject: str
    groups: tuple = ()

    def names(self) -> list:
        return [self.subject, *self.groups]


def groups_of(claims: dict) -> tuple:
    value = claims.get('groups')
    if isinstance(value, list):
        return tuple(item for item in value if isinstance(item, str))
    if isinstance(value, str):
        return (value,)
    return ()


def user_of(claims: dict) -> User:
    subject = claims.get('sub', '')
    if claims.get('iss') == EVEREST_ISSUER:
        subject = subject.split(':')[0]
    return User(subject, groups_of(claims))


def allowed(policy, user: User, resource: str, action: str, obj: str) -> bool:
    return any(policy.enforce(name, resource, action, obj) for name in user.names())


def permissions(policy, user: User) -> list:
    rows = set()
    for name in user.names():
        reachable = policy.subjects_of(name)
        rows.update((user.subject, res, act, obj) for sub, res, act, obj in policy.p_rules if sub in reachable)
    return [list(row) for row in sorted(rows)]
