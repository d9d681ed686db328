"""Tenants whose people sign in through SSO (issue 19): the tenant_bootstrap role's planning of IdP groups and OIDC
subjects (module_utils/_tenants.py): accepted names, the flat name space (admin, role: names, local accounts, lines
outside the tenants' blocks), clashes in the run and against the cluster, the shared flag, the move rule, max_db_users,
the block's g lines and the items of every step. Every case is planned before anything could be written."""

import pytest

from ansible_collections.virakcloud.everest.plugins.action import tenant_plan
from ansible_collections.virakcloud.everest.plugins.module_utils import _ownership, _rbac, _tenants, _validation

from test_tenants import PASSWORD, SPEC, values


def sso(**overrides):
    """An SSO-only tenant (no local user) binding one group and one subject."""
    base = {"tenant_bootstrap_users": [], "tenant_bootstrap_sso_groups": ["/acme/dbas"], "tenant_bootstrap_sso_subjects": ["00u1acme"]}
    base.update(overrides)
    return values(**base)


def plan_one(vals, name="acme", cluster=None):
    invalid = tenant_plan.spec_problems(SPEC, vals)
    return _tenants.plan_tenants([(name, vals)], cluster=cluster, invalid={name: invalid} if invalid else None)[0]


def plan_many(inputs, cluster=None):
    return dict((p["name"], p) for p in _tenants.plan_tenants(inputs, cluster=cluster))


def cluster_of(policy, accounts=("admin",), namespaces=None):
    """Ownership facts as everest_cluster_info computes them from a policy text (ownership_facts)."""
    namespaces = dict(namespaces or {})
    blocks = _rbac.get_blocks(policy)
    facts = {
        "namespaces": namespaces,
        "blocks": _ownership.block_owners(blocks, namespaces),
        "accounts": _ownership.account_owner_map(None, blocks, namespaces),
        "existing_accounts": sorted(accounts),
    }
    facts.update(_ownership.identity_facts(policy, blocks, namespaces))
    return facts


def block(tenant, namespace, members, shared=()):
    lines = [_rbac.block_meta_line(tenant, namespace)] + [_rbac.shared_meta_line(n) for n in shared]
    lines += _tenants.preset_lines(namespace, list(members), "namespace_admin")
    return _rbac.render_block(namespace, lines)


CHART = "g, admin, role:admin\n"


def test_an_sso_only_tenant_binds_its_group_and_subject_and_has_no_account():
    p = plan_one(sso())
    assert p["valid"], p["problem"]
    assert p["usernames"] == [] and p["sso_groups"] == ["/acme/dbas"] and p["sso_subjects"] == ["00u1acme"]
    assert p["rbac_lines"][-2:] == ["g, 00u1acme, role:tenant-ns-acme", "g, /acme/dbas, role:tenant-ns-acme"]
    assert p["steps"]["accounts"] == []
    assert p["steps"]["isolation"] == {
        "name": "acme",
        "namespace": "ns-acme",
        "users": [],
        "sso_subjects": ["00u1acme"],
        "sso_groups": ["/acme/dbas"],
        "shared": [],
        "grants": _tenants.grants("namespace_admin"),
    }
    assert "shared_members" not in p["steps"]["rbac"]
    assert p["summary"]["sso_groups"] == ["/acme/dbas"]
    assert "sub:00u1acme,group:/acme/dbas" in _tenants.summary_lines(_tenants.summary_rows([p], {}, set(), False), "proven")[1]
    # the block the role writes passes Everest's validation and the escalation guard
    assert not [e for e in _rbac.validate("\n".join(p["rbac_lines"]) + "\n") if e.everest]
    assert not _rbac.tenant_scope_problems(p["rbac_lines"], "role:tenant-ns-acme", "ns-acme", members=["00u1acme", "/acme/dbas"])


def test_a_mixed_tenant_binds_users_then_subjects_then_groups():
    p = plan_one(values(tenant_bootstrap_sso_groups=["acme-ops"], tenant_bootstrap_sso_subjects=["8f2d-acme"]))
    assert p["valid"], p["problem"]
    assert [line for line in p["rbac_lines"] if line.startswith("g, ")] == [
        "g, acme, role:tenant-ns-acme",
        "g, 8f2d-acme, role:tenant-ns-acme",
        "g, acme-ops, role:tenant-ns-acme",
    ]
    assert [a["username"] for a in p["steps"]["accounts"]] == ["acme"]


