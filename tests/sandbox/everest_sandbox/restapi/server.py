"""The Everest REST API emulator (reference §6 and §7).

``EverestApiServer(kube_url, kube_token, ...)`` serves ``/v1`` on 127.0.0.1:<random port> and acts like the
Everest server: a Kubernetes client of the API emulator (HTTP + bearer token) reading and writing the objects
Everest uses (DatabaseCluster, BackupStorage + Secret, MonitoringConfig + Secret, DatabaseClusterBackup,
DatabaseClusterRestore, the accounts Secret and the ``everest-rbac`` ConfigMap).

Emulated:

* ``POST /v1/session``: PBKDF2-SHA256 verification against ``everest-system/everest-accounts`` (salt = UID of
  the ``everest-system`` Namespace; plain compare when ``insecure-password/<user>`` is annotated), disabled
  accounts (403), missing ``login`` capability (403), 401 otherwise; the per-IP session rate limit and the
  doubling lockout (429 ``rate limit exceeded``). ``DELETE /v1/session`` blocklists the token (session or
  SSO): it then gets 401 ``Invalid token``.
* 429 answers carry no ``Retry-After``, like Everest's (echo's rate limiter middleware sets no header; reference §7 names
  only the status and the message); ``retry_after=True`` adds one (whole seconds until a token is free), as a
  proxy in front of Everest might, for tests of clients that honour it.
* Session tokens: HS256 with a per-process secret (real Everest: RS256 with the ``everest-jwt`` key); claims
  ``iss: everest``, ``sub: <user>:login``, ``iat``, ``nbf``, ``exp`` (24 h default), ``jti``.
* SSO (OIDC) tokens exactly as Everest accepts them (``tokens.py``: missing token 400, rejected token 401
  ``invalid or expired jwt``, blocklist preconditions 500 ``Internal error``), verified against the JWKS of the
  issuer named by ``oidc.config`` of ConfigMap ``everest-system/everest-settings`` as it was when the server
  started; restarts of Deployment ``everest-server`` are emulated (``oidc.py``). Any issuer works; the sandbox
  runs one (``everest_sandbox.oidc``, see ``docs/dev/sandbox-oidc.md``). ``start()`` raises
  ``oidc.StartupError`` (and serves nothing) when Everest would not start: unreadable ``oidc.config``, discovery
  failing, no ``jwks_uri``.
* RBAC from the live ConfigMap on every request, honouring ``enabled``, evaluated by the everestctl emulator's
  independent evaluator (``everestctl/rbac.py``) for the token's subject and each of its groups (``authz.py``).
  Objects: ``<ns>/<name>``; for backups, restores and credentials the object is ``<ns>/<database cluster name>``.
  Lists are filtered item by item (a user without rights gets an empty list, not 403). Each denial logs
  ``Permission denied: [<sub> <res> <act> <obj>]`` (warning, logger ``everest_sandbox.restapi``; the last lines
  are also served by ``GET /_sandbox/log``). ``GET /v1/permissions`` answers the union over subject and groups.
* ``GET /v1/settings`` (no token) re-reads ``everest-settings`` on every call:
  ``{"oidcConfig": {"clientId", "issuerURL", "scopes"}}``.
* Sandbox endpoints (no token): ``GET /_sandbox/stats``, ``POST /_sandbox/stats/reset``, ``POST /_sandbox/reset``,
  ``GET /_sandbox/oidc`` (OIDC state after applying any pending restart: ``enabled``, ``issuerUrl``, ``jwksUri``,
  ``jwksFetched``, ``jwksFetches``, ``kids``, ``restarts``, ``pending``, ``lastError``), ``GET /_sandbox/log``.
* Validations (``validation.py``), status codes (201/200/204/400/401/403/404/409/429), status progression
  computed lazily on read with an injectable clock: a cluster is ``creating`` (``restoring`` with a
  ``dataSource``) then ``ready`` after ``ready_delay`` s, ``initializing`` for ``ready_delay`` s after a change of
  its engine/proxy spec; backups and restores go ``Starting`` -> ``Succeeded`` after ``job_delay`` s.
  Transitions are written to the objects' status subresource. A cluster whose pods or PVCs Kubernetes refused
  (the API emulator's operator simulation writes ``status.status: error`` and the refusal in ``status.message``)
  keeps that status, and GET/list show it, until the operators could create everything.

Not emulated: S3/PMM reachability checks, engine versions/upgrades, components/logs/PITR endpoints; for session
tokens, the blocklist middleware's account checks (a deleted account or a password changed after the token was
issued makes Everest answer 401 ``Invalid token``).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
import uuid
from collections import deque
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

import yaml

from ..everestctl import rbac as rbac_eval
from ..serving import ThreadedHTTPServing
from . import authz, settings as settings_mod, tokens, validation
from .oidc import NoKey, OidcRuntime, StartupError
from .kube import Kube, KubeError, path as kpath
from .ratelimit import SessionLimiter, TokenBucket, retry_after_header

SYSTEM_NS = 'everest-system'
GROUP_VERSION = 'everest.percona.com/v1alpha1'
ACCOUNTS = kpath('v1', 'secrets', SYSTEM_NS, 'everest-accounts')
RBAC_CM = kpath('v1', 'configmaps', SYSTEM_NS, 'everest-rbac')
SYSTEM_NS_PATH = kpath('v1', 'namespaces', name=SYSTEM_NS)
MANAGED_LABEL = 'app.kubernetes.io/managed-by'
VERSION = {'projectName': 'everest', 'version': 'v1.10.0', 'fullCommit': 'ce3597f3' + '0' * 32}
PORTS = {'pxc': 3306, 'postgresql': 5432, 'psmdb': 27017}
PROXY_SUFFIX = {'pxc': 'haproxy', 'postgresql': 'pgbouncer', 'psmdb': 'mongos'}
NOT_ALLOWED = 'insufficient permissions for performing the operation'
LOG = logging.getLogger('everest_sandbox.restapi')


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def _invalid(detail: str) -> ApiError:
    return ApiError(400, 'invalid request\n' + detail)


def _rfc3339(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _unb64(value) -> str:
    return base64.b64decode(value or '').decode('utf-8', 'replace')


class Request:
    def __init__(self, method, route_path, query, body, ip, headers, auth_values=()):  # pylint: disable=too-many-arguments
        self.method = method
        self.path = route_path
        self.query = query
        self.body = body
        self.ip = ip
        self.headers = headers
        self.auth_values = list(auth_values)  # every Authorization header value, in order
        self.user: authz.User | None = None
        self.claims = None
        self.token_key = None  # the token's blocklist entry
        self.params: dict = {}


EVEREST_WEBHOOK_PREFIXES = tuple(
    f'admission webhook "{w}-v1alpha1.everest.percona.com" denied the request: ' for w in ('vloadbalancerconfig', 'vmonitoringconfig', 'vdatabasecluster')
)


def _trim_webhook_prefix(message: str) -> str:
    for prefix in EVEREST_WEBHOOK_PREFIXES:
        if message.startswith(prefix):
            message = message[len(prefix) :]
    return message


class EverestApiServer(ThreadedHTTPServing):  # pylint: disable=too-many-instance-attributes,too-many-public-methods
    """See the module docstring. Limits and delays are constructor arguments; ``clock`` returns seconds."""

    def __init__(
        self,
        kube_url: str,
        kube_token: str,
        *,
        clock=time.time,
        ready_delay: float = 0.2,
        job_delay: float | None = None,
        token_ttl: float = 24 * 3600,
        session_rate: float = 1.0,
        session_burst: int = 1,
        lockout_base: float = 0.02,
        api_rate: float | None = 100.0,
        api_burst: int | None = None,
        host: str = '127.0.0.1',
        port: int = 0,
        retry_after: bool = False,
        oidc_timeout: float = 10.0,
    ):
        self.kube = Kube(kube_url, kube_token)
        self.clock = clock
        self.ready_delay = ready_delay
        self.job_delay = ready_delay if job_delay is None else job_delay
        self.token_ttl = token_ttl
        self.secret = secrets.token_bytes(32)
        self.session_limiter = SessionLimiter(clock, session_rate, session_burst, lockout_base)
        self.api_limiter = TokenBucket(api_rate, api_burst or int(api_rate), clock) if api_rate else None
        self.retry_after = retry_after
        self.blocklist: set = set()
        self.first_seen: dict = {}  # (kind, ns, name, uid) -> time
        self.changed_at: dict = {}  # (ns, name, uid) -> time of the last spec change
        self.generated_secrets: list = []  # database passwords made up here (tests check they never leak)
        self.oidc = OidcRuntime(self.kube, clock, oidc_timeout)
        self.log_lines: deque = deque(maxlen=1000)
        self._lock = threading.Lock()
        self.stats = self._zero_stats()
        self._bind = (host, port)
        self.routes = self._routes()

    # ------------------------------------------------------------------ lifecycle
    @staticmethod
    def _zero_stats():
        return {'logins': 0, 'login_failures': 0, 'logouts': 0, 'rate_limited': 0, 'requests': 0, 'by_route': {}}

    def reset_stats(self):
        with self._lock:
            self.stats = self._zero_stats()

    def reset(self):
        """Forget every in-memory state (revoked tokens, object ages, rate limits, stats); for the sandbox's reset."""
        with self._lock:
            self.blocklist.clear()
            self.first_seen.clear()
            self.changed_at.clear()
            self.generated_secrets.clear()
            self.log_lines.clear()
            self.stats = self._zero_stats()
        self.oidc.schedule_restart()
        limiter = self.session_limiter
        self.session_limiter = SessionLimiter(self.clock, limiter.bucket.rate, limiter.bucket.burst, limiter.base_gap)
        if self.api_limiter is not None:
            self.api_limiter = TokenBucket(self.api_limiter.rate, self.api_limiter.burst, self.clock)

    def start(self) -> 'EverestApiServer':
        """Set up OIDC from ``everest-settings`` (StartupError: Everest would exit), then serve."""
        try:
            self.oidc.startup()
        except StartupError as exc:
            raise StartupError(f'Error creating Everest Server: failed to get OIDC provider config\n{exc}') from None
        server = self

        class Handler(_Handler):
            api = server

        self._serve(self._bind, Handler, 'everest-restapi', 0.02)
        return self

    @property
    def url(self) -> str:
        return self._base_url()

    # ------------------------------------------------------------------ routing
    def _routes(self):
        ns = r'/v1/namespaces/(?P<ns>[^/]+)'
        table = [
            ('POST', r'/v1/session', self.login, False),
            ('DELETE', r'/v1/session', self.logout, True),
            ('GET', r'/v1/version', self.version, False),
            ('GET', r'/v1/settings', self.settings, False),
            ('GET', r'/v1/permissions', self.permissions, True),
            ('GET', r'/v1/namespaces', self.list_namespaces, True),
            ('GET', ns + r'/database-clusters', self.list_clusters, True),
            ('POST', ns + r'/database-clusters', self.create_cluster, True),
            ('GET', ns + r'/database-clusters/(?P<name>[^/]+)', self.get_cluster, True),
            ('PUT', ns + r'/database-clusters/(?P<name>[^/]+)', self.update_cluster, True),
            ('DELETE', ns + r'/database-clusters/(?P<name>[^/]+)', self.delete_cluster, True),
            ('GET', ns + r'/database-clusters/(?P<name>[^/]+)/credentials', self.credentials, True),
            ('GET', ns + r'/database-clusters/(?P<name>[^/]+)/backups', self.cluster_backups, True),
            ('GET', ns + r'/database-clusters/(?P<name>[^/]+)/restores', self.cluster_restores, True),
            ('GET', ns + r'/backup-storages', self.list_storages, True),
            ('POST', ns + r'/backup-storages', self.create_storage, True),
            ('GET', ns + r'/backup-storages/(?P<name>[^/]+)', self.get_storage, True),
            ('PATCH', ns + r'/backup-storages/(?P<name>[^/]+)', self.patch_storage, True),
            ('DELETE', ns + r'/backup-storages/(?P<name>[^/]+)', self.delete_storage, True),
            ('GET', ns + r'/monitoring-instances', self.list_monitoring, True),
            ('POST', ns + r'/monitoring-instances', self.create_monitoring, True),
            ('GET', ns + r'/monitoring-instances/(?P<name>[^/]+)', self.get_monitoring, True),
            ('PATCH', ns + r'/monitoring-instances/(?P<name>[^/]+)', self.patch_monitoring, True),
            ('DELETE', ns + r'/monitoring-instances/(?P<name>[^/]+)', self.delete_monitoring, True),
            ('POST', ns + r'/database-cluster-backups', self.create_backup, True),
            ('GET', ns + r'/database-cluster-backups/(?P<name>[^/]+)', self.get_backup, True),
            ('DELETE', ns + r'/database-cluster-backups/(?P<name>[^/]+)', self.delete_backup, True),
            ('POST', ns + r'/database-cluster-restores', self.create_restore, True),
            ('GET', ns + r'/database-cluster-restores/(?P<name>[^/]+)', self.get_restore, True),
            ('PUT', ns + r'/database-cluster-restores/(?P<name>[^/]+)', self.update_restore, True),
            ('DELETE', ns + r'/database-cluster-restores/(?P<name>[^/]+)', self.delete_restore, True),
        ]
        return [(m, re.compile(p + r'\Z'), h, a) for m, p, h, a in table]

    def dispatch(self, req: Request):
        """(status, body or None, headers)."""
        if req.path.startswith('/_sandbox/'):
            return self._sandbox(req)
        with self._lock:
            self.stats['requests'] += 1
        if self.api_limiter is not None:
            wait = self.api_limiter.take(req.ip)
            if wait:
                raise self._rate_limited(wait)
        path_known = False
        for method, regex, handler, auth in self.routes:
            match = regex.match(req.path)
            if not match:
                continue
            path_known = True
            if method != req.method:
                continue
            req.params = match.groupdict()
            with self._lock:
                key = f'{method} {regex.pattern[:-2]}'
                self.stats['by_route'][key] = self.stats['by_route'].get(key, 0) + 1
            if req.path == '/v1/session':
                wait = self.session_limiter.attempt(req.ip)
                if wait:
                    raise self._rate_limited(wait)
            if auth:
                self._authenticate(req)
            return handler(req)
        if path_known:
            raise ApiError(405, 'Method Not Allowed')
        raise ApiError(404, 'Not Found')

    def _rate_limited(self, wait: float) -> ApiError:
        self._count('rate_limited')
        return ApiError(429, 'rate limit exceeded', {'Retry-After': retry_after_header(wait)} if self.retry_after else {})

    def _count(self, key):
        with self._lock:
            self.stats[key] += 1

    def _sandbox(self, req):
        if req.path == '/_sandbox/stats' and req.method == 'GET':
            with self._lock:
                return 200, json.loads(json.dumps(self.stats)), {}
        if req.path == '/_sandbox/stats/reset' and req.method == 'POST':
            self.reset_stats()
            return 200, {'status': 'ok'}, {}
        if req.path == '/_sandbox/reset' and req.method == 'POST':
            self.reset()
            return 200, {'status': 'ok'}, {}
        if req.path == '/_sandbox/oidc' and req.method == 'GET':
            self.oidc.check_restart()
            return 200, self.oidc.state(), {}
        if req.path == '/_sandbox/log' and req.method == 'GET':
            with self._lock:
                return 200, {'lines': list(self.log_lines)}, {}
        raise ApiError(404, 'Not Found')

    def log(self, level: int, text: str):
        LOG.log(level, text)
        with self._lock:
            self.log_lines.append(f'{logging.getLevelName(level)} {text}')

    # ------------------------------------------------------------------ auth
    def _authenticate(self, req: Request):
        """The JWT and blocklist middlewares (see tokens.py); sets req.claims, req.user, req.token_key."""
        candidates = tokens.bearer_tokens(req.auth_values)
        if not candidates:
            raise ApiError(400, 'missing or malformed jwt')
        claims = None
        for token in candidates:
            try:
                claims = self._verified_claims(token)
                break
            except tokens.TokenRejected:
                continue
        if claims is None:
            raise ApiError(401, 'invalid or expired jwt')
        try:
            key = tokens.blocklist_key(claims)
        except tokens.InternalError as exc:
            self.log(logging.ERROR, str(exc))
            raise ApiError(500, 'Internal error') from None
        with self._lock:
            blocked = key in self.blocklist
        if blocked:
            raise ApiError(401, 'Invalid token')
        req.claims, req.token_key, req.user = claims, key, authz.user_of(claims)

    def _verified_claims(self, token: str) -> dict:
        parsed = tokens.parse(token)
        tokens.verify(parsed, self._key_for(parsed), self.clock())
        return parsed.claims

    def _key_for(self, parsed: tokens.Parsed):
        """Everest's key function: the session key for ``iss: everest``, else the OIDC issuer's JWKS."""
        if tokens.issuer(parsed.claims) == tokens.EVEREST_ISSUER:
            return self.secret
        self.oidc.check_restart()
        try:
            return self.oidc.key_for(parsed.header)
        except NoKey as exc:
            raise tokens.TokenRejected(str(exc)) from None

    def _account(self, username: str):
        secret = self.kube.get(ACCOUNTS)
        text = _unb64((secret.get('data') or {}).get('users.yaml'))
        users = yaml.load(text, Loader=_BinaryLoader) or {}
        annotations = (secret.get('metadata') or {}).get('annotations') or {}
        account = users.get(username) if isinstance(users, dict) else None
        return account, ('insecure-password/' + username) in annotations

    def _verify(self, username: str, password: str):
        """None when the password is right, else the HTTP error."""
        account, plain = self._account(username)
        if not isinstance(account, dict):
            return ApiError(401, 'Incorrect username or password provided')
        stored = account.get('passwordHash')
        if plain:
            stored_b = (stored if isinstance(stored, str) else str(stored)).encode()
            given = password.encode()
        else:
            salt = ((self.kube.get(SYSTEM_NS_PATH).get('metadata') or {}).get('uid') or '').encode()
            given = hashlib.pbkdf2_hmac('sha256', password.encode(), salt, 4096, 32)
            stored_b = stored if isinstance(stored, bytes) else str(stored or '').encode('utf-8', 'surrogateescape')
        if not hmac.compare_digest(given, stored_b):
            return ApiError(401, 'Incorrect username or password provided')
        if not account.get('enabled', False):
            return ApiError(403, 'User account is disabled')
        if 'login' not in (account.get('capabilities') or []):
            return ApiError(403, 'User account lacks required capabilities')
        return None

    def login(self, req: Request):
        body = req.body
        if not isinstance(body, dict) or not isinstance(body.get('username'), str) or not isinstance(body.get('password'), str):
            raise ApiError(400, 'request body has an error: doesn\'t match schema #/components/schemas/UserCredentials')
        error = self._verify(body['username'], body['password'])
        if error is not None:
            self.session_limiter.failed(req.ip)
            self._count('login_failures')
            raise error
        self.session_limiter.succeeded(req.ip)
        now = self.clock()
        claims = {
            'iss': 'everest',
            'sub': f"{body['username']}:login",
            'iat': int(now),
            'nbf': int(now),
            'exp': int(now + self.token_ttl),
            'jti': str(uuid.uuid4()),
        }
        self._count('logins')
        return 200, {'token': tokens.encode_session(claims, self.secret)}, {}

    def logout(self, req: Request):
        with self._lock:
            self.blocklist.add(req.token_key)
        self.session_limiter.logout(req.ip)
        self._count('logouts')
        return 204, None, {}

    def version(self, _req):
        return 200, dict(VERSION), {}

    def settings(self, _req):
        try:
            return 200, settings_mod.view(settings_mod.read(self.kube)), {}
        except (KubeError, settings_mod.SettingsError):
            raise ApiError(500, 'Failed to get Everest settings') from None

    def permissions(self, req):
        cm = self._k(self.kube.get, RBAC_CM)
        policy = self._policy_of(cm)
        if policy is None:
            return 200, {'enabled': False, 'permissions': None}, {}
        return 200, {'enabled': True, 'permissions': authz.permissions(policy, req.user)}, {}

    # ------------------------------------------------------------------ rbac
    def _policy(self):
        return self._policy_of(self.kube.get_or_none(RBAC_CM))

    @staticmethod
    def _policy_of(cm):
        """The enforcer of the everest-rbac ConfigMap, None when RBAC is disabled."""
        data = (cm or {}).get('data') or {}
        if data.get('enabled') != 'true':
            return None
        try:
            return rbac_eval.enforcer(data.get('policy.csv', ''))
        except (rbac_eval.PolicyLoadError, rbac_eval.PolicyCheckError) as exc:
            raise ApiError(500, f'cannot load the RBAC policy: {exc}') from None

    def can(self, user, resource: str, action: str, obj: str, policy=False) -> bool:  # pylint: disable=too-many-arguments
        """``user``: an ``authz.User`` (or a plain subject name); logs a denial like Everest."""
        user = user if isinstance(user, authz.User) else authz.User(user)
        policy = self._policy() if policy is False else policy
        if policy is None or authz.allowed(policy, user, resource, action, obj):
            return True
        self.log(logging.WARNING, f'Permission denied: [{user.subject} {resource} {action} {obj}]')
        return False

    def _require(self, req, resource, action, obj):
        if not self.can(req.user, resource, action, obj):
            raise ApiError(403, NOT_ALLOWED)

    # ------------------------------------------------------------------ kubernetes helpers
    @staticmethod
    def _kube_error(exc: KubeError):
        if exc.status == 404:
            return ApiError(404, exc.message)
        if exc.status == 409:
            return ApiError(409, 'Conflict' if exc.reason != 'AlreadyExists' else exc.message)
        # Everest's everestErrorHandler: a Kubernetes Forbidden or Invalid (by reason, e.g. an admission webhook or
        # a ValidatingAdmissionPolicy, whose refusals are 422 Invalid or 403 Forbidden) keeps its status and message,
        # minus the prefix of Everest's own webhooks.
        if exc.reason in ('Forbidden', 'Invalid') or (not exc.reason and exc.status in (403, 422)):
            return ApiError(exc.status, _trim_webhook_prefix(exc.message))
        return ApiError(500, exc.message)

    def _k(self, func, *args):
        try:
            return func(*args)
        except KubeError as exc:
            raise self._kube_error(exc) from None

    @staticmethod
    def _p(plural, ns, name=None, sub=None):
        return kpath(GROUP_VERSION, plural, ns, name, sub)

    def _seen(self, kind, obj):
        meta = obj.get('metadata') or {}
        key = (kind, meta.get('namespace'), meta.get('name'), meta.get('uid'))
        with self._lock:
            return self.first_seen.setdefault(key, self.clock())

    def _write_status(self, plural, obj, status):
        if obj.get('status') == status:
            return obj
        meta = obj['metadata']
        body = dict(obj, status=status)
        try:
            return self.kube.replace(self._p(plural, meta['namespace'], meta['name'], 'status'), body)
        except KubeError:
            return body  # a concurrent writer won; the next read computes the status again

    # ------------------------------------------------------------------ database clusters
    def _cluster_status(self, obj):
        spec = obj.get('spec') or {}
        meta = obj['metadata']
        engine = spec.get('engine') or {}
        etype = engine.get('type')
        born = self._seen('dbc', obj)  # first: with a ready delay of 0 a new cluster is ready at once
        now = self.clock()
        with self._lock:
            changed = self.changed_at.get((meta['namespace'], meta['name'], meta.get('uid')))
        replicas = engine.get('replicas') or 1
        if now < born + self.ready_delay:
            state = 'restoring' if spec.get('dataSource') else 'creating'
        elif changed is not None and now < changed + self.ready_delay:
            state = 'initializing'
        else:
            state = 'ready'
        proxy = spec.get('proxy') or {}
        host = f"{meta['name']}-{PROXY_SUFFIX.get(etype, 'proxy')}.{meta['namespace']}.svc"
        status = dict(obj.get('status') or {})
        if status.get('status') == 'error':
            # the operator simulation (kubeapi/operators.py) could not create pods/PVCs: keep its state and message
            status.update({'hostname': host, 'port': PORTS.get(etype, 0), 'crVersion': engine.get('crVersion') or '1.0.0'})
            return status
        status.update(
            {
                'status': state,
                'hostname': host,
                'port': PORTS.get(etype, 0),
                'size': replicas + (proxy.get('replicas') or 0 if proxy else 0),
                'ready': (replicas + (proxy.get('replicas') or 0 if proxy else 0)) if state == 'ready' else 0,
                'crVersion': engine.get('crVersion') or '1.0.0',
            }
        )
        return status

    def _refresh_cluster(self, obj):
        return self._write_status('databaseclusters', obj, self._cluster_status(obj))

    def _get_cluster(self, ns, name):
        return self._k(self.kube.get, self._p('databaseclusters', ns, name))

    def list_clusters(self, req):
        ns = req.params['ns']
        policy = self._policy()
        items = self._k(self.kube.list, self._p('databaseclusters', ns))
        out = [self._refresh_cluster(i) for i in items if self.can(req.user, 'database-clusters', 'read', f"{ns}/{i['metadata']['name']}", policy)]
        return 200, {'apiVersion': GROUP_VERSION, 'kind': 'DatabaseClusterList', 'metadata': {}, 'items': out}, {}

    @staticmethod
    def _body_name(body):
        meta = body.get('metadata') if isinstance(body, dict) else None
        return meta.get('name') if isinstance(meta, dict) else None

    def _validate_cluster(self, ns, body, current=None):
        try:
            validation.database_cluster(body, current)
        except validation.Invalid as exc:
            raise _invalid(str(exc)) from None
        except validation.SchemaError as exc:
            raise ApiError(400, f'request body has an error: doesn\'t match schema #/components/schemas/DatabaseCluster: {exc}') from None
        spec = body['spec']
        for sched in (spec.get('backup') or {}).get('schedules') or []:
            if sched.get('backupStorageName'):
                self._storage_exists(ns, sched['backupStorageName'])
        pitr = (spec.get('backup') or {}).get('pitr') or {}
        if pitr.get('enabled') and pitr.get('backupStorageName'):
            self._storage_exists(ns, pitr['backupStorageName'])
        mon = (spec.get('monitoring') or {}).get('monitoringConfigName')
        if mon and self.kube.get_or_none(self._p('monitoringconfigs', ns, mon)) is None:
            raise _invalid(f"monitoring instance '{mon}' does not exist in namespace '{ns}'")
        source = spec.get('dataSource') or {}
        if current is None and source.get('dbClusterBackupName'):
            backup = self.kube.get_or_none(self._p('databaseclusterbackups', ns, source['dbClusterBackupName']))
            if backup is None:
                raise _invalid(f"backup '{source['dbClusterBackupName']}' does not exist in namespace '{ns}'")
            if self._backup_status(backup)['state'] != 'Succeeded':
                raise _invalid(f"backup '{source['dbClusterBackupName']}' has not succeeded yet")

    def _storage_exists(self, ns, name):
        if self.kube.get_or_none(self._p('backupstorages', ns, name)) is None:
            raise _invalid(f"backup storage '{name}' does not exist in namespace '{ns}'")

    def create_cluster(self, req):
        ns = req.params['ns']
        body = req.body
        name = self._body_name(body)
        if not isinstance(name, str) or not name:
            raise _invalid("databaseCluster's metadata.name should not be empty")
        self._require(req, 'database-clusters', 'create', f'{ns}/{name}')
        self._validate_cluster(ns, body)
        meta = {'name': name, 'namespace': ns}
        for key in ('labels', 'annotations'):
            if body['metadata'].get(key):
                meta[key] = body['metadata'][key]
        obj = {'apiVersion': GROUP_VERSION, 'kind': 'DatabaseCluster', 'metadata': meta, 'spec': body['spec']}
        created = self._k(self.kube.create, self._p('databaseclusters', ns), obj)
        self._ensure_credentials(ns, name, body['spec']['engine']['type'])
        return 201, self._refresh_cluster(created), {}

    def _ensure_credentials(self, ns, name, etype):
        spath = kpath('v1', 'secrets', ns, f'everest-secrets-{name}')
        if self.kube.get_or_none(spath) is not None:
            return
        password = secrets.token_urlsafe(18)
        with self._lock:
            self.generated_secrets.append(password)
        if etype == 'psmdb':
            data = {'MONGODB_DATABASE_ADMIN_USER': 'databaseAdmin', 'MONGODB_DATABASE_ADMIN_PASSWORD': password}
        elif etype == 'postgresql':
            data = {'user': 'postgres', 'password': password}
        else:
            data = {'root': password}
        secret = {
            'apiVersion': 'v1',
            'kind': 'Secret',
            'type': 'Opaque',
            'metadata': {'name': f'everest-secrets-{name}', 'namespace': ns, 'labels': {'app.kubernetes.io/managed-by': 'everest', 'clusterName': name}},
            'data': {k: _b64(v) for k, v in data.items()},
        }
        try:
            self.kube.create(kpath('v1', 'secrets', ns), secret)
        except KubeError as exc:
            if exc.status != 409:
                raise self._kube_error(exc) from None

    def get_cluster(self, req):
        ns, name = req.params['ns'], req.params['name']
        self._require(req, 'database-clusters', 'read', f'{ns}/{name}')
        return 200, self._refresh_cluster(self._get_cluster(ns, name)), {}

    def update_cluster(self, req):
        ns, name = req.params['ns'], req.params['name']
        self._require(req, 'database-clusters', 'update', f'{ns}/{name}')
        body = req.body
        current = self._get_cluster(ns, name)
        if not isinstance(body, dict) or self._body_name(body) != name:
            raise _invalid('metadata.name of the body must be the name in the path')
        self._validate_cluster(ns, body, current)
        meta = dict(body['metadata'], namespace=ns)
        obj = {'apiVersion': GROUP_VERSION, 'kind': 'DatabaseCluster', 'metadata': meta, 'spec': body['spec']}
        if current.get('status'):
            obj['status'] = current['status']
        updated = self._k(self.kube.replace, self._p('databaseclusters', ns, name), obj)
        old, new = current.get('spec') or {}, updated.get('spec') or {}
        if (old.get('engine'), old.get('proxy')) != (new.get('engine'), new.get('proxy')):
            with self._lock:
                self.changed_at[(ns, name, updated['metadata'].get('uid'))] = self.clock()
        return 200, self._refresh_cluster(updated), {}

    def delete_cluster(self, req):
        ns, name = req.params['ns'], req.params['name']
        self._require(req, 'database-clusters', 'delete', f'{ns}/{name}')
        self._get_cluster(ns, name)
        cleanup = (req.query.get('cleanupBackupStorage') or ['false'])[0].lower() == 'true'
        if cleanup:
            for backup in self._k(self.kube.list, self._p('databaseclusterbackups', ns)):
                if (backup.get('spec') or {}).get('dbClusterName') == name:
                    self.kube.delete(self._p('databaseclusterbackups', ns, backup['metadata']['name']))
        self._k(self.kube.delete, self._p('databaseclusters', ns, name))
        self.kube.delete(kpath('v1', 'secrets', ns, f'everest-secrets-{name}'))
        return 204, None, {}

    def credentials(self, req):
        ns, name = req.params['ns'], req.params['name']
        self._require(req, 'database-cluster-credentials', 'read', f'{ns}/{name}')
        obj = self._refresh_cluster(self._get_cluster(ns, name))
        etype = obj['spec']['engine']['type']
        secret = self._k(self.kube.get, kpath('v1', 'secrets', ns, f'everest-secrets-{name}'))
        data = {k: _unb64(v) for k, v in (secret.get('data') or {}).items()}
        host, port = obj['status']['hostname'], obj['status']['port']
        if etype == 'pxc':
            return 200, {'username': 'root', 'password': data.get('root', '')}, {}
        if etype == 'postgresql':
            user, password = 'postgres', data.get('password', '')
            return 200, {'username': user, 'password': password, 'connectionUrl': f'postgres://{user}:{password}@{host}:{port}'}, {}
        user, password = data.get('MONGODB_DATABASE_ADMIN_USER', ''), data.get('MONGODB_DATABASE_ADMIN_PASSWORD', '')
        return 200, {'username': user, 'password': password, 'connectionUrl': f'mongodb://{user}:{password}@{host}:{port}'}, {}

    def _of_cluster(self, plural, ns, cluster, refresh):
        items = self._k(self.kube.list, self._p(plural, ns))
        return [refresh(i) for i in items if (i.get('spec') or {}).get('dbClusterName') == cluster]

    def cluster_backups(self, req):
        ns, name = req.params['ns'], req.params['name']
        self._require(req, 'database-cluster-backups', 'read', f'{ns}/{name}')
        items = self._of_cluster('databaseclusterbackups', ns, name, self._refresh_backup)
        return 200, {'apiVersion': GROUP_VERSION, 'kind': 'DatabaseClusterBackupList', 'metadata': {}, 'items': items}, {}

    def cluster_restores(self, req):
        ns, name = req.params['ns'], req.params['name']
        self._require(req, 'database-cluster-restores', 'read', f'{ns}/{name}')
        items = self._of_cluster('databaseclusterrestores', ns, name, self._refresh_restore)
        return 200, {'apiVersion': GROUP_VERSION, 'kind': 'DatabaseClusterRestoreList', 'metadata': {}, 'items': items}, {}

    def list_namespaces(self, req):
        policy = self._policy()
        items = self._k(self.kube.list, kpath('v1', 'namespaces'), f'{MANAGED_LABEL}=everest')
        names = sorted(i['metadata']['name'] for i in items)
        return 200, [n for n in names if self.can(req.user, 'namespaces', 'read', n, policy)], {}

    # ------------------------------------------------------------------ backup storages
    @staticmethod
    def _storage_view(obj):
        spec = obj.get('spec') or {}
        out = {
            'name': obj['metadata']['name'],
            'namespace': obj['metadata']['namespace'],
            'type': spec.get('type'),
            'bucketName': spec.get('bucket'),
            'url': spec.get('endpointURL', ''),
            'region': spec.get('region', ''),
            'description': spec.get('description', ''),
            'verifyTLS': spec.get('verifyTLS', True),
            'forcePathStyle': spec.get('forcePathStyle', False),
            'allowedNamespaces': spec.get('allowedNamespaces') or [],
        }
        return out

    def _validate(self, func, body, create):
        try:
            func(body, create)
        except validation.Invalid as exc:
            raise _invalid(str(exc)) from None
        except validation.SchemaError as exc:
            raise ApiError(400, f'request body has an error: {exc}') from None

    def list_storages(self, req):
        ns = req.params['ns']
        policy = self._policy()
        items = self._k(self.kube.list, self._p('backupstorages', ns))
        return 200, [self._storage_view(i) for i in items if self.can(req.user, 'backup-storages', 'read', f"{ns}/{i['metadata']['name']}", policy)], {}

    def create_storage(self, req):
        ns, body = req.params['ns'], req.body
        name = body.get('name') if isinstance(body, dict) else None
        self._require(req, 'backup-storages', 'create', f'{ns}/{name}')
        self._validate(validation.backup_storage, body, True)
        if self.kube.get_or_none(self._p('backupstorages', ns, name)) is not None:
            raise ApiError(409, f"backup storage '{name}' already exists")
        secret = {
            'apiVersion': 'v1',
            'kind': 'Secret',
            'type': 'Opaque',
            'metadata': {'name': name, 'namespace': ns},
            'data': {'AWS_ACCESS_KEY_ID': _b64(body['accessKey']), 'AWS_SECRET_ACCESS_KEY': _b64(body['secretKey'])},
        }
        spath = kpath('v1', 'secrets', ns, name)
        if self.kube.get_or_none(spath) is None:
            self._k(self.kube.create, kpath('v1', 'secrets', ns), secret)
        else:
            self._k(self.kube.merge_patch, spath, {'data': secret['data']})
        spec = {
            'type': body['type'],
            'bucket': body['bucketName'],
            'credentialsSecretName': name,
            'region': body.get('region', ''),
            'endpointURL': body.get('url', ''),
            'description': body.get('description', ''),
            'verifyTLS': body.get('verifyTLS', True),
            'forcePathStyle': body.get('forcePathStyle', False),
            'allowedNamespaces': body.get('allowedNamespaces') or [],
        }
        obj = {'apiVersion': GROUP_VERSION, 'kind': 'BackupStorage', 'metadata': {'name': name, 'namespace': ns}, 'spec': spec}
        created = self._k(self.kube.create, self._p('backupstorages', ns), obj)
        return 201, self._storage_view(created), {}

    def get_storage(self, req):
        ns, name = req.params['ns'], req.params['name']
        self._require(req, 'backup-storages', 'read', f'{ns}/{name}')
        return 200, self._storage_view(self._k(self.kube.get, self._p('backupstorages', ns, name))), {}

    def patch_storage(self, req):
        ns, name, body = req.params['ns'], req.params['name'], req.body
        self._require(req, 'backup-storages', 'update', f'{ns}/{name}')
        self._validate(validation.backup_storage, body, False)
        obj = self._k(self.kube.get, self._p('backupstorages', ns, name))
        mapping = {
            'bucketName': 'bucket',
            'url': 'endpointURL',
            'region': 'region',
            'description': 'description',
            'verifyTLS': 'verifyTLS',
            'forcePathStyle': 'forcePathStyle',
            'allowedNamespaces': 'allowedNamespaces',
        }
        for key, field in mapping.items():
            if key in body:
                obj['spec'][field] = body[key]
        keys = {}
        if body.get('accessKey'):
            keys['AWS_ACCESS_KEY_ID'] = _b64(body['accessKey'])
        if body.get('secretKey'):
            keys['AWS_SECRET_ACCESS_KEY'] = _b64(body['secretKey'])
        if keys:
            self._k(self.kube.merge_patch, kpath('v1', 'secrets', ns, obj['spec'].get('credentialsSecretName') or name), {'data': keys})
        updated = self._k(self.kube.replace, self._p('backupstorages', ns, name), obj)
        return 200, self._storage_view(updated), {}

    def delete_storage(self, req):
        ns, name = req.params['ns'], req.params['name']
        self._require(req, 'backup-storages', 'delete', f'{ns}/{name}')
        obj = self._k(self.kube.get, self._p('backupstorages', ns, name))
        for dbc in self._k(self.kube.list, self._p('databaseclusters', ns)):
            backup = (dbc.get('spec') or {}).get('backup') or {}
            used = [s.get('backupStorageName') for s in backup.get('schedules') or []]
            used.append((backup.get('pitr') or {}).get('backupStorageName'))
            if name in used:
                raise _invalid(f"backup storage '{name}' is in use by database cluster '{dbc['metadata']['name']}'")
        self._k(self.kube.delete, self._p('backupstorages', ns, name))
        self.kube.delete(kpath('v1', 'secrets', ns, obj['spec'].get('credentialsSecretName') or name))
        return 204, None, {}

    # ------------------------------------------------------------------ monitoring instances
    @staticmethod
    def _monitoring_view(obj):
        spec = obj.get('spec') or {}
        return {
            'name': obj['metadata']['name'],
            'namespace': obj['metadata']['namespace'],
            'type': spec.get('type'),
            'url': (spec.get('pmm') or {}).get('url', ''),
            'allowedNamespaces': spec.get('allowedNamespaces') or [],
            'verifyTLS': spec.get('verifyTLS', True),
        }

    @staticmethod
    def _pmm_secret(pmm):
        if pmm.get('apiKey'):
            return {'apiKey': _b64(pmm['apiKey'])}
        return {'username': _b64(pmm['user']), 'password': _b64(pmm['password'])}

    def list_monitoring(self, req):
        ns = req.params['ns']
        policy = self._policy()
        items = self._k(self.kube.list, self._p('monitoringconfigs', ns))
        return 200, [self._monitoring_view(i) for i in items if self.can(req.user, 'monitoring-instances', 'read', f"{ns}/{i['metadata']['name']}", policy)], {}

    def create_monitoring(self, req):
        ns, body = req.params['ns'], req.body
        name = body.get('name') if isinstance(body, dict) else None
        self._require(req, 'monitoring-instances', 'create', f'{ns}/{name}')
        self._validate(validation.monitoring_instance, body, True)
        if self.kube.get_or_none(self._p('monitoringconfigs', ns, name)) is not None:
            raise ApiError(409, f"monitoring instance '{name}' already exists")
        secret_name = f'{name}-pmm'
        secret = {
            'apiVersion': 'v1',
            'kind': 'Secret',
            'type': 'Opaque',
            'metadata': {'name': secret_name, 'namespace': ns},
            'data': self._pmm_secret(body['pmm']),
        }
        self.kube.delete(kpath('v1', 'secrets', ns, secret_name))
        self._k(self.kube.create, kpath('v1', 'secrets', ns), secret)
        spec = {
            'type': 'pmm',
            'credentialsSecretName': secret_name,
            'pmm': {'url': body['url']},
            'allowedNamespaces': body.get('allowedNamespaces') or [],
            'verifyTLS': body.get('verifyTLS', True),
        }
        obj = {'apiVersion': GROUP_VERSION, 'kind': 'MonitoringConfig', 'metadata': {'name': name, 'namespace': ns}, 'spec': spec}
        created = self._k(self.kube.create, self._p('monitoringconfigs', ns), obj)
        return 200, self._monitoring_view(created), {}

    def get_monitoring(self, req):
        ns, name = req.params['ns'], req.params['name']
        self._require(req, 'monitoring-instances', 'read', f'{ns}/{name}')
        return 200, self._monitoring_view(self._k(self.kube.get, self._p('monitoringconfigs', ns, name))), {}

    def patch_monitoring(self, req):
        ns, name, body = req.params['ns'], req.params['name'], req.body
        self._require(req, 'monitoring-instances', 'update', f'{ns}/{name}')
        self._validate(validation.monitoring_instance, body, False)
        obj = self._k(self.kube.get, self._p('monitoringconfigs', ns, name))
        if 'url' in body:
            obj['spec'].setdefault('pmm', {})['url'] = body['url']
        for key in ('allowedNamespaces', 'verifyTLS'):
            if key in body:
                obj['spec'][key] = body[key]
        if body.get('pmm'):
            spath = kpath('v1', 'secrets', ns, obj['spec']['credentialsSecretName'])
            secret = self._k(self.kube.get, spath)
            secret['data'] = self._pmm_secret(body['pmm'])
            self._k(self.kube.replace, spath, secret)
        updated = self._k(self.kube.replace, self._p('monitoringconfigs', ns, name), obj)
        return 200, self._monitoring_view(updated), {}

    def delete_monitoring(self, req):
        ns, name = req.params['ns'], req.params['name']
        self._require(req, 'monitoring-instances', 'delete', f'{ns}/{name}')
        obj = self._k(self.kube.get, self._p('monitoringconfigs', ns, name))
        for dbc in self._k(self.kube.list, self._p('databaseclusters', ns)):
            if ((dbc.get('spec') or {}).get('monitoring') or {}).get('monitoringConfigName') == name:
                raise _invalid(f"monitoring instance '{name}' is in use by database cluster '{dbc['metadata']['name']}'")
        self._k(self.kube.delete, self._p('monitoringconfigs', ns, name))
        self.kube.delete(kpath('v1', 'secrets', ns, obj['spec'].get('credentialsSecretName') or f'{name}-pmm'))
        return 204, None, {}

    # ------------------------------------------------------------------ backups and restores
    def _job_state(self, kind, obj):
        born = self._seen(kind, obj)
        done = self.clock() >= born + self.job_delay
        return born, done

    def _backup_status(self, obj):
        born, done = self._job_state('backup', obj)
        spec = obj.get('spec') or {}
        status = {
            'state': 'Succeeded' if done else 'Starting',
            'created': _rfc3339(born),
            'destination': f"s3://{spec.get('backupStorageName')}/{spec.get('dbClusterName')}/{obj['metadata']['name']}",
            'inUse': False,
        }
        if done:
            status['completed'] = _rfc3339(born + self.job_delay)
        return status

    def _refresh_backup(self, obj):
        return self._write_status('databaseclusterbackups', obj, self._backup_status(obj))

    def _restore_status(self, obj):
        born, done = self._job_state('restore', obj)
        status = {'state': 'Succeeded' if done else 'Starting', 'inUse': not done}
        if done:
            status['completed'] = _rfc3339(born + self.job_delay)
        return status

    def _refresh_restore(self, obj):
        return self._write_status('databaseclusterrestores', obj, self._restore_status(obj))

    @staticmethod
    def _job_body(body, kind):
        if not isinstance(body, dict) or not isinstance(body.get('spec'), dict):
            raise ApiError(400, f'request body has an error: doesn\'t match schema #/components/schemas/{kind}: property "spec" is missing')
        name = EverestApiServer._body_name(body)
        try:
            if not isinstance(name, str) or not name:
                raise validation.Invalid("'metadata.name' should not be empty")
            if not re.match(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', name) or len(name) > 63:
                raise validation.Invalid(f"'metadata.name' is not a valid name: '{name}'")
        except validation.Invalid as exc:
            raise _invalid(str(exc)) from None
        return name, body['spec']

    def create_backup(self, req):
        ns = req.params['ns']
        name, spec = self._job_body(req.body, 'DatabaseClusterBackup')
        cluster, storage = spec.get('dbClusterName'), spec.get('backupStorageName')
        self._require(req, 'database-cluster-backups', 'create', f'{ns}/{cluster}')
        if not cluster or not storage:
            raise _invalid('.spec.dbClusterName and .spec.backupStorageName are required')
        if self.kube.get_or_none(self._p('databaseclusters', ns, cluster)) is None:
            raise _invalid(f"database cluster '{cluster}' does not exist in namespace '{ns}'")
        self._storage_exists(ns, storage)
        obj = {
            'apiVersion': GROUP_VERSION,
            'kind': 'DatabaseClusterBackup',
            'metadata': {'name': name, 'namespace': ns, 'labels': {'clusterName': cluster}},
            'spec': {'dbClusterName': cluster, 'backupStorageName': storage},
        }
        created = self._k(self.kube.create, self._p('databaseclusterbackups', ns), obj)
        return 200, self._refresh_backup(created), {}

    def _get_job(self, req, plural, resource, action):
        ns, name = req.params['ns'], req.params['name']
        obj = self._k(self.kube.get, self._p(plural, ns, name))
        self._require(req, resource, action, f"{ns}/{(obj.get('spec') or {}).get('dbClusterName')}")
        return ns, name, obj

    def get_backup(self, req):
        _ns, _name, obj = self._get_job(req, 'databaseclusterbackups', 'database-cluster-backups', 'read')
        return 200, self._refresh_backup(obj), {}

    def delete_backup(self, req):
        ns, name, _obj = self._get_job(req, 'databaseclusterbackups', 'database-cluster-backups', 'delete')
        self._k(self.kube.delete, self._p('databaseclusterbackups', ns, name))
        return 204, None, {}

    def create_restore(self, req):
        ns = req.params['ns']
        name, spec = self._job_body(req.body, 'DatabaseClusterRestore')
        cluster = spec.get('dbClusterName')
        self._require(req, 'database-cluster-restores', 'create', f'{ns}/{cluster}')
        source = spec.get('dataSource') or {}
        if not cluster or not (source.get('dbClusterBackupName') or source.get('backupSource')):
            raise _invalid('.spec.dbClusterName and .spec.dataSource.dbClusterBackupName (or backupSource) are required')
        if self.kube.get_or_none(self._p('databaseclusters', ns, cluster)) is None:
            raise _invalid(f"database cluster '{cluster}' does not exist in namespace '{ns}'")
        if source.get('dbClusterBackupName'):
            backup = self.kube.get_or_none(self._p('databaseclusterbackups', ns, source['dbClusterBackupName']))
            if backup is None:
                raise _invalid(f"backup '{source['dbClusterBackupName']}' does not exist in namespace '{ns}'")
            if self._backup_status(backup)['state'] != 'Succeeded':
                raise _invalid(f"backup '{source['dbClusterBackupName']}' has not succeeded yet")
        obj = {
            'apiVersion': GROUP_VERSION,
            'kind': 'DatabaseClusterRestore',
            'metadata': {'name': name, 'namespace': ns, 'labels': {'clusterName': cluster}},
            'spec': {'dbClusterName': cluster, 'dataSource': source},
        }
        created = self._k(self.kube.create, self._p('databaseclusterrestores', ns), obj)
        return 201, self._refresh_restore(created), {}

    def get_restore(self, req):
        _ns, _name, obj = self._get_job(req, 'databaseclusterrestores', 'database-cluster-restores', 'read')
        return 200, self._refresh_restore(obj), {}

    def update_restore(self, req):
        ns, name, obj = self._get_job(req, 'databaseclusterrestores', 'database-cluster-restores', 'update')
        body = req.body if isinstance(req.body, dict) else {}
        obj['spec'] = body.get('spec') or obj['spec']
        obj['metadata']['resourceVersion'] = (body.get('metadata') or {}).get('resourceVersion') or obj['metadata']['resourceVersion']
        updated = self._k(self.kube.replace, self._p('databaseclusterrestores', ns, name), obj)
        return 200, self._refresh_restore(updated), {}

    def delete_restore(self, req):
        ns, name, _obj = self._get_job(req, 'databaseclusterrestores', 'database-cluster-restores', 'delete')
        self._k(self.kube.delete, self._p('databaseclusterrestores', ns, name))
        return 204, None, {}


class _BinaryLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """SafeLoader that keeps ``!!binary`` values as bytes (the stored PBKDF2 hashes)."""


class _Handler(BaseHTTPRequestHandler):
    api: EverestApiServer = None
    protocol_version = 'HTTP/1.1'
    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass

    def _handle(self):
        parts = urlsplit(self.path)
        length = int(self.headers.get('Content-Length') or 0)
        raw = self.rfile.read(length) if length else b''
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            self._send(400, {'message': 'request body has an error: failed to decode request body: invalid JSON'}, {})
            return
        req = Request(
            self.command,
            parts.path.rstrip('/') or '/',
            parse_qs(parts.query),
            body,
            self.client_address[0],
            headers,
            self.headers.get_all('Authorization') or [],
        )
        try:
            status, payload, extra = self.api.dispatch(req)
        except tokens.HandlerPanic as exc:
            self.api.log(logging.ERROR, f'http: panic serving {self.client_address[0]}: {exc}')
            self.close_connection = True
            return
        except ApiError as exc:
            status, payload, extra = exc.status, {'message': exc.message}, exc.headers
        except KubeError as exc:
            err = EverestApiServer._kube_error(exc)
            status, payload, extra = err.status, {'message': err.message}, {}
        except Exception as exc:  # pylint: disable=broad-except
            status, payload, extra = 500, {'message': f'internal error: {exc}'}, {}
        self._send(status, payload, extra)

    def _send(self, status, payload, headers):
        data = b'' if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if payload is not None:
            self.send_header('Content-Type', 'application/json; charset=UTF-8')
        self.send_header('Content-Length', str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if data:
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle
