"""everestctl emulator against the sandbox: `namespaces` (reference §4) and `version` (reference §7)."""

from __future__ import annotations

import json

import pytest

from everest_sandbox.everestctl.testing import EVEREST, OLM, ectl, get, must, names, release_of

ALL_OPS = ('--operator.mysql', '--operator.postgresql', '--operator.mongodb')
SUBS = {'percona-xtradb-cluster-operator': 'stable-v1', 'percona-server-mongodb-operator': 'stable-v1', 'percona-postgresql-operator': 'stable-v2'}
DEPLOY = '/apis/apps/v1/namespaces/everest-system/deployments/everest-server'


def add(sb, ns, *flags):
    return ectl(sb, 'namespaces', 'add', ns, '--skip-wizard', *flags)


def labels(sb, ns):
    obj = get(sb, f'/api/v1/namespaces/{ns}')
    return None if obj is None else (obj['metadata'].get('labels') or {})


def test_add_creates_everything(clean_sandbox):
    sb = clean_sandbox
    res = add(sb, 'tenant-a', *ALL_OPS)
    assert (res.returncode, res.stdout, res.stderr) == (0, "\u2705  Provisioning database namespace 'tenant-a'\n", '')
    assert labels(sb, 'tenant-a')['app.kubernetes.io/managed-by'] == 'everest'
    secrets = get(sb, '/api/v1/namespaces/tenant-a/secrets?labelSelector=owner%3Dhelm')['items']
    assert [s['metadata']['name'] for s in secrets] == ['sh.helm.release.v1.tenant-a.v1']
    rel_secret = secrets[0]
    assert rel_secret['type'] == 'helm.sh/release.v1'
    assert rel_secret['metadata']['labels'] == {'owner': 'helm', 'name': 'tenant-a', 'status': 'deployed', 'version': '1'}
    release = release_of(rel_secret)
    assert release['config'] == {'cleanupOnUninstall': False, 'pxc': True, 'postgresql': True, 'psmdb': True, 'telemetry': True}
    assert release['chart']['metadata']['name'] == 'everest-db-namespace'
    assert release['chart']['metadata']['version'] == '1.10.0'
    assert (release['name'], release['namespace'], release['version']) == ('tenant-a', 'tenant-a', 1)
    subs = get(sb, f'{OLM}/namespaces/tenant-a/subscriptions')['items']
    assert {s['metadata']['name']: s['spec']['channel'] for s in subs} == SUBS
    for sub in subs:
        assert sub['spec']['installPlanApproval'] == 'Manual'
        assert (sub['spec']['source'], sub['spec']['sourceNamespace']) == ('everest-catalog', 'everest-olm')
        assert sub['metadata']['annotations']['helm.sh/resource-policy'] == 'keep'
    csvs = {c['spec']['version']: c['status']['phase'] for c in get(sb, f'{OLM}/namespaces/tenant-a/clusterserviceversions')['items']}
    assert csvs == {'1.16.1': 'Succeeded', '1.19.1': 'Succeeded', '2.6.0': 'Succeeded'}
    group = get(sb, '/apis/operators.coreos.com/v1/namespaces/tenant-a/operatorgroups/everest-databases')
    assert group['spec']['targetNamespaces'] == ['tenant-a']


