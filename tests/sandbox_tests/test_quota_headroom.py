"""The quota headroom of the collection (plugins/module_utils/_headroom.py) against what Kubernetes charges: a reference
cluster of each engine, created in a namespace with the collection's LimitRange and a compute quota, costs exactly
the policy's count of it plus the headroom, by the quota's own status.used (LimitRanger defaults, the max rule of init
containers, the operators' sidecars as the sandbox's operator simulation creates them: two implementations of
docs/dev/operator-pods.md that must agree)."""

import pytest

from ansible_collections.virakcloud.everest.plugins.module_utils import _headroom, _quantity, _tenant_quotas

NS = '/api/v1/namespaces/{ns}'
DBC = '/apis/everest.percona.com/v1alpha1/namespaces/{ns}/databaseclusters'
ENGINE = {'cpu': '1', 'memory': '2Gi'}
PROXY = {'cpu': '250m', 'memory': '256Mi'}
SHAPES = {
    # engine type: (proxy type, counted proxies)
    'pxc': ({'type': 'proxysql', 'replicas': 3, 'resources': PROXY}, 3),
    'postgresql': ({'type': 'pgbouncer', 'replicas': 3, 'resources': PROXY}, 3),
    'psmdb': (None, 0),  # not sharded: no mongos
}


def reference_cluster(etype):
    proxy, _counted = SHAPES[etype]
    spec = {
        'engine': {'type': etype, 'replicas': 3, 'resources': dict(ENGINE), 'storage': {'size': '10Gi'}},
        'monitoring': {'monitoringConfigName': 'pmm'},
        'backup': {'pitr': {'enabled': True}},
    }
    if proxy:
        spec['proxy'] = dict(proxy)
    return {'apiVersion': 'everest.percona.com/v1alpha1', 'kind': 'DatabaseCluster', 'metadata': {'name': 'ref'}, 'spec': spec}


@pytest.mark.parametrize('etype', sorted(SHAPES))
def test_a_reference_cluster_costs_the_policy_count_plus_the_headroom(raw, make_ns, etype):
    ns = 'hr-' + etype
    make_ns(ns)
    settings = {'headroom': {'cpu': None, 'memory': None, 'volumes': None}, 'default_requests': dict(_headroom.DEFAULT_REQUESTS)}
    spec = {'limits': {'cpuCores': 1000}, 'selectors': {'engines': []}}
    limit_range = _tenant_quotas.desired(_tenant_quotas.LIMIT_RANGE, ns, 'resource-policy', spec, {}, settings)
    assert raw('POST', NS.format(ns=ns) + '/limitranges', limit_range)[0] == 201
    quota = {'metadata': {'name': 'all'}, 'spec': {'hard': {'requests.cpu': '1000', 'requests.memory': '1Ti', 'persistentvolumeclaims': '100'}}}
    assert raw('POST', NS.format(ns=ns) + '/resourcequotas', quota)[0] == 201
    status, body = raw('POST', DBC.format(ns=ns), reference_cluster(etype))
    assert status == 201, body
    _st, cluster = raw('GET', DBC.format(ns=ns) + '/ref')
    assert (cluster.get('status') or {}).get('status') != 'error', cluster.get('status')

    _st, quota = raw('GET', NS.format(ns=ns) + '/resourcequotas/all')
    used = quota['status']['used']
    counted = SHAPES[etype][1]
    policy_cpu = 3 * _quantity.parse(ENGINE['cpu']) + counted * _quantity.parse(PROXY['cpu'])
    policy_memory = 3 * _quantity.parse(ENGINE['memory']) + counted * _quantity.parse(PROXY['memory'])
    cpu, memory = _headroom.cluster_overhead(etype, size='small')
    assert _quantity.parse(used['requests.cpu']) - policy_cpu == cpu
    assert _quantity.parse(used['requests.memory']) - policy_memory == memory
    assert int(used['persistentvolumeclaims']) == _headroom.volumes(etype)
