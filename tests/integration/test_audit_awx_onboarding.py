"""The AWX survey onboarding playbook (awx/playbooks/onboard_tenant.yml) against the sandbox, as AWX would run it:
survey answers as extra variables, JOB_ID and awx_* extra variables set, the audit callback enabled.
"""

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SECRET = "Surv3y-Secret_pw"
PLAYBOOK = str(Path(__file__).resolve().parents[2] / "awx" / "playbooks" / "onboard_tenant.yml")


def _survey(**overrides):
    answers = {
        "everest_survey_tenant": "initech",
        "everest_survey_namespace": "",
        "everest_survey_operators": ["postgresql", "mysql"],
        "everest_survey_username": "",
        "everest_survey_password": SECRET,
        "everest_survey_rbac_preset": "namespace_admin",
        "everest_survey_cpu": "2",
        "everest_survey_memory": "4Gi",
        "everest_survey_max_clusters": 2,
        "everest_survey_max_db_users": 5,
        # what AWX adds to every job
        "awx_job_id": 901,
        "awx_user_name": "bob",
    }
    answers.update(overrides)
    return answers


def test_survey_onboarding_is_audited_without_secrets(ansible, clean_sandbox, tmp_path):
    log = tmp_path / "audit.jsonl"
    env = {"ANSIBLE_CALLBACKS_ENABLED": "record,virakcloud.everest.audit", "EVEREST_AUDIT_LOG": str(log), "JOB_ID": "901"}
    run = ansible.playbook(PLAYBOOK, extra_vars=_survey(), verbosity=4, env=env)
    assert run.rc == 0, run.output[-4000:]
    assert SECRET not in run.output
    assert SECRET not in log.read_text()
    assert SECRET not in json.dumps(clean_sandbox.calls())

    status, namespace = clean_sandbox.request("GET", "/api/v1/namespaces/ns-initech")
    assert status == 200, namespace
    assert run.stats["initech"]["failures"] == 0 and run.stats["initech"]["changed"] > 0

    records = [json.loads(line) for line in log.read_text().splitlines()]
    modules = {r["module"] for r in records}
    assert {"virakcloud.everest.everest_namespace", "virakcloud.everest.everest_account", "virakcloud.everest.tenant_resource_policy"} <= modules
    assert all(r["host"] == "initech" and r["awx_job_id"] == "901" and r["awx_user"] == "bob" for r in records)
    assert all(r["changed"] is True and r["failed"] is False for r in records)
    # the role calls the batch forms in both modes: each record lists its items (name, masked cmd)
    namespace_item = next(r for r in records if r["module"] == "virakcloud.everest.everest_namespace")["items"][0]
    assert namespace_item["name"] == "ns-initech" and "--operator.mysql=true" in namespace_item["cmd"]
    account_line = next(r for r in records if r["module"] == "virakcloud.everest.everest_account")
    usernames = [account_line.get("username")] + [i.get("username") for i in account_line.get("items", [])]
    assert "initech" in usernames
    policy_line = next(r for r in records if r["module"] == "virakcloud.everest.tenant_resource_policy")
    assert [i["namespace"] for i in policy_line["items"]] == ["ns-initech"]

    # the same survey again: nothing changes, so nothing is audited
    again = ansible.playbook(PLAYBOOK, extra_vars=_survey(), env=env)
    assert again.rc == 0, again.output[-4000:]
    assert again.stats["initech"]["changed"] == 0
    assert [json.loads(line) for line in log.read_text().splitlines()] == records


def test_survey_rejects_bad_answers_before_touching_the_cluster(ansible, clean_sandbox, tmp_path):
    log = tmp_path / "audit.jsonl"
    env = {"ANSIBLE_CALLBACKS_ENABLED": "record,virakcloud.everest.audit", "EVEREST_AUDIT_LOG": str(log)}
    run = ansible.playbook(PLAYBOOK, extra_vars=_survey(everest_survey_tenant="Bad_Name", everest_survey_password="x"), env=env)
    assert run.rc != 0
    assert "tenant must be a DNS label" in run.output
    assert "initech" not in run.stats
    assert clean_sandbox.calls() == []
    assert not log.exists()
