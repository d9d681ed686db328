"""Unit tests of the native Kubernetes client. The boundary is HTTP: a scripted local server answers."""

import base64
import json
import os
import stat
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from ansible_collections.virakcloud.everest.plugins.module_utils import _k8s
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import (
    ConnectionConfigError,
    K8sAlreadyExists,
    K8sApiError,
    K8sConflict,
    K8sForbidden,
    K8sInvalid,
    K8sNotFound,
    K8sTransient,
    K8sUnauthorized,
    K8sUnsupportedMediaType,
)


def status(code, reason, message, causes=None):
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": message,
        "details": {"causes": causes} if causes else {},
    }
    return code, body, {}


DROP = object()


class Scripted:
    """A local HTTP server answering from a queue of (code, body, headers); records requests."""

    def __init__(self):
        self.queue = []
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers), "body": json.loads(body) if body else None})
                answer = outer.queue.pop(0) if outer.queue else (200, {}, {})
                if answer is DROP:  # the connection breaks before any answer (reset by a proxy, server restart)
                    self.close_connection = True
                    return
                code, doc, headers = answer
                data = json.dumps(doc).encode() if doc is not None else b""
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def srv():
    server = Scripted()
    yield server
    server.close()


def write_kubeconfig(path, server, token="tok-123", extra_user=None, context="c1", **cluster_extra):
    cluster = {"server": server}
    cluster.update(cluster_extra)
    user = {"token": token} if token else {}
    user.update(extra_user or {})
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": context,
        "clusters": [{"name": "k1", "cluster": cluster}],
        "users": [{"name": "u1", "user": user}],
        "contexts": [{"name": "c1", "context": {"cluster": "k1", "user": "u1"}}],
    }
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def client(srv, tmp_path, sleeps=None, **params):
    kc = write_kubeconfig(tmp_path / "kc", srv.url)
    params.setdefault("kubeconfig", kc)
    sleeps = sleeps if sleeps is not None else []
    return _k8s.K8sClient(_k8s.load_config(params), sleep=sleeps.append)


def test_path_shapes():
    assert _k8s.path("v1", "namespaces", name="x") == "/api/v1/namespaces/x"
    assert _k8s.path("v1", "configmaps", "everest-system", "everest-rbac") == "/api/v1/namespaces/everest-system/configmaps/everest-rbac"
    assert _k8s.path("everest.local/v1", "tenantresourcepolicies", "ns-a") == "/apis/everest.local/v1/namespaces/ns-a/tenantresourcepolicies"
    assert _k8s.path("apiextensions.k8s.io/v1", "customresourcedefinitions", name="a.b") == "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/a.b"
    assert _k8s.path("everest.local/v1", "tenantresourcepolicies", "ns", "p", "status").endswith("/p/status")
    assert _k8s.path("v1", "secrets", "ns", "a/b") == "/api/v1/namespaces/ns/secrets/a%2Fb"


def test_get_sends_bearer_token_and_decodes(srv, tmp_path):
    srv.queue.append((200, {"kind": "Namespace", "metadata": {"name": "x"}}, {}))
    c = client(srv, tmp_path)
    assert c.get("/api/v1/namespaces/x")["metadata"]["name"] == "x"
    assert srv.requests[0]["headers"]["Authorization"] == "Bearer tok-123"
    assert c.requests["get"] == 1
    assert "tok-123" in c.secrets


def test_list_passes_selectors(srv, tmp_path):
    srv.queue.append((200, {"items": []}, {}))
    client(srv, tmp_path).list("/api/v1/namespaces", label_selector="a=b,c in (d)", field_selector="metadata.name=x")
    assert srv.requests[0]["path"] == "/api/v1/namespaces?labelSelector=a%3Db%2Cc+in+%28d%29&fieldSelector=metadata.name%3Dx"


