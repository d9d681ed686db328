"""Admission chain of the Kubernetes API emulator, in kube-apiserver's order.

kube-apiserver runs every mutating admission plugin before every validating one (NamespaceLifecycle, LimitRanger, ...,
ValidatingAdmissionPolicy, ..., ResourceQuota). The store calls ``Chain.admit`` under its lock, after decoding,
defaulting and object validation and before the object is stored, for CREATE, UPDATE and DELETE (and the
subresources). A plugin raises an ``errors.ApiError`` to refuse the request.

Plugins implement ``handles(attrs) -> bool`` and ``mutate(store, attrs)`` and/or ``validate(store, attrs)``.
The requesting user (``attrs.user``) is what the server authenticated for this request (``Store.request_user``).
"""

from __future__ import annotations

import dataclasses

ADMIN_USER = {'username': 'sandbox-admin', 'uid': '', 'groups': ['system:masters', 'system:authenticated'], 'extra': {}}


@dataclasses.dataclass
class Attributes:  # pylint: disable=too-many-instance-attributes
    """What an admission plugin sees of one request (admission.Attributes in kube-apiserver)."""

    operation: str  # CREATE | UPDATE | DELETE
    rtype: object  # registry.ResourceType
    namespace: str  # '' for cluster-scoped objects
    name: str
    obj: dict | None  # the new object (None on DELETE); mutating plugins may change it in place
    old: dict | None  # the stored object (None on CREATE)
    subresource: str = ''
    dry_run: bool = False
    user: dict = dataclasses.field(default_factory=lambda: dict(ADMIN_USER))


class Chain:
    """Ordered plugins: every ``mutate`` first, then every ``validate``."""

    def __init__(self, plugins=None):
        self.plugins = list(plugins or [])

    def register(self, plugin, before=None):
        """Add ``plugin`` at the end, or before the first plugin of class name ``before`` (or one of its ``aliases``)."""
        if before is not None:
            for index, existing in enumerate(self.plugins):
                if before == type(existing).__name__ or before in getattr(existing, 'aliases', ()):
                    self.plugins.insert(index, plugin)
                    return
        self.plugins.append(plugin)

    def admit(self, store, attrs: Attributes, validate_object=None):
        """``validate_object()`` (the create/update strategy's validation) runs between the two phases, as in
        kube-apiserver, where objects are validated after mutating and before validating admission."""
        active = [p for p in self.plugins if p.handles(attrs)]
        for plugin in active:
            mutate = getattr(plugin, 'mutate', None)
            if mutate is not None:
                mutate(store, attrs)
        if validate_object is not None:
            validate_object()
        for plugin in active:
            validate = getattr(plugin, 'validate', None)
            if validate is not None:
                validate(store, attrs)
