# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The TenantResourcePolicy CRD: installing it (``ensure_crd``) and its document, an exact copy of
files/crd-tenantresourcepolicy.yaml.

Modules cannot read collection files at run time, so the YAML document lives here too (``CRD_YAML``, at the end of
this file). tests/unit/plugins/module_utils/test_trp_crd.py fails when the two differ; after editing the YAML file run
``python tests/unit/plugins/module_utils/test_trp_crd.py --write`` to regenerate ``CRD_YAML``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import time

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    yaml = None
    HAS_YAML = False

from ansible_collections.virakcloud.everest.plugins.module_utils import _constants, _k8s, _retry
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import (
    EverestError,
    K8sAlreadyExists,
    K8sInvalid,
    TimeoutExceeded,
)

CRD_PATH = _k8s.path(_constants.CRD_API_VERSION, 'customresourcedefinitions', name=_constants.TRP_CRD_NAME)
CRD_COLLECTION_PATH = _k8s.path(_constants.CRD_API_VERSION, 'customresourcedefinitions')


def crd_document():
    if not HAS_YAML:
        raise EverestError('PyYAML is required to install the TenantResourcePolicy CRD')
    return yaml.safe_load(CRD_YAML)


def _condition(obj, ctype):
    for cond in ((obj or {}).get('status') or {}).get('conditions') or []:
        if cond.get('type') == ctype:
            return cond
    return None


def crd_established(obj):
    cond = _condition(obj, 'Established')
    return bool(cond) and cond.get('status') == 'True'


def invalid_message(exc, what):
    causes = ['%s: %s' % (c.get('field') or '<object>', c.get('message') or c.get('reason') or 'invalid') for c in exc.causes]
    detail = '; '.join(causes) if causes else (exc.message or exc.msg)
    return (
        'the API server refused %s (422 Invalid): %s; the installed TenantResourcePolicy CRD may be older or stricter '
        'than this collection\'s (install_crd: true updates it)' % (what, detail)
    )


def ensure_crd(client, check_mode=False, wait_timeout=60, sleep=time.sleep, clock=time.monotonic):
    """Create or update the CRD, then wait until it is Established. Returns ``(changed, crd_object_or_None)``.

    The no-op path is one GET (the stored CRD already contains our spec and is Established).
    """
    desired = crd_document()
    current = client.get_or_none(CRD_PATH)
    changed = False
    if current is None:
        changed = True
        if check_mode:
            return True, None
        try:
            current = client.create(CRD_COLLECTION_PATH, desired)
        except K8sAlreadyExists:
            # another run (a fork, an AWX job slice) created it between our GET and POST: continue from its state
            return ensure_crd(client, check_mode=check_mode, wait_timeout=wait_timeout, sleep=sleep, clock=clock)
        except K8sInvalid as exc:
            raise EverestError(invalid_message(exc, 'CustomResourceDefinition %s' % _constants.TRP_CRD_NAME))
    elif not (_k8s.contains(current.get('spec'), desired['spec']) and not _k8s.labels_missing(current, desired['metadata']['labels'])):
        changed = True
        if check_mode:
            return True, current

        def mutate(obj):
            if _k8s.contains(obj.get('spec'), desired['spec']) and not _k8s.labels_missing(obj, desired['metadata']['labels']):
                return None
            new = copy.deepcopy(obj)
            new.pop('status', None)
            new['spec'] = copy.deepcopy(desired['spec'])
            new.setdefault('metadata', {}).setdefault('labels', {}).update(desired['metadata']['labels'])
            return new

        current = _k8s.read_modify_write(client, CRD_PATH, mutate)[1]
    if check_mode or crd_established(current):
        return changed, current

    def names_accepted(obj):
        accepted = _condition(obj, 'NamesAccepted')
        if accepted and accepted.get('status') == 'False':
            raise EverestError('CustomResourceDefinition %s: names not accepted: %s' % (_constants.TRP_CRD_NAME, accepted.get('message')))

    def timed_out(_obj):
        return TimeoutExceeded(
            'CustomResourceDefinition %s is not Established after %ss; check the API server (kubectl get crd %s -o yaml) '
            'or raise wait_timeout' % (_constants.TRP_CRD_NAME, wait_timeout, _constants.TRP_CRD_NAME)
        )

    current = _retry.poll(
        lambda: client.get(CRD_PATH), crd_established, wait_timeout, timed_out, check=names_accepted, first=current, max_interval=1.0, sleep=sleep, clock=clock
    )
    return changed, current


