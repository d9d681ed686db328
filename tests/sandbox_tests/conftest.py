"""Fixtures for the fidelity tests of the sandbox (the ``sandbox``/``clean_sandbox`` fixtures are in tests/conftest.py)."""

import shutil
import subprocess

import pytest

KUBECTL = shutil.which('kubectl')


@pytest.fixture
def api(clean_sandbox):
    """An official kubernetes ApiClient on a freshly reset sandbox."""
    client = clean_sandbox.k8s()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def core(api):
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    return client.CoreV1Api(api)


@pytest.fixture
def raw(clean_sandbox):
    """raw(method, path, body=None, headers=None) -> (status, json) against a freshly reset sandbox."""
    return clean_sandbox.request


@pytest.fixture
def make_ns(raw):
    def _make(name):
        status, body = raw('POST', '/api/v1/namespaces', {'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': name}})
        assert status == 201, body
        return body
    return _make


@pytest.fixture(scope='session')
def kubectl_cache(tmp_path_factory):
    return tmp_path_factory.mktemp('kubectl-cache')


@pytest.fixture
def kubectl(clean_sandbox, kubectl_cache, tmp_path):
    """kubectl(*args, input=None) -> CompletedProcess, run with the sandbox's TLS kubeconfig."""
    if KUBECTL is None:
        pytest.skip('kubectl not installed')

    def _run(*args, stdin=None):
        argv = [KUBECTL, '--kubeconfig', clean_sandbox.kubectl_kubeconfig, '--cache-dir', str(kubectl_cache), *args]
        return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60, check=False,
                              env={'PATH': '/usr/bin:/bin', 'HOME': str(tmp_path)})
    return _run
