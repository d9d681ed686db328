"""Unit tests of the tenant_info module (boundary faked: the Kubernetes client)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "module_utils"))

from test_trp_support import FakeClient, run_module  # noqa: E402  pylint: disable=wrong-import-position
from test_trp import seed_tenant_world  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.virakcloud.everest.plugins.modules import tenant_info  # noqa: E402  pylint: disable=wrong-import-position


def test_lists_tenants_with_drift_and_writes_nothing(monkeypatch, capsys):
    client = FakeClient()
    seed_tenant_world(client)
    failed, res = run_module(tenant_info, {}, client, monkeypatch, capsys, check=True)
    assert not failed and res["changed"] is False
    assert [t["namespace"] for t in res["tenants"]] == ["ns-alice", "ns-bob", "ns-gone"]
    assert res["tenants"][0]["drift"]["missing_accounts"] == ["ghost"]
    assert res["tenants"][1]["drift"]["over_limits"] == ["cpu"]
    assert "warnings" not in res["tenants"][0]
    assert client.writes() == []


def test_one_namespace(monkeypatch, capsys):
    client = FakeClient()
    seed_tenant_world(client)
    failed, res = run_module(tenant_info, {"namespace": "ns-bob"}, client, monkeypatch, capsys)
    assert not failed and [t["namespace"] for t in res["tenants"]] == ["ns-bob"]
    failed, res = run_module(tenant_info, {"namespace": "ns-none"}, client, monkeypatch, capsys)
    assert not failed and res["tenants"] == []