def test_add_several_and_list(clean_sandbox):
    sb = clean_sandbox
    res = add(sb, ' ns-b , ns-a,ns-b,', '--operator.mysql', '--operator.postgresql=false', '--operator.mongodb=false')
    assert res.returncode == 0
    assert res.stdout == "\u2705  Provisioning database namespace 'ns-b'\n\u2705  Provisioning database namespace 'ns-a'\n"
    assert add(sb, 'ns-c', '--operator.mysql=false', '--operator.postgresql', '--operator.mongodb').returncode == 0
    res = ectl(sb, 'namespaces', 'list')
    assert (res.returncode, res.stderr) == (0, '')
    width = len('postgresql(v2.6.0), psmdb(v1.19.1)') + 2
    assert res.stdout == (
        'NAMESPACE  MANAGED  ' + 'OPERATORS'.ljust(width) + '\n'
        'ns-a       true     ' + 'pxc(v1.16.1)'.ljust(width) + '\n'
        'ns-b       true     ' + 'pxc(v1.16.1)'.ljust(width) + '\n'
        'ns-c       true     postgresql(v2.6.0), psmdb(v1.19.1)  \n'
    )
    res = ectl(sb, 'namespaces', 'list', '--all')
    rows = [line.split()[:2] for line in res.stdout.splitlines()[1:]]
    assert ['default', 'false'] in rows and ['ns-a', 'true'] in rows
    assert not {'kube-system', 'everest-system', 'everest-olm', 'everest-monitoring'} & {r[0] for r in rows}


def test_add_existing_namespaces(clean_sandbox):
    sb = clean_sandbox
    res = add(sb, 'default', *ALL_OPS)
    assert (res.returncode, res.stdout, res.stderr) == (
        1,
        '',
        "\u274c 'default': namespace already exists. HINT: set '--take-ownership' flag to use existing namespaces\n\n",
    )
    res = add(sb, 'default', '--take-ownership', '--operator.mysql', '--operator.postgresql=false', '--operator.mongodb=false')
    assert (res.returncode, res.stdout) == (0, "\u2705  Provisioning database namespace 'default'\n")
    assert labels(sb, 'default')['app.kubernetes.io/managed-by'] == 'everest'
    res = add(sb, 'default', '--take-ownership', *ALL_OPS)
    assert (res.returncode, res.stderr) == (1, "\u274c 'default': namespace already exists and is managed by Everest\n\n")


def test_operator_selection_rules(clean_sandbox):
    sb = clean_sandbox
    res = add(sb, 'ns-x', '--operator.mysql=false', '--operator.postgresql=false', '--operator.mongodb=false')
    assert (res.returncode, res.stderr) == (1, '\u274c no operators selected for installation. Minimum one operator must be selected\n\n')
    res = ectl(sb, 'namespaces', 'add', 'ns-x')  # no operator flag, no --skip-wizard -> the prompt
    assert (res.returncode, res.stderr) == (1, '\u274c could not open a new TTY: open /dev/tty: no such device or address\n\n')
    assert get(sb, '/api/v1/namespaces/ns-x') is None
    # deprecated alias: same variable, last one wins
    res = add(sb, 'ns-y', '--operator.mysql=false', '--operator.xtradb-cluster', '--operator.postgresql=false', '--operator.mongodb=false')
    assert res.returncode == 0
    assert res.stderr == 'Flag --operator.xtradb-cluster has been deprecated, please use --operator.mysql instead\n'
    assert names(get(sb, f'{OLM}/namespaces/ns-y/subscriptions')) == ['percona-xtradb-cluster-operator']
    res = add(sb, 'ns-z', '--operator.xtradb-cluster', '--operator.mysql=false', '--operator.postgresql', '--operator.mongodb=false')
    assert names(get(sb, f'{OLM}/namespaces/ns-z/subscriptions')) == ['percona-postgresql-operator']
    # one operator flag given: the others keep their default true
    assert add(sb, 'ns-w', '--operator.mongodb').returncode == 0
    assert len(names(get(sb, f'{OLM}/namespaces/ns-w/subscriptions'))) == 3


