"""SSO (OIDC) tokens in the Everest REST API emulator: acceptance step by step, subject and group authorization,
``/v1/permissions``, logout, ``/v1/settings`` and the restart semantics. Manual clock shared by issuer and server."""

import http.client

import pytest

from everest_sandbox import DEFAULT_ADMIN_PASSWORD
from everest_sandbox.oidc import OidcIssuer
from everest_sandbox.restapi import oidc as rest_oidc
from everest_sandbox.restapi import settings as rest_settings
from everest_sandbox.restapi import testing as rt
from everest_sandbox.restapi.kube import path as kpath

DEPLOYMENT = kpath('apps/v1', 'deployments', 'everest-system', 'everest-server')
INVALID = (401, {'message': 'invalid or expired jwt'})
INTERNAL = (500, {'message': 'Internal error'})
GROUP_POLICY = '''\
g, /acme/dbas, role:tenant-ns-alice
g, ops-team, role:tenant-ns-bob
'''


def oidc_config(url, client_id='everest-ui', scopes=('openid', 'groups')):
    return f'issuerUrl: {url}\nclientId: {client_id}\nscopes:\n' + ''.join(f'    - {s}\n' for s in scopes)


def set_settings(kube, raw):
    """Replace the data of everest-settings (like `settings oidc configure`); raw None removes the key."""
    cm = kube.get(rest_settings.CONFIGMAP)
    cm['data'] = {} if raw is None else {'oidc.config': raw}
    kube.replace(rest_settings.CONFIGMAP, cm)


def restart(kube, stamp):
    kube.merge_patch(DEPLOYMENT, {'spec': {'template': {'metadata': {'annotations': {'kubectl.kubernetes.io/restartedAt': stamp}}}}})


def new_issuer(clock):
    return OidcIssuer(clock=clock, token_ttl=600).start()


@pytest.fixture(name='idp')
def idp_fixture():
    issuer = new_issuer(rt.ManualClock())
    try:
        yield issuer
    finally:
        issuer.stop()


@pytest.fixture(name='kube')
def kube_fixture(clean_sandbox, idp):
    kube = rt.bootstrap_seed000(clean_sandbox, DEFAULT_ADMIN_PASSWORD)
    set_settings(kube, oidc_config(idp.url))
    return kube


@pytest.fixture(name='api')
def api_fixture(clean_sandbox, kube, idp):  # pylint: disable=unused-argument
    server = rt.start(clean_sandbox, clock=idp.clock, ready_delay=0, job_delay=0)
    try:
        yield server
    finally:
        server.stop()


def call(api, path, token=None, method='GET', headers=None):
    return rt.call(api.url, method, path, token=token, headers=headers)[:2]


def jwks_fetches(idp):
    return idp.stats_snapshot()['jwks']


def add_policy(kube, extra):
    cm = kube.get(kpath('v1', 'configmaps', 'everest-system', 'everest-rbac'))
    rt.set_rbac(kube, cm['data']['policy.csv'] + extra)


# ---------------------------------------------------------------------------------------------- step 1: extraction


def test_missing_or_malformed_header_is_400(api, idp):
    missing = (400, {'message': 'missing or malformed jwt'})
    assert call(api, '/v1/namespaces') == missing
    for value in ('Basic abc', 'Bearer ', 'Bearer', 'Token x'):
        assert call(api, '/v1/namespaces', headers={'Authorization': value}) == missing, value
    token = idp.token(sub='alice')
    assert call(api, '/v1/namespaces', headers={'Authorization': 'bEaReR ' + token})[0] == 200  # prefix in any case
    assert call(api, '/v1/settings')[0] == 200 and call(api, '/v1/version')[0] == 200  # no token needed


# ---------------------------------------------------------------------------------------------- steps 2-4


