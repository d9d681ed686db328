"""The tenant_bootstrap role's argument spec and its defaults agree: every optional variable has a default in
defaults/main.yml, every default is a documented variable, and each documented default equals the real one."""

from pathlib import Path

import pytest
import yaml

ROLE = Path(__file__).resolve().parents[2] / "roles" / "tenant_bootstrap"
SPECS = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())


def public(names):
    return set(n for n in names if n.startswith("tenant_bootstrap_") and not n.startswith("tenant_bootstrap__"))


def test_every_optional_variable_has_a_default_and_every_default_is_documented():
    options = SPECS["main"]["options"]
    optional = set(n for n, o in options.items() if not o.get("required"))
    assert sorted(optional - set(DEFAULTS)) == [], "documented but no default in defaults/main.yml"
    assert sorted(public(DEFAULTS) - set(options)) == [], "default without documentation in meta/argument_specs.yml"


@pytest.mark.parametrize("entry", sorted(SPECS))
def test_documented_defaults_equal_the_real_ones(entry):
    for name, option in SPECS[entry]["options"].items():
        if "default" in option and name in DEFAULTS:
            assert option["default"] == DEFAULTS[name], name


@pytest.mark.parametrize("entry", sorted(SPECS))
def test_other_entry_points_only_use_variables_of_main(entry):
    assert set(SPECS[entry]["options"]) <= set(SPECS["main"]["options"])
