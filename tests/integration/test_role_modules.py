"""Integration tests of the two modules written for the tenant_bootstrap role: everest_cluster_info (read-only
preflight) and tenant_resource_policy_crd, run by ansible-playbook against the sandbox."""

import pytest

pytestmark = pytest.mark.integration

INFO = "role/cluster_info.yml"
CRD_PLAY = "role/crd.yml"
CRD = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/tenantresourcepolicies.everest.local"
RBAC = "/api/v1/namespaces/everest-system/configmaps/everest-rbac"
TRP_API = "/apis/everest.local/v1/namespaces/%s/tenantresourcepolicies"
WRITE_VERBS = ("create", "update", "patch", "delete")


def writes(sandbox):
    by_verb = sandbox.stats()["by_verb"]
    return dict((v, by_verb.get(v, 0)) for v in WRITE_VERBS if by_verb.get(v))


@pytest.fixture
def cache_env(tmp_path):
    return {"XDG_CACHE_HOME": str(tmp_path / "cache")}


def test_cluster_info_reports_a_ready_installation(ansible, clean_sandbox, cache_env):
    run = ansible.playbook(INFO, env=cache_env, extra_vars={"ci_tenant_label": "virakcloud.everest/tenant"})
    assert run.rc == 0, run.output[-3000:]
    res = run.result("Cluster info")
    assert res["changed"] is False and res["ready"] is True and res["missing"] == []
    assert res["everest"] == {"installed": True, "deployment": "everest-server", "version": "1.10.0"}
    assert res["everestctl"]["found"] is True and res["everestctl"]["version"].startswith("v")
    assert res["everestctl"]["version_cached"] is False
    assert res["rbac"]["present"] is True and res["accounts"] == {"present": True}
    assert res["crd"] == {"present": False, "established": False}
    assert res["tenant_namespaces"] == {}
    assert writes(clean_sandbox) == {}
    assert [c["argv"][:2] for c in clean_sandbox.calls()] == [["version", "--client-only"]]

    # second run: the version comes from the cache, everestctl is not executed at all
    open(clean_sandbox.call_log, "w").close()
    again = ansible.playbook(INFO, env=cache_env)
    assert again.result("Cluster info")["everestctl"]["version_cached"] is True
    assert again.result("Cluster info")["everestctl"]["version"] == res["everestctl"]["version"]
    assert clean_sandbox.calls() == []


def test_cluster_info_fails_naming_each_missing_prerequisite(ansible, clean_sandbox, cache_env, tmp_path):
    status, body = clean_sandbox.request("DELETE", RBAC)
    assert status == 200, body
    extra = {"ci_fail_on_missing": True, "ci_require_crd": True, "ci_everestctl_path": str(tmp_path / "no-such-everestctl")}
    run = ansible.playbook(INFO, env=cache_env, extra_vars=extra)
    assert run.rc != 0
    res = run.result("Cluster info")
    assert res["_status"] == "failed"
    assert sorted(m["name"] for m in res["missing"]) == ["crd", "everestctl", "rbac_configmap"]
    assert "ConfigMap everest-system/everest-rbac not found" in res["msg"]
    assert "everestctl_path" in res["msg"] and "fix:" in res["msg"]

    # without fail_on_missing the same facts are returned and the task succeeds
    ok = ansible.playbook(INFO, env=cache_env, extra_vars={"ci_require_everestctl": False})
    assert ok.rc == 0
    assert ok.result("Cluster info")["ready"] is False
    assert [m["name"] for m in ok.result("Cluster info")["missing"]] == ["rbac_configmap"]


def test_cluster_info_unreachable_cluster(ansible, clean_sandbox, cache_env, tmp_path):
    kubeconfig = tmp_path / "dead.kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: dead\nclusters: [{name: dead, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: dead, user: {token: abc}}]\ncontexts: [{name: dead, context: {cluster: dead, user: dead}}]\n"
    )
    env = dict(cache_env, K8S_AUTH_KUBECONFIG=str(kubeconfig), KUBECONFIG=str(kubeconfig))
    run = ansible.playbook(INFO, env=env, extra_vars={"ci_fail_on_missing": True})
    assert run.rc != 0
    res = run.result("Cluster info")
    assert res["cluster"]["reachable"] is False and res["cluster"]["error"]
    assert [m["name"] for m in res["missing"]] == ["cluster"]


