"""HTTP front end of the Kubernetes API emulator.

``KubeApiServer(token=None, admin_password='everest-admin-sandbox', seed=True, extra_seed=())`` -> ``.start()`` binds
127.0.0.1 on a free port; ``.url``, ``.token``, ``.write_kubeconfig(path)``, ``.stop()``, ``.store``.
``extra_seed``: manifests created after the seed at every reset (the launcher adds Everest's settings ConfigMap).
``latency_ms=`` (the sandbox latency model's ``kube_api_s``) is the launch-time ``faults.latency_ms``: ``reset``
returns to it, ``POST /_sandbox/faults`` replaces it like any other fault setting.

Every request: authentication (``authn.py``: the admin token or a ServiceAccount JWT, else 401), impersonation
headers, then authorization (``rbac.py``; skipped for ``system:masters``, as kube-apiserver's privileged-group
authorizer does) before any routing, so a refused request is a 403 even where the request itself would be a 404/405.

Sandbox endpoints (admin token, or any ``system:masters`` member): ``GET /_sandbox/stats``, ``POST
/_sandbox/stats/reset``, ``POST /_sandbox/faults`` (``GET`` shows the active configuration), ``POST /_sandbox/reset``,
``GET /_sandbox/access`` (``access.py``), ``POST /_sandbox/access/reset``,
``GET /_sandbox/audit`` (audit annotations written by ValidatingAdmissionPolicies, ``{"items": [...]}``),
``POST /_sandbox/reconcile`` (body ``{"namespace": ..., "name": ...}``, both optional: run the operator simulation
now; answers ``{"status": "ok", "clusters": {"<ns>/<name>": <status>}}``).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import random
import secrets
import socket
import ssl
import sys
import threading
import time
import traceback
import unicodedata
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from .. import DEFAULT_ADMIN_PASSWORD
from . import controllers, reviews, tokens
from . import errors as E
from . import seed as seed_data
from .operators import OperatorSimulation
from .access import AccessLog
from .authn import ADMIN, Authenticator, ImpersonationError, impersonate, wants_impersonation
from .podlog import pod_log
from .rbac import MASTERS, Authorizer, forbidden
from .rbac_registry import RbacRegistry
from .requestinfo import request_attributes
from .store import Store, deterministic_uid
from .table import to_table, wants_table

GIT_VERSION = 'v1.31.0'
VERBS = ('get', 'list', 'create', 'update', 'patch', 'delete')
FAULT_KEYS = {'latency_ms', 'error_rate', 'conflict_rate', 'seed', 'retry_after_s'}
WRITE_METHODS = ('POST', 'PUT', 'PATCH', 'DELETE')
HTML_ESCAPES = str.maketrans({'&': '&amp;', '<': '&lt;', '>': '&gt;'})
MAX_WARNING_RUNES, MAX_WARNING_ITEM_RUNES = 4096, 256
WATCH_UNSUPPORTED = 'watch is not supported by the sandbox Kubernetes API emulator; use get/list without --watch'


class Faults:
    """Seeded fault injection; each verb draws from its own RNG stream so results do not depend on interleaving."""

    def __init__(self):
        self._lock = threading.Lock()
        self.config: dict = {}
        self._rngs: dict = {}
        self.configure({})

    def configure(self, cfg: dict):
        if not isinstance(cfg, dict):
            raise E.bad_request('faults: expected a JSON object')
        unknown = set(cfg) - FAULT_KEYS
        if unknown:
            raise E.bad_request(f'faults: unknown keys {sorted(unknown)}; known: {sorted(FAULT_KEYS)}')
        rates = cfg.get('error_rate') or {}
        if not isinstance(rates, dict) or set(rates) - set(VERBS):
            raise E.bad_request(f'faults: error_rate must map verbs {list(VERBS)} to rates')
        try:
            config = {
                'latency_ms': float(cfg.get('latency_ms') or 0),
                'error_rate': {k: float(v) for k, v in rates.items()},
                'conflict_rate': float(cfg.get('conflict_rate') or 0),
                'seed': int(cfg.get('seed') or 0),
                'retry_after_s': int(cfg.get('retry_after_s', 1)),
            }
        except (TypeError, ValueError) as exc:
            raise E.bad_request(f'faults: {exc}') from None
        with self._lock:
            self.config = config
            self._rngs = {}

    def _rng(self, stream: str) -> random.Random:
        if stream not in self._rngs:
            self._rngs[stream] = random.Random(f'{self.config["seed"]}:{stream}')
        return self._rngs[stream]

    def latency(self) -> float:
        return self.config['latency_ms'] / 1000.0

    def error_for(self, verb: str) -> E.ApiError | None:
        rate = self.config['error_rate'].get(verb, 0.0)
        if rate <= 0:
            return None
        with self._lock:
            rng = self._rng('error:' + verb)
            if rng.random() >= rate:
                return None
            code = rng.choice((500, 503, 429))
        if code == 500:
            msg = 'sandbox: injected fault'
            return E.ApiError(500, 'InternalError', f'Internal error occurred: {msg}', {'causes': [{'message': msg}]})
        if code == 503:
            return E.ApiError(503, 'ServiceUnavailable', 'the server is currently unable to handle the request', {})
        retry = self.config['retry_after_s']
        details = {'retryAfterSeconds': retry} if retry else {}
        return E.ApiError(
            429,
            'TooManyRequests',
            'the server has received too many requests and has asked us to try again later',
            details,
            headers={'Retry-After': str(retry)},
        )

    def conflict(self) -> bool:
        rate = self.config['conflict_rate']
        if rate <= 0:
            return False
        with self._lock:
            return self._rng('conflict').random() < rate


class Stats:
    """Request counters: total, by verb (get/list/create/update/patch/delete + discovery/other), by resource."""

    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self):
        with self._lock:
            self.total = 0
            self.by_verb = {v: 0 for v in VERBS + ('discovery', 'other')}
            self.by_resource: dict = {}
            self.by_user: dict = {}

    def record(self, verb: str, resource: str | None, user: str = ''):
        with self._lock:
            self.total += 1
            self.by_verb[verb] = self.by_verb.get(verb, 0) + 1
            if user:
                self.by_user[user] = self.by_user.get(user, 0) + 1
            if resource:
                counts = self.by_resource.setdefault(resource, {v: 0 for v in VERBS})
                counts[verb] = counts.get(verb, 0) + 1

    def snapshot(self) -> dict:
        with self._lock:
            return {
                'total': self.total,
                'by_verb': dict(self.by_verb),
                'by_resource': {k: dict(v) for k, v in sorted(self.by_resource.items())},
                'by_user': dict(sorted(self.by_user.items())),
            }


class Route:  # pylint: disable=too-few-public-methods
    """What a request path refers to."""

    def __init__(self, kind: str, **kw):
        self.kind = kind  # discovery | resource | sandbox | health | openapi | unknown | watch
        self.group = kw.get('group', '')
        self.version = kw.get('version', '')
        self.plural = kw.get('plural', '')
        self.namespace = kw.get('namespace')
        self.name = kw.get('name')
        self.subresource = kw.get('subresource')
        self.rtype = kw.get('rtype')
        self.path = kw.get('path', '')


_TLS_LOCK = threading.Lock()
_TLS: dict = {}


def _generate_tls() -> tuple:
    """A self-signed ECDSA certificate (CA:TRUE, SAN 127.0.0.1 + localhost) and key, PEM; test-only, made per process."""
    try:
        from cryptography import x509  # pylint: disable=import-outside-toplevel
        from cryptography.hazmat.primitives import hashes, serialization  # pylint: disable=import-outside-toplevel
        from cryptography.hazmat.primitives.asymmetric import ec  # pylint: disable=import-outside-toplevel
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # pylint: disable=import-outside-toplevel
    except ImportError:
        return _generate_tls_openssl()
    import datetime  # pylint: disable=import-outside-toplevel
    import ipaddress  # pylint: disable=import-outside-toplevel

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'everest-sandbox-kubeapi')])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address('127.0.0.1')), x509.DNSName('localhost')]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return (
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


def _generate_tls_openssl() -> tuple:
    import subprocess  # pylint: disable=import-outside-toplevel
    import tempfile  # pylint: disable=import-outside-toplevel

    with tempfile.TemporaryDirectory() as tmp:
        crt, key = os.path.join(tmp, 'c.pem'), os.path.join(tmp, 'k.pem')
        subprocess.run(
            [
                'openssl',
                'req',
                '-x509',
                '-newkey',
                'ec',
                '-pkeyopt',
                'ec_paramgen_curve:prime256v1',
                '-nodes',
                '-keyout',
                key,
                '-out',
                crt,
                '-days',
                '3650',
                '-subj',
                '/CN=everest-sandbox-kubeapi',
                '-addext',
                'subjectAltName=IP:127.0.0.1,DNS:localhost',
                '-addext',
                'basicConstraints=critical,CA:TRUE',
                '-addext',
                'keyUsage=critical,digitalSignature,keyCertSign',
                '-addext',
                'extendedKeyUsage=serverAuth',
            ],
            check=True,
            capture_output=True,
        )
        with open(crt, 'rb') as handle_c, open(key, 'rb') as handle_k:
            return handle_c.read(), handle_k.read()


def tls_material() -> dict:
    """{'cert': PEM, 'context': ssl.SSLContext} shared by all servers of this process (generated on first use)."""
    with _TLS_LOCK:
        if not _TLS:
            import tempfile  # pylint: disable=import-outside-toplevel

            cert, key = _generate_tls()
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            with tempfile.TemporaryDirectory() as tmp:
                paths = (os.path.join(tmp, 'cert.pem'), os.path.join(tmp, 'key.pem'))
                for path, data in zip(paths, (cert, key)):
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, 'wb') as handle:
                        handle.write(data)
                ctx.load_cert_chain(*paths)
            ctx.set_alpn_protocols(['http/1.1'])
            _TLS.update(cert=cert, context=ctx)
        return _TLS


class _HTTPServer(ThreadingHTTPServer):
    """Plain HTTP and TLS on the same port: a connection whose first byte is a TLS handshake record is wrapped.

    (client-go, hence kubectl, sends bearer tokens only over TLS; the Python clients are fine with http.)
    """

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    api: 'KubeApiServer'

    def finish_request(self, request, client_address):
        try:
            request.settimeout(Handler.timeout)
            first = request.recv(1, socket.MSG_PEEK)
            if first == b'\x16':
                request = tls_material()['context'].wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        super().finish_request(request, client_address)


class Handler(BaseHTTPRequestHandler):
    """One request; all logic is in ``KubeApiServer.dispatch``."""

    protocol_version = 'HTTP/1.1'
    # answer at once on kept-alive connections (Nagle + delayed ACK otherwise add ~40 ms per request)
    disable_nagle_algorithm = True
    server_version = 'everest-sandbox-kubeapi'
    sys_version = ''
    timeout = 120
    server: _HTTPServer

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        return

    def _body(self) -> bytes:
        if 'chunked' in (self.headers.get('Transfer-Encoding') or '').lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b';')[0].strip() or b'0', 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b''.join(chunks)
        length = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(length) if length else b''

    def _handle(self):
        try:
            body = self._body()
            code, payload, headers = self.server.api.dispatch(self.command, self.path, self.headers, body)
        except Exception:  # pylint: disable=broad-except
            traceback.print_exc(file=sys.stderr)
            err = E.internal_error('sandbox: unexpected server error')
            code, payload, headers = err.code, err.status(), {}
        if isinstance(payload, (bytes, str)):
            data = payload.encode() if isinstance(payload, str) else payload
            ctype = headers.pop('Content-Type', 'text/plain; charset=utf-8')
        else:
            data = json.dumps(payload, separators=(',', ':')).encode()
            ctype = 'application/json'
        try:
            self.send_response(code)
            self.send_header('Content-Type', ctype)
            self.send_header('Cache-Control', 'no-cache, private')
            self.send_header('Content-Length', str(len(data)))
            for key, value in headers.items():
                for item in value if isinstance(value, list) else [value]:
                    self.send_header(key, item)
            self.end_headers()
            if self.command != 'HEAD':
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle


def warning_headers(texts) -> list:
    """``Warning`` header values as kube-apiserver's warning recorder writes them (``endpoints/filters/warning.go``,
    ``util/net.NewWarningHeader``): one header per distinct text, ``299 - "<text>"`` with only ``"`` and ``\\``
    escaped; a text with control characters is dropped; past 4096 runes in total every text is cut to 256 runes.
    The UTF-8 bytes go out as they are (Python's header writer takes latin-1 text, hence the round trip)."""
    items = [t for t in dict.fromkeys(texts) if t and not any(unicodedata.category(c) == 'Cc' for c in t)]
    if sum(len(t) for t in items) > MAX_WARNING_RUNES:
        items = [t[:MAX_WARNING_ITEM_RUNES] for t in items]
    quoted = ('299 - "' + t.replace('\\', '\\\\').replace('"', '\\"') + '"' for t in items)
    return [q.encode('utf-8').decode('latin-1') for q in quoted]


def _query(qs: dict, key: str, default=None):
    values = qs.get(key)
    return values[-1] if values else default


class KubeApiServer:
    """The emulator. Thread-safe; one store lock serialises writes."""

    def __init__(
        self,
        token: str | None = None,
        admin_password: str = DEFAULT_ADMIN_PASSWORD,
        seed: bool = True,
        host: str = '127.0.0.1',
        port: int = 0,
        extra_seed=(),
        latency_ms: float = 0,
    ):
        self.token = token or secrets.token_hex(16)
        self.launch_faults = {'latency_ms': latency_ms} if latency_ms else {}
        self.admin_password = admin_password
        self.seed_enabled = seed
        self.extra_seed = list(extra_seed)
        self.host = host
        self._port = port
        self.store = Store()
        self.operators = OperatorSimulation(self.store)
        self.faults = Faults()
        self.stats = Stats()
        self.issuer = tokens.TokenIssuer()
        self.authn = Authenticator(self.token, self.issuer, self.store)
        self.authorizer = Authorizer(self.store)
        self.access = AccessLog()
        self.store.admission.plugins.insert(0, RbacRegistry(self.authorizer))  # first, like the REST storage it stands for
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.reset()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> 'KubeApiServer':
        self._httpd = _HTTPServer((self.host, self._port), Handler)
        self._httpd.api = self
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={'poll_interval': 0.05}, name='kubeapi', daemon=True)
        self._thread.start()
        return self

    def serve_forever(self):
        """Run in the calling thread until ``stop`` (used by ``python -m everest_sandbox serve``)."""
        if self._httpd is None:
            self._httpd = _HTTPServer((self.host, self._port), Handler)
            self._httpd.api = self
            self._port = self._httpd.server_address[1]
        self._httpd.serve_forever(poll_interval=0.05)

    def stop(self):
        if self._httpd is not None:
            if self._thread is not None:
                self._httpd.shutdown()
                self._thread.join(timeout=5)
            self._httpd.server_close()
            self._httpd = None
            self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f'http://{self.host}:{self._port}'

    @property
    def tls_url(self) -> str:
        return f'https://{self.host}:{self._port}'

    def write_kubeconfig(self, path: str, context: str = 'sandbox', tls: bool = False, token: str | None = None) -> str:
        """Write a kubeconfig (0600). ``tls=True``: https URL + CA data, the form kubectl needs to send the token;
        ``token``: another bearer token than the admin's (e.g. a ServiceAccount token from ``kubectl create token``)."""
        if tls:
            ca_data = base64.b64encode(tls_material()['cert']).decode()
            cluster = f'    server: {self.tls_url}\n    certificate-authority-data: {ca_data}\n'
        else:
            cluster = f'    server: {self.url}\n'
        text = (
            'apiVersion: v1\nkind: Config\npreferences: {}\n'
            f'clusters:\n- name: {context}\n  cluster:\n{cluster}'
            f'users:\n- name: {context}\n  user:\n    token: {token or self.token}\n'
            f'contexts:\n- name: {context}\n  context:\n    cluster: {context}\n    user: {context}\n    namespace: default\n'
            f'current-context: {context}\n'
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w', encoding='utf-8') as handle:
            handle.write(text)
        os.chmod(path, 0o600)
        return path

    # ------------------------------------------------------------------ state
    def reset(self):
        """Restore the seeded state, the launch-time faults (none, or the model's latency) and zero statistics."""
        with self.store.lock:
            self.store.clear()
            seeded = seed_data.objects(self.admin_password) if self.seed_enabled else []
            for obj in seeded + copy.deepcopy(self.extra_seed):
                rtype = self.type_for(obj['apiVersion'], obj['kind'])
                meta = obj['metadata']
                uid = deterministic_uid(f'{obj["kind"]}/{meta.get("namespace", "")}/{meta["name"]}')
                self.store.create(rtype, meta.get('namespace'), obj, uid=uid)
            if self.seed_enabled:
                controllers.reconcile_all(self.store)
        self.faults.configure(dict(self.launch_faults))
        self.stats.reset()
        self.store.vap.clear_audit()
        self.access.reset()

    def type_for(self, api_version: str, kind: str):
        group, _sep, version = api_version.rpartition('/')
        for rtype in self.store.registry.all():
            if rtype.group == group and rtype.version == version and rtype.kind == kind:
                return rtype
        raise KeyError(f'no resource for {api_version} {kind}')

    # ------------------------------------------------------------------ routing
    def route(self, path: str) -> Route:
        segs = [unquote(s) for s in path.strip('/').split('/') if s != '']
        if not segs:
            return Route('unknown', path=path)
        if segs[0] == '_sandbox':
            return Route('sandbox', path='/'.join(segs[1:]))
        if segs[0] in ('healthz', 'livez', 'readyz'):
            return Route('health')
        if segs[0] == 'openapi':
            return Route('openapi', path='/'.join(segs[1:]))
        if segs == ['version']:
            return Route('discovery', path='version')
        if segs[0] == 'api':
            if len(segs) == 1:
                return Route('discovery', path='api')
            group, version, rest = '', segs[1], segs[2:]
        elif segs[0] == 'apis':
            if len(segs) == 1:
                return Route('discovery', path='apis')
            if len(segs) == 2:
                return Route('discovery', path='group', group=segs[1])
            group, version, rest = segs[1], segs[2], segs[3:]
        else:
            return Route('unknown', path=path)
        if not rest:
            return Route('discovery', path='groupversion', group=group, version=version)
        if rest[0] == 'watch':
            return Route('watch', group=group, version=version)
        reg = self.store.registry
        if rest[0] == 'namespaces' and len(rest) >= 3:
            cand = reg.get(group, version, rest[2])
            if (cand is not None and cand.namespaced) or group:
                if cand is None or not cand.namespaced or len(rest) > 5:
                    return Route('unknown', path=path, group=group, version=version)
                return Route(
                    'resource',
                    group=group,
                    version=version,
                    plural=rest[2],
                    namespace=rest[1],
                    name=rest[3] if len(rest) > 3 else None,
                    subresource=rest[4] if len(rest) > 4 else None,
                    rtype=cand,
                )
        rtype = reg.get(group, version, rest[0])
        if rtype is None or len(rest) > 3 or (rtype.namespaced and len(rest) > 1):
            return Route('unknown', path=path, group=group, version=version)
        return Route(
            'resource',
            group=group,
            version=version,
            plural=rest[0],
            name=rest[1] if len(rest) > 1 else None,
            subresource=rest[2] if len(rest) > 2 else None,
            rtype=rtype,
        )

    # ------------------------------------------------------------------ dispatch
    def dispatch(self, method: str, raw_path: str, headers, body: bytes) -> tuple:
        """Returns (code, payload (dict or text), extra headers)."""
        parts = urlsplit(raw_path)
        query = parse_qs(parts.query, keep_blank_values=True)
        user = self.authn.authenticate(headers.get('Authorization'))
        if user is None:
            err = E.unauthorized()
            return err.code, err.status(), {}
        if wants_impersonation(headers):
            try:
                user = impersonate(user, headers, self.authorizer, self.access.record)
            except ImpersonationError as exc:
                text = f'Internal Server Error: {json.dumps(raw_path)}: {exc}'.translate(HTML_ESCAPES)
                return 500, text + '\n', {'X-Content-Type-Options': 'nosniff'}
            except E.ApiError as err:
                return err.code, err.status(), dict(err.headers)
        self.store.set_request_user(None if user is ADMIN else user)  # None: the sandbox admin (system:masters)
        privileged = MASTERS in user['groups']
        route = self.route(parts.path)
        if route.kind == 'sandbox':
            try:
                if not privileged:
                    raise forbidden(request_attributes(user, method, unquote(parts.path), query))
                return self._sandbox(method, route.path, body)
            except E.ApiError as err:
                return err.code, err.status(), dict(err.headers)
        verb = self._verb(method, route, query)
        self.stats.record(verb, route.plural or None, user['username'])
        if privileged:
            self.access.record_raw(user['username'], method, parts.path, query)
        else:
            attrs = request_attributes(user, method, unquote(parts.path), query)
            allowed, reason = self.authorizer.authorize(attrs)
            self.access.record(attrs, allowed)
            if not allowed:
                err = forbidden(attrs, reason)
                return err.code, err.status(), {'X-Content-Type-Options': 'nosniff'}
        if self.faults.latency():
            time.sleep(self.faults.latency())
        try:
            if verb in VERBS:
                fault = self.faults.error_for(verb)
                if fault is not None:
                    raise fault
            warnings = self.store.collect_warnings()
            code, payload, extra = self._serve(method, route, query, headers, body)
            if method in WRITE_METHODS and route.kind == 'resource' and _query(query, 'dryRun') != 'All':
                controllers.after_write(self.store, method, route, code, payload)
            if warnings:
                extra = dict(extra, Warning=warning_headers(warnings))
            return code, payload, extra
        except E.ApiError as err:
            recorded = self.store.recorded_warnings()
            if recorded and 'Warning' not in err.headers:  # the recorder wrote them before the error
                return err.code, err.status(), dict(err.headers, Warning=warning_headers(recorded))
            return err.code, err.status(), dict(err.headers)

    @staticmethod
    def _verb(method: str, route: Route, query: dict) -> str:
        if route.kind in ('discovery', 'openapi'):
            return 'discovery'
        if route.kind != 'resource':
            return 'other'
        if method == 'GET':
            if _query(query, 'watch') in ('true', '1'):
                return 'other'
            return 'get' if route.name else 'list'
        return {'POST': 'create', 'PUT': 'update', 'PATCH': 'patch', 'DELETE': 'delete'}.get(method, 'other')

    def _serve(self, method, route: Route, query, headers, body) -> tuple:
        if route.kind == 'health':
            return 200, 'ok', {}
        if route.kind == 'discovery':
            if method != 'GET':
                raise E.method_not_allowed()
            return self._discovery(route)
        if route.kind == 'openapi':
            return self._openapi(route.path)
        if route.kind == 'watch' or (route.kind == 'resource' and _query(query, 'watch') in ('true', '1')):
            # Discovery does not list 'watch', so this is the 405 a real server gives for a verb a resource lacks. client-go
            # shows only its generic 405 text for failed watches (it never decodes the Status body there) but prints
            # every `Warning: 299` header, so kubectl says why: "Warning: watch is not supported by the sandbox ...".
            err = E.method_not_allowed(WATCH_UNSUPPORTED)
            err.headers = dict(err.headers, Warning=warning_headers([WATCH_UNSUPPORTED]))
            raise err
        if route.kind != 'resource':
            if route.group or route.version:
                raise E.resource_not_found()
            return 404, '404 page not found\n', {}
        return self._resource(method, route, query, headers, body)

    def _resource(self, method, route: Route, query, headers, body) -> tuple:
        rtype, store = route.rtype, self.store
        review = reviews.HANDLERS.get(rtype.storage_key)
        if review is not None:  # create-only kinds that are answered, not stored
            if method != 'POST' or route.name is not None:
                raise E.method_not_allowed()
            return 201, review(self.authorizer, store.request_user(), self._json(body)), {}
        if route.subresource == 'log' and rtype.storage_key == ('', 'pods') and route.name is not None:
            if method != 'GET':
                raise E.method_not_allowed()
            return 200, pod_log(store.get(rtype, route.namespace, route.name), _query(query, 'container')), {}
        if route.subresource == 'token' and rtype.storage_key == ('', 'serviceaccounts'):
            if method != 'POST':
                raise E.method_not_allowed()
            return 201, tokens.create_token(store, self.issuer, route.namespace, route.name, self._json(body)), {}
        if route.subresource is not None and not ((route.subresource == 'status' and rtype.status) or (route.subresource == 'scale' and rtype.scale)):
            raise E.resource_not_found()
        dry_run = _query(query, 'dryRun') == 'All'
        strict = _query(query, 'fieldValidation') == 'Strict'
        if route.subresource == 'scale':
            if method == 'GET':
                return 200, store.get_scale(rtype, route.namespace, route.name), {}
            if method == 'PUT':
                return 200, store.update_scale(rtype, route.namespace, route.name, self._json(body), dry_run=dry_run), {}
            if method == 'PATCH':
                ctype = (headers.get('Content-Type') or '').split(';')[0].strip().lower()
                return 200, store.update_scale(rtype, route.namespace, route.name, content_type=ctype, raw=body, dry_run=dry_run), {}
            raise E.method_not_allowed()
        if route.name is None:
            if method == 'GET':
                limit = _query(query, 'limit')
                try:
                    limit = int(limit) if limit else None
                except ValueError:
                    raise E.bad_request(f'invalid limit: {limit}') from None
                listing = store.list(rtype, route.namespace, _query(query, 'labelSelector'), _query(query, 'fieldSelector'), limit, _query(query, 'continue'))
                if wants_table(headers.get('Accept')):
                    return 200, to_table(rtype, listing['items'], listing['metadata'], _query(query, 'includeObject', 'Metadata')), {}
                return 200, listing, {}
            if method == 'POST':
                if rtype.namespaced and route.namespace is None:
                    raise E.method_not_allowed()
                obj = store.create(rtype, route.namespace, self._json(body), dry_run=dry_run, strict=strict)
                return 201, obj, {}
            if method == 'DELETE':
                if rtype.namespaced and route.namespace is None:
                    raise E.method_not_allowed()
                return 200, store.delete_collection(rtype, route.namespace, _query(query, 'labelSelector'), _query(query, 'fieldSelector'), dry_run=dry_run), {}
            raise E.method_not_allowed()
        if method == 'GET':
            obj = store.get(rtype, route.namespace, route.name)
            if wants_table(headers.get('Accept')) and route.subresource is None:
                return (
                    200,
                    to_table(rtype, [obj], {'resourceVersion': obj['metadata'].get('resourceVersion', '')}, _query(query, 'includeObject', 'Metadata')),
                    {},
                )
            return 200, obj, {}
        if method == 'PUT':
            obj = self._json(body)
            meta = obj.get('metadata') if isinstance(obj, dict) else None
            force = bool(isinstance(meta, dict) and meta.get('resourceVersion')) and self.faults.conflict()
            return 200, store.update(rtype, route.namespace, route.name, obj, route.subresource, dry_run=dry_run, force_conflict=force, strict=strict), {}
        if method == 'PATCH':
            ctype = (headers.get('Content-Type') or '').split(';')[0].strip().lower()
            code, obj = store.patch(
                rtype, route.namespace, route.name, ctype, body, route.subresource, dry_run=dry_run, field_manager=_query(query, 'fieldManager'), strict=strict
            )
            return code, obj, {}
        if method == 'DELETE':
            options = self._json(body) if body.strip() else {}
            code, obj = store.delete(rtype, route.namespace, route.name, options, dry_run=dry_run)
            return code, obj, {}
        raise E.method_not_allowed()

    @staticmethod
    def _json(body: bytes):
        try:
            return json.loads(body.decode() or 'null')
        except (ValueError, UnicodeDecodeError) as exc:
            raise E.bad_request(f"couldn't get version/kind; json parse error: {exc}") from None

    # ------------------------------------------------------------------ discovery
    def _discovery(self, route: Route) -> tuple:
        reg = self.store.registry
        if route.path == 'version':
            return (
                200,
                {
                    'major': '1',
                    'minor': GIT_VERSION.split('.')[1],
                    'gitVersion': GIT_VERSION,
                    'gitCommit': '6911225c3f747e1cd9d109c305436d08b668f086',
                    'gitTreeState': 'clean',
                    'buildDate': '2024-08-13T07:28:49Z',
                    'goVersion': 'go1.22.5',
                    'compiler': 'gc',
                    'platform': 'linux/amd64',
                },
                {},
            )
        if route.path == 'api':
            return (
                200,
                {
                    'kind': 'APIVersions',
                    'versions': ['v1'],
                    'serverAddressByClientCIDRs': [{'clientCIDR': '0.0.0.0/0', 'serverAddress': f'{self.host}:{self.port}'}],
                },
                {},
            )
        groups = [self._group(g, vs) for g, vs in reg.group_versions().items() if g]
        if route.path == 'apis':
            return 200, {'kind': 'APIGroupList', 'apiVersion': 'v1', 'groups': groups}, {}
        if route.path == 'group':
            for grp in groups:
                if grp['name'] == route.group:
                    return 200, dict({'kind': 'APIGroup', 'apiVersion': 'v1'}, **grp), {}
            return 404, '404 page not found\n', {}
        types = reg.in_group_version(route.group, route.version)
        if not types:
            return 404, '404 page not found\n', {}
        resources = [entry for rtype in types for entry in rtype.discovery()]
        gv = f'{route.group}/{route.version}' if route.group else route.version
        return 200, {'kind': 'APIResourceList', 'apiVersion': 'v1', 'groupVersion': gv, 'resources': resources}, {}

    def _openapi(self, path: str) -> tuple:
        """Minimal OpenAPI v3: per group-version documents whose PATCH operations declare the ``fieldValidation``
        query parameter, which is what kubectl checks before sending ``fieldValidation=Strict`` (instead of doing
        client-side schema validation). ``/openapi/v2`` answers 404 (kubectl then uses its built-in types)."""
        reg = self.store.registry
        gvs = {}
        for rtype in reg.all():
            key = f'apis/{rtype.group}/{rtype.version}' if rtype.group else f'api/{rtype.version}'
            gvs.setdefault(key, []).append(rtype)
        if path == 'v3':
            paths = {}
            for key, types in sorted(gvs.items()):
                digest = hashlib.sha512(json.dumps([(t.plural, t.kind, t.namespaced) for t in types]).encode()).hexdigest()
                paths[key] = {'serverRelativeURL': f'/openapi/v3/{key}?hash={digest[:64].upper()}'}
            return 200, {'paths': paths}, {}
        key = path[len('v3/') :] if path.startswith('v3/') else None
        if key not in gvs:
            return 404, '404 page not found\n', {}
        doc_paths = {}
        param = {'name': 'fieldValidation', 'in': 'query', 'schema': {'type': 'string', 'uniqueItems': True}}
        for rtype in gvs[key]:
            base = f'/{key}/namespaces/{{namespace}}/{rtype.plural}/{{name}}' if rtype.namespaced else f'/{key}/{rtype.plural}/{{name}}'
            gvk = {'group': rtype.group, 'version': rtype.version, 'kind': rtype.kind}
            doc_paths[base] = {
                'patch': {
                    'operationId': f'patch{rtype.kind}',
                    'x-kubernetes-action': 'patch',
                    'x-kubernetes-group-version-kind': gvk,
                    'parameters': [param],
                    'responses': {'200': {'description': 'OK'}},
                }
            }
        return 200, {'openapi': '3.0.0', 'info': {'title': 'Kubernetes', 'version': GIT_VERSION}, 'paths': doc_paths, 'components': {'schemas': {}}}, {}

    @staticmethod
    def _group(group: str, versions: list) -> dict:
        entries = [{'groupVersion': f'{group}/{v}', 'version': v} for v in versions]
        return {'name': group, 'versions': entries, 'preferredVersion': dict(entries[0])}

    # ------------------------------------------------------------------ /_sandbox
    def _sandbox(self, method: str, path: str, body: bytes) -> tuple:
        if path == 'stats' and method == 'GET':
            return 200, self.stats.snapshot(), {}
        if path == 'stats/reset' and method == 'POST':
            self.stats.reset()
            return 200, {'status': 'ok'}, {}
        if path == 'faults' and method == 'GET':
            return 200, dict(self.faults.config), {}
        if path == 'faults' and method == 'POST':
            self.faults.configure(self._json(body) or {})
            return 200, dict(self.faults.config), {}
        if path == 'reset' and method == 'POST':
            self.reset()
            return 200, {'status': 'ok'}, {}
        if path == 'audit' and method == 'GET':
            return 200, {'items': self.store.vap.audit_events()}, {}
        if path == 'reconcile' and method == 'POST':
            target = self._json(body) if body.strip() else {}
            if not isinstance(target, dict):
                raise E.bad_request('reconcile: expected a JSON object {"namespace": ..., "name": ...}')
            clusters = self.operators.reconcile(target.get('namespace'), target.get('name'))
            return 200, {'status': 'ok', 'clusters': clusters}, {}
        if path == 'access' and method == 'GET':
            return 200, self.access.snapshot(), {}
        if path == 'access/reset' and method == 'POST':
            self.access.reset()
            return 200, {'status': 'ok'}, {}
        if path in ('stats', 'stats/reset', 'faults', 'reset', 'audit', 'reconcile', 'access', 'access/reset'):
            raise E.method_not_allowed()
        return 404, '404 page not found\n', {}
