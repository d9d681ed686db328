"""``everestctl settings oidc configure`` in the emulator: checks, the provider check from the CLI host,
the ``everest-settings`` ConfigMap (yaml.v3 text), the restart of ``everest-server``, output modes and prompts.

The OIDC provider is a tiny HTTP server in this process (random port) whose answers each test sets.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from everest_sandbox.everestctl import oidc, yamlv3
from everest_sandbox.everestctl.testing import Pty, ectl, get, must

CM = '/api/v1/namespaces/everest-system/configmaps/everest-settings'
DEPLOYMENT = '/apis/apps/v1/namespaces/everest-system/deployments/everest-server'
RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt'
RFC3339 = re.compile(r'\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})\Z')
STEPS = '\u2705  Checking connection to the OIDC provider\n\u2705  Updating Everest settings\n\u2705  Restarting Everest\n'
DISCOVERY = {'issuer': 'ignored', 'jwks_uri': 'http://127.0.0.1/jwks', 'id_token_signing_alg_values_supported': ['RS256']}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        server = self.server
        server.paths.append(self.path)
        status, headers, body = server.answer(self.path)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


@pytest.fixture
def provider():
    """``provider.url`` (an issuer with a path); ``provider.answer = f(path) -> (status, headers, body)``."""
    server = ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
    server.paths = []
    server.answer = lambda path: (
        (200, {'Content-Type': 'application/json'}, json.dumps(DISCOVERY).encode())
        if path == '/realms/acme/.well-known/openid-configuration'
        else (404, {}, b'404 page not found\n')
    )
    server.url = f'http://127.0.0.1:{server.server_address[1]}/realms/acme'
    thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def no_settings(clean_sandbox):
    """These tests start from an installation without OIDC settings (the sandbox's launcher seeds them for SSO)."""
    clean_sandbox.request('DELETE', CM)


def _configure(sandbox, *args):
    return ectl(sandbox, 'settings', 'oidc', 'configure', *args)


def _restarted_at(sandbox):
    return (get(sandbox, DEPLOYMENT)['spec']['template']['metadata'].get('annotations') or {}).get(RESTARTED_AT)


def test_configure_writes_settings_and_restarts(clean_sandbox, provider):
    sb = clean_sandbox
    assert get(sb, CM) is None and _restarted_at(sb) is None
    generation = get(sb, DEPLOYMENT)['metadata']['generation']
    res = _configure(sb, '--issuer-url', provider.url, '--client-id', '123456')
    assert (res.returncode, res.stdout, res.stderr) == (0, STEPS, '')
    assert provider.paths == ['/realms/acme/.well-known/openid-configuration']
    cm = get(sb, CM)
    assert cm['data'] == {'oidc.config': f'issuerUrl: {provider.url}\nclientId: "123456"\nscopes:\n    - openid\n    - profile\n    - email\n'}
    assert 'annotations' not in cm['metadata'], 'created without the Helm keep annotation'
    deployment = get(sb, DEPLOYMENT)
    assert RFC3339.match(deployment['spec']['template']['metadata']['annotations'][RESTARTED_AT])
    assert deployment['metadata']['generation'] == generation + 1


def test_existing_configmap_data_is_replaced(clean_sandbox, provider):
    sb = clean_sandbox
    must(
        sb,
        'POST',
        '/api/v1/namespaces/everest-system/configmaps',
        {
            'apiVersion': 'v1',
            'kind': 'ConfigMap',
            'metadata': {'name': 'everest-settings', 'namespace': 'everest-system', 'annotations': {'helm.sh/resource-policy': 'keep'}},
            'data': {'oidc.config': 'old', 'other': 'lost'},
        },
    )
    res = _configure(sb, '--issuer-url', provider.url, '--client-id', 'everest', '--scopes', 'openid,groups')
    assert res.returncode == 0, res.stderr
    cm = get(sb, CM)
    assert cm['data'] == {'oidc.config': f'issuerUrl: {provider.url}\nclientId: everest\nscopes:\n    - openid\n    - groups\n'}
    assert cm['metadata']['annotations'] == {'helm.sh/resource-policy': 'keep'}


def test_no_idempotency_same_values_write_and_restart_again(clean_sandbox, provider):
    sb = clean_sandbox
    args = ('--issuer-url', provider.url, '--client-id', 'everest')
    assert _configure(sb, *args).returncode == 0
    sb.reset_stats()
    assert _configure(sb, *args).returncode == 0
    resources = sb.stats()['by_resource']
    configmaps = next(v for k, v in resources.items() if k.endswith('configmaps'))
    deployments = next(v for k, v in resources.items() if k.endswith('deployments'))
    assert (configmaps['get'], configmaps['update'], configmaps['create']) == (1, 1, 0)
    assert deployments['update'] == 1 and deployments['get'] >= 2  # annotate, then wait for ready
    assert len(provider.paths) == 2


@pytest.mark.parametrize(
    'issuer, message',
    [
        ('example.com', 'invalid URL: parse "example.com": invalid URI for request'),
        ('://x', 'invalid URL: parse "://x": missing protocol scheme'),
        ('http://h:abc/', 'invalid URL: parse "http://h:abc/": invalid port ":abc" after host'),
        ('http://a b/', 'invalid URL: parse "http://a b/": invalid character " " in host name'),
        ('http://h/%zz', 'invalid URL: parse "http://h/%zz": invalid URL escape "%zz"'),
        ('/realms/acme', 'URL scheme is required'),
        ('http:///realms', 'URL host is required'),
        ('localhost:8080', 'URL host is required'),
    ],
)
def test_issuer_checks(clean_sandbox, issuer, message):
    res = _configure(clean_sandbox, '--issuer-url', issuer, '--client-id', 'x')
    assert (res.returncode, res.stdout, res.stderr) == (1, '', f'\u274c {message}\n\n')
    assert get(clean_sandbox, CM) is None


def test_issuer_checked_before_client_id_and_scopes(clean_sandbox):
    """PreRun order: a bad issuer is reported before the missing client ID would prompt, and before the scopes."""
    res = _configure(clean_sandbox, '--issuer-url', 'nope', '--scopes', 'profile')
    assert res.stderr == '\u274c invalid URL: parse "nope": invalid URI for request\n\n'
    res = _configure(clean_sandbox, '--issuer-url', 'http://h', '--scopes', 'profile')
    assert res.stderr == '\u274c could not open a new TTY: open /dev/tty: no such device or address\n\n'


@pytest.mark.parametrize(
    'scopes, ok', [('openid', True), ('profile,openid', True), ('openid, profile', True), (' openid,profile', False), ('', False), ('OPENID', False)]
)
def test_scopes_must_contain_openid_exactly(clean_sandbox, provider, scopes, ok):
    res = _configure(clean_sandbox, '--issuer-url', provider.url, '--client-id', 'x', '--scopes', scopes)
    if ok:
        assert res.returncode == 0, res.stderr
        stored = get(clean_sandbox, CM)['data']['oidc.config']
        assert stored == yamlv3.dump_oidc_config(provider.url, 'x', scopes.split(','))
    else:
        assert (res.returncode, res.stderr) == (1, "\u274c scopes must contain 'openid'\n\n")
        assert provider.paths == []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_unreachable_issuer(clean_sandbox):
    port = _free_port()
    res = _configure(clean_sandbox, '--issuer-url', f'http://127.0.0.1:{port}/realms/x', '--client-id', 'x')
    assert res.returncode == 1
    assert res.stdout == '\u274c  Checking connection to the OIDC provider\n'
    assert res.stderr == (
        f'\u274c failed to connect with OIDC provider: Get "http://127.0.0.1:{port}/realms/x/.well-known/'
        f'openid-configuration": dial tcp 127.0.0.1:{port}: connect: connection refused\n\n'
    )
    assert get(clean_sandbox, CM) is None and _restarted_at(clean_sandbox) is None


def test_unsupported_scheme(clean_sandbox):
    res = _configure(clean_sandbox, '--issuer-url', 'ftp://idp.example.com', '--client-id', 'x')
    assert res.stderr == (
        '\u274c failed to connect with OIDC provider: Get "ftp://idp.example.com/.well-known/openid-configuration": unsupported protocol scheme "ftp"\n\n'
    )


def test_non_200_answer(clean_sandbox, provider):
    res = _configure(clean_sandbox, '--issuer-url', provider.url + '/missing', '--client-id', 'x')
    assert res.returncode == 1
    assert res.stderr == (
        '\u274c failed to connect with OIDC provider due to incorrect response: unexpected status code\n404 Not Found: 404 page not found\n\n\n'
    )
    assert get(clean_sandbox, CM) is None


@pytest.mark.parametrize(
    'body, error',
    [
        (b'<html>', "invalid character '<' looking for beginning of value"),
        (b'', 'unexpected end of JSON input'),
        (b'{"issuer": "x"', 'unexpected end of JSON input'),
        (b'[1, 2]', 'json: cannot unmarshal array into Go value of type oidc.ProviderConfig'),
        (b'{"jwks_uri": 5}', 'json: cannot unmarshal number into Go struct field ProviderConfig.jwks_uri of type string'),
        (b'{"ISSUER": true}', 'json: cannot unmarshal bool into Go struct field ProviderConfig.issuer of type string'),
        (b'{"a": 1} x', "invalid character 'x' after top-level value"),
    ],
)
def test_bad_discovery_document(clean_sandbox, provider, body, error):
    provider.answer = lambda path: (200, {}, body)
    res = _configure(clean_sandbox, '--issuer-url', provider.url, '--client-id', 'x')
    assert (res.returncode, res.stderr) == (1, f'\u274c failed to connect with OIDC provider: failed to unmarshal json response: {error}\n\n')


def test_any_json_object_passes_and_redirects_are_followed(clean_sandbox, provider):
    target = '/realms/acme/.well-known/openid-configuration'
    provider.answer = lambda path: (302, {'Location': '/elsewhere'}, b'') if path == target else (200, {}, b'null')
    res = _configure(clean_sandbox, '--issuer-url', provider.url, '--client-id', 'x')
    assert res.returncode == 0, res.stderr
    assert provider.paths == [target, '/elsewhere']


def test_json_mode(clean_sandbox, provider):
    res = _configure(clean_sandbox, '--json', '--issuer-url', provider.url, '--client-id', 'x')
    assert (res.returncode, res.stdout) == (0, '')
    records = [json.loads(line) for line in res.stderr.splitlines()]
    assert [(r['level'], r['msg'], r['component']) for r in records] == [('info', 'OIDC has been configured successfully', 'oidc')]
    res = _configure(clean_sandbox, '--json', '--issuer-url', provider.url + '/missing', '--client-id', 'x')
    assert (res.returncode, res.stdout) == (1, '')
    step, final = [json.loads(line) for line in res.stderr.splitlines()]
    assert step['msg'] == 'Error occurred during step execution'
    assert step['step'] == 'Checking connection to the OIDC provider' and step['error'] == final['msg']
    assert final['level'] == 'error' and final['msg'].startswith('failed to connect with OIDC provider due to incorrect response')


def test_verbose_mode_logs_the_steps(clean_sandbox, provider):
    res = _configure(clean_sandbox, '-v', '--issuer-url', provider.url, '--client-id', 'x')
    assert (res.returncode, res.stdout) == (0, '')
    for step in ('Checking connection to the OIDC provider', 'Updating Everest settings', 'Restarting Everest'):
        assert f'\tDEBUG\teverestctl\ttui/spinner.go:244\tRunning step: {step}\t' in res.stderr
    assert 'OIDC has been configured successfully' in res.stderr


def test_restart_fails_without_the_deployment(clean_sandbox, provider):
    sb = clean_sandbox
    must(sb, 'DELETE', DEPLOYMENT)
    res = _configure(sb, '--issuer-url', provider.url, '--client-id', 'x')
    assert res.returncode == 1
    assert res.stdout == ('\u2705  Checking connection to the OIDC provider\n\u2705  Updating Everest settings\n\u274c  Restarting Everest\n')
    assert res.stderr == (
        '\u274c deployments.apps "everest-server" not found\ncannot add restart annotation to deployment=\'everest-server\' in namespace=\'everest-system\'\n\n'
    )
    assert 'oidc.config' in get(sb, CM)['data'], 'the settings were written before the restart failed'


def test_help_and_command_tree(clean_sandbox):
    res = ectl(clean_sandbox, 'settings', '--help')
    assert '\nAvailable Commands:\n  oidc        Manage settings related to OIDC\n  rbac        Manage RBAC settings\n' in res.stdout
    res = ectl(clean_sandbox, 'settings', 'oidc', 'configure', '--help')
    assert res.returncode == 0
    assert (
        'Flags:\n      --client-id string    OIDC application client ID\n  -h, --help                help for configure\n'
        '      --issuer-url string   OIDC issuer url\n'
        '      --scopes string       Comma-separated list of scopes (default "openid,profile,email")\n'
    ) in res.stdout
    assert 'Usage:\n  everestctl settings oidc configure [flags]\n' in res.stdout
    res = ectl(clean_sandbox, 'settings', 'oidc', 'configure', 'extra')
    assert res.returncode == 1 and res.stderr.startswith('Error: unknown command "extra" for "everestctl settings oidc configure"')


# prompts on a terminal ------------------------------------------------------------------------------------


@pytest.fixture
def pty_run(clean_sandbox):
    started = []

    def _run(*args, **kwargs) -> Pty:
        term = Pty(clean_sandbox, *args, **kwargs)
        started.append(term)
        return term

    yield _run
    for term in started:
        term.close()


def test_prompts_for_issuer_and_client_id(pty_run, clean_sandbox, provider):
    term = pty_run('settings', 'oidc', 'configure')
    assert term.read_until('\u2753 Provide issuer URL: ') == '\u2753 Provide issuer URL: '
    assert term.waiting()
    term.type(provider.url + '\r')
    assert term.read_until('\u2753 Provide Client ID: ').endswith('\r\n\u2753 Provide Client ID: ')
    term.type('everest\r')
    code, rest = term.finish()
    assert code == 0, rest
    assert rest.endswith(STEPS.replace('\n', '\r\n'))
    assert get(clean_sandbox, CM)['data']['oidc.config'].startswith(f'issuerUrl: {provider.url}\nclientId: everest\n')


def test_prompted_issuer_is_validated(pty_run, clean_sandbox):
    term = pty_run('settings', 'oidc', 'configure', '--client-id', 'x', stdin_tty=False, ctty=True)
    term.read_until('\u2753 Provide issuer URL: ')
    term.type('idp.example.com\r')
    code, rest = term.finish()
    assert code == 1
    assert rest.endswith('\u274c invalid URL: parse "idp.example.com": invalid URI for request\r\n\r\n')
    assert get(clean_sandbox, CM) is None


def test_prompt_interrupted(pty_run):
    term = pty_run('settings', 'oidc', 'configure', '--issuer-url', 'http://idp.example.com')
    term.read_until('\u2753 Provide Client ID: ')
    term.type('\x03')
    code, rest = term.finish()
    assert code == 1 and rest.endswith('\u274c user interrupted\r\n\r\n')


# units -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    'issuer, url',
    [
        ('https://idp.example.com', 'https://idp.example.com/.well-known/openid-configuration'),
        ('https://idp.example.com/', 'https://idp.example.com/.well-known/openid-configuration'),
        ('https://idp.example.com/realms/acme/', 'https://idp.example.com/realms/acme/.well-known/openid-configuration'),
        ('https://idp.example.com/a/../b', 'https://idp.example.com/b/.well-known/openid-configuration'),
        ('https://idp.example.com/v2.0?tenant=x#frag', 'https://idp.example.com/v2.0/.well-known/openid-configuration?tenant=x'),
    ],
)
def test_discovery_url_is_go_join_path(issuer, url):
    assert oidc.discovery_url(issuer) == url


