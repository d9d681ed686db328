"""Integration tests of everest_account / everest_account_info: real ansible-playbook against the sandbox.

Between steps the tests read the sandbox directly: the accounts Secret through the Kubernetes API emulator,
the everestctl emulator's call log ($EVEREST_SANDBOX_CALL_LOG) and the emulator's own hashing code."""

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ansible_collections.virakcloud.everest.plugins.module_utils import _accounts
from everest_sandbox import DEFAULT_ADMIN_PASSWORD
from everest_sandbox.everestctl import accounts as emu_accounts
from everest_sandbox.everestctl import yamlv2 as emu_yaml

pytestmark = pytest.mark.integration

SECRET = "/api/v1/namespaces/everest-system/secrets/everest-accounts"
PLAYBOOK = "accounts/account.yml"
INFO = "accounts/info.yml"
HERE = Path(__file__).resolve().parent
CONFLICT_TEXT = "the object has been modified"  # Kubernetes' 409 Conflict message, passed through by everestctl (reference §1.4)


def raw_password_hash(secret, username):
    """The stored passwordHash bytes of ``username``, read straight from the Secret's users.yaml text.

    Independent of both the module's parser and the emulator's: base64-decode the Secret data, cut out the user's
    block of the yaml.v2 text by indentation, decode ``!!binary`` with base64 (any other form with a YAML scalar load)."""
    text = base64.b64decode(secret["data"]["users.yaml"]).decode("utf-8", "surrogateescape")
    block = re.search(r"^%s:\n((?:[ -].*\n?)*)" % re.escape(username), text, re.M)
    assert block, "no block for %s in users.yaml:\n%s" % (username, text)
    value = re.search(r"^\s+passwordHash:\s*(.*)$", block.group(1), re.M)
    assert value, block.group(1)
    raw = value.group(1).strip()
    if raw.startswith("!!binary"):
        return base64.b64decode(raw[len("!!binary") :].strip())
    return str(yaml.safe_load(raw)).encode("utf-8", "surrogateescape")


def stderr_recording_everestctl(tmp_path, real, log):
    """An everestctl wrapper that runs the sandbox's everestctl and appends {cmd, rc, stderr} to ``log`` (the
    emulator's call log has argv and rc only). Subcommand names and stderr only: no argument, so no password."""
    wrapper = tmp_path / "everestctl-recording"
    wrapper.write_text(
        """#!%(python)s
import json, os, subprocess, sys
proc = subprocess.run([%(real)r] + sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
sys.stdout.buffer.write(proc.stdout)
sys.stdout.flush()
sys.stderr.buffer.write(proc.stderr)
sys.stderr.flush()
record = {"cmd": sys.argv[1:3], "rc": proc.returncode, "stderr": proc.stderr.decode("utf-8", "replace")}
fd = os.open(%(log)r, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
os.write(fd, (json.dumps(record) + "\\n").encode())
os.close(fd)
sys.exit(proc.returncode)
"""
        % {"python": sys.executable, "real": str(real), "log": str(log)}
    )
    wrapper.chmod(0o755)
    return wrapper


class Sandbox:
    """The sandbox handle plus: everestctl invocations since a mark, the Secret as the emulator parses it."""

    def __init__(self, handle):
        self.handle = handle
        self.env = handle.env
        self.log = Path(handle.call_log)
        self.mark = 0

    def get(self, path):
        status, obj = self.handle.request("GET", path)
        return obj if status == 200 else None

    def faults(self, **cfg):
        self.handle.faults(**cfg)

    def stats(self):
        return self.handle.stats()

    def reset_stats(self):
        self.handle.reset_stats()

    def _lines(self):
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def begin(self):
        """Start counting everestctl invocations from now."""
        self.mark = len(self._lines())

    def calls(self):
        """everestctl invocations since ``begin()``."""
        return self._lines()[self.mark :]

    def users(self):
        """users.yaml as the everestctl emulator parses it (its own yaml.v2 reader)."""
        secret = self.get(SECRET)
        text = base64.b64decode(secret["data"]["users.yaml"]).decode("utf-8", "surrogateescape")
        return emu_yaml.load_users(text), (secret["metadata"].get("annotations") or {})

    def salt(self):
        return self.get("/api/v1/namespaces/everest-system")["metadata"]["uid"]

    def emulator_verifies(self, username, password):
        """Everest's verification (reference §3) done with the emulator's code: plain if annotated, else its hash."""
        users, annotations = self.users()
        stored = users[username]["passwordHash"]
        stored = stored if isinstance(stored, bytes) else str(stored).encode("utf-8", "surrogateescape")
        if "insecure-password/" + username in annotations:
            return stored == password.encode()
        return stored == emu_accounts.hash_password(password, self.salt())

    def everestctl(self, *args):
        argv = [self.env["EVERESTCTL_PATH"], *args, "--kubeconfig", self.env["KUBECONFIG"]]
        env = dict(os.environ, **self.env)
        return subprocess.run(argv, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120, check=False)


