"""The ServiceAccount admission plugin (upstream ``plugin/pkg/admission/serviceaccount/admission.go``), reduced to what
the emulator's pods can show.

Runs in the mutating phase after LimitRanger, on pod CREATE (no subresource, mirror pods aside): the pod's
``spec.serviceAccountName`` (``default`` when empty) must name a ServiceAccount of the pod's namespace, else 403
``pods "<name>" is forbidden: error looking up service account <ns>/<sa>: serviceaccount "<sa>" not found``.
A missing ``default`` ServiceAccount is waited for upstream (the controller creates it); the emulator's controller has
already created it, so the pod is admitted. Not emulated: the projected token volume and the image pull secrets the
plugin adds.
"""

from __future__ import annotations

from . import errors as E

POD_KEY = ('', 'pods')
MIRROR_POD = 'kubernetes.io/config.mirror'


class ServiceAccount:
    """Admission plugin: the pod's ServiceAccount must exist."""

    @staticmethod
    def handles(attrs) -> bool:
        return attrs.rtype.storage_key == POD_KEY and attrs.operation == 'CREATE' and not attrs.subresource and attrs.obj is not None

    @staticmethod
    def mutate(store, attrs):
        if MIRROR_POD in ((attrs.obj.get('metadata') or {}).get('annotations') or {}):
            return
        spec = attrs.obj.setdefault('spec', {})
        name = spec.get('serviceAccountName') or 'default'
        spec['serviceAccountName'] = name
        if name == 'default' or (attrs.namespace, name) in store.data.get(('', 'serviceaccounts'), {}):
            return
        raise E.forbidden(
            attrs.rtype.group, attrs.rtype.plural, attrs.name, f'error looking up service account {attrs.namespace}/{name}: serviceaccount "{name}" not found'
        )
