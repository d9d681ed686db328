"""Unit tests of the everest_namespace and everest_namespace_info modules.

Boundaries faked: the Kubernetes client (``_k8s.client_from_params``) and the everestctl process
(``subprocess.Popen`` inside ``_everestctl``); the exact argv is asserted."""

import copy
import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.virakcloud.everest.plugins.module_utils import _everestctl, _k8s
from ansible_collections.virakcloud.everest.plugins.modules import everest_namespace, everest_namespace_info

KUBECONFIG = "/tmp/unit-kubeconfig"
SUB = {"mysql": "percona-xtradb-cluster-operator", "postgresql": "percona-postgresql-operator", "mongodb": "percona-server-mongodb-operator"}
LABEL = "app.kubernetes.io/managed-by"


class FakeClient:
    def __init__(self):
        self.namespaces = {}
        self.subs = {}
        self.clusters = {}
        self.calls = []
        self.secrets = []

    def add(self, name, managed=True, operators=(), clusters=(), phase="Active"):
        self.namespaces[name] = {"metadata": {"name": name, "labels": {LABEL: "everest"} if managed else {}}, "status": {"phase": phase}}
        self.subs[name] = [SUB[o] for o in operators]
        self.clusters[name] = list(clusters)

    def get_or_none(self, path):
        self.calls.append(path)
        return copy.deepcopy(self.namespaces.get(path.rsplit("/", 1)[1]))

    def list(self, path, label_selector=None, field_selector=None):
        self.calls.append(path)
        parts = path.split("/")
        if path == "/api/v1/namespaces":
            return {"items": [n for n in self.namespaces.values() if not label_selector or n["metadata"]["labels"].get(LABEL) == "everest"]}
        scope = [parts[parts.index("namespaces") + 1]] if "namespaces" in parts else list(self.namespaces)
        source = self.subs if path.endswith("subscriptions") else self.clusters
        return {"items": [{"metadata": {"name": x, "namespace": n}} for n in scope for x in source.get(n, [])]}

    def private_fds(self):
        return ()

    def kubeconfig_path(self):
        return KUBECONFIG

    def close(self):
        pass


class FakePopen:
    client = None
    argvs = []
    timeouts = []

    def __init__(self, argv, **kwargs):
        FakePopen.argvs.append(list(argv))
        self.returncode, self._err = 0, b""
        c, sub, name = FakePopen.client, argv[2], argv[3]
        if sub in ("add", "update"):
            unmanaged = name in c.namespaces and c.namespaces[name]["metadata"]["labels"].get(LABEL) != "everest"
            if unmanaged and sub == "add" and "--take-ownership" not in argv:
                text = "\u274c '%s': namespace already exists. HINT: set '--take-ownership' flag to use existing namespaces\n" % name
                self.returncode, self._err = 1, text.encode()
                return
            if name not in c.namespaces:
                c.add(name)
            c.namespaces[name]["metadata"]["labels"][LABEL] = "everest"
            for op in SUB:
                if "--operator.%s=true" % op in argv and SUB[op] not in c.subs[name]:
                    c.subs[name].append(SUB[op])
        elif sub == "remove":
            if "--keep-namespace" in argv:
                c.namespaces[name]["metadata"]["labels"].pop(LABEL)
                c.subs[name] = []
            else:
                del c.namespaces[name]

    def communicate(self, timeout=None):
        FakePopen.timeouts.append(timeout)
        return b"", self._err


@pytest.fixture
def world(monkeypatch, tmp_path):
    binary = tmp_path / "everestctl"
    binary.write_text("#!/bin/sh\nexit 0\n")
    binary.chmod(0o755)
    client = FakeClient()
    monkeypatch.setattr(_k8s, "client_from_params", lambda params: client)
    monkeypatch.setattr(_everestctl.subprocess, "Popen", FakePopen)
    FakePopen.client, FakePopen.argvs, FakePopen.timeouts = client, [], []
    return {"client": client, "binary": str(binary)}


def run_module(module, args, capsys, check=False, diff=False):
    args = dict(args)
    if check:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


def test_add_argv_all_flags_explicit(world, capsys):
    result = run_module(
        everest_namespace, {"name": "acme-db", "operators": {"mysql": True}, "timeout": 42, "everestctl_path": world["binary"]}, capsys, diff=True
    )
    assert result["changed"] is True
    assert FakePopen.argvs == [
        [
            world["binary"],
            "namespaces",
            "add",
            "acme-db",
            "--skip-wizard",
            "--operator.mysql=true",
            "--operator.postgresql=false",
            "--operator.mongodb=false",
            "--kubeconfig",
            KUBECONFIG,
        ]
    ]
    assert FakePopen.timeouts == [42]
    assert result["diff"]["before"] == {"exists": False, "managed": False, "labels": {}, "operators": {"mysql": False, "postgresql": False, "mongodb": False}}
    assert result["diff"]["after"]["operators"]["mysql"] is True
    assert result["namespace"]["managed"] is True


