"""``everestctl settings oidc configure`` (upstream ``commands/settings/oidc/configure.go``, ``pkg/oidc``).

Order of the real command: PreRun takes ``--issuer-url`` (or asks ``❓ Provide issuer URL: `` when it is empty)
and checks it with ``ValidateURL``, then ``--client-id`` (or ``❓ Provide Client ID: ``) with ``ValidateClientID``,
then splits ``--scopes`` (one string flag, default ``openid,profile,email``) on ``,`` without trimming and needs an
item equal to ``openid``. Run builds the Kubernetes client, then three spinner steps:

1. ``Checking connection to the OIDC provider``: GET ``url.JoinPath(issuer, "/.well-known/openid-configuration")``
   with Go's default HTTP client from the CLI host; a transport error gives ``failed to connect with OIDC provider:
   Get "<url>": <cause>``, a status other than 200 ``failed to connect with OIDC provider due to incorrect response:
   unexpected status code`` + newline + ``<status>: <body>``, a body that is not JSON of the expected shape
   ``failed to connect with OIDC provider: failed to unmarshal json response: <encoding/json error>``. Nothing
   else is checked (no ``jwks_uri``, no ``issuer`` comparison).
2. ``Updating Everest settings``: ConfigMap ``everest-system/everest-settings``, ``data`` replaced by
   ``{"oidc.config": <yaml.v3 of issuerUrl, clientId, scopes>}`` with a plain Update of the object just read (no
   retry); created (without the Helm keep annotation) when it does not exist.
3. ``Restarting Everest``: the restart annotation on Deployment ``everest-server`` and the wait until it is ready
   (``deployment.py``).

No idempotency: the same values rewrite the ConfigMap and restart Everest again. Pretty mode prints only the
``✅  <step>`` lines; ``--json``/``-v`` print log records, ending with ``OIDC has been configured successfully``.

Emulator notes: the HTTP client follows redirects (at most 10, like Go's), honours ``SSL_CERT_FILE`` through
OpenSSL's defaults, ignores proxy variables (Go never proxies loopback addresses, where sandbox issuers live),
gives up connecting after 30 s (Go's default dialer) and reading after 60 s (Go has no limit). Go's error texts are
reproduced for the usual failures (refused, unknown host, timeout, TLS verification, unsupported scheme, non-200,
bad JSON); rarer ones keep Python's wording.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import urllib.parse

from . import deployment, kube, yamlv3
from .cobra import go_quote
from .output import Ctx, Failure, prompt

SYSTEM_NS = 'everest-system'
SETTINGS_CM = 'everest-settings'
SETTINGS_KEY = 'oidc.config'
DEFAULT_SCOPES = 'openid,profile,email'
WELL_KNOWN = '/.well-known/openid-configuration'
MAX_REDIRECTS = 10
CONNECT_TIMEOUT_S = 30.0
READ_TIMEOUT_S = 60.0
STEP_CHECK = 'Checking connection to the OIDC provider'
STEP_UPDATE = 'Updating Everest settings'
STEP_RESTART = 'Restarting Everest'

# userinfo characters Go's url package accepts (net/url validUserinfo)
_ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
_USERINFO_OK = set(_ALNUM + "-._:~!$&'()*+,;=%@")
_HOST_OK = set(_ALNUM + "-._~!$&'()*+,;=:[]<>\"%")


# validation ----------------------------------------------------------------------------------------------


def _scheme(raw: str) -> tuple:
    """net/url getScheme."""
    for index, char in enumerate(raw):
        if char.isascii() and char.isalpha():
            continue
        if char.isascii() and (char.isdigit() or char in '+-.'):
            if index == 0:
                return '', raw
            continue
        if char == ':':
            if index == 0:
                raise ValueError('missing protocol scheme')
            return raw[:index], raw[index + 1 :]
        return '', raw
    return '', raw


def _check_escapes(text: str):
    index = text.find('%')
    while index >= 0:
        chunk = text[index : index + 3]
        if len(chunk) < 3 or not all(c in '0123456789abcdefABCDEF' for c in chunk[1:]):
            raise ValueError(f'invalid URL escape {go_quote(chunk)}')
        index = text.find('%', index + 3)


def _host(authority: str) -> str:
    """net/url parseAuthority + parseHost (the checks that can fail)."""
    userinfo, _at, host = authority.rpartition('@')
    if _at and not set(userinfo) <= _USERINFO_OK:
        raise ValueError('net/url: invalid userinfo')
    if host.startswith('['):
        end = host.find(']')
        if end < 0:
            raise ValueError("missing ']' in host")
        port = host[end + 1 :]
        if port and not (port.startswith(':') and port[1:].isdigit() or port == ':'):
            raise ValueError(f'invalid port {go_quote(port)} after host')
    elif ':' in host:
        port = host[host.rindex(':') :]
        if port != ':' and not port[1:].isdigit():
            raise ValueError(f'invalid port {go_quote(port)} after host')
    for char in host:
        if char.isascii() and char not in _HOST_OK:
            raise ValueError(f'invalid character {go_quote(char)} in host name')
    _check_escapes(host)
    return host


def parse_request_uri(raw: str) -> tuple:
    """Go ``url.ParseRequestURI``: (scheme, host) or ``ValueError`` with the inner error text."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        raise ValueError('net/url: invalid control character in URL')
    if raw == '*':
        return '', ''
    scheme, rest = _scheme(raw)
    scheme = scheme.lower()
    if rest.endswith('?') and rest.count('?') == 1:
        rest = rest[:-1]
    else:
        rest = rest.split('?', 1)[0]
    if not rest.startswith('/'):
        if scheme:
            return scheme, ''  # opaque, e.g. "localhost:8080" (scheme "localhost")
        raise ValueError('invalid URI for request')
    host = ''
    if scheme and rest.startswith('//'):
        authority, slash, path = rest[2:].partition('/')
        host = _host(authority)
        rest = slash + path
    _check_escapes(rest)
    return scheme, host


