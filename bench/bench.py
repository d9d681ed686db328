"""Benchmarks of the tenant_bootstrap role against the sandbox (`make bench`).

Phases, over N generated tenants (one inventory host each, local connection) and F forks:
  converge  first run of playbooks/bootstrap.yml on a fresh sandbox
  noop      the same run again (target: 0 writes, 0 everestctl calls, <= 4 API reads per tenant)
  check     --check --diff run on the converged state (target: 0 writes)
  floor     ansible.builtin.ping executed exactly as many times per host as the no-op run executed modules
            (counted from the `record` callback), same hosts and forks: what Ansible itself costs here
Per phase: wall time, seconds per tenant, ratio to the floor, everestctl invocations (emulator call log),
API requests by verb (sandbox statistics), peak RSS of the ansible-playbook process tree.

The sandbox runs as a separate process (`python -m everest_sandbox serve`), so its CPU time is measured
apart from Ansible's (reported under "details").

Writes bench/results/latest.json. The keys "tenants", "forks" and "phases" (4 phases x the 7 keys of
PHASE_KEYS) are a contract read by other tools; everything else is extra information.

The sandbox's latency model (EVEREST_SANDBOX_LATENCY_PROFILE=off|realistic|<file>, EVEREST_SANDBOX_LATENCY_SCALE,
EVEREST_SANDBOX_LATENCY_<KNOB>; docs/dev/latency-model.md) is read from this process's environment by the sandbox
launcher, which applies it to the Kubernetes API emulator and the everestctl emulator; the resolved model is
recorded under "latency_model" (a bad value stops the run before anything is measured).

Usage: BENCH_TENANTS=50 BENCH_FORKS=5 BENCH_GROWTH=10,50,200 BENCH_PRESETS=namespace_admin,read_only python bench/bench.py
"""

import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SANDBOX_PATH = REPO / "tests" / "sandbox"
sys.path.insert(0, str(SANDBOX_PATH))

from everest_sandbox import latency  # noqa: E402  pylint: disable=wrong-import-position
from everest_sandbox.everestctl.testing import max_concurrency  # noqa: E402  pylint: disable=wrong-import-position
from everest_sandbox.launcher import SandboxHandle  # noqa: E402  pylint: disable=wrong-import-position

VERBS = ("get", "list", "create", "update", "patch", "delete")
WRITE_VERBS = ("create", "update", "patch", "delete")
PHASES = ("converge", "noop", "check", "floor")
PHASE_KEYS = ("wall_s", "per_tenant_s", "ratio_to_floor", "everestctl_calls", "api_requests", "peak_rss_mb")
ONE_MIB = 1024 * 1024
# actions that run on the controller without executing a module on the target
NON_MODULE_ACTIONS = frozenset(
    prefix + name
    for prefix in ("", "ansible.builtin.", "ansible.legacy.")
    for name in (
        "set_fact",
        "debug",
        "assert",
        "fail",
        "meta",
        "include_tasks",
        "import_tasks",
        "include_role",
        "import_role",
        "include_vars",
        "validate_argument_spec",
        "group_by",
        "add_host",
        "set_stats",
        "pause",
    )
) | frozenset(["virakcloud.everest.tenant_plan"])  # an action plugin: runs on the controller, transfers no module
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _process_tree_rss_kb(pid):
    """(VmRSS sum of pid and all its descendants, the part of it that is everestctl processes, how many everestctl
    processes there are) in kB (Linux /proc)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, encoding="utf-8") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    total, everestctl, count, todo = 0, 0, 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        try:
            with open("/proc/%d/cmdline" % current, "rb") as handle:
                is_everestctl = _is_everestctl(handle.read())
            with open("/proc/%d/status" % current, encoding="utf-8") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        kb = int(line.split()[1])
                        total += kb
                        if is_everestctl:
                            everestctl += kb
                            count += 1
        except OSError:
            continue
    return total, everestctl, count


def _is_everestctl(cmdline):
    """An everestctl process: the binary itself, or the sandbox's emulator (python .../bin/everestctl ...)."""
    argv = cmdline.split(b"\0")[:2]
    return any(Path(arg.decode("utf-8", "replace")).name == "everestctl" for arg in argv)


def _cpu_seconds(pid):
    """utime + stime of one process (Linux /proc)."""
    with open("/proc/%d/stat" % pid, encoding="utf-8") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / float(CLK_TCK)


def _children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_measured(argv, env, cwd, sample_s=0.1):
    """Run a command; return (returncode, wall s, peaks, CPU s of the tree, output). ``peaks``: ``rss_mb`` (the whole
    process tree), ``controller_rss_mb`` (the tree without everestctl processes: ansible-playbook, its workers, the
    modules), ``everestctl_rss_mb`` and ``everestctl_procs`` (the most everestctl processes seen at one sample)."""
    cpu_before = _children_cpu_seconds()
    started = time.monotonic()
    with subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL) as proc:
        peak = {"rss": 0, "controller": 0, "everestctl": 0, "procs": 0}
        done = threading.Event()

        def sample():
            while not done.is_set():
                total, everestctl, count = _process_tree_rss_kb(proc.pid)
                peak["rss"] = max(peak["rss"], total)
                peak["controller"] = max(peak["controller"], total - everestctl)
                peak["everestctl"] = max(peak["everestctl"], everestctl)
                peak["procs"] = max(peak["procs"], count)
                done.wait(sample_s)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        out, _err = proc.communicate()
        wall = time.monotonic() - started
        done.set()
        sampler.join()
    peaks = {
        "rss_mb": round(peak["rss"] / 1024.0, 1),
        "controller_rss_mb": round(peak["controller"] / 1024.0, 1),
        "everestctl_rss_mb": round(peak["everestctl"] / 1024.0, 1),
        "everestctl_procs": peak["procs"],
    }
    return proc.returncode, wall, peaks, _children_cpu_seconds() - cpu_before, out.decode("utf-8", "replace")


