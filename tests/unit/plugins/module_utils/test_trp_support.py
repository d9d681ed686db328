"""A small in-memory stand-in for _k8s.K8sClient used by the TRP unit tests (no test functions here).

It keeps the Kubernetes semantics the TRP code relies on: resourceVersion checks on PUT (409 Conflict),
AlreadyExists on POST, NotFound, label-selected and cross-namespace LISTs, merge-patch of the status
subresource, generation bumps on spec changes, and optional schema pruning / 422 hooks.
"""

import copy
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / ".venv" / "collections"))

from ansible_collections.virakcloud.everest.plugins.module_utils import _errors  # noqa: E402  pylint: disable=wrong-import-position

CLUSTER_SCOPED = ("namespaces", "customresourcedefinitions")


def parse_path(path):
    """'/apis/g/v/namespaces/ns/plural/name/sub' -> (api, plural, namespace, name, subresource)."""
    parts = path.strip("/").split("/")
    if parts[0] == "api":
        api, rest = parts[1], parts[2:]
    else:
        api, rest = parts[1] + "/" + parts[2], parts[3:]
    namespace = None
    if len(rest) >= 2 and rest[0] == "namespaces" and len(rest) != 2:
        namespace, rest = rest[1], rest[2:]
    plural = rest[0]
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    return api, plural, namespace, name, sub


def _merge(target, patch):
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


