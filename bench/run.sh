#!/usr/bin/env bash
# `make bench`: benchmarks the tenant_bootstrap role against a private sandbox; see bench/bench.py.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
exec "$PY" bench/bench.py "$@"