class Sandbox:
    """A private sandbox server process (python -m everest_sandbox serve) and the handle to talk to it."""

    def __init__(self, directory, extra_env=None):
        self.dir = Path(directory)
        env = dict(os.environ)
        env.update(extra_env or {})
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SANDBOX_PATH), env.get("PYTHONPATH", "")) if p)
        proc = subprocess.run(
            [sys.executable, "-m", "everest_sandbox", "start", "--dir", str(self.dir)],
            env=env,
            cwd=str(REPO),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            check=False,
        )
        if proc.returncode != 0:
            raise SystemExit("could not start the sandbox: %s" % proc.stdout.decode("utf-8", "replace"))
        self._env = env
        self.pid = int((self.dir / "pid").read_text(encoding="utf-8").strip())
        self.handle = SandboxHandle.from_dir(self.dir)
        self.env = dict(self.handle.env)

    def stats(self):
        return self.handle.stats()

    def reset_stats(self):
        self.handle.reset_stats()

    def call_count(self):
        return len(self.handle.calls())

    def cpu_seconds(self):
        return _cpu_seconds(self.pid)

    def policy_csv(self):
        status, body = self.handle.request("GET", "/api/v1/namespaces/everest-system/configmaps/everest-rbac")
        if status != 200:
            raise RuntimeError("everest-rbac ConfigMap: HTTP %s" % status)
        return body.get("data", {}).get("policy.csv", "")

    def stop(self):
        subprocess.run(
            [sys.executable, "-m", "everest_sandbox", "stop", "--dir", str(self.dir)],
            env=self._env,
            cwd=str(REPO),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )


def tenant_name(index):
    return "t%04d" % index


def write_inventory(path, tenants, preset="namespace_admin", two_operators=False):
    """N tenants like the example inventory: one user each, postgresql (+ mysql for every second tenant, or for every
    tenant with ``two_operators``)."""
    hosts = {}
    for i in range(tenants):
        name = tenant_name(i)
        hosts[name] = {
            "tenant_bootstrap_users": [{"username": "%s_user" % name, "password": "Bench-%04d-pass" % i}],
            "tenant_bootstrap_operators": {"postgresql": True, "mysql": two_operators or i % 2 == 0, "mongodb": False},
            "tenant_bootstrap_limits": {"cpu": 4, "memory": "16Gi", "max_clusters": 3, "max_db_users": 5},
            "tenant_bootstrap_rbac_preset": preset,
        }
    group_vars = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    doc = {
        "all": {
            "children": {
                "everest_tenants": {"hosts": hosts, "vars": group_vars},
                # the host the fleet play (bootstrap_fleet.yml, hosts: localhost) runs on
                "controller": {"hosts": {"localhost": dict(group_vars)}},
            }
        }
    }
    path.write_text(json.dumps(doc), encoding="utf-8")


FLOOR_PLAYBOOK = """---
- name: Floor - trivial module executions
  hosts: everest_tenants
  gather_facts: false
  tasks:
    - name: Ping as many times per host as the role executes modules per tenant
      ansible.builtin.ping:
      loop: "{{ range(floor_per_host | int) | list }}"
      when: floor_per_host | int > 0

    - name: Ping as many times as the role's run_once module executions
      ansible.builtin.ping:
      loop: "{{ range(floor_run_once | int) | list }}"
      run_once: true
      when: floor_run_once | int > 0
"""


FLEET_FLOOR_PLAYBOOK = """---
- name: Floor - as many trivial module executions as the fleet play makes
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Ping
      ansible.builtin.ping:
      loop: "{{ range(floor_run_once | int) | list }}"
"""


def ansible_env(sandbox, tmp, results_file):
    env = dict(os.environ)
    env.update(sandbox.env)
    env.update(
        {
            "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
            "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".venv" / "collections"),
            "ANSIBLE_CALLBACK_PLUGINS": str(REPO / "tests" / "integration" / "callback_plugins"),
            "ANSIBLE_CALLBACKS_ENABLED": "record",
            "EVEREST_TEST_RESULTS": str(results_file),
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible-local"),
            "ANSIBLE_HOME": str(tmp / "ansible-home"),
            "PATH": "%s:%s" % (Path(sys.executable).parent, os.environ.get("PATH", "")),
        }
    )
    return env


