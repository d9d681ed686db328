"""Kill tests (issue #13): a module killed (SIGTERM or SIGKILL) while everestctl runs leaves no everestctl running, no
credential file behind, and no Lease held for good; the next run converges.

The module is run the way Ansible runs it on the controller (a python process executing the module with its
arguments file), with the connection given as host + api_key, so everestctl gets a private kubeconfig holding the
token. A slow everestctl comes from the sandbox's latency knobs (EVEREST_SANDBOX_NS_DELAY_S, and the accounts knob).
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LEASE = "/apis/coordination.k8s.io/v1/namespaces/everest-system/leases/virakcloud-everest-accounts"
DEADLINE = 120  # seconds any wait below may take at most (a bound on a hung test, never asserted as a duration)

pytestmark = pytest.mark.integration


def children_of(pid):
    """PIDs whose parent is ``pid`` (from /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(entry))
    return out


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(predicate, what):
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for %s" % what)


def start_module(sandbox, tmp_path, module, args, env):
    args = dict(args, host=sandbox.url, api_key=sandbox.token, everestctl_path=sandbox.everestctl)
    args_file = tmp_path / ("%s-args.json" % module)
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir(exist_ok=True)
    full_env = dict(
        os.environ,
        PYTHONPATH=str(REPO / ".venv" / "collections"),
        TMPDIR=str(tmpdir),
        XDG_CACHE_HOME=str(tmp_path / "xdg"),
        EVEREST_SANDBOX_CALL_LOG=sandbox.call_log,
        **env,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "ansible_collections.virakcloud.everest.plugins.modules." + module, str(args_file)],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    return proc, tmpdir


def everestctl_child(proc, verb):
    def find():
        for pid in children_of(proc.pid):
            if "everestctl" in cmdline(pid) and verb in cmdline(pid):
                return pid
        return None

    return wait_for(find, "everestctl %s to start" % verb)


def assert_clean(tmpdir, child):
    wait_for(lambda: not alive(child), "everestctl (pid %d) to die with its module" % child)
    assert [p.name for p in tmpdir.iterdir() if p.name.startswith("virakcloud-everest-")] == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_killed_namespace_add_leaves_nothing_running_and_resumes(clean_sandbox, tmp_path, sig):
    sandbox = clean_sandbox
    args = {"name": "ns-killed", "operators": {"postgresql": True}, "tenant": "killed"}
    proc, tmpdir = start_module(sandbox, tmp_path, "everest_namespace", args, {"EVEREST_SANDBOX_NS_DELAY_S": "600"})
    child = everestctl_child(proc, "namespaces add")
    proc.send_signal(sig)
    out, _err = proc.communicate(timeout=DEADLINE)
    assert_clean(tmpdir, child)
    if sig == signal.SIGTERM:
        result = json.loads(out)
        assert result["failed"] and "interrupted by signal 15" in result["msg"] and sandbox.token not in out.decode()
    # the namespace was claimed for the tenant before everestctl ran; the next run resumes the interrupted add
    status, namespace = sandbox.request("GET", "/api/v1/namespaces/ns-killed")
    assert status == 200 and namespace["metadata"]["labels"]["virakcloud.everest/tenant"] == "killed"
    again, _tmp = start_module(sandbox, tmp_path, "everest_namespace", args, {})
    out, err = again.communicate(timeout=DEADLINE)
    result = json.loads(out)
    assert again.returncode == 0 and result["namespace"]["managed"] is True, (out, err)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_killed_account_write_gives_the_lease_back_or_lets_it_expire(clean_sandbox, tmp_path, sig):
    sandbox = clean_sandbox
    args = {"username": "killed_user", "password": "Killed@pass1", "tenant": "killed"}
    proc, tmpdir = start_module(sandbox, tmp_path, "everest_account", args, {"EVEREST_SANDBOX_LATENCY_ACCOUNTS_S": "600"})
    child = everestctl_child(proc, "accounts create")
    status, lease = sandbox.request("GET", LEASE)
    assert status == 200 and lease["spec"]["holderIdentity"]
    proc.send_signal(sig)
    out, _err = proc.communicate(timeout=DEADLINE)
    assert_clean(tmpdir, child)
    assert b"Killed@pass1" not in out
    status, _lease = sandbox.request("GET", LEASE)
    if sig == signal.SIGTERM:
        assert status == 404  # released by the signal handler
    else:
        assert status == 200  # nobody renews it any more: the next writer takes it over once it expired
    again, _tmp = start_module(sandbox, tmp_path, "everest_account", args, {})
    out, err = again.communicate(timeout=DEADLINE)
    result = json.loads(out)
    assert again.returncode == 0 and result["account"]["exists"] is True, (out, err)
    assert sandbox.request("GET", LEASE)[0] == 404
