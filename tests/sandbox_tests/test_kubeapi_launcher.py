"""``python -m everest_sandbox start|status|stop`` in a subprocess, and the files the fixture writes."""

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from everest_sandbox.launcher import SANDBOX_ROOT, SandboxHandle, raw_request, read_env, rest_delays

REPO = SANDBOX_ROOT.parent.parent
KUBECTL = shutil.which('kubectl')


def source_env_and_run(directory, home, script, path='/usr/bin:/bin'):
    """bash -c 'source DIR/env && SCRIPT' in a clean environment (only PATH and HOME)."""
    return subprocess.run(
        ['/bin/bash', '-c', f'source "{directory}/env" && {script}'],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={'PATH': path, 'HOME': str(home)},
    )


def run(*args, cwd=REPO):
    env = dict(os.environ, PYTHONPATH=str(SANDBOX_ROOT))
    return subprocess.run([sys.executable, '-m', 'everest_sandbox', *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_start_status_stop(tmp_path):
    state = tmp_path / 'state dir'
    proc = run('start', '--dir', str(state), '--admin-password', 'Secret-pw1', '--ns-delay', '0.5')
    try:
        assert proc.returncode == 0, proc.stderr
        lines = (state / 'env').read_text(encoding='utf-8').splitlines()
        assert [line.split('=', 1)[0] for line in lines if line.startswith('export ') and '=' in line] == [
            'export KUBECONFIG',
            'export EVERESTCTL_PATH',
            'export EVEREST_SANDBOX_URL',
            'export EVEREST_SANDBOX_CALL_LOG',
            'export EVEREST_SANDBOX_TOKEN',
            'export K8S_AUTH_KUBECONFIG',
            'export EVEREST_URL',
            'export EVEREST_SANDBOX_KUBECTL_KUBECONFIG',
            'export EVEREST_SANDBOX_OIDC_URL',
        ]
        env = read_env(state)
        assert 'PATH' not in env, 'read_env() must not hand a shell expression for PATH to callers'
        assert env['KUBECONFIG'] == str(state / 'kubeconfig') == env['K8S_AUTH_KUBECONFIG']
        assert env['EVEREST_SANDBOX_KUBECTL_KUBECONFIG'] == str(state / 'kubeconfig-kubectl')
        assert env['EVERESTCTL_PATH'] == str(state / 'bin' / 'everestctl')
        assert env['EVEREST_SANDBOX_CALL_LOG'] == str(state / 'calls.jsonl')
        assert env['EVEREST_SANDBOX_URL'].startswith('http://127.0.0.1:')
        assert env['EVEREST_URL'].startswith('http://127.0.0.1:') and env['EVEREST_URL'] != env['EVEREST_SANDBOX_URL']
        status, body = raw_request(env['EVEREST_URL'], None, 'GET', '/v1/version')
        assert status == 200 and 'version' in body
        # the env file is shell-sourceable
        shell = subprocess.run(['bash', '-c', f'source "{state}/env" && echo "$EVEREST_SANDBOX_URL|$KUBECONFIG"'], capture_output=True, text=True, check=True)
        assert shell.stdout.strip() == f'{env["EVEREST_SANDBOX_URL"]}|{env["KUBECONFIG"]}'
        # kubectl works with nothing but what the env file provides (the directory name has a space in it)
        if KUBECTL:
            proc = source_env_and_run(state, tmp_path, 'command -v kubectl && kubectl get ns -o name')
            assert proc.returncode == 0, proc.stderr
            assert proc.stdout.splitlines()[0] == str(state / 'bin' / 'kubectl')
            assert 'namespace/everest-system' in proc.stdout.splitlines()
        assert stat.S_IMODE((state / 'kubeconfig').stat().st_mode) == 0o600
        assert (state / 'calls.jsonl').read_text(encoding='utf-8') == ''
        wrapper = (state / 'bin' / 'everestctl').read_text(encoding='utf-8')
        assert wrapper.startswith(f'#!{sys.executable}\n')
        assert repr(str(SANDBOX_ROOT)) in wrapper and 'EVEREST_SANDBOX_NS_DELAY_S' in wrapper
        assert os.access(state / 'bin' / 'everestctl', os.X_OK)
        pid = int((state / 'pid').read_text(encoding='utf-8'))
        status, body = raw_request(
            env['EVEREST_SANDBOX_URL'], env['EVEREST_SANDBOX_TOKEN'], 'GET', '/api/v1/namespaces/everest-system/secrets/everest-accounts'
        )
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


@pytest.mark.skipif(KUBECTL is None, reason='kubectl not installed')
def test_sourced_env_gives_working_kubectl(sandbox, tmp_path):
    """`source env && kubectl ...` talks TLS to the sandbox (kubectl sends bearer tokens only over TLS) while KUBECONFIG
    stays the plain-HTTP one the Python clients and the everestctl emulator use; sourcing twice does not grow PATH."""
    directory = Path(sandbox.dir)
    script = (
        'source "$0/env"; source "$0/env"; echo "$PATH"; echo "$KUBECONFIG"; command -v kubectl everestctl; '
        'kubectl get ns everest-system -o jsonpath={.metadata.name}; echo; '
        'kubectl get secret everest-accounts -n everest-system -o name; '
        'kubectl config view --minify -o jsonpath={.clusters[0].cluster.server}'
    )
    proc = subprocess.run(
        ['bash', '-c', script, str(directory)], capture_output=True, text=True, timeout=60, check=False, env={'PATH': '/usr/bin:/bin', 'HOME': str(tmp_path)}
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f'{directory}/bin:/usr/bin:/bin'
    assert lines[1] == sandbox.kubeconfig == str(directory / 'kubeconfig')
    assert lines[2:4] == [str(directory / 'bin' / 'kubectl'), str(directory / 'bin' / 'everestctl')]
    assert lines[4:6] == ['everest-system', 'secret/everest-accounts']
    assert lines[6].startswith('https://127.0.0.1:')
    # an explicit --kubeconfig still wins over the wrapper's
    proc = source_env_and_run(directory, tmp_path, f'kubectl --kubeconfig "{sandbox.kubeconfig}" get ns')
    assert proc.returncode == 1  # the plain-HTTP kubeconfig: kubectl withholds the token, the API answers 401
    # without a real kubectl on PATH the wrapper says so instead of calling itself
    proc = source_env_and_run(directory, tmp_path, 'kubectl get ns', path='/nonexistent')
    assert proc.returncode == 127 and 'no kubectl on PATH besides the sandbox wrapper' in proc.stderr


def test_rest_delays_from_flags_then_environment():
    class Args:  # pylint: disable=too-few-public-methods
        ready_delay = None
        job_delay = None

    assert rest_delays(Args(), {}) == {}
    assert rest_delays(Args(), {'EVEREST_SANDBOX_READY_DELAY_S': '2.5', 'EVEREST_SANDBOX_JOB_DELAY_S': ' 0 '}) == {'ready_delay': 2.5, 'job_delay': 0.0}
    assert rest_delays(Args(), {'EVEREST_SANDBOX_READY_DELAY_S': ''}) == {}
    args = Args()
    args.ready_delay = 1.0
    assert rest_delays(args, {'EVEREST_SANDBOX_READY_DELAY_S': '9', 'EVEREST_SANDBOX_JOB_DELAY_S': '3'}) == {'ready_delay': 1.0, 'job_delay': 3.0}
    from everest_sandbox.launcher import UsageError  # pylint: disable=import-outside-toplevel

    for environ in ({'EVEREST_SANDBOX_JOB_DELAY_S': 'soon'}, {'EVEREST_SANDBOX_READY_DELAY_S': '-1'}, {'EVEREST_SANDBOX_READY_DELAY_S': 'nan'}):
        with pytest.raises(UsageError, match='EVEREST_SANDBOX_'):
            rest_delays(Args(), environ)


def _rest_cluster_state(env, admin_password):
    """Create a managed namespace, a backup storage, a cluster and a backup through the REST emulator; return the
    cluster's status.status read back at once and the backup's status.state as the create answered it."""
    status, _body = raw_request(
        env['EVEREST_SANDBOX_URL'],
        env['EVEREST_SANDBOX_TOKEN'],
        'POST',
        '/api/v1/namespaces',
        {'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': 'ns-d', 'labels': {'app.kubernetes.io/managed-by': 'everest'}}},
    )
    assert status == 201
    url = env['EVEREST_URL']
    status, body = raw_request(url, None, 'POST', '/v1/session', {'username': 'admin', 'password': admin_password})
    assert status == 200, body
    token = body['token']
    base = '/v1/namespaces/ns-d'
    status, body = raw_request(
        url,
        token,
        'POST',
        base + '/backup-storages',
        {'name': 's3-d', 'type': 's3', 'bucketName': 'b', 'accessKey': 'a', 'secretKey': 's', 'url': 'https://s3.example.com', 'region': 'us-east-1'},
    )
    assert status == 201, body
    cluster = {
        'apiVersion': 'everest.percona.com/v1alpha1',
        'kind': 'DatabaseCluster',
        'metadata': {'name': 'pg-d'},
        'spec': {'engine': {'type': 'postgresql', 'replicas': 1, 'storage': {'size': '25Gi'}, 'resources': {'cpu': '1', 'memory': '2Gi'}}},
    }
    status, body = raw_request(url, token, 'POST', base + '/database-clusters', cluster)
    assert status == 201, body
    status, body = raw_request(url, token, 'GET', base + '/database-clusters/pg-d')
    assert status == 200, body
    status, backup = raw_request(
        url,
        token,
        'POST',
        base + '/database-cluster-backups',
        {
            'apiVersion': 'everest.percona.com/v1alpha1',
            'kind': 'DatabaseClusterBackup',
            'metadata': {'name': 'bk-d'},
            'spec': {'dbClusterName': 'pg-d', 'backupStorageName': 's3-d'},
        },
    )
    assert status == 200, backup
    return body['status']['status'], backup['status']['state']


@pytest.mark.parametrize(
    'flags, environ, expected',
    [
        (['--ready-delay', '3600', '--job-delay', '0'], {'EVEREST_SANDBOX_READY_DELAY_S': '0'}, ('creating', 'Succeeded')),
        ([], {'EVEREST_SANDBOX_READY_DELAY_S': '0', 'EVEREST_SANDBOX_JOB_DELAY_S': '3600'}, ('ready', 'Starting')),
    ],
)
def test_start_passes_rest_delays(tmp_path, flags, environ, expected):
    state = tmp_path / 'state'
    env = dict(os.environ, PYTHONPATH=str(SANDBOX_ROOT), **environ)
    proc = subprocess.run(
        [sys.executable, '-m', 'everest_sandbox', 'start', '--dir', str(state), '--admin-password', 'Admin-pw1', *flags],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    try:
        assert proc.returncode == 0, proc.stderr
        assert _rest_cluster_state(read_env(state), 'Admin-pw1') == expected
        ready, job = ('3600.0', '0.0') if flags else ('0.0', '3600.0')
        assert f'ready delay {ready} s, job delay {job} s' in (state / 'server.log').read_text(encoding='utf-8')
    finally:
        assert run('stop', '--dir', str(state)).returncode == 0


def test_bad_delay_is_a_usage_error(tmp_path):
    proc = run('start', '--dir', str(tmp_path / 's'), '--ready-delay', '-2')
    assert proc.returncode == 2 and '--ready-delay: expected a number of seconds >= 0' in proc.stderr
    env = dict(os.environ, PYTHONPATH=str(SANDBOX_ROOT), EVEREST_SANDBOX_JOB_DELAY_S='later')
    proc = subprocess.run(
        [sys.executable, '-m', 'everest_sandbox', 'start', '--dir', str(tmp_path / 's')],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2 and "EVEREST_SANDBOX_JOB_DELAY_S: expected a number of seconds, got 'later'" in proc.stderr
    assert not (tmp_path / 's' / 'pid').exists()