def count_executions(results_file, tenants):
    """Module executions of a run from the record callback: (per host, run once, total, tasks by kind)."""
    data = json.loads(Path(results_file).read_text(encoding="utf-8"))
    per_host = {}
    by_task = {}
    controller_tasks = 0
    for task in data["tasks"]:
        if task["action"] in NON_MODULE_ACTIONS:
            controller_tasks += sum(1 for r in task["hosts"].values() if r.get("_status") != "skipped")
            continue
        for host, result in task["hosts"].items():
            if result.get("_status") == "skipped" or result.get("skipped"):
                continue
            loop = result.get("results")
            if isinstance(loop, list) and loop and all(isinstance(item, dict) and "ansible_loop_var" in item for item in loop):
                n = sum(1 for item in loop if not item.get("skipped"))
            else:  # not a loop ("results" of e.g. everest_rbac_check is the module's own return value)
                n = 1
            per_host[host] = per_host.get(host, 0) + n
            key = "%s (%s)" % (task["name"], task["action"])
            by_task[key] = by_task.get(key, 0) + n
    total = sum(per_host.values())
    # every tenant runs the same per-tenant steps; what the minimum host runs is per host, the rest is run_once
    floor_per_host = min(per_host.get(tenant_name(i), 0) for i in range(tenants)) if tenants else 0
    return {
        "total": total,
        "per_host": floor_per_host,
        "run_once": total - floor_per_host * tenants,
        "by_task": by_task,
        "controller_task_results": controller_tasks,
    }


def phase(sandbox, tmp, tenants, argv, label):
    """One measured ansible-playbook run; returns (P dict of the contract, details dict)."""
    results_file = tmp / ("%s.json" % label)
    sandbox.reset_stats()
    calls_before = sandbox.call_count()
    sandbox_cpu_before = sandbox.cpu_seconds()
    started_mono = time.monotonic()
    load = os.getloadavg()[0]
    rc, wall, peaks, cpu, out = run_measured(argv, ansible_env(sandbox, tmp, results_file), str(REPO))
    (tmp / ("%s.log" % label)).write_text(out, encoding="utf-8")
    if rc != 0:
        sys.stderr.write(out[-6000:])
        raise SystemExit("bench phase %s failed (rc=%d), output in %s" % (label, rc, tmp / ("%s.log" % label)))
    stats = sandbox.stats()
    by_verb = stats.get("by_verb", {})
    result = {
        "wall_s": round(wall, 3),
        "per_tenant_s": round(wall / tenants, 4),
        "ratio_to_floor": None,
        "everestctl_calls": sandbox.call_count() - calls_before,
        "api_requests": {verb: int(by_verb.get(verb, 0)) for verb in VERBS},
        "peak_rss_mb": peaks["rss_mb"],
    }
    details = {
        "peaks": peaks,
        "load_1m_before": round(load, 2),
        "ansible_cpu_s": round(cpu, 2),
        "sandbox_cpu_s": round(sandbox.cpu_seconds() - sandbox_cpu_before, 2),
        "api_discovery": int(by_verb.get("discovery", 0)),
        "api_by_resource": {res: {v: n for v, n in counts.items() if n} for res, counts in stats.get("by_resource", {}).items()},
        "executions": count_executions(results_file, tenants),
        "calls": call_stats(sandbox.handle.calls()[calls_before:], started_mono),
    }
    return result, details


def _median(values):
    values = sorted(values)
    return values[len(values) // 2] if values else None


def call_stats(calls, started_mono):
    """What the everestctl call log says about one run: commands, how many ran at once, the Helm chart cache, when the
    namespace adds and the account writes ran (seconds after the run started), and what one account write cost early
    and late in the run (duration minus the latency model's sleep: the emulator's own time)."""

    def span(selected):
        if not selected:
            return None
        return {
            "first_start_s": round(min(c["mono_start"] for c in selected) - started_mono, 2),
            "last_end_s": round(max(c["mono_end"] for c in selected) - started_mono, 2),
            "latency_s_each": round(_median([c.get("latency_s", 0.0) for c in selected]), 4),
        }

    by_command = {}
    for call in calls:
        key = " ".join(call["argv"][:2])
        by_command[key] = by_command.get(key, 0) + 1
    adds = [c for c in calls if c["argv"][:2] == ["namespaces", "add"]]
    accounts = sorted((c for c in calls if c["argv"][:2] == ["accounts", "create"]), key=lambda c: c["mono_start"])
    net = [c["duration_s"] - c.get("latency_s", 0.0) for c in accounts]
    return {
        "by_command": by_command,
        "failed": sum(1 for c in calls if c["rc"] != 0),
        "max_concurrency": max_concurrency(calls) if calls else 0,
        "max_concurrent_adds": max_concurrency(adds) if adds else 0,
        "chart_downloads": sum(1 for c in calls if c.get("chart_cache") == "downloaded"),
        "chart_cache_race": any(c.get("chart_cache_race") for c in calls),
        "namespaces_add": span(adds),
        "accounts_create": span(accounts),
        "accounts_create_own_s": {
            "first_50_median": round(_median(net[:50]), 4) if net else None,
            "last_50_median": round(_median(net[-50:]), 4) if net else None,
            "accounts_in_secret_at_the_end": len(accounts),
        },
    }


def playbook_argv(inventory, forks, playbook, *extra):
    return [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), "-f", str(forks), str(playbook)] + list(extra)


