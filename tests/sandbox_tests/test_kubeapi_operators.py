"""The operator simulation: DatabaseClusters become the pods and PVCs the Percona operators create, through
LimitRanger and ResourceQuota; refusals show on the cluster (Kubernetes API and Everest REST emulator)."""

import copy

import pytest

from everest_sandbox import DEFAULT_ADMIN_PASSWORD
from everest_sandbox.kubeapi.operator_pods import plan
from everest_sandbox.restapi import testing as rt
from everest_sandbox.restapi.testing import everest_api  # noqa: F401  pylint: disable=unused-import

GROUP = 'everest.percona.com/v1alpha1'
NS = '/api/v1/namespaces/{ns}'
DBC = '/apis/everest.percona.com/v1alpha1/namespaces/{ns}/databaseclusters'
PXC = {
    'apiVersion': GROUP,
    'kind': 'DatabaseCluster',
    'metadata': {'name': 'db'},
    'spec': {
        'engine': {'type': 'pxc', 'replicas': 1, 'resources': {'cpu': '1', 'memory': '2G'}, 'storage': {'size': '10Gi'}},
        'proxy': {'type': 'haproxy', 'replicas': 1},
    },
}
# per cluster with the LimitRange below: pxc pod 1 cpu / 2G; haproxy pod 190m + 50m (pxc-monit) cpu; PVC 10Gi
TENANT_LIMITS = {'metadata': {'name': 'tenant'}, 'spec': {'limits': [{'type': 'Container', 'default': {'cpu': '50m', 'memory': '64Mi'}}]}}


def cluster(name, engine_type='pxc', **spec):
    body = copy.deepcopy(PXC)
    body['metadata']['name'] = name
    body['spec']['engine']['type'] = engine_type
    body['spec'].update(spec)
    if engine_type != 'pxc':
        body['spec']['proxy'] = {'type': {'psmdb': 'mongos', 'postgresql': 'pgbouncer'}[engine_type], 'replicas': 1}
    return body


def names(raw, ns, plural):
    _st, body = raw('GET', NS.format(ns=ns) + f'/{plural}')
    return sorted(item['metadata']['name'] for item in body['items'])


def status_of(raw, ns, name):
    _st, body = raw('GET', DBC.format(ns=ns) + '/' + name)
    return body.get('status') or {}


def tenant(raw, make_ns, ns='t1', **hard):
    make_ns(ns)
    hard = hard or {'requests.cpu': '3', 'requests.memory': '6Gi', 'requests.storage': '25Gi'}
    quota = {'metadata': {'name': 'tenant'}, 'spec': {'hard': hard}}
    assert raw('POST', NS.format(ns=ns) + '/resourcequotas', quota)[0] == 201
    assert raw('POST', NS.format(ns=ns) + '/limitranges', TENANT_LIMITS)[0] == 201


# ------------------------------------------------------------------ what the operators create (pure)
def _resources(member, container_name):
    found = [c for c in member.containers + member.init_containers if c['name'] == container_name]
    return found[0].get('resources')


def test_plan_pxc_defaults_and_sidecars():
    body = cluster('db')
    body['spec']['engine'].update(replicas=3, resources={})
    del body['spec']['proxy']['replicas']
    pxc, haproxy = plan(body)
    assert [m.name for m in pxc.members] == ['db-pxc-0', 'db-pxc-1', 'db-pxc-2']
    assert [m.name for m in haproxy.members] == ['db-haproxy-0', 'db-haproxy-1', 'db-haproxy-2']
    member = pxc.members[0]
    assert _resources(member, 'pxc') == {'requests': {'cpu': '600m', 'memory': '1G'}, 'limits': {'cpu': '600m', 'memory': '1G'}}
    assert _resources(member, 'pxc-init') == {'limits': {'cpu': '50m', 'memory': '50M'}}
    assert member.pvcs == [('datadir-db-pxc-0', '10Gi', '')]
    proxy = haproxy.members[0]
    assert [c['name'] for c in proxy.containers] == ['haproxy', 'pxc-monit']
    assert _resources(proxy, 'haproxy') == {'requests': {'cpu': '190m', 'memory': '195Mi'}, 'limits': {'cpu': '200m', 'memory': '204Mi'}}
    assert _resources(proxy, 'pxc-monit') is None, 'a sidecar without defaults requests nothing'