class FakeClient:
    def __init__(self):
        self.objects = {}  # (api, plural, ns, name) -> obj
        self.calls = []
        self.rv = 100
        self.prune = {}  # plural -> function(obj) -> obj (schema pruning)
        self.validate = {}  # plural -> function(obj) -> list of causes (422 when non-empty)
        self.conflicts = 0  # PUTs to refuse with 409 before accepting
        self.on_get = None  # hook(path, obj) -> obj
        self.secrets = []
        self.missing_namespaces = set()  # creates in these namespaces fail with 404 (namespace not found)

    # -- helpers
    def put_object(self, obj, api=None, plural=None):
        meta = obj.setdefault("metadata", {})
        api = api or obj["apiVersion"]
        plural = plural or (obj["kind"].lower() + "s")
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        meta.setdefault("generation", 1)
        meta.setdefault("uid", "uid-%d" % self.rv)
        self.objects[(api, plural, meta.get("namespace"), meta["name"])] = copy.deepcopy(obj)
        return obj

    def obj(self, api, plural, namespace, name):
        return copy.deepcopy(self.objects.get((api, plural, namespace, name)))

    def writes(self):
        return [c for c in self.calls if c[0] not in ("get", "list")]

    def count(self, verb):
        return sum(1 for c in self.calls if c[0] == verb)

    def _nf(self, path):
        return _errors.K8sNotFound("not found: %s" % path, status=404, reason="NotFound")

    # -- verbs
    def get(self, path):
        self.calls.append(("get", path))
        api, plural, ns, name, _sub = parse_path(path)
        obj = self.objects.get((api, plural, ns, name))
        if obj is None:
            raise self._nf(path)
        obj = copy.deepcopy(obj)
        if self.on_get:
            obj = self.on_get(path, obj)
        return obj

    def get_or_none(self, path):
        try:
            return self.get(path)
        except _errors.K8sNotFound:
            return None

    def list(self, path, label_selector=None, field_selector=None):
        self.calls.append(("list", path, label_selector))
        api, plural, ns, _name, _sub = parse_path(path)
        items = []
        for (o_api, o_plural, o_ns, _o_name), obj in sorted(self.objects.items(), key=lambda kv: str(kv[0])):
            if o_api != api or o_plural != plural or (ns is not None and o_ns != ns):
                continue
            if label_selector:
                labels = obj["metadata"].get("labels") or {}
                ok = all(labels.get(k) == v for k, v in (term.split("=", 1) for term in label_selector.split(",")))
                if not ok:
                    continue
            items.append(copy.deepcopy(obj))
        return {"items": items}

    def _admit(self, plural, body):
        body = copy.deepcopy(body)
        if plural in self.prune:
            body = self.prune[plural](body)
        if plural in self.validate:
            causes = self.validate[plural](body)
            if causes:
                raise _errors.K8sInvalid("invalid", status=422, reason="Invalid", api_message="invalid", causes=causes)
        return body

    def create(self, path, body):
        self.calls.append(("create", path, copy.deepcopy(body)))
        api, plural, ns, _name, _sub = parse_path(path)
        if ns in self.missing_namespaces:
            raise _errors.K8sNotFound('namespaces "%s" not found' % ns, status=404, reason="NotFound", api_message='namespaces "%s" not found' % ns)
        body = self._admit(plural, body)
        name = body["metadata"]["name"]
        if ns is not None:
            body["metadata"]["namespace"] = ns
        if (api, plural, ns, name) in self.objects:
            raise _errors.K8sAlreadyExists("exists", status=409, reason="AlreadyExists")
        body.pop("status", None)
        body["metadata"]["generation"] = 1
        self.put_object(body, api, plural)
        return copy.deepcopy(self.objects[(api, plural, ns, name)])

    def replace(self, path, body):
        self.calls.append(("update", path, copy.deepcopy(body)))
        api, plural, ns, name, _sub = parse_path(path)
        current = self.objects.get((api, plural, ns, name))
        if current is None:
            raise self._nf(path)
        if self.conflicts:
            self.conflicts -= 1
            self.rv += 1
            current["metadata"]["resourceVersion"] = str(self.rv)
            raise _errors.K8sConflict("conflict", status=409, reason="Conflict")
        if body["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]:
            raise _errors.K8sConflict("conflict", status=409, reason="Conflict")
        body = self._admit(plural, body)
        if "status" in current:
            body["status"] = copy.deepcopy(current["status"])
        generation = current["metadata"].get("generation", 1)
        if json.dumps(body.get("spec"), sort_keys=True) != json.dumps(current.get("spec"), sort_keys=True):
            generation += 1
        body["metadata"]["generation"] = generation
        self.put_object(body, api, plural)
        return copy.deepcopy(self.objects[(api, plural, ns, name)])

    def patch(self, path, body, patch_type="merge"):
        self.calls.append(("patch", path, copy.deepcopy(body), patch_type))
        api, plural, ns, name, sub = parse_path(path)
        current = self.objects.get((api, plural, ns, name))
        if current is None:
            raise self._nf(path)
        assert patch_type == "merge"
        if sub == "status":
            body = {"status": body.get("status")}
        _merge(current, body)
        self.rv += 1
        current["metadata"]["resourceVersion"] = str(self.rv)
        return copy.deepcopy(current)

    def delete(self, path, missing_ok=True, body=None):
        self.calls.append(("delete", path))
        api, plural, ns, name, _sub = parse_path(path)
        if self.objects.pop((api, plural, ns, name), None) is None and not missing_ok:
            raise self._nf(path)

    def close(self):
        pass


def run_module(module, args, client, monkeypatch, capsys, check=False, diff=False):
    """Run ``module.main()`` with ``args`` against ``client``; returns (failed, result dict)."""
    from ansible.module_utils.testing import patch_module_args  # pylint: disable=import-outside-toplevel
    import pytest  # pylint: disable=import-outside-toplevel
    from ansible_collections.virakcloud.everest.plugins.module_utils import _k8s  # pylint: disable=import-outside-toplevel

    monkeypatch.setattr(_k8s, "client_from_params", lambda params, **kwargs: client)
    args = dict(args)
    if check:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with patch_module_args(args), pytest.raises(SystemExit) as exc:
        module.main()
    result = json.loads(capsys.readouterr().out)
    assert bool(exc.value.code) == bool(result.get("failed")), result
    return bool(result.get("failed")), result
