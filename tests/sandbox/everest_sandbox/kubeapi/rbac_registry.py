"""What the RBAC kinds' REST storage adds to a write: defaulting, escalation prevention, validation.

Upstream: ``pkg/registry/rbac/{role,clusterrole,rolebinding,clusterrolebinding}/policybased/storage.go`` and
``pkg/registry/rbac/escalation_check.go``. It is plugged in as the first admission plugin of the store, so that
defaulting precedes every other mutating plugin and the checks run in the apiserver's order (escalation 403 before
the 422 of validation, both before the validating admission plugins).

* Role/ClusterRole create or update (not when only ownerReferences/finalizers change): allowed for ``system:masters``,
  for holders of ``escalate`` on the resource (the URL's name, empty on create), or when the user already holds every
  rule the role grants in its namespace (cluster-wide for ClusterRoles); an ``aggregationRule`` needs ``*`` on
  everything (``must have cluster-admin privileges to use the aggregationRule``).
* Binding create or update: allowed for ``system:masters``, for holders of ``bind`` on the referenced role (name =
  roleRef.name, in the binding's namespace), or when the user holds every rule of the referenced role; a missing role
  answers 403 with the lister's ``not found`` text.
"""

from __future__ import annotations

import copy

from . import errors as E
from .escalation import FULL_AUTHORITY, escalation_error
from .rbac import MASTERS, ResolutionError
from .rbac_validation import ROLE_KINDS, apply_defaults, validation_errors
from .registry import RBAC_GROUP

GC_FIELDS = ('ownerReferences', 'finalizers', 'selfLink', 'managedFields')


def only_gc_fields_change(obj: dict, old: dict | None) -> bool:
    """IsOnlyMutatingGCFields: the update differs from the stored object at most in GC metadata."""
    if old is None:
        return False
    new = copy.deepcopy(obj)
    for field in GC_FIELDS:
        new['metadata'].pop(field, None)
        if field in old['metadata']:
            new['metadata'][field] = old['metadata'][field]
    strip = ('apiVersion', 'kind')
    return {k: v for k, v in new.items() if k not in strip} == {k: v for k, v in old.items() if k not in strip}


class RbacRegistry:
    """Admission plugin (see ``admission.Chain``) for the four RBAC kinds."""

    def __init__(self, authorizer):
        self.authorizer = authorizer

    @staticmethod
    def handles(attrs) -> bool:
        return attrs.rtype.group == RBAC_GROUP and attrs.operation in ('CREATE', 'UPDATE') and not attrs.subresource

    @staticmethod
    def mutate(_store, attrs):
        apply_defaults(attrs.rtype.plural, attrs.rtype.kind, attrs.obj)

    def validate(self, _store, attrs):
        plural = attrs.rtype.plural
        if MASTERS not in attrs.user['groups'] and not only_gc_fields_change(attrs.obj, attrs.old):
            check = self._check_role if plural in ROLE_KINDS else self._check_binding
            detail = check(attrs)
            if detail:
                raise E.forbidden(RBAC_GROUP, plural, attrs.name, detail)
        errs = validation_errors(plural, attrs.obj, attrs.old)
        if errs:
            raise E.invalid(attrs.rtype.kind, RBAC_GROUP, attrs.name, errs)

    def _check_role(self, attrs) -> str:
        plural, user = attrs.rtype.plural, attrs.user
        url_name = attrs.name if attrs.operation == 'UPDATE' else ''
        if self.authorizer.allowed(user, 'escalate', RBAC_GROUP, plural, attrs.namespace, url_name):
            return ''
        resolver = self.authorizer.resolver
        detail = escalation_error(resolver, user, attrs.namespace, attrs.obj.get('rules') or [])
        if detail or plural != 'clusterroles':
            return detail
        if (attrs.obj.get('aggregationRule') or (attrs.old or {}).get('aggregationRule')) and escalation_error(resolver, user, '', list(FULL_AUTHORITY)):
            return 'must have cluster-admin privileges to use the aggregationRule'
        return ''

    def _check_binding(self, attrs) -> str:
        ref, user = attrs.obj.get('roleRef') or {}, attrs.user
        resource = {'Role': 'roles', 'ClusterRole': 'clusterroles'}.get(ref.get('kind'))
        if resource and self.authorizer.allowed(user, 'bind', ref.get('apiGroup', ''), resource, attrs.namespace, ref.get('name', '')):
            return ''
        try:
            rules = self.authorizer.resolver.role_reference_rules(ref, attrs.namespace)
        except ResolutionError as err:
            return str(err)
        return escalation_error(self.authorizer.resolver, user, attrs.namespace, rules)