def test_plan_proxy_resources_pmm_and_engine_size():
    body = cluster('db', monitoring={'monitoringConfigName': 'pmm'})
    body['spec']['engine']['resources'] = {'cpu': '4', 'memory': '8G'}
    body['spec']['proxy'] = {'type': 'proxysql', 'replicas': 2, 'resources': {'cpu': '500m', 'memory': '1Gi'}}
    pxc, proxysql = plan(body)
    assert _resources(pxc.members[0], 'pmm-client') == {'requests': {'cpu': '228m', 'memory': '199168Ki'}}
    assert [c['name'] for c in proxysql.members[1].containers] == ['proxysql', 'pxc-monit', 'proxysql-monit', 'pmm-client']
    assert _resources(proxysql.members[1], 'proxysql') == {'requests': {'cpu': '500m', 'memory': '1Gi'}, 'limits': {'cpu': '500m', 'memory': '1Gi'}}


def test_plan_psmdb_sharded():
    body = cluster('mg', 'psmdb', sharding={'enabled': True, 'shards': 2, 'configServer': {'replicas': 3}})
    components = plan(body)
    assert [c.name for c in components] == ['mg-rs0', 'mg-rs1', 'mg-cfg', 'mg-mongos']
    rs0 = components[0].members[0]
    assert [c['name'] for c in rs0.containers] == ['mongod', 'backup-agent']
    assert _resources(rs0, 'mongod') == {'limits': {'cpu': '1', 'memory': '2G'}}
    assert _resources(rs0, 'backup-agent') == {'limits': {'cpu': '300m', 'memory': '1G'}}
    assert rs0.pvcs == [('mongod-data-mg-rs0-0', '10Gi', '')]
    assert len(components[2].members) == 3 and _resources(components[2].members[0], 'mongod') is None
    assert _resources(components[3].members[0], 'mongos') is None


def test_plan_postgresql():
    components = plan(cluster('pg', 'postgresql'))
    instance, repo, bouncer = components
    assert instance.members[0].name.startswith('pg-instance1-') and instance.members[0].name.endswith('-0')
    assert instance.members[0].pvcs[0][0].endswith('-pgdata')
    assert [c['name'] for c in instance.members[0].containers] == ['database', 'replication-cert-copy', 'pgbackrest', 'pgbackrest-config']
    assert repo.members[0].name == 'pg-repo-host-0' and repo.members[0].pvcs == [('pg-repo1', '10Gi', '')]
    assert _resources(bouncer.members[0], 'pgbouncer') == {'limits': {'cpu': '200m', 'memory': '128Mi'}}
    assert _resources(bouncer.members[0], 'pgbouncer-config') == {'limits': {'cpu': '5m', 'memory': '16Mi'}}


# ------------------------------------------------------------------ through the Kubernetes API
def test_two_clusters_fit_a_third_is_refused_until_one_is_deleted(raw, make_ns):
    tenant(raw, make_ns)
    for name in ('a', 'b'):
        assert raw('POST', DBC.format(ns='t1'), cluster(name))[0] == 201
        assert status_of(raw, 't1', name) == {}
    assert names(raw, 't1', 'pods') == ['a-haproxy-0', 'a-pxc-0', 'b-haproxy-0', 'b-pxc-0']
    assert names(raw, 't1', 'persistentvolumeclaims') == ['datadir-a-pxc-0', 'datadir-b-pxc-0']
    _st, pod = raw('GET', NS.format(ns='t1') + '/pods/a-pxc-0')
    assert pod['status']['phase'] == 'Running' and pod['metadata']['labels']['app.kubernetes.io/instance'] == 'a'
    _st, quota = raw('GET', NS.format(ns='t1') + '/resourcequotas/tenant')
    assert quota['status']['used']['requests.cpu'] == '2480m' and quota['status']['used']['requests.storage'] == '20Gi'

    assert raw('POST', DBC.format(ns='t1'), cluster('c'))[0] == 201
    status = status_of(raw, 't1', 'c')
    assert status == {
        'status': 'error',
        'size': 2,
        'ready': 1,
        'message': (
            'persistentvolumeclaims "datadir-c-pxc-0" is forbidden: exceeded quota: tenant, requested: requests.storage=10Gi, '
            'used: requests.storage=20Gi, limited: requests.storage=25Gi'
        ),
    }
    assert 'c-pxc-0' not in names(raw, 't1', 'pods')

    assert raw('DELETE', DBC.format(ns='t1') + '/a')[0] == 200
    assert names(raw, 't1', 'pods') == ['b-haproxy-0', 'b-pxc-0', 'c-haproxy-0', 'c-pxc-0']
    assert names(raw, 't1', 'persistentvolumeclaims') == ['datadir-b-pxc-0', 'datadir-c-pxc-0']
    assert status_of(raw, 't1', 'c') == {'size': 2, 'ready': 2}