def test_an_sso_only_tenant_is_offboarded_with_its_block():
    p = plan_one(sso(tenant_bootstrap_state="absent"))
    assert p["valid"], p["problem"]
    assert p["steps"]["rbac"] == {"block": "ns-acme", "state": "absent", "tenant": "acme"} and p["steps"]["accounts"] == []


def test_a_tenant_needs_a_user_or_an_sso_identity():
    p = plan_one(values(tenant_bootstrap_users=[]))
    assert not p["valid"] and "at least one local user" in p["problem"] and "tenant_bootstrap_sso_groups" in p["problem"]


def test_the_default_user_without_a_password_gets_the_sso_only_hint():
    p = plan_one(values(tenant_bootstrap_users=[{"username": "acme", "password": ""}], tenant_bootstrap_sso_groups=["/acme/dbas"]))
    assert not p["valid"] and "tenant_bootstrap_users: []" in p["problem"]


@pytest.mark.parametrize(
    "name,expected",
    [
        ("admin", "inherit the chart's 'g, admin, role:admin'"),
        ("role:admin", "starts with 'role:'"),
        ("role:tenant-ns-beta", "starts with 'role:'"),
        ("/acme/dbas ", "trailing white space"),
        (" /acme/dbas", "leading or trailing white space"),
        ("Acme DBAs", "contains ' '"),
        ("CN=DBAs,OU=Groups", "contains ',' '='"),
        ('say"hi', "contains '\"'"),
        ("auth0|64f0", "contains '|'"),
        ("dbas*", "looks like a wildcard"),
        ("-dbas", "read it as a flag"),
        ("équipe", "contains 'é'"),
        ("", "must be a non-empty string"),
    ],
)
def test_names_everest_could_never_match_or_would_misread_are_refused(name, expected):
    p = plan_one(sso(tenant_bootstrap_sso_groups=[name]))
    assert not p["valid"] and expected in p["problem"], p["problem"]
    assert "steps" not in p


@pytest.mark.parametrize(
    "name", ["/acme/dbas", "acme-dbas@corp.com", "alice+ops@corp.com", "00u1a2b3c4d5e6f7g8h9", "8f2d1c3a-0b4e-4f5a-9c6d-7e8f9a0b1c2d", "team:dbas", "a.b_c"]
)
def test_names_every_known_everest_accepts_are_taken(name):
    assert _validation.check_sso_name(name) is None
    assert _rbac.term_ok(name)  # also a valid p subject under Everest's term rule
    assert plan_one(sso(tenant_bootstrap_sso_groups=[name]))["valid"]


def test_a_name_bound_twice_or_as_group_and_subject_or_as_own_user_is_refused():
    assert "more than once" in plan_one(sso(tenant_bootstrap_sso_groups=["g1", "g1"]))["problem"]
    both = plan_one(sso(tenant_bootstrap_sso_groups=["x1"], tenant_bootstrap_sso_subjects=["x1"]))
    assert "both as an IdP group and as an OIDC subject" in both["problem"]
    own = plan_one(values(tenant_bootstrap_sso_groups=["acme"]))
    assert "also a local user of this tenant" in own["problem"]


def test_shared_must_name_the_tenants_own_identities():
    p = plan_one(sso(tenant_bootstrap_sso_shared=["/other"]))
    assert not p["valid"] and "tenant_bootstrap_sso_shared lists /other" in p["problem"]


def test_max_db_users_counts_local_users_and_subjects_not_groups():
    ok = plan_one(sso(tenant_bootstrap_limits={"max_db_users": 1}, tenant_bootstrap_sso_groups=["g1", "g2", "g3"]))
    assert ok["valid"], ok["problem"]
    over = plan_one(
        values(
            tenant_bootstrap_sso_subjects=["s1", "s2"],
            tenant_bootstrap_limits={"max_db_users": 2},
        )
    )
    assert not over["valid"]
    assert "3 users (acme, s1, s2) but tenant_bootstrap_limits.max_db_users is 2" in over["problem"]
    assert "members of an IdP group" in over["problem"]


def test_the_custom_preset_must_bind_every_sso_identity_and_only_the_tenants():
    custom = ["p, role:tenant-ns-acme, database-clusters, read, ns-acme/*", "g, /acme/dbas, role:tenant-ns-acme"]
    unbound = plan_one(sso(tenant_bootstrap_rbac_preset="custom", tenant_bootstrap_rbac_policies=custom))
    assert not unbound["valid"] and "SSO identities 00u1acme are bound by no line" in unbound["problem"]
    bound = plan_one(sso(tenant_bootstrap_rbac_preset="custom", tenant_bootstrap_rbac_policies=custom + ["g, 00u1acme, role:tenant-ns-acme"]))
    assert bound["valid"], bound["problem"]
    foreign = plan_one(sso(tenant_bootstrap_rbac_preset="custom", tenant_bootstrap_rbac_policies=custom + ["g, /beta/dbas, role:tenant-ns-acme"]))
    assert not foreign["valid"] and "not one of this tenant's users or SSO identities" in foreign["problem"]


