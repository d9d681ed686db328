"""JOSE pieces shared by the test OIDC issuer, the Everest REST API emulator and the Kubernetes API emulator's
ServiceAccount tokens (``kubeapi/tokens.py``): base64url, JWK sets, JWS.

Verification follows golang-jwt v5 (the library Everest verifies tokens with, ``golang-jwt/jwt/v5``
``hmac.go``/``rsa.go``/``rsa_pss.go``/``ecdsa.go``/``ed25519.go``/``none.go``): the ``alg`` of the token header
picks the method and the key must be of the type that method expects, whatever the JWK says about itself (its
``alg`` and ``use`` members are not looked at):

======================  ===========================================================================
``HS256/384/512``       a symmetric key (JWK ``kty: oct``)
``RS256/384/512``       an RSA public key (PKCS #1 v1.5)
``PS256/384/512``       an RSA public key (PSS, any salt length when verifying)
``ES256/384/512``       an EC public key; the signature must be exactly 64/96/132 bytes (``r || s``)
``EdDSA``               an Ed25519 public key
``none``                never verifies (Everest does not pass the "unsafe" magic key)
======================  ===========================================================================

A JWK set is parsed the way lestrrat-go/jwx v2 ``jwk.Parse`` does for the keys Everest can meet: a set
(``{"keys": [...]}``) or a single key; one key it cannot parse fails the whole set. A key with private members
(``d``) parses, but golang-jwt then gets a private key and every verification with it fails; so does an X25519 key.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

_HASHES = {'256': hashes.SHA256, '384': hashes.SHA384, '512': hashes.SHA512}
EC_SIZES = {'ES256': 32, 'ES384': 48, 'ES512': 66}
EC_CURVES = {'P-256': ec.SECP256R1, 'P-384': ec.SECP384R1, 'P-521': ec.SECP521R1}
ALGORITHMS = ('HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'none')
_RAW_URL = re.compile(r'^[A-Za-z0-9_-]*$')


class JoseError(Exception):
    """A malformed segment, key or key set."""


class UnusableKey:  # pylint: disable=too-few-public-methods
    """A JWK that parses but can never verify a signature (private key material, X25519)."""

    def __init__(self, kty: str):
        self.kty = kty


# base64url ---------------------------------------------------------------------------------------


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode('ascii')


def b64url_decode(segment: str) -> bytes:
    """Go's ``base64.RawURLEncoding.DecodeString``: no padding, URL alphabet only (what golang-jwt uses)."""
    if not isinstance(segment, str) or not _RAW_URL.match(segment) or len(segment) % 4 == 1:
        raise JoseError('illegal base64 data')
    try:
        return base64.urlsafe_b64decode(segment + '=' * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise JoseError('illegal base64 data') from exc


def _b64_lenient(value) -> bytes:
    """JWK members: jwx accepts standard or URL alphabet, padded or not."""
    if not isinstance(value, str):
        raise JoseError('expected a base64 string')
    text = value.rstrip('=').replace('+', '-').replace('/', '_')
    return b64url_decode(text)


def _int(value) -> int:
    return int.from_bytes(_b64_lenient(value), 'big')


# sign / verify -----------------------------------------------------------------------------------


def _family(alg: str) -> tuple[str, type | None]:
    if alg not in ALGORITHMS:
        raise JoseError(f'signing method {alg!r} is unavailable')
    if alg in ('EdDSA', 'none'):
        return alg, None
    return alg[:2], _HASHES[alg[2:]]


def sign(alg: str, key, data: bytes) -> bytes:
    """Signature of ``data`` with a private key (or bytes for HS*); golang-jwt's PSS signing uses salt = hash size."""
    family, hash_cls = _family(alg)
    if family == 'HS':
        return hmac.new(key, data, hash_cls.name).digest()
    if family == 'RS':
        return key.sign(data, padding.PKCS1v15(), hash_cls())
    if family == 'PS':
        return key.sign(data, padding.PSS(mgf=padding.MGF1(hash_cls()), salt_length=hash_cls.digest_size), hash_cls())
    if family == 'ES':
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hash_cls())))
        size = EC_SIZES[alg]
        return r.to_bytes(size, 'big') + s.to_bytes(size, 'big')
    if family == 'EdDSA':
        return key.sign(data)
    return b''


def _verify_ec(alg, key, data, signature, hash_cls) -> bool:
    size = EC_SIZES[alg]
    if not isinstance(key, ec.EllipticCurvePublicKey) or len(signature) != 2 * size:
        return False
    der = encode_dss_signature(int.from_bytes(signature[:size], 'big'), int.from_bytes(signature[size:], 'big'))
    key.verify(der, data, ec.ECDSA(hash_cls()))
    return True