def test_cpu_refusal_and_reconcile_endpoint(raw, make_ns, clean_sandbox):
    tenant(raw, make_ns, **{'requests.cpu': '3', 'requests.storage': '100Gi'})
    for name in ('a', 'b', 'c'):
        raw('POST', DBC.format(ns='t1'), cluster(name))
    assert status_of(raw, 't1', 'c')['message'] == (
        'pods "c-pxc-0" is forbidden: exceeded quota: tenant, requested: requests.cpu=1, used: requests.cpu=2480m, limited: requests.cpu=3'
    )
    _st, quota = raw('GET', NS.format(ns='t1') + '/resourcequotas/tenant')
    quota['spec']['hard']['requests.cpu'] = '4'
    assert raw('PUT', NS.format(ns='t1') + '/resourcequotas/tenant', quota)[0] == 200
    assert status_of(raw, 't1', 'c')['status'] == 'error', 'a quota change is no trigger; the next reconcile is'
    assert clean_sandbox.reconcile('t1', 'c') == {'t1/c': {'size': 2, 'ready': 2}}
    assert 'c-pxc-0' in names(raw, 't1', 'pods')


def test_memory_refusal(raw, make_ns):
    tenant(raw, make_ns, **{'requests.memory': '5G', 'requests.storage': '100Gi'})
    for name in ('a', 'b', 'c'):
        raw('POST', DBC.format(ns='t1'), cluster(name))
    message = status_of(raw, 't1', 'c')['message']
    # the used sum's spelling depends on the order the controller added the pods (2G + 259Mi or 259Mi + 2G)
    assert message.startswith('pods "c-pxc-0" is forbidden: exceeded quota: tenant, requested: requests.memory=2G, used: requests.memory=')
    assert message.endswith(', limited: requests.memory=5G')
    assert names(raw, 't1', 'pods') == ['a-haproxy-0', 'a-pxc-0', 'b-haproxy-0', 'b-pxc-0', 'c-haproxy-0']


def test_sidecars_need_a_limit_range(raw, make_ns):
    make_ns('t1')
    raw('POST', NS.format(ns='t1') + '/resourcequotas', {'metadata': {'name': 'tenant'}, 'spec': {'hard': {'requests.cpu': '10'}}})
    raw('POST', DBC.format(ns='t1'), cluster('a'))
    assert status_of(raw, 't1', 'a')['message'] == ('pods "a-haproxy-0" is forbidden: failed quota: tenant: must specify requests.cpu for: pxc-monit')
    assert names(raw, 't1', 'pods') == ['a-pxc-0']
    raw('POST', NS.format(ns='t1') + '/limitranges', TENANT_LIMITS)
    status, body = raw('POST', '/_sandbox/reconcile', {})
    assert status == 200 and body['status'] == 'ok' and body['clusters']['t1/a'] == {'size': 2, 'ready': 2}
    assert raw('GET', '/_sandbox/reconcile')[0] == 405
    _st, pod = raw('GET', NS.format(ns='t1') + '/pods/a-haproxy-0')
    assert pod['metadata']['annotations']['kubernetes.io/limit-ranger'] == (
        'LimitRanger plugin set: cpu, memory request for container pxc-monit; cpu, memory limit for container pxc-monit'
    )


