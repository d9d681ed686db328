"""SSO identities in everest_rbac_check and everest_rbac_policy (issue 19): a check with groups answered as Everest
answers a token (reference §9.2), the isolation matrix over OIDC subjects and IdP groups, the everestctl cross-check
that ORs `can` over the subject and each group (reference §9.3), and members two tenants' blocks share on purpose."""

import random

import pytest

from ansible_collections.virakcloud.everest.plugins.module_utils import _quota, _rbac, _rbac_check, _rbac_policy, _tenants
from ansible_collections.virakcloud.everest.plugins.modules import everest_rbac_check, everest_rbac_policy

from test_everest_rbac import FakeClient, FakeEverestctl, run, text_of
from test_everest_rbac import client, fake_everestctl  # noqa: F401  pylint: disable=unused-import


def tenant_block(tenant, namespace, members, shared=(), preset="namespace_admin"):
    lines = [_rbac.block_meta_line(tenant, namespace)] + [_rbac.shared_meta_line(n) for n in shared]
    return _rbac.render_block(namespace, lines + _tenants.preset_lines(namespace, list(members), preset))


POLICY = "g, admin, role:admin\n" + tenant_block("acme", "ns-acme", ["00u1acme", "/acme/dbas"]) + tenant_block("beta", "ns-beta", ["beta", "beta-ops"])
GRANTS = _tenants.grants("namespace_admin")


def check(subject, obj, groups=None, action="read", resource="database-clusters", expect=None):
    out = {"subject": subject, "action": action, "resource": resource, "object": obj}
    if groups is not None:
        out["groups"] = groups
    if expect:
        out["expect"] = expect
    return out


def test_a_token_is_allowed_when_its_subject_or_any_group_is(capsys):
    checks = [
        check("carol", "ns-acme/db1", groups=["staff", "/acme/dbas"], expect="allow"),
        check("carol", "ns-acme/db1", expect="deny"),  # the group dropped from the token
        check("carol", "ns-beta/db1", groups=["staff", "/acme/dbas"], expect="deny"),
        check("00u1acme", "ns-acme/db1", groups=[], expect="allow"),  # the subject alone
        check("carol", "ns-beta/db1", groups=["/acme/dbas", "beta-ops"], expect="allow"),  # a union, never a subtraction
    ]
    result = run(everest_rbac_check, {"policy": POLICY, "checks": checks}, capsys)
    assert not result.get("failed"), result
    assert [(r["allowed"], r["matched"]) for r in result["results"]] == [
        (True, "/acme/dbas"),
        (False, None),
        (False, None),
        (True, "00u1acme"),
        (True, "beta-ops"),
    ]
    assert result["results"][0]["groups"] == ["staff", "/acme/dbas"] and "groups" not in result["results"][1]
    assert result["results"][0]["rule"] == "p, role:tenant-ns-acme, database-clusters, *, ns-acme/*"


@pytest.mark.parametrize("seed", range(4))
def test_groups_answers_are_the_or_of_every_name_asked_alone(seed, capsys):
    rng = random.Random(seed)
    names = ["00u1acme", "/acme/dbas", "beta", "beta-ops", "admin", "nobody", "staff"]
    objects = ["ns-acme/db1", "ns-beta/db1", "ns-acme", "ns-beta", "*"]
    resources = ["database-clusters", "namespaces", "backup-storages"]
    enforcer = _rbac.Enforcer(POLICY)
    checks = []
    for _round in range(40):
        checks.append(
            {
                "subject": rng.choice(names),
                "groups": rng.sample(names, rng.randint(0, 3)),
                "action": rng.choice(["read", "create", "delete", "*"]),
                "resource": rng.choice(resources),
                "object": rng.choice(objects),
            }
        )
    result = run(everest_rbac_check, {"policy": POLICY, "checks": checks}, capsys)
    for item, asked in zip(result["results"], checks):
        expected = any(enforcer.can(n, asked["action"], asked["resource"], asked["object"]) is not None for n in [asked["subject"]] + asked["groups"])
        assert item["allowed"] is expected, (asked, item)


def test_disabled_rbac_allows_a_token_too(client, capsys):  # noqa: F811
    client["client"] = FakeClient(POLICY, enabled="false")
    result = run(everest_rbac_check, {"checks": [check("carol", "ns-beta/db1", groups=["/acme/dbas"])]}, capsys)
    assert result["results"][0]["allowed"] is True and result["results"][0]["reason"] == "rbac_disabled"


ISO = [
    {"name": "acme", "namespace": "ns-acme", "users": [], "sso_subjects": ["00u1acme"], "sso_groups": ["/acme/dbas"], "grants": GRANTS},
    {"name": "beta", "namespace": "ns-beta", "users": ["beta"], "sso_groups": ["beta-ops"], "grants": GRANTS},
]


