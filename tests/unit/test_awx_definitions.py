"""AWX objects shipped in awx/: custom credential types, the onboarding survey and the example job templates.

No AWX here: the definitions are checked against AWX's rules for these objects (field types, injector templates that
only use defined inputs, survey question types) and their injectors are rendered with Jinja2 the way AWX does.
"""

import re
from pathlib import Path

import jinja2
import jinja2.sandbox
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
AWX = REPO / "awx"
FIELD_TYPES = {"string", "boolean"}
KINDS = {"cloud", "net"}  # the kinds AWX accepts for custom credential types
SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}
SECRET_IDS = {"kubeconfig", "token", "password"}


def _load(name):
    return yaml.safe_load((AWX / name).read_text())


CREDENTIAL_TYPES = _load("credential_types.yml")["everest_awx_credential_types"]
SURVEY = _load("surveys/onboard_tenant.yml")
JOBS = _load("job_templates.yml")


def _variables(template):
    env = jinja2.Environment()
    from jinja2 import meta  # pylint: disable=import-outside-toplevel

    return meta.find_undeclared_variables(env.parse(template))


def _render(credential_type, inputs, filenames):
    """Render env and file injectors like AWX: inputs as variables, `tower.filename.<name>` for file injectors."""
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(undefined=jinja2.ChainableUndefined)
    context = dict(inputs)
    context["tower"] = {"filename": filenames}
    injectors = credential_type["injectors"]
    files = {key: env.from_string(value).render(**context) for key, value in injectors.get("file", {}).items()}
    variables = {key: env.from_string(value).render(**context) for key, value in injectors.get("env", {}).items()}
    return files, variables


@pytest.mark.parametrize("credential_type", CREDENTIAL_TYPES, ids=lambda c: c["name"])
def test_credential_type_structure(credential_type):
    assert set(credential_type) == {"name", "description", "kind", "inputs", "injectors"}
    assert credential_type["kind"] in KINDS
    fields = credential_type["inputs"]["fields"]
    ids = [f["id"] for f in fields]
    assert len(ids) == len(set(ids))
    for field in fields:
        assert re.match(r"^[a-z_][a-z0-9_]*$", field["id"])
        assert field.get("type", "string") in FIELD_TYPES and field["label"]
        assert field.get("secret", False) is (field["id"] in SECRET_IDS), field["id"]
    assert set(credential_type["inputs"].get("required", [])) <= set(ids)
    files = credential_type["injectors"].get("file", {})
    for key in files:
        assert key == "template" or re.match(r"^template\.[a-z_]+$", key)
    file_names = {key.split(".", 1)[1] for key in files if "." in key}
    for template in list(files.values()) + list(credential_type["injectors"].get("env", {}).values()):
        for name in _variables(template):
            assert name in ids or name == "tower", (credential_type["name"], template)
        for ref in re.findall(r"tower\.filename\.([a-z_]+)", template):
            assert ref in file_names


def test_kubeconfig_credential_injects_the_collection_environment():
    (kube,) = [c for c in CREDENTIAL_TYPES if c["name"] == "Everest cluster (kubeconfig)"]
    content = "apiVersion: v1\nkind: Config\ncurrent-context: x\n"
    files, env = _render(kube, {"kubeconfig": content, "context": "prod", "verify_ssl": True}, {"kubeconfig": "/runner/env/tmpabc"})
    assert files == {"template.kubeconfig": content}
    assert env["K8S_AUTH_KUBECONFIG"] == env["KUBECONFIG"] == "/runner/env/tmpabc"
    assert env["K8S_AUTH_CONTEXT"] == "prod" and env["K8S_AUTH_VERIFY_SSL"] == "True"
    # no context given: an empty value, which the modules treat as "use the current-context"
    _files, env = _render(kube, {"kubeconfig": content}, {"kubeconfig": "/runner/env/tmpabc"})
    assert env["K8S_AUTH_CONTEXT"] == "" and env["K8S_AUTH_VERIFY_SSL"] == "True"
    assert kube["inputs"]["required"] == ["kubeconfig"]


def test_api_credential_injects_everest_variables():
    (api,) = [c for c in CREDENTIAL_TYPES if c["name"] == "Everest API"]
    _files, env = _render(api, {"url": "https://everest.example.com", "token": "jwt", "verify_ssl": False}, {})
    assert env == {
        "EVEREST_URL": "https://everest.example.com",
        "EVEREST_TOKEN": "jwt",
        "EVEREST_USERNAME": "",
        "EVEREST_PASSWORD": "",
        "EVEREST_VERIFY_SSL": "False",
    }


def test_connection_variables_match_the_collection_options():
    """Every K8S_AUTH_* variable a credential injects is one the modules read (plugins/module_utils/_module.py)."""
    source = (REPO / "plugins" / "module_utils" / "_module.py").read_text()
    injected = {k for c in CREDENTIAL_TYPES for k in c["injectors"].get("env", {}) if k.startswith("K8S_AUTH_")}
    assert injected
    for name in injected:
        assert '"%s"' % name in source or "'%s'" % name in source, name


def test_survey_questions():
    assert SURVEY["name"] and SURVEY["description"]
    variables = [q["variable"] for q in SURVEY["spec"]]
    assert len(variables) == len(set(variables))
    for question in SURVEY["spec"]:
        assert question["type"] in SURVEY_TYPES
        assert question["question_name"] and isinstance(question["required"], bool)
        assert question["variable"].startswith("everest_survey_")
        if question["type"] in ("multiplechoice", "multiselect") and "default" in question:
            assert set(str(question["default"]).split("\n")) <= set(question["choices"])
        if "password" in question["variable"]:
            assert question["type"] == "password"
    assert "everest_survey_tenant" in variables and "everest_survey_password" in variables


def test_onboarding_playbook_uses_exactly_the_survey_answers():
    (onboard,) = [j for j in JOBS["everest_awx_job_templates"] if j["name"] == "Everest - onboard one tenant"]
    assert onboard["survey_enabled"] is True and JOBS["everest_awx_surveys"][onboard["name"]] == "awx/surveys/onboard_tenant.yml"
    playbook = (REPO / onboard["playbook"]).read_text()
    answers = {q["variable"] for q in SURVEY["spec"]}
    used = set(re.findall(r"\b(everest_survey_[a-z_]+)", playbook))
    assert used == answers
    assert onboard["inventory"] in {i["name"] for i in JOBS["everest_awx_inventories"]}


def test_job_templates():
    names = [j["name"] for j in JOBS["everest_awx_job_templates"]]
    assert len(names) == len(set(names))
    by_name = {j["name"]: j for j in JOBS["everest_awx_job_templates"]}
    drift = by_name["Everest - drift report (check mode)"]
    assert drift["job_type"] == "check" and drift["diff_mode"] is True
    assert by_name["Everest - bootstrap tenants"]["job_slice_count"] > 1
    for job in JOBS["everest_awx_job_templates"]:
        assert job["job_type"] in ("run", "check")
        assert job["execution_environment"] == JOBS["everest_awx_execution_environment"]["name"]