def bench(tenants, forks, preset="namespace_admin", phases_wanted=PHASES):
    """Run the phases on a private sandbox; returns the result dict (contract keys + extras)."""
    tmp = Path(tempfile.mkdtemp(prefix="everest-bench-"))
    sandbox = Sandbox(tmp / "sandbox")
    phases, details = {}, {}
    try:
        inventory = tmp / "inventory.json"
        write_inventory(inventory, tenants, preset=preset)
        bootstrap = playbook_argv(inventory, forks, REPO / "playbooks" / "bootstrap.yml")
        policy_before = sandbox.policy_csv()
        phases["converge"], details["converge"] = phase(sandbox, tmp, tenants, bootstrap, "converge")
        policy_after = sandbox.policy_csv()
        if "noop" in phases_wanted or "floor" in phases_wanted:
            phases["noop"], details["noop"] = phase(sandbox, tmp, tenants, bootstrap, "noop")
        if "check" in phases_wanted:
            phases["check"], details["check"] = phase(sandbox, tmp, tenants, bootstrap + ["--check", "--diff"], "check")
        if "floor" in phases_wanted:
            ex = details["noop"]["executions"]
            floor_pb = tmp / "floor.yml"
            floor_pb.write_text(FLOOR_PLAYBOOK, encoding="utf-8")
            floor = playbook_argv(inventory, forks, floor_pb, "-e", "floor_per_host=%d floor_run_once=%d" % (ex["per_host"], ex["run_once"]))
            phases["floor"], details["floor"] = phase(sandbox, tmp, tenants, floor, "floor")
            for name in phases:
                phases[name]["ratio_to_floor"] = round(phases[name]["wall_s"] / phases["floor"]["wall_s"], 3)
        added = len(policy_after.encode("utf-8")) - len(policy_before.encode("utf-8"))
        return {
            "tenants": tenants,
            "forks": forks,
            "phases": phases,
            "details": details,
            "preset": preset,
            "work_dir": str(tmp),
            "policy_csv": {
                "preset": preset,
                "bytes_before": len(policy_before.encode("utf-8")),
                "bytes_after_converge": len(policy_after.encode("utf-8")),
                "bytes_per_tenant": round(added / float(tenants), 1),
                "sample_block": _first_block(policy_after),
            },
        }
    finally:
        sandbox.stop()


def bench_fleet(tenants, forks):
    """Fleet mode (playbook bootstrap_fleet.yml) at N tenants: converge, no-op, check, and a floor of as many trivial
    module executions as the no-op made (all on the controller)."""
    tmp = Path(tempfile.mkdtemp(prefix="everest-bench-fleet-"))
    sandbox = Sandbox(tmp / "sandbox")
    phases, details = {}, {}
    try:
        inventory = tmp / "inventory.json"
        write_inventory(inventory, tenants)
        fleet = playbook_argv(inventory, forks, REPO / "playbooks" / "bootstrap_fleet.yml")
        policy_before = sandbox.policy_csv()
        phases["converge"], details["converge"] = phase(sandbox, tmp, tenants, fleet, "converge")
        policy_after = sandbox.policy_csv()
        phases["noop"], details["noop"] = phase(sandbox, tmp, tenants, fleet, "noop")
        phases["check"], details["check"] = phase(sandbox, tmp, tenants, fleet + ["--check", "--diff"], "check")
        floor_pb = tmp / "floor.yml"
        floor_pb.write_text(FLEET_FLOOR_PLAYBOOK, encoding="utf-8")
        executions = details["noop"]["executions"]["total"]
        floor = playbook_argv(inventory, forks, floor_pb, "-e", "floor_run_once=%d" % executions)
        phases["floor"], details["floor"] = phase(sandbox, tmp, tenants, floor, "floor")
        for name in phases:
            phases[name]["ratio_to_floor"] = round(phases[name]["wall_s"] / phases["floor"]["wall_s"], 3)
        size = len(policy_after.encode("utf-8"))
        conv = phases["converge"]
        return {
            "tenants": tenants,
            "forks": forks,
            "playbook": "virakcloud.everest.bootstrap_fleet",
            "phases": phases,
            "details": details,
            "work_dir": str(tmp),
            "module_executions": {name: details[name]["executions"]["total"] for name in ("converge", "noop", "check")},
            "converge_everestctl_calls_per_s": round(conv["everestctl_calls"] / conv["wall_s"], 2),
            "policy_csv": {
                "bytes": size,
                "bytes_before": len(policy_before.encode("utf-8")),
                "configmap_limit_bytes": ONE_MIB,
                "headroom_bytes": ONE_MIB - size,
                "fraction_of_limit": round(size / float(ONE_MIB), 3),
            },
        }
    finally:
        sandbox.stop()


def fleet_targets(result):
    ph = result["phases"]
    out = {}
    for name in ("noop", "check"):
        p = ph[name]
        writes = sum(p["api_requests"][v] for v in WRITE_VERBS)
        out["%s_wall_lt_60s" % name] = {"value": p["wall_s"], "met": p["wall_s"] < 60}
        out["%s_zero_writes" % name] = {"value": writes, "met": writes == 0}
        out["%s_zero_everestctl" % name] = {"value": p["everestctl_calls"], "met": p["everestctl_calls"] == 0}
        out["%s_api_reads" % name] = {
            "value": p["api_requests"]["get"] + p["api_requests"]["list"],
            "met": None,
            "note": "compare reads_by_size across N: constant means independent of N",
        }
    return out


