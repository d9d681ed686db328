"""The sandbox runs a test OIDC issuer: ``EVEREST_SANDBOX_OIDC_URL``, Everest's settings pointing at it, its lifetime."""

import os
import subprocess
import sys

import pytest
import yaml

from everest_sandbox.launcher import SANDBOX_ROOT, raw_request, read_env
from everest_sandbox.restapi import settings as rest_settings

REPO = SANDBOX_ROOT.parent.parent
CM_PATH = '/api/v1/namespaces/everest-system/configmaps/everest-settings'


def run(*args):
    env = dict(os.environ, PYTHONPATH=str(SANDBOX_ROOT))
    return subprocess.run([sys.executable, '-m', 'everest_sandbox', *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False)


def assert_points_at(handle_request, url):
    status, cm = handle_request('GET', CM_PATH)
    assert status == 200, cm
    assert cm['metadata']['annotations'] == {'helm.sh/resource-policy': 'keep'}
    assert yaml.safe_load(cm['data']['oidc.config']) == {'issuerUrl': url, 'clientId': 'everest-sandbox', 'scopes': ['openid', 'profile', 'email', 'groups']}
    # the text is what the chart's toYaml writes: keys sorted, list items not indented
    assert cm['data']['oidc.config'] == f'clientId: everest-sandbox\nissuerUrl: {url}\nscopes:\n- openid\n- profile\n- email\n- groups\n'


def test_fixture_exposes_the_issuer(sandbox):
    assert sandbox.oidc_url.startswith('http://127.0.0.1:')
    assert sandbox.env['EVEREST_SANDBOX_OIDC_URL'] == sandbox.oidc_url == read_env(sandbox.dir)['EVEREST_SANDBOX_OIDC_URL']
    status, doc = raw_request(sandbox.oidc_url, None, 'GET', '/.well-known/openid-configuration')
    assert status == 200 and doc['issuer'] == sandbox.oidc_url
    assert_points_at(sandbox.request, sandbox.oidc_url)


def test_reset_keeps_the_settings(clean_sandbox):
    status, _body = clean_sandbox.request('DELETE', CM_PATH)
    assert status == 200
    clean_sandbox.reset()
    assert_points_at(clean_sandbox.request, clean_sandbox.oidc_url)
    assert raw_request(clean_sandbox.everest_url, None, 'GET', '/v1/settings')[1]['oidcConfig']['issuerURL'] == clean_sandbox.oidc_url


def test_settings_configmap_parses_back():
    cm = rest_settings.chart_configmap('http://127.0.0.1:1', 'c', ('openid', 'groups'))
    assert rest_settings.parse_oidc_config(cm['data']['oidc.config']) == {'issuerUrl': 'http://127.0.0.1:1', 'clientId': 'c', 'scopes': ['openid', 'groups']}


def test_launched_sandbox_starts_and_stops_the_issuer(tmp_path):
    state = tmp_path / 'sb'
    proc = run('start', '--dir', str(state))
    try:
        assert proc.returncode == 0, proc.stderr
        env = read_env(state)
        url = env['EVEREST_SANDBOX_OIDC_URL']
        assert url.startswith('http://127.0.0.1:') and url not in (env['EVEREST_URL'], env['EVEREST_SANDBOX_URL'])
        assert raw_request(url, None, 'GET', '/jwks')[0] == 200
        assert_points_at(lambda method, path: raw_request(env['EVEREST_SANDBOX_URL'], env['EVEREST_SANDBOX_TOKEN'], method, path), url)
        status, data = raw_request(url, None, 'POST', '/_sandbox/token', {'sub': 'sso-user', 'groups': ['admin']})
        assert status == 200
        assert raw_request(env['EVEREST_URL'], data['access_token'], 'GET', '/v1/namespaces') == (200, [])
        assert 'OIDC issuer ' + url in (state / 'server.log').read_text(encoding='utf-8')
    finally:
        stopped = run('stop', '--dir', str(state))
    assert stopped.returncode == 0, stopped.stderr
    with pytest.raises(OSError):  # the issuer went down with the sandbox
        raw_request(url, None, 'GET', '/jwks', timeout=2)
