"""Unit-test isolation shared by every unit test directory."""

import pytest


@pytest.fixture(autouse=True)
def _module_context(monkeypatch):
    """Run module code as on a target, whatever controller code other tests imported before.

    Importing controller code (e.g. ansible.utils.display, as the callback tests do) flips
    ansible.module_utils._internal.is_controller to True, after which AnsibleModule.warn() goes to
    Display instead of result["warnings"], and module tests become test-order dependent.
    """
    try:
        from ansible.module_utils import _internal
    except ImportError:  # older ansible-core
        yield
        return
    monkeypatch.setattr(_internal, "is_controller", False)
    yield


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Module code caches facts under $XDG_CACHE_HOME (_cache.py): every unit test gets its own, empty one."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
