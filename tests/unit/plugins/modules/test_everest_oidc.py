"""Unit tests of everest_oidc (issue 19) and its everestctl shape.

Boundaries faked: the Kubernetes client (one ConfigMap, everest-system/everest-settings) and the everestctl runner
(which writes the ConfigMap as `settings oidc configure` does); the issuer's discovery document is served by a real
HTTP server on a random loopback port, so the module's own HTTP check runs for real."""

import copy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.virakcloud.everest.plugins.module_utils import _k8s, _oidc
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import ValidationError
from ansible_collections.virakcloud.everest.plugins.module_utils._everestctl import CommandResult, Everestctl
from ansible_collections.virakcloud.everest.plugins.module_utils._module import EverestModule
from ansible_collections.virakcloud.everest.plugins.modules import everest_oidc

from test_everest_rbac import warnings_of

SEED = "clientId: everest\nissuerUrl: %s\nscopes:\n- openid\n- profile\n- email\n"


class FakeClient:
    def __init__(self, raw=None, extra=None, exists=True):
        self.obj = None
        if exists:
            data = dict(extra or {})
            if raw is not None:
                data["oidc.config"] = raw
            self.obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "everest-settings", "namespace": "everest-system"}, "data": data}
        self.gets = 0
        self.secrets = []

    def get_or_none(self, path):
        assert path == _oidc.SETTINGS_PATH
        self.gets += 1
        return copy.deepcopy(self.obj)

    def close(self):
        pass


class FakeEverestctl:
    """`settings oidc configure`: data replaced by {oidc.config: yaml.v3 text}, as upstream writes it."""

    def __init__(self, client):
        self.client = client
        self.calls = []

    def run(self, shape, **values):
        assert shape == "oidc_configure"
        self.calls.append(values)
        argv = Everestctl("everestctl").build(shape, values)[1]
        raw = "issuerUrl: %s\nclientId: %s\nscopes:\n%s" % (values["issuer_url"], values["client_id"], "".join("    - %s\n" % s for s in values["scopes"]))
        if self.client.obj is None:
            self.client.obj = {"metadata": {"name": "everest-settings"}, "data": {}}
        self.client.obj["data"] = {"oidc.config": raw}
        return CommandResult(0, "", "", argv, 0.01)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        self.server.paths.append(self.path)
        status, headers, body = self.server.answer(self.path)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