def test_the_isolation_matrix_asks_every_sso_identity(capsys):
    result = run(everest_rbac_check, {"policy": POLICY, "tenants": ISO}, capsys)
    assert not result.get("failed"), result["msg"] if result.get("failed") else ""
    # 4 identities x 2 namespaces x 8 resources x 2 actions
    assert result["checks_total"] == 4 * 2 * 8 * 2
    leaky = POLICY + "g, /acme/dbas, role:tenant-ns-beta\n"
    result = run(everest_rbac_check, {"policy": leaky, "tenants": ISO}, capsys)
    assert result["failed"]
    assert set((m["tenant"], m["target_tenant"], m["subject"], m["kind"]) for m in result["mismatches"]) == {("acme", "beta", "/acme/dbas", "sso_group")}
    assert result["messages"][0].startswith("tenant acme -> tenant beta: IdP group /acme/dbas CAN read namespaces on ns-beta")


def test_a_shared_identity_is_its_other_tenants_own_only_when_both_declare_it(capsys):
    shared_policy = (
        "g, admin, role:admin\n"
        + tenant_block("acme", "ns-acme", ["00u1acme", "corp-oncall"], shared=["corp-oncall"])
        + tenant_block("beta", "ns-beta", ["beta", "corp-oncall"], shared=["corp-oncall"])
    )
    tenants = [
        dict(ISO[0], sso_groups=["corp-oncall"], shared=["corp-oncall"]),
        dict(ISO[1], sso_groups=["corp-oncall"], shared=["corp-oncall"]),
    ]
    result = run(everest_rbac_check, {"policy": shared_policy, "tenants": tenants}, capsys)
    assert not result.get("failed"), result.get("messages")
    assert _rbac.isolation_violations(shared_policy, ("namespaces", "database-clusters"), ("read",)) == []
    one_sided = [tenants[0], dict(tenants[1], shared=[])]
    result = run(everest_rbac_check, {"policy": shared_policy, "tenants": one_sided}, capsys)
    assert result["failed"] and {m["subject"] for m in result["mismatches"]} == {"corp-oncall"}
    # a policy whose second block does not declare it: the proof over the policy itself finds the leak too
    undeclared = (
        "g, admin, role:admin\n"
        + tenant_block("acme", "ns-acme", ["00u1acme", "corp-oncall"], shared=["corp-oncall"])
        + tenant_block("beta", "ns-beta", ["beta", "corp-oncall"])
    )
    found = _rbac.isolation_violations(undeclared, ("namespaces", "database-clusters"), ("read",))
    assert {(v["member"], v["tenant"], v["target_tenant"]) for v in found} == {("corp-oncall", "acme", "beta"), ("corp-oncall", "beta", "acme")}


def test_shared_never_excuses_a_rule_of_the_members_own_tenant_reaching_out():
    policy = (
        "g, admin, role:admin\n"
        + tenant_block("acme", "ns-acme", ["corp-oncall"], shared=["corp-oncall"])
        + tenant_block("beta", "ns-beta", ["beta", "corp-oncall"], shared=["corp-oncall"])
        + "p, role:tenant-ns-acme, backup-storages, read, ns-beta/*\n"
    )
    found = _rbac.isolation_violations(policy, ("backup-storages",), ("read",))
    assert [(v["member"], v["rule"]) for v in found] == [("corp-oncall", "p, role:tenant-ns-acme, backup-storages, read, ns-beta/*")]


def test_cluster_tenants_carry_their_blocks_shared_members():
    policy = "g, admin, role:admin\n" + tenant_block("acme", "ns-acme", ["corp-oncall"], shared=["corp-oncall"])
    tenants = _rbac_check.with_cluster_tenants([], policy)
    assert tenants == [{"name": "acme", "namespace": "ns-acme", "users": ["corp-oncall"], "grants": [], "shared": ["corp-oncall"]}]


def test_the_cross_check_asks_the_subject_then_each_group_and_ors(fake_everestctl, capsys):  # noqa: F811
    enforcer = _rbac.Enforcer(POLICY)
    fake_everestctl["runner"] = runner = FakeEverestctl(lambda v: enforcer.can(v["subject"], v["action"], v["resource"], v["object"]) is not None)
    checks = [
        check("carol", "ns-acme/db1", groups=["staff", "/acme/dbas", "beta-ops"], expect="allow"),
        check("carol", "ns-beta/db1", groups=["staff", "/acme/dbas"], expect="deny"),
    ]
    result = run(everest_rbac_check, {"policy": POLICY, "checks": checks, "cross_check_with_everestctl": True}, capsys)
    assert not result.get("failed"), result
    # the first check stops at the first Yes (/acme/dbas); the second asks all three names
    assert [c["subject"] for c in runner.calls] == ["carol", "staff", "/acme/dbas", "carol", "staff", "/acme/dbas"]
    assert [r["everestctl"] for r in result["results"]] == [True, False]


def test_the_cross_check_reports_a_disagreement_on_a_token(fake_everestctl, capsys):  # noqa: F811
    fake_everestctl["runner"] = FakeEverestctl(lambda v: v["subject"] == "staff")
    result = run(
        everest_rbac_check, {"policy": POLICY, "checks": [check("carol", "ns-beta/db1", groups=["staff"])], "cross_check_with_everestctl": True}, capsys
    )
    assert result["failed"]
    assert result["disagreements"][0]["check"]["groups"] == ["staff"] and len(result["disagreements"][0]["cmds"]) == 2


