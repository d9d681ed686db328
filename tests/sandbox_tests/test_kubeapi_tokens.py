"""TokenRequest (serviceaccounts/<name>/token) and ServiceAccount token authentication of the Kubernetes API emulator."""

import base64
import datetime
import json

import pytest

ISSUER = 'https://kubernetes.default.svc.cluster.local'


def token_path(namespace, name):
    return f'/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token'


def jwt_part(token, index):
    part = token.split('.')[index]
    return json.loads(base64.urlsafe_b64decode(part + '=' * (-len(part) % 4)))


def epoch(stamp):
    return int(datetime.datetime.strptime(stamp, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc).timestamp())


@pytest.fixture
def account(raw, make_ns):
    make_ns('tok')
    status, body = raw('POST', '/api/v1/namespaces/tok/serviceaccounts', {'metadata': {'name': 'robot'}})
    assert status == 201
    return body


def issue(raw, spec=None, name='robot', namespace='tok'):
    return raw('POST', token_path(namespace, name), {'apiVersion': 'authentication.k8s.io/v1', 'kind': 'TokenRequest', 'spec': spec or {}})


def whoami(sandbox, token):
    from everest_sandbox.launcher import raw_request  # pylint: disable=import-outside-toplevel

    return raw_request(sandbox.url, token, 'POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {})


def test_token_request_defaults_and_response_shape(raw, account):
    status, out = issue(raw)
    assert status == 201
    assert (out['kind'], out['apiVersion']) == ('TokenRequest', 'authentication.k8s.io/v1')
    assert (out['metadata']['name'], out['metadata']['namespace']) == ('robot', 'tok')
    assert out['spec'] == {'audiences': [ISSUER], 'expirationSeconds': 3600, 'boundObjectRef': None}
    assert epoch(out['status']['expirationTimestamp']) - epoch(out['metadata']['creationTimestamp']) == 3600
    claims = jwt_part(out['status']['token'], 1)
    assert claims['iss'] == ISSUER and claims['sub'] == 'system:serviceaccount:tok:robot' and claims['aud'] == [ISSUER]
    assert claims['nbf'] == claims['iat'] and claims['exp'] - claims['iat'] == 3600
    assert claims['exp'] == epoch(out['status']['expirationTimestamp'])
    assert claims['kubernetes.io'] == {'namespace': 'tok', 'serviceaccount': {'name': 'robot', 'uid': account['metadata']['uid']}}
    assert len(claims['jti']) == 36
    header = jwt_part(out['status']['token'], 0)
    assert header['alg'] == 'ES256' and header['kid']


def test_duration_and_audiences(raw, account):
    status, out = issue(raw, {'expirationSeconds': 1200, 'audiences': ['vault', ISSUER]})
    assert status == 201 and out['spec']['expirationSeconds'] == 1200 and out['spec']['audiences'] == ['vault', ISSUER]
    claims = jwt_part(out['status']['token'], 1)
    assert claims['exp'] - claims['iat'] == 1200 and claims['aud'] == ['vault', ISSUER]
    status, foreign = issue(raw, {'audiences': ['vault']})
    assert status == 201 and jwt_part(foreign['status']['token'], 1)['aud'] == ['vault']


def test_audience_must_include_the_api_server(clean_sandbox, raw, account):
    _st, own = issue(raw, {'audiences': ['vault', ISSUER]})
    _st, foreign = issue(raw, {'audiences': ['vault']})
    assert whoami(clean_sandbox, own['status']['token'])[0] == 201
    assert whoami(clean_sandbox, foreign['status']['token'])[0] == 401


@pytest.mark.parametrize(
    'seconds, detail',
    [
        (599, 'Invalid value: 599: may not specify a duration less than 10 minutes'),
        (0, 'Invalid value: 0: may not specify a duration less than 10 minutes'),
        (2**32 + 1, 'Invalid value: 4294967297: may not specify a duration larger than 2^32 seconds'),
    ],
)
def test_expiration_limits(raw, account, seconds, detail):
    status, body = issue(raw, {'expirationSeconds': seconds})
    assert status == 422 and body['reason'] == 'Invalid'
    assert body['message'] == f'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: {detail}'
    assert body['details'] == {
        'group': 'authentication.k8s.io',
        'kind': 'TokenRequest',
        'causes': [{'reason': 'FieldValueInvalid', 'message': detail, 'field': 'spec.expirationSeconds'}],
    }
    assert issue(raw, {'expirationSeconds': 600})[0] == 201


def test_missing_service_account_is_404_before_validation(raw, account):
    status, body = issue(raw, {'expirationSeconds': 10}, name='nobody')
    assert (status, body['message'], body['details']) == (404, 'serviceaccounts "nobody" not found', {'name': 'nobody', 'kind': 'serviceaccounts'})


def test_metadata_must_match_the_service_account(raw, account):
    status, body = raw('POST', token_path('tok', 'robot'), {'metadata': {'name': 'other'}, 'spec': {}})
    assert (status, body['message']) == (
        422,
        'TokenRequest.authentication.k8s.io "robot" is invalid: metadata.name: Invalid value: "other": must match the service account name if specified',
    )


def test_garbage_and_forged_tokens_are_401(clean_sandbox, raw, account):
    _st, out = issue(raw)
    token = out['status']['token']
    head, payload, signature = token.split('.')
    claims = jwt_part(token, 1)
    claims['sub'] = 'system:serviceaccount:kube-system:admin'
    forged = head + '.' + base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip('=') + '.' + signature
    unsigned = base64.urlsafe_b64encode(b'{"alg":"none"}').decode().rstrip('=') + '.' + payload + '.'
    for bad in ('garbage', 'a.b.c', forged, unsigned, token[:-4] + 'AAAA'):
        status, body = whoami(clean_sandbox, bad)
        assert (status, body['message'], body['reason']) == (401, 'Unauthorized', 'Unauthorized'), bad
    assert whoami(clean_sandbox, token)[0] == 201


def test_deleting_the_service_account_revokes_its_tokens(clean_sandbox, raw, account):
    _st, out = issue(raw)
    token = out['status']['token']
    status, who = whoami(clean_sandbox, token)
    assert status == 201 and who['status']['userInfo']['uid'] == account['metadata']['uid']
    assert raw('DELETE', '/api/v1/namespaces/tok/serviceaccounts/robot')[0] == 200
    assert whoami(clean_sandbox, token)[0] == 401
    raw('POST', '/api/v1/namespaces/tok/serviceaccounts', {'metadata': {'name': 'robot'}})  # same name, new uid
    assert whoami(clean_sandbox, token)[0] == 401


def test_secret_bound_tokens(clean_sandbox, raw, account):
    status, secret = raw('POST', '/api/v1/namespaces/tok/secrets', {'metadata': {'name': 'anchor'}})
    assert status == 201
    ref = {'apiVersion': 'v1', 'kind': 'Secret', 'name': 'anchor'}
    status, out = issue(raw, {'boundObjectRef': ref})
    assert status == 201 and out['spec']['boundObjectRef'] == ref
    assert jwt_part(out['status']['token'], 1)['kubernetes.io']['secret'] == {'name': 'anchor', 'uid': secret['metadata']['uid']}
    assert whoami(clean_sandbox, out['status']['token'])[0] == 201
    raw('DELETE', '/api/v1/namespaces/tok/secrets/anchor')
    assert whoami(clean_sandbox, out['status']['token'])[0] == 401
    status, body = issue(raw, {'boundObjectRef': ref})
    assert (status, body['message']) == (404, 'secrets "anchor" not found')


def test_bound_object_kinds_and_uids(raw, account):
    raw('POST', '/api/v1/namespaces/tok/secrets', {'metadata': {'name': 'anchor'}})
    status, body = issue(raw, {'boundObjectRef': {'apiVersion': 'v1', 'kind': 'ConfigMap', 'name': 'x'}})
    assert (status, body['reason'], body['message']) == (400, 'BadRequest', 'cannot bind token to object of type /v1, Kind=ConfigMap')
    status, body = issue(raw, {'boundObjectRef': {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'name': 'x'}})
    assert body['message'] == 'cannot bind token to object of type apps/v1, Kind=Deployment'
    status, body = issue(raw, {'boundObjectRef': {'apiVersion': 'v1', 'kind': 'Secret', 'name': 'anchor', 'uid': 'not-it'}})
    assert (status, body['message']) == (
        409,
        'Operation cannot be fulfilled on Secret "anchor": the UID in the bound object reference '
        '(not-it) does not match the UID in record. The object might have been deleted and then recreated',
    )
    status, body = issue(raw, {'boundObjectRef': {'apiVersion': 'v1', 'kind': 'Pod', 'name': 'p'}})
    assert (status, body['message']) == (404, 'pods "p" not found')


def test_service_account_user_info(clean_sandbox, raw, account):
    _st, out = issue(raw)
    status, who = whoami(clean_sandbox, out['status']['token'])
    assert status == 201
    jti = jwt_part(out['status']['token'], 1)['jti']
    assert who['status']['userInfo'] == {
        'username': 'system:serviceaccount:tok:robot',
        'uid': account['metadata']['uid'],
        'groups': ['system:serviceaccounts', 'system:serviceaccounts:tok', 'system:authenticated'],
        'extra': {'authentication.kubernetes.io/credential-id': [f'JTI={jti}']},
    }


def test_python_client_token_request(api, account):
    from kubernetes import client  # pylint: disable=import-outside-toplevel

    out = client.CoreV1Api(api).create_namespaced_service_account_token(
        'robot', 'tok', client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=900))
    )
    assert out.spec.expiration_seconds == 900 and out.spec.audiences == [ISSUER]
    assert (out.status.expiration_timestamp - out.metadata.creation_timestamp).total_seconds() == 900
    assert jwt_part(out.status.token, 1)['sub'] == 'system:serviceaccount:tok:robot'