@pytest.mark.parametrize(
    "answer,exc",
    [
        (status(404, "NotFound", 'namespaces "x" not found'), K8sNotFound),
        (status(409, "AlreadyExists", 'namespaces "x" already exists'), K8sAlreadyExists),
        (status(409, "Conflict", "Operation cannot be fulfilled"), K8sConflict),
        (status(422, "Invalid", "bad", [{"field": "spec.limits.cpuCores", "message": "must be >= 0"}]), K8sInvalid),
        (status(403, "Forbidden", "exceeded quota"), K8sForbidden),
        (status(401, "Unauthorized", "Unauthorized"), K8sUnauthorized),
        (status(415, "UnsupportedMediaType", "the body of the request was in an unknown format"), K8sUnsupportedMediaType),
        (status(400, "BadRequest", "nope"), K8sApiError),
    ],
)
def test_errors_are_typed_and_not_retried(srv, tmp_path, answer, exc):
    srv.queue.append(answer)
    c = client(srv, tmp_path)
    with pytest.raises(exc) as err:
        c.create("/api/v1/namespaces", {"metadata": {"name": "x"}})
    assert len(srv.requests) == 1
    assert err.value.status == answer[0]
    if exc is K8sInvalid:
        assert err.value.causes[0]["field"] == "spec.limits.cpuCores"
    if exc is K8sUnauthorized:
        assert "rejected the credentials" in err.value.msg
        assert "tok-123" not in err.value.msg


def test_transient_errors_are_retried_with_backoff(srv, tmp_path):
    srv.queue += [status(503, "ServiceUnavailable", "busy"), status(500, "InternalError", "oops"), (200, {"ok": 1}, {})]
    sleeps = []
    assert client(srv, tmp_path, sleeps=sleeps).get("/x") == {"ok": 1}
    assert len(srv.requests) == 3
    assert len(sleeps) == 2 and all(0 < s <= _k8s.TRANSIENT_MAX_DELAY for s in sleeps)


def test_429_honours_retry_after(srv, tmp_path):
    code, body = status(429, "TooManyRequests", "slow down")[:2]
    srv.queue += [(code, body, {"Retry-After": "3"}), (200, {"ok": 1}, {})]
    sleeps = []
    client(srv, tmp_path, sleeps=sleeps).get("/x")
    assert sleeps == [3.0]


def test_transient_retries_are_bounded(srv, tmp_path):
    srv.queue += [status(503, "ServiceUnavailable", "busy")] * 10
    with pytest.raises(K8sTransient):
        client(srv, tmp_path).get("/x")
    assert len(srv.requests) == _k8s.TRANSIENT_ATTEMPTS


def test_unreachable_server_is_transient_then_fails(tmp_path):
    kc = write_kubeconfig(tmp_path / "kc", "http://127.0.0.1:9")
    c = _k8s.K8sClient(_k8s.load_config({"kubeconfig": kc}), sleep=lambda s: None)
    with pytest.raises(K8sTransient) as err:
        c.get("/version")
    assert "cannot reach the Kubernetes API" in err.value.msg


def test_patch_content_types(srv, tmp_path):
    c = client(srv, tmp_path)
    c.patch("/a", {"x": 1})
    c.patch("/a", [{"op": "add", "path": "/x", "value": 1}], patch_type="json")
    assert [r["headers"]["Content-Type"] for r in srv.requests] == ["application/merge-patch+json", "application/json-patch+json"]


def test_delete_missing_is_ok(srv, tmp_path):
    srv.queue.append(status(404, "NotFound", "gone"))
    assert client(srv, tmp_path).delete("/a") is None


def test_read_modify_write_retries_conflicts(srv, tmp_path):
    def obj(rv):
        return 200, {"metadata": {"name": "cm", "resourceVersion": rv}, "data": {"k": "v" + rv}}, {}

    srv.queue += [
        obj("1"),
        status(409, "Conflict", "modified"),
        obj("2"),
        status(409, "Conflict", "modified"),
        obj("3"),
        (200, {"metadata": {"resourceVersion": "4"}}, {}),
    ]
    seen = []

    def mutate(current):
        seen.append(current["data"]["k"])
        current["data"]["k"] = "new"
        return current

    changed, after = _k8s.read_modify_write(client(srv, tmp_path), "/cm", mutate, sleep=lambda s: None)
    assert changed and after["metadata"]["resourceVersion"] == "4"
    assert seen == ["v1", "v2", "v3"]  # re-applied on a fresh read each time
    puts = [r for r in srv.requests if r["method"] == "PUT"]
    assert [p["body"]["metadata"]["resourceVersion"] for p in puts] == ["1", "2", "3"]


def test_read_modify_write_noop_does_not_write(srv, tmp_path):
    srv.queue.append((200, {"metadata": {"resourceVersion": "1"}}, {}))
    changed = _k8s.read_modify_write(client(srv, tmp_path), "/cm", lambda cur: None)[0]
    assert not changed and [r["method"] for r in srv.requests] == ["GET"]


