"""``python -m everest_sandbox start|status|stop`` in a subprocess, and the files the fixture writes."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from everest_sandbox.launcher import SANDBOX_ROOT, SandboxHandle, raw_request, read_env

REPO = SANDBOX_ROOT.parent.parent


def run(*args, cwd=REPO):
    env = dict(os.environ, PYTHONPATH=str(SANDBOX_ROOT))
    return subprocess.run([sys.executable, '-m', 'everest_sandbox', *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60, check=False)


def test_start_status_stop(tmp_path):
    state = tmp_path / 'state dir'
    proc = run('start', '--dir', str(state), '--admin-password', 'Secret-pw1', '--ns-delay', '0.5')
    try:
        assert proc.returncode == 0, proc.stderr
        lines = (state / 'env').read_text(encoding='utf-8').splitlines()
        assert [line.split('=', 1)[0] for line in lines] == [
            'export KUBECONFIG', 'export EVERESTCTL_PATH', 'export EVEREST_SANDBOX_URL', 'export EVEREST_SANDBOX_CALL_LOG',
            'export EVEREST_SANDBOX_TOKEN', 'export K8S_AUTH_KUBECONFIG', 'export EVEREST_URL']
        env = read_env(state)
        assert env['KUBECONFIG'] == str(state / 'kubeconfig') == env['K8S_AUTH_KUBECONFIG']
        assert env['EVERESTCTL_PATH'] == str(state / 'bin' / 'everestctl')
        assert env['EVEREST_SANDBOX_CALL_LOG'] == str(state / 'calls.jsonl')
        assert env['EVEREST_SANDBOX_URL'].startswith('http://127.0.0.1:')
        assert env['EVEREST_URL'].startswith('http://127.0.0.1:') and env['EVEREST_URL'] != env['EVEREST_SANDBOX_URL']
        status, body = raw_request(env['EVEREST_URL'], None, 'GET', '/v1/version')
        assert status == 200 and 'version' in body
        # the env file is shell-sourceable
        shell = subprocess.run(['bash', '-c', f'source "{state}/env" && echo "$EVEREST_SANDBOX_URL|$KUBECONFIG"'],
                               capture_output=True, text=True, check=True)
        assert shell.stdout.strip() == f'{env["EVEREST_SANDBOX_URL"]}|{env["KUBECONFIG"]}'
        assert stat.S_IMODE((state / 'kubeconfig').stat().st_mode) == 0o600
        assert (state / 'calls.jsonl').read_text(encoding='utf-8') == ''
        wrapper = (state / 'bin' / 'everestctl').read_text(encoding='utf-8')
        assert wrapper.startswith(f'#!{sys.executable}\n')
        assert repr(str(SANDBOX_ROOT)) in wrapper and 'EVEREST_SANDBOX_NS_DELAY_S' in wrapper
        assert os.access(state / 'bin' / 'everestctl', os.X_OK)
        pid = int((state / 'pid').read_text(encoding='utf-8'))
        status, body = raw_request(env['EVEREST_SANDBOX_URL'], env['EVEREST_SANDBOX_TOKEN'], 'GET',
                                   '/api/v1/namespaces/everest-system/secrets/everest-accounts')
        assert status == 200
        import base64  # pylint: disable=import-outside-toplevel
        assert 'passwordHash: Secret-pw1' in base64.b64decode(body['data']['users.yaml']).decode()
        handle = SandboxHandle.from_dir(state)
        assert handle.stats()['total'] >= 1
        again = run('start', '--dir', str(state))
        assert again.returncode == 0 and 'already running' in again.stdout
        assert int((state / 'pid').read_text(encoding='utf-8')) == pid
        assert run('status', '--dir', str(state)).returncode == 0
    finally:
        stopped = run('stop', '--dir', str(state))
    assert stopped.returncode == 0, stopped.stderr
    assert not (state / 'pid').exists()
    assert (state / 'server.log').exists()
    assert run('status', '--dir', str(state)).returncode == 1
    assert run('stop', '--dir', str(state)).returncode == 0


def test_fixture_files(sandbox):
    directory = Path(sandbox.dir)
    assert read_env(directory) == sandbox.env
    assert sandbox.kubeconfig == str(directory / 'kubeconfig')
    assert f'server: {sandbox.url}' in Path(sandbox.kubeconfig).read_text(encoding='utf-8')
    assert 'server: https://127.0.0.1:' in Path(sandbox.kubectl_kubeconfig).read_text(encoding='utf-8')
    assert os.access(sandbox.everestctl, os.X_OK)
    assert sandbox.env['EVEREST_SANDBOX_TOKEN'] == sandbox.token
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    api = sandbox.k8s()
    try:
        names = [n.metadata.name for n in client.CoreV1Api(api).list_namespace().items]
    finally:
        api.close()
    assert 'everest-system' in names
    assert json.dumps(sandbox.stats())


def test_tls_kubeconfig_works_for_python_clients(sandbox):
    from kubernetes import client, config  # pylint: disable=import-outside-toplevel
    api = config.new_client_from_config(config_file=sandbox.kubectl_kubeconfig)
    try:
        assert api.configuration.host.startswith('https://127.0.0.1:')
        assert client.VersionApi(api).get_code().git_version == 'v1.31.0'
    finally:
        api.close()