@pytest.fixture
def sbx(clean_sandbox):
    box = Sandbox(clean_sandbox)
    box.begin()
    yield box
    clean_sandbox.clear_faults()


def account(ansible, sbx, check=False, diff=False, verbosity=0, **kw):
    sbx.begin()
    run = ansible.playbook(PLAYBOOK, extra_vars=dict(("account_" + k, v) for k, v in kw.items()), check=check, diff=diff, verbosity=verbosity)
    return run


def test_account_lifecycle(ansible, sbx):
    # create in check mode: changed, nothing written, nothing run
    run = account(ansible, sbx, check=True, diff=True, username="acme_admin", password="Acme-pass-1")
    res = run.result("Account")
    assert run.rc == 0 and res["changed"] is True
    assert res["account"]["exists"] is True and res["diff"]["after"]["password"] == "<changed>"
    assert sbx.calls() == [] and "acme_admin" not in sbx.users()[0]

    # create
    run = account(ansible, sbx, username="acme_admin", password="Acme-pass-1")
    res = run.result("Account")
    assert run.rc == 0 and res["changed"] is True
    assert [c["argv"][:2] for c in sbx.calls()] == [["accounts", "create"]]
    assert res["account"]["enabled"] is True and res["account"]["capabilities"] == ["login"]
    assert res["account"]["password_mtime"] and res["account"]["plain_text_password"] is False
    assert "********" in res["cmd"] and "Acme-pass-1" not in json.dumps(res)
    assert sbx.emulator_verifies("acme_admin", "Acme-pass-1")

    # re-run: no change and zero everestctl invocations; only the Secret is read (the salt, the UID of everest-system,
    # comes from the host cache the create run filled, keyed by the Secret's UID)
    sbx.reset_stats()
    run = account(ansible, sbx, username="acme_admin", password="Acme-pass-1")
    assert run.rc == 0 and run.result("Account")["changed"] is False and "cmd" not in run.result("Account")
    assert sbx.calls() == []
    stats = sbx.stats()
    by_resource = stats["by_resource"]
    assert by_resource["secrets"]["get"] == 1 and sum(by_resource["secrets"].values()) == 1
    assert sum(by_resource.get("namespaces", {}).values()) == 0 and stats["total"] == 1

    # modify the password with diff
    run = account(ansible, sbx, diff=True, username="acme_admin", password="Acme-pass-2")
    res = run.result("Account")
    assert run.rc == 0 and res["changed"] is True
    assert res["diff"]["before"]["password"] == "<unchanged>" and res["diff"]["after"]["password"] == "<changed>"
    assert [c["argv"][:2] for c in sbx.calls()] == [["accounts", "set-password"]]
    assert sbx.emulator_verifies("acme_admin", "Acme-pass-2") and not sbx.emulator_verifies("acme_admin", "Acme-pass-1")

    # on_create leaves an existing password alone
    run = account(ansible, sbx, username="acme_admin", password="Acme-pass-3", update_password="on_create")
    assert run.result("Account")["changed"] is False and sbx.calls() == []

    # delete (check mode first), delete, delete again
    run = account(ansible, sbx, check=True, username="acme_admin", state="absent")
    assert run.result("Account")["changed"] is True and sbx.calls() == [] and "acme_admin" in sbx.users()[0]
    run = account(ansible, sbx, username="acme_admin", state="absent")
    assert run.result("Account")["changed"] is True and run.result("Account")["account"]["exists"] is False
    assert [c["argv"][:2] for c in sbx.calls()] == [["accounts", "delete"]] and "acme_admin" not in sbx.users()[0]
    run = account(ansible, sbx, username="acme_admin", state="absent")
    assert run.rc == 0 and run.result("Account")["changed"] is False and sbx.calls() == []


