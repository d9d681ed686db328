"""Kubernetes API emulator of the sandbox (``server.KubeApiServer``).

A small apiserver for tests: the official ``kubernetes`` Python client (typed and dynamic) and kubectl 1.32
work against it unmodified.

What it does
* Bearer-token auth on every path (401 ``Status`` otherwise). The same port speaks plain HTTP and TLS:
  ``kubeconfig`` uses ``http://127.0.0.1:PORT``; kubectl (client-go) only sends tokens over TLS, so
  ``write_kubeconfig(path, tls=True)`` / ``DIR/kubeconfig-kubectl`` use ``https://`` with a self-signed test CA that
  is generated per process (``server.tls_material``; nothing secret is stored in the tree). ``write_kubeconfig(...,
  token=T)`` writes one for another identity.
* Identities (``authn.py``): the server's token is ``sandbox-admin`` in ``system:masters``; ServiceAccount JWTs from
  the TokenRequest API (``tokens.py``: ``serviceaccounts/<n>/token``, ``kubectl create token``) are valid until they
  expire or their ServiceAccount (or bound Secret) is gone; ``Impersonate-*`` headers (``kubectl --as``).
* Authorization (``requestinfo.py``, ``rbac.py``): every request, resource or not, is checked against RBAC before
  routing, with kube-apiserver's 403 texts (``system:masters`` skips the walk). RBAC kinds with escalation
  prevention, ``bind``, immutable roleRef and synchronous ClusterRole aggregation (``rbac_registry.py``,
  ``rbac_validation.py``, ``escalation.py``, ``controllers.py``); the bootstrap policy (``bootstrap_rbac.py``:
  cluster-admin, admin/edit/view, system:discovery, system:basic-user, system:public-info-viewer) is seeded and every
  namespace gets a ``default`` ServiceAccount. SelfSubjectAccessReview, SubjectAccessReview, SelfSubjectRulesReview
  and SelfSubjectReview (``reviews.py``), so ``kubectl auth can-i`` / ``auth whoami`` work. ``pods/<n>/log``
  answers an empty log after the container checks (``podlog.py``; ``pods/log`` is in discovery).
* Discovery: ``/version``, ``/api``, ``/api/v1``, ``/apis``, ``/apis/<g>``, ``/apis/<g>/<v>`` (plain JSON also
  when aggregated discovery is asked for); ``/openapi/v3`` documents just rich enough for kubectl to send
  ``fieldValidation=Strict`` (``/openapi/v2`` is 404).
* Kinds: Namespaces, ConfigMaps, Secrets, ResourceQuotas, LimitRanges, Pods and PersistentVolumeClaims (``/status``),
  ServiceAccounts (``/token``), Leases, Deployments (``/status``, ``/scale``), Roles, ClusterRoles, RoleBindings,
  ClusterRoleBindings, ValidatingAdmissionPolicies and their bindings, CustomResourceDefinitions, and custom
  resources of every established CRD (namespaced or cluster scoped, ``/status`` when declared). Registry in
  ``registry.py``; seed (Everest 1.10.0 installed) in ``seed.py``. Pods, PVCs, LimitRanges and ResourceQuotas get
  the apiserver's quantity decoding (canonical form), defaulting (limits copied into empty requests, LimitRange
  ``default``/``defaultRequest``) and validation (``coretypes.py``).
* Verbs: get, list (label/field selectors, ``limit``/``continue``), create (``generateName``), update
  (optimistic concurrency), patch (merge, JSON patch incl. ``test``, strategic merge for built-ins only --
  415 for custom resources -- and a simplified server-side apply: create-or-merge, no field ownership),
  delete (finalizers, preconditions, synchronous namespace/CRD cascade), deletecollection, ``dryRun=All``.
* Server-owned metadata (uid, one global resourceVersion counter, creationTimestamp, generation), no-op
  updates keep the resourceVersion, ObjectMeta normalisation, Secret ``stringData``/base64, ConfigMap types,
  name/label validation with the apiserver's texts.
* CRs: structural-schema pruning (``fieldValidation`` Strict -> 400, default Warn -> ``Warning`` header),
  defaulting, OpenAPI v3 validation with kube-openapi's messages (``schema.py``).
* Admission chain (``admission.py``; mutating plugins before validating ones, object validation in between):
  LimitRanger (``limitranger.py``: container defaults, the ``kubernetes.io/limit-ranger`` annotation, min/max/ratio
  for containers, pods and PVCs), ServiceAccount (``serviceaccount_admission.py``: a pod's ServiceAccount must exist),
  ValidatingAdmissionPolicy (below) and ResourceQuota (``quota.py``: object counts incl. legacy names, pod compute
  resources, PVC storage incl. per storage class, scopes, ``must specify``/``status unknown``/``exceeded quota``
  texts, 403); the quota controller keeps ``status.hard``/``status.used`` current; checks and writes under one lock.
* Operator simulation (``operators.py``, ``operator_pods.py``): every DatabaseCluster becomes the pods and PVCs its
  Percona operator would create (sidecars, PMM client, defaults per ``docs/dev/operator-pods.md``), through the same
  admission; refusals show as ``status.status: error`` + ``status.message`` on the cluster; re-run after pod/PVC
  deletions and on ``POST /_sandbox/reconcile``.
* ValidatingAdmissionPolicy / ValidatingAdmissionPolicyBinding (admissionregistration.k8s.io/v1): upstream defaults
  and create-time validation (CEL compile errors with cel-go's texts), enforcement in the admission chain before
  ResourceQuota (``vap.py``: matching, params, matchConditions, variables, messages, Deny/Warn/Audit, failurePolicy,
  reasons and codes), CEL with the Kubernetes quantity/lists/strings/regex libraries (``cel.py``,
  ``quantity.py``; cost is estimated, see ``cel.py``).
* ``/_sandbox/{stats,stats/reset,faults,reset,audit,reconcile,access,access/reset}`` (``system:masters`` only):
  request counters (also ``by_user``), seeded fault injection, reset to seed, audit annotations written by
  ValidatingAdmissionPolicies, run the operator simulation now, and the access log (``access.py``: per user, the
  distinct authorization attributes its requests needed and whether RBAC allowed them).

Not implemented: watch (not in discovery's verbs; watch requests get a 405 MethodNotAllowed Status plus a
``Warning`` header that kubectl prints), Table output (kubectl prints NAME/AGE itself), CEL validation rules, ``format``
checks, conversion webhooks (all served versions share one storage), managedFields, garbage collection by
ownerReferences, admission webhooks, the Node authorizer, legacy ServiceAccount token Secrets, TokenReview,
LocalSubjectAccessReview, scheduling (user-created pods stay Pending, PVCs unbound; only the
operator simulation's pods and PVCs are reported Running/Bound), graceful pod deletion, the pod ``resize``
subresource; for ValidatingAdmissionPolicy: the ``authorizer`` variable, the typeChecking status, the
sets/IP/CIDR/URL/format/semver CEL libraries, an exact CEL cost (it is estimated).
"""