# -------------------------------------------------------------------------------------- the document (generated)

CRD_YAML = '''---
# TenantResourcePolicy: per-namespace limits for Percona Everest tenants (virakcloud.everest).
# One source of truth: the tenant_resource_policy module installs exactly this document
# (mirrored in plugins/module_utils/_trp_crd.py); `kubectl apply -f` works with it too.
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: tenantresourcepolicies.everest.local
  labels:
    app.kubernetes.io/managed-by: virakcloud.everest
spec:
  group: everest.local
  scope: Namespaced
  names:
    kind: TenantResourcePolicy
    listKind: TenantResourcePolicyList
    plural: tenantresourcepolicies
    singular: tenantresourcepolicy
    shortNames:
      - trp
  versions:
    - name: v1
      served: true
      storage: true
      subresources:
        status: {}
      additionalPrinterColumns:
        - name: Max Clusters
          type: integer
          jsonPath: .spec.limits.maxClusters
        - name: Engines
          type: string
          jsonPath: .spec.selectors.engines
        - name: Age
          type: date
          jsonPath: .metadata.creationTimestamp
      schema:
        openAPIV3Schema:
          type: object
          description: Resource limits of one Everest tenant namespace.
          properties:
            apiVersion:
              type: string
            kind:
              type: string
            metadata:
              type: object
            spec:
              type: object
              required:
                - limits
                - selectors
              properties:
                limits:
                  type: object
                  description: A limit that is absent is not enforced.
                  properties:
                    cpuCores:
                      type: number
                      minimum: 0
                      description: CPU cores for all database clusters of the namespace.
                    memoryBytes:
                      type: integer
                      format: int64
                      minimum: 0
                      description: Memory in bytes for all database clusters of the namespace.
                    maxClusters:
                      type: integer
                      minimum: 0
                      description: Number of DatabaseCluster objects.
                    maxDbUsers:
                      type: integer
                      minimum: 0
                      description: Number of Everest users bound in the tenant's RBAC block.
                selectors:
                  type: object
                  properties:
                    engines:
                      type: array
                      description: >-
                        Database engines the tenant may create (mysql and xtradb_cluster mean the pxc engine,
                        mongodb the psmdb engine). Read literally: an absent or empty list allows no engine.
                        The tenant_resource_policy module writes all four names when allowed_engines is left out.
                      items:
                        type: string
                        enum:
                          - postgresql
                          - mysql
                          - mongodb
                          - xtradb_cluster
            status:
              type: object
              properties:
                observedGeneration:
                  type: integer
                  format: int64
                usage:
                  type: object
                  properties:
                    clusters:
                      type: integer
                      minimum: 0
                    cpuCores:
                      type: number
                      minimum: 0
                    memoryBytes:
                      type: integer
                      format: int64
                      minimum: 0
                    dbUsers:
                      type: integer
                      minimum: 0
                conditions:
                  type: array
                  items:
                    type: object
                    required:
                      - type
                      - status
                    properties:
                      type:
                        type: string
                      status:
                        type: string
                        enum:
                          - "True"
                          - "False"
                          - Unknown
                      reason:
                        type: string
                      message:
                        type: string
                      lastTransitionTime:
                        type: string
                        format: date-time
                      observedGeneration:
                        type: integer
                        format: int64
'''
