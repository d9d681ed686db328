"""awx/job_templates.yml (and the credential types) against the argument specs of the awx.awx modules that create them.

The specs are awx.awx 24.6.1's own (fixtures/awx/argument_specs.json, read from the modules by awx_collection.py); a
test re-reads them from the collection itself when it can be downloaded. Validation is ansible-core's
ArgumentSpecValidator, which the modules use: an unknown key, a wrong type or a bad choice is an error, as it would be
when awx/playbooks/configure_awx.yml runs against AWX.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

import awx_collection

REPO = Path(__file__).resolve().parents[2]
AWX = REPO / "awx"
FIXTURE = json.loads(awx_collection.FIXTURE.read_text())
SPECS = FIXTURE["argument_specs"]
DATA = yaml.safe_load((AWX / "job_templates.yml").read_text())
CREDENTIAL_TYPES = yaml.safe_load((AWX / "credential_types.yml").read_text())["everest_awx_credential_types"]
CONFIGURE = yaml.safe_load((AWX / "playbooks" / "configure_awx.yml").read_text())[0]


def errors(module, params):
    return ArgumentSpecValidator(SPECS[module]).validate(dict(params)).error_messages


def job_templates():
    """The job templates as configure_awx.yml passes them: survey_spec is the loaded survey file."""
    out = []
    for template in DATA["everest_awx_job_templates"]:
        params = dict(template)
        survey = DATA["everest_awx_surveys"].get(template["name"])
        if survey:
            params["survey_spec"] = yaml.safe_load((REPO / survey).read_text())
        out.append(params)
    return out


OBJECTS = (
    [("job_template", t) for t in job_templates()]
    + [("inventory", i) for i in DATA["everest_awx_inventories"]]
    + [("inventory_source", s) for s in DATA["everest_awx_inventory_sources"]]
    + [("execution_environment", DATA["everest_awx_execution_environment"])]
    + [("credential_type", c) for c in CREDENTIAL_TYPES]
)


@pytest.mark.parametrize("module,params", OBJECTS, ids=lambda v: v if isinstance(v, str) else v["name"])
def test_every_object_is_valid_for_its_awx_module(module, params):
    assert errors(module, params) == []


def test_an_unknown_key_fails():
    (onboard,) = [t for t in job_templates() if t["name"] == "Everest - onboard one tenant"]
    bad = dict(onboard, survey_spec_file="awx/surveys/onboard_tenant.yml")
    messages = errors("job_template", bad)
    assert len(messages) == 1 and messages[0].startswith("survey_spec_file. Supported parameters include: "), messages
    assert errors("job_template", dict(onboard, job_type="deploy"))  # a bad choice
    assert errors("job_template", dict(onboard, survey_spec="awx/surveys/onboard_tenant.yml"))  # a file name is not a survey


def test_surveys_and_templates_fit_together():
    names = {t["name"] for t in DATA["everest_awx_job_templates"]}
    for template, survey in DATA["everest_awx_surveys"].items():
        assert template in names and (REPO / survey).is_file()
    for template in job_templates():
        assert bool(template.get("survey_enabled")) == ("survey_spec" in template), template["name"]
    inventories = {i["name"] for i in DATA["everest_awx_inventories"]}
    for source in DATA["everest_awx_inventory_sources"]:
        assert source["inventory"] in inventories and "credential" not in source  # a vault credential would decrypt


def test_read_only_jobs_use_the_read_only_identity_and_isolation_is_unsliced():
    by_name = {t["name"]: t for t in DATA["everest_awx_job_templates"]}
    isolation = by_name["Everest - tenant isolation (all tenants)"]
    assert isolation["playbook"] == "playbooks/isolation.yml" and isolation["job_slice_count"] == 1
    assert isolation["credentials"] == ["Everest production cluster (read-only)"]
    for name in ("Everest - drift report (check mode)", "Everest - tenant report"):
        assert "Everest production cluster (read-only)" in by_name[name]["credentials"]
        assert "Everest production cluster" not in by_name[name]["credentials"]
    assert by_name["Everest - drift report (check mode)"]["job_type"] == "check"


def test_configure_playbook_passes_every_key_the_data_uses():
    data_keys = {
        "awx.awx.credential_type": {k for c in CREDENTIAL_TYPES for k in c},
        "awx.awx.execution_environment": set(DATA["everest_awx_execution_environment"]),
        "awx.awx.inventory": {k for i in DATA["everest_awx_inventories"] for k in i},
        "awx.awx.inventory_source": {k for s in DATA["everest_awx_inventory_sources"] for k in s},
        "awx.awx.job_template": {k for t in job_templates() for k in t},
    }
    seen = set()
    for task in CONFIGURE["tasks"]:
        (module,) = [k for k in task if k.startswith("awx.awx.")]
        passed = set(task[module])
        assert passed == data_keys[module], (module, passed ^ data_keys[module])
        assert passed <= set(SPECS[module.rsplit(".", 1)[1]]), module
        seen.add(module)
    assert seen == set(data_keys)


@pytest.fixture(scope="module")
def awx_root():
    try:
        return awx_collection.install()
    except (subprocess.SubprocessError, OSError, ValueError) as exc:  # no PyPI here: the fixture stays the reference
        pytest.skip("awx.awx could not be downloaded (%s): validated against the stored specs only" % exc)


def test_stored_specs_are_the_collections(awx_root):
    assert "awx.awx %s" % awx_collection.version(awx_root) == FIXTURE["_source"]["collection"]
    for module in awx_collection.MODULES:
        assert awx_collection.argument_spec(awx_root, module) == SPECS[module], module


def test_configure_playbook_syntax(awx_root, tmp_path):
    env = {"ANSIBLE_COLLECTIONS_PATH": str(awx_root), "ANSIBLE_HOME": str(tmp_path), "PATH": str(Path(sys.executable).parent)}
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "--syntax-check", str(AWX / "playbooks" / "configure_awx.yml")],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(tmp_path),
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
