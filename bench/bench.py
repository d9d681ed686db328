#!/usr/bin/env python3
"""Benchmarks of the tenant_bootstrap role against the sandbox (`make bench`).

Phases, each on a fresh sandbox state where it matters:
  converge  first run of playbooks/bootstrap.yml over N generated tenants
  noop      the same run again (must be 0 writes, 0 everestctl calls)
  check     --check --diff run (must be 0 writes)
  floor     a playbook with the same number of trivial module executions (ansible.builtin.ping) over the
            same hosts and forks: what Ansible itself costs here
Per phase: wall time, seconds per tenant, ratio to the floor, everestctl invocations (emulator call log),
API requests by verb (sandbox statistics), peak RSS of the ansible-playbook process tree.

Writes bench/results/latest.json (shape is a contract, see issue 7) and prints a table.
Usage: BENCH_TENANTS=50 BENCH_FORKS=5 BENCH_GROWTH=10,50,200 python bench/bench.py
"""

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "sandbox"))

from everest_sandbox.launcher import start_sandbox  # noqa: E402  pylint: disable=wrong-import-position

VERBS = ("get", "list", "create", "update", "patch", "delete")
# actions that do not execute a module on the target (cost ~15 ms, not counted for the floor)
NON_MODULE_ACTIONS = {
    "ansible.builtin.set_fact", "set_fact", "ansible.builtin.debug", "debug", "ansible.builtin.assert", "assert",
    "ansible.builtin.fail", "fail", "ansible.builtin.meta", "meta", "ansible.builtin.include_tasks", "include_tasks",
    "ansible.builtin.import_tasks", "ansible.builtin.include_role", "ansible.builtin.import_role", "ansible.builtin.include_vars",
    "ansible.builtin.validate_argument_spec", "validate_argument_spec", "ansible.builtin.group_by", "ansible.builtin.add_host",
}
ONE_MIB = 1024 * 1024


def _descendants_rss_kb(pid):
    """Sum of VmRSS of pid and all its descendants (Linux /proc)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        try:
            with open("/proc/%d/status" % current) as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total


def run_measured(argv, env, cwd):
    """Run a command; return (returncode, wall seconds, peak RSS MB of its process tree, output)."""
    started = time.monotonic()
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _descendants_rss_kb(proc.pid))
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    done.set()
    sampler.join()
    return proc.returncode, time.monotonic() - started, peak[0] / 1024.0, out.decode("utf-8", "replace")


class Sandbox:
    def __init__(self, directory):
        self.handle = start_sandbox(directory)
        self.env = dict(self.handle.env)

    def _post(self, path, body=None):
        req = urllib.request.Request(self.env["EVEREST_SANDBOX_URL"] + path, data=json.dumps(body or {}).encode(), method="POST",
                                     headers={"Authorization": "Bearer " + self.env["EVEREST_SANDBOX_TOKEN"],
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req) as resp:
            return json.loads(resp.read() or b"{}")

    def stats(self):
        req = urllib.request.Request(self.env["EVEREST_SANDBOX_URL"] + "/_sandbox/stats",
                                     headers={"Authorization": "Bearer " + self.env["EVEREST_SANDBOX_TOKEN"]})
        with urllib.request.urlopen(req) as resp:
            return json.loads(resp.read())

    def reset(self):
        self._post("/_sandbox/reset")

    def reset_stats(self):
        self._post("/_sandbox/stats/reset")

    def calls(self):
        path = Path(self.env["EVEREST_SANDBOX_CALL_LOG"])
        return len(path.read_text().splitlines()) if path.exists() else 0

    def policy_csv_size(self):
        req = urllib.request.Request(self.env["EVEREST_SANDBOX_URL"] + "/api/v1/namespaces/everest-system/configmaps/everest-rbac",
                                     headers={"Authorization": "Bearer " + self.env["EVEREST_SANDBOX_TOKEN"]})
        with urllib.request.urlopen(req) as resp:
            return len(json.loads(resp.read())["data"].get("policy.csv", "").encode("utf-8"))

    def stop(self):
        self.handle.stop()


def write_inventory(path, tenants, preset="namespace_admin", mode=None):
    hosts = {}
    for i in range(tenants):
        name = "t%04d" % i
        hosts[name] = {
            "tenant_bootstrap_users": [{"username": "%s_user" % name, "password": "Bench-%04d-pass" % i}],
            "tenant_bootstrap_operators": {"postgresql": True, "mysql": i % 2 == 0, "mongodb": False},
            "tenant_bootstrap_limits": {"cpu": "4", "memory": "16Gi", "max_clusters": 3, "max_db_users": 5},
            "tenant_bootstrap_engines": ["postgresql", "mysql"],
            "tenant_bootstrap_rbac_preset": preset,
        }
    group_vars = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                  "tenant_bootstrap_report_path": ""}
    if mode:
        group_vars["tenant_bootstrap_mode"] = mode
    doc = {"all": {"children": {"everest_tenants": {"hosts": hosts, "vars": group_vars}}}}
    path.write_text(json.dumps(doc))


FLOOR_PLAYBOOK = """
- name: Floor - trivial module executions
  hosts: everest_tenants
  gather_facts: false
  tasks:
    - name: Ping as many times as the role executes modules per tenant
      ansible.builtin.ping:
      loop: "{{ range(floor_per_host | int) | list }}"