def test_emulator_created_account_verifies_with_module(ansible, sbx):
    proc = sbx.everestctl("accounts", "create", "-u", "cli_made", "-p", "Cli-made-pw1")
    assert proc.returncode == 0, proc.stderr
    # the module's hash function reproduces the bytes the emulator stored (read raw from the Secret, no module parser)
    salt = sbx.salt()
    stored = raw_password_hash(sbx.get(SECRET), "cli_made")
    assert len(stored) == 32 and _accounts.hash_password("Cli-made-pw1", salt) == stored
    assert _accounts.hash_password("Cli-made-pw2", salt) != stored
    run = account(ansible, sbx, username="cli_made", password="Cli-made-pw1")
    assert run.rc == 0 and run.result("Account")["changed"] is False and sbx.calls() == []
    run = account(ansible, sbx, username="cli_made", password="Cli-made-pw2")
    assert run.result("Account")["changed"] is True
    assert sbx.emulator_verifies("cli_made", "Cli-made-pw2")
    assert _accounts.hash_password("Cli-made-pw2", salt) == raw_password_hash(sbx.get(SECRET), "cli_made")
    info = ansible.playbook(INFO, extra_vars={"info_username": "cli_made"})
    accounts = info.result("Accounts info")["accounts"]
    assert info.rc == 0 and [a["username"] for a in accounts] == ["cli_made"] and accounts[0]["plain_text_password"] is False


def test_plain_text_admin(ansible, sbx):
    info = ansible.playbook(INFO, check=True)
    admin = [a for a in info.result("Accounts info")["accounts"] if a["username"] == "admin"][0]
    assert admin["plain_text_password"] is True and admin["password_mtime"] is None
    assert DEFAULT_ADMIN_PASSWORD not in info.output

    run = account(ansible, sbx, username="admin", password=DEFAULT_ADMIN_PASSWORD)
    assert run.rc == 0 and run.result("Account")["changed"] is False and sbx.calls() == []
    run = account(ansible, sbx, username="admin", password="New-admin-pw1")
    res = run.result("Account")
    assert res["changed"] is True and res["account"]["plain_text_password"] is False
    users, annotations = sbx.users()
    assert "insecure-password/admin" not in annotations and sbx.emulator_verifies("admin", "New-admin-pw1")
    run = account(ansible, sbx, username="admin", password="New-admin-pw1")
    assert run.result("Account")["changed"] is False and sbx.calls() == []


BAD_ACCOUNTS = [
    ({"username": "no-dashes", "password": "Valid-pw1"}, "letters, numbers, underscores"),
    ({"username": "ab", "password": "Valid-pw1"}, "at least 3 characters"),
    ({"username": "fine_name", "password": "spaces are bad"}, "specific special characters"),
    ({"username": "fine_name", "password": "short"}, "at least 6 characters"),
    ({"username": "admin", "state": "absent"}, "allow_admin_removal"),
]


def test_bad_input_fails_before_any_command(ansible, sbx):
    before = sbx.get(SECRET)["metadata"]["resourceVersion"]
    sbx.reset_stats()
    run = ansible.playbook("accounts/bad_input.yml", extra_vars={"bad_cases": [case for case, _needle in BAD_ACCOUNTS]})
    assert sbx.stats()["total"] == 0  # not even a read: every case is refused before the module touches the API
    items = run.result("Bad input")["results"]
    assert run.rc == 0 and len(items) == len(BAD_ACCOUNTS)
    for item, (case, needle) in zip(items, BAD_ACCOUNTS):
        assert item["failed"] is True and needle in item["msg"], (case, item["msg"])
    assert sbx.calls() == []
    assert sbx.get(SECRET)["metadata"]["resourceVersion"] == before
    # (no output check here: Ansible itself echoes loop items; test_no_password_in_vvvv_output covers masking)
    for item in items:
        assert "spaces are bad" not in item["msg"] and "Valid-pw1" not in item["msg"]


