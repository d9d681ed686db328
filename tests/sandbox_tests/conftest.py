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
        return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60, check=False, env={'PATH': '/usr/bin:/bin', 'HOME': str(tmp_path)})

    return _run


class Identity:
    """A ServiceAccount of the sandbox with a TokenRequest token: raw HTTP, the Python client and kubectl as it."""

    def __init__(self, sandbox, namespace, name, token, directory, kubectl_cache):
        self.sandbox, self.namespace, self.name, self.token = sandbox, namespace, name, token
        self.username = f'system:serviceaccount:{namespace}:{name}'
        self.kubeconfig = sandbox.server.write_kubeconfig(str(directory / f'kubeconfig-{namespace}-{name}'), tls=True, token=token)
        self._dir, self._cache = directory, kubectl_cache

    def request(self, method, path, body=None, headers=None):
        from everest_sandbox.launcher import raw_request  # pylint: disable=import-outside-toplevel

        return raw_request(self.sandbox.url, self.token, method, path, body, headers)

    def client(self):
        """An official kubernetes ApiClient authenticating with this identity's token."""
        from kubernetes import client  # pylint: disable=import-outside-toplevel

        config = client.Configuration()
        config.host = self.sandbox.url
        config.api_key = {'authorization': 'Bearer ' + self.token}
        return client.ApiClient(config)

    def kubectl(self, *args, stdin=None):
        if KUBECTL is None:
            pytest.skip('kubectl not installed')
        argv = [KUBECTL, '--kubeconfig', self.kubeconfig, '--cache-dir', str(self._cache), *args]
        return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60, check=False, env={'PATH': '/usr/bin:/bin', 'HOME': str(self._dir)})


@pytest.fixture
def service_account(clean_sandbox, raw, kubectl_cache, tmp_path):
    """service_account(namespace, name='bot') -> Identity; creates the namespace (if missing) and the ServiceAccount."""

    def _make(namespace, name='bot'):
        if raw('GET', f'/api/v1/namespaces/{namespace}')[0] == 404:
            assert raw('POST', '/api/v1/namespaces', {'metadata': {'name': namespace}})[0] == 201
        status, body = raw('POST', f'/api/v1/namespaces/{namespace}/serviceaccounts', {'metadata': {'name': name}})
        assert status == 201, body
        status, request = raw('POST', f'/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token', {'spec': {}})
        assert status == 201, request
        return Identity(clean_sandbox, namespace, name, request['status']['token'], tmp_path, kubectl_cache)

    return _make
