"""/_sandbox endpoints: fault injection, statistics, reset."""

import time

import pytest

CM = '/api/v1/namespaces/everest-system/configmaps/everest-rbac'


def test_error_rate_one_fails_every_get(clean_sandbox):
    clean_sandbox.faults(error_rate={'get': 1.0}, seed=42)
    results = [clean_sandbox.request('GET', CM) for _idx in range(12)]
    codes = [code for code, _body in results]
    assert set(codes) <= {500, 503, 429} and len(set(codes)) > 1
    for code, body in results:
        assert body['kind'] == 'Status' and body['code'] == code
        assert body['reason'] == {500: 'InternalError', 503: 'ServiceUnavailable', 429: 'TooManyRequests'}[code]
    # other verbs are unaffected
    assert clean_sandbox.request('GET', '/api/v1/namespaces/everest-system/configmaps')[0] == 200


def test_faults_are_deterministic_per_seed(clean_sandbox):
    def sequence(seed):
        clean_sandbox.faults(error_rate={'get': 0.5}, seed=seed)
        return [clean_sandbox.request('GET', CM)[0] for _idx in range(20)]

    first = sequence(7)
    assert sequence(7) == first
    assert 200 in first and any(c != 200 for c in first)
    assert sequence(8) != first
    clean_sandbox.clear_faults()
    assert {clean_sandbox.request('GET', CM)[0] for _idx in range(5)} == {200}


def test_429_has_retry_after(clean_sandbox):
    from everest_sandbox.launcher import raw_request  # pylint: disable=import-outside-toplevel

    clean_sandbox.faults(error_rate={'list': 1.0}, seed=0)
    codes = []
    for _idx in range(30):
        code, body = raw_request(clean_sandbox.url, clean_sandbox.token, 'GET', '/api/v1/namespaces')
        codes.append(code)
        if code == 429:
            assert body['details'] == {'retryAfterSeconds': 1}
            break
    assert 429 in codes


def test_conflict_rate_forces_409_on_updates_with_resource_version(clean_sandbox):
    clean_sandbox.faults(conflict_rate=1.0)
    _st, cur = clean_sandbox.request('GET', CM)
    status, body = clean_sandbox.request('PUT', CM, cur)
    assert status == 409
    assert body['message'].startswith('Operation cannot be fulfilled on configmaps "everest-rbac": the object has been modified')
    del cur['metadata']['resourceVersion']
    assert clean_sandbox.request('PUT', CM, cur)[0] == 200, 'unconditional updates are not affected'


def test_latency(clean_sandbox):
    clean_sandbox.faults(latency_ms=150)
    start = time.monotonic()
    clean_sandbox.request('GET', CM)
    assert time.monotonic() - start >= 0.15


def test_bad_fault_config_is_400(clean_sandbox):
    status, body = clean_sandbox.request('POST', '/_sandbox/faults', {'error_rate': {'frobnicate': 1}})
    assert status == 400
    status, body = clean_sandbox.request('POST', '/_sandbox/faults', {'nope': 1})
    assert status == 400 and 'unknown keys' in body['message']


def test_stats_count_by_verb_and_resource(clean_sandbox):
    sb = clean_sandbox
    sb.request('GET', '/api/v1')  # discovery
    sb.request('GET', CM)  # get
    sb.request('GET', '/api/v1/namespaces/everest-system/configmaps')  # list
    sb.request('POST', '/api/v1/namespaces/default/configmaps', {'metadata': {'name': 'c'}})
    _st, cur = sb.request('GET', '/api/v1/namespaces/default/configmaps/c')
    sb.request('PUT', '/api/v1/namespaces/default/configmaps/c', cur)
    sb.request('PATCH', '/api/v1/namespaces/default/configmaps/c', {'data': {'a': 'b'}}, {'Content-Type': 'application/merge-patch+json'})
    sb.request('DELETE', '/api/v1/namespaces/default/configmaps/c')
    sb.request('GET', '/api/v1/namespaces/default/secrets/missing')
    stats = sb.stats()
    assert stats['total'] == 9
    assert {k: stats['by_verb'][k] for k in ('get', 'list', 'create', 'update', 'patch', 'delete', 'discovery')} == {
        'get': 3,
        'list': 1,
        'create': 1,
        'update': 1,
        'patch': 1,
        'delete': 1,
        'discovery': 1,
    }
    assert stats['by_resource']['configmaps'] == {'get': 2, 'list': 1, 'create': 1, 'update': 1, 'patch': 1, 'delete': 1}
    assert stats['by_resource']['secrets']['get'] == 1
    sb.reset_stats()
    assert sb.stats()['total'] == 0


@pytest.mark.parametrize('method, path', [('GET', '/_sandbox/reset'), ('POST', '/_sandbox/stats'), ('GET', '/_sandbox/nope')])
def test_sandbox_endpoint_errors(clean_sandbox, method, path):
    status, _body = clean_sandbox.request(method, path)
    assert status in (404, 405)


def test_reset_clears_faults_stats_and_call_log(clean_sandbox):
    clean_sandbox.faults(error_rate={'get': 1.0})
    with open(clean_sandbox.call_log, 'a', encoding='utf-8') as handle:
        handle.write('{"argv": ["accounts", "list"]}\n')
    assert clean_sandbox.calls() == [{'argv': ['accounts', 'list']}]
    clean_sandbox.reset()
    assert clean_sandbox.request('GET', CM)[0] == 200
    assert clean_sandbox.stats()['total'] == 1
    assert clean_sandbox.calls() == []
