# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virakcloud
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The TenantResourcePolicy CRD as a string: an exact copy of files/crd-tenantresourcepolicy.yaml.

Modules cannot read collection files at run time, so the YAML document lives here too.
tests/unit/plugins/module_utils/test_trp_crd.py fails when the two differ; after editing the YAML file run
``python tests/unit/plugins/module_utils/test_trp_crd.py --write`` to regenerate this file.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

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
