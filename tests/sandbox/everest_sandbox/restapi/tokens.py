"""Bearer tokens as the Everest server accepts them (session tokens and SSO/OIDC tokens).

The steps, in Everest's order (echo-jwt v4.3.1 middleware with golang-jwt v5 ``ParseWithClaims`` and no parser
options, then the blocklist middleware ``pkg/session/manager.go``/``blocklist.go``):

1. ``bearer_tokens``: every ``Authorization`` header value starting with ``Bearer `` (any case) gives a token;
   none -> 400 ``missing or malformed jwt``.
2. ``parse``: three base64url (unpadded) segments, JSON object header and claims, a known ``alg``, a decodable
   signature; otherwise the token is rejected before any key is looked up (so no JWKS fetch either).
3. The key: unverified ``iss`` == ``everest`` -> the session key; any other string, or no ``iss`` -> OIDC; a
   non-string ``iss`` is rejected (``EverestApiServer._key_for``).
4. ``verify``: the signature with that key (``jose.verify``: the ``alg`` must fit the key type), then ``exp``
   (valid while now < exp) and ``nbf`` (valid from nbf on), whole seconds, no leeway; a number ``0`` counts as
   absent, a non-number is invalid. ``iat``, ``aud``, ``azp``, ``nonce`` and the ``iss`` value are not checked.
   Any failure in 2-4 -> 401 ``invalid or expired jwt``.
5. ``blocklist_key``: string ``sub`` and ``iss``, a string ``jti`` (or, if empty/absent, ``uti``) and a numeric
   ``exp`` -> the key ``<jti><exp>``; otherwise 500 ``Internal error``. ``jti``/``uti`` present but not a string
   crash the handler in Everest (an unchecked type assertion, no recover middleware): Go's HTTP server then drops
   the connection without an answer (``HandlerPanic``).

Session tokens of the emulator are HS256 with a per-process secret (Everest: RS256 with the ``everest-jwt`` key).
"""

from __future__ import annotations

import json
import math
from typing import NamedTuple

from ..oidc import jose

EVEREST_ISSUER = 'everest'
PREFIX = 'bearer '
EXTRACTOR_LIMIT = 20


class TokenRejected(Exception):
    """401 ``invalid or expired jwt`` (the reason is for logs only)."""


class InternalError(Exception):
    """500 ``Internal error`` from the blocklist middleware (the text is what Everest logs)."""


class HandlerPanic(Exception):
    """Everest's handler would panic: no answer, the connection is closed."""


class Parsed(NamedTuple):
    header: dict
    claims: dict
    signing_input: bytes
    signature: bytes

    @property
    def alg(self) -> str:
        return self.header['alg']


def bearer_tokens(values) -> list:
    """echo's ``header:Authorization:Bearer `` extractor (Go trims header values)."""
    out = []
    for value in list(values)[:EXTRACTOR_LIMIT]:
        value = value.strip(' \t')
        if len(value) > len(PREFIX) and value[: len(PREFIX)].lower() == PREFIX:
            out.append(value[len(PREFIX) :])
    return out


def _no_constants(name):
    raise ValueError(f'invalid JSON value {name}')


def _float64(text: str) -> float:
    """Go decodes every JSON number of a claims map as a float64; out of range is a decoding error."""
    value = float(text)
    if math.isinf(value):
        raise ValueError(f'number {text} out of range')
    return value


def _segment(text: str, what: str):
    try:
        value = json.loads(jose.b64url_decode(text), parse_constant=_no_constants, parse_int=_float64, parse_float=_float64)
    except (jose.JoseError, ValueError, UnicodeDecodeError) as exc:
        raise TokenRejected(f'could not decode {what}') from exc
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TokenRejected(f'could not JSON decode {what}')
    return value


def parse(token: str) -> Parsed:
    parts = token.split('.')
    if len(parts) != 3:
        raise TokenRejected('token contains an invalid number of segments')
    header = _segment(parts[0], 'header')
    claims = _segment(parts[1], 'claim')
    alg = header.get('alg')
    if not isinstance(alg, str):
        raise TokenRejected('signing method (alg) is unspecified')
    if alg not in jose.ALGORITHMS:
        raise TokenRejected('signing method (alg) is unavailable')
    try:
        signature = jose.b64url_decode(parts[2])
    except jose.JoseError as exc:
        raise TokenRejected('could not base64 decode signature') from exc
    return Parsed(header, claims, f'{parts[0]}.{parts[1]}'.encode('ascii'), signature)


def issuer(claims: dict) -> str:
    """golang-jwt ``MapClaims.GetIssuer``: absent -> "", not a string -> rejected."""
    value = claims.get('iss', '')
    if not isinstance(value, str):
        raise TokenRejected('iss is invalid')
    return value


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numeric_date(claims: dict, name: str):
    if name not in claims:
        return None
    value = claims[name]
    if not _is_number(value):
        raise TokenRejected(f'{name} is invalid')
    if value == 0:
        return None
    return math.floor(value)


def verify(parsed: Parsed, key, now: float):
    if not jose.verify(parsed.alg, key, parsed.signing_input, parsed.signature):
        raise TokenRejected('token signature is invalid')
    exp = _numeric_date(parsed.claims, 'exp')
    nbf = _numeric_date(parsed.claims, 'nbf')
    if exp is not None and not now < exp:
        raise TokenRejected('token has invalid claims: token is expired')
    if nbf is not None and now < nbf:
        raise TokenRejected('token has invalid claims: token is not valid yet')


def _string_claim(claims: dict, name: str) -> str:
    if name not in claims:
        return ''
    if not isinstance(claims[name], str):
        raise HandlerPanic(f'interface conversion: interface {{}} is {type(claims[name]).__name__}, not string')
    return claims[name]


def blocklist_key(claims: dict) -> str:
    """``IsBlocked``'s preconditions and ``shortenToken``: the blocklist entry of a verified token."""
    if not isinstance(claims.get('sub'), str):
        raise InternalError('failed to extract username: could not extract sub')
    if not isinstance(claims.get('iss'), str):
        raise InternalError('failed to extract username: could not extract iss')
    jti, uti = _string_claim(claims, 'jti'), _string_claim(claims, 'uti')
    token_id = jti or uti
    if not token_id:
        raise InternalError("token doesn't contains jti or uti claim\nfailed to shorten token")
    exp = claims.get('exp')
    if not _is_number(exp):
        raise InternalError('could not extract exp\nfailed to shorten token')
    return token_id + format(exp, '.0f')


def encode_session(claims: dict, secret: bytes) -> str:
    return jose.encode({'alg': 'HS256', 'typ': 'JWT'}, claims, secret)