def test_malformed_or_tampered_tokens_are_401_without_a_jwks_fetch(api, idp):
    good = idp.token(sub='alice')
    head, body, sig = good.split('.')
    other_body = idp.token(sub='admin').split('.')[1]
    for bad in (
        'abc',
        'a.b',
        f'{head}.{body}.{sig}.x',
        f'{head}={body}.{sig}',
        f'{head}.{body}.{sig}=',
        idp.token(sub='a', _header={'alg': 'XS256'}),
        idp.token(sub='a', _header={'alg': None}),
    ):
        assert call(api, '/v1/namespaces', bad) == INVALID, bad
    assert jwks_fetches(idp) == 0  # rejected before the key function: nothing fetched yet
    assert call(api, '/v1/namespaces', f'{head}.{other_body}.{sig}') == INVALID  # claims swapped: bad signature
    assert call(api, '/v1/namespaces', f'{head}.{body}.{sig[:-4]}AAAA') == INVALID
    assert call(api, '/v1/namespaces', good)[0] == 200
    assert jwks_fetches(idp) == 1


def test_oidc_off_rejects_sso_tokens_but_not_sessions(clean_sandbox, kube, idp):
    set_settings(kube, None)
    server = rt.start(clean_sandbox, clock=idp.clock)
    try:
        assert call(server, '/v1/namespaces', idp.token(sub='alice')) == INVALID
        idp.clock.advance(5)
        status, body, _h = rt.call(server.url, 'POST', '/v1/session', {'username': 'alice', 'password': rt.ALICE_PASSWORD})
        assert status == 200 and call(server, '/v1/namespaces', body['token']) == (200, ['ns-alice'])
        assert call(server, '/_sandbox/oidc')[1]['enabled'] is False
        assert jwks_fetches(idp) == 0 and idp.stats_snapshot()['discovery'] == 0
    finally:
        server.stop()


def test_kid_required_and_known_jwks_fetched_once(api, idp):
    assert call(api, '/v1/namespaces', idp.token(sub='alice', _header={'kid': None})) == INVALID
    assert call(api, '/v1/namespaces', idp.token(sub='alice', _header={'kid': 'unknown-kid'})) == INVALID
    assert call(api, '/v1/namespaces', idp.token(sub='alice', _header={'kid': 7})) == INVALID
    assert call(api, '/v1/namespaces', idp.token(sub='alice'))[0] == 200
    assert jwks_fetches(idp) == 1  # fetched by the first OIDC token, cached; an unknown kid refetches nothing
    state = call(api, '/_sandbox/oidc')[1]
    assert state['jwksFetched'] and state['jwksFetches'] == 1 and state['kids'] == [idp.kid]


def test_alg_must_fit_the_key_not_the_jwk_alg(api, idp):
    for alg in ('RS384', 'RS512', 'PS256', 'PS512'):  # the JWK says RS256; any RSA method verifies
        assert call(api, '/v1/namespaces', idp.token(sub='alice', _header={'alg': alg}))[0] == 200, alg
    for alg in ('HS256', 'none', 'ES256', 'EdDSA'):  # HS256 signed with the public key PEM: no
        assert call(api, '/v1/namespaces', idp.token(sub='alice', _header={'alg': alg})) == INVALID, alg


def test_exp_and_nbf_without_leeway(api, idp):
    now = idp.clock()
    token = idp.token(sub='alice', exp=now + 10)
    fractional = idp.token(sub='alice', exp=now + 10.9)  # whole seconds: 10.9 counts as 10
    later = idp.token(sub='alice', nbf=now + 5)
    zero_exp = idp.token(sub='alice', exp=0)  # 0 counts as "no exp" for the signature check
    assert call(api, '/v1/namespaces', token)[0] == 200 and call(api, '/v1/namespaces', later) == INVALID
    idp.clock.advance(5)
    assert call(api, '/v1/namespaces', later)[0] == 200
    idp.clock.advance(4.999)
    assert call(api, '/v1/namespaces', token)[0] == 200 and call(api, '/v1/namespaces', fractional)[0] == 200
    idp.clock.advance(0.001)
    assert call(api, '/v1/namespaces', token) == INVALID and call(api, '/v1/namespaces', fractional) == INVALID
    assert call(api, '/v1/namespaces', zero_exp)[0] == 200
    for exp in ('9999999999', None, True, 10**400):  # a string, null, a bool, beyond float64: all invalid
        assert call(api, '/v1/namespaces', idp.token(sub='alice', exp=exp)) == INVALID, exp


