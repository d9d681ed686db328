#!/usr/bin/env bash
# `make demo`: bootstrap the example tenants (Alice and Bob, the requirement's example tenants) into a private sandbox, show that a second
# run changes nothing and runs no everestctl, show the check-mode drift report of a changed inventory, print the
# tenant report, and stop the sandbox. Non-interactive; needs only the venv (`make venv`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PY:-$ROOT/.venv/bin/python}"
BIN="$(dirname "$PY")"
DEMO_DIR="${SANDBOX_DIR:-.sandbox}/demo"   # a private sandbox, never the one `make sandbox-start` runs
INVENTORY="inventories/example/hosts.yml"
CHANGES="inventories/example/demo-changes.yml"

export ANSIBLE_CONFIG="$ROOT/ansible.cfg"
export ANSIBLE_COLLECTIONS_PATH="$ROOT/.venv/collections"
export ANSIBLE_PYTHON_INTERPRETER="$PY"
export ANSIBLE_NOCOLOR="${ANSIBLE_NOCOLOR:-1}"
export ANSIBLE_LOCALHOST_WARNING=false

section() {
  printf '\n%s\n== %s\n%s\n' "==================================================================" "$1" \
    "=================================================================="
}

sandbox() { PYTHONPATH="$ROOT/tests/sandbox" "$PY" -m everest_sandbox "$@" --dir "$DEMO_DIR"; }

stop_sandbox() {
  section "Stopping the demo sandbox ($DEMO_DIR)"
  sandbox stop || true
}

sandbox_stats() {
  "$PY" - <<'PYEOF'
import json, os, urllib.request
req = urllib.request.Request(os.environ["EVEREST_SANDBOX_URL"] + "/_sandbox/stats",
                             headers={"Authorization": "Bearer " + os.environ["EVEREST_SANDBOX_TOKEN"]})
stats = json.load(urllib.request.urlopen(req))
verbs = stats["by_verb"]
writes = sum(verbs.get(v, 0) for v in ("create", "update", "patch", "delete"))
print("Kubernetes API requests: %d, of which writes: %d" % (stats["total"], writes))
with open(os.environ["DEMO_WRITES_FILE"], "w") as handle:
    handle.write(str(writes))
PYEOF
}

# The number of API writes the last sandbox_stats counted, and the sum of changed= over a PLAY RECAP.
last_writes() { cat "$DEMO_WRITES_FILE"; }
recap_changed() { awk '/PLAY RECAP/ {r = 1} r && match($0, /changed=[0-9]+/) {n += substr($0, RSTART + 8, RLENGTH - 8)} END {print n + 0}'; }
expect_zero() {  # expect_zero WHAT VALUE
  if [ "$2" != "0" ]; then echo "unexpected: $1 is $2, expected 0"; exit 1; fi
}

reset_counters() {
  : > "$EVEREST_SANDBOX_CALL_LOG"
  "$PY" - <<'PYEOF'
import os, urllib.request
req = urllib.request.Request(os.environ["EVEREST_SANDBOX_URL"] + "/_sandbox/stats/reset", method="POST", data=b"",
                             headers={"Authorization": "Bearer " + os.environ["EVEREST_SANDBOX_TOKEN"]})
urllib.request.urlopen(req).read()
PYEOF
}

everestctl_calls() { grep -c . "$EVEREST_SANDBOX_CALL_LOG" || true; }

DEMO_WRITES_FILE="$(mktemp)"
export DEMO_WRITES_FILE

section "Starting a private sandbox (Kubernetes API + everestctl emulators) in $DEMO_DIR"
sandbox stop >/dev/null 2>&1 || true
sandbox start
trap 'stop_sandbox; rm -f "$DEMO_WRITES_FILE"' EXIT
# shellcheck disable=SC1091
source "$DEMO_DIR/env"

section "1. Bootstrap Alice and Bob: ansible-playbook -i $INVENTORY virakcloud.everest.bootstrap"
reset_counters
"$BIN/ansible-playbook" -i "$INVENTORY" virakcloud.everest.bootstrap
echo "everestctl calls: $(everestctl_calls)"
sandbox_stats

section "2. The same again: nothing changes (changed=0), no everestctl call, no write"
reset_counters
output="$("$BIN/ansible-playbook" -i "$INVENTORY" virakcloud.everest.bootstrap)"
printf '%s\n' "$output" | sed -n '/PLAY RECAP/,$p'
calls="$(everestctl_calls)"
echo "everestctl calls: $calls"
sandbox_stats
expect_zero "the no-op run's changed count" "$(printf '%s\n' "$output" | recap_changed)"
expect_zero "the no-op run's everestctl calls" "$calls"
expect_zero "the no-op run's API writes" "$(last_writes)"

section "3. Drift report: check mode with --diff against a changed inventory ($CHANGES: Alice gets more and a second user)"
reset_counters
"$BIN/ansible-playbook" -i "$INVENTORY" -i "$CHANGES" virakcloud.everest.bootstrap --check --diff
sandbox_stats
expect_zero "the check-mode run's API writes" "$(last_writes)"
expect_zero "the check-mode run's everestctl calls" "$(everestctl_calls)"
echo "(check mode: nothing above was applied)"

section "4. Fleet mode, the same tenants in one pass (what large fleets use): ansible-playbook -i $INVENTORY virakcloud.everest.bootstrap_fleet"
reset_counters
"$BIN/ansible-playbook" -i "$INVENTORY" virakcloud.everest.bootstrap_fleet \
  | awk '/Summary \| table/ && !seen {p = 1; seen = 1} p && /^$/ {p = 0} p; /PLAY RECAP/ {r = 1} r'
calls="$(everestctl_calls)"
echo "everestctl calls: $calls (the per-tenant run above already converged everything)"
sandbox_stats
expect_zero "the fleet no-op run's everestctl calls" "$calls"
expect_zero "the fleet no-op run's API writes" "$(last_writes)"

section "5. Tenant report: ansible-playbook -i $INVENTORY virakcloud.everest.report"
"$BIN/ansible-playbook" -i "$INVENTORY" virakcloud.everest.report

section "Done. Try: make sandbox-start && source .sandbox/env, then the playbooks in playbooks/ yourself."
