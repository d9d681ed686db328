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
    """Sum of VmRSS of pid and all its descendants (Linux /proc)."""
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
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        try:
            with open("/proc/%d/status" % current, encoding="utf-8") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total


def _cpu_seconds(pid):
    """utime + stime of one process (Linux /proc)."""
    with open("/proc/%d/stat" % pid, encoding="utf-8") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / float(CLK_TCK)


def _children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_measured(argv, env, cwd, sample_s=0.1):
    """Run a command; return (returncode, wall s, peak RSS MB of its process tree, CPU s of the tree, output)."""
    cpu_before = _children_cpu_seconds()
    started = time.monotonic()
    with subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL) as proc:
        peak = [0]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], _process_tree_rss_kb(proc.pid))
                done.wait(sample_s)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        out, _err = proc.communicate()
        wall = time.monotonic() - started
        done.set()
        sampler.join()
    return proc.returncode, wall, peak[0] / 1024.0, _children_cpu_seconds() - cpu_before, out.decode("utf-8", "replace")


class Sandbox:
    """A private sandbox server process (python -m everest_sandbox serve) and the handle to talk to it."""

    def __init__(self, directory):
        self.dir = Path(directory)
        env = dict(os.environ)
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


def write_inventory(path, tenants, preset="namespace_admin"):
    """N tenants like the example inventory: one user each, postgresql (+ mysql for every second tenant)."""
    hosts = {}
    for i in range(tenants):
        name = tenant_name(i)
        hosts[name] = {
            "tenant_bootstrap_users": [{"username": "%s_user" % name, "password": "Bench-%04d-pass" % i}],
            "tenant_bootstrap_operators": {"postgresql": True, "mysql": i % 2 == 0, "mongodb": False},
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
    load = os.getloadavg()[0]
    rc, wall, rss, cpu, out = run_measured(argv, ansible_env(sandbox, tmp, results_file), str(REPO))
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
        "peak_rss_mb": round(rss, 1),
    }
    details = {
        "load_1m_before": round(load, 2),
        "ansible_cpu_s": round(cpu, 2),
        "sandbox_cpu_s": round(sandbox.cpu_seconds() - sandbox_cpu_before, 2),
        "api_discovery": int(by_verb.get("discovery", 0)),
        "api_by_resource": {res: {v: n for v, n in counts.items() if n} for res, counts in stats.get("by_resource", {}).items()},
        "executions": count_executions(results_file, tenants),
    }
    return result, details


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


def latency_model():
    """The latency model the sandboxes of this run use (what the launcher will read from the same environment)."""
    try:
        return latency.from_env().describe()
    except latency.LatencyError as exc:
        raise SystemExit("bench: %s" % exc) from None


def main():
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
    print("\nwrote %s" % out_path)


if __name__ == "__main__":
    main()
