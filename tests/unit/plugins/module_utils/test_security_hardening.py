"""Issue #13's smaller findings, each with a test that fails without its fix: the transport (credentials over plain
http, tls-server-name, CA plus insecure), the exec credential plugin (env validation, masking, re-run on 401), the Lease
(foreign durations, a stale resourceVersion after a 409, no spinning, fencing), and the input bounds (password length,
counts, label keys)."""

import copy
import json
import os
import stat
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.virakcloud.everest.plugins.module_utils import _accounts, _http, _k8s, _lock, _trp_policy, _validation
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import ConnectionConfigError, ValidationError
from everest_sandbox.kubeapi.server import tls_material

from test_lease_lock import Clock, FakeApi

TOKEN = "tok-secret-never-sent-in-clear"


# ------------------------------------------------------------------------------------------------------ transport


@pytest.mark.parametrize(
    "server, allowed",
    [
        ("http://10.0.0.5:6443", False),
        ("http://k8s.example.com", False),
        ("http://127.0.0.1:6443", True),
        ("http://[::1]:6443", True),
        ("http://localhost:8080", True),
        ("https://k8s.example.com", True),
    ],
)
def test_credentials_never_go_over_plain_http_except_to_loopback(server, allowed):
    if allowed:
        _k8s.client_from_params({"host": server, "api_key": TOKEN}).close()
        return
    with pytest.raises(ConnectionConfigError) as err:
        _k8s.client_from_params({"host": server, "api_key": TOKEN})
    assert "over plain http" in err.value.msg and "allow_http_credentials" in err.value.msg and TOKEN not in err.value.msg


def test_the_http_opt_in_and_no_credentials():
    _k8s.client_from_params({"host": "http://10.0.0.5:6443", "api_key": TOKEN, "allow_http_credentials": True}).close()
    config = _k8s.ClusterConfig()
    config.server = "http://10.0.0.5:6443"
    _k8s.K8sClient(config).close()  # no credentials at all: nothing to protect


def kubeconfig(tmp_path, cluster, user=None):
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "c",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": user or {"token": TOKEN}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
    }
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(doc))
    return str(path)


def test_a_ca_together_with_insecure_is_refused_like_client_go(tmp_path):
    path = kubeconfig(tmp_path, {"server": "https://10.0.0.5:6443", "insecure-skip-tls-verify": True, "certificate-authority-data": "Zm9v"})
    with pytest.raises(ConnectionConfigError) as err:
        _k8s.client_from_params({"kubeconfig": path})
    assert _http.CA_WITH_INSECURE in err.value.msg


class _TLSHandler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = b'{"kind": "Status"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def tls_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TLSHandler)
    server.socket = tls_material()["context"].wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_tls_server_name_is_honoured(tmp_path, tls_server):
    """The test certificate names 127.0.0.1 and localhost; tls-server-name decides which name is verified."""
    import base64  # pylint: disable=import-outside-toplevel

    ca = base64.b64encode(tls_material()["cert"]).decode()
    url = "https://127.0.0.1:%d" % tls_server.server_address[1]
    good = kubeconfig(tmp_path, {"server": url, "certificate-authority-data": ca, "tls-server-name": "localhost"})
    client = _k8s.client_from_params({"kubeconfig": good})
    assert client.get("/version")["kind"] == "Status"
    client.close()
    (tmp_path / "kubeconfig").unlink()
    wrong = kubeconfig(tmp_path, {"server": url, "certificate-authority-data": ca, "tls-server-name": "wrong.example.com"})
    client = _k8s.client_from_params({"kubeconfig": wrong})
    with pytest.raises(ConnectionConfigError) as err:
        client.get("/version")
    assert "TLS verification" in err.value.msg
    client.close()


# -------------------------------------------------------------------------------------------- exec credential plugin


def exec_plugin(tmp_path, counter):
    script = tmp_path / "plugin.py"
    script.write_text(
        "import json, sys\n"
        "path = %r\n"
        "n = int(open(path).read()) + 1 if __import__('os').path.exists(path) else 1\n"
        "open(path, 'w').write(str(n))\n"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', 'kind': 'ExecCredential',\n"
        "                  'status': {'token': 'exec-token-%%d' %% n, 'clientKeyData': 'exec-key-secret'}}))\n" % str(counter)
    )
    return {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable, "args": [str(script)]}


def test_exec_env_entries_are_validated(tmp_path):
    plugin = exec_plugin(tmp_path, tmp_path / "n")
    plugin["env"] = [{"value": "no name"}]
    path = kubeconfig(tmp_path, {"server": "http://127.0.0.1:1"}, {"exec": plugin})
    client = _k8s.client_from_params({"kubeconfig": path})
    with pytest.raises(ConnectionConfigError) as err:
        client.get("/version")
    assert "env entry 0 must be a map with a non-empty string name" in err.value.msg