def _tenant(ns, **overrides):
    base = {"tenant_bootstrap_namespace": ns, "tenant_bootstrap_users": [{"username": ns.replace("-", "_"), "password": PASSWORD}]}
    base.update(overrides)
    return values(**base)


def test_in_a_run_a_name_bound_by_two_tenants_is_refused_for_both_unless_both_share_it():
    plans = plan_many(
        [("a", _tenant("ns-a", tenant_bootstrap_sso_groups=["corp-oncall"])), ("b", _tenant("ns-b", tenant_bootstrap_sso_groups=["corp-oncall"]))]
    )
    for name in ("a", "b"):
        assert not plans[name]["valid"] and "'corp-oncall' is bound by tenants a, b of this run" in plans[name]["problem"]
    one_sided = plan_many(
        [
            ("a", _tenant("ns-a", tenant_bootstrap_sso_groups=["corp-oncall"], tenant_bootstrap_sso_shared=["corp-oncall"])),
            ("b", _tenant("ns-b", tenant_bootstrap_sso_groups=["corp-oncall"])),
        ]
    )
    assert not one_sided["a"]["valid"] and not one_sided["b"]["valid"]
    both = plan_many(
        [
            ("a", _tenant("ns-a", tenant_bootstrap_sso_groups=["corp-oncall"], tenant_bootstrap_sso_shared=["corp-oncall"])),
            ("b", _tenant("ns-b", tenant_bootstrap_sso_groups=["corp-oncall"], tenant_bootstrap_sso_shared=["corp-oncall"])),
        ]
    )
    assert both["a"]["valid"] and both["b"]["valid"], (both["a"]["problem"], both["b"]["problem"])
    assert both["a"]["steps"]["rbac"]["shared_members"] == ["corp-oncall"]
    assert both["a"]["steps"]["isolation"]["shared"] == ["corp-oncall"]


def test_in_a_run_only_the_newcomer_is_refused_when_the_other_tenant_binds_it_already():
    cluster = cluster_of(CHART + block("b", "ns-b", ["ns_b", "corp-oncall"]), accounts=("admin", "ns_b"), namespaces={"ns-b": "b"})
    plans = plan_many(
        [("a", _tenant("ns-a", tenant_bootstrap_sso_groups=["corp-oncall"])), ("b", _tenant("ns-b", tenant_bootstrap_sso_groups=["corp-oncall"]))], cluster
    )
    assert plans["b"]["valid"], plans["b"]["problem"]
    assert not plans["a"]["valid"] and "'corp-oncall' is bound by tenants a, b of this run" in plans["a"]["problem"]


def test_in_a_run_a_group_named_like_another_tenants_user_refuses_the_group():
    plans = plan_many([("a", _tenant("ns-a", tenant_bootstrap_sso_groups=["ns_b"])), ("b", _tenant("ns-b"))])
    assert not plans["a"]["valid"] and "'ns_b' is also a local user of tenant b" in plans["a"]["problem"]
    assert plans["b"]["valid"], plans["b"]["problem"]


def test_against_the_cluster_admin_accounts_role_names_and_foreign_lines_are_refused():
    policy = CHART + "g, ops_team, role:dba\np, role:dba, database-clusters, read, */*\n" + block("bob", "ns-bob", ["bob"])
    cluster = cluster_of(policy, accounts=("admin", "bob", "carol"), namespaces={"ns-bob": "bob"})
    assert cluster["policy_names"] == ["admin", "ops_team"]
    cases = {
        "bob": "has the name of an existing Everest account (of tenant bob)",
        "carol": "has the name of an existing Everest account;",
        "ops_team": "already named by lines of the RBAC policy outside the tenants' blocks",
    }
    for name, expected in cases.items():
        p = plan_one(sso(tenant_bootstrap_sso_groups=[name]), cluster=cluster)
        assert not p["valid"] and expected in p["problem"], (name, p["problem"])
    assert plan_one(sso(), cluster=cluster)["valid"]


