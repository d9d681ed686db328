"""OIDC in the Everest REST API emulator: provider set-up at start, the JWKS cache, and emulated restarts.

What Everest does (``internal/server/everest.go`` ``getOIDCProviderConfig``/``newJWTKeyFunc``,
``pkg/oidc/oidc.go``), and how the emulator follows it:

* Set-up happens once, when the server is created: ``oidc.config`` of ``everest-settings`` empty or absent -> OIDC
  off. Otherwise the discovery document ``<issuerUrl>/.well-known/openid-configuration`` is fetched (Go's default
  client: no timeout, redirects followed); it must answer 200 with JSON whose ``jwks_uri`` is not empty. Its
  ``issuer`` is not compared with the configured URL. Any failure (bad YAML, no answer, non-200, no
  ``jwks_uri``) is fatal: the server does not start. ``OidcRuntime.startup()`` raises ``StartupError`` and
  ``EverestApiServer.start()`` lets it propagate without binding a port.
* The JWKS URL is only registered; the first OIDC token fetches it synchronously (jwx ``jwk.Cache`` on httprc).
  If that first fetch fails, the entry still counts as fetched, with no data: every OIDC token fails until the
  next scheduled refresh. Refreshes are due ``max(15 min, Cache-Control max-age)`` after a fetch (15 min after a
  failed one); a failed refresh keeps the old keys. Upstream refreshes in the background on a 15-minute tick (so
  15-30 min); the emulator refreshes when the first OIDC token after the due time arrives, on its injectable
  clock. An unknown ``kid`` never triggers a fetch.
* Nothing watches the settings: a new issuer, or OIDC on/off, needs a restart of the server. The emulator treats a
  change of the pod template of Deployment ``everest-system/everest-server`` (``kubectl rollout restart`` and
  ``everestctl settings oidc configure`` both set ``kubectl.kubernetes.io/restartedAt``) as a restart and applies
  it lazily: when a token that is not an Everest session token arrives, and on ``GET /_sandbox/oidc``. Each such
  check costs one Deployment GET; session-token requests cost nothing. A restart re-reads the settings,
  fetches discovery again and starts with an empty JWKS cache. If that set-up fails, the new pod would crash-loop
  while the old one keeps serving (the chart's RollingUpdate with one replica surges a new pod before stopping
  the old one): the emulator keeps the old configuration, records ``lastError`` and retries at the next check.
  The sandbox's ``POST /_sandbox/reset`` schedules a restart the same way (no Kubernetes call at reset time).
  Rate limiters and the token blocklist (a Secret in Everest) are not reset by a restart.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import urllib.error
import urllib.request

from ..oidc import jose
from . import settings as settings_mod
from .kube import Kube, KubeError, path as kpath

DEPLOYMENT = kpath('apps/v1', 'deployments', 'everest-system', 'everest-server')
WELL_KNOWN = '/.well-known/openid-configuration'
MIN_REFRESH = 15 * 60
_PROVIDER_STRINGS = ('issuer', 'authorization_endpoint', 'token_endpoint', 'device_authorization_endpoint', 'jwks_uri', 'userinfo_endpoint')


class StartupError(Exception):
    """The OIDC set-up failed: Everest logs ``Error creating Everest Server`` and exits."""


class NoKey(Exception):
    """No verification key for this token (the key function's error: the token is then 401)."""


def http_get(url: str, timeout: float):
    """(status, headers, body) of a GET without proxies; OSError/ValueError when there is no answer."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(urllib.request.Request(url, headers={'Accept': 'application/json'}), timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def join_url(issuer: str, path: str) -> str:
    """Go ``url.JoinPath(issuer, path)`` for the URLs met here: one slash between the parts."""
    return issuer.rstrip('/') + path


def discover(issuer_url: str, timeout: float) -> dict:
    """``oidc.NewProviderConfig`` + ``NewKeyFunc``'s check; raises StartupError."""
    url = join_url(issuer_url, WELL_KNOWN)
    try:
        status, _headers, body = http_get(url, timeout)
    except (OSError, ValueError) as exc:
        raise StartupError(f'Get "{url}": {exc}') from None
    if status != 200:
        raise StartupError(f'unexpected status code\n{status}: {body.decode("utf-8", "replace")}')
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise StartupError(f'failed to unmarshal json response: {exc}') from None
    if not isinstance(doc, dict) or any(doc.get(k) is not None and not isinstance(doc[k], str) for k in _PROVIDER_STRINGS):
        raise StartupError('failed to unmarshal json response: json: cannot unmarshal into oidc.ProviderConfig')
    if not doc.get('jwks_uri'):
        raise StartupError('did not find jwks_uri in oidc config')
    return doc


def _max_age(headers) -> int:
    match = re.search(r'(?:^|,)\s*max-age\s*=\s*"?(\d+)"?', (headers or {}).get('Cache-Control') or '', re.I)
    return int(match.group(1)) if match else 0


class KeySetCache:
    """One registered JWKS URL (see the module docstring); ``get()`` -> [(kid, key)] or NoKey."""

    def __init__(self, url: str, clock, timeout: float):
        self.url = url
        self.clock = clock
        self.timeout = timeout
        self.keys = None
        self.fetched = False
        self.fetches = 0
        self.next_refresh = None
        self._lock = threading.Lock()

    def _fetch(self, now: float):
        self.fetches += 1
        self.next_refresh = now + MIN_REFRESH
        try:
            status, headers, body = http_get(self.url, self.timeout)
        except (OSError, ValueError) as exc:
            raise NoKey(f'failed to fetch "{self.url}": {exc}') from None
        self.next_refresh = now + max(MIN_REFRESH, _max_age(headers))
        if status != 200:
            raise NoKey(f'failed to fetch "{self.url}": non-200 response code "{status}"')
        try:
            self.keys = jose.parse_jwk_set(json.loads(body))
        except (ValueError, jose.JoseError) as exc:
            raise NoKey(f'failed to parse JWK set at "{self.url}": {exc}') from None

    def get(self):
        with self._lock:
            now = self.clock()
            if not self.fetched:
                self.fetched = True
                self._fetch(now)
            elif now >= self.next_refresh:
                try:
                    self._fetch(now)
                except NoKey:
                    pass
            if self.keys is None:
                raise NoKey('cached object is not a Set')
            return self.keys

    def state(self) -> dict:
        with self._lock:
            return {
                'jwksUri': self.url,
                'jwksFetched': self.fetched,
                'jwksFetches': self.fetches,
                'kids': None if self.keys is None else [kid for kid, _key in self.keys],
            }


class Provider:  # pylint: disable=too-few-public-methods
    def __init__(self, issuer_url: str, document: dict, keys: KeySetCache):
        self.issuer_url = issuer_url
        self.document = document
        self.keys = keys


class OidcRuntime:  # pylint: disable=too-many-instance-attributes
    """The OIDC state of one emulated Everest server process (see the module docstring)."""

    def __init__(self, kube: Kube, clock, timeout: float = 10.0):
        self.kube = kube
        self.clock = clock
        self.timeout = timeout
        self.provider: Provider | None = None
        self.running_template = None  # digest of the pod template the serving "pod" started from
        self.pending = False  # a restart is due (reset) or failed and is retried
        self.restarts = 0
        self.last_error = None
        self._lock = threading.Lock()

    def _template(self):
        deployment = self.kube.get_or_none(DEPLOYMENT)
        template = ((deployment or {}).get('spec') or {}).get('template')
        return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()

    def _setup(self) -> Provider | None:
        try:
            raw = settings_mod.raw_config(self.kube.get_or_none(settings_mod.CONFIGMAP))
        except KubeError as exc:
            raise StartupError(f'failed to get Everest settings\n{exc.message}') from None
        if raw == '':
            return None
        try:
            issuer_url = settings_mod.parse_oidc_config(raw)['issuerUrl']
        except settings_mod.SettingsError as exc:
            raise StartupError(f'cannot parse OIDC raw config\n{exc}') from None
        document = discover(issuer_url, self.timeout)
        return Provider(issuer_url, document, KeySetCache(document['jwks_uri'], self.clock, self.timeout))

    def startup(self):
        """The set-up of a starting server; StartupError when Everest would exit."""
        with self._lock:
            try:
                template = self._template()
            except KubeError:
                template = None  # Everest does not read it; the first check then counts as a restart
            self.provider = self._setup()
            self.running_template = template

    def schedule_restart(self):
        with self._lock:
            self.pending = True

    def check_restart(self):
        """Apply a restart if the pod template changed (or one is scheduled); keep serving the old set-up on failure."""
        with self._lock:
            try:
                template = self._template()
            except KubeError:
                template = self.running_template  # cannot see the Deployment: no rollout observed
            if not self.pending and template == self.running_template:
                return
            try:
                provider = self._setup()
            except StartupError as exc:
                self.pending = True
                self.last_error = str(exc)
                return
            self.provider, self.running_template = provider, template
            self.pending, self.last_error = False, None
            self.restarts += 1

    def key_for(self, header: dict):
        """The verification key for an OIDC token (Everest's ``NewKeyFunc``); NoKey otherwise."""
        provider = self.provider
        if provider is None:
            raise NoKey('no key found for token')
        keys = provider.keys.get()
        kid = header.get('kid')
        if not isinstance(kid, str):
            raise NoKey('expecting JWT header to have a key ID in the kid field')
        key = jose.lookup(keys, kid)
        if key is None:
            raise NoKey(f'unable to find key "{kid}"')
        return key

    def state(self) -> dict:
        provider = self.provider
        out = {
            'enabled': provider is not None,
            'issuerUrl': provider.issuer_url if provider else None,
            'restarts': self.restarts,
            'pending': self.pending,
            'lastError': self.last_error,
        }
        if provider is not None:
            out.update(provider.keys.state())
        return out
