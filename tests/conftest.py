"""Project-wide pytest setup.

1. Makes ``ansible_collections.virakcloud.everest`` importable: ``<repo>/.venv/collections`` when ``make venv``
   created the link there, else a symlink farm under ``tests/output/.collections``.
2. ``sandbox`` (session scope): the Kubernetes API emulator in a thread of this process plus the files the
   launcher writes (kubeconfig, bin/everestctl, calls.jsonl, env) in a temporary directory, the Everest REST API
   emulator (``sandbox.everest_url``) and the test OIDC issuer (``sandbox.oidc_url``, ``sandbox.issuer``,
   ``sandbox.oidc_token(sub, groups)``; Everest's settings point at it).
3. ``clean_sandbox`` (function scope): the same sandbox after ``reset()`` (seeded state, no faults, zero stats,
   empty call log).
"""

import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SANDBOX_PATH = REPO_ROOT / 'tests' / 'sandbox'


def _collections_path() -> Path:
    venv = REPO_ROOT / '.venv' / 'collections'
    if (venv / 'ansible_collections' / 'virakcloud' / 'everest' / 'plugins').is_dir():
        return venv
    farm = REPO_ROOT / 'tests' / 'output' / '.collections'
    link = farm / 'ansible_collections' / 'virakcloud' / 'everest'
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        try:
            link.symlink_to(REPO_ROOT, target_is_directory=True)
        except FileExistsError:
            pass
    return farm


for _path in (str(_collections_path()), str(SANDBOX_PATH)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from everest_sandbox.launcher import InProcessSandbox  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture(scope='session')
def sandbox(tmp_path_factory):
    """A running sandbox shared by the whole session (see everest_sandbox.launcher.SandboxHandle)."""
    handle = InProcessSandbox(tmp_path_factory.mktemp('sandbox'))
    try:
        yield handle
    finally:
        handle.close()


@pytest.fixture
def clean_sandbox(sandbox):
    """The session sandbox reset to its seeded state."""
    sandbox.reset()
    yield sandbox
