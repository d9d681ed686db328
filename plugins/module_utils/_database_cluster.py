# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Everest DatabaseClusters: the spec from module options, comparison (quantities compared by value), the checks
Everest would make on update, the converge (create, conditional update with re-read on 409, delete, waits) and the
quota glue: the request checked by ``_quota.evaluate``, the function behind ``tenant_quota_check``, so the messages
are identical."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json

from ansible_collections.virakcloud.everest.plugins.module_utils import _constants, _everest_client, _everest_objects, _k8s, _quantity, _quota
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import ConnectionConfigError, EverestError, ValidationError

CONFLICT_ATTEMPTS = 6


# ---------------------------------------------------------------------------------------------------------- spec


def same_quantity(a, b):
    """True when two quantities are equal in value (``1`` == ``"1"`` == ``"1000m"``); falls back to string equality."""
    if a is None or b is None:
        return a is b
    try:
        return _quantity.parse(a) == _quantity.parse(b)
    except (ValueError, TypeError):
        return str(a) == str(b)


def quantity_text(value):
    """Everest refuses int64 resource values; send quantities as strings."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _set(target, key, value):
    if value is not None:
        target[key] = value


def _set_resources(part, options):
    """``part.resources`` cpu and memory from the options; a value equal in quantity to the current one keeps its text."""
    for key in ("cpu", "memory"):
        if options.get(key) is not None:
            res = part.setdefault("resources", {})
            if not same_quantity(res.get(key), options[key]):
                res[key] = quantity_text(options[key])


def desired_spec(params, current_spec=None):
    """The spec to send: the current spec with every option that was given applied (None = keep).

    Quantities equal in value to the current ones keep the current text, so ``cpu: 1`` vs ``"1"`` is no change.
    """
    spec = copy.deepcopy(current_spec or {})
    engine_opt = params.get("engine") or {}
    engine = spec.setdefault("engine", {})
    _set(engine, "type", engine_opt.get("type"))
    _set(engine, "version", engine_opt.get("version"))
    _set(engine, "replicas", engine_opt.get("replicas"))
    _set(engine, "config", engine_opt.get("config"))
    _set(engine, "crVersion", engine_opt.get("cr_version"))
    _set_resources(engine, engine_opt)
    storage = engine.setdefault("storage", {}) if (engine_opt.get("storage_size") is not None or engine_opt.get("storage_class")) else engine.get("storage")
    if engine_opt.get("storage_size") is not None and not same_quantity(storage.get("size"), engine_opt["storage_size"]):
        storage["size"] = quantity_text(engine_opt["storage_size"])
    if engine_opt.get("storage_class"):
        storage["class"] = engine_opt["storage_class"]
    proxy_opt = params.get("proxy")
    if proxy_opt:
        proxy = spec.setdefault("proxy", {})
        _set(proxy, "type", proxy_opt.get("type"))
        _set(proxy, "replicas", proxy_opt.get("replicas"))
        _set(proxy, "config", proxy_opt.get("config"))
        _set_resources(proxy, proxy_opt)
        if proxy_opt.get("expose_type") is not None or proxy_opt.get("ip_source_ranges") is not None:
            expose = proxy.setdefault("expose", {})
            _set(expose, "type", proxy_opt.get("expose_type"))
            _set(expose, "ipSourceRanges", proxy_opt.get("ip_source_ranges"))
    backup_opt = params.get("backup")
    if backup_opt:
        backup = spec.setdefault("backup", {})
        _set(backup, "enabled", backup_opt.get("enabled"))
        if backup_opt.get("schedules") is not None:
            schedules = []
            for item in backup_opt["schedules"]:
                sched = {
                    "name": item["name"],
                    "enabled": item.get("enabled", True),
                    "schedule": item["schedule"],
                    "backupStorageName": item["backup_storage_name"],
                }
                _set(sched, "retentionCopies", item.get("retention_copies"))
                schedules.append(sched)
            backup["schedules"] = schedules
        pitr_opt = backup_opt.get("pitr")
        if pitr_opt is not None:
            pitr = backup.setdefault("pitr", {})
            pitr["enabled"] = bool(pitr_opt.get("enabled"))
            _set(pitr, "backupStorageName", pitr_opt.get("backup_storage_name"))
            _set(pitr, "uploadIntervalSec", pitr_opt.get("upload_interval_sec"))
    monitoring_opt = params.get("monitoring")
    if monitoring_opt is not None:
        monitoring = spec.setdefault("monitoring", {})
        if monitoring_opt.get("monitoring_instance"):
            monitoring["monitoringConfigName"] = monitoring_opt["monitoring_instance"]
        elif monitoring_opt.get("monitoring_instance") == "":
            monitoring.pop("monitoringConfigName", None)
    return spec


def check_create_spec(spec, namespace, name):
    engine = spec.get("engine") or {}
    values = (
        ("engine.type", engine.get("type")),
        ("engine.storage_size", (engine.get("storage") or {}).get("size")),
        ("engine.cpu", (engine.get("resources") or {}).get("cpu")),
        ("engine.memory", (engine.get("resources") or {}).get("memory")),
    )
    missing = [k for k, v in values if v is None]
    if missing:
        raise ValidationError("database cluster %s/%s does not exist; creating it needs %s" % (namespace, name, ", ".join(missing)))


def check_update(current_spec, spec, namespace, name):
    """Changes Everest refuses on update, reported before any call (storage only grows; the engine type stays)."""
    cur_engine = current_spec.get("engine") or {}
    new_engine = spec.get("engine") or {}
    if cur_engine.get("type") and new_engine.get("type") != cur_engine.get("type"):
        raise ValidationError(
            "database cluster %s/%s runs engine %s; it cannot be changed to %s (create a new cluster and restore "
            "a backup into it)" % (namespace, name, cur_engine.get("type"), new_engine.get("type"))
        )
    old_size = (cur_engine.get("storage") or {}).get("size")
    new_size = (new_engine.get("storage") or {}).get("size")
    if old_size is not None and new_size is not None:
        try:
            shrink = _quantity.parse(new_size) < _quantity.parse(old_size)
        except ValueError:
            shrink = False
        if shrink:
            raise ValidationError(
                "database cluster %s/%s: storage can only grow (current %s, requested %s); Everest refuses to "
                "shrink volumes" % (namespace, name, old_size, new_size)
            )


def cluster_shape(spec):
    """What the quota depends on: replicas and resources of the engine and the proxy."""
    spec = spec or {}
    keys = ("replicas", "resources")
    engine, proxy = spec.get("engine") or {}, spec.get("proxy") or {}
    return tuple(json.dumps(part.get(k), sort_keys=True) for part in (engine, proxy) for k in keys)


def shape_changed(current_spec, spec):
    return cluster_shape(current_spec) != cluster_shape(spec)


def cluster_ready(obj):
    return ((obj or {}).get("status") or {}).get("status") == "ready"


# --------------------------------------------------------------------------------------------------------- quota


def quota_request(spec, name):
    engine = spec.get("engine") or {}
    proxy = spec.get("proxy") or {}
    res = engine.get("resources") or {}
    pres = proxy.get("resources") or {}
    return {
        "engine": engine.get("type"),
        "replicas": engine.get("replicas") or 1,
        "cpu": res.get("cpu"),
        "memory": res.get("memory"),
        "proxy_replicas": proxy.get("replicas"),
        "proxy_cpu": pres.get("cpu"),
        "proxy_memory": pres.get("memory"),
        "cluster_name": name,
        "db_users": 0,
    }


def enforce_quota(k8s, namespace, policy_name, spec, name):
    """Run the check of ``tenant_quota_check`` (``_quota.evaluate`` on the same inputs).

    Returns ``(result or None, warnings)``; raises ``QuotaExceeded`` with the same message as tenant_quota_check
    (violations joined by ``; ``). No policy in the namespace: nothing to enforce (a warning says so).
    """
    policy, clusters, users = _quota.read_inputs(k8s, namespace, policy_name)
    if policy is None:
        return None, ["no TenantResourcePolicy %r in namespace %s: the tenant quota was not enforced" % (policy_name, namespace)]
    request = quota_request(spec, name)
    _quota.validate_request(request)
    result = _quota.evaluate(namespace, policy, clusters, users, request)
    if not result["allowed"]:
        raise QuotaExceeded(
            "; ".join(result["violations"]), violations=result["violations"], usage=result["usage"], requested=result["requested"], limits=result["limits"]
        )
    return result, list(result["warnings"])


def quota_k8s(module):
    """The module's Kubernetes client for the quota check, failing with a hint about enforce_quota when there is no connection."""
    params = dict((name, module.params.get(name)) for name in _k8s.AUTH_OPTIONS)
    try:
        _k8s.load_config(params)
    except ConnectionConfigError as exc:
        raise ConnectionConfigError(
            "enforce_quota reads the namespace's TenantResourcePolicy from Kubernetes, but: %s; configure the Kubernetes "
            "connection (kubeconfig option, K8S_AUTH_KUBECONFIG) or set enforce_quota: false" % exc.msg
        )
    return module.k8s


