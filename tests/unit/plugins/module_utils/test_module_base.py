"""EverestModule: no credential-bearing temporary file survives any ending; kubernetes.core environment fallbacks."""

import glob
import os
import tempfile

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.virakcloud.everest.plugins.module_utils import _k8s
from ansible_collections.virakcloud.everest.plugins.module_utils import _private_files
from ansible_collections.virakcloud.everest.plugins.module_utils._module import EverestModule

TOKEN = "tok-never-left-on-disk"


@pytest.fixture(params=["memfd", "tempfile"])
def private_tmp(request, tmp_path, monkeypatch):
    """Both ways of keeping a credential file: an anonymous memory file (Linux) and a 0600 temporary file."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    if request.param == "tempfile":
        monkeypatch.setattr(_private_files, "_memfd_available", lambda: False)
    return tmp_path


def leftovers(directory):
    return glob.glob(os.path.join(str(directory), "virakcloud-everest-*"))


def readable(path):
    try:
        with open(path) as handle:
            return TOKEN in handle.read()
    except (IOError, OSError):
        return False


def module_with_temp_kubeconfig():
    module = EverestModule(argument_spec={}, k8s=True, supports_check_mode=True)
    path = module.k8s.kubeconfig_path()
    assert readable(path)  # the file really holds the credential
    return module, path


@pytest.mark.parametrize("ending", ["fail_json", "fail_from", "exit_json"])
def test_every_ending_removes_the_temporary_kubeconfig(private_tmp, capsys, ending):
    with patch_module_args({"host": "https://127.0.0.1:9", "api_key": TOKEN}):
        module, path = module_with_temp_kubeconfig()
        # a memory file never touches the disk; a temporary file is the only one there
        assert leftovers(private_tmp) == ([] if path.startswith("/proc/self/fd/") else [path])
        with pytest.raises(SystemExit):
            if ending == "fail_json":
                module.fail_json(msg="a plain failure of a module")
            elif ending == "fail_from":
                from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError

                module.fail_from(EverestError("a typed failure"))
            else:
                module.exit_json(changed=False)
    assert leftovers(private_tmp) == [] and not readable(path)
    assert TOKEN not in capsys.readouterr().out


def test_temporary_files_are_removed_at_exit_whatever_ends_the_process(private_tmp):
    """A traceback (no fail_json at all) still runs the interpreter-exit backstop (_private_files.close_all)."""
    client = _k8s.client_from_params({"host": "https://127.0.0.1:9", "api_key": TOKEN})
    path = client.kubeconfig_path()
    assert readable(path)
    _private_files.close_all()
    assert not readable(path) and leftovers(private_tmp) == []
    client.close()
    assert leftovers(private_tmp) == []


ENV_CASES = [
    ("K8S_AUTH_KUBECONFIG", "/tmp/kc", "kubeconfig", "/tmp/kc"),
    ("K8S_AUTH_CONTEXT", "prod", "context", "prod"),
    ("K8S_AUTH_HOST", "https://k8s.example:6443", "host", "https://k8s.example:6443"),
    ("K8S_AUTH_API_KEY", TOKEN, "api_key", TOKEN),
    ("K8S_AUTH_VERIFY_SSL", "false", "validate_certs", False),
    ("K8S_AUTH_SSL_CA_CERT", "/tmp/ca.pem", "ca_cert", "/tmp/ca.pem"),
    ("K8S_AUTH_CERT_FILE", "/tmp/c.pem", "client_cert", "/tmp/c.pem"),
    ("K8S_AUTH_KEY_FILE", "/tmp/k.pem", "client_key", "/tmp/k.pem"),
    ("EVERESTCTL_PATH", "/opt/everestctl", "everestctl_path", "/opt/everestctl"),
]


@pytest.mark.parametrize("variable, value, option, expected", ENV_CASES)
def test_kubernetes_core_environment_fallbacks(monkeypatch, variable, value, option, expected):
    """Every connection option falls back to the kubernetes.core environment variable of the same meaning."""
    for other, _v, _o, _e in ENV_CASES:
        monkeypatch.delenv(other, raising=False)
    monkeypatch.setenv(variable, value)
    with patch_module_args({}):
        module = EverestModule(argument_spec={}, k8s=True, supports_check_mode=True)
    assert module.params[option] == expected
    others = [o for _v2, _x, o, _e2 in ENV_CASES if o != option]
    assert all(module.params[o] in (None, 900) for o in others if o != "everestctl_timeout")
    if option == "api_key":
        assert TOKEN in module.no_log_values  # a token from the environment is masked like one given as option


def test_an_explicit_option_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("K8S_AUTH_CONTEXT", "from-env")
    with patch_module_args({"context": "explicit"}):
        module = EverestModule(argument_spec={}, k8s=True, supports_check_mode=True)
    assert module.params["context"] == "explicit"