def test_updates_scale_storage_pause_and_cascade(raw, make_ns):
    tenant(raw, make_ns, **{'requests.storage': '40Gi'})
    body = cluster('a')
    body['spec']['engine']['replicas'] = 3
    raw('POST', DBC.format(ns='t1'), body)
    assert names(raw, 't1', 'persistentvolumeclaims') == ['datadir-a-pxc-0', 'datadir-a-pxc-1', 'datadir-a-pxc-2']
    _st, current = raw('GET', DBC.format(ns='t1') + '/a')
    current['spec']['engine']['storage']['size'] = '15Gi'
    raw('PUT', DBC.format(ns='t1') + '/a', current)
    assert status_of(raw, 't1', 'a')['message'] == (
        'persistentvolumeclaims "datadir-a-pxc-2" is forbidden: exceeded quota: tenant, requested: requests.storage=5Gi, '
        'used: requests.storage=40Gi, limited: requests.storage=40Gi'
    )
    _st, current = raw('GET', DBC.format(ns='t1') + '/a')
    current['spec']['engine']['replicas'] = 1
    raw('PUT', DBC.format(ns='t1') + '/a', current)
    assert names(raw, 't1', 'pods') == ['a-haproxy-0', 'a-pxc-0'], 'scale down deletes pods'
    assert len(names(raw, 't1', 'persistentvolumeclaims')) == 3, '... and keeps their claims'
    assert 'message' not in status_of(raw, 't1', 'a')
    _st, current = raw('GET', DBC.format(ns='t1') + '/a')
    current['spec']['paused'] = True
    raw('PUT', DBC.format(ns='t1') + '/a', current)
    assert names(raw, 't1', 'pods') == []
    assert raw('DELETE', DBC.format(ns='t1') + '/a')[0] == 200
    assert names(raw, 't1', 'persistentvolumeclaims') == []


def test_psmdb_and_postgresql_clusters_come_up(raw, make_ns):
    tenant(raw, make_ns, **{'requests.storage': '100Gi'})
    raw('POST', DBC.format(ns='t1'), cluster('mg', 'psmdb'))
    raw('POST', DBC.format(ns='t1'), cluster('pg', 'postgresql'))
    pods = names(raw, 't1', 'pods')
    assert 'mg-rs0-0' in pods and 'pg-repo-host-0' in pods and sum(p.startswith('pg-pgbouncer-') for p in pods) == 1
    assert 'pg-repo1' in names(raw, 't1', 'persistentvolumeclaims')
    assert status_of(raw, 't1', 'mg') == {} and status_of(raw, 't1', 'pg') == {}


# ------------------------------------------------------------------ through the Everest REST emulator
@pytest.fixture
def rest(everest_api, clean_sandbox):  # pylint: disable=redefined-outer-name
    rt.bootstrap_seed000(clean_sandbox, DEFAULT_ADMIN_PASSWORD)
    return everest_api


def test_rest_emulator_shows_the_refusal(rest, raw):  # pylint: disable=redefined-outer-name
    quota = {'metadata': {'name': 'tenant'}, 'spec': {'hard': {'requests.cpu': '3', 'requests.storage': '25Gi'}}}
    assert raw('POST', NS.format(ns='ns-alice') + '/resourcequotas', quota)[0] == 201
    assert raw('POST', NS.format(ns='ns-alice') + '/limitranges', TENANT_LIMITS)[0] == 201
    rest.manual_clock.advance(5)
    token = rt.call(rest.url, 'POST', '/v1/session', {'username': 'admin', 'password': DEFAULT_ADMIN_PASSWORD})[1]['token']
    base = '/v1/namespaces/ns-alice/database-clusters'
    for name in ('a', 'b', 'c'):
        body = cluster(name)
        body['spec']['engine']['resources'] = {'cpu': '1', 'memory': '1G'}
        status, answer, _hdr = rt.call(rest.url, 'POST', base, body, token)
        assert status == 201, answer
    rest.manual_clock.advance(10)
    status, answer, _hdr = rt.call(rest.url, 'GET', base + '/c', token=token)
    assert status == 200
    assert answer['status']['status'] == 'error'
    assert answer['status']['message'].startswith('persistentvolumeclaims "datadir-c-pxc-0" is forbidden: exceeded quota: tenant')
    assert rt.call(rest.url, 'GET', base + '/b', token=token)[1]['status']['status'] == 'ready'
    listed = rt.call(rest.url, 'GET', base, token=token)[1]['items']
    assert [i['status']['status'] for i in listed] == ['ready', 'ready', 'error']
    assert rt.call(rest.url, 'DELETE', base + '/a', token=token)[0] == 204
    answer = rt.call(rest.url, 'GET', base + '/c', token=token)[1]
    assert answer['status']['status'] == 'ready' and 'message' not in answer['status']
