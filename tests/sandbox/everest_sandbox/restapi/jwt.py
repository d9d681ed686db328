"""Minimal JWT (HS256) for the emulator.

The real Everest server signs RS256 with the key pair of Secret ``everest-system/everest-jwt``; the
emulator signs HS256 with a per-process random secret. Claims are the real ones: ``iss: everest``,
``sub: <user>:login``, ``iat``, ``nbf``, ``exp`` (24 h by default) and ``jti``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json


class TokenError(Exception):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode('ascii')


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))


def encode(claims: dict, secret: bytes) -> str:
    header = _b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}, separators=(',', ':')).encode())
    payload = _b64(json.dumps(claims, separators=(',', ':'), sort_keys=True).encode())
    signing_input = f'{header}.{payload}'.encode('ascii')
    signature = _b64(hmac.new(secret, signing_input, hashlib.sha256).digest())
    return f'{header}.{payload}.{signature}'


def decode(token: str, secret: bytes, now: float) -> dict:
    """Verified claims; raises TokenError (bad format, bad signature, expired, wrong issuer)."""
    parts = token.split('.')
    if len(parts) != 3:
        raise TokenError('token is malformed')
    try:
        header = json.loads(_unb64(parts[0]))
        claims = json.loads(_unb64(parts[1]))
        signature = _unb64(parts[2])
    except (ValueError, TypeError) as exc:
        raise TokenError('token is malformed') from exc
    if not isinstance(header, dict) or header.get('alg') != 'HS256' or not isinstance(claims, dict):
        raise TokenError('token is unverifiable: unexpected signing method')
    expected = hmac.new(secret, f'{parts[0]}.{parts[1]}'.encode('ascii'), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        raise TokenError('token signature is invalid')
    if not isinstance(claims.get('exp'), (int, float)) or now >= claims['exp']:
        raise TokenError('token has invalid claims: token is expired')
    if claims.get('iss') != 'everest':
        raise TokenError('token has invalid issuer')
    return claims