class _Counting(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.server.auth.append(self.headers.get("Authorization"))
        code = 401 if len(self.server.auth) == 1 else 200
        body = b'{"kind": "Status"}'
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_exec_secrets_are_masked_and_a_401_runs_the_plugin_again_once(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    server.auth = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        path = kubeconfig(tmp_path, {"server": "http://127.0.0.1:%d" % server.server_address[1]}, {"exec": exec_plugin(tmp_path, tmp_path / "n")})
        client = _k8s.client_from_params({"kubeconfig": path})
        assert client.get("/version")["kind"] == "Status"
        assert server.auth == ["Bearer exec-token-1", "Bearer exec-token-2"]  # refreshed after the 401, once
        assert "exec-token-2" in client.secrets and "exec-key-secret" in client.secrets
        client.close()
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------------------------------------------- the Lease


def foreign(api, duration):
    api.obj = {
        "metadata": {"name": "test-lock", "namespace": "everest-system", "resourceVersion": "1"},
        "spec": {"holderIdentity": "other", "leaseDurationSeconds": duration},
    }
    api.rv = 1


def lock(api, clock, **kwargs):
    return _lock.LeaseLock(api, "everest-system", "test-lock", identity="me", duration=30, timeout=600, clock=clock, sleep=clock.sleep, renew=False, **kwargs)


def test_a_foreign_lease_claiming_one_second_is_not_taken_early():
    api, clock = FakeApi(), Clock()
    foreign(api, 1)
    held = lock(api, clock)
    held.acquire()
    assert clock.now - 1000.0 >= 30  # our own duration, not the holder's 1 s


def test_a_foreign_lease_claiming_a_day_still_expires():
    api, clock = FakeApi(), Clock()
    foreign(api, 86400)
    held = lock(api, clock)
    held.acquire()
    assert 120 <= clock.now - 1000.0 < 200  # capped at MAX_FOREIGN_DURATION


def test_a_409_during_renewal_leaves_no_stale_resource_version_behind():
    api, clock = FakeApi(), Clock()
    held = lock(api, clock)
    held.acquire()
    real_replace = api.replace
    calls = []

    def replace_once_conflicting(path, body):
        calls.append(1)
        if len(calls) == 1:  # somebody else's write lands between our read and our update (same holder: us)
            obj = copy.deepcopy(api.obj)
            api._stamp(obj)  # pylint: disable=protected-access
        return real_replace(path, body)

    api.replace = replace_once_conflicting
    assert held.renew() is True
    assert held._rv == api.obj["metadata"]["resourceVersion"]  # pylint: disable=protected-access
    held.release()
    assert api.obj is None  # released, not left to expire


def test_a_lease_that_exists_for_create_but_not_for_get_does_not_spin():
    clock = Clock()

    class Ghost(FakeApi):
        def create(self, path, body):
            self.ops.append("create")
            from ansible_collections.virakcloud.everest.plugins.module_utils._errors import K8sAlreadyExists

            raise K8sAlreadyExists("exists")

        def get_or_none(self, path):
            self.ops.append("get")
            return None

    api = Ghost()
    held = _lock.LeaseLock(api, "everest-system", "test-lock", identity="me", duration=30, timeout=5, clock=clock, sleep=clock.sleep, renew=False)
    with pytest.raises(_lock.LockTimeout):
        held.acquire()
    assert clock.sleeps and api.ops.count("create") <= 2 * len(clock.sleeps) + 2


def test_fencing_refuses_to_go_on_once_the_lease_is_lost():
    api, clock = FakeApi(), Clock()
    held = lock(api, clock)
    held.acquire()
    held.verify()  # ours
    api.obj["spec"]["holderIdentity"] = "thief"
    with pytest.raises(_lock.LockLost):
        held.verify()
    assert held not in _lock.HELD


def test_an_account_write_never_starts_without_the_lease(monkeypatch):
    ran = []

    class Runner:
        def run(self, shape, **values):
            ran.append(shape)

    class LostLock:
        owned = False

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def verify(self):
            raise _lock.LockLost("Lease everest-system/x was taken over")

        def check(self):
            pass

    class Store:
        last = None
        recorded_owners = {}

        def read(self):
            return {}

        def owner_of(self, name):
            return None

    with pytest.raises(_lock.LockLost):
        _accounts.converge_account(Store(), Runner(), {"username": "alice", "password": "Alice@pass1"}, lock=LostLock())
    assert ran == []


# ------------------------------------------------------------------------------------------------------ bounds


def test_a_huge_password_is_refused_before_anything_runs():
    with pytest.raises(ValidationError) as err:
        _accounts.validate_item({"username": "alice", "password": "a" * 200000})
    assert "longer than 4096 characters" in err.value.msg and "aaaa" not in err.value.msg
    assert _validation.check_password("a" * 4096) is None


@pytest.mark.parametrize(
    "limits, expected",
    [
        ({"max_clusters": 10**12}, "more than the 100000"),
        ({"max_db_users": 100001}, "more than the 100000"),
    ],
)
def test_counts_have_a_sane_range(limits, expected):
    with pytest.raises(ValidationError) as err:
        _trp_policy.normalize_item({"namespace": "ns-a", "limits": limits})
    assert expected in err.value.msg


def test_label_keys_use_the_kubernetes_rule_in_every_module():
    with pytest.raises(ValidationError) as err:
        _trp_policy.normalize_item({"namespace": "ns-a", "labels": {"a b": "x"}})
    assert "label key 'a b'" in err.value.msg


def test_private_files_are_owner_only(tmp_path):
    from ansible_collections.virakcloud.everest.plugins.module_utils import _private_files  # pylint: disable=import-outside-toplevel

    private = _private_files.create(b"secret", ".kubeconfig")
    try:
        assert stat.S_IMODE(os.stat(private.path).st_mode) == 0o600
        with open(private.path, "rb") as handle:
            assert handle.read() == b"secret"
    finally:
        private.close()
    assert private.path is None