"""


def ansible_env(sandbox, tmp, results_file):
    env = dict(os.environ)
    env.update(sandbox.env)
    env.update({
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".venv" / "collections"),
        "ANSIBLE_CALLBACK_PLUGINS": str(REPO / "tests" / "integration" / "callback_plugins"),
        "ANSIBLE_CALLBACKS_ENABLED": "record",
        "EVEREST_TEST_RESULTS": str(results_file),
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible-local"),
        "ANSIBLE_HOME": str(tmp / "ansible-home"),
        "PATH": "%s:%s" % (Path(sys.executable).parent, os.environ.get("PATH", "")),
    })
    return env


def module_executions(results_file):
    data = json.loads(Path(results_file).read_text())
    count = 0
    for task in data["tasks"]:
        if task["action"] in NON_MODULE_ACTIONS:
            continue
        for result in task["hosts"].values():
            if result.get("_status") == "skipped" or result.get("skipped"):
                continue
            loop = result.get("results")
            count += len(loop) if isinstance(loop, list) else 1
    return count


def phase(sandbox, tmp, tenants, argv, label):
    results_file = tmp / ("%s.json" % label)
    sandbox.reset_stats()
    calls_before = sandbox.calls()
    rc, wall, rss, out = run_measured(argv, ansible_env(sandbox, tmp, results_file), str(REPO))
    if rc != 0:
        sys.stderr.write(out[-6000:])
        raise SystemExit("bench phase %s failed (rc=%d)" % (label, rc))
    stats = sandbox.stats()
    by_verb = stats.get("by_verb", {})
    return {
        "wall_s": round(wall, 3),
        "per_tenant_s": round(wall / tenants, 4),
        "ratio_to_floor": None,
        "everestctl_calls": sandbox.calls() - calls_before,
        "api_requests": {verb: int(by_verb.get(verb, 0)) for verb in VERBS},
        "peak_rss_mb": round(rss, 1),
    }, results_file


def bench(tenants, forks, mode=None, preset="namespace_admin"):
    tmp = Path(tempfile.mkdtemp(prefix="everest-bench-"))
    sandbox = Sandbox(tmp / "sandbox")
    try:
        inventory = tmp / "inventory.json"
        write_inventory(inventory, tenants, preset=preset, mode=mode)
        playbook = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), "-f", str(forks),
                    str(REPO / "playbooks" / "bootstrap.yml")]
        phases = {}
        phases["converge"], converge_results = phase(sandbox, tmp, tenants, playbook, "converge")
        policy_bytes = sandbox.policy_csv_size()
        phases["noop"], noop_results = phase(sandbox, tmp, tenants, playbook, "noop")
        phases["check"], _ = phase(sandbox, tmp, tenants, playbook + ["--check", "--diff"], "check")
        executions = module_executions(noop_results)
        per_host = max(1, round(executions / float(tenants)))
        floor_pb = tmp / "floor.yml"
        floor_pb.write_text(FLOOR_PLAYBOOK)
        floor_argv = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), "-f", str(forks),
                      str(floor_pb), "-e", "floor_per_host=%d" % per_host]
        if mode == "fleet":
            # fleet mode runs its modules once on the controller: the floor is the same number of executions in total
            floor_argv[-1] = "floor_per_host=%d" % max(1, round(executions / float(tenants)))
        phases["floor"], _ = phase(sandbox, tmp, tenants, floor_argv, "floor")
        for name in ("converge", "noop", "check", "floor"):
            phases[name]["ratio_to_floor"] = round(phases[name]["wall_s"] / phases["floor"]["wall_s"], 3)
        del converge_results
        return {"tenants": tenants, "forks": forks, "phases": phases,
                "module_executions_noop": executions, "policy_csv_bytes": policy_bytes}
    finally:
        sandbox.stop()


def table(result):
    lines = ["| phase | wall s | s/tenant | x floor | everestctl | get | list | create | update | patch | delete | peak RSS MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in ("converge", "noop", "check", "floor"):
        p = result["phases"][name]
        lines.append("| %s | %.2f | %.3f | %.2f | %d | %s | %.0f |" % (
            name, p["wall_s"], p["per_tenant_s"], p["ratio_to_floor"], p["everestctl_calls"],
            " | ".join(str(p["api_requests"][v]) for v in VERBS), p["peak_rss_mb"]))
    return "\n".join(lines)


def main():
    tenants = int(os.environ.get("BENCH_TENANTS", "50"))
    forks = int(os.environ.get("BENCH_FORKS", "5"))
    growth = [int(x) for x in os.environ.get("BENCH_GROWTH", "").split(",") if x.strip()]
    out_dir = REPO / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    result = bench(tenants, forks)
    print("\n## %d tenants, forks %d (per-host mode)\n" % (tenants, forks))
    print(table(result))
    reads = sum(result["phases"]["noop"]["api_requests"][v] for v in ("get", "list"))
    writes = sum(result["phases"]["noop"]["api_requests"][v] for v in ("create", "update", "patch", "delete"))
    print("\nno-op: %d writes, %d everestctl calls, %.2f API reads per tenant"
          % (writes, result["phases"]["noop"]["everestctl_calls"], reads / float(tenants)))
    per_tenant_bytes = result["policy_csv_bytes"] / float(tenants)
    result["policy_csv"] = {"bytes": result["policy_csv_bytes"], "bytes_per_tenant": round(per_tenant_bytes, 1),
                            "configmap_limit_bytes": ONE_MIB,
                            "tenants_at_limit": int(ONE_MIB / per_tenant_bytes) if per_tenant_bytes else None}
    if growth:
        series = []
        for n in growth:
            r = bench(n, forks)
            series.append({"tenants": n, "noop_per_tenant_s": r["phases"]["noop"]["per_tenant_s"],
                           "converge_per_tenant_s": r["phases"]["converge"]["per_tenant_s"],
                           "noop_api_requests_per_tenant": round(sum(r["phases"]["noop"]["api_requests"].values()) / float(n), 2),
                           "converge_api_requests_per_tenant": round(sum(r["phases"]["converge"]["api_requests"].values()) / float(n), 2)})
            print("growth %d tenants: %s" % (n, json.dumps(series[-1])))
        result["growth"] = series
    (out_dir / "latest.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print("\nwrote %s" % (out_dir / "latest.json"))


if __name__ == "__main__":
    main()
