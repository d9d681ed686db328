"""Unit tests of the virakcloud.everest.audit callback with fake task results (no ansible-playbook run).

The integration test (tests/integration/test_audit.py) runs the callback inside real ansible-playbook runs.
"""

import json
import multiprocessing
import os
import re
import stat
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[4]
if str(REPO / ".venv" / "collections") not in sys.path:  # tests/conftest.py normally does this
    sys.path.insert(0, str(REPO / ".venv" / "collections"))

from ansible import constants as C  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.virakcloud.everest.plugins.callback import audit  # noqa: E402  pylint: disable=wrong-import-position

SECRET = "S3cr3t-Pa55word!"
MASK = "********"


class FakeHost:
    def __init__(self, name):
        self.name = name

    def get_name(self):
        return self.name


class FakeTask:
    def __init__(self, action, args=None, name=None, no_log=False, check_mode=False, collections=None, resolved=None):
        self.action = action
        self.args = args or {}
        self.name = name or action
        self.no_log = no_log
        self.check_mode = check_mode
        self.collections = collections or []
        self._resolved = resolved

    @property
    def resolved_action(self):
        if self._resolved is not None:
            return self._resolved
        return self.action if "." in self.action else "ansible.legacy." + self.action

    def get_name(self):
        return self.name


class FakeResult:
    """Shape of ansible-core 2.19's CallbackTaskResult (task/host/result properties)."""

    def __init__(self, task, result, host="acme"):
        self.task = task
        self.host = FakeHost(host)
        self.result = result


class LegacyResult:
    """Shape of the pre-2.19 TaskResult (underscore attributes only)."""

    def __init__(self, task, result, host="acme"):
        self._task = task
        self._host = FakeHost(host)
        self._result = result


class FakeDisplay:
    verbosity = 0

    def __init__(self):
        self.warnings = []

    def warning(self, msg, *args, **kwargs):  # pylint: disable=unused-argument
        self.warnings.append(msg)

    def __getattr__(self, name):
        return lambda *a, **k: None


def make_callback(tmp_path, **options):
    display = FakeDisplay()
    callback = audit.CallbackModule(display=display)
    callback._load_name = "virakcloud.everest.audit"  # what the plugin loader sets
    defs = yaml.safe_load(audit.DOCUMENTATION)["options"]
    C.config.initialize_plugin_configuration_definitions("callback", callback._load_name, defs)
    direct = {"path": str(tmp_path / "audit" / "audit.jsonl")}
    direct.update(options)
    callback.set_options(direct=direct)
    callback.user = "operator"
    return callback


def lines(path):
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def account_task(**kwargs):
    args = {"username": "acme_admin", "password": SECRET, "state": "present"}
    return FakeTask("virakcloud.everest.everest_account", args=args, name="Create the account", **kwargs)


def account_result(changed=True):
    return {
        "changed": changed,
        "account": {"username": "acme_admin", "exists": True, "enabled": True, "capabilities": ["login"]},
        "cmd": ["everestctl", "accounts", "create", "-u", "acme_admin", "-p", MASK, "--kubeconfig", "/tmp/kc"],
        "invocation": {"module_args": {"username": "acme_admin", "password": SECRET}},
        "diff": {"before": {"exists": False, "password": "<unchanged>"}, "after": {"exists": True, "password": "<changed>"}},
    }


@pytest.fixture(autouse=True)
def _no_awx_env(monkeypatch):
    for var in ("JOB_ID", "AWX_JOB_ID", "EVEREST_AUDIT_LOG", "EVEREST_AUDIT_MAX_BYTES", "EVEREST_AUDIT_BACKUP_COUNT", "EVEREST_AUDIT_LOG_CHECK_MODE"):
        monkeypatch.delenv(var, raising=False)