def test_update_adds_only_and_warns(clean_sandbox):
    sb = clean_sandbox
    assert add(sb, 'ns-u', '--operator.mysql', '--operator.postgresql=false', '--operator.mongodb=false').returncode == 0
    res = ectl(sb, 'namespaces', 'update', 'ns-u', '--operator.mysql=false', '--operator.postgresql=false', '--operator.mongodb')
    assert res.returncode == 0 and res.stderr == ''
    assert res.stdout == (
        '\u26a0\ufe0f  Removal of an installed operator is not supported. Proceeding without removal.\n\u2705  Updating database namespace \'ns-u\'\n'
    )
    assert names(get(sb, f'{OLM}/namespaces/ns-u/subscriptions')) == ['percona-server-mongodb-operator', 'percona-xtradb-cluster-operator']
    rels = get(sb, '/api/v1/namespaces/ns-u/secrets?labelSelector=owner%3Dhelm,status%3Ddeployed')['items']
    assert [r['metadata']['labels']['version'] for r in rels] == ['2']
    assert release_of(rels[0])['config']['psmdb'] is True
    res = ectl(sb, '--json', 'namespaces', 'update', 'ns-u', '--operator.mysql=false', *ALL_OPS[1:])
    assert res.returncode == 0
    assert res.stdout == '\u26a0\ufe0f  Removal of an installed operator is not supported. Proceeding without removal.\n'
    assert ectl(sb, 'namespaces', 'update', 'ns-u', *ALL_OPS).returncode == 0
    rels = get(sb, '/api/v1/namespaces/ns-u/secrets?labelSelector=owner%3Dhelm')['items']  # history max 3
    assert sorted((r['metadata']['labels']['version'], r['metadata']['labels']['status']) for r in rels) == [
        ('2', 'superseded'),
        ('3', 'superseded'),
        ('4', 'deployed'),
    ]
    assert release_of(next(r for r in rels if r['metadata']['labels']['version'] == '3'))['info']['status'] == 'superseded'


def test_update_errors(clean_sandbox):
    sb = clean_sandbox
    for ns in ('default', 'does-not-exist'):
        res = ectl(sb, 'namespaces', 'update', ns, *ALL_OPS)
        assert (res.returncode, res.stderr) == (1, f"\u274c '{ns}': namespace is not managed by Everest\n\n")
    assert add(sb, 'ns-v', *ALL_OPS).returncode == 0
    res = ectl(sb, 'namespaces', 'update', 'ns-v', '--skip-wizard')
    assert (res.returncode, res.stderr) == (1, "\u274c can't ask user for operators to install: interactive mode is disabled\n\n")


def _create_cluster(sb, ns, name):
    body = {
        'apiVersion': 'everest.percona.com/v1alpha1',
        'kind': 'DatabaseCluster',
        'metadata': {'name': name},
        'spec': {'engine': {'type': 'pxc', 'replicas': 1, 'storage': {'size': '1Gi'}}},
    }
    must(sb, 'POST', f'{EVEREST}/namespaces/{ns}/databaseclusters', body)


def test_remove_with_clusters_needs_force(clean_sandbox):
    sb = clean_sandbox
    assert add(sb, 'ns-r', *ALL_OPS).returncode == 0
    _create_cluster(sb, 'ns-r', 'db-1')
    res = ectl(sb, 'namespaces', 'remove', 'ns-r')
    msg = 'cannot remove namespace with running database clusters. HINT: use --force to remove the namespace and all its resources'
    assert (res.returncode, res.stdout, res.stderr) == (1, '', f'\u274c {msg}\n\n')
    assert names(get(sb, f'{EVEREST}/namespaces/ns-r/databaseclusters')) == ['db-1']
    res = ectl(sb, 'namespaces', 'remove', 'ns-r', '--force')
    assert res.returncode == 0, res.stderr
    assert res.stdout == (
        "\u2705  Deleting database clusters in namespace 'ns-r'\n"
        "\u2705  Deleting backup storages in namespace 'ns-r'\n"
        "\u2705  Deleting monitoring instances in namespace 'ns-r'\n"
        "\u2705  Deleting database namespace 'ns-r'\n"
    )
    assert get(sb, '/api/v1/namespaces/ns-r') is None


