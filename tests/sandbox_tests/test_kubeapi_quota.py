"""ResourceQuota object-count admission for custom resources, and concurrency."""

import threading

DBC = '/apis/everest.percona.com/v1alpha1/namespaces/{ns}/databaseclusters'
QUOTA = '/api/v1/namespaces/{ns}/resourcequotas'
KEY = 'count/databaseclusters.everest.percona.com'


def dbc(name):
    return {
        'apiVersion': 'everest.percona.com/v1alpha1',
        'kind': 'DatabaseCluster',
        'metadata': {'name': name},
        'spec': {'engine': {'type': 'postgresql', 'storage': {'size': '1Gi'}}},
    }


def quota(hard):
    return {'apiVersion': 'v1', 'kind': 'ResourceQuota', 'metadata': {'name': 'resource-policy'}, 'spec': {'hard': hard}}


def test_quota_admission_exact_message_and_status(raw, make_ns):
    make_ns('t1')
    status, q = raw('POST', QUOTA.format(ns='t1'), quota({KEY: '3', 'requests.cpu': '4'}))
    assert status == 201, q
    assert q['status'] == {'hard': {KEY: '3', 'requests.cpu': '4'}, 'used': {KEY: '0', 'requests.cpu': '0'}}
    for idx in range(1, 4):
        assert raw('POST', DBC.format(ns='t1'), dbc(f'db-{idx}'))[0] == 201
    _st, q = raw('GET', QUOTA.format(ns='t1') + '/resource-policy')
    assert q['status']['used'][KEY] == '3'
    status, body = raw('POST', DBC.format(ns='t1'), dbc('db-4'))
    assert status == 403
    assert body == {
        'kind': 'Status',
        'apiVersion': 'v1',
        'metadata': {},
        'status': 'Failure',
        'message': (
            'databaseclusters.everest.percona.com "db-4" is forbidden: exceeded quota: resource-policy, requested: '
            'count/databaseclusters.everest.percona.com=1, used: count/databaseclusters.everest.percona.com=3, '
            'limited: count/databaseclusters.everest.percona.com=3'
        ),
        'reason': 'Forbidden',
        'details': {'name': 'db-4', 'group': 'everest.percona.com', 'kind': 'databaseclusters'},
        'code': 403,
    }
    # quota is per namespace
    make_ns('t2')
    assert raw('POST', DBC.format(ns='t2'), dbc('db-4'))[0] == 201
    # deleting frees a slot and updates status.used
    assert raw('DELETE', DBC.format(ns='t1') + '/db-1')[0] == 200
    _st, q = raw('GET', QUOTA.format(ns='t1') + '/resource-policy')
    assert q['status']['used'][KEY] == '2'
    assert raw('POST', DBC.format(ns='t1'), dbc('db-4'))[0] == 201


def test_quota_update_and_existing_objects(raw, make_ns):
    make_ns('t1')
    for idx in range(2):
        raw('POST', DBC.format(ns='t1'), dbc(f'db-{idx}'))
    _st, q = raw('POST', QUOTA.format(ns='t1'), quota({KEY: '1'}))
    assert q['status']['used'] == {KEY: '2'}, 'used counts objects that existed before the quota'
    assert raw('POST', DBC.format(ns='t1'), dbc('db-9'))[0] == 403
    q['spec']['hard'][KEY] = '5'
    _st, q2 = raw('PUT', QUOTA.format(ns='t1') + '/resource-policy', q)
    assert q2['status']['hard'] == {KEY: '5'}
    assert raw('POST', DBC.format(ns='t1'), dbc('db-9'))[0] == 201
    _st, q3 = raw('GET', QUOTA.format(ns='t1') + '/resource-policy')
    assert q3['status']['used'] == {KEY: '3'}


def test_quota_is_checked_before_already_exists(raw, make_ns):
    make_ns('t1')
    raw('POST', QUOTA.format(ns='t1'), quota({KEY: '1'}))
    raw('POST', DBC.format(ns='t1'), dbc('db-1'))
    status, body = raw('POST', DBC.format(ns='t1'), dbc('db-1'))
    assert status == 403, 'admission (quota) runs before the storage AlreadyExists check'
    assert body['reason'] == 'Forbidden'


def test_legacy_configmap_count(raw, make_ns):
    make_ns('t1')
    raw('POST', QUOTA.format(ns='t1'), quota({'configmaps': '1'}))
    assert raw('POST', '/api/v1/namespaces/t1/configmaps', {'metadata': {'name': 'a'}})[0] == 201
    status, body = raw('POST', '/api/v1/namespaces/t1/configmaps', {'metadata': {'name': 'b'}})
    assert status == 403
    assert body['message'] == (
        'configmaps "b" is forbidden: exceeded quota: resource-policy, requested: configmaps=1, used: configmaps=1, limited: configmaps=1'
    )


def _parallel(count, func):
    barrier = threading.Barrier(count)
    results = [None] * count

    def run(idx):
        barrier.wait()
        results[idx] = func(idx)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_concurrent_creates_respect_quota(clean_sandbox, make_ns):
    make_ns('t1')
    clean_sandbox.request('POST', QUOTA.format(ns='t1'), quota({KEY: '7'}))
    codes = _parallel(20, lambda i: clean_sandbox.request('POST', DBC.format(ns='t1'), dbc(f'db-{i}'))[0])
    assert sorted(codes) == [201] * 7 + [403] * 13
    _st, listing = clean_sandbox.request('GET', DBC.format(ns='t1'))
    assert len(listing['items']) == 7
    _st, q = clean_sandbox.request('GET', QUOTA.format(ns='t1') + '/resource-policy')
    assert q['status']['used'][KEY] == '7'


def test_concurrent_creates_and_updates_keep_counts(clean_sandbox, make_ns):
    make_ns('t1')
    codes = _parallel(20, lambda i: clean_sandbox.request('POST', '/api/v1/namespaces/t1/configmaps', {'metadata': {'name': f'c{i}'}})[0])
    assert codes == [201] * 20
    _st, listing = clean_sandbox.request('GET', '/api/v1/namespaces/t1/configmaps')
    rvs = [int(i['metadata']['resourceVersion']) for i in listing['items']]
    assert len(listing['items']) == 20 and len(set(rvs)) == 20
    # 20 read-modify-write attempts on one object with the same starting version: exactly one wins
    _st, base = clean_sandbox.request('GET', '/api/v1/namespaces/t1/configmaps/c0')

    def update(idx):
        body = dict(base, data={'writer': str(idx)})
        return clean_sandbox.request('PUT', '/api/v1/namespaces/t1/configmaps/c0', body)[0]

    codes = _parallel(20, update)
    assert sorted(codes) == [200] + [409] * 19
