"""Integration test of tenant_info: tenants broken by hand are reported with the right drift flags."""

import pytest

from test_trp_integration import Api, run_policy

pytestmark = pytest.mark.integration


@pytest.fixture(name="api")
def fixture_api(clean_sandbox):
    """Direct API access to the sandbox, reset to its seeded state first."""
    return Api(clean_sandbox)


def test_tenant_info_reports_drift(ansible, api, sandbox):
    tenants = {
        "tinfo-ok": dict(managed=True, users=["admin"]),
        "tinfo-unmanaged": dict(managed=False, users=None),
        "tinfo-ghost": dict(managed=True, users=["admin", "ghost_user"]),
        "tinfo-over": dict(managed=True, users=[]),
    }
    original = None
    try:
        for ns, spec in tenants.items():
            api.namespace(ns, managed=spec["managed"])
        items = [{"namespace": ns, "limits": {"cpu": 1, "max_clusters": 2}, "allowed_engines": ["postgresql"], "cluster_quota": False} for ns in tenants]
        run = run_policy(ansible, policies=items)[0]
        assert run.rc == 0, run.output
        assert api.cluster("tinfo-over", "big", cpu=2, memory="1Gi")[0] == 201
        assert api.cluster("tinfo-ok", "small", cpu="500m", memory="1Gi")[0] == 201
        original = api.get("/api/v1/namespaces/everest-system/configmaps/everest-rbac")
        for ns, spec in tenants.items():
            if spec["users"] is not None:
                api.add_rbac_block(ns, spec["users"])

        sandbox.reset_stats()
        run = ansible.playbook("trp/info.yml", check=True)
        assert run.rc == 0, run.output
        assert api.writes() == {}
        by_ns = dict((t["namespace"], t) for t in run.result("Tenants")["tenants"])
        assert set(tenants) <= set(by_ns)

        ok = by_ns["tinfo-ok"]
        assert ok["managed"] is True and ok["drifted"] is False
        assert ok["users"] == ["admin"]
        assert ok["limits"] == {"cpu_cores": 1, "memory_bytes": None, "max_clusters": 2, "max_db_users": None}
        assert ok["usage"] == {"clusters": 1, "cpu_cores": 0.5, "memory_bytes": 2**30, "db_users": 1}
        assert ok["headroom"] == {"clusters": 1, "cpu_cores": 0.5, "memory_bytes": None, "db_users": None}
        assert ok["allowed_engines"] == ["postgresql"]

        unmanaged = by_ns["tinfo-unmanaged"]["drift"]
        assert unmanaged["namespace_not_managed"] is True and unmanaged["rbac_block_missing"] is True
        assert by_ns["tinfo-unmanaged"]["drifted"] is True

        ghost = by_ns["tinfo-ghost"]
        assert ghost["drift"]["missing_accounts"] == ["ghost_user"] and ghost["drifted"] is True
        assert ghost["drift"]["namespace_not_managed"] is False and ghost["drift"]["rbac_block_missing"] is False

        over = by_ns["tinfo-over"]
        assert over["drift"]["over_limits"] == ["cpu"] and over["headroom"]["cpu_cores"] == -1 and over["drifted"] is True

        run = ansible.playbook("trp/info.yml", extra_vars={"info_namespace": "tinfo-ghost"})
        assert run.rc == 0, run.output
        assert [t["namespace"] for t in run.result("Tenants")["tenants"]] == ["tinfo-ghost"]
    finally:
        if original is not None:
            api.restore_rbac(original)