def validate_url(raw: str):
    """``ValidateURL`` (pkg/oidc/configure.go)."""
    if raw == '':
        raise Failure('URL is required')
    try:
        scheme, host = parse_request_uri(raw)
    except ValueError as exc:
        raise Failure(f'invalid URL: parse {go_quote(raw)}: {exc}') from None
    if not scheme:
        raise Failure('URL scheme is required')
    if not host:
        raise Failure('URL host is required')


def validate_client_id(client_id: str):
    if client_id == '':
        raise Failure('client ID is required')


def validate_scopes(scopes: list):
    if 'openid' not in scopes:
        raise Failure("scopes must contain 'openid'")


# the provider check ---------------------------------------------------------------------------------------


def discovery_url(issuer: str) -> str:
    """Go ``url.JoinPath(issuer, WELL_KNOWN)``: path.Join on the escaped path, query kept, fragment dropped
    (Go keeps it in the URL but never sends it)."""
    parts = urllib.parse.urlsplit(issuer)
    path = parts.path
    if path.startswith('/'):
        joined = kube.go_clean(path + '/' + WELL_KNOWN)
    else:
        joined = kube.go_clean('/' + path + '/' + WELL_KNOWN)[1:]
    if parts.netloc and not joined.startswith('/'):
        joined = '/' + joined
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, joined, parts.query, ''))


def _dial_error(exc: OSError, host: str, port: int) -> str:
    if isinstance(exc, socket.gaierror):
        return f'dial tcp: lookup {host}: no such host'
    address = f'[{host}]:{port}' if ':' in host else f'{host}:{port}'
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f'dial tcp {address}: i/o timeout'
    if isinstance(exc, ConnectionRefusedError):
        return f'dial tcp {address}: connect: connection refused'
    text = exc.strerror or str(exc)
    return f'dial tcp {address}: connect: {text[:1].lower() + text[1:]}'


def _tls_error(exc: ssl.SSLError, host: str) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        text = str(exc)
        if 'mismatch' in text or "doesn't match" in text:
            return f'tls: failed to verify certificate: x509: certificate is not valid for {host}'
        if 'expired' in text:
            return 'tls: failed to verify certificate: x509: certificate has expired or is not yet valid'
        return 'tls: failed to verify certificate: x509: certificate signed by unknown authority'
    if exc.reason == 'WRONG_VERSION_NUMBER':  # an https:// URL of a plain HTTP server
        return 'tls: first record does not look like a TLS handshake'
    return 'remote error: tls: ' + str(exc.reason or exc).lower().replace('_', ' ')


