# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tenant admission policy: a ValidatingAdmissionPolicy whose params are each namespace's TenantResourcePolicy, and
its one binding for every tenant (docs/dev/admission-policy.md explains the expressions).

``MANIFEST`` is the text of ``files/tenant-policy-admission.yaml`` (a unit test keeps them equal): the file is what
``kubectl apply -f`` takes, this copy is what the modules install (a module cannot read the collection's files on
the host that runs it).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

MANIFEST = '''---
# Tenant limits enforced by the API server itself (virakcloud.everest, issues #15 and #16).
#
# A ValidatingAdmissionPolicy whose parameters are the TenantResourcePolicy (everest.local/v1) of the namespace
# of each DatabaseCluster, and ONE binding for every tenant. It refuses, on CREATE and on UPDATE of the spec:
#   (a) an engine the namespace's policy does not allow (mysql/xtradb_cluster = pxc, postgresql, mongodb = psmdb);
#   (c) a cluster without engine cpu (memory, storage size) while the policy limits CPU (memory, storage);
#   (b) a cluster whose own CPU, memory or storage is above the namespace's limit (the API server sees one object
#       at a time: the sum over all clusters is what the tenant's ResourceQuotas and tenant_quota_check enforce).
# Usage is counted as tenant_quota_check counts it (plugins/module_utils/_quota.py, cluster_usage):
#   engine.replicas (1 when absent) x engine.resources, times sharding.shards when sharding is enabled,
#   plus proxy.replicas (default: engine.replicas) x proxy.resources when spec.proxy.resources is set;
#   storage = volumes x engine.storage.size, volumes = the nodes, plus the config servers of a sharded MongoDB
#   cluster (sharding.configServer.replicas, default engine.replicas), plus 1 (the backup repository) for PostgreSQL.
# Memory and storage are shown in the largest unit that divides them exactly (4Gi, 4G, 1536Mi), else in bytes.
# The expressions and the counting rule are explained in
# https://github.com/virakcloud/ansible-collection-everest/blob/main/docs/dev/admission-policy.md
# Needs Kubernetes 1.30+ (admissionregistration.k8s.io/v1) and the TenantResourcePolicy CRD installed first
# (files/crd-tenantresourcepolicy.yaml): see failurePolicy below.
apiVersion: v1
kind: List
items:
  - apiVersion: admissionregistration.k8s.io/v1
    kind: ValidatingAdmissionPolicy
    metadata:
      name: virakcloud-everest-tenant-resource-policy
      labels:
        app.kubernetes.io/managed-by: virakcloud.everest
    spec:
      # Fail: when the policy cannot be evaluated (a run-time error, a budget overrun, the TenantResourcePolicy CRD
      # missing) the DatabaseCluster write is refused rather than let through unchecked: an oversized cluster costs
      # real capacity, a refused write can simply be retried once the cause is fixed. Namespaces without a
      # TenantResourcePolicy are not affected by this choice (parameterNotFoundAction: Allow in the binding).
      failurePolicy: Fail
      paramKind:
        apiVersion: everest.local/v1
        kind: TenantResourcePolicy
      matchConstraints:
        resourceRules:
          - apiGroups: ["everest.percona.com"]
            apiVersions: ["*"]
            operations: ["CREATE", "UPDATE"]
            resources: ["databaseclusters"]
      matchConditions:
        # Only writes that can change usage or engine: creates, and updates that change the spec (label, annotation
        # and finalizer changes pass, so a cluster above a limit lowered later can still be relabelled or deleted).
        - name: spec-written
          expression: "request.operation == 'CREATE' || object.spec != oldObject.spec"
        - name: not-being-deleted
          expression: "!has(object.metadata.deletionTimestamp)"
      variables:
        - name: ns
          expression: "object.metadata.namespace"
        - name: policyName
          expression: "'TenantResourcePolicy ' + variables.ns + '/' + params.metadata.name"
        - name: limits
          expression: "has(params.spec.limits) ? params.spec.limits : {}"
        - name: engines
          expression: "has(params.spec.selectors) && has(params.spec.selectors.engines) ? params.spec.selectors.engines : []"
        - name: allowedTypes
          expression: >-
            variables.engines.filter(e, e in ['mysql', 'xtradb_cluster', 'postgresql', 'mongodb'])
            .map(e, e == 'mongodb' ? 'psmdb' : (e == 'postgresql' ? 'postgresql' : 'pxc'))
        - name: engineType
          expression: "has(object.spec.engine.type) ? object.spec.engine.type : ''"
        - name: engineResources
          expression: "has(object.spec.engine.resources) ? object.spec.engine.resources : {}"
        - name: hasCpu
          expression: "'cpu' in variables.engineResources && isQuantity(string(variables.engineResources.cpu))"
        - name: hasMemory
          expression: "'memory' in variables.engineResources && isQuantity(string(variables.engineResources.memory))"
        - name: hasStorage
          expression: >-
            has(object.spec.engine.storage) && has(object.spec.engine.storage.size) &&
            isQuantity(string(object.spec.engine.storage.size))
        - name: engineReplicas
          expression: "has(object.spec.engine.replicas) ? int(object.spec.engine.replicas) : 1"
        - name: sharded
          expression: "has(object.spec.sharding) && has(object.spec.sharding.enabled) && object.spec.sharding.enabled"
        - name: nodes
          expression: >-
            variables.engineReplicas * (variables.sharded && has(object.spec.sharding.shards) &&
            int(object.spec.sharding.shards) > 0 ? int(object.spec.sharding.shards) : 1)
        # every volume of the engine's storage size: the nodes, the config servers of a sharded MongoDB cluster, the
        # pgBackRest repository of a PostgreSQL cluster
        - name: volumes
          expression: >-
            variables.nodes +
            (variables.engineType == 'psmdb' && variables.sharded ?
            (has(object.spec.sharding.configServer) && has(object.spec.sharding.configServer.replicas) &&
            int(object.spec.sharding.configServer.replicas) > 0 ? int(object.spec.sharding.configServer.replicas) :
            variables.engineReplicas) : 0) +
            (variables.engineType == 'postgresql' ? 1 : 0)
        - name: proxyResources
          expression: "has(object.spec.proxy) && has(object.spec.proxy.resources) ? object.spec.proxy.resources : {}"
        - name: proxyReplicas
          expression: >-
            size(variables.proxyResources) == 0 ? 0 :
            (has(object.spec.proxy.replicas) ? int(object.spec.proxy.replicas) : variables.engineReplicas)
        # CPU in nano cores and memory in bytes, rounded to the nearest unit (the quantity library has no
        # multiplication, so replicas x value goes through asApproximateFloat; exact for every practical value).
        - name: cpuNano
          expression: >-
            variables.nodes * (variables.hasCpu ?
            int(quantity(string(variables.engineResources.cpu)).asApproximateFloat() * 1e9 + 0.5) : 0) +
            variables.proxyReplicas * ('cpu' in variables.proxyResources && isQuantity(string(variables.proxyResources.cpu)) ?
            int(quantity(string(variables.proxyResources.cpu)).asApproximateFloat() * 1e9 + 0.5) : 0)
        - name: memoryBytes
          expression: >-
            variables.nodes * (variables.hasMemory ?
            int(quantity(string(variables.engineResources.memory)).asApproximateFloat() + 0.5) : 0) +
            variables.proxyReplicas * ('memory' in variables.proxyResources && isQuantity(string(variables.proxyResources.memory)) ?
            int(quantity(string(variables.proxyResources.memory)).asApproximateFloat() + 0.5) : 0)
        - name: volumeBytes
          expression: "variables.hasStorage ? int(quantity(string(object.spec.engine.storage.size)).asApproximateFloat() + 0.5) : 0"
        - name: storageBytes
          expression: "variables.volumes * variables.volumeBytes"
        - name: cpuLimitNano
          expression: "'cpuCores' in variables.limits ? int(double(variables.limits.cpuCores) * 1e9 + 0.5) : -1"
        - name: memoryLimit
          expression: "'memoryBytes' in variables.limits ? int(variables.limits.memoryBytes) : -1"
        - name: storageLimit
          expression: "'storageBytes' in variables.limits ? int(variables.limits.storageBytes) : -1"
        # [memory limit, memory asked, storage limit, storage asked, one volume] as text, in the first unit that
        # divides exactly (the order of _quantity.BYTE_UNITS: Ei..Mi, E..M, Ki), else '<n> bytes'
        - name: byteTexts
          expression: >-
            [variables.memoryLimit, variables.memoryBytes, variables.storageLimit, variables.storageBytes, variables.volumeBytes]
            .map(b, b < 0 ? '-' : b == 0 ? '0' :
            b % 1152921504606846976 == 0 ? string(b / 1152921504606846976) + 'Ei' :
            b % 1125899906842624 == 0 ? string(b / 1125899906842624) + 'Pi' :
            b % 1099511627776 == 0 ? string(b / 1099511627776) + 'Ti' :
            b % 1073741824 == 0 ? string(b / 1073741824) + 'Gi' :
            b % 1048576 == 0 ? string(b / 1048576) + 'Mi' :
            b % 1000000000000000000 == 0 ? string(b / 1000000000000000000) + 'E' :
            b % 1000000000000000 == 0 ? string(b / 1000000000000000) + 'P' :
            b % 1000000000000 == 0 ? string(b / 1000000000000) + 'T' :
            b % 1000000000 == 0 ? string(b / 1000000000) + 'G' :
            b % 1000000 == 0 ? string(b / 1000000) + 'M' :
            b % 1024 == 0 ? string(b / 1024) + 'Ki' :
            string(b) + ' bytes')
      validations:
        - expression: "variables.engineType in variables.allowedTypes"
          messageExpression: >-
            variables.ns + ' does not allow the ' + variables.engineType + ' engine (' + variables.policyName + ' allows ' +
            (size(variables.engines) == 0 ? 'no engine' : variables.engines.join(', ')) + ')'
        - expression: "variables.cpuLimitNano < 0 || variables.hasCpu"
          messageExpression: >-
            variables.ns + ' allows at most ' + string(double(variables.cpuLimitNano) / 1e9) +
            ' CPU for all its clusters (' + variables.policyName + '); this cluster must set spec.engine.resources.cpu'
        - expression: "variables.memoryLimit < 0 || variables.hasMemory"
          messageExpression: >-
            variables.ns + ' allows at most ' + variables.byteTexts[0] +
            ' of memory for all its clusters (' + variables.policyName + '); this cluster must set spec.engine.resources.memory'
        - expression: "variables.storageLimit < 0 || variables.hasStorage"
          messageExpression: >-
            variables.ns + ' allows at most ' + variables.byteTexts[2] +
            ' of storage for all its clusters (' + variables.policyName + '); this cluster must set spec.engine.storage.size'
        - expression: "variables.cpuLimitNano < 0 || variables.cpuNano <= variables.cpuLimitNano"
          messageExpression: >-
            variables.ns + ' allows at most ' + string(double(variables.cpuLimitNano) / 1e9) +
            ' CPU for all its clusters; this cluster asks for ' + string(double(variables.cpuNano) / 1e9) +
            ' (' + variables.policyName + ')'
        - expression: "variables.memoryLimit < 0 || variables.memoryBytes <= variables.memoryLimit"
          messageExpression: >-
            variables.ns + ' allows at most ' + variables.byteTexts[0] +
            ' of memory for all its clusters; this cluster asks for ' + variables.byteTexts[1] +
            ' (' + variables.policyName + ')'
        - expression: "variables.storageLimit < 0 || variables.storageBytes <= variables.storageLimit"
          messageExpression: >-
            variables.ns + ' allows at most ' + variables.byteTexts[2] +
            ' of storage for all its clusters; this cluster asks for ' + variables.byteTexts[3] + ' in ' +
            string(variables.volumes) + (variables.volumes == 1 ? ' volume' : ' volumes') + ' of ' + variables.byteTexts[4] +
            ' (' + variables.policyName + ')'
  - apiVersion: admissionregistration.k8s.io/v1
    kind: ValidatingAdmissionPolicyBinding
    metadata:
      name: virakcloud-everest-tenant-resource-policy
      labels:
        app.kubernetes.io/managed-by: virakcloud.everest
    spec:
      policyName: virakcloud-everest-tenant-resource-policy
      # Deny: refuse the write and tell the tenant why. Audit: also record the refusal in the audit log (the
      # annotation validation.policy.admission.k8s.io/validation_failure) for the operator. Warn is not used: it
      # cannot be combined with Deny.
      validationActions: [Deny, Audit]
      paramRef:
        # One binding for all tenants: no paramRef.namespace, so the params are looked up in the namespace of the
        # DatabaseCluster; the empty selector takes every TenantResourcePolicy there (each one must pass).
        selector: {}
        # Allow: a namespace without a TenantResourcePolicy is not a tenant under limits and is left alone.
        parameterNotFoundAction: Allow
'''