def test_read_modify_write_backoff_is_jittered_and_grows(srv, tmp_path):
    import random

    def run(seed):
        for rv in ("1", "2", "3", "4"):
            srv.queue += [(200, {"metadata": {"resourceVersion": rv}}, {}), status(409, "Conflict", "modified")]
        srv.queue.append((200, {"metadata": {"resourceVersion": "5"}}, {}))
        srv.queue.append((200, {"metadata": {"resourceVersion": "6"}}, {}))
        sleeps = []
        _k8s.read_modify_write(client(srv, tmp_path), "/cm", lambda c: c, attempts=5, sleep=sleeps.append, rng=random.Random(seed))
        return sleeps

    first, second = run(1), run(2)
    assert len(first) == 4
    for attempt, delay in enumerate(first, 1):
        base = 0.05 * 2 ** (attempt - 1)
        assert 0.5 * base <= delay < 1.5 * base  # jitter around an exponentially growing base
    assert first != second  # the jitter really depends on the random source (writers don't retry in lockstep)


def test_connection_dropped_before_the_answer_is_retried(srv, tmp_path):
    srv.queue += [DROP, (200, {"kind": "Namespace", "metadata": {"name": "a"}}, {})]
    sleeps = []
    c = client(srv, tmp_path, sleeps=sleeps)
    assert c.get("/api/v1/namespaces/a")["metadata"]["name"] == "a"
    assert len(srv.requests) == 2 and len(sleeps) == 1


def test_connection_dropped_every_time_fails_clearly(srv, tmp_path):
    srv.queue += [DROP] * 10
    c = client(srv, tmp_path)
    with pytest.raises(K8sTransient) as err:
        c.get("/api/v1/namespaces/a")
    assert "cannot reach the Kubernetes API at %s" % srv.url in err.value.msg
    assert len(srv.requests) == _k8s.TRANSIENT_ATTEMPTS


def test_read_modify_write_gives_up(srv, tmp_path):
    for _attempt in range(3):
        srv.queue += [(200, {"metadata": {"resourceVersion": "1"}}, {}), status(409, "Conflict", "modified")]
    with pytest.raises(K8sConflict) as err:
        _k8s.read_modify_write(client(srv, tmp_path), "/cm", lambda c: c, attempts=3, sleep=lambda s: None)
    assert "3 conditional updates in a row" in err.value.msg


def test_kubeconfig_merge_context_and_relative_paths(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "ca.pem").write_text("x")
    first = tmp_path / "a" / "first"
    first.write_text(
        yaml.safe_dump(
            {
                "current-context": "one",
                "clusters": [{"name": "k1", "cluster": {"server": "https://one:6443", "certificate-authority": "ca.pem"}}],
                "users": [{"name": "u1", "user": {"token": "t1"}}],
                "contexts": [{"name": "one", "context": {"cluster": "k1", "user": "u1"}}],
            }
        )
    )
    second = tmp_path / "second"
    second.write_text(
        yaml.safe_dump(
            {
                "current-context": "two",
                "clusters": [{"name": "k2", "cluster": {"server": "https://two:6443", "insecure-skip-tls-verify": True}}],
                "users": [{"name": "u2", "user": {"tokenFile": "tokfile"}}],
                "contexts": [{"name": "two", "context": {"cluster": "k2", "user": "u2"}}],
            }
        )
    )
    (tmp_path / "tokfile").write_text("t2\n")
    monkeypatch.setenv("KUBECONFIG", "%s:%s" % (first, second))
    cfg = _k8s.load_config({})
    assert cfg.server == "https://one:6443" and cfg.token == "t1"
    assert cfg.ca_file == str(tmp_path / "a" / "ca.pem")
    assert cfg.source_file is None  # merged from two files: everestctl gets a private copy
    cfg2 = _k8s.load_config({"context": "two"})
    assert cfg2.server == "https://two:6443" and cfg2.insecure and cfg2.bearer_token() == "t2"


@pytest.mark.parametrize(
    "params,needle",
    [
        ({"kubeconfig": "/nonexistent/kc"}, "cannot read the kubeconfig file /nonexistent/kc"),
        ({"kubeconfig": "KC", "context": "nope"}, "context 'nope' is not defined"),
    ],
)
def test_kubeconfig_errors_are_clear(tmp_path, params, needle):
    kc = write_kubeconfig(tmp_path / "kc", "http://x")
    params = dict((k, kc if v == "KC" else v) for k, v in params.items())
    with pytest.raises(ConnectionConfigError) as err:
        _k8s.load_config(params)
    assert needle in err.value.msg