def _get(url: str) -> tuple:
    """One GET; returns (status line text, headers, body) or raises ``ValueError`` with Go's cause text."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ('http', 'https'):
        raise ValueError(f'unsupported protocol scheme {go_quote(parts.scheme)}')
    host = parts.hostname or ''
    port = parts.port or (443 if scheme == 'https' else 80)
    target = (parts.path or '/') + (f'?{parts.query}' if parts.query else '')
    try:
        sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S)
    except OSError as exc:
        raise ValueError(_dial_error(exc, host, port)) from None
    sock.settimeout(READ_TIMEOUT_S)
    try:
        if scheme == 'https':
            try:
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
            except ssl.SSLError as exc:
                raise ValueError(_tls_error(exc, host)) from None
        conn = http.client.HTTPConnection(host, port)
        conn.sock = sock
        conn.request('GET', target, headers={'Host': parts.netloc.rpartition('@')[2], 'User-Agent': 'Go-http-client/1.1'})
        resp = conn.getresponse()
        body = resp.read()
    except (OSError, http.client.HTTPException) as exc:
        raise ValueError(f'read tcp {host}:{port}: {exc}') from None
    finally:
        sock.close()
    return resp.status, f'{resp.status} {resp.reason}'.rstrip(), resp.getheader('Location'), body


def fetch(url: str) -> tuple:
    """GET with Go's redirect policy; (status, status text, body) or ``ValueError('Get "<url>": <cause>')``."""
    for _hop in range(MAX_REDIRECTS + 1):
        try:
            status, status_text, location, body = _get(url)
        except ValueError as exc:
            raise ValueError(f'Get {go_quote(url)}: {exc}') from None
        if status in (301, 302, 303, 307, 308) and location:
            url = urllib.parse.urljoin(url, location)
            continue
        return status, status_text, body
    raise ValueError(f'Get {go_quote(url)}: stopped after {MAX_REDIRECTS} redirects')


_STRING_FIELDS = ('issuer', 'authorization_endpoint', 'token_endpoint', 'device_authorization_endpoint', 'jwks_uri', 'userinfo_endpoint')
_LIST_FIELD = 'id_token_signing_alg_values_supported'


def _json_kind(value) -> str:
    if isinstance(value, bool):
        return 'bool'
    if isinstance(value, (int, float)):
        return 'number'
    return {str: 'string', list: 'array', dict: 'object'}.get(type(value), 'null')


def _field_type_error(doc: dict):
    """encoding/json's first type error decoding into oidc.ProviderConfig (keys match case-insensitively)."""
    fields = {name.lower(): name for name in _STRING_FIELDS + (_LIST_FIELD,)}
    for key, value in doc.items():
        name = fields.get(key.lower())
        if name is None or value is None:
            continue
        if name in _STRING_FIELDS and not isinstance(value, str):
            return f'json: cannot unmarshal {_json_kind(value)} into Go struct field ProviderConfig.{name} of type string'
        if name == _LIST_FIELD:
            if not isinstance(value, list):
                return f'json: cannot unmarshal {_json_kind(value)} into Go struct field ProviderConfig.{name} of type []string'
            bad = next((item for item in value if item is not None and not isinstance(item, str)), None)
            if bad is not None:
                return f'json: cannot unmarshal {_json_kind(bad)} into Go struct field ProviderConfig.{name} of type string'
    return None


_JSON_CONTEXT = {
    'Expecting value': 'looking for beginning of value',
    'Extra data': 'after top-level value',
    "Expecting ':' delimiter": 'after object key',
    'Expecting property name enclosed in double quotes': 'looking for beginning of object key string',
    'Invalid control character at': 'in string literal',
    'Invalid \\escape': 'in string escape code',
}