def test_iss_value_and_audience_are_not_checked(api, idp):
    assert call(api, '/v1/namespaces', idp.token(sub='alice', iss='https://elsewhere.example'))[0] == 200
    assert call(api, '/v1/namespaces', idp.token(sub='alice', aud='00000003-0000-0000-c000-000000000000'))[0] == 200
    assert call(api, '/v1/namespaces', idp.token(sub='alice', azp='another-client', nonce='n', iat='x'))[0] == 200
    assert call(api, '/v1/namespaces', idp.token(sub='alice', iss=42)) == INVALID
    # an IdP token cannot pass as a session token: iss "everest" is checked with the session key
    assert call(api, '/v1/namespaces', idp.token(sub='alice:login', iss='everest')) == INVALID


# ---------------------------------------------------------------------------------------------- step 5: blocklist


def test_blocklist_preconditions(api, idp):
    assert call(api, '/v1/namespaces', idp.token(sub='alice', _omit=['jti'])) == INTERNAL
    assert call(api, '/v1/namespaces', idp.token(sub='alice', jti='')) == INTERNAL
    assert call(api, '/v1/namespaces', idp.token(sub='alice', _omit=['jti'], uti='entra-uti'))[0] == 200
    assert call(api, '/v1/namespaces', idp.token(sub='alice', jti='', uti='entra-uti'))[0] == 200
    assert call(api, '/v1/namespaces', idp.token(sub='alice', _omit=['exp'])) == INTERNAL
    assert call(api, '/v1/namespaces', idp.token(_omit=['sub'])) == INTERNAL
    assert call(api, '/v1/namespaces', idp.token(sub=['alice'])) == INTERNAL
    assert call(api, '/v1/namespaces', idp.token(sub='alice', _omit=['iss'])) == INTERNAL  # no iss: still OIDC, then 500
    log = call(api, '/_sandbox/log')[1]['lines']
    assert "ERROR token doesn't contains jti or uti claim\nfailed to shorten token" in log
    assert 'ERROR failed to extract username: could not extract sub' in log


def test_non_string_jti_crashes_the_handler(api, idp):
    for claims in ({'jti': 12345}, {'jti': None}, {'uti': 5}):  # uti is read even when jti is good
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            call(api, '/v1/namespaces', idp.token(sub='alice', **claims))
    assert call(api, '/v1/namespaces', idp.token(sub='alice'))[0] == 200  # the server goes on


def test_logout_blocklists_the_sso_token(api, idp):
    token, other = idp.token(sub='carol'), idp.token(sub='carol')
    assert call(api, '/v1/session', token, method='DELETE') == (204, None)
    assert call(api, '/v1/namespaces', token) == (401, {'message': 'Invalid token'})
    assert call(api, '/v1/session', token, method='DELETE')[0] in (401, 429)
    assert call(api, '/v1/namespaces', other)[0] == 200  # another token of the same user is not affected
    assert api.stats['logouts'] == 1


# ---------------------------------------------------------------------------------------------- step 6: RBAC


def test_authorized_by_subject_or_any_group(api, idp, kube):
    add_policy(kube, GROUP_POLICY)
    db = '/v1/namespaces/{}/database-clusters'
    carol = idp.token(sub='carol', groups=['/acme/dbas'])
    assert call(api, db.format('ns-alice'), carol)[0] == 200
    assert call(api, db.format('ns-bob'), carol)[0] == 200 and call(api, db.format('ns-bob') + '/x', carol)[0] == 403
    assert call(api, '/v1/namespaces', carol) == (200, ['ns-alice'])
    both = idp.token(sub='carol', groups=['/acme/dbas', 'ops-team'])
    assert call(api, '/v1/namespaces', both) == (200, ['ns-alice', 'ns-bob'])
    # the subject alone: an OIDC sub equal to a local user name shares its grants; no ':' split for OIDC
    assert call(api, '/v1/namespaces', idp.token(sub='alice')) == (200, ['ns-alice'])
    assert call(api, '/v1/namespaces', idp.token(sub='alice:login')) == (200, [])
    # groups: a string is one group, non-strings are dropped, an object means none, names are case-sensitive
    assert call(api, '/v1/namespaces', idp.token(sub='dave', groups='ops-team')) == (200, ['ns-bob'])
    assert call(api, '/v1/namespaces', idp.token(sub='dave', groups=[1, {'a': 1}, None, 'ops-team'])) == (200, ['ns-bob'])
    assert call(api, '/v1/namespaces', idp.token(sub='dave', groups={'ops-team': True})) == (200, [])
    assert call(api, '/v1/namespaces', idp.token(sub='dave', groups=['OPS-TEAM', '/acme/dbas '])) == (200, [])