def _first_block(policy):
    """The lines of the first tenant's block (to show what one tenant costs in policy.csv)."""
    lines = policy.splitlines()
    out = [line for line in lines if tenant_name(0) in line]
    return out


def table(result):
    lines = [
        "| phase | wall s | s/tenant | x floor | everestctl | get | list | create | update | patch | delete | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in PHASES:
        if name not in result["phases"]:
            continue
        p = result["phases"][name]
        lines.append(
            "| %s | %.2f | %.3f | %s | %d | %s | %.0f |"
            % (
                name,
                p["wall_s"],
                p["per_tenant_s"],
                "-" if p["ratio_to_floor"] is None else "%.2f" % p["ratio_to_floor"],
                p["everestctl_calls"],
                " | ".join(str(p["api_requests"][v]) for v in VERBS),
                p["peak_rss_mb"],
            )
        )
    return "\n".join(lines)


def targets(result):
    """The issue's targets, evaluated (reported, not asserted)."""
    n = float(result["tenants"])
    ph = result["phases"]
    noop, check = ph["noop"], ph["check"]
    noop_writes = sum(noop["api_requests"][v] for v in WRITE_VERBS)
    noop_reads_per_tenant = (noop["api_requests"]["get"] + noop["api_requests"]["list"]) / n
    check_writes = sum(check["api_requests"][v] for v in WRITE_VERBS)
    return {
        "noop_zero_writes": {"value": noop_writes, "met": noop_writes == 0},
        "noop_zero_everestctl": {"value": noop["everestctl_calls"], "met": noop["everestctl_calls"] == 0},
        "noop_reads_per_tenant_le_4": {"value": round(noop_reads_per_tenant, 2), "met": noop_reads_per_tenant <= 4},
        "noop_wall_le_1_3x_floor": {"value": noop["ratio_to_floor"], "met": noop["ratio_to_floor"] <= 1.3},
        "converge_wall_le_1_5x_floor": {"value": ph["converge"]["ratio_to_floor"], "met": ph["converge"]["ratio_to_floor"] <= 1.5},
        "check_zero_writes": {"value": check_writes, "met": check_writes == 0},
    }


def growth_row(r):
    n = float(r["tenants"])
    row = {"tenants": r["tenants"]}
    for name in r["phases"]:
        p = r["phases"][name]
        row[name] = {
            "wall_s": p["wall_s"],
            "per_tenant_s": p["per_tenant_s"],
            "ratio_to_floor": p["ratio_to_floor"],
            "api_requests_per_tenant": round(sum(p["api_requests"].values()) / n, 2),
            "api_writes_per_tenant": round(sum(p["api_requests"][v] for v in WRITE_VERBS) / n, 2),
            "everestctl_calls_per_tenant": round(p["everestctl_calls"] / n, 2),
            "peak_rss_mb": p["peak_rss_mb"],
            "load_1m_before": r["details"][name]["load_1m_before"],
            "sandbox_cpu_s": r["details"][name]["sandbox_cpu_s"],
            "ansible_cpu_s": r["details"][name]["ansible_cpu_s"],
        }
    return row


def policy_analysis(samples):
    """bytes per tenant per preset and the N at which policy.csv reaches the 1 MiB ConfigMap limit."""
    out = {}
    for preset, sample in samples.items():
        per = sample["bytes_per_tenant"]
        base = sample["bytes_before"]
        out[preset] = {
            "bytes_per_tenant": per,
            "seed_bytes": base,
            "configmap_limit_bytes": ONE_MIB,
            "tenants_at_limit": int((ONE_MIB - base) // per) if per > 0 else None,
            "measured_with_tenants": sample["tenants"],
            "sample_block": sample["sample_block"],
        }
    return out


def run_fleet(output, forks, out_path):
    """Fleet mode at each size of BENCH_FLEET_TENANTS (default 1000; 0 = skip); the biggest is reported under "fleet"."""
    fleet_sizes = [int(x) for x in os.environ.get("BENCH_FLEET_TENANTS", "1000").split(",") if x.strip() and int(x) > 0]
    if not fleet_sizes:
        return
    series = []
    for n in fleet_sizes:
        fleet = bench_fleet(n, forks)
        print("\n## fleet mode, %d tenants\n" % n)
        print(table(fleet))
        series.append(fleet)
    biggest = series[-1]
    output["fleet"] = dict(
        biggest,
        targets=fleet_targets(biggest),
        reads_by_size={
            str(f["tenants"]): {name: f["phases"][name]["api_requests"]["get"] + f["phases"][name]["api_requests"]["list"] for name in ("noop", "check")}
            for f in series
        },
    )
    per_tenant = output.get("phases", {}).get("noop")
    if per_tenant:
        # the per-tenant mode at the fleet's size, extrapolated linearly from its own measurement (not run: too slow)
        output["fleet"]["per_tenant_mode_extrapolated"] = {
            "from_tenants": output.get("tenants"),
            "to_tenants": biggest["tenants"],
            "noop_wall_s": round(per_tenant["per_tenant_s"] * biggest["tenants"], 1),
            "converge_wall_s": round(output["phases"]["converge"]["per_tenant_s"] * biggest["tenants"], 1),
            "note": "linear extrapolation of the per-tenant mode's measured s/tenant; not measured at this size",
        }
    print("fleet targets: %s" % json.dumps(output["fleet"]["targets"]))
    out_path.write_text(json.dumps(output, indent=2, sort_keys=True) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------------- speed (#17)
# Converge under the sandbox's realistic latency model: every slow operation (namespace add per operator, chart
# download, account command, ...) scaled by BENCH_SPEED_SCALE so a run takes minutes, the Kubernetes API round trip
# kept at its real value (it is paid per request, mostly by the modules one after another). The wall time at real
# scale is then projected by adding back the scaled-away part of the sleeps on the run's critical path.


def _ints(name, default):
    return [int(x) for x in os.environ.get(name, default).split(",") if x.strip() and int(x) > 0]


def speed_env(scale):
    """The latency variables of the speed runs."""
    real_api = latency.PROFILES["realistic"]["kube_api_s"]
    return {
        latency.PROFILE_ENV: "realistic",
        latency.SCALE_ENV: repr(scale),
        latency.env_name("kube_api_s"): repr(real_api / scale),  # the scale applies to every knob: this one stays real
    }


def projection(real, tenants, calls, wall, scale, parallelism=None, forks=None, operators=2):
    """Projected wall time at real scale, with its arithmetic. ``real``: the realistic profile's seconds; ``calls``:
    the run's call_stats. Fleet mode (``parallelism``): the batch's first add runs alone (it fills the chart cache),
    then the others in rounds of ``parallelism``; the accounts run in the background meanwhile, and only the part of
    them that would outlast the namespaces counts. Per-tenant mode (``forks``): hosts run the namespace task ``forks``
    at a time (their first round all download the chart), then the accounts one after another under the Lease. The
    measured wall already holds ``scale`` times these sleeps, so (1 - scale) times them is added; the sandbox's own
    costs (emulator processes started in Python, on 2 cores) stay in it, which errs on the slow side."""
    add = real["ns_add_base_s"] + operators * real["ns_add_per_operator_s"]
    if parallelism:
        rounds = 1 + math.ceil((tenants - 1) / float(parallelism))
        how = "chart %.0f s + (1 + ceil((%d - 1) / %d) = %d rounds) x %.0f s per add" % (real["chart_download_s"], tenants, parallelism, rounds, add)
    else:
        rounds = math.ceil(tenants / float(forks))
        how = "chart %.0f s + (ceil(%d / %d forks) = %d rounds) x %.0f s per add" % (real["chart_download_s"], tenants, forks, rounds, add)
    namespaces_real = real["chart_download_s"] + rounds * add
    accounts_sleep = tenants * real["accounts_s"]
    added = (1 - scale) * namespaces_real
    out = {
        "add_real_s": add,
        "rounds": rounds,
        "namespace_sleep_real_s": round(namespaces_real, 1),
        "namespace_sleep_formula": how,
        "accounts_sleep_real_s": round(accounts_sleep, 1),
    }
    ns_span, acc_span = calls.get("namespaces_add"), calls.get("accounts_create")
    if parallelism:
        # both started at about the same time; the run waits for the later of the two
        ns_real = (ns_span["last_end_s"] - ns_span["first_start_s"] if ns_span else 0) + added
        acc_real = (acc_span["last_end_s"] - acc_span["first_start_s"] if acc_span else 0) + (1 - scale) * accounts_sleep
        extra = max(0.0, acc_real - ns_real)
        out["accounts_outlast_namespaces_s"] = round(extra, 1)
        added += extra
        out["formula"] = "measured %.1f s + (1 - %g) x %.0f s (namespace sleeps) + %.1f s (accounts beyond the namespaces)" % (
            wall,
            scale,
            namespaces_real,
            extra,
        )
    else:
        added += (1 - scale) * accounts_sleep
        out["formula"] = "measured %.1f s + (1 - %g) x (%.0f s namespace sleeps + %.0f s account sleeps)" % (wall, scale, namespaces_real, accounts_sleep)
    out["projected_wall_s"] = round(wall + added, 1)
    out["projected_wall_min"] = round((wall + added) / 60.0, 1)
    out["serial_adds_real_s"] = round(real["chart_download_s"] + tenants * add, 1)
    return out


def speed_run(tenants, env, scale, parallelism=None, forks=5, noop=False):
    """One converge under the scaled model (fleet mode with ``parallelism``, else per-tenant mode with ``forks``); with
    ``noop`` also the no-op and check runs, with the API latency on (as launched) and off."""
    tmp = Path(tempfile.mkdtemp(prefix="everest-bench-speed-"))
    sandbox = Sandbox(tmp / "sandbox", extra_env=env)
    try:
        inventory = tmp / "inventory.json"
        write_inventory(inventory, tenants, two_operators=True)
        if parallelism:
            argv = playbook_argv(inventory, forks, REPO / "playbooks" / "bootstrap_fleet.yml", "-e", "tenant_bootstrap_fleet_parallelism=%d" % parallelism)
        else:
            argv = playbook_argv(inventory, forks, REPO / "playbooks" / "bootstrap.yml")
        phases, details = {}, {}
        phases["converge"], details["converge"] = phase(sandbox, tmp, tenants, argv, "converge")
        real = latency.PROFILES["realistic"]
        result = {
            "tenants": tenants,
            "mode": "fleet" if parallelism else "per_tenant",
            "parallelism": parallelism,
            "forks": forks,
            "phases": phases,
            "details": details,
            "work_dir": str(tmp),
            "projection": projection(
                real, tenants, details["converge"]["calls"], phases["converge"]["wall_s"], scale, parallelism, None if parallelism else forks
            ),
        }
        if noop:
            for label in ("noop", "check"):
                extra = ["--check", "--diff"] if label == "check" else []
                phases[label + "_latency_on"], details[label + "_latency_on"] = phase(sandbox, tmp, tenants, argv + extra, label + "-on")
            sandbox.handle.faults(latency_ms=0)
            for label in ("noop", "check"):
                extra = ["--check", "--diff"] if label == "check" else []
                phases[label + "_latency_off"], details[label + "_latency_off"] = phase(sandbox, tmp, tenants, argv + extra, label + "-off")
        return result
    finally:
        sandbox.stop()


def speed_row(run):
    conv = run["phases"]["converge"]
    calls = run["details"]["converge"]["calls"]
    peaks = run["details"]["converge"]["peaks"]
    return "| %s | %d | %s | %.1f | %d | %d | %d | %.0f | %.0f | %.1f |" % (
        run["mode"],
        run["tenants"],
        ("parallelism %d" % run["parallelism"]) if run["parallelism"] else ("forks %d" % run["forks"]),
        conv["wall_s"],
        conv["everestctl_calls"],
        calls["max_concurrent_adds"],
        peaks["everestctl_procs"],
        peaks["controller_rss_mb"],
        peaks["rss_mb"],
        run["projection"]["projected_wall_min"],
    )


def run_speed(output, out_path):
    """The issue #17 measurements (BENCH_SPEED=0 skips them)."""
    if os.environ.get("BENCH_SPEED", "1") == "0":
        return
    scale = float(os.environ.get("BENCH_SPEED_SCALE", "0.01"))
    env = speed_env(scale)
    model = latency.from_env(env)
    fleet_sizes = _ints("BENCH_SPEED_FLEET", "100,1000")
    parallelisms = _ints("BENCH_SPEED_PARALLELISM", "4,50")
    per_tenant_sizes = _ints("BENCH_SPEED_PER_TENANT", "100")
    forks_list = _ints("BENCH_SPEED_FORKS", "5,20")
    speed = {
        "scale": scale,
        "latency_model": model.describe(),
        "fleet": [],
        "per_tenant": [],
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    output["speed"] = speed
    speed["accounts_yaml_cost"] = accounts_yaml_cost()
    print("accounts create, users.yaml work per call: %s" % json.dumps(speed["accounts_yaml_cost"]))
    print("\n## converge under the realistic latency model x %g (API round trip real)\n" % scale)
    print("| mode | tenants | | wall s | everestctl | adds at once | everestctl procs | controller MB | tree MB | projected min |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n in fleet_sizes:
        for i, par in enumerate(parallelisms):
            run = speed_run(n, env, scale, parallelism=par, noop=i == len(parallelisms) - 1)
            speed["fleet"].append(run)
            print(speed_row(run))
            out_path.write_text(json.dumps(output, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    for n in per_tenant_sizes:
        for forks in forks_list:
            run = speed_run(n, env, scale, forks=forks)
            speed["per_tenant"].append(run)
            print(speed_row(run))
            out_path.write_text(json.dumps(output, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    speed["targets"] = speed_targets(speed)
    print("speed targets: %s" % json.dumps(speed["targets"]))
    out_path.write_text(json.dumps(output, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def speed_targets(speed):
    """The issue's targets: 1,000 new tenants projected under 45 min in fleet mode (best parallelism measured), no-op
    and check under 60 s with 0 writes and reads independent of N, latency on and off."""
    out = {}
    biggest = [r for r in speed["fleet"] if r["tenants"] == max(x["tenants"] for x in speed["fleet"])] if speed["fleet"] else []
    if biggest:
        best = min(biggest, key=lambda r: r["projection"]["projected_wall_s"])
        out["fleet_%d_projected_lt_45min" % best["tenants"]] = {
            "value_min": best["projection"]["projected_wall_min"],
            "parallelism": best["parallelism"],
            "serial_adds_h": round(best["projection"]["serial_adds_real_s"] / 3600.0, 1),
            "met": best["projection"]["projected_wall_s"] < 45 * 60,
        }
    reads = {}
    for run in speed["fleet"]:
        for name, p in run["phases"].items():
            if name == "converge":
                continue
            writes = sum(p["api_requests"][v] for v in WRITE_VERBS)
            key = "%s_%d" % (name, run["tenants"])
            out[key] = {
                "wall_s": p["wall_s"],
                "writes": writes,
                "everestctl": p["everestctl_calls"],
                "reads": p["api_requests"]["get"] + p["api_requests"]["list"],
                "met": p["wall_s"] < 60 and writes == 0 and p["everestctl_calls"] == 0,
            }
            reads.setdefault(name, set()).add(out[key]["reads"])
    out["reads_independent_of_n"] = {name: sorted(values) for name, values in reads.items()}
    return out


def accounts_yaml_cost(sizes=(1, 100, 1000), repeat=3):
    """What one emulated ``accounts create`` spends on users.yaml (two parses and one dump) with N users in the Secret:
    the libyaml path the emulator uses and the pure-Python path it had before (same bytes; CPU ms, best of ``repeat``)."""
    from everest_sandbox.everestctl import yamlv2  # pylint: disable=import-outside-toplevel

    out = {}
    for n in sizes:
        users = {
            "u%04d" % i: {"enabled": True, "capabilities": ["login"], "passwordMtime": "2026-01-01T00:00:00Z", "passwordHash": b"\x01" * 32} for i in range(n)
        }
        text = yamlv2.dump_users(users)
        row = {"bytes": len(text)}
        for label, loader, fast in (("libyaml_ms", yamlv2.FastLoader, True), ("pure_python_ms", yamlv2.PureLoader, False)):
            best = None
            for _attempt in range(repeat):
                started = time.process_time()
                yamlv2.load_users(text, loader=loader)
                yamlv2.load_users(text, loader=loader)
                same = yamlv2.dump_users(users, fast=fast) == text
                best = min(best or 1e9, time.process_time() - started)
            row[label] = round(best * 1000, 2)
            row["same_bytes"] = row.get("same_bytes", True) and same
        out[str(n)] = row
    return out


def latency_model():
    """The latency model the sandboxes of this run use (what the launcher will read from the same environment)."""
    try:
        return latency.from_env().describe()
    except latency.LatencyError as exc:
        raise SystemExit("bench: %s" % exc) from None


QUICK = {
    "BENCH_TENANTS": "10",
    "BENCH_PRESETS": "namespace_admin",
    "BENCH_FLEET_TENANTS": "100",
    "BENCH_SPEED_FLEET": "100",
    "BENCH_SPEED_PER_TENANT": "20",
}


def main():
    if os.environ.get("BENCH_QUICK") == "1":  # a few minutes: every suite at small sizes (variables set explicitly win)
        for name, value in QUICK.items():
            os.environ.setdefault(name, value)
    model = latency_model()
    tenants = int(os.environ.get("BENCH_TENANTS", "50"))
    forks = int(os.environ.get("BENCH_FORKS", "5"))
    growth = [int(x) for x in os.environ.get("BENCH_GROWTH", "").split(",") if x.strip()]
    presets = [x.strip() for x in os.environ.get("BENCH_PRESETS", "namespace_admin,read_only").split(",") if x.strip()]
    out_path = Path(os.environ.get("BENCH_OUTPUT", str(REPO / "bench" / "results" / "latest.json")))
    out_path.parent.mkdir(parents=True, exist_ok=True)

    if tenants == 0:
        # fleet only: keep the per-tenant results already in the output file, replace its "fleet" part
        output = json.loads(out_path.read_text(encoding="utf-8")) if out_path.exists() else {}
        output["fleet_latency_model"] = model
        run_fleet(output, forks, out_path)
        run_speed(output, out_path)
        print("\nwrote %s" % out_path)
        return
    result = bench(tenants, forks)
    print("\n## %d tenants, forks %d\n" % (tenants, forks))
    print(table(result))
    output = {
        "tenants": tenants,
        "forks": forks,
        "phases": result["phases"],
        "details": result["details"],
        "targets": targets(result),
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpus": os.cpu_count(),
        "latency_model": model,
    }
    print("\ntargets: %s" % json.dumps(output["targets"]))
    samples = {"namespace_admin": dict(result["policy_csv"], tenants=tenants)}
    for preset in presets:
        if preset not in samples:
            sample_n = min(tenants, 10)
            samples[preset] = dict(bench(sample_n, forks, preset=preset, phases_wanted=("converge",))["policy_csv"], tenants=sample_n)
    output["policy_csv"] = policy_analysis(samples)
    print(
        "policy.csv: %s"
        % json.dumps({k: {"bytes_per_tenant": v["bytes_per_tenant"], "tenants_at_limit": v["tenants_at_limit"]} for k, v in output["policy_csv"].items()})
    )
    out_path.write_text(json.dumps(output, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    if growth:
        # written after each size, so a long series leaves its finished part behind
        growth_phases = tuple(x.strip() for x in os.environ.get("BENCH_GROWTH_PHASES", ",".join(PHASES)).split(",") if x.strip())
        output["growth"] = []
        for n in growth:
            row = growth_row(result) if n == tenants else growth_row(bench(n, forks, phases_wanted=growth_phases))
            output["growth"].append(row)
            print("growth %d tenants: %s" % (n, json.dumps(row)))
            out_path.write_text(json.dumps(output, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    run_fleet(output, forks, out_path)
    run_speed(output, out_path)
    print("\nwrote %s" % out_path)


if __name__ == "__main__":
    main()
