"""ServiceAccount tokens: the TokenRequest API (``serviceaccounts/<name>/token``) and the JWTs it issues.

Upstream: ``pkg/registry/core/serviceaccount/storage/token.go``, ``pkg/serviceaccount/claims.go`` and ``jwt.go``,
``pkg/apis/authentication/v1/defaults.go``, ``pkg/apis/authentication/validation/validation.go``.

* POST ``{apiVersion: authentication.k8s.io/v1, kind: TokenRequest, spec: {audiences, expirationSeconds,
  boundObjectRef}}`` -> 201 TokenRequest with ``spec.expirationSeconds`` defaulted to 3600, empty ``spec.audiences``
  set to the server's audiences, metadata name/namespace/creationTimestamp filled, ``status.token`` and
  ``status.expirationTimestamp`` (now + expirationSeconds). A missing ServiceAccount is its 404, checked before
  validation: ``spec.expirationSeconds`` < 600 or > 2^32 -> 422 ``TokenRequest.authentication.k8s.io "" is invalid``.
* boundObjectRef: Pod (must run as this ServiceAccount), Secret, Node; anything else -> 400 ``cannot bind token to
  object of type <group>/<version>, Kind=<kind>``; a given uid must match (409).
* Token: an ES256 JWT signed with a key made per server (``kid`` = the key's SHA-256); claims ``iss``, ``sub``
  (``system:serviceaccount:<ns>:<name>``), ``aud``, ``iat``, ``nbf`` (= iat), ``exp``, ``jti`` and ``kubernetes.io``
  (namespace, serviceaccount name/uid, pod|secret|node name/uid).
* ``verify`` checks the signature only; ``authn.py`` checks issuer, audience, expiry (60 s leeway, as go-jose) and that
  the ServiceAccount and the bound object still exist with the same uid.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import threading
import time
import uuid

from . import errors as E
from .errors import FieldError

ISSUER = 'https://kubernetes.default.svc.cluster.local'
API_AUDIENCES = (ISSUER,)
DEFAULT_EXPIRATION_SECONDS = 3600
MIN_EXPIRATION_SECONDS = 600
MAX_EXPIRATION_SECONDS = 1 << 32
GROUP, VERSION, KIND = 'authentication.k8s.io', 'v1', 'TokenRequest'
VERIFIED_CACHE = 4096


def rfc3339(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def _jose():
    """The sandbox's JOSE helpers (``oidc/jose.py``), imported on first use: they load ``cryptography``."""
    from ..oidc import jose  # pylint: disable=import-outside-toplevel

    return jose


class TokenIssuer:
    """Signs and verifies ServiceAccount JWTs (ES256) with a P-256 key generated on first use."""

    def __init__(self):
        self._lock = threading.Lock()
        self._key = None
        self._kid = ''
        self._verified: dict = {}

    def _signing_key(self):
        with self._lock:
            if self._key is None:
                from cryptography.hazmat.primitives import serialization  # pylint: disable=import-outside-toplevel
                from cryptography.hazmat.primitives.asymmetric import ec  # pylint: disable=import-outside-toplevel

                self._key = ec.generate_private_key(ec.SECP256R1())
                der = self._key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
                self._kid = _jose().b64url_encode(hashlib.sha256(der).digest())
            return self._key

    def sign(self, claims: dict) -> str:
        """A compact JWS of ``claims``; keys sorted at every level, as Go marshals the merged claim maps."""
        key = self._signing_key()
        return _jose().encode({'alg': 'ES256', 'kid': self._kid}, claims, key, sort_keys=True)

    def verify(self, token: str) -> dict | None:
        """The claims of a token this issuer signed, else None."""
        cached = self._verified.get(token)
        if cached is not None:
            return cached
        if self._key is None or token.count('.') != 2:
            return None
        claims = self._verify_signature(token)
        if claims is not None:
            if len(self._verified) >= VERIFIED_CACHE:
                self._verified.clear()
            self._verified[token] = claims
        return claims

    def _verify_signature(self, token: str) -> dict | None:
        jose = _jose()
        head, payload, signature = token.split('.')
        try:
            header = json.loads(jose.b64url_decode(head))
            if not isinstance(header, dict) or header.get('alg') != 'ES256' or header.get('kid') != self._kid:
                return None
            if not jose.verify('ES256', self._key.public_key(), f'{head}.{payload}'.encode(), jose.b64url_decode(signature)):
                return None
            claims = json.loads(jose.b64url_decode(payload))
        except (ValueError, jose.JoseError):
            return None
        return claims if isinstance(claims, dict) else None


def _group_version(api_version: str) -> tuple:
    group, _sep, version = (api_version or '').rpartition('/')
    return group, version