def test_collisions_admin_group_and_role_names(api, idp):
    ns_bob = '/v1/namespaces/ns-bob/database-clusters/anything'
    assert call(api, ns_bob, idp.token(sub='eve'))[0] == 403
    assert call(api, ns_bob, idp.token(sub='eve', groups=['admin']))[0] == 404  # g, admin, role:admin
    assert call(api, ns_bob, idp.token(sub='eve', groups=['role:tenant-ns-bob']))[0] == 404
    assert call(api, ns_bob, idp.token(sub='eve', groups=['role:tenant-ns-alice']))[0] == 403
    assert call(api, ns_bob, idp.token(sub='role:admin'))[0] == 404  # a sub named like a role


def test_denial_is_logged_with_the_subject_only(api, idp):
    assert call(api, '/v1/namespaces/ns-bob/database-clusters/db1', idp.token(sub='eve', groups=['g1', 'g2']))[0] == 403
    assert 'WARNING Permission denied: [eve database-clusters read ns-bob/db1]' in call(api, '/_sandbox/log')[1]['lines']


def test_permissions_union_over_subject_and_groups(api, idp, kube):
    add_policy(kube, GROUP_POLICY + 'p, frank, namespaces, read, ns-bob\n')
    status, body = call(api, '/v1/permissions', idp.token(sub='frank', groups=['/acme/dbas', 'ops-team', 'nobody']))
    assert status == 200 and body['enabled'] is True
    rows = body['permissions']
    assert {tuple(r[:1]) for r in rows} == {('frank',)}  # every row rewritten to the subject
    assert ['frank', 'namespaces', 'read', 'ns-bob'] in rows and ['frank', 'namespaces', 'read', 'ns-alice'] in rows
    assert ['frank', 'database-clusters', '*', 'ns-alice/*'] in rows and ['frank', 'database-clusters', '*', 'ns-bob/*'] in rows
    assert len(rows) == len({tuple(r) for r in rows}) == 16  # 8 + 8 rules, the duplicate namespaces row once
    status, body = call(api, '/v1/permissions', idp.token(sub='x', groups=['admin']))
    assert len(body['permissions']) == 13 and ['x', 'namespaces', '*', '*'] in body['permissions']
    assert call(api, '/v1/permissions', idp.token(sub='x')) == (200, {'enabled': True, 'permissions': []})
    rt.set_rbac(kube, 'g, admin, role:admin\n', enabled=False)
    assert call(api, '/v1/permissions', idp.token(sub='frank')) == (200, {'enabled': False, 'permissions': None})


# ---------------------------------------------------------------------------------------------- /v1/settings


def test_settings_reread_per_call(api, kube, idp):
    status, body = call(api, '/v1/settings')
    assert (status, body) == (200, {'oidcConfig': {'clientId': 'everest-ui', 'issuerURL': idp.url, 'scopes': ['openid', 'groups']}})
    set_settings(kube, 'issuerUrl: https://new.example\nclientId: 12345\nunknown: key\n')  # no restart needed
    assert call(api, '/v1/settings')[1] == {'oidcConfig': {'clientId': '12345', 'issuerURL': 'https://new.example', 'scopes': ['openid', 'profile', 'email']}}
    set_settings(kube, None)
    assert call(api, '/v1/settings')[1] == {'oidcConfig': {'clientId': '', 'issuerURL': '', 'scopes': ['openid', 'profile', 'email']}}
    for bad in ('issuerUrl: [a]\n', 'scopes: openid\n', 'clientId: a\nclientId: b\n', '- a\n', 'a: [\n'):
        set_settings(kube, bad)
        assert call(api, '/v1/settings') == (500, {'message': 'Failed to get Everest settings'}), bad
    kube.delete(rest_settings.CONFIGMAP)
    assert call(api, '/v1/settings')[1]['oidcConfig']['issuerURL'] == ''
    # the verification set-up did not follow any of this: the original issuer still works
    assert call(api, '/v1/namespaces', idp.token(sub='alice'))[0] == 200