def test_changed_task_is_recorded_without_secrets(tmp_path):
    callback = make_callback(tmp_path)
    callback.v2_playbook_on_start(type("PB", (), {"_file_name": "/x/playbooks/bootstrap.yml"})())
    callback.v2_runner_on_ok(FakeResult(account_task(), account_result()))
    path = tmp_path / "audit" / "audit.jsonl"
    raw = path.read_text()
    assert SECRET not in raw
    assert "module_args" not in raw and "invocation" not in raw
    (record,) = lines(path)
    assert record["module"] == "virakcloud.everest.everest_account"
    assert record["host"] == "acme"
    assert record["username"] == "acme_admin"
    assert record["playbook"] == "bootstrap.yml"
    assert record["task"] == "Create the account"
    assert record["changed"] is True and record["failed"] is False
    assert record["user"] == "operator"
    assert record["awx_job_id"] is None
    assert record["cmd"] == ["everestctl", "accounts", "create", "-u", "acme_admin", "-p", MASK, "--kubeconfig", "/tmp/kc"]
    assert record["diff"] == "changed keys: exists, password"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", record["ts"])
    assert "<changed>" not in raw  # diff values are never copied, only key names


def test_file_and_directory_modes(tmp_path):
    callback = make_callback(tmp_path)
    callback.v2_runner_on_ok(FakeResult(account_task(), account_result()))
    path = tmp_path / "audit" / "audit.jsonl"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_unchanged_skipped_and_foreign_tasks_are_not_recorded(tmp_path):
    callback = make_callback(tmp_path)
    callback.v2_runner_on_ok(FakeResult(account_task(), account_result(changed=False)))
    callback.v2_runner_on_skipped(FakeResult(account_task(), {"skipped": True, "changed": False}))
    callback.v2_runner_on_ok(FakeResult(FakeTask("ansible.builtin.command", args={"cmd": "true"}), {"changed": True}))
    callback.v2_runner_on_failed(FakeResult(FakeTask("kubernetes.core.k8s", args={"name": "x"}), {"msg": "boom"}))
    assert lines(tmp_path / "audit" / "audit.jsonl") == []


def test_short_names_resolve_through_collections_keyword(tmp_path):
    callback = make_callback(tmp_path)
    # the core resolver could not resolve it (plugin loader not configured in this test): fall back to `collections`
    task = FakeTask(
        "everest_account", args={"username": "acme_admin", "password": SECRET}, collections=["virakcloud.everest"], resolved="ansible.legacy.everest_account"
    )
    callback.v2_runner_on_ok(FakeResult(task, account_result()))
    other = FakeTask("everest_account", args={"username": "x_user"}, resolved="ansible.legacy.everest_account")
    callback.v2_runner_on_ok(FakeResult(other, account_result()))
    resolved = FakeTask("everest_namespace", args={"name": "acme-db"}, resolved="virakcloud.everest.everest_namespace")
    callback.v2_runner_on_ok(FakeResult(resolved, {"changed": True, "namespace": {"name": "acme-db"}}))
    records = lines(tmp_path / "audit" / "audit.jsonl")
    assert [r["module"] for r in records] == ["virakcloud.everest.everest_account", "virakcloud.everest.everest_namespace"]
    assert records[1]["name"] == "acme-db"


def test_legacy_task_result_shape(tmp_path):
    callback = make_callback(tmp_path)
    callback.v2_runner_on_ok(LegacyResult(account_task(), account_result()))
    (record,) = lines(tmp_path / "audit" / "audit.jsonl")
    assert record["username"] == "acme_admin"


def test_failed_task_message_is_masked_and_truncated(tmp_path):
    callback = make_callback(tmp_path)
    msg = "everestctl accounts create failed: everestctl accounts create -u acme_admin -p %s; password=%s token: abc123 " % (SECRET, SECRET)
    msg += "x" * 1000
    result = {"msg": msg, "cmd": ["everestctl", "accounts", "set-password", "-u", "acme_admin", "--new-password", SECRET], "rc": 1, "stderr": "❌ " + SECRET}
    callback.v2_runner_on_failed(FakeResult(account_task(), result), ignore_errors=True)
    raw = (tmp_path / "audit" / "audit.jsonl").read_text()
    assert SECRET not in raw and "abc123" not in raw
    (record,) = lines(tmp_path / "audit" / "audit.jsonl")
    assert record["failed"] is True and record["changed"] is False and record["ignored"] is True
    assert record["msg"].endswith("...") and len(record["msg"]) == audit.MAX_MSG + 3
    assert "-p ********" in record["msg"] and "password=********" in record["msg"]
    assert record["cmd"] == ["everestctl", "accounts", "set-password", "-u", "acme_admin", "--new-password", MASK]
    assert "stderr" not in record


