"""Unit tests of the everestctl Pool: several commands at once, never more than its size, each with its own timeout and
outcome, every process in the registry that terminate_all empties.

The boundary is the subprocess: a fake everestctl logs its start and end (host monotonic clock) and behaves by the
namespace name it is given. Overlap is proven without timing: the fake waits until a given number of runs have
started (a barrier through files), so the test passes only if that many really ran at once.
"""

import json
import os
import signal
import stat
import sys
import textwrap
import time

import pytest

from ansible_collections.virakcloud.everest.plugins.module_utils import _everestctl
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestctlError, ValidationError

FAKE = """\
#!{python}
import json, os, sys, time
log, started = {log!r}, {started!r}
name = sys.argv[3]
begin = time.monotonic()
open(os.path.join(started, "%s-%d" % (name, os.getpid())), "w").close()
barrier = int(os.environ.get("FAKE_BARRIER", "0"))
deadline = time.monotonic() + 20
while len(os.listdir(started)) < barrier and time.monotonic() < deadline:
    time.sleep(0.01)
if name.startswith("slow"):
    time.sleep(60)
if name.startswith("noisy"):
    sys.stdout.write("x" * 300000)  # more than a pipe holds: the pool must read while the process runs
with open(log, "a") as handle:
    handle.write(json.dumps({{"name": name, "start": begin, "end": time.monotonic(), "pid": os.getpid()}}) + "\\n")
if name.startswith("fail"):
    sys.stderr.write("\\u274c 'ns-a': namespace is not managed by Everest\\n")
    sys.exit(1)
print("done " + name)
"""


@pytest.fixture
def fake(tmp_path):
    script = tmp_path / "everestctl"
    started = tmp_path / "started"
    started.mkdir()
    log = tmp_path / "log.jsonl"
    script.write_text(FAKE.format(python=sys.executable, log=str(log), started=str(started)))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)

    class Fake:
        runner = _everestctl.Everestctl(str(script), kubeconfig="/tmp/kc.yaml")

        @staticmethod
        def runs():
            return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    return Fake


def add(pool, name, timeout=None):
    pool.submit(name, "namespaces_add", timeout=timeout, name=name, mysql=True, postgresql=False, mongodb=False)


def drain(pool):
    out = {}
    while pool.busy():
        key, outcome = pool.next_done()
        out[key] = outcome
    return out


def max_concurrency(runs):
    events = sorted([(r["start"], 1) for r in runs] + [(r["end"], -1) for r in runs])
    running = peak = 0
    for _stamp, delta in events:
        running += delta
        peak = max(peak, running)
    return peak


def test_runs_size_commands_at_once_and_never_more(fake, monkeypatch):
    monkeypatch.setenv("FAKE_BARRIER", "3")  # each run waits until three have started: passes only if three overlap
    pool = fake.runner.pool(3)
    for i in range(7):
        add(pool, "ns-%d" % i)
    outcomes = drain(pool)
    assert sorted(outcomes) == ["ns-%d" % i for i in range(7)]
    assert all(outcome.rc == 0 and outcome.stdout == "done %s\n" % key for key, outcome in outcomes.items())
    runs = fake.runs()
    assert len(runs) == 7 and max_concurrency(runs) == 3 and pool.peak == 3
    assert fake.runner.calls and len(fake.runner.calls) == 7
    assert _everestctl._RUNNING == set()  # pylint: disable=protected-access


def test_size_can_change_between_calls(fake):
    pool = fake.runner.pool(4)
    pool.size = 1
    for i in range(3):
        add(pool, "ns-%d" % i)
    assert pool.peak == 1
    pool.size = 4
    drain(pool)
    assert max_concurrency(fake.runs()) <= 4


def test_a_failure_and_a_timeout_leave_the_others_running(fake):
    pool = fake.runner.pool(3)
    add(pool, "slow-a", timeout=1)
    add(pool, "fail-b")
    add(pool, "ns-c")
    add(pool, "noisy-d")
    outcomes = drain(pool)
    assert isinstance(outcomes["slow-a"], EverestctlError) and outcomes["slow-a"].kind == "timeout"
    assert "timed out after 1 s while running 'namespaces add'" in outcomes["slow-a"].msg
    assert isinstance(outcomes["fail-b"], EverestctlError) and outcomes["fail-b"].kind == "not_managed" and outcomes["fail-b"].rc == 1
    assert outcomes["ns-c"].rc == 0
    assert len(outcomes["noisy-d"].stdout) == 300000 + len("done noisy-d\n")
    assert sorted(r["name"] for r in fake.runs()) == ["fail-b", "noisy-d", "ns-c"]  # the slow one was killed
    assert _everestctl._RUNNING == set()  # pylint: disable=protected-access


def test_refused_values_are_an_outcome_not_a_crash(fake):
    pool = fake.runner.pool(2)
    add(pool, "Not_A_Name")
    add(pool, "ns-ok")
    outcomes = drain(pool)
    assert isinstance(outcomes["Not_A_Name"], ValidationError)
    assert outcomes["ns-ok"].rc == 0 and [r["name"] for r in fake.runs()] == ["ns-ok"]


def test_terminate_all_stops_every_running_command(fake):
    pool = fake.runner.pool(2)
    add(pool, "slow-a")
    add(pool, "slow-b")
    add(pool, "slow-c")  # queued: never starts
    pids = [proc.pid for proc in list(_everestctl._RUNNING)]  # pylint: disable=protected-access
    assert len(pids) == 2
    assert _everestctl.terminate_all(grace=5) == 2
    for pid in pids:
        with pytest.raises(OSError):
            os.kill(pid, 0)


def test_children_die_with_the_module_process(fake, tmp_path):
    """PR_SET_PDEATHSIG is set for children the pool forks (from the calling thread): SIGKILL of the process that owns
    the pool kills them too."""
    script = tmp_path / "owner.py"
    script.write_text(
        textwrap.dedent(
            """\
            import sys
            sys.path[:0] = {path!r}
            from ansible_collections.virakcloud.everest.plugins.module_utils import _everestctl
            pool = _everestctl.Everestctl({binary!r}, kubeconfig="/tmp/kc").pool(2)
            for name in ("slow-a", "slow-b"):
                pool.submit(name, "namespaces_add", name=name, mysql=True, postgresql=False, mongodb=False)
            print(" ".join(str(p.pid) for p in _everestctl._RUNNING), flush=True)
            while pool.busy():
                pool.next_done()
            """
        ).format(path=sys.path, binary=fake.runner.binary)
    )
    import subprocess  # pylint: disable=import-outside-toplevel

    owner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)  # pylint: disable=consider-using-with
    pids = [int(p) for p in owner.stdout.readline().split()]
    assert len(pids) == 2
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    deadline = time.monotonic() + 20
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in pids if _alive(pid)]
        time.sleep(0.05)
    assert alive == []
    owner.stdout.close()


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