def test_parse_oidc_config_like_yaml_v3():
    parse = rest_settings.parse_oidc_config
    assert parse('') == {'issuerUrl': '', 'clientId': '', 'scopes': ['openid', 'profile', 'email']}
    assert parse('clientId: yes\nissuerUrl: ~\nscopes: null\n') == {'issuerUrl': '', 'clientId': 'yes', 'scopes': None}
    assert parse('scopes: [openid, 1]\n')['scopes'] == ['openid', '1']


# ---------------------------------------------------------------------------------------------- restarts


def test_new_issuer_needs_a_restart(api, kube, idp):
    other = new_issuer(idp.clock)
    try:
        assert call(api, '/v1/namespaces', idp.token(sub='alice'))[0] == 200
        set_settings(kube, oidc_config(other.url))
        assert call(api, '/v1/namespaces', other.token(sub='alice')) == INVALID  # no watcher
        assert call(api, '/v1/namespaces', idp.token(sub='alice'))[0] == 200
        restart(kube, '2027-01-15T08:00:00Z')
        assert call(api, '/v1/namespaces', other.token(sub='alice'))[0] == 200
        assert call(api, '/v1/namespaces', idp.token(sub='alice')) == INVALID
        state = call(api, '/_sandbox/oidc')[1]
        assert (state['restarts'], state['issuerUrl'], state['pending']) == (1, other.url, False)
        set_settings(kube, None)  # OIDC off, then a restart
        restart(kube, '2027-01-15T09:00:00Z')
        assert call(api, '/v1/namespaces', other.token(sub='alice')) == INVALID
        assert call(api, '/_sandbox/oidc')[1]['enabled'] is False
    finally:
        other.stop()


def test_failed_restart_keeps_the_old_pod_serving(api, kube, idp):
    dead = new_issuer(idp.clock)
    dead_url = dead.url
    dead.stop()
    set_settings(kube, oidc_config(dead_url))
    restart(kube, '2027-01-15T08:00:00Z')
    assert call(api, '/v1/namespaces', idp.token(sub='alice'))[0] == 200
    state = call(api, '/_sandbox/oidc')[1]
    assert state['pending'] is True and state['issuerUrl'] == idp.url and dead_url in state['lastError']
    set_settings(kube, oidc_config(idp.url, client_id='fixed'))  # the crash-looping pod now starts
    assert call(api, '/v1/namespaces', idp.token(sub='alice'))[0] == 200
    state = call(api, '/_sandbox/oidc')[1]
    assert (state['pending'], state['restarts'], state['lastError'], state['jwksFetches']) == (False, 1, None, 1)


def test_session_tokens_never_look_at_the_deployment(api, clean_sandbox):
    clean_sandbox.reset_stats()
    status, body, _h = rt.call(api.url, 'POST', '/v1/session', {'username': 'alice', 'password': rt.ALICE_PASSWORD})
    assert status == 200 and call(api, '/v1/namespaces', body['token'])[0] == 200
    assert 'deployments' not in clean_sandbox.stats()['by_resource']