def test_no_log_task_records_identity_only(tmp_path):
    callback = make_callback(tmp_path)
    censored = {"changed": True, "censored": "the output has been hidden due to the fact that 'no_log: true' was specified for this result"}
    callback.v2_runner_on_ok(FakeResult(account_task(no_log=True), censored))
    # a no_log failure: the message is not recorded even if a module leaked something into it
    callback.v2_runner_on_failed(FakeResult(account_task(no_log=True), {"msg": "bad " + SECRET, "_ansible_no_log": True}))
    raw = (tmp_path / "audit" / "audit.jsonl").read_text()
    assert SECRET not in raw
    first, second = lines(tmp_path / "audit" / "audit.jsonl")
    assert first["no_log"] is True and first["username"] == "acme_admin" and first["changed"] is True
    assert "cmd" not in first and "diff" not in first and "msg" not in first
    assert second["failed"] is True and "msg" not in second


def test_templated_or_odd_identity_values_are_dropped(tmp_path):
    callback = make_callback(tmp_path)
    task = FakeTask("virakcloud.everest.everest_account", args={"username": "{{ item.username }}", "password": SECRET})
    callback.v2_runner_on_ok(FakeResult(task, {"changed": True}))
    task = FakeTask("virakcloud.everest.everest_account", args={"username": {"nested": SECRET}, "password": SECRET})
    callback.v2_runner_on_ok(FakeResult(task, {"changed": True}))
    records = lines(tmp_path / "audit" / "audit.jsonl")
    assert len(records) == 2 and all("username" not in r for r in records)
    assert SECRET not in (tmp_path / "audit" / "audit.jsonl").read_text()


def test_loop_and_batch_items(tmp_path):
    callback = make_callback(tmp_path)
    task = FakeTask("virakcloud.everest.everest_account", args={"username": "{{ item.username }}", "password": "{{ item.password }}"})
    result = {
        "changed": True,
        "results": [
            {
                "changed": True,
                "account": {"username": "a_one"},
                "cmd": ["everestctl", "accounts", "create", "-u", "a_one", "-p", SECRET],
                "item": {"username": "a_one", "password": SECRET},
                "invocation": {"module_args": {"password": SECRET}},
            },
            {"changed": False, "account": {"username": "a_two"}},
            {"changed": True, "censored": "hidden", "_ansible_no_log": True},
            {"failed": True, "changed": False, "username": "a_four", "msg": SECRET},
        ],
    }
    callback.v2_runner_on_ok(FakeResult(task, result))
    raw = (tmp_path / "audit" / "audit.jsonl").read_text()
    assert SECRET not in raw
    (record,) = lines(tmp_path / "audit" / "audit.jsonl")
    assert record["items"] == [
        {"username": "a_one", "changed": True, "failed": False, "cmd": ["everestctl", "accounts", "create", "-u", "a_one", "-p", MASK]},
        {"username": "a_four", "changed": False, "failed": True},
    ]


