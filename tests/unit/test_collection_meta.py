"""Collection-level contracts: metadata, action group, entry points named by the issues."""

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def module_names():
    return sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py") if not p.name.startswith("_"))


def test_galaxy_metadata():
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text())
    assert (galaxy["namespace"], galaxy["name"], galaxy["version"]) == ("virakcloud", "everest", "0.1.0")
    for ignored in ("tests", ".venv", ".sandbox", "bench", "*.tar.gz"):
        assert ignored in galaxy["build_ignore"]


def documented_fragments(name):
    src = (REPO / "plugins" / "modules" / ("%s.py" % name)).read_text()
    doc = yaml.safe_load(re.search(r'DOCUMENTATION = r?["\']{3}(.*?)["\']{3}', src, re.S).group(1))
    return doc.get("extends_documentation_fragment") or []


def test_action_groups_match_the_options_each_module_accepts():
    """group/virakcloud.everest.everest = every module with the Kubernetes connection options; everest_api = the
    REST modules. module_defaults passes a group's defaults to every member, so membership must follow the options."""
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    assert runtime["requires_ansible"] == ">=2.16.0"
    groups = runtime["action_groups"]
    expected_k8s = [m for m in module_names() if "virakcloud.everest.connection" in documented_fragments(m)]
    expected_api = [m for m in module_names() if "virakcloud.everest.everest_api" in documented_fragments(m)]
    assert sorted(groups["everest"]) == expected_k8s
    assert sorted(groups.get("everest_api", [])) == expected_api
    # tenant_plan is a controller-side action with no connection options (nothing to default)
    assert set(expected_k8s) | set(expected_api) | {"tenant_plan"} == set(module_names()), "a module in no action group"
    for name in expected_k8s:  # module_defaults may set everestctl_path for the whole group
        assert "virakcloud.everest.everestctl" in documented_fragments(name), name


def test_core_modules_exist():
    for name in ("everest_account", "everest_namespace", "everest_rbac_policy", "tenant_resource_policy"):
        assert name in module_names()


def test_readme_starts_with_the_two_commands():
    text = (REPO / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make demo", "make test"]


def test_ci_runs_the_readme_test_command():
    script = (REPO / ".ci" / "run").read_text()
    assert "exec make test" in script


def test_makefile_targets():
    makefile = (REPO / "Makefile").read_text()
    for target in ("venv", "test", "units", "integration", "lint", "sanity", "build", "sandbox-start", "sandbox-stop", "demo", "bench"):
        assert re.search(r"^%s:" % re.escape(target), makefile, re.M), target


def test_every_change_has_changelog_fragments():
    fragments = list((REPO / "changelogs" / "fragments").glob("*.yml"))
    assert fragments
    for fragment in fragments:
        data = yaml.safe_load(fragment.read_text())
        assert isinstance(data, dict) and data, fragment