def test_rbac_policy_writes_shared_members_and_refuses_a_second_binding_without_them(client, capsys):  # noqa: F811
    fake = client["client"]
    acme = {"block": "ns-acme", "tenant": "acme", "policies": _tenants.preset_lines("ns-acme", ["corp-oncall"], "namespace_admin")}
    beta = {"block": "ns-beta", "tenant": "beta", "policies": _tenants.preset_lines("ns-beta", ["beta", "corp-oncall"], "namespace_admin")}
    result = run(everest_rbac_policy, dict(acme), capsys)
    assert result["changed"] and not result.get("failed"), result
    refused = run(everest_rbac_policy, dict(beta), capsys)
    assert refused["failed"] and "would break tenant isolation" in refused["msg"] and "corp-oncall" in refused["msg"]
    # both declare it shared: written, with the marker after the metadata line
    result = run(everest_rbac_policy, dict(acme, shared_members=["corp-oncall"]), capsys)
    assert result["changed"] and result["policy"][:2] == ["# tenant=acme namespace=ns-acme", "# sso-shared corp-oncall"]
    result = run(everest_rbac_policy, dict(beta, shared_members=["corp-oncall"]), capsys)
    assert result["changed"] and not result.get("failed"), result
    assert _rbac.get_blocks(text_of(fake))["ns-beta"][1] == "# sso-shared corp-oncall"
    assert run(everest_rbac_policy, dict(beta, shared_members=["corp-oncall"]), capsys)["changed"] is False


@pytest.mark.parametrize(
    "item,expected",
    [
        ({"tenant": "acme", "shared_members": ["ghost"]}, "shared member 'ghost' is bound by no g line"),
        ({"tenant": "acme", "shared_members": ["bad name"]}, "shared member 'bad name' contains ' '"),
        ({"shared_members": ["corp-oncall"]}, "shared_members and group_members need tenant"),
        ({"tenant": "acme", "group_members": ["ghost"]}, "group member 'ghost' is bound by no g line"),
        ({"group_members": ["corp-oncall"]}, "shared_members and group_members need tenant"),
    ],
)
def test_rbac_policy_checks_shared_members_before_reading(client, item, expected, capsys):  # noqa: F811
    fake = client["client"]
    args = dict({"block": "ns-acme", "policies": _tenants.preset_lines("ns-acme", ["corp-oncall"], "namespace_admin")}, **item)
    result = run(everest_rbac_policy, args, capsys)
    assert result["failed"] and expected in result["msg"] and fake.gets == 0


def test_group_members_are_marked_and_not_counted_as_database_users(client, capsys):  # noqa: F811
    fake = client["client"]
    acme = {"block": "ns-acme", "tenant": "acme", "policies": _tenants.preset_lines("ns-acme", ["alice", "00u1lead", "/acme/dbas"], "namespace_admin")}
    result = run(everest_rbac_policy, dict(acme, group_members=["/acme/dbas"]), capsys)
    assert result["changed"] and result["policy"][:2] == ["# tenant=acme namespace=ns-acme", "# sso-group /acme/dbas"], result
    assert run(everest_rbac_policy, dict(acme, group_members=["/acme/dbas"]), capsys)["changed"] is False
    # what tenant_info and tenant_quota_check count: the user and the subject, not the group
    assert _quota.rbac_block(text_of(fake), "ns-acme") == (True, ["00u1lead", "alice"])
    assert _quota.rbac_block_groups(text_of(fake), "ns-acme") == ["/acme/dbas"]
    # a block written without the marker (before it existed) counts the group, as the line alone cannot tell
    run(everest_rbac_policy, dict(acme), capsys)
    assert _quota.rbac_block(text_of(fake), "ns-acme") == (True, ["/acme/dbas", "00u1lead", "alice"])


def test_the_check_overlays_a_planned_block_with_its_group_members_as_the_policy_module_writes_it(capsys):
    """Check mode proves isolation on the planned blocks (overlay_blocks), which carry group_members like the writes."""
    lines = _tenants.preset_lines("ns-gamma", ["/gamma/dbas"], "namespace_admin")
    planned = {"block": "ns-gamma", "state": "present", "tenant": "gamma", "policies": lines, "group_members": ["/gamma/dbas"]}
    overlaid = _rbac_check.overlay("g, admin, role:admin\n", [planned])
    block = _rbac.get_blocks(overlaid)["ns-gamma"]
    assert block[:2] == ["# tenant=gamma namespace=ns-gamma", "# sso-group /gamma/dbas"]
    assert block == _rbac_policy.Request("ns-gamma", "present", lines, tenant="gamma", group_members=["/gamma/dbas"]).content()
    tenants = [{"name": "gamma", "namespace": "ns-gamma", "users": [], "sso_groups": ["/gamma/dbas"], "grants": GRANTS}]
    result = run(everest_rbac_check, {"policy": "g, admin, role:admin\n", "overlay_blocks": [planned], "tenants": tenants}, capsys)
    assert not result.get("failed"), result.get("msg")