def test_diff_summaries():
    assert audit.diff_summary(None) is None
    text = {"before": "a\nb\nc\n", "after": "a\nB\nc\nd\ne\n"}
    assert audit.diff_summary(text) == "+3 -1 lines"
    assert audit.diff_summary([{"before": {"a": 1, "b": 2}, "after": {"a": 1, "b": 3, "c": 4}}, text]) == "changed keys: b, c; +3 -1 lines"
    assert audit.diff_summary({"prepared": "--- a\n+++ b\n-x\n+y\n+z\n"}) == "+2 -1 lines"
    assert audit.diff_summary({"before": {"a": 1}, "after": {"a": 1}}) is None
    nested = {
        "before": {"spec": {"limits": {"cpuCores": 4, "memoryBytes": 1}, "engines": ["a"]}, "metadata": {"labels": {"a": "1"}}},
        "after": {"spec": {"limits": {"cpuCores": 2, "memoryBytes": 1}, "engines": ["a"]}, "metadata": {"labels": {"a": "2"}}},
    }
    # nested dicts become dotted paths up to three levels; values never appear
    assert audit.diff_summary(nested) == "changed keys: metadata.labels.a, spec.limits.cpuCores"
    deep = {"before": {"a": {"b": {"c": {"d": 1}}}}, "after": {"a": {"b": {"c": {"d": 2}}}}}
    assert audit.diff_summary(deep) == "changed keys: a.b.c"
    many = {"before": {}, "after": dict(("k%02d" % i, i) for i in range(25))}
    assert audit.diff_summary(many).endswith("k19 (+5 more)")


@pytest.mark.parametrize(
    "argv,expected",
    [
        (["everestctl", "accounts", "create", "-u", "u1", "-p", "pw"], ["everestctl", "accounts", "create", "-u", "u1", "-p", MASK]),
        (["x", "--password=pw", "--new-password", "pw2"], ["x", "--password=" + MASK, "--new-password", MASK]),
        (["x", "--token", "t", "--api-key=k"], ["x", "--token", MASK, "--api-key=" + MASK]),
        (["x", "-u", "user"], ["x", "-u", "user"]),
        ("everestctl accounts create -u u1 -p pw", "everestctl accounts create -u u1 -p " + MASK),
    ],
)
def test_mask_cmd(argv, expected):
    assert audit.mask_cmd(argv) == expected


def test_scrub_nested_secret_keys():
    data = {"user": "u", "api_key": "k", "nested": [{"everest_password": "p", "Token": "t", "name": "n"}], "password_mtime": None}
    assert audit.scrub(data) == {"user": "u", "api_key": MASK, "nested": [{"everest_password": MASK, "Token": MASK, "name": "n"}], "password_mtime": None}


def test_awx_job_and_user(tmp_path, monkeypatch):
    callback = make_callback(tmp_path)
    monkeypatch.setenv("JOB_ID", "4242")
    callback.extra_vars = {"awx_user_name": "alice", "awx_job_id": 1}
    callback.v2_runner_on_ok(FakeResult(account_task(), account_result()))
    monkeypatch.delenv("JOB_ID")
    callback.v2_runner_on_ok(FakeResult(account_task(), account_result()))
    first, second = lines(tmp_path / "audit" / "audit.jsonl")
    assert first["awx_job_id"] == "4242" and first["awx_user"] == "alice"
    assert second["awx_job_id"] == "1"


def test_check_mode_marked_or_suppressed(tmp_path):
    callback = make_callback(tmp_path)
    callback.v2_runner_on_ok(FakeResult(account_task(check_mode=True), account_result()))
    (record,) = lines(tmp_path / "audit" / "audit.jsonl")
    assert record["check_mode"] is True
    quiet = make_callback(tmp_path, path=str(tmp_path / "quiet.jsonl"), log_check_mode=False)
    quiet.v2_runner_on_ok(FakeResult(account_task(check_mode=True), account_result()))
    assert not (tmp_path / "quiet.jsonl").exists()


def test_env_configures_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("EVEREST_AUDIT_LOG", str(tmp_path / "from-env.jsonl"))
    monkeypatch.setenv("EVEREST_AUDIT_MAX_BYTES", "1234")
    callback = audit.CallbackModule(display=FakeDisplay())
    callback._load_name = "virakcloud.everest.audit"
    C.config.initialize_plugin_configuration_definitions("callback", callback._load_name, yaml.safe_load(audit.DOCUMENTATION)["options"])
    callback.set_options()
    assert callback.writer.path == str(tmp_path / "from-env.jsonl") and callback.writer.max_bytes == 1234
    assert callback.writer.backup_count == 5


