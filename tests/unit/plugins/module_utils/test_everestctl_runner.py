"""Unit tests of the everestctl runner: argv shapes, validation before running, masking, errors, timeouts.

The boundary is the subprocess: a fake everestctl script records its argv, environment and terminal state.
"""

import json
import os
import stat
import textwrap

import pytest

from ansible_collections.virakcloud.everest.plugins.module_utils import _everestctl, _validation
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestctlError, ValidationError

SECRET = "S3cret#pass_1"


@pytest.fixture
def fake(tmp_path):
    """A fake everestctl: records argv/env/tty state to calls.jsonl; behaviour chosen by env FAKE_MODE."""
    script = tmp_path / "everestctl"
    record = tmp_path / "calls.jsonl"
    script.write_text(
        textwrap.dedent(
            """\
        #!%s
        import json, os, sys, time
        mode = os.environ.get("FAKE_MODE", "ok")
        try:
            tty = os.open("/dev/tty", os.O_RDWR); os.close(tty); has_tty = True
        except OSError:
            has_tty = False
        stdin_data = sys.stdin.read() if not sys.stdin.closed else ""
        with open(%r, "a") as f:
            f.write(json.dumps({"argv": sys.argv[1:], "lc_all": os.environ.get("LC_ALL"), "has_tty": has_tty,
                                "stdin": stdin_data, "verbose": os.environ.get("VERBOSE")}) + "\\n")
        if mode == "ok":
            print("\\u2705 done for " + " ".join(sys.argv[1:]))
            sys.exit(0)
        if mode == "sleep":
            time.sleep(30)
        sys.stderr.write(os.environ.get("FAKE_STDERR", "") + "\\n\\n")
        sys.exit(1)
        """
            % (os.environ.get("PYTHON_FOR_FAKE", "/usr/bin/env python3"), str(record))
        )
    )
    script.write_text(script.read_text().replace("#!/usr/bin/env python3", "#!" + __import__("sys").executable, 1))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)

    class Fake:
        path = str(script)

        @staticmethod
        def calls():
            if not record.exists():
                return []
            return [json.loads(line) for line in record.read_text().splitlines()]

    return Fake


def runner(fake, **kwargs):
    return _everestctl.Everestctl(fake.path, kubeconfig="/tmp/kc.yaml", **kwargs)


ARGV_CASES = [
    ("accounts_create", {"username": "alice", "password": SECRET}, ["accounts", "create", "-u", "alice", "-p", SECRET]),
    ("accounts_set_password", {"username": "alice", "password": SECRET}, ["accounts", "set-password", "-u", "alice", "--new-password", SECRET]),
    ("accounts_delete", {"username": "alice"}, ["accounts", "delete", "-u", "alice"]),
    (
        "namespaces_add",
        {"name": "ns-alice", "mysql": True, "postgresql": True, "mongodb": False},
        ["namespaces", "add", "ns-alice", "--skip-wizard", "--operator.mysql=true", "--operator.postgresql=true", "--operator.mongodb=false"],
    ),
    (
        "namespaces_add",
        {"name": "ns-a", "mysql": False, "postgresql": True, "mongodb": False, "take_ownership": True},
        ["namespaces", "add", "ns-a", "--skip-wizard", "--operator.mysql=false", "--operator.postgresql=true", "--operator.mongodb=false", "--take-ownership"],
    ),
    (
        "namespaces_update",
        {"name": "ns-a", "mysql": True, "postgresql": True, "mongodb": True},
        ["namespaces", "update", "ns-a", "--operator.mysql=true", "--operator.postgresql=true", "--operator.mongodb=true"],
    ),
    ("namespaces_remove", {"name": "ns-a"}, ["namespaces", "remove", "ns-a"]),
    ("namespaces_remove", {"name": "ns-a", "keep_namespace": True, "force": True}, ["namespaces", "remove", "ns-a", "--keep-namespace", "--force"]),
    ("rbac_validate", {"policy_file": "/tmp/p.csv"}, ["settings", "rbac", "validate", "--policy-file=/tmp/p.csv"]),
    ("rbac_validate", {}, ["settings", "rbac", "validate"]),
    (
        "rbac_can",
        {"subject": "alice", "action": "create", "resource": "database-clusters", "object": "ns-a/*", "policy_file": "/tmp/p.csv"},
        ["settings", "rbac", "can", "alice", "create", "database-clusters", "ns-a/*", "--policy-file=/tmp/p.csv"],
    ),
    (
        "rbac_can",
        {"subject": "role:admin", "action": "*", "resource": "namespaces", "object": "*"},
        ["settings", "rbac", "can", "role:admin", "*", "namespaces", "*"],
    ),
    ("version", {"client_only": True}, ["version", "--client-only"]),
]


