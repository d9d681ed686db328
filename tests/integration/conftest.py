"""Integration harness: runs real `ansible-playbook` (subprocess) against the sandbox.

    def test_something(ansible, clean_sandbox):
        run = ansible.playbook("rbac/block.yml", extra_vars={...}, check=True, diff=True)
        assert run.rc == 0
        assert run.task("Add block")["localhost"]["changed"] is True
        assert run.stats["localhost"]["changed"] == 0

Playbooks live in tests/integration/playbooks/. The sandbox environment (KUBECONFIG,
K8S_AUTH_KUBECONFIG, EVERESTCTL_PATH, EVEREST_SANDBOX_CALL_LOG) is exported, so modules need no
connection options. Results come from the test-only `record` callback (callback_plugins/record.py).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PLAYBOOKS = HERE / "playbooks"


class PlaybookResult:
    def __init__(self, proc, results_file, argv):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.argv = argv
        data = {"tasks": [], "stats": {}}
        if results_file.exists() and results_file.stat().st_size:
            data = json.loads(results_file.read_text())
        self.tasks = data["tasks"]
        self.stats = data["stats"]

    @property
    def output(self):
        return self.stdout + self.stderr

    def task(self, name):
        """{host: result} of the last task with this name (AssertionError if there is none)."""
        for task in reversed(self.tasks):
            if task["name"] == name:
                return task["hosts"]
        raise AssertionError("no task named %r ran; tasks: %s\n%s" % (name, [t["name"] for t in self.tasks], self.output[-4000:]))

    def result(self, name, host="localhost"):
        return self.task(name)[host]

    def changed_hosts(self):
        return {h: s["changed"] for h, s in self.stats.items() if s["changed"]}

    def total(self, key):
        return sum(s.get(key, 0) for s in self.stats.values())

    def failures(self):
        """['task | host: message'] of every failed task result (what an assertion on rc should show)."""
        out = []
        for task in self.tasks:
            for host, res in (task.get("hosts") or {}).items():
                if isinstance(res, dict) and res.get("_status") == "failed":
                    out.append("%s | %s: %s" % (task["name"], host, str(res.get("msg") or res.get("stderr") or "")[:600]))
        return out

    def __repr__(self):
        return "<PlaybookResult rc=%s stats=%s failures=%s>" % (self.rc, self.stats, self.failures())


class AnsibleRunner:
    def __init__(self, sandbox, tmp_path):
        self.sandbox = sandbox
        self.tmp = tmp_path
        self.runs = 0

    def env(self, extra=None):
        env = dict(os.environ)
        env.update(self.sandbox.env)
        env.update(
            {
                "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
                "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".venv" / "collections"),
                "ANSIBLE_CALLBACK_PLUGINS": str(HERE / "callback_plugins"),
                "ANSIBLE_CALLBACKS_ENABLED": "record",
                "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
                "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_FORCE_COLOR": "0",
                "ANSIBLE_LOCALHOST_WARNING": "false",
                "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
                "ANSIBLE_LOCAL_TEMP": str(self.tmp / "ansible-local"),
                "ANSIBLE_REMOTE_TEMP": str(self.tmp / "ansible-remote"),
                "ANSIBLE_HOME": str(self.tmp / "ansible-home"),
                # the modules' host cache (_cache.py: everestctl version, password salt) is private to each test, so what a
                # test counts never depends on which tests ran before it on this worker
                "XDG_CACHE_HOME": str(self.tmp / "xdg-cache"),
                "ANSIBLE_RETRY_FILES_ENABLED": "false",
                "PATH": "%s:%s" % (Path(sys.executable).parent, env.get("PATH", "")),
            }
        )
        env.pop("ANSIBLE_STDOUT_CALLBACK", None)
        if extra:
            env.update(extra)
        return env

    def playbook(self, playbook, extra_vars=None, check=False, diff=False, forks=5, verbosity=0, inventory=None, env=None, limit=None, tags=None, timeout=900):
        self.runs += 1
        results_file = self.tmp / ("results-%d.json" % self.runs)
        pb = Path(playbook)
        if not pb.is_absolute():
            pb = PLAYBOOKS / playbook
        argv = [str(Path(sys.executable).parent / "ansible-playbook"), str(pb), "-f", str(forks)]
        if inventory is None:
            argv += ["-i", "localhost,", "-c", "local"]
        else:
            argv += ["-i", str(inventory)]
        if extra_vars:
            vars_file = self.tmp / ("vars-%d.json" % self.runs)
            vars_file.write_text(json.dumps(extra_vars))
            argv += ["-e", "@%s" % vars_file]
        if check:
            argv.append("--check")
        if diff:
            argv.append("--diff")
        if limit:
            argv += ["--limit", limit]
        if tags:
            argv += ["--tags", tags]
        if verbosity:
            argv.append("-" + "v" * verbosity)
        extra_env = dict(env or {})
        extra_env["EVEREST_TEST_RESULTS"] = str(results_file)
        proc = subprocess.run(
            argv, cwd=str(REPO), env=self.env(extra_env), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, check=False
        )
        return PlaybookResult(proc, results_file, argv)


@pytest.fixture
def ansible(sandbox, tmp_path):
    return AnsibleRunner(sandbox, tmp_path)