def test_admin_removal_allowed_explicitly(ansible, sbx):
    run = account(ansible, sbx, username="admin", state="absent", allow_admin_removal=True)
    assert run.rc == 0 and run.result("Account")["changed"] is True and "admin" not in sbx.users()[0]


def test_parallel_creation_with_forced_conflicts(ansible, sbx, tmp_path):
    stderr_log = tmp_path / "everestctl-stderr.jsonl"
    wrapper = stderr_recording_everestctl(tmp_path, sbx.env["EVERESTCTL_PATH"], stderr_log)
    sbx.faults(conflict_rate=0.3, seed=11)
    sbx.begin()
    sbx.reset_stats()
    run = ansible.playbook(
        "accounts/parallel.yml", forks=20, inventory=HERE / "playbooks" / "accounts" / "parallel_inventory.yml", env={"EVERESTCTL_PATH": str(wrapper)}
    )
    secret_writes = sbx.stats()["by_resource"]["secrets"]["update"]
    assert run.rc == 0, run.output[-3000:]
    assert run.total("failures") == 0 and run.total("unreachable") == 0
    assert len(run.stats) == 20 and all(s["changed"] == 1 for s in run.stats.values())
    # the 409s really happened: failed `accounts create` runs whose stderr is Kubernetes' conflict text ...
    records = [json.loads(line) for line in stderr_log.read_text().splitlines() if line.strip()]
    creates = [r for r in records if r["cmd"] == ["accounts", "create"]]
    conflicts = [r for r in creates if r["rc"] != 0]
    assert conflicts, "the sandbox was expected to force some 409 conflicts"
    for record in conflicts:
        assert CONFLICT_TEXT in record["stderr"] and "everest-accounts" in record["stderr"], record
    # ... every other create succeeded once per account, the emulator's own call log agrees ...
    assert len(creates) - len(conflicts) == 20
    logged = [c for c in sbx.calls() if c["argv"][:2] == ["accounts", "create"]]
    assert len(logged) == len(creates) and sum(1 for c in logged if c["rc"] != 0) == len(conflicts)
    # ... and the API answered one Secret PUT per create run: 20 accepted plus the refused (409) ones
    assert secret_writes == len(creates)
    sbx.faults()
    users = sbx.users()[0]
    for i in range(20):
        assert "par_tenant_%02d" % i in users
        assert sbx.emulator_verifies("par_tenant_%02d" % i, "Par-pass-%02d!x" % i)
    # a second run is silent: zero everestctl invocations
    sbx.begin()
    again = ansible.playbook("accounts/parallel.yml", forks=20, inventory=HERE / "playbooks" / "accounts" / "parallel_inventory.yml")
    assert again.rc == 0 and again.total("changed") == 0 and sbx.calls() == []


def test_batch_form(ansible, sbx):
    items = [
        {"username": "batch_a", "password": "Batch-a-pw"},
        {"username": "batch_b", "password": "Batch-b-pw"},
        {"username": "admin", "password": DEFAULT_ADMIN_PASSWORD},
    ]
    run = account(ansible, sbx, diff=True, items=items)
    res = run.result("Account")
    assert run.rc == 0 and res["changed"] is True
    assert [r["changed"] for r in res["results"]] == [True, True, False]
    assert len(sbx.calls()) == 2
    assert sorted(d["after_header"] for d in res["diff"]) == ["account admin (after)", "account batch_a (after)", "account batch_b (after)"]
    sbx.reset_stats()
    run = account(ansible, sbx, items=items)
    assert run.result("Account")["changed"] is False and sbx.calls() == []
    assert sbx.stats()["by_resource"]["secrets"]["get"] == 1
    bad = account(ansible, sbx, items=[{"username": "batch_a", "state": "absent"}, {"username": "x!", "password": "Batch-a-pw"}])
    assert bad.rc != 0 and "x!" in bad.result("Account")["msg"] and sbx.calls() == []
    for secret in ("Batch-a-pw", "Batch-b-pw", DEFAULT_ADMIN_PASSWORD):
        assert secret not in run.output and secret not in bad.output