@pytest.mark.parametrize("shape,values,expected", ARGV_CASES)
def test_argv_for_every_shape(fake, shape, values, expected):
    result = runner(fake).run(shape, **values)
    assert result.rc == 0
    call = fake.calls()[-1]
    assert call["argv"] == expected + ["--kubeconfig", "/tmp/kc.yaml"]
    assert SECRET not in json.dumps(result.as_dict())


def test_preview_masks_and_runs_nothing(fake):
    cmd = runner(fake).preview("accounts_create", username="alice", password=SECRET)
    assert cmd == [fake.path, "accounts", "create", "-u", "alice", "-p", "********", "--kubeconfig", "/tmp/kc.yaml"]
    assert fake.calls() == []


@pytest.mark.parametrize(
    "shape,values,needle",
    [
        ("accounts_create", {"username": "al", "password": SECRET}, "username"),
        ("accounts_create", {"username": "alice-x", "password": SECRET}, "username"),
        ("accounts_create", {"username": "alice", "password": "short"}, "password"),
        ("accounts_create", {"username": "alice", "password": "has space 123"}, "password"),
        ("namespaces_add", {"name": "everest-system", "mysql": True, "postgresql": False, "mongodb": False}, "reserved"),
        ("namespaces_add", {"name": "Bad_Name", "mysql": True, "postgresql": False, "mongodb": False}, "RFC 1035"),
        ("namespaces_add", {"name": "ns-a", "mysql": False, "postgresql": False, "mongodb": False}, "at least one operator"),
        ("namespaces_remove", {"name": "-rf"}, "RFC 1035"),
        ("rbac_can", {"subject": "alice", "action": "destroy", "resource": "namespaces", "object": "*"}, "action"),
        ("rbac_can", {"subject": "alice,bob", "action": "read", "resource": "namespaces", "object": "*"}, "subject"),
        ("rbac_can", {"subject": "--help", "action": "read", "resource": "namespaces", "object": "*"}, "subject"),
        ("rbac_can", {"subject": "alice", "action": "read", "resource": "namespaces", "object": "a\nb"}, "object"),
        ("accounts_delete", {"username": "alice", "extra": 1}, "unexpected"),
        ("accounts_create", {"username": "alice"}, "missing"),
        ("bogus", {}, "unknown everestctl command shape"),
    ],
)
def test_bad_values_fail_before_running(fake, shape, values, needle):
    with pytest.raises(ValidationError) as err:
        runner(fake).run(shape, **values)
    assert needle in str(err.value)
    assert SECRET not in str(err.value)
    assert fake.calls() == []


def test_runs_without_tty_with_closed_stdin_and_c_locale(fake, monkeypatch):
    monkeypatch.setenv("VERBOSE", "not-a-bool")  # reference §1.2: would break envconfig; the runner drops it
    runner(fake).run("accounts_delete", username="alice")
    call = fake.calls()[-1]
    assert call["has_tty"] is False
    assert call["stdin"] == ""
    assert call["lc_all"] == "C"
    assert call["verbose"] is None


