"""`make demo` (scripts/demo.sh), the README's first command, runs end to end against its own private sandbox.

The script itself fails when the no-op run changes anything, calls everestctl or writes to the API, and when the
check-mode run writes; this test adds what a reader of its output relies on, and that no demo password is shown."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO_PASSWORDS = ("StrongP@ssw0rd", "AnotherP@ss1", "DevP@ssw0rd1")


@pytest.mark.integration
@pytest.mark.slow
def test_make_demo_runs_end_to_end(tmp_path):
    env = dict(os.environ, SANDBOX_DIR=str(tmp_path / "sbx"), PY=sys.executable)
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "demo.sh")],
        cwd=str(ROOT),
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
        timeout=1200,
    )
    out = proc.stdout
    assert proc.returncode == 0, out[-6000:]
    for step in ("== 1. Bootstrap Alice and Bob", "== 2. The same again", "== 3. Drift report", "== 4. Fleet mode", "== 5. Tenant report", "sandbox stopped"):
        assert step in out, step
    noop = out.split("== 2. The same again")[1].split("== 3.")[0]
    assert "everestctl calls: 0" in noop and "of which writes: 0" in noop
    drift = out.split("== 3. Drift report")[1].split("== 4.")[0]
    assert "alice_dev" in drift and "maxClusters: 5" in drift and "of which writes: 0" in drift
    assert not any(p in out for p in DEMO_PASSWORDS)
