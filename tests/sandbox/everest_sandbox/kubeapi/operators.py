"""A minimal simulation of everest-operator plus the Percona operators, the StatefulSet/Deployment controllers, a
storage provisioner and the kubelet, so that DatabaseClusters use the namespace's quota like on a real cluster.

``OperatorSimulation(store)`` watches the store and works synchronously, inside the write that triggered it: after
every create/update/delete of a DatabaseCluster (not of its status) it reconciles that cluster; after a deletion
that frees quota (a cluster, a pod, a PVC) it also retries the namespace's clusters in ``error`` (oldest first), which
is the "next reconcile" of a real operator; a deleted pod or PVC of a cluster is recreated (StatefulSet behaviour).
``reconcile(namespace=None, name=None)`` reconciles on demand (``POST /_sandbox/reconcile``), e.g. after a quota was
raised (not a trigger on a real cluster either).

For each cluster (``operator_pods.plan``): every component's members are created in order, PVCs before their pod;
the first refusal (LimitRanger, ResourceQuota, any admission) stops that component, like a StatefulSet that keeps
retrying the same ordinal. Created PVCs are reported Bound and pods Running (their status is written as a provisioner
and a kubelet would). A pod whose template changed (``controller-revision-hash``) is deleted and created again;
a PVC whose size grew is expanded (an UPDATE that ResourceQuota charges); pods beyond the wanted replicas are deleted,
their PVCs kept (StatefulSet retention). ``spec.paused`` deletes the pods. Deleting the cluster (or setting its
``deletionTimestamp``) deletes its pods and PVCs.

Cost: a cluster's reconcile touches only that cluster's objects; the quota controller recount after each write is
cached per object version (``quota.stored_usage``).

Refusals are shown on the cluster: ``status.status: error`` and ``status.message`` = the refusal texts (``; ``
joined), ``status.size``/``status.ready`` = wanted/existing pods. Once everything exists again the error is cleared
and the Everest REST emulator's status progression takes over. Everything is written through ``Store`` verbs with the
identity of the controllers (``system:serviceaccount:kube-system:statefulset-controller``).
"""

from __future__ import annotations

import copy
import hashlib
import json

from . import errors as E
from .operator_pods import OPERATOR, PART_OF, plan
from .quantity import Quantity

DBC_GROUP, DBC_PLURAL = 'everest.percona.com', 'databaseclusters'
DBC_KEY = (DBC_GROUP, DBC_PLURAL)
POD_KEY = ('', 'pods')
PVC_KEY = ('', 'persistentvolumeclaims')
INSTANCE = 'app.kubernetes.io/instance'
MANAGED_BY = 'app.kubernetes.io/managed-by'
REVISION = 'controller-revision-hash'
CONTROLLER_USER = {
    'username': 'system:serviceaccount:kube-system:statefulset-controller',
    'uid': '',
    'groups': ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
    'extra': {},
}
MAX_PASSES = 5


def _revision(component: str, member) -> str:
    digest = hashlib.sha256(json.dumps([member.containers, member.init_containers], sort_keys=True).encode()).hexdigest()
    return f'{component}-{digest[:10]}'


