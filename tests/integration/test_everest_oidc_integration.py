"""Integration tests of everest_oidc (issue 19) against the sandbox: the everestctl emulator's `settings oidc configure`
(reference §9.5: data replaced, Everest restarted), the REST emulator (which re-reads the settings on GET /v1/settings
and restarts lazily) and the test OIDC issuer (docs/dev/sandbox-oidc.md)."""

import pytest

from everest_sandbox.launcher import raw_request

pytestmark = pytest.mark.integration

CM = "/api/v1/namespaces/everest-system/configmaps/everest-settings"
DEPLOYMENT = "/apis/apps/v1/namespaces/everest-system/deployments/everest-server"
WRITE_VERBS = ("create", "update", "patch", "delete")


def writes(sandbox):
    by_verb = sandbox.stats()["by_verb"]
    return dict((v, by_verb.get(v, 0)) for v in WRITE_VERBS if by_verb.get(v))


def restarted_at(sandbox):
    status, obj = sandbox.request("GET", DEPLOYMENT)
    assert status == 200, obj
    return ((obj["spec"]["template"].get("metadata") or {}).get("annotations") or {}).get("kubectl.kubernetes.io/restartedAt")


def settings(sandbox):
    status, data = raw_request(sandbox.everest_url, None, "GET", "/v1/settings")
    assert status == 200, data
    return data["oidcConfig"]


def run(ansible, check=False, diff=False, **values):
    return ansible.playbook("oidc/oidc.yml", extra_vars=dict(("oidc_" + k, v) for k, v in values.items()), check=check, diff=diff)


def forget_calls(sandbox):
    open(sandbox.call_log, "w").close()


def test_check_diff_apply_noop(ansible, clean_sandbox):
    sandbox = clean_sandbox
    seeded = settings(sandbox)
    assert seeded["clientId"] == "everest-sandbox" and seeded["issuerURL"] == sandbox.oidc_url
    before_restart = restarted_at(sandbox)

    # the seeded settings, scopes in another order: nothing to do, no everestctl, no issuer request
    sandbox.reset_stats()
    forget_calls(sandbox)
    noop = run(ansible, issuer_url=sandbox.oidc_url, client_id="everest-sandbox", scopes=["groups", "openid", "email", "profile"])
    assert noop.rc == 0, noop.output[-3000:]
    assert noop.result("OIDC settings")["changed"] is False and writes(sandbox) == {} and sandbox.calls() == []

    # check mode with a diff: the change is shown, nothing is written, nothing restarted
    check = run(ansible, check=True, diff=True, issuer_url=sandbox.oidc_url, client_id="everest-ui", scopes=["openid"], require_groups_scope=True)
    assert check.rc == 0, check.output[-3000:]
    result = check.result("OIDC settings")
    assert result["changed"] is True and result["restarted"] is False
    assert result["oidc"]["scopes"] == ["openid", "groups"]
    assert "-clientId: everest-sandbox" in check.stdout and "+clientId: everest-ui" in check.stdout and "-  - profile" in check.stdout
    assert "restarts the Everest server" in check.output
    assert writes(sandbox) == {} and sandbox.calls() == [] and restarted_at(sandbox) == before_restart

    # apply: one everestctl call, the settings written as everestctl writes them, Everest restarted
    applied = run(ansible, issuer_url=sandbox.oidc_url, client_id="everest-ui", scopes=["openid"], require_groups_scope=True)
    assert applied.rc == 0, applied.output[-3000:]
    result = applied.result("OIDC settings")
    assert result["changed"] is True and result["restarted"] is True
    assert [c["argv"][:3] for c in sandbox.calls()] == [["settings", "oidc", "configure"]]
    assert settings(sandbox) == {"clientId": "everest-ui", "issuerURL": sandbox.oidc_url, "scopes": ["openid", "groups"]}
    assert restarted_at(sandbox) != before_restart
    # the restarted server accepts the issuer's tokens
    token = sandbox.oidc_token("carol", ["/acme/dbas"])
    assert raw_request(sandbox.everest_url, token, "GET", "/v1/namespaces")[0] == 200

    # and again: a no-op
    sandbox.reset_stats()
    forget_calls(sandbox)
    again = run(ansible, issuer_url=sandbox.oidc_url, client_id="everest-ui", scopes=["openid"], require_groups_scope=True)
    assert again.rc == 0 and again.result("OIDC settings")["changed"] is False
    assert writes(sandbox) == {} and sandbox.calls() == []


def test_an_unreachable_issuer_is_refused_before_anything_is_written(ansible, clean_sandbox):
    sandbox = clean_sandbox
    before = sandbox.request("GET", CM)[1]["data"]
    before_restart = restarted_at(sandbox)
    for check in (True, False):
        sandbox.reset_stats()
        forget_calls(sandbox)
        failed = run(ansible, check=check, issuer_url="http://127.0.0.1:9/realms/gone", client_id="everest-sandbox")
        assert failed.rc != 0
        result = failed.result("OIDC settings")
        assert "Nothing was changed" in result["msg"] and "127.0.0.1:9/realms/gone/.well-known/openid-configuration" in result["msg"]
        assert writes(sandbox) == {} and sandbox.calls() == []
    assert sandbox.request("GET", CM)[1]["data"] == before and restarted_at(sandbox) == before_restart
    # an issuer that answers, but not with a discovery document: refused too
    failed = run(ansible, issuer_url=sandbox.oidc_url + "/not-an-issuer", client_id="everest-sandbox")
    assert failed.rc != 0 and "answered 404" in failed.result("OIDC settings")["msg"]
    assert sandbox.calls() == []
