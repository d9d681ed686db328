"""The sandbox's test OIDC issuer (everest_sandbox.oidc) and the JOSE helpers it shares with the REST emulator."""

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from everest_sandbox.launcher import raw_request
from everest_sandbox.oidc import OidcIssuer, jose
from everest_sandbox.restapi.testing import ManualClock


@pytest.fixture(name='issuer')
def issuer_fixture():
    clock = ManualClock()
    idp = OidcIssuer(clock=clock, token_ttl=600).start()
    try:
        yield idp
    finally:
        idp.stop()


def decode(token):
    def part(text):
        return json.loads(base64.urlsafe_b64decode(text + '=' * (-len(text) % 4)))

    head, body, _sig = token.split('.')
    return part(head), part(body)


def get_token(issuer, body):
    status, data = raw_request(issuer.url, None, 'POST', '/_sandbox/token', body)
    assert status == 200, data
    assert data['token_type'] == 'Bearer'
    return data['access_token']


def jwks_keys(issuer):
    status, doc = raw_request(issuer.url, None, 'GET', '/jwks')
    assert status == 200
    return jose.parse_jwk_set(doc)


def _parts(token):
    signing_input, _sep, sig = token.rpartition('.')
    return signing_input.encode(), jose.b64url_decode(sig)


def signature_ok(issuer, token):
    head, _claims = decode(token)
    signing_input, _sep, sig = token.rpartition('.')
    key = jose.lookup(jwks_keys(issuer), head.get('kid', ''))
    return key is not None and jose.verify(head['alg'], key, signing_input.encode(), jose.b64url_decode(sig))


# ---------------------------------------------------------------------------------------------- discovery and JWKS


def test_discovery_document(issuer):
    status, doc = raw_request(issuer.url, None, 'GET', '/.well-known/openid-configuration')
    assert status == 200
    assert doc['issuer'] == issuer.url and issuer.url.startswith('http://127.0.0.1:')
    assert doc['jwks_uri'] == issuer.url + '/jwks'
    assert doc['authorization_endpoint'] == issuer.url + '/authorize'
    assert doc['token_endpoint'] == issuer.url + '/token'
    assert doc['id_token_signing_alg_values_supported'] == ['RS256']
    assert 'groups' in doc['scopes_supported']
    # the browser endpoints are advertised only
    assert raw_request(issuer.url, None, 'POST', '/token', {})[1]['error'] == 'unsupported_grant_type'
    assert raw_request(issuer.url, None, 'GET', '/authorize')[0] == 400
    assert raw_request(issuer.url, None, 'GET', '/nope')[0] == 404


def test_issuer_under_a_path():
    idp = OidcIssuer(path='realms/acme/').start()
    try:
        assert idp.url.endswith('/realms/acme')
        status, doc = raw_request(idp.url.rsplit('/realms', 1)[0], None, 'GET', '/realms/acme/.well-known/openid-configuration')
        assert status == 200 and doc['jwks_uri'] == idp.url + '/jwks'
        assert raw_request(idp.url.rsplit('/realms', 1)[0], None, 'GET', '/.well-known/openid-configuration')[0] == 404
    finally:
        idp.stop()


def test_jwks_has_one_rsa_key_with_kid(issuer):
    status, doc = raw_request(issuer.url, None, 'GET', '/jwks')
    assert status == 200 and len(doc['keys']) == 1
    jwk = doc['keys'][0]
    assert (jwk['kty'], jwk['kid'], jwk['alg'], jwk['use']) == ('RSA', issuer.kid, 'RS256', 'sig')
    assert 'd' not in jwk
    [(kid, key)] = jose.parse_jwk_set(doc)
    assert kid == issuer.kid
    assert key.public_numbers() == issuer.key.public_key().public_numbers()


# ---------------------------------------------------------------------------------------------- tokens