class QuotaExceeded(EverestError):
    """The tenant's TenantResourcePolicy would be exceeded."""


# ------------------------------------------------------------------------------------------------------ converge


class Runner(object):
    """The converge of one DatabaseCluster for everest_database_cluster: absent, create, or a conditional update."""

    def __init__(self, module, client):
        self.module = module
        self.client = client
        params = module.params
        self.ns = params['namespace']
        self.name = params['name']
        self.obj = '%s/%s' % (self.ns, self.name)
        self.what = 'database cluster %s' % self.obj
        self.path = _everest_client.ns_path(self.ns, 'database-clusters', self.name)
        self.quota = None

    def get(self):
        return self.client.get_or_none(self.path, rbac=('database-clusters', 'read', self.obj), what=self.what)

    def check_quota(self, spec):
        params = self.module.params
        if not params['enforce_quota']:
            return
        result, warnings = enforce_quota(quota_k8s(self.module), self.ns, params['policy_name'], spec, self.name)
        for warning in warnings:
            self.module.warn(warning)
        if result is not None:
            self.quota = dict((k, result[k]) for k in ('usage', 'requested', 'usage_after', 'limits', 'headroom', 'resize'))

    def wait_ready(self, obj):
        if not self.module.params['wait']:
            return obj
        return _everest_objects.wait_for(
            self.get,
            cluster_ready,
            self.module.params['wait_timeout'],
            'waiting for %s to be ready' % self.what,
            failed=lambda o: 'it no longer exists' if o is None else None,
        )

    def absent(self, current):
        params = self.module.params
        if current is None:
            return False, {}, None
        diff = {'before': current.get('spec') or {}, 'after': {}}
        if not self.module.check_mode:
            query = {'cleanupBackupStorage': 'true' if params['cleanup_backup_storage'] else 'false'}
            try:
                self.client.request('DELETE', self.path, query=query, rbac=('database-clusters', 'delete', self.obj), what=self.what)
            except _everest_client.EverestApiNotFound:
                return False, {}, None
            if params['wait']:
                _everest_objects.wait_for(self.get, lambda o: o is None, params['wait_timeout'], 'waiting for %s to be deleted' % self.what)
        return True, {}, diff

    def create(self):
        spec = desired_spec(self.module.params, None)
        check_create_spec(spec, self.ns, self.name)
        self.check_quota(spec)
        body = {'apiVersion': _constants.DBC_API_VERSION, 'kind': _constants.DBC_KIND, 'metadata': {'name': self.name, 'namespace': self.ns}, 'spec': spec}
        diff = {'before': {}, 'after': spec}
        if self.module.check_mode:
            return True, body, diff
        created = self.client.request(
            'POST', _everest_client.ns_path(self.ns, 'database-clusters'), body, rbac=('database-clusters', 'create', self.obj), what=self.what
        )
        return True, self.wait_ready(created), diff

    def update(self, current):
        """Conditional PUT of the current object with the desired spec; on 409 read again and re-apply.

        ``changed`` is true only when this task wrote (or, in check mode, would write): when the object read again after a
        409 already has the desired spec, someone else made the change and nothing is written. The quota is checked
        again whenever the object read again has another shape (replicas, resources) than the one checked.
        """
        checked = None  # (current shape, desired shape) of the last quota check
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            current_spec = current.get('spec') or {}
            spec = desired_spec(self.module.params, current_spec)
            if spec == current_spec:
                return False, self.wait_ready(current), None
            check_update(current_spec, spec, self.ns, self.name)
            if shape_changed(current_spec, spec):
                shape = (cluster_shape(current_spec), cluster_shape(spec))
                if shape != checked:
                    self.check_quota(spec)
                    checked = shape
            diff = {'before': copy.deepcopy(current_spec), 'after': spec}
            if self.module.check_mode:
                planned = copy.deepcopy(current)
                planned['spec'] = spec
                return True, planned, diff
            meta = dict((k, v) for k, v in (current.get('metadata') or {}).items() if k != 'managedFields')
            body = {'apiVersion': current.get('apiVersion', _constants.DBC_API_VERSION), 'kind': _constants.DBC_KIND, 'metadata': meta, 'spec': spec}
            try:
                updated = self.client.request('PUT', self.path, body, rbac=('database-clusters', 'update', self.obj), what=self.what)
            except _everest_client.EverestApiConflict:
                if attempt == CONFLICT_ATTEMPTS:
                    raise
                current = self.get()
                if current is None:
                    raise _everest_client.EverestApiNotFound('%s was deleted while it was being updated' % self.what)
                continue
            return True, self.wait_ready(updated), diff
        raise AssertionError('unreachable')  # pragma: no cover