@pytest.mark.parametrize(
    "stderr,kind",
    [
        ("\u274c user already exists", "already_exists"),
        ("\u274c account not found", "not_found"),
        (
            "\u274c Operation cannot be fulfilled on secrets \"everest-accounts\": the object has been modified; please apply "
            "your changes to the latest version and try again",
            "conflict",
        ),
        ("\u274c 'ns-a': namespace already exists and is managed by Everest", "already_exists"),
        ("\u274c 'ns-a': namespace already exists. HINT: set '--take-ownership' flag to use existing namespaces", "namespace_exists_unmanaged"),
        ("\u274c 'ns-a': namespace is not managed by Everest", "not_managed"),
        ("\u274c 'ns-a': namespace does not exist", "namespace_missing"),
        ("\u274c cannot remove namespace with running database clusters. HINT: use --force to remove the namespace and all its resources", "has_clusters"),
        ("\u274c everest is not installed in the cluster", "not_installed"),
        ("\u274c could not open a new TTY: open /dev/tty: no such device or address", "no_tty"),
        ("\u274c 'everest-system' namespace is reserved for Everest internals. Please specify another namespace", "reserved"),
        ("\u274c " + _validation.NAMESPACE_RFC1035_ERROR, "invalid_name"),
        ("\u274c " + _validation.USERNAME_ERROR, "invalid_username"),
        ("\u274c " + _validation.PASSWORD_ERROR, "invalid_password"),
        ("\u274c " + _validation.NO_OPERATORS_ERROR, "no_operators"),
        ("\u274c operation not supported for this version of Everest", "unsupported_version"),
        ("\u274c can't ask user for operators to install: interactive mode is disabled", "no_tty"),
        ("\u274c policy syntax error - policy syntax error - unknown resource name 'database-cluster'", "policy_invalid"),
        ("open /root/.kube/nope: no such file or directory\ncould not read kubeconfig file", "kubeconfig"),
        ("\u274c Get \"https://10.0.0.1:6443/api\": dial tcp 10.0.0.1:6443: connect: connection refused", "unreachable"),
        (
            '\u274c failed to connect with OIDC provider: Get "http://127.0.0.1:9/.well-known/openid-configuration": dial tcp 127.0.0.1:9: '
            "connect: connection refused",
            "oidc_unreachable",
        ),
        ("\u274c something nobody expected", "unknown"),
    ],
)
def test_known_stderr_texts_map_to_kinds(fake, monkeypatch, stderr, kind):
    monkeypatch.setenv("FAKE_MODE", "fail")
    monkeypatch.setenv("FAKE_STDERR", stderr)
    with pytest.raises(EverestctlError) as err:
        runner(fake).run("accounts_delete", username="alice")
    assert err.value.kind == kind
    assert err.value.rc == 1
    assert err.value.cmd[1:4] == ["accounts", "delete", "-u"]
    assert "\u274c" not in err.value.msg
    fail = err.value.to_fail_kwargs()
    assert fail["rc"] == 1 and fail["error_kind"] == kind


def test_every_error_kind_is_covered_by_a_real_text():
    """Each kind of _everestctl.ERROR_KINDS is reached by one of the texts above (no pattern is shadowed)."""
    params = [m for m in test_known_stderr_texts_map_to_kinds.pytestmark if m.name == "parametrize"][0].args[1]
    covered = set(kind for _text, kind in params)
    assert set(kind for _pattern, kind in _everestctl.ERROR_KINDS) <= covered


def test_secret_masked_in_error_output(fake, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "fail")
    monkeypatch.setenv("FAKE_STDERR", "bad password %s given" % SECRET)
    with pytest.raises(EverestctlError) as err:
        runner(fake).run("accounts_create", username="alice", password=SECRET)
    everything = json.dumps(err.value.to_fail_kwargs()) + str(err.value)
    assert SECRET not in everything
    assert "********" in err.value.stderr


def test_timeout_kills_and_reports(fake, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "sleep")
    with pytest.raises(EverestctlError) as err:
        runner(fake, timeout=1).run("namespaces_remove", name="ns-a")
    assert err.value.kind == "timeout"
    assert err.value.rc == 124
    assert "timed out after 1 s" in err.value.msg


def test_missing_binary_is_a_clear_error(tmp_path):
    run = _everestctl.Everestctl(str(tmp_path / "nope"), kubeconfig="/tmp/kc")
    with pytest.raises(EverestctlError) as err:
        run.run("accounts_delete", username="alice")
    assert "everestctl_path" in err.value.msg


def test_extra_secrets_masked_in_cmd(fake):
    run = _everestctl.Everestctl(fake.path, kubeconfig="/tmp/token-abc/kc", secrets=["token-abc"])
    result = run.run("accounts_delete", username="alice")
    assert "token-abc" not in " ".join(result.cmd)


def test_strip_ansi_and_error_text():
    assert _everestctl.strip_ansi("\x1b[31mred\x1b[0m") == "red"
    assert _everestctl.error_text("Error: unknown flag: --x\nUsage:\n  everestctl [flags]\n") == "Error: unknown flag: --x"