def test_no_configuration_at_all(tmp_path, monkeypatch):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ConnectionConfigError) as err:
        _k8s.load_config({})
    assert "no Kubernetes connection configured" in err.value.msg


def test_host_and_api_key_without_kubeconfig(srv, tmp_path, monkeypatch):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    c = _k8s.client_from_params({"host": srv.url, "api_key": "explicit-token"})
    c.get("/version")
    assert srv.requests[0]["headers"]["Authorization"] == "Bearer explicit-token"
    path = c.kubeconfig_path()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    doc = yaml.safe_load(open(path).read())
    assert doc["clusters"][0]["cluster"]["server"] == srv.url
    assert doc["users"][0]["user"]["token"] == "explicit-token"
    c.close()
    assert not os.path.exists(path)


def test_unmodified_kubeconfig_is_passed_as_is(srv, tmp_path):
    kc = write_kubeconfig(tmp_path / "kc", srv.url)
    c = _k8s.client_from_params({"kubeconfig": kc})
    assert c.kubeconfig_path() == kc
    c2 = _k8s.client_from_params({"kubeconfig": kc, "api_key": "other"})
    assert c2.kubeconfig_path() != kc


def test_exec_credential_plugin(srv, tmp_path):
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        "import json, os\nassert json.loads(os.environ['KUBERNETES_EXEC_INFO'])['kind'] == 'ExecCredential'\n"
        "print(json.dumps({'kind': 'ExecCredential', 'status': {'token': os.environ['TOK']}}))\n"
    )
    kc = write_kubeconfig(
        tmp_path / "kc",
        srv.url,
        token=None,
        extra_user={
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1",
                "command": sys.executable,
                "args": [str(plugin)],
                "env": [{"name": "TOK", "value": "from-exec"}],
            }
        },
    )
    c = _k8s.client_from_params({"kubeconfig": kc})
    c.get("/version")
    assert srv.requests[0]["headers"]["Authorization"] == "Bearer from-exec"
    assert "from-exec" in c.secrets


def test_client_cert_data_is_written_privately(tmp_path):
    kc = write_kubeconfig(
        tmp_path / "kc",
        "https://127.0.0.1:1",
        token=None,
        extra_user={"client-certificate-data": base64.b64encode(b"CERT").decode(), "client-key-data": base64.b64encode(b"KEY").decode()},
    )
    cfg = _k8s.load_config({"kubeconfig": kc})
    assert cfg.client_cert_data == b"CERT" and cfg.client_key_data == b"KEY"
    assert base64.b64encode(b"KEY").decode() in cfg.secrets
    c = _k8s.K8sClient(cfg)
    with pytest.raises(ConnectionConfigError) as err:  # not a real certificate: a clear error, not a traceback
        c.get("/version")
    assert "client certificate" in err.value.msg
    c.close()


def test_basic_auth_user(srv, tmp_path):
    kc = write_kubeconfig(tmp_path / "kc", srv.url, token=None, extra_user={"username": "u", "password": "p"})
    _k8s.client_from_params({"kubeconfig": kc}).get("/version")
    assert srv.requests[0]["headers"]["Authorization"] == "Basic " + base64.b64encode(b"u:p").decode()


def test_incluster(tmp_path, monkeypatch):
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text("sa-token")
    monkeypatch.setattr(_k8s, "SERVICE_ACCOUNT_DIR", str(sa))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    cfg = _k8s.load_config({})
    assert cfg.server == "https://10.0.0.1:443" and cfg.bearer_token() == "sa-token"


def test_one_http_exchange_at_a_time_across_threads(srv, tmp_path):
    """The Lease renewer (_lock.py) shares the module's client from a second thread: while one thread is inside an HTTP
    exchange on the keep-alive connection, another cannot start one."""
    c = client(srv, tmp_path)
    srv.queue.append((200, {"kind": "Namespace", "metadata": {"name": "x"}}, {}))
    blocked = []
    real_connection = c._transport._connection

    class Probe:
        def __init__(self, conn):
            self.conn = conn

        def request(self, *args, **kwargs):
            other = threading.Thread(target=lambda: blocked.append(not c._transport.lock.acquire(blocking=False)))
            other.start()
            other.join()
            return self.conn.request(*args, **kwargs)

        def getresponse(self):
            return self.conn.getresponse()

    c._transport._connection = lambda: Probe(real_connection())
    assert c.get("/api/v1/namespaces/x")["metadata"]["name"] == "x"
    assert blocked == [True]
    c.close()