def test_kubectl_create_token(kubectl, raw, account, clean_sandbox):
    result = kubectl('create', 'token', 'robot', '-n', 'tok', '--duration', '20m', '--audience', 'vault', '--audience', ISSUER)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    claims = jwt_part(token, 1)
    assert claims['exp'] - claims['iat'] == 1200 and claims['aud'] == ['vault', ISSUER]
    assert whoami(clean_sandbox, token)[0] == 201
    result = kubectl('create', 'token', 'robot', '-n', 'tok', '--duration', '5m')
    assert result.returncode == 1
    assert result.stderr == (
        'error: failed to create token: TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: '
        'Invalid value: 300: may not specify a duration less than 10 minutes\n'
    )
    result = kubectl('create', 'token', 'ghost', '-n', 'tok')
    assert (result.returncode, result.stderr) == (1, 'error: failed to create token: serviceaccounts "ghost" not found\n')


def test_handle_writes_kubeconfigs_for_other_tokens(clean_sandbox, raw, account, tmp_path):
    from kubernetes import client, config  # pylint: disable=import-outside-toplevel

    _st, out = issue(raw)
    path = clean_sandbox.kubeconfig_for(out['status']['token'], tmp_path / 'robot.yaml')
    api = config.new_client_from_config(config_file=path)
    try:
        who = client.AuthenticationV1Api(api).create_self_subject_review(client.V1SelfSubjectReview())
        assert who.status.user_info.username == 'system:serviceaccount:tok:robot'
    finally:
        api.close()
    tls = clean_sandbox.kubeconfig_for(out['status']['token'], tmp_path / 'robot-tls.yaml', tls=True)
    assert 'https://' in open(tls, encoding='utf-8').read() and out['status']['token'] in open(tls, encoding='utf-8').read()