def test_against_the_cluster_a_name_another_tenant_binds_is_refused_unless_both_share_it():
    cluster = cluster_of(CHART + block("bob", "ns-bob", ["bob", "/corp/oncall"]), accounts=("admin", "bob"), namespaces={"ns-bob": "bob"})
    p = plan_one(sso(tenant_bootstrap_sso_groups=["/corp/oncall"]), cluster=cluster)
    assert not p["valid"] and "'/corp/oncall' is bound by tenant bob (RBAC block ns-bob)" in p["problem"]
    assert "tenant_bootstrap_sso_shared of both tenants" in p["problem"]
    shared_here_only = plan_one(sso(tenant_bootstrap_sso_groups=["/corp/oncall"], tenant_bootstrap_sso_shared=["/corp/oncall"]), cluster=cluster)
    assert not shared_here_only["valid"]
    both = cluster_of(CHART + block("bob", "ns-bob", ["bob", "/corp/oncall"], shared=["/corp/oncall"]), accounts=("admin", "bob"), namespaces={"ns-bob": "bob"})
    assert both["shared"] == {"ns-bob": ["/corp/oncall"]}
    p = plan_one(sso(tenant_bootstrap_sso_groups=["/corp/oncall"], tenant_bootstrap_sso_shared=["/corp/oncall"]), cluster=both)
    assert p["valid"], p["problem"]


def test_a_local_user_named_like_another_tenants_sso_identity_is_refused():
    cluster = cluster_of(CHART + block("bob", "ns-bob", ["bob", "ops"]), accounts=("admin", "bob"), namespaces={"ns-bob": "bob"})
    p = plan_one(values(tenant_bootstrap_users=[{"username": "ops", "password": PASSWORD}]), cluster=cluster)
    assert not p["valid"] and "tenant bob binds 'ops' as an SSO identity" in p["problem"]
    assert "account 'ops' belongs to" not in p["problem"]  # one message, the one that says why


def test_moving_a_group_takes_two_runs_the_release_first():
    """acme binds /acme/dbas in the cluster; the inventory now gives it to beta. In one run acme releases it and beta
    is refused (naming the release); the next run binds it to beta. No moment exists in which both bind it."""
    cluster = cluster_of(CHART + block("acme", "ns-acme", ["00u1acme", "/acme/dbas"]), namespaces={"ns-acme": "acme"})
    inputs = [
        ("acme", sso(tenant_bootstrap_sso_groups=[])),
        ("beta", _tenant("ns-beta", tenant_bootstrap_sso_groups=["/acme/dbas"])),
    ]
    plans = plan_many(inputs, cluster=cluster)
    assert plans["acme"]["valid"], plans["acme"]["problem"]
    assert "g, /acme/dbas, role:tenant-ns-acme" not in plans["acme"]["rbac_lines"]
    assert not plans["beta"]["valid"]
    assert "bound by tenant acme" in plans["beta"]["problem"] and "Tenant acme releases it in this run: run again afterwards" in plans["beta"]["problem"]
    # after the first run the cluster no longer binds it to acme: the second run binds it to beta
    released = cluster_of(
        CHART + _rbac.render_block("ns-acme", ["# tenant=acme namespace=ns-acme"] + plans["acme"]["rbac_lines"]), namespaces={"ns-acme": "acme"}
    )
    again = plan_many(inputs, cluster=released)
    assert again["beta"]["valid"] and again["acme"]["valid"], again["beta"]["problem"]
    # without the release in the run, the message does not promise one
    kept = plan_many([("beta", _tenant("ns-beta", tenant_bootstrap_sso_groups=["/acme/dbas"]))], cluster=cluster)
    assert "bound by tenant acme" in kept["beta"]["problem"] and "releases it" not in kept["beta"]["problem"]


def test_the_tenants_own_block_is_not_another_binding():
    cluster = cluster_of(CHART + block("acme", "ns-acme", ["00u1acme", "/acme/dbas"]), namespaces={"ns-acme": "acme"})
    p = plan_one(sso(), cluster=cluster)
    assert p["valid"], p["problem"]


def test_the_role_spec_accepts_the_sso_inputs_and_refuses_wrong_types():
    assert tenant_plan.spec_problems(SPEC, sso()) is None
    assert "tenant_bootstrap_sso_groups" in tenant_plan.spec_problems(SPEC, sso(tenant_bootstrap_sso_groups={"a": 1}))
    # the spec would split a string on commas; the plan refuses it instead of guessing names from it
    p = plan_one(sso(tenant_bootstrap_sso_groups="/acme/dbas,/acme/ops"))
    assert not p["valid"] and "tenant_bootstrap_sso_groups must be a YAML list of names, not a string" in p["problem"]
    assert {"tenant_bootstrap_sso_groups", "tenant_bootstrap_sso_subjects", "tenant_bootstrap_sso_shared"} <= set(tenant_plan.INPUTS)