def _innermost(text: str, pos: int) -> str:
    """'{' or '[' : the container open at ``pos`` (strings skipped)."""
    stack, in_string, escaped = [], False, False
    for char in text[:pos]:
        if in_string:
            escaped = char == '\\' and not escaped
            in_string = escaped or char != '"'
        elif char == '"':
            in_string = True
        elif char in '{[':
            stack.append(char)
        elif char in '}]' and stack:
            stack.pop()
    return stack[-1] if stack else ''


def _reject_constant(name: str):
    raise ValueError(name)


def json_error(body: bytes):
    """The ``json.Unmarshal(body, &ProviderConfig{})`` error text (encoding/json's wording), or None."""
    text = body.decode('utf-8', 'replace')
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip(' \t\r\n')) or exc.msg.startswith('Unterminated'):
            return 'unexpected end of JSON input'
        context = _JSON_CONTEXT.get(exc.msg)
        if exc.msg == "Expecting ',' delimiter":
            context = 'after object key:value pair' if _innermost(text, exc.pos) == '{' else 'after array element'
        return f'invalid character {_go_char(text[exc.pos])} {context or "looking for beginning of value"}'
    except ValueError as exc:  # NaN / Infinity, which Go does not accept
        return f'invalid character {_go_char(str(exc)[:1])} looking for beginning of value'
    if doc is None:
        return None
    if not isinstance(doc, dict):
        return f'json: cannot unmarshal {_json_kind(doc)} into Go value of type oidc.ProviderConfig'
    return _field_type_error(doc)


def _go_char(char: str) -> str:
    """encoding/json quoteChar."""
    if char == "'":
        return "'\\''"
    if char == '"':
        return "'\"'"
    return "'" + (char if char.isprintable() else go_quote(char)[1:-1]) + "'"


def check_provider(issuer: str):
    """Step 1: the discovery document must answer 200 with JSON of the right shape."""
    try:
        status, status_text, body = fetch(discovery_url(issuer))
    except ValueError as exc:
        raise Failure(f'failed to connect with OIDC provider: {exc}') from None
    if status != 200:
        text = body.decode('utf-8', 'replace')
        raise Failure(f'failed to connect with OIDC provider due to incorrect response: unexpected status code\n{status_text}: {text}')
    error = json_error(body)
    if error:
        raise Failure(f'failed to connect with OIDC provider: failed to unmarshal json response: {error}')


# the settings ConfigMap -----------------------------------------------------------------------------------


def update_settings(client: kube.Client, raw: str):
    """Step 2 (pkg/kubernetes/oidc.go UpdateEverestSettings)."""
    path = kube.path('v1', 'configmaps', SYSTEM_NS, SETTINGS_CM)
    try:
        current = client.get_or_none(path)
        if current is None:
            client.create(
                kube.path('v1', 'configmaps', SYSTEM_NS),
                {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': SETTINGS_CM, 'namespace': SYSTEM_NS}, 'data': {SETTINGS_KEY: raw}},
            )
            return
        current['data'] = {SETTINGS_KEY: raw}  # every other data key is lost; binaryData stays
        client.replace(path, current)
    except kube.KubeError as exc:
        raise Failure(str(exc)) from None


# the command -----------------------------------------------------------------------------------------------


def _ask_or_check(value: str, question: str, check) -> str:
    if value == '':
        value = prompt(f'\u2753 {question}: ')
    check(value)
    return value


def configure(ctx: Ctx, issuer: str, client_id: str, scopes_flag: str):
    log = ctx.component('oidc')
    issuer = _ask_or_check(issuer, 'Provide issuer URL', validate_url)
    client_id = _ask_or_check(client_id, 'Provide Client ID', validate_client_id)
    scopes = scopes_flag.split(',')
    validate_scopes(scopes)
    try:
        client = kube.Client(ctx.kubeconfig)
    except kube.KubeError as exc:
        raise Failure(str(exc)) from None
    raw = yamlv3.dump_oidc_config(issuer, client_id, scopes)
    ctx.run_steps(
        [(STEP_CHECK, lambda: check_provider(issuer)), (STEP_UPDATE, lambda: update_settings(client, raw)), (STEP_RESTART, lambda: deployment.restart(client))],
        log,
    )
    log.info('OIDC has been configured successfully', 'oidc/configure.go:124')