def test_xtradb_alias_and_noop(world, capsys):
    world["client"].add("acme-db", operators=["mysql"])
    result = run_module(everest_namespace, {"name": "acme-db", "operators": {"xtradb_cluster": True}, "everestctl_path": world["binary"]}, capsys)
    assert result["changed"] is False and FakePopen.argvs == [] and "cmd" not in result
    assert world["client"].calls == [
        "/api/v1/namespaces/acme-db",
        "/apis/operators.coreos.com/v1alpha1/namespaces/acme-db/subscriptions",
        "/apis/everest.percona.com/v1alpha1/namespaces/acme-db/databaseclusters",
    ]
    assert result["namespace"]["database_clusters"] == 0


def test_present_returns_database_cluster_count(world, capsys):
    world["client"].add("acme-db", operators=["mysql"], clusters=["orders", "billing"])
    result = run_module(everest_namespace, {"name": "acme-db", "operators": {"mysql": True}, "everestctl_path": world["binary"]}, capsys)
    assert result["changed"] is False and result["namespace"]["database_clusters"] == 2
    check = run_module(everest_namespace, {"name": "new-db", "operators": {"mysql": True}}, capsys, check=True)
    assert check["namespace"]["database_clusters"] == 0
    batch = run_module(everest_namespace, {"everestctl_path": world["binary"], "namespaces": [{"name": "acme-db", "operators": {"mysql": True}}]}, capsys)
    assert batch["results"][0]["namespace"]["database_clusters"] == 2


def test_default_timeout_is_3600_and_reaches_everestctl(world, capsys):
    import yaml

    assert everest_namespace.ARGUMENT_SPEC["timeout"]["default"] == 3600
    documented = yaml.safe_load(everest_namespace.DOCUMENTATION)["options"]["timeout"]
    assert documented["default"] == 3600 and documented["type"] == "int"
    result = run_module(everest_namespace, {"name": "acme-db", "operators": {"mysql": True}, "everestctl_path": world["binary"]}, capsys)
    assert result["changed"] is True and FakePopen.timeouts == [3600]


def test_update_union(world, capsys):
    world["client"].add("acme-db", operators=["mongodb"])
    result = run_module(everest_namespace, {"name": "acme-db", "operators": {"mysql": True}, "everestctl_path": world["binary"]}, capsys)
    assert result["changed"] is True
    assert FakePopen.argvs[0][1:7] == ["namespaces", "update", "acme-db", "--operator.mysql=true", "--operator.postgresql=false", "--operator.mongodb=true"]


def test_take_ownership(world, capsys):
    world["client"].add("legacy", managed=False)
    failed = run_module(everest_namespace, {"name": "legacy", "operators": {"postgresql": True}, "everestctl_path": world["binary"]}, capsys)
    assert failed["failed"] is True and "take_ownership=true" in failed["msg"] and FakePopen.argvs == []
    result = run_module(
        everest_namespace, {"name": "legacy", "operators": {"postgresql": True}, "take_ownership": True, "everestctl_path": world["binary"]}, capsys
    )
    assert result["changed"] is True and FakePopen.argvs[0][-3:] == ["--take-ownership", "--kubeconfig", KUBECONFIG]


@pytest.mark.parametrize(
    "args,match",
    [
        ({"name": "everest-monitoring", "operators": {"mysql": True}}, "reserved for Everest internals"),
        ({"name": "Not_Valid", "operators": {"mysql": True}}, "not RFC 1035 compatible"),
        ({"name": "acme-db", "operators": {"mysql": False}}, "Minimum one operator"),
        ({"name": "acme-db"}, "Minimum one operator"),
    ],
)
def test_bad_input_fails_before_any_call(world, capsys, args, match):
    args["everestctl_path"] = world["binary"]
    result = run_module(everest_namespace, args, capsys)
    assert result["failed"] is True and match in result["msg"]
    assert FakePopen.argvs == [] and world["client"].calls == []