def test_token_defaults(issuer):
    token = get_token(issuer, {'sub': 'alice', 'groups': ['/acme/dbas']})
    head, claims = decode(token)
    assert head == {'alg': 'RS256', 'typ': 'JWT', 'kid': issuer.kid}
    now = int(issuer.clock())
    assert claims == {'iss': issuer.url, 'iat': now, 'exp': now + 600, 'jti': claims['jti'], 'sub': 'alice', 'groups': ['/acme/dbas']}
    assert decode(get_token(issuer, {'sub': 'alice'}))[1]['jti'] != claims['jti']  # unique jti
    assert signature_ok(issuer, token)
    assert issuer.stats_snapshot()['tokens'] == 2


def test_token_overrides_extra_claims_and_omissions(issuer):
    body = {
        'sub': 'auth0|64f0',
        'groups': 'one-group',
        'exp': 1_900_000_000,
        'nbf': 1_800_000_100,
        'jti': 'j-1',
        'iss': 'https://elsewhere.example',
        'aud': ['everest', 'x'],
        'email': 'a@example.com',
        'uti': None,
        '_omit': ['iat'],
    }
    _head, claims = decode(get_token(issuer, body))
    assert claims == {
        'sub': 'auth0|64f0',
        'groups': 'one-group',
        'exp': 1_900_000_000,
        'nbf': 1_800_000_100,
        'jti': 'j-1',
        'iss': 'https://elsewhere.example',
        'aud': ['everest', 'x'],
        'email': 'a@example.com',
        'uti': None,
    }
    _head, claims = decode(get_token(issuer, {'_omit': ['jti', 'exp', 'iss']}))
    assert set(claims) == {'iat'}


def test_header_overrides_and_algorithms(issuer):
    head, _claims = decode(get_token(issuer, {'sub': 'a', '_header': {'kid': None}}))
    assert 'kid' not in head
    assert decode(get_token(issuer, {'sub': 'a', '_header': {'kid': 'other'}}))[0]['kid'] == 'other'
    for alg in ('RS384', 'RS512', 'PS256', 'PS512'):  # the issuer's RSA key signs these
        token = get_token(issuer, {'sub': 'a', '_header': {'alg': alg}})
        assert decode(token)[0]['alg'] == alg and signature_ok(issuer, token), alg
    # HS256 is signed with the public key PEM as the HMAC secret (the algorithm-confusion forgery)
    forged = get_token(issuer, {'sub': 'a', '_header': {'alg': 'HS256'}})
    pem = issuer.key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input, _sep, sig = forged.rpartition('.')
    assert jose.verify('HS256', pem, signing_input.encode(), jose.b64url_decode(sig))
    assert not signature_ok(issuer, forged)
    assert get_token(issuer, {'_header': {'alg': 'none'}}).endswith('.')  # none: empty signature
    odd = get_token(issuer, {'_header': {'alg': 'XX1'}})  # unknown alg: signed as RS256
    assert decode(odd)[0]['alg'] == 'XX1' and jose.verify('RS256', issuer.key.public_key(), *_parts(odd))
    for alg in ('ES256', 'EdDSA'):
        assert not signature_ok(issuer, get_token(issuer, {'sub': 'a', '_header': {'alg': alg}})), alg


def test_bad_token_requests(issuer):
    for body in ([1], {'_omit': 'jti'}, {'_header': []}):
        status, data = raw_request(issuer.url, None, 'POST', '/_sandbox/token', body)
        assert status == 400 and data['error'] == 'invalid_request', body
    assert raw_request(issuer.url, None, 'POST', '/_sandbox/token', '{not json')[0] == 400