def test_crd_module_check_mode_create_noop_and_guarded_delete(ansible, clean_sandbox):
    check = ansible.playbook(CRD_PLAY, check=True, diff=True)
    assert check.rc == 0, check.output[-3000:]
    res = check.result("CRD")
    assert res["changed"] is True and res["diff"]["before"]["present"] is False and res["diff"]["after"]["present"] is True
    assert writes(clean_sandbox) == {}
    status = clean_sandbox.request("GET", CRD)[0]
    assert status == 404

    created = ansible.playbook(CRD_PLAY)
    assert created.rc == 0
    assert created.result("CRD")["changed"] is True
    assert created.result("CRD")["crd"]["established"] is True

    clean_sandbox.reset_stats()
    noop = ansible.playbook(CRD_PLAY)
    assert noop.result("CRD")["changed"] is False
    stats = clean_sandbox.stats()
    assert stats["total"] == 1 and stats["by_resource"]["customresourcedefinitions"]["get"] == 1

    # the CRD is not deleted while a TenantResourcePolicy exists (it would be deleted with it)
    status, body = clean_sandbox.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "crd-t"}})
    assert status == 201, body
    status, body = clean_sandbox.request(
        "POST",
        TRP_API % "crd-t",
        {
            "apiVersion": "everest.local/v1",
            "kind": "TenantResourcePolicy",
            "metadata": {"name": "resource-policy"},
            "spec": {"limits": {"maxClusters": 1}, "selectors": {"engines": ["postgresql"]}},
        },
    )
    assert status == 201, body
    refused = ansible.playbook(CRD_PLAY, extra_vars={"crd_state": "absent"})
    assert refused.rc != 0
    assert "crd-t/resource-policy" in refused.result("CRD")["msg"]
    status = clean_sandbox.request("GET", CRD)[0]
    assert status == 200

    forced = ansible.playbook(CRD_PLAY, extra_vars={"crd_state": "absent", "crd_force": True})
    assert forced.rc == 0 and forced.result("CRD")["changed"] is True
    status = clean_sandbox.request("GET", CRD)[0]
    assert status == 404
    gone = ansible.playbook(CRD_PLAY, extra_vars={"crd_state": "absent"})
    assert gone.result("CRD")["changed"] is False


# ---- pure helpers of everest_cluster_info (no sandbox) ----------------------------------------------------------


@pytest.mark.parametrize(
    "image,tag",
    [
        ("percona/everest:1.10.0", "1.10.0"),
        ("registry.example.com:5000/percona/everest:v1.9.1", "v1.9.1"),
        ("registry.example.com:5000/percona/everest", None),
        ("percona/everest:1.10.0@sha256:abcd", "1.10.0"),
        ("", None),
    ],
)
def test_image_tag(image, tag):
    from ansible_collections.virakcloud.everest.plugins.modules import everest_cluster_info as mod

    assert mod.image_tag(image) == tag


def test_everest_version_strips_v_and_uses_the_everest_container():
    from ansible_collections.virakcloud.everest.plugins.modules import everest_cluster_info as mod

    deployment = {
        "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox:9.9"}, {"name": "everest", "image": "percona/everest:v1.8.0"}]}}}
    }
    assert mod.everest_version(deployment) == "1.8.0"
    assert mod.everest_version({"spec": {}}) is None


class FakeRunner:
    def __init__(self, version="v1.2.3"):
        self.calls = 0
        self.answer = version

    def version(self):
        self.calls += 1
        return self.answer


def test_version_cache_is_keyed_by_the_binary(tmp_path, monkeypatch):
    from ansible_collections.virakcloud.everest.plugins.modules import everest_cluster_info as mod

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    binary = tmp_path / "everestctl"
    binary.write_text("#!/bin/sh\n")
    runner = FakeRunner()
    assert mod.cached_version(str(binary), runner, True) == ("v1.2.3", False)
    assert mod.cached_version(str(binary), runner, True) == ("v1.2.3", True)
    assert runner.calls == 1
    # a different binary (size changes) is asked again
    binary.write_text("#!/bin/sh\n# upgraded\n")
    runner.answer = "v1.3.0"
    assert mod.cached_version(str(binary), runner, True) == ("v1.3.0", False)
    # one file per binary: the first binary's entry is still there for a concurrent run that uses it
    files = sorted((tmp_path / "cache" / "virakcloud.everest").glob("everestctl-version-*.json"))
    assert len(files) == 2
    # without the cache everestctl runs every time; a corrupt cache file is ignored
    from ansible_collections.virakcloud.everest.plugins.module_utils import _cache

    current = _cache.cache_file(mod.VERSION_CACHE_KIND, mod._binary_key(str(binary)))
    with open(current, "w") as handle:
        handle.write("{not json")
    assert mod.cached_version(str(binary), runner, True) == ("v1.3.0", False)
    assert mod.cached_version(str(binary), runner, False) == ("v1.3.0", False)
    assert runner.calls == 4


def test_missing_items_name_each_prerequisite_with_a_fix():
    from ansible_collections.virakcloud.everest.plugins.modules import everest_cluster_info as mod

    facts = {
        "everestctl": {"found": True, "error": None},
        "cluster": {"reachable": True, "error": None},
        "everest": {"installed": False},
        "rbac": {"present": False},
        "accounts": {"present": True},
        "crd": {"present": True, "established": False},
    }
    params = {"require_everestctl": True, "require_crd": True}
    missing = mod.missing_items(facts, params)
    assert [m["name"] for m in missing] == ["everest", "rbac_configmap", "crd"]
    assert all(m["fix"] for m in missing)
    assert "is not Established" in missing[-1]["problem"]
    # an unreachable cluster hides the rest (they cannot be known)
    facts["cluster"] = {"reachable": False, "error": "connection refused"}
    assert [m["name"] for m in mod.missing_items(facts, params)] == ["cluster"]