@pytest.fixture
def issuer():
    """``issuer.url`` (with a realm path); ``issuer.answer(path) -> (status, headers, body)``; ``issuer.paths`` asked."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.paths = []
    server.url = "http://127.0.0.1:%d/realms/acme" % server.server_address[1]
    doc = {"issuer": server.url, "jwks_uri": server.url + "/protocol/openid-connect/certs"}
    server.answer = lambda path: (
        (200, {"Content-Type": "application/json"}, json.dumps(doc).encode())
        if path == "/realms/acme/.well-known/openid-configuration"
        else (404, {}, b"404 page not found\n")
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def fakes(monkeypatch):
    holder = {}
    monkeypatch.setattr(_k8s, "client_from_params", lambda params, **kw: holder["client"])
    monkeypatch.setattr(EverestModule, "everestctl", property(lambda self: holder.setdefault("runner", FakeEverestctl(holder["client"]))))
    return holder


def run(args, capsys, check=False, diff=False):
    args = dict(args)
    if check:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            everest_oidc.main()
    return json.loads(capsys.readouterr().out)


def calls(fakes):
    return fakes["runner"].calls if "runner" in fakes else []


def test_same_settings_run_nothing_not_even_the_discovery_check(fakes, issuer, capsys):
    fakes["client"] = FakeClient(SEED % issuer.url)
    result = run({"issuer_url": issuer.url, "client_id": "everest", "scopes": ["email", "openid", "profile", "openid"]}, capsys)
    assert result["changed"] is False and result["restarted"] is False
    assert result["oidc"] == {"issuer_url": issuer.url, "client_id": "everest", "scopes": ["openid", "profile", "email"]}
    assert calls(fakes) == [] and issuer.paths == [] and "cmd" not in result
    assert not [w for w in warnings_of(result) if "OIDC" in w or "restart" in w]


def test_check_mode_reads_the_issuer_writes_nothing_and_shows_the_diff(fakes, issuer, capsys):
    fakes["client"] = FakeClient(SEED % issuer.url)
    before = copy.deepcopy(fakes["client"].obj)
    result = run({"issuer_url": issuer.url, "client_id": "everest", "require_groups_scope": True}, capsys, check=True, diff=True)
    assert result["changed"] is True and result["restarted"] is False
    assert calls(fakes) == [] and fakes["client"].obj == before
    assert issuer.paths == ["/realms/acme/.well-known/openid-configuration"]
    assert result["discovery"]["jwks_uri"] == issuer.url + "/protocol/openid-connect/certs"
    assert result["oidc"]["scopes"] == ["openid", "profile", "email", "groups"] and result["previous"]["scopes"] == ["openid", "profile", "email"]
    assert result["cmd"][1:7] == [
        "settings",
        "oidc",
        "configure",
        "--issuer-url=" + issuer.url,
        "--client-id=everest",
        "--scopes=openid,profile,email,groups",
    ]
    assert result["diff"]["after"].endswith("  - email\n  - groups\n") and "groups" not in result["diff"]["before"]
    assert any("restarts the Everest server" in w and "check mode" in w for w in warnings_of(result))


def test_a_change_runs_everestctl_once_warns_about_the_restart_and_reads_back(fakes, issuer, capsys):
    fakes["client"] = FakeClient(SEED % issuer.url)
    result = run({"issuer_url": issuer.url, "client_id": "everest-ui", "scopes": ["openid", "groups"]}, capsys, diff=True)
    assert result["changed"] is True and result["restarted"] is True, result
    assert calls(fakes) == [{"issuer_url": issuer.url, "client_id": "everest-ui", "scopes": ["openid", "groups"]}]
    assert result["oidc"] == {"issuer_url": issuer.url, "client_id": "everest-ui", "scopes": ["openid", "groups"]}
    assert any("restarts the Everest server (Deployment everest-system/everest-server" in w for w in warnings_of(result))
    assert "-clientId: everest\n" not in result["diff"]["after"] and "clientId: everest-ui" in result["diff"]["after"]
    # and the next run is a no-op
    again = run({"issuer_url": issuer.url, "client_id": "everest-ui", "scopes": ["groups", "openid"]}, capsys)
    assert again["changed"] is False and len(calls(fakes)) == 1


def test_oidc_off_or_no_configmap_is_a_change(fakes, issuer, capsys):
    for client in (FakeClient(None), FakeClient(exists=False)):
        fakes.pop("runner", None)
        fakes["client"] = client
        result = run({"issuer_url": issuer.url, "client_id": "everest"}, capsys, diff=True)
        assert result["changed"] is True and result["previous"] is None and result["diff"]["before"] == ""
        assert len(calls(fakes)) == 1


@pytest.mark.parametrize(
    "answer,expected",
    [
        (None, "Connection refused"),
        (lambda path: (404, {}, b"404 page not found\n"), "answered 404: 404 page not found"),
        (lambda path: (200, {}, b"<html>login</html>"), "not with JSON"),
        (lambda path: (200, {}, json.dumps({"issuer": "x"}).encode()), "without jwks_uri"),
        (lambda path: (200, {}, json.dumps({"issuer": "x", "jwks_uri": ""}).encode()), "without jwks_uri"),
    ],
)
def test_an_unusable_issuer_is_refused_before_anything_changes(fakes, issuer, capsys, answer, expected):
    fakes["client"] = FakeClient(SEED % "http://127.0.0.1:1/old")
    before = copy.deepcopy(fakes["client"].obj)
    url = issuer.url
    if answer is None:
        issuer.shutdown()
        issuer.server_close()
    else:
        issuer.answer = answer
    for check in (True, False):
        result = run({"issuer_url": url, "client_id": "everest"}, capsys, check=check)
        assert result["failed"] is True and expected in result["msg"], result["msg"]
        assert "Nothing was changed" in result["msg"] and "crash-loop" in result["msg"]
        assert result["url"] == url + "/.well-known/openid-configuration"
    assert calls(fakes) == [] and fakes["client"].obj == before


def test_redirects_are_followed_like_go(fakes, issuer, capsys):
    doc = json.dumps({"jwks_uri": "http://x/jwks"}).encode()
    issuer.answer = lambda path: (302, {"Location": "/moved/.well-known/openid-configuration"}, b"") if path.startswith("/realms/") else (200, {}, doc)
    fakes["client"] = FakeClient(None)
    result = run({"issuer_url": issuer.url, "client_id": "everest"}, capsys, check=True)
    assert result["changed"] and result["discovery"]["url"].endswith("/moved/.well-known/openid-configuration")
    assert issuer.paths == ["/realms/acme/.well-known/openid-configuration", "/moved/.well-known/openid-configuration"]


@pytest.mark.parametrize(
    "args,expected",
    [
        ({"scopes": ["profile", "email"]}, "must contain 'openid'"),
        ({"scopes": ["openid", "a,b"]}, "contains a comma"),
        ({"scopes": ["openid", "groups x"]}, "without white space"),
        ({"issuer_url": "ftp://idp.example.com"}, "must be an http(s) URL with a host"),
        ({"issuer_url": "idp.example.com/realms/acme"}, "must be an http(s) URL with a host"),
        ({"client_id": ""}, "client_id '' must be a non-empty value"),
        ({"client_id": "ever est"}, "without white space"),
    ],
)
def test_values_everestctl_would_refuse_or_prompt_for_fail_before_anything_is_read(fakes, capsys, args, expected):
    fakes["client"] = FakeClient(None)
    result = run(dict({"issuer_url": "https://idp.example.com/realms/acme", "client_id": "everest"}, **args), capsys)
    assert result["failed"] and expected in result["msg"], result["msg"]
    assert fakes["client"].gets == 0 and calls(fakes) == []


def test_other_settings_keys_that_everestctl_drops_are_named(fakes, issuer, capsys):
    fakes["client"] = FakeClient(SEED % issuer.url, extra={"custom.key": "x"})
    result = run({"issuer_url": issuer.url, "client_id": "another"}, capsys, check=True)
    assert any("its key(s) custom.key will be lost" in w for w in warnings_of(result))


def test_settings_everest_could_not_read_are_replaced_with_a_warning(fakes, issuer, capsys):
    fakes["client"] = FakeClient("issuerUrl: [unclosed\n")
    result = run({"issuer_url": issuer.url, "client_id": "everest"}, capsys)
    assert result["changed"] and result["previous"] is None and len(calls(fakes)) == 1
    assert any("cannot be read" in w for w in warnings_of(result))


def test_parse_config_reads_helm_and_yaml_v3_layouts_alike():
    helm = "clientId: c\nissuerUrl: https://i\nscopes:\n- openid\n- groups\n"
    yaml_v3 = "issuerUrl: https://i\nclientId: c\nscopes:\n    - openid\n    - groups\n"
    assert _oidc.parse_config(helm) == _oidc.parse_config(yaml_v3) == {"issuerUrl": "https://i", "clientId": "c", "scopes": ["openid", "groups"]}
    assert _oidc.parse_config("") is None and _oidc.parse_config(None) is None
    with pytest.raises(ValueError):
        _oidc.parse_config("- a list\n")
    assert _oidc.discovery_url("https://idp/realms/acme/") == "https://idp/realms/acme/.well-known/openid-configuration"
    assert _oidc.discovery_url("https://idp") == "https://idp/.well-known/openid-configuration"


def test_the_everestctl_shape_passes_every_value_as_flag_equals_value():
    runner = Everestctl("/usr/bin/everestctl", kubeconfig="/tmp/kc")
    argv = runner.preview("oidc_configure", issuer_url="https://idp/realms/acme", client_id="-weird", scopes=["openid", "groups"])
    assert argv == [
        "/usr/bin/everestctl",
        "settings",
        "oidc",
        "configure",
        "--issuer-url=https://idp/realms/acme",
        "--client-id=-weird",
        "--scopes=openid,groups",
        "--kubeconfig",
        "/tmp/kc",
    ]
    for values in (
        {"issuer_url": "", "client_id": "c", "scopes": ["openid"]},
        {"issuer_url": "https://i", "client_id": "c d", "scopes": ["openid"]},
        {"issuer_url": "https://i", "client_id": "c", "scopes": ["profile"]},
        {"issuer_url": "https://i", "client_id": "c", "scopes": ["openid", "a,b"]},
    ):
        with pytest.raises(ValidationError):
            runner.preview("oidc_configure", **values)