def test_write_errors_warn_once_and_never_raise(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    callback = make_callback(tmp_path, path=str(blocker / "audit.jsonl"))
    callback.v2_runner_on_ok(FakeResult(account_task(), account_result()))
    callback.v2_runner_on_ok(FakeResult(account_task(), account_result()))
    assert len(callback._display.warnings) == 1 and "audit trail" in callback._display.warnings[0]


def test_rotation_keeps_backup_count_files_and_whole_lines(tmp_path):
    path = tmp_path / "rot" / "audit.jsonl"
    writer = audit.AuditWriter(str(path), max_bytes=400, backup_count=3)
    for i in range(60):
        writer.write({"seq": i, "pad": "x" * 40})
    files = sorted(p.name for p in path.parent.iterdir() if not p.name.endswith(".lock"))
    assert files == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2", "audit.jsonl.3"]
    seqs = []
    for name in ["audit.jsonl.3", "audit.jsonl.2", "audit.jsonl.1", "audit.jsonl"]:
        part = path.parent / name
        assert part.stat().st_size <= 400
        seqs += [r["seq"] for r in lines(part)]
    # oldest to newest, contiguous, ending with the last record: nothing lost except what rotated out
    assert seqs == list(range(60 - len(seqs), 60))
    assert len(seqs) > 10


def test_rotation_without_backups_truncates(tmp_path):
    path = tmp_path / "audit.jsonl"
    writer = audit.AuditWriter(str(path), max_bytes=200, backup_count=0)
    for i in range(20):
        writer.write({"seq": i, "pad": "y" * 30})
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == ["audit.jsonl"]
    records = lines(path)
    assert records[-1]["seq"] == 19 and path.stat().st_size <= 200


def _writer_process(path, worker, count, max_bytes, backup_count):
    writer = audit.AuditWriter(path, max_bytes=max_bytes, backup_count=backup_count)
    for seq in range(count):
        writer.write({"worker": worker, "seq": seq, "pad": "z" * (50 + (seq * 7) % 300)})


def _run_writers(path, max_bytes, backup_count, workers=4, count=200):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer_process, args=(str(path), w, count, max_bytes, backup_count)) for w in range(workers)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
        assert proc.exitcode == 0


def _all_records(directory):
    records = []
    for part in Path(directory).iterdir():
        if part.name.endswith(".lock"):
            continue
        for raw in part.read_text().splitlines():
            records.append(json.loads(raw))  # every line must be one whole JSON document
    return records


def test_concurrent_writers_never_interleave_or_lose_lines(tmp_path):
    path = tmp_path / "c" / "audit.jsonl"
    _run_writers(path, max_bytes=0, backup_count=0)
    records = _all_records(path.parent)
    assert len(records) == 800
    assert {(r["worker"], r["seq"]) for r in records} == {(w, s) for w in range(4) for s in range(200)}
    for worker in range(4):  # each writer's own lines stay in order
        assert [r["seq"] for r in records if r["worker"] == worker] == list(range(200))


def test_concurrent_writers_with_rotation_lose_nothing(tmp_path):
    path = tmp_path / "r" / "audit.jsonl"
    _run_writers(path, max_bytes=8192, backup_count=100)
    records = _all_records(path.parent)
    assert len(records) == 800
    assert len({(r["worker"], r["seq"]) for r in records}) == 800
    assert len([p for p in path.parent.iterdir() if not p.name.endswith(".lock")]) > 5
    assert all(p.stat().st_size <= 8192 for p in path.parent.iterdir())


def test_no_secret_in_any_file_after_many_events(tmp_path):
    callback = make_callback(tmp_path, max_bytes=2000, backup_count=2)
    for _round in range(30):
        callback.v2_runner_on_ok(FakeResult(account_task(), account_result()))
        callback.v2_runner_on_failed(FakeResult(account_task(), {"msg": "failed with --password " + SECRET}))
    for part in (tmp_path / "audit").iterdir():
        assert SECRET not in part.read_text()
    assert os.path.exists(str(tmp_path / "audit" / "audit.jsonl.2"))
