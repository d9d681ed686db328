"""The collection's own Python requirements: lower bounds (tested minimums), kubernetes only for legacy auth-providers.

requirements.txt is what ansible-builder installs into any execution environment that contains the collection
(meta/execution-environment.yml); the repository's test pins are test-requirements.txt. The minimums were measured by
running the unit tests of the Kubernetes client, the accounts parser, the CRD and this file in a throwaway venv with
exactly those versions (docs/awx.md, "Python dependencies").
"""

import base64
import json
import re
import sys
import time
from pathlib import Path

import pytest
import yaml

from ansible_collections.virakcloud.everest.plugins.module_utils import _errors, _k8s

REPO = Path(__file__).resolve().parents[2]
MINIMUMS = {"pyyaml": "5.4.1"}
LEGACY_AUTH_MINIMUM = "24.2.0"


def requirements(path):
    out = {}
    for line in (REPO / path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            match = re.match(r"^([A-Za-z0-9_.-]+)\s*(==|>=)\s*([0-9][0-9.]*)$", line)
            assert match, line
            out[match.group(1).lower()] = (match.group(2), match.group(3))
    return out


def version_tuple(text):
    return tuple(int(part) for part in text.split("."))


def test_requirements_are_lower_bounds_without_kubernetes():
    reqs = requirements("requirements.txt")
    assert reqs == dict((name, (">=", version)) for name, version in MINIMUMS.items())
    legacy = requirements("requirements-legacy-auth.txt")
    assert legacy == {"kubernetes": (">=", LEGACY_AUTH_MINIMUM)}
    # the repository's test pins are unchanged, and satisfy the bounds
    pins = requirements("test-requirements.txt")
    assert pins["pyyaml"] == ("==", "6.0.3") and pins["kubernetes"] == ("==", "37.0.2")
    for name, (_op, minimum) in list(reqs.items()) + list(legacy.items()):
        assert version_tuple(pins[name][1]) >= version_tuple(minimum), name


def test_execution_environment_metadata_names_kubernetes_only_for_legacy_auth():
    meta = yaml.safe_load((REPO / "meta" / "execution-environment.yml").read_text())
    assert meta["dependencies"]["python"] == "requirements.txt"
    text = (REPO / "meta" / "execution-environment.yml").read_text()
    assert "requirements-legacy-auth.txt" in text and "auth-provider" in text
    ee = yaml.safe_load((REPO / "execution-environment.yml").read_text())
    assert ee["dependencies"]["python"] == "requirements.txt"


def _b64json(data):
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _jwt(claims):
    return "%s.%s.sig" % (_b64json({"alg": "RS256", "typ": "JWT"}), _b64json(claims))


def _auth_provider_kubeconfig(tmp_path, id_token):
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "legacy",
        "clusters": [{"name": "c", "cluster": {"server": "https://k8s.example.test:6443"}}],
        "contexts": [{"name": "legacy", "context": {"cluster": "c", "user": "u"}}],
        "users": [
            {
                "name": "u",
                "user": {
                    "auth-provider": {"name": "oidc", "config": {"client-id": "kubernetes", "idp-issuer-url": "https://idp.example.test", "id-token": id_token}}
                },
            }
        ],
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_legacy_auth_provider_token_comes_from_the_kubernetes_library(tmp_path):
    pytest.importorskip("kubernetes")
    token = _jwt({"iss": "https://idp.example.test", "sub": "ci", "aud": "kubernetes", "exp": int(time.time()) + 3600})
    cfg = _k8s.load_config({"kubeconfig": _auth_provider_kubeconfig(tmp_path, token)})
    assert cfg.token == token and token in cfg.secrets
    assert cfg.server == "https://k8s.example.test:6443"


def test_legacy_auth_provider_without_kubernetes_names_the_requirement(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "kubernetes", None)
    with pytest.raises(_errors.MissingDependencyError) as raised:
        _k8s.load_config({"kubeconfig": _auth_provider_kubeconfig(tmp_path, _jwt({"exp": int(time.time()) + 3600}))})
    assert "pip install kubernetes" in str(raised.value) and "exec credential plugin" in str(raised.value)


def test_token_kubeconfig_needs_no_kubernetes(tmp_path, monkeypatch):
    """The everyday path (a ServiceAccount token, as files/rbac/ documents) never imports the library."""
    monkeypatch.setitem(sys.modules, "kubernetes", None)
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "sa",
                "clusters": [{"name": "c", "cluster": {"server": "https://k8s.example.test:6443"}}],
                "contexts": [{"name": "sa", "context": {"cluster": "c", "user": "everest-automation"}}],
                "users": [{"name": "everest-automation", "user": {"token": "eyJ.token.sig"}}],
            }
        )
    )
    assert _k8s.load_config({"kubeconfig": str(path)}).token == "eyJ.token.sig"
