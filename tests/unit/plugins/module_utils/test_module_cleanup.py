"""EverestModule never leaves a credential-bearing temporary file behind, whichever way the module ends."""

import atexit
import glob
import os
import tempfile

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.virakcloud.everest.plugins.module_utils import _k8s
from ansible_collections.virakcloud.everest.plugins.module_utils._module import EverestModule

TOKEN = "tok-never-left-on-disk"


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def leftovers(directory):
    return glob.glob(os.path.join(str(directory), "virakcloud-everest-*"))


def module_with_temp_kubeconfig():
    module = EverestModule(argument_spec={}, k8s=True, supports_check_mode=True)
    path = module.k8s.kubeconfig_path()
    with open(path) as handle:
        assert TOKEN in handle.read()  # the file really holds the credential
    return module, path


@pytest.mark.parametrize("ending", ["fail_json", "fail_from", "exit_json"])
def test_every_ending_removes_the_temporary_kubeconfig(private_tmp, capsys, ending):
    with patch_module_args({"host": "https://127.0.0.1:9", "api_key": TOKEN}):
        module, path = module_with_temp_kubeconfig()
        assert leftovers(private_tmp) == [path]
        with pytest.raises(SystemExit):
            if ending == "fail_json":
                module.fail_json(msg="a plain failure of a module")
            elif ending == "fail_from":
                from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError
                module.fail_from(EverestError("a typed failure"))
            else:
                module.exit_json(changed=False)
    assert leftovers(private_tmp) == []
    assert TOKEN not in capsys.readouterr().out


def test_temporary_files_are_removed_at_exit_whatever_ends_the_process(private_tmp, monkeypatch):
    """A traceback (no fail_json at all) still runs the atexit backstop registered with the first file."""
    registered = []
    monkeypatch.setattr(atexit, "register", registered.append)
    client = _k8s.client_from_params({"host": "https://127.0.0.1:9", "api_key": TOKEN})
    path = client.kubeconfig_path()
    assert os.path.exists(path) and len(registered) == 1
    registered[0]()
    assert not os.path.exists(path) and leftovers(private_tmp) == []
    # the client can still make a new one afterwards (the path is not reused after removal)
    again = client.kubeconfig_path()
    assert again != path or os.path.exists(again)
    client.close()
    assert leftovers(private_tmp) == []