def test_remove_keep_namespace(clean_sandbox):
    sb = clean_sandbox
    assert add(sb, 'ns-k', *ALL_OPS).returncode == 0
    must(sb, 'POST', '/api/v1/namespaces/ns-k/configmaps', {'metadata': {'name': 'mine'}, 'data': {'a': 'b'}})
    res = ectl(sb, '--json', 'namespaces', 'remove', 'ns-k', '--keep-namespace')
    assert (res.returncode, res.stdout) == (0, '')  # no spinner lines outside pretty mode
    assert 'app.kubernetes.io/managed-by' not in labels(sb, 'ns-k')
    assert names(get(sb, f'{OLM}/namespaces/ns-k/subscriptions')) == []
    assert names(get(sb, f'{OLM}/namespaces/ns-k/clusterserviceversions')) == []
    assert get(sb, '/api/v1/namespaces/ns-k/secrets?labelSelector=owner%3Dhelm')['items'] == []
    assert get(sb, '/api/v1/namespaces/ns-k/configmaps/mine') is not None
    assert get(sb, '/apis/operators.coreos.com/v1/namespaces/ns-k/operatorgroups/everest-databases') is None
    res = ectl(sb, 'namespaces', 'remove', 'ns-k')
    assert (res.returncode, res.stderr) == (1, "\u274c 'ns-k': namespace is not managed by Everest\n\n")
    res = ectl(sb, 'namespaces', 'remove', 'ns-none')
    assert (res.returncode, res.stderr) == (1, "\u274c 'ns-none': namespace does not exist\n\n")


@pytest.mark.parametrize(
    'image, expected',
    [
        ('perconalab/everest:1.3.9', 'operation not supported for this version of Everest'),
        (None, 'everest is not installed in the cluster'),
    ],
)
def test_installation_checks(clean_sandbox, image, expected):
    sb = clean_sandbox
    if image is None:
        must(sb, 'DELETE', DEPLOY)
    else:
        dep = get(sb, DEPLOY)
        dep['spec']['template']['spec']['containers'][0]['image'] = image
        must(sb, 'PUT', DEPLOY, dep)
    for argv in (('add', 'ns-i', '--skip-wizard', *ALL_OPS), ('list',)):
        res = ectl(sb, 'namespaces', *argv)
        assert (res.returncode, res.stdout, res.stderr) == (1, '', f'\u274c {expected}\n\n')
    assert get(sb, '/api/v1/namespaces/ns-i') is None


def test_version_with_server(clean_sandbox):
    sb = clean_sandbox
    res = ectl(sb, 'version')
    assert res.returncode == 0 and res.stdout.endswith('\nServerVersion: v1.10.0\n')
    res = ectl(sb, '--json', 'version')
    assert json.loads(res.stdout)['serverVersion'] == 'v1.10.0'
    must(sb, 'DELETE', DEPLOY)
    res = ectl(sb, 'version')
    assert res.returncode == 0 and res.stdout.endswith('\nServerVersion: [NOT INSTALLED]\n')


def test_ns_delay_env_is_honoured(clean_sandbox):
    res = ectl(clean_sandbox, 'namespaces', 'add', 'ns-d', '--skip-wizard', *ALL_OPS, extra_env={'EVEREST_SANDBOX_NS_DELAY_S': 'not-a-number'})
    assert res.returncode == 0  # a bad value means no delay, never a crash


def test_failed_step_stops_the_rest(clean_sandbox):
    sb = clean_sandbox
    sb.faults(error_rate={'create': 1.0}, retry_after_s=0, seed=7)
    res = ectl(sb, 'namespaces', 'add', 'ns-f1,ns-f2', '--skip-wizard', *ALL_OPS)
    sb.clear_faults()
    assert res.returncode == 1
    assert res.stdout == "\u274c  Provisioning database namespace 'ns-f1'\n"
    assert res.stderr in {
        f'\u274c {msg}\n\n'
        for msg in (
            'Internal error occurred: sandbox: injected fault',
            'the server is currently unable to handle the request',
            'the server has received too many requests and has asked us to try again later',
        )
    }
    assert get(sb, '/api/v1/namespaces/ns-f1') is None and get(sb, '/api/v1/namespaces/ns-f2') is None
