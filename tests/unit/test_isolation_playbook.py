"""playbooks/isolation.yml restates the role's RBAC presets (it runs without the role): they must stay equal."""

from pathlib import Path

import yaml

from ansible_collections.virakcloud.everest.plugins.module_utils import _tenants

REPO = Path(__file__).resolve().parents[2]


def test_isolation_playbook_presets_are_the_roles():
    (play,) = yaml.safe_load((REPO / "playbooks" / "isolation.yml").read_text())
    presets = play["vars"]["everest_isolation__presets"]
    assert set(presets) == set(_tenants.PRESETS)
    for name, grants in presets.items():
        assert grants == _tenants.grants(name), name


def test_isolation_playbook_is_read_only():
    (play,) = yaml.safe_load((REPO / "playbooks" / "isolation.yml").read_text())
    modules = [next(k for k in task if "." in k) for task in play["tasks"]]
    assert modules == ["virakcloud.everest.everest_rbac_check", "ansible.builtin.debug", "ansible.builtin.assert"]
    assert play["hosts"] == "everest_tenants"
