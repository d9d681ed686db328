# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Install, upgrade and remove the tenant admission policy (``_admission_manifest.MANIFEST``): observe -> decide ->
act, like the other modules. Cluster-scoped and shared by every tenant: one policy, one binding.

A ValidatingAdmissionPolicy is GA in ``admissionregistration.k8s.io/v1`` since Kubernetes 1.30 (kubernetes reference
§2); an API server that does not serve it is detected through discovery. The policy's params are TenantResourcePolicy
objects, so its CRD must be established before the policy is installed: with ``failurePolicy: Fail`` an unknown
paramKind would refuse every DatabaseCluster write in the cluster.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML is a requirement of the collection (checked by EverestModule)
    yaml = None

from ansible_collections.virakcloud.everest.plugins.module_utils import _constants, _k8s, _trp_crd
from ansible_collections.virakcloud.everest.plugins.module_utils._admission_manifest import MANIFEST
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError, K8sAlreadyExists, K8sNotFound

API_VERSION = _constants.ADMISSION_API_VERSION
POLICY_PLURAL = _constants.ADMISSION_POLICY_PLURAL
BINDING_PLURAL = _constants.ADMISSION_BINDING_PLURAL


def documents():
    """(policy, binding) as shipped."""
    items = yaml.safe_load(MANIFEST)['items']
    return items[0], items[1]


def names():
    policy, binding = documents()
    return policy['metadata']['name'], binding['metadata']['name']


def path(plural, name=None):
    return _k8s.path(API_VERSION, plural, name=name)


def served(client):
    """Whether the API server serves ValidatingAdmissionPolicies and their bindings (discovery of the group version)."""
    try:
        doc = client.get('/apis/' + API_VERSION)
    except K8sNotFound:
        return False
    resources = set(r.get('name') for r in (doc or {}).get('resources') or [])
    return POLICY_PLURAL in resources and BINDING_PLURAL in resources


def crd_established(client):
    """Whether the TenantResourcePolicy CRD (the policy's parameter kind) exists and is Established."""
    return _trp_crd.crd_established(client.get_or_none(_trp_crd.CRD_PATH))


def _differs(live, desired):
    return not _k8s.contains(live.get('spec'), desired['spec']) or bool(_k8s.labels_missing(live, desired['metadata'].get('labels') or {}))


def _desired_update(live, desired):
    new = copy.deepcopy(live)
    new['spec'] = copy.deepcopy(desired['spec'])
    new.setdefault('metadata', {}).setdefault('labels', {}).update(desired['metadata'].get('labels') or {})
    return new


def _view(obj):
    if obj is None:
        return None
    return {'name': obj['metadata']['name'], 'resource_version': obj['metadata'].get('resourceVersion'), 'spec': obj.get('spec')}


def _converge_one(client, plural, desired, state, check_mode, actions):
    """(live spec before, object after) of one document; a create that loses a race re-reads and converges the winner's."""
    name = desired['metadata']['name']
    kind = desired['kind']
    live = client.get_or_none(path(plural, name))
    before = (live or {}).get('spec')
    if state == 'absent':
        if live is not None:
            actions.append('delete %s %s' % (kind, name))
            if not check_mode:
                client.delete(path(plural, name))
        return before, None
    if live is None:
        if check_mode:
            actions.append('create %s %s' % (kind, name))
            return before, desired
        try:
            after = client.create(path(plural), copy.deepcopy(desired))
            actions.append('create %s %s' % (kind, name))
            return before, after
        except K8sAlreadyExists:  # another run (a fork, an AWX slice, a second operator) created it since the GET
            live = client.get(path(plural, name))
    if not _differs(live, desired):
        return before, live
    actions.append('update %s %s' % (kind, name))
    if check_mode:
        return before, _desired_update(live, desired)
    _changed, after = _k8s.read_modify_write(client, path(plural, name), lambda obj: _desired_update(obj, desired) if _differs(obj, desired) else None)
    return before, after


def converge(client, state='present', check_mode=False):
    """Bring the policy and its binding to ``state``; returns {changed, actions, policy, binding, before, after}."""
    policy, binding = documents()
    order = [(POLICY_PLURAL, policy), (BINDING_PLURAL, binding)]
    if state == 'absent':
        order.reverse()  # the binding goes first: a binding without its policy does nothing, the reverse would be a gap
    result = {'changed': False, 'actions': [], 'before': {}, 'after': {}}
    for plural, desired in order:
        key = 'policy' if plural == POLICY_PLURAL else 'binding'
        before, after = _converge_one(client, plural, desired, state, check_mode, result['actions'])
        result['before'][key] = before
        result['after'][key] = (after or {}).get('spec')
        result[key] = _view(after)
    result['changed'] = bool(result['actions'])
    return result


class Unsupported(EverestError):
    """The API server does not serve ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1)."""