@pytest.mark.parametrize(
    'fault, detail',
    [
        ('dead', 'Get "'),
        ('discovery_status', 'unexpected status code'),
        ('no_jwks_uri', 'did not find jwks_uri'),
        ('bad_yaml', 'cannot parse OIDC raw config'),
    ],
)
def test_start_fails_when_everest_would_not_start(clean_sandbox, kube, idp, fault, detail):
    if fault == 'dead':
        gone = new_issuer(idp.clock)
        set_settings(kube, oidc_config(gone.url))
        gone.stop()
    elif fault == 'discovery_status':
        idp.configure_faults({'discovery_status': 503})
    elif fault == 'no_jwks_uri':
        idp.discovery = lambda: {'issuer': idp.url}
    else:
        set_settings(kube, 'issuerUrl: [\n')
    server = rt.EverestApiServer(clean_sandbox.url, clean_sandbox.token, clock=idp.clock)
    with pytest.raises(rest_oidc.StartupError) as err:
        server.start()
    assert str(err.value).startswith('Error creating Everest Server: failed to get OIDC provider config\n')
    assert detail in str(err.value)
    assert server._httpd is None  # pylint: disable=protected-access


def test_empty_issuer_url_with_a_value_does_not_start(clean_sandbox, kube):
    set_settings(kube, 'clientId: x\n')  # a value, but no issuerUrl: discovery of a relative URL fails
    with pytest.raises(rest_oidc.StartupError):
        rt.start(clean_sandbox)


# ---------------------------------------------------------------------------------------------- JWKS cache


def test_failed_first_jwks_fetch_poisons_until_refresh(api, idp):
    idp.configure_faults({'jwks_status': 503})
    token = idp.token(sub='alice')
    assert call(api, '/v1/namespaces', token) == INVALID
    idp.configure_faults({})
    assert call(api, '/v1/namespaces', token) == INVALID  # "fetched" with no data; no new fetch
    assert jwks_fetches(idp) == 1
    idp.clock.advance(15 * 60 - 1)
    assert call(api, '/v1/namespaces', token) == INVALID
    idp.clock.advance(1)  # the scheduled refresh
    assert call(api, '/v1/namespaces', idp.token(sub='alice'))[0] == 200
    assert jwks_fetches(idp) == 2


def test_restart_heals_a_poisoned_cache(api, kube, idp):
    idp.configure_faults({'jwks_status': 500})
    assert call(api, '/v1/namespaces', idp.token(sub='alice')) == INVALID
    idp.configure_faults({})
    restart(kube, '2027-01-15T08:00:00Z')
    assert call(api, '/v1/namespaces', idp.token(sub='alice'))[0] == 200


def test_rotated_key_appears_after_the_refresh_interval(api, idp):
    idp.configure_faults({'jwks_cache_control': 'public, max-age=3600'})
    old = idp.token(sub='alice', exp=idp.clock() + 86400)
    assert call(api, '/v1/namespaces', old)[0] == 200
    idp.rotate()
    new = idp.token(sub='alice', exp=idp.clock() + 86400)
    assert call(api, '/v1/namespaces', new) == INVALID  # unknown kid: no refetch
    idp.clock.advance(15 * 60)
    assert call(api, '/v1/namespaces', new) == INVALID  # max-age 3600 > 15 min
    assert jwks_fetches(idp) == 1
    idp.clock.advance(45 * 60)
    assert call(api, '/v1/namespaces', new)[0] == 200
    assert call(api, '/v1/namespaces', old) == INVALID
    assert jwks_fetches(idp) == 2


def test_failed_refresh_keeps_the_old_keys(api, idp):
    assert call(api, '/v1/namespaces', idp.token(sub='alice'))[0] == 200
    idp.configure_faults({'jwks_status': 502})
    idp.clock.advance(15 * 60)
    assert call(api, '/v1/namespaces', idp.token(sub='alice'))[0] == 200
    assert jwks_fetches(idp) == 2


# ---------------------------------------------------------------------------------------------- the shared sandbox


def test_sandbox_rest_emulator_accepts_the_sandbox_issuer(clean_sandbox):
    token = clean_sandbox.oidc_token('someone', ['admin'])
    status, body = rt.call(clean_sandbox.everest_url, 'GET', '/v1/permissions', token=token)[:2]
    assert (status, body) == (200, {'enabled': False, 'permissions': None})
    status, state = rt.call(clean_sandbox.everest_url, 'GET', '/_sandbox/oidc')[:2]
    assert status == 200 and state['enabled'] and state['issuerUrl'] == clean_sandbox.oidc_url