def test_no_password_in_vvvv_output(ansible, sbx):
    secrets = ["Vvvv-first-pw1", "Vvvv-second-pw2"]
    outputs = []
    for password in secrets:
        run = account(ansible, sbx, verbosity=4, diff=True, username="vvvv_user", password=password)
        assert run.rc == 0 and run.result("Account")["changed"] is True
        outputs.append(run.output)
    batch = account(ansible, sbx, verbosity=4, diff=True, items=[{"username": "vvvv_two", "password": "Vvvv-batch-pw3"}])
    assert batch.rc == 0
    outputs.append(batch.output)
    secrets.append("Vvvv-batch-pw3")
    failing = account(ansible, sbx, verbosity=4, username="vvvv_user", password="Vvvv-bad pw4")
    assert failing.rc != 0
    outputs.append(failing.output)
    secrets.append("Vvvv-bad pw4")
    text = "\n".join(outputs) + sbx.log.read_text()
    assert "ESTABLISH LOCAL CONNECTION" in text  # really -vvvv
    for secret in secrets:
        assert secret not in text
    # nor the derived hash
    salt = sbx.salt()
    for secret in secrets[:3]:
        assert base64.b64encode(emu_accounts.hash_password(secret, salt)).decode() not in text


def test_parallel_deletes_do_not_lose_concurrent_creates(ansible, sbx):
    for i in range(10):
        proc = sbx.everestctl("accounts", "create", "-u", "old_tenant_%02d" % i, "-p", "Old-pass-%02d" % i)
        assert proc.returncode == 0, proc.stderr
    sbx.faults(conflict_rate=0.2, seed=5)
    sbx.begin()
    run = ansible.playbook("accounts/parallel.yml", forks=20, inventory=HERE / "playbooks" / "accounts" / "mixed_inventory.yml")
    assert run.rc == 0, run.output[-3000:]
    assert run.total("failures") == 0 and len(run.stats) == 20
    sbx.faults()
    users = sbx.users()[0]
    for i in range(10):
        assert "old_tenant_%02d" % i not in users
        assert sbx.emulator_verifies("new_tenant_%02d" % i, "New-pass-%02d" % i)
    # the cluster lock (a Lease) serialised the 20 writers: no two account commands overlapped, and it was released
    spans = sorted((call["ts"], call["ts"] + call["duration_s"]) for call in sbx.calls() if call["argv"][0] == "accounts")
    assert len(spans) >= 20
    assert all(end <= next_start for (_start, end), (next_start, _end) in zip(spans, spans[1:]))
    leases = sbx.get("/apis/coordination.k8s.io/v1/namespaces/everest-system/leases")
    assert leases["items"] == []


def test_transient_api_errors_are_retried(ansible, sbx):
    run = account(ansible, sbx, username="flaky_user", password="Flaky-pw1")
    assert run.rc == 0 and run.result("Account")["changed"] is True
    # GETs of a no-op run without faults, measured rather than assumed
    sbx.reset_stats()
    run = account(ansible, sbx, username="flaky_user", password="Flaky-pw1")
    assert run.rc == 0 and run.result("Account")["changed"] is False
    gets_per_run = sbx.stats()["by_verb"]["get"]
    assert gets_per_run >= 1
    sbx.faults(error_rate={"get": 0.4}, seed=3, retry_after_s=0)
    sbx.reset_stats()
    for _attempt in range(2):
        run = account(ansible, sbx, username="flaky_user", password="Flaky-pw1")
        assert run.rc == 0, run.output[-2000:]
        assert run.result("Account")["changed"] is False and sbx.calls() == []
    # more GETs than two clean runs make means injected 5xx/429 answers were retried
    assert sbx.stats()["by_verb"]["get"] > 2 * gets_per_run
