"""A test OIDC issuer: discovery, a one-key JWKS and RS256 access tokens on demand.

``OidcIssuer(host='127.0.0.1', port=0, path='', token_ttl=3600, clock=time.time)`` -> ``.start()`` serves on a
free port of 127.0.0.1; ``.url`` is the issuer URL (``http://127.0.0.1:PORT`` + ``path``). One RSA key (2048 bits,
a random ``kid``) is generated per instance and kept for its lifetime (``rotate()`` replaces it).

Endpoints (relative to the issuer URL):

* ``GET /.well-known/openid-configuration``: ``issuer``, ``jwks_uri`` (``<issuer>/jwks``), ``authorization_endpoint``
  (``/authorize``), ``token_endpoint`` (``/token``), ``userinfo_endpoint``, supported algorithms/scopes/claims.
  The browser endpoints are advertised for completeness only: they answer 400 ``unsupported_response_type`` /
  ``unsupported_grant_type`` (Everest's server never calls them; tokens come from ``/_sandbox/token``).
* ``GET /jwks``: ``{"keys": [{"kty": "RSA", "kid", "use": "sig", "alg": "RS256", "n", "e"}]}``.
* ``POST /_sandbox/token`` with a JSON object: every member is a claim of the token, over these defaults:
  ``iss`` = the issuer URL, ``iat`` = now, ``exp`` = now + ``token_ttl``, ``jti`` = a new UUID. So
  ``{"sub": "alice", "groups": ["/acme/dbas"]}`` is the usual request; ``exp``/``nbf``/``jti``/``iss``/``aud``
  override, ``groups`` may be a string, any other member is an extra claim, and a JSON ``null`` is a literal null
  claim. Two members are not claims: ``_omit`` (list of claim names to leave out, e.g. ``["jti", "exp"]``) and
  ``_header`` (merged into the JOSE header ``{"alg": "RS256", "typ": "JWT", "kid": <kid>}``; a null member removes
  that header field). With ``_header.alg`` RS*/PS* the issuer key signs; HS* is signed with the issuer's public
  key PEM as the HMAC secret (the classic algorithm-confusion forgery); ES*/EdDSA with a throw-away key of that
  type; ``none`` gets an empty signature; an unknown or removed ``alg`` is signed as RS256. Answer: ``{"access_token": "...", "token_type": "Bearer"}``.
* ``GET /_sandbox/stats`` (``discovery``, ``jwks``, ``tokens`` request counts), ``POST /_sandbox/stats/reset``.
* ``POST /_sandbox/faults`` ``{"discovery_status": 503, "jwks_status": 500, "jwks_cache_control": "max-age=3600"}``
  (``{}`` clears; ``GET`` shows them): the status answers the endpoint with ``{"error": "sandbox fault"}``; the
  Cache-Control value is sent with the JWKS.
* ``POST /_sandbox/rotate``: a new key with a new ``kid`` replaces the old one; answers ``{"kid": ...}``.

Everest only ever fetches discovery and the JWKS (see ``docs/dev/sandbox-oidc.md``).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from ..serving import ThreadedHTTPServing
from . import jose

SCOPES = ('openid', 'profile', 'email', 'groups')
FAULT_KEYS = ('discovery_status', 'jwks_status', 'jwks_cache_control')


class TokenRequestError(Exception):
    """A bad ``/_sandbox/token`` request (400)."""


def _new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048), secrets.token_hex(8)


class OidcIssuer(ThreadedHTTPServing):  # pylint: disable=too-many-instance-attributes
    """See the module docstring."""

    def __init__(self, host: str = '127.0.0.1', port: int = 0, path: str = '', token_ttl: float = 3600, clock=time.time):
        self.key, self.kid = _new_key()
        self.path = '/' + path.strip('/') if path.strip('/') else ''
        self.token_ttl = token_ttl
        self.clock = clock
        self.faults: dict = {}
        self.stats = {'discovery': 0, 'jwks': 0, 'tokens': 0}
        self._lock = threading.Lock()
        self._bind = (host, port)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> 'OidcIssuer':
        issuer = self

        class Handler(_Handler):
            owner = issuer

        self._serve(self._bind, Handler, 'oidc-issuer', 0.05)
        return self

    @property
    def url(self) -> str:
        return self._base_url() + self.path

    # ------------------------------------------------------------------ documents
    def discovery(self) -> dict:
        base = self.url
        return {
            'issuer': base,
            'jwks_uri': base + '/jwks',
            'authorization_endpoint': base + '/authorize',
            'token_endpoint': base + '/token',
            'userinfo_endpoint': base + '/userinfo',
            'response_types_supported': ['code'],
            'grant_types_supported': ['authorization_code'],
            'subject_types_supported': ['public'],
            'id_token_signing_alg_values_supported': ['RS256'],
            'code_challenge_methods_supported': ['S256'],
            'scopes_supported': list(SCOPES),
            'claims_supported': ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'groups', 'email', 'preferred_username'],
        }

    def jwks(self) -> dict:
        with self._lock:
            return {'keys': [jose.public_jwk(self.key.public_key(), self.kid)]}

    def rotate(self) -> str:
        key, kid = _new_key()
        with self._lock:
            self.key, self.kid = key, kid
        return kid

    def configure_faults(self, cfg: dict) -> dict:
        if not isinstance(cfg, dict) or set(cfg) - set(FAULT_KEYS):
            raise TokenRequestError(f'faults: expected an object with keys among {", ".join(FAULT_KEYS)}')
        with self._lock:
            self.faults = {k: v for k, v in cfg.items() if v is not None}
            return dict(self.faults)

    def count(self, key: str):
        with self._lock:
            self.stats[key] += 1

    def stats_snapshot(self) -> dict:
        with self._lock:
            return dict(self.stats)

    def reset_stats(self):
        with self._lock:
            self.stats = {k: 0 for k in self.stats}

    # ------------------------------------------------------------------ tokens
    def token(self, request: dict | None = None, **claims) -> str:
        """A signed access token; ``request`` has the shape of the ``/_sandbox/token`` body, ``claims`` add to it."""
        body = dict(request or {}, **claims)
        omit = body.pop('_omit', None)
        omit = [] if omit is None else omit
        header_extra = body.pop('_header', None)
        header_extra = {} if header_extra is None else header_extra
        if not isinstance(omit, list) or not all(isinstance(name, str) for name in omit):
            raise TokenRequestError('_omit must be a list of claim names')
        if not isinstance(header_extra, dict):
            raise TokenRequestError('_header must be an object')
        now = self.clock()
        with self._lock:
            key, kid = self.key, self.kid
        out = {'iss': self.url, 'iat': int(now), 'exp': int(now + self.token_ttl), 'jti': str(uuid.uuid4())}
        out.update(body)
        for name in omit:
            out.pop(name, None)
        header = {'alg': 'RS256', 'typ': 'JWT', 'kid': kid}
        header.update(header_extra)
        header = {k: v for k, v in header.items() if v is not None}
        alg = header.get('alg') if header.get('alg') in jose.ALGORITHMS else 'RS256'
        token = jose.encode(header, out, self._signing_key(alg, key), alg)
        self.count('tokens')
        return token

    @staticmethod
    def _signing_key(alg, key):
        if alg.startswith(('RS', 'PS')):
            return key
        if alg.startswith('HS'):
            return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        if alg.startswith('ES'):
            curve = {'ES256': ec.SECP256R1, 'ES384': ec.SECP384R1, 'ES512': ec.SECP521R1}[alg]
            return ec.generate_private_key(curve())
        if alg == 'EdDSA':
            return ed25519.Ed25519PrivateKey.generate()
        return None


class _Handler(BaseHTTPRequestHandler):
    owner: OidcIssuer = None
    protocol_version = 'HTTP/1.1'

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass

    def _send(self, status: int, payload, headers: dict | None = None):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self):
        length = int(self.headers.get('Content-Length') or 0)
        raw = self.rfile.read(length) if length else b''
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            raise TokenRequestError('the body must be JSON') from None

    def _route(self) -> str | None:
        path = urlsplit(self.path).path
        prefix = self.owner.path
        if prefix and not path.startswith(prefix + '/'):
            return None
        return path[len(prefix) :]

    def _fault(self, key: str) -> bool:
        status = self.owner.faults.get(key)
        if status:
            self._send(int(status), {'error': 'sandbox fault'})
            return True
        return False

    def do_GET(self):  # pylint: disable=invalid-name
        issuer = self.owner
        route = self._route()
        if route == '/.well-known/openid-configuration':
            issuer.count('discovery')
            if not self._fault('discovery_status'):
                self._send(200, issuer.discovery())
        elif route == '/jwks':
            issuer.count('jwks')
            if not self._fault('jwks_status'):
                control = issuer.faults.get('jwks_cache_control')
                self._send(200, issuer.jwks(), {'Cache-Control': control} if control else None)
        elif route == '/_sandbox/stats':
            self._send(200, issuer.stats_snapshot())
        elif route == '/_sandbox/faults':
            self._send(200, dict(issuer.faults))
        elif route == '/authorize':
            self._send(400, {'error': 'unsupported_response_type', 'error_description': 'the sandbox issuer has no browser flow'})
        else:
            self._send(404, {'error': 'not_found'})

    def do_POST(self):  # pylint: disable=invalid-name
        issuer = self.owner
        route = self._route()
        try:
            body = self._body()
            if route == '/_sandbox/token':
                if not isinstance(body, dict):
                    raise TokenRequestError('the body must be a JSON object of claims')
                self._send(200, {'access_token': issuer.token(body), 'token_type': 'Bearer'})
            elif route == '/_sandbox/stats/reset':
                issuer.reset_stats()
                self._send(200, {'status': 'ok'})
            elif route == '/_sandbox/faults':
                self._send(200, issuer.configure_faults(body))
            elif route == '/_sandbox/rotate':
                self._send(200, {'kid': issuer.rotate()})
            elif route == '/token':
                self._send(400, {'error': 'unsupported_grant_type', 'error_description': 'use POST /_sandbox/token'})
            else:
                self._send(404, {'error': 'not_found'})
        except TokenRequestError as exc:
            self._send(400, {'error': 'invalid_request', 'error_description': str(exc)})