class OperatorSimulation:
    """See the module docstring. Thread-safe through the store's lock (all work happens under it)."""

    def __init__(self, store):
        self.store = store
        self._busy = False
        self._clusters: set = set()  # (namespace, name) to reconcile
        self._retry: set = set()  # namespaces whose failed clusters are retried (something was freed)
        store.watchers.append(self.on_event)

    # ------------------------------------------------------------------ triggers
    def on_event(self, event: str, rtype, obj: dict, subresource: str):
        """Store watcher: ``event`` is ADDED, MODIFIED or DELETED."""
        key = rtype.storage_key
        meta = obj.get('metadata') or {}
        namespace = meta.get('namespace', '')
        if key == DBC_KEY and not subresource:
            self._clusters.add((namespace, meta.get('name')))
            if event == 'DELETED':
                self._retry.add(namespace)
        elif key in (POD_KEY, PVC_KEY) and event == 'DELETED':
            owner = (meta.get('labels') or {}).get(INSTANCE)
            if owner and (meta.get('labels') or {}).get(MANAGED_BY) in OPERATOR.values():
                self._clusters.add((namespace, owner))  # a StatefulSet recreates a deleted pod
            self._retry.add(namespace)
        else:
            return
        if not self._busy:
            self._drain()

    def reconcile(self, namespace: str | None = None, name: str | None = None) -> dict:
        """Reconcile one cluster, one namespace or every namespace; returns {namespace/name: status}."""
        with self.store.lock:
            for ns, cname in self.store.data.get(DBC_KEY, {}):
                if (namespace is None or ns == namespace) and (name is None or cname == name):
                    self._clusters.add((ns, cname))
            self._drain()
            out = {}
            for (ns, cname), dbc in sorted(self.store.data.get(DBC_KEY, {}).items()):
                if (namespace is None or ns == namespace) and (name is None or cname == name):
                    out[f'{ns}/{cname}'] = copy.deepcopy(dbc.get('status') or {})
            return out

    def _failed(self, namespace: str) -> set:
        return {(ns, n) for (ns, n), dbc in self.store.data.get(DBC_KEY, {}).items() if ns == namespace and (dbc.get('status') or {}).get('status') == 'error'}

    def _order(self, key: tuple):
        dbc = self.store.data.get(DBC_KEY, {}).get(key)
        return ((dbc or {}).get('metadata', {}).get('creationTimestamp', ''), key)

    def _drain(self):
        store = self.store
        with store.lock:
            self._busy = True
            previous = store.request_user()
            store.set_request_user(CONTROLLER_USER)
            try:
                for _pass in range(MAX_PASSES):
                    clusters, retry = self._clusters, self._retry
                    if not clusters and not retry:
                        break
                    self._clusters, self._retry = set(), set()
                    for namespace in retry:
                        clusters |= self._failed(namespace)
                    for namespace, name in sorted(clusters, key=self._order):
                        self._reconcile_cluster(namespace, name)
            finally:
                self._clusters, self._retry = set(), set()
                store.set_request_user(previous)
                self._busy = False

    # ------------------------------------------------------------------ reconcile
    def _rtype(self, group: str, plural: str):
        return self.store.registry.any_version(group, plural)

    def _owned(self, key: tuple, namespace: str, cluster: str) -> dict:
        return {
            name: obj
            for (ns, name), obj in self.store.data.get(key, {}).items()
            if ns == namespace
            and (obj['metadata'].get('labels') or {}).get(INSTANCE) == cluster
            and (obj['metadata'].get('labels') or {}).get(MANAGED_BY) in OPERATOR.values()
        }

    def _reconcile_cluster(self, namespace: str, name: str):
        dbc = self.store.data.get(DBC_KEY, {}).get((namespace, name))
        pods, pvcs = self._owned(POD_KEY, namespace, name), self._owned(PVC_KEY, namespace, name)
        if dbc is None or dbc['metadata'].get('deletionTimestamp'):
            for key, objs in ((POD_KEY, pods), (PVC_KEY, pvcs)):
                for obj_name in objs:
                    self._delete(key, namespace, obj_name)
            return
        dbc = copy.deepcopy(dbc)
        components = [] if (dbc.get('spec') or {}).get('paused') else plan(dbc)
        wanted = {m.name for c in components for m in c.members}
        for pod_name in sorted(set(pods) - wanted):
            self._delete(POD_KEY, namespace, pod_name)
        refusals: list = []
        for component in components:
            for member in component.members:
                if not self._ensure_member(dbc, component.name, member, pods, pvcs, refusals):
                    break
        existing = sum(1 for pod in wanted if (namespace, pod) in self.store.data.get(POD_KEY, {}))
        self._write_status(dbc, refusals, len(wanted), existing)

    def _ensure_member(self, dbc, component: str, member, pods: dict, pvcs: dict, refusals: list) -> bool:
        namespace = dbc['metadata']['namespace']
        for pvc_name, size, storage_class in member.pvcs:
            if not self._ensure_pvc(dbc, component, pvc_name, size, storage_class, pvcs.get(pvc_name), refusals):
                return False
        revision = _revision(component, member)
        current = pods.get(member.name)
        if current is not None and (current['metadata'].get('labels') or {}).get(REVISION) == revision:
            return True
        if current is not None:
            self._delete(POD_KEY, namespace, member.name)
        return self._create_pod(dbc, component, member, revision, refusals)

    def _labels(self, dbc: dict, component: str) -> dict:
        etype = dbc['spec']['engine']['type']
        return {
            INSTANCE: dbc['metadata']['name'],
            MANAGED_BY: OPERATOR[etype],
            'app.kubernetes.io/part-of': PART_OF[etype],
            'app.kubernetes.io/component': component[len(dbc['metadata']['name']) + 1 :],
        }

    def _ensure_pvc(self, dbc, component, pvc_name, size, storage_class, current, refusals) -> bool:
        namespace = dbc['metadata']['namespace']
        rtype = self._rtype('', 'persistentvolumeclaims')
        spec = {'accessModes': ['ReadWriteOnce'], 'resources': {'requests': {'storage': size}}}
        if storage_class:
            spec['storageClassName'] = storage_class
        try:
            if current is None:
                body = {'metadata': {'name': pvc_name, 'labels': self._labels(dbc, component)}, 'spec': spec}
                created = self.store.create(rtype, namespace, body)
                created['status'] = {'phase': 'Bound', 'accessModes': ['ReadWriteOnce'], 'capacity': {'storage': size}}
                self.store.update(rtype, namespace, pvc_name, created, subresource='status')
            elif self._smaller(current, size):
                grown = copy.deepcopy(current)
                grown['spec']['resources']['requests']['storage'] = size
                self.store.update(rtype, namespace, pvc_name, grown)
        except E.ApiError as err:
            refusals.append(err.message)
            return False
        return True

    @staticmethod
    def _smaller(pvc: dict, size: str) -> bool:
        current = ((pvc.get('spec') or {}).get('resources') or {}).get('requests', {}).get('storage', '0')
        return Quantity.parse(current) < Quantity.parse(size)

    def _create_pod(self, dbc, component, member, revision, refusals) -> bool:
        namespace = dbc['metadata']['namespace']
        rtype = self._rtype('', 'pods')
        labels = dict(self._labels(dbc, component), **{REVISION: revision})
        spec = {'containers': copy.deepcopy(member.containers)}
        if member.init_containers:
            spec['initContainers'] = copy.deepcopy(member.init_containers)
        volumes = [{'name': pvc[0], 'persistentVolumeClaim': {'claimName': pvc[0]}} for pvc in member.pvcs]
        if volumes:
            spec['volumes'] = volumes
        try:
            created = self.store.create(rtype, namespace, {'metadata': {'name': member.name, 'labels': labels}, 'spec': spec})
        except E.ApiError as err:
            refusals.append(err.message)
            return False
        created['status'] = dict(created.get('status') or {}, **_running_status(created))
        self.store.update(rtype, namespace, member.name, created, subresource='status')
        return True

    def _delete(self, key: tuple, namespace: str, name: str):
        try:
            self.store.delete(self._rtype(*key), namespace, name)
        except E.ApiError:
            pass  # already gone

    def _write_status(self, dbc: dict, refusals: list, wanted: int, existing: int):
        status = dict(dbc.get('status') or {})
        if refusals:
            status.update({'status': 'error', 'message': '; '.join(dict.fromkeys(refusals)), 'size': wanted, 'ready': existing})
        elif status.get('status') == 'error':
            for field in ('status', 'message'):
                status.pop(field, None)
            status.update({'size': wanted, 'ready': existing})
        if status == (dbc.get('status') or {}):
            return
        body = dict(dbc, status=status)
        meta = dbc['metadata']
        try:
            self.store.update(self._rtype(DBC_GROUP, DBC_PLURAL), meta['namespace'], meta['name'], body, subresource='status')
        except E.ApiError:
            pass  # the cluster changed meanwhile; its own event reconciles it again


def _running_status(pod: dict) -> dict:
    """What a kubelet reports for a started pod."""
    stamp = pod['metadata'].get('creationTimestamp')
    spec = pod.get('spec') or {}

    def statuses(kind: str, ready: bool) -> list:
        return [
            {
                'name': c['name'],
                'image': c.get('image', ''),
                'imageID': '',
                'ready': ready,
                'restartCount': 0,
                'started': ready,
                'state': {'running': {'startedAt': stamp}}
                if ready
                else {'terminated': {'exitCode': 0, 'reason': 'Completed', 'startedAt': stamp, 'finishedAt': stamp}},
            }
            for c in spec.get(kind) or []
        ]

    conditions = [
        {'type': t, 'status': 'True', 'lastProbeTime': None, 'lastTransitionTime': stamp}
        for t in ('PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled')
    ]
    out = {
        'phase': 'Running',
        'conditions': conditions,
        'hostIP': '10.0.0.10',
        'podIP': '10.244.0.10',
        'startTime': stamp,
        'containerStatuses': statuses('containers', True),
    }
    if spec.get('initContainers'):
        out['initContainerStatuses'] = statuses('initContainers', False)
    return out