def test_operator_removal(world, capsys):
    world["client"].add("acme-db", operators=["mysql", "postgresql"])
    failed = run_module(everest_namespace, {"name": "acme-db", "operators": {"mysql": False, "postgresql": True}, "everestctl_path": world["binary"]}, capsys)
    assert failed["failed"] is True and "cannot remove installed operators" in failed["msg"] and FakePopen.argvs == []
    ok = run_module(
        everest_namespace,
        {"name": "acme-db", "operators": {"mysql": False, "postgresql": True}, "ignore_operator_removal": True, "everestctl_path": world["binary"]},
        capsys,
    )
    assert ok["changed"] is False and "stay installed" in json.dumps(ok["warnings"])


def test_absent_with_clusters_and_force(world, capsys):
    world["client"].add("acme-db", operators=["mysql"], clusters=["orders"])
    failed = run_module(everest_namespace, {"name": "acme-db", "state": "absent", "everestctl_path": world["binary"]}, capsys)
    assert failed["failed"] is True and "orders" in failed["msg"] and "force=true" in failed["msg"]
    assert FakePopen.argvs == []
    check = run_module(everest_namespace, {"name": "acme-db", "state": "absent", "force": True, "everestctl_path": world["binary"]}, capsys, check=True)
    assert check["changed"] is True and FakePopen.argvs == [] and "acme-db" in world["client"].namespaces
    done = run_module(everest_namespace, {"name": "acme-db", "state": "absent", "force": True, "everestctl_path": world["binary"]}, capsys)
    assert done["changed"] is True and FakePopen.argvs[0][1:5] == ["namespaces", "remove", "acme-db", "--force"]
    again = run_module(everest_namespace, {"name": "acme-db", "state": "absent", "everestctl_path": world["binary"]}, capsys)
    assert again["changed"] is False and len(FakePopen.argvs) == 1


def test_batch(world, capsys):
    world["client"].add("t1-db", operators=["mysql"])
    result = run_module(
        everest_namespace,
        {
            "everestctl_path": world["binary"],
            "namespaces": [
                {"name": "t1-db", "operators": {"mysql": True}},
                {"name": "t2-db", "operators": {"mongodb": True}},
                {"name": "t1-db", "operators": {"mysql": False, "postgresql": True}},
            ],
        },
        capsys,
    )
    assert result["failed"] is True and "t1-db" in result["msg"] and "1 of 3" in result["msg"]
    assert [r["changed"] for r in result["results"]] == [False, True, False]
    assert len(FakePopen.argvs) == 1 and "t2-db" in world["client"].namespaces


def test_info(world, capsys):
    world["client"].add("b-db", operators=["mongodb"], clusters=["m1", "m2"])
    world["client"].add("a-db", operators=["mysql"])
    world["client"].add("other", managed=False)
    result = run_module(everest_namespace_info, {}, capsys, check=True)
    assert result["changed"] is False
    assert [n["name"] for n in result["namespaces"]] == ["a-db", "b-db"]
    assert result["namespaces"][1]["database_clusters"] == 2
    assert result["namespaces"][1]["operators"] == {"mysql": False, "postgresql": False, "mongodb": True}
    assert [n["operators_installed"] for n in result["namespaces"]] == [True, True]
    assert [n["terminating"] for n in result["namespaces"]] == [False, False]
    one = run_module(everest_namespace_info, {"name": "other"}, capsys)
    assert one["namespaces"][0]["managed"] is False and one["namespaces"][0]["operators_installed"] is False
    assert run_module(everest_namespace_info, {"name": "ghost"}, capsys)["namespaces"] == []
    assert FakePopen.argvs == []


def test_info_leaves_out_terminating_namespaces(world, capsys):
    world["client"].add("a-db", operators=["mysql"])
    world["client"].add("going-db", operators=["mysql"], phase="Terminating")
    world["client"].add("empty-db")  # labelled, no Subscription: listed, but not MANAGED in `namespaces list` terms
    result = run_module(everest_namespace_info, {}, capsys)
    assert [n["name"] for n in result["namespaces"]] == ["a-db", "empty-db"]
    assert result["namespaces"][1]["managed"] is True and result["namespaces"][1]["operators_installed"] is False
    one = run_module(everest_namespace_info, {"name": "going-db"}, capsys)["namespaces"]
    assert one[0]["terminating"] is True


def test_check_mode_needs_no_everestctl_binary(world, capsys, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("EVERESTCTL_PATH", raising=False)
    result = run_module(everest_namespace, {"name": "acme-db", "operators": {"mongodb": True}}, capsys, check=True)
    assert result["changed"] is True and result["cmd"] == [
        "everestctl",
        "namespaces",
        "add",
        "acme-db",
        "--skip-wizard",
        "--operator.mysql=false",
        "--operator.postgresql=false",
        "--operator.mongodb=true",
    ]
    assert FakePopen.argvs == []