@pytest.mark.parametrize(
    'value, text',
    [
        ('https://idp.example.com/realms/acme', 'https://idp.example.com/realms/acme'),
        ('0oa1b2c3d4', '0oa1b2c3d4'),
        ('550e8400-e29b-41d4-a716-446655440000', '550e8400-e29b-41d4-a716-446655440000'),
        ('123456', '"123456"'),
        ('1e5', '"1e5"'),
        ('0x1F', '"0x1F"'),
        ('08', '"08"'),
        ('1:30', '"1:30"'),
        ('2026-01-02', '"2026-01-02"'),
        ('yes', '"yes"'),
        ('Off', '"Off"'),
        ('null', '"null"'),
        ('', '""'),
        ('550e8400', '550e8400'),  # 550×10^8400 overflows strconv.ParseFloat: a string
        ('a: b', "'a: b'"),
        (' lead', "' lead'"),
        ("it's", "it's"),
        ("'q", "'''q'"),
        ('#x', "'#x'"),
        ('- a', "'- a'"),
        ('x\ty', '"x\\ty"'),
        ('ünï', 'ünï'),
        ('\U0001f600', '"\\U0001F600"'),
        ('nb\xa0sp', 'nb\xa0sp'),
        ('a\nb', '|-\n    a\n    b'),
        ('a\n', '|\n    a'),
        (' a\nb', '|4-\n     a\n    b'),
    ],
)
def test_yaml_v3_scalars(value, text):
    assert yamlv3.scalar(value, yamlv3.INDENT) == text


def test_yaml_v3_text_reads_back():
    import yaml  # pylint: disable=import-outside-toplevel

    values = ['123456', 'yes', 'a: b', "it's", 'x\ty', '2026-01-02', 'a\nb\n', '', 'nb\xa0sp']
    text = yamlv3.dump_oidc_config('https://x', 'c', values)
    assert yaml.safe_load(text) == {'issuerUrl': 'https://x', 'clientId': 'c', 'scopes': values}


def test_go_quote():
    assert oidc.go_quote('a"b\\c\n\x01é') == '"a\\"b\\\\c\\n\\x01é"'