def test_faults_stats_and_rotation(issuer):
    assert raw_request(issuer.url, None, 'POST', '/_sandbox/faults', {'jwks_status': 503, 'jwks_cache_control': 'max-age=60'})[0] == 200
    assert raw_request(issuer.url, None, 'GET', '/jwks') == (503, {'error': 'sandbox fault'})
    assert raw_request(issuer.url, None, 'GET', '/_sandbox/faults')[1] == {'jwks_status': 503, 'jwks_cache_control': 'max-age=60'}
    assert raw_request(issuer.url, None, 'POST', '/_sandbox/faults', {'bogus': 1})[0] == 400
    raw_request(issuer.url, None, 'POST', '/_sandbox/faults', {'discovery_status': 500})
    assert raw_request(issuer.url, None, 'GET', '/.well-known/openid-configuration')[0] == 500
    assert raw_request(issuer.url, None, 'GET', '/jwks')[0] == 200  # the new configuration replaced the old one
    raw_request(issuer.url, None, 'POST', '/_sandbox/faults', {})
    assert raw_request(issuer.url, None, 'GET', '/_sandbox/stats')[1] == {'discovery': 1, 'jwks': 2, 'tokens': 0}
    old = issuer.kid
    status, data = raw_request(issuer.url, None, 'POST', '/_sandbox/rotate')
    assert status == 200 and data['kid'] == issuer.kid != old
    assert [kid for kid, _key in jwks_keys(issuer)] == [issuer.kid]
    raw_request(issuer.url, None, 'POST', '/_sandbox/stats/reset')
    assert issuer.stats_snapshot() == {'discovery': 0, 'jwks': 0, 'tokens': 0}


# ---------------------------------------------------------------------------------------------- JOSE (golang-jwt rules)


def test_base64url_is_strict_raw_url():
    assert jose.b64url_decode('YWI') == b'ab'
    for bad in ('YWI=', 'YW+I', 'YW/I', 'Y', 'a b'):
        with pytest.raises(jose.JoseError):
            jose.b64url_decode(bad)


def test_alg_must_fit_the_key_type():
    data = b'header.payload'
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ed_key = ed25519.Ed25519PrivateKey.generate()
    secret = b'0123456789abcdef'
    rsa_public = rsa_key.public_key()
    cases = [
        ('RS256', rsa_key, rsa_public),
        ('PS384', rsa_key, rsa_public),
        ('ES256', ec_key, ec_key.public_key()),
        ('EdDSA', ed_key, ed_key.public_key()),
        ('HS512', secret, secret),
    ]
    for alg, private, public in cases:
        sig = jose.sign(alg, private, data)
        assert jose.verify(alg, public, data, sig), alg
        assert not jose.verify(alg, public, data + b'x', sig), alg
        for _other_alg, _priv, other_public in cases:
            if other_public is not public:
                assert not jose.verify(alg, other_public, data, sig), (alg, type(other_public))
    # ES256 needs exactly 64 signature bytes; a P-384 key never passes ES256
    p384 = ec.generate_private_key(ec.SECP384R1())
    assert not jose.verify('ES256', p384.public_key(), data, jose.sign('ES384', p384, data))
    assert not jose.verify('none', None, data, b'')
    assert not jose.verify('RS256', jose.UnusableKey('RSA'), data, jose.sign('RS256', rsa_key, data))


def test_jwk_set_parsing():
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = jose.public_jwk(rsa_key.public_key(), 'k1')
    assert [kid for kid, _k in jose.parse_jwk_set(jwk)] == ['k1']  # a single key is a set of one
    nokid = {k: v for k, v in jwk.items() if k != 'kid'}
    keys = jose.parse_jwk_set({'keys': [nokid, jwk, {'kty': 'oct', 'k': 'c2VjcmV0'}]})
    assert [kid for kid, _k in keys] == ['', 'k1', '']
    assert jose.lookup(keys, '') is keys[0][1] and jose.lookup(keys, 'k1') is keys[1][1] and jose.lookup(keys, 'x') is None
    assert isinstance(jose.parse_jwk_set(dict(jwk, d='AQAB'))[0][1], jose.UnusableKey)  # private material
    for bad in ({'keys': {}}, {'kty': 'XYZ'}, {'kty': 'RSA', 'e': 'AQAB'}, dict(jwk, kid=5), {'kty': 'EC', 'crv': 'P-999', 'x': 'AA', 'y': 'AA'}, [1]):
        with pytest.raises(jose.JoseError):
            jose.parse_jwk_set(bad)
    with pytest.raises(jose.JoseError):  # one bad key fails the whole set (jwx)
        jose.parse_jwk_set({'keys': [jwk, {'kty': 'RSA'}]})