def verify(alg: str, key, data: bytes, signature: bytes) -> bool:
    """True when ``signature`` is a valid ``alg`` signature of ``data`` under ``key`` (see the module docstring)."""
    family, hash_cls = _family(alg)
    try:
        if family == 'HS':
            return isinstance(key, bytes) and hmac.compare_digest(hmac.new(key, data, hash_cls.name).digest(), signature)
        if family in ('RS', 'PS'):
            if not isinstance(key, rsa.RSAPublicKey):
                return False
            pad = padding.PKCS1v15() if family == 'RS' else padding.PSS(mgf=padding.MGF1(hash_cls()), salt_length=padding.PSS.AUTO)
            key.verify(signature, data, pad, hash_cls())
            return True
        if family == 'ES':
            return _verify_ec(alg, key, data, signature, hash_cls)
        if family == 'EdDSA':
            if not isinstance(key, ed25519.Ed25519PublicKey):
                return False
            key.verify(signature, data)
            return True
    except (InvalidSignature, ValueError):
        return False
    return False


def encode(header: dict, claims: dict, key, alg: str | None = None, sort_keys: bool = False) -> str:
    """A compact JWS ``header.claims.signature`` signed with ``alg`` (default: the header's; ``none``: no signature);
    ``sort_keys`` sorts the claims' keys at every level (Go's encoding of maps)."""
    head = b64url_encode(json.dumps(header, separators=(',', ':')).encode())
    body = b64url_encode(json.dumps(claims, separators=(',', ':'), sort_keys=sort_keys).encode())
    signing_input = f'{head}.{body}'.encode('ascii')
    return f'{head}.{body}.{b64url_encode(sign(alg or header.get("alg"), key, signing_input))}'


# JWK ---------------------------------------------------------------------------------------------


def public_jwk(key: rsa.RSAPublicKey, kid: str, alg: str = 'RS256') -> dict:
    numbers = key.public_numbers()
    size = (numbers.n.bit_length() + 7) // 8
    return {
        'kty': 'RSA',
        'kid': kid,
        'use': 'sig',
        'alg': alg,
        'n': b64url_encode(numbers.n.to_bytes(size, 'big')),
        'e': b64url_encode(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, 'big')),
    }


def _require(jwk: dict, *names):
    for name in names:
        if name not in jwk:
            raise JoseError(f'required field {name} is missing')


def _rsa_key(jwk):
    _require(jwk, 'n', 'e')
    if 'd' in jwk:
        return UnusableKey('RSA')
    try:
        return rsa.RSAPublicNumbers(_int(jwk['e']), _int(jwk['n'])).public_key()
    except ValueError as exc:
        raise JoseError(f'invalid RSA key: {exc}') from exc


def _ec_key(jwk):
    _require(jwk, 'crv', 'x', 'y')
    curve = EC_CURVES.get(jwk['crv'])
    if curve is None:
        raise JoseError(f'unsupported curve {jwk["crv"]!r}')
    if 'd' in jwk:
        return UnusableKey('EC')
    try:
        return ec.EllipticCurvePublicNumbers(_int(jwk['x']), _int(jwk['y']), curve()).public_key()
    except ValueError as exc:
        raise JoseError(f'invalid EC key: {exc}') from exc


def _okp_key(jwk):
    _require(jwk, 'crv', 'x')
    if jwk['crv'] not in ('Ed25519', 'X25519'):
        raise JoseError(f'unsupported curve {jwk["crv"]!r}')
    if jwk['crv'] == 'X25519' or 'd' in jwk:
        return UnusableKey('OKP')
    try:
        return ed25519.Ed25519PublicKey.from_public_bytes(_b64_lenient(jwk['x']))
    except ValueError as exc:
        raise JoseError(f'invalid Ed25519 key: {exc}') from exc


def _oct_key(jwk):
    _require(jwk, 'k')
    return _b64_lenient(jwk['k'])


_PARSERS = {'RSA': _rsa_key, 'EC': _ec_key, 'OKP': _okp_key, 'oct': _oct_key}


def parse_jwk(jwk) -> tuple[str, object]:
    """(kid, key); a key without ``kid`` has the key id "" (what jwx's ``KeyID()`` returns)."""
    if not isinstance(jwk, dict):
        raise JoseError('a JWK must be a JSON object')
    parser = _PARSERS.get(jwk.get('kty'))
    if parser is None:
        raise JoseError(f'invalid key type from JSON ({jwk.get("kty")!r})')
    kid = jwk.get('kid', '')
    if not isinstance(kid, str):
        raise JoseError('kid must be a string')
    return kid, parser(jwk)


def parse_jwk_set(doc) -> list[tuple[str, object]]:
    """A JWK set or a single JWK (JSON already decoded) -> [(kid, key)], in document order."""
    if isinstance(doc, dict) and 'keys' in doc:
        if not isinstance(doc['keys'], list):
            raise JoseError('keys must be an array')
        return [parse_jwk(item) for item in doc['keys']]
    return [parse_jwk(doc)]


def lookup(keys: list[tuple[str, object]], kid: str):
    """jwx ``Set.LookupKeyID``: the first key with that id, else None."""
    for key_id, key in keys:
        if key_id == kid:
            return key
    return None