def _bound_object(store, namespace: str, sa_name: str, ref: dict) -> tuple:
    """(claim key, {name, uid}, extra claims) for a boundObjectRef, or an ApiError."""
    group, version = _group_version(ref.get('apiVersion', ''))
    kind, name = ref.get('kind', ''), ref.get('name', '')
    plural = {'Pod': 'pods', 'Secret': 'secrets', 'Node': 'nodes'}.get(kind) if not group else None
    if plural is None:
        raise E.bad_request(f'cannot bind token to object of type {group}/{version}, Kind={kind}')
    obj = store.raw('', plural, '' if kind == 'Node' else namespace, name)
    if obj is None:
        raise E.not_found('', plural, name)
    extra = {}
    if kind == 'Pod':
        spec = obj.get('spec') or {}
        if (spec.get('serviceAccountName') or 'default') != sa_name:
            raise E.bad_request(f'cannot bind token for serviceaccount {E.go_value(sa_name)} to pod running with different serviceaccount name.')
        if spec.get('nodeName'):
            node = store.raw('', 'nodes', '', spec['nodeName'])
            extra['node'] = {'name': spec['nodeName'], **({'uid': node['metadata']['uid']} if node else {})}
    uid = obj['metadata']['uid']
    if ref.get('uid') and ref['uid'] != uid:
        raise E.conflict(
            '',
            kind,
            name,
            f'the UID in the bound object reference ({ref["uid"]}) does not match the UID in record. The object might have been deleted and then recreated',
        )
    return kind.lower(), {'name': name, 'uid': uid}, extra


def _spec(body) -> dict:
    if not isinstance(body, dict):
        raise E.bad_request('TokenRequest in version "v1" cannot be handled as a TokenRequest: json: cannot unmarshal into Go value of type struct')
    if body.get('kind') not in (None, '', KIND) or body.get('apiVersion') not in (None, '', f'{GROUP}/{VERSION}'):
        raise E.bad_request(f'the kind in the data ({body.get("kind")}) does not match the expected kind ({KIND})')
    spec = body.get('spec') if isinstance(body.get('spec'), dict) else {}
    seconds = spec.get('expirationSeconds')
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int)):
        raise E.bad_request(
            'TokenRequest in version "v1" cannot be handled as a TokenRequest: json: cannot unmarshal '
            f'{type(seconds).__name__} into Go struct field TokenRequestSpec.spec.expirationSeconds of type int64'
        )
    ref = spec.get('boundObjectRef')
    return {
        'audiences': [str(a) for a in spec.get('audiences') or ()],
        'expirationSeconds': DEFAULT_EXPIRATION_SECONDS if seconds is None else seconds,
        'boundObjectRef': ref if isinstance(ref, dict) else None,
    }


def _check_metadata(body: dict, namespace: str, name: str):
    meta = body.get('metadata') if isinstance(body.get('metadata'), dict) else {}
    for field, want in (('name', name), ('namespace', namespace)):
        if meta.get(field) and meta[field] != want:
            err = FieldError('Invalid', f'metadata.{field}', meta[field], f'must match the service account {field} if specified')
            raise E.invalid(KIND, GROUP, name, [err])


def create_token(store, issuer: TokenIssuer, namespace: str, name: str, body) -> dict:
    """POST serviceaccounts/<name>/token: the TokenRequest answered with 201."""
    spec = _spec(body)
    _check_metadata(body, namespace, name)
    account = store.get(store.registry.get('', 'v1', 'serviceaccounts'), namespace, name)
    spec['audiences'] = spec['audiences'] or list(API_AUDIENCES)
    now = int(time.time())
    seconds = spec['expirationSeconds']
    if seconds < MIN_EXPIRATION_SECONDS:
        errs = [FieldError('Invalid', 'spec.expirationSeconds', seconds, 'may not specify a duration less than 10 minutes')]
    elif seconds > MAX_EXPIRATION_SECONDS:
        errs = [FieldError('Invalid', 'spec.expirationSeconds', seconds, 'may not specify a duration larger than 2^32 seconds')]
    else:
        errs = []
    if errs:
        raise E.invalid(KIND, GROUP, '', errs)
    private = {'namespace': namespace, 'serviceaccount': {'name': name, 'uid': account['metadata']['uid']}}
    if spec['boundObjectRef'] is not None:
        key, ref, extra = _bound_object(store, namespace, name, spec['boundObjectRef'])
        private[key] = ref
        private.update(extra)
    claims = {
        'iss': ISSUER,
        'sub': f'system:serviceaccount:{namespace}:{name}',
        'aud': spec['audiences'],
        'iat': now,
        'nbf': now,
        'exp': now + seconds,
        'jti': str(uuid.uuid4()),
        'kubernetes.io': private,
    }
    return {
        'kind': KIND,
        'apiVersion': f'{GROUP}/{VERSION}',
        'metadata': {'name': name, 'namespace': namespace, 'creationTimestamp': rfc3339(now)},
        'spec': spec,
        'status': {'token': issuer.sign(claims), 'expirationTimestamp': rfc3339(now + seconds)},
    }
