"""Discovery as real clients need it, exercised with raw HTTP and with kubectl 1.32."""

import json

import yaml

TRP_CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: tenantresourcepolicies.everest.local
spec:
  group: everest.local
  scope: Namespaced
  names: {plural: tenantresourcepolicies, singular: tenantresourcepolicy, kind: TenantResourcePolicy, shortNames: [trp]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              limits:
                type: object
                properties:
                  cpuCores: {type: integer, minimum: 0}
"""

AGGREGATED = (
    'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,'
    'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json'
)


def test_version_and_legacy_discovery(raw):
    status, ver = raw('GET', '/version')
    assert status == 200 and ver['gitVersion'] == 'v1.31.0' and ver['major'] == '1' and ver['minor'] == '31'
    status, apis = raw('GET', '/api', headers={'Accept': AGGREGATED})
    assert status == 200 and apis['kind'] == 'APIVersions' and apis['versions'] == ['v1']
    _st, v1 = raw('GET', '/api/v1')
    res = {r['name']: r for r in v1['resources']}
    assert res['namespaces'] == {
        'name': 'namespaces',
        'singularName': 'namespace',
        'namespaced': False,
        'kind': 'Namespace',
        'verbs': ['create', 'delete', 'get', 'list', 'patch', 'update'],
        'shortNames': ['ns'],
    }
    assert res['configmaps']['shortNames'] == ['cm'] and res['configmaps']['namespaced'] is True
    assert {'namespaces/status', 'secrets', 'resourcequotas', 'resourcequotas/status'} <= set(res)
    _st, groups = raw('GET', '/apis', headers={'Accept': AGGREGATED})
    assert groups['kind'] == 'APIGroupList'
    names = [g['name'] for g in groups['groups']]
    assert {'apps', 'apiextensions.k8s.io', 'everest.percona.com', 'operators.coreos.com'} <= set(names)
    _st, crds = raw('GET', '/apis/apiextensions.k8s.io/v1')
    assert {r['name'] for r in crds['resources']} == {'customresourcedefinitions', 'customresourcedefinitions/status'}
    _st, olm = raw('GET', '/apis/operators.coreos.com/v1alpha1')
    short = {r['name']: r.get('shortNames') for r in olm['resources']}
    assert short['subscriptions'] == ['sub', 'subs'] and short['clusterserviceversions'][0] == 'csv'


def test_aggregated_accept_gets_plain_json_content_type(clean_sandbox):
    import http.client  # pylint: disable=import-outside-toplevel
    from urllib.parse import urlsplit  # pylint: disable=import-outside-toplevel

    parts = urlsplit(clean_sandbox.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request('GET', '/apis', headers={'Accept': AGGREGATED, 'Authorization': f'Bearer {clean_sandbox.token}'})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    assert resp.status == 200
    assert resp.getheader('Content-Type') == 'application/json'


def test_unknown_paths(raw):
    status, body = raw('GET', '/apis/everest.percona.com/v1alpha1/namespaces/default/nothings')
    assert status == 404 and body['message'] == 'the server could not find the requested resource'
    assert raw('GET', '/apis/nope.example.com/v1')[0] == 404
    assert raw('GET', '/nothing/here')[0] == 404
    status, body = raw('POST', '/api/v1/configmaps', {'metadata': {'name': 'x'}})
    assert status == 405 and body['reason'] == 'MethodNotAllowed'


def test_kubectl_get_namespaces(kubectl):
    proc = kubectl('get', 'ns', '-o', 'name')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [
        'namespace/default',
        'namespace/everest-monitoring',
        'namespace/everest-olm',
        'namespace/everest-system',
        'namespace/kube-system',
    ]
    proc = kubectl('get', 'ns')
    assert proc.returncode == 0 and proc.stdout.splitlines()[0].split()[0] == 'NAME'


def test_kubectl_get_short_names_and_json(kubectl):
    proc = kubectl('get', 'cm', 'everest-rbac', '-n', 'everest-system', '-o', 'json')
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)['data']['enabled'] == 'false'
    proc = kubectl('get', 'db', '-A')
    assert proc.returncode == 0, proc.stderr
    assert 'No resources found' in proc.stderr
    proc = kubectl('get', 'deploy', 'everest-server', '-n', 'everest-system', '-o', 'jsonpath={.spec.template.spec.containers[0].image}')
    assert proc.stdout == 'perconalab/everest:1.10.0'


def test_kubectl_apply_crd_then_use_short_name(kubectl, tmp_path):
    crd = tmp_path / 'crd.yaml'
    crd.write_text(TRP_CRD, encoding='utf-8')
    assert kubectl('create', 'namespace', 'x').returncode == 0
    proc = kubectl('apply', '-f', str(crd))
    assert proc.returncode == 0, proc.stderr
    assert 'customresourcedefinition.apiextensions.k8s.io/tenantresourcepolicies.everest.local created' in proc.stdout
    proc = kubectl('get', 'trp', '-n', 'x')
    assert proc.returncode == 0, proc.stderr
    assert 'No resources found in x namespace.' in proc.stderr
    doc = {'apiVersion': 'everest.local/v1', 'kind': 'TenantResourcePolicy', 'metadata': {'name': 'p1', 'namespace': 'x'}, 'spec': {'limits': {'cpuCores': 2}}}
    manifest = tmp_path / 'trp.yaml'
    manifest.write_text(yaml.safe_dump(doc), encoding='utf-8')
    proc = kubectl('apply', '-f', str(manifest))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == 'tenantresourcepolicy.everest.local/p1 created'
    doc['spec']['limits']['cpuCores'] = 3
    manifest.write_text(yaml.safe_dump(doc), encoding='utf-8')
    proc = kubectl('apply', '-f', str(manifest))
    assert proc.stdout.strip() == 'tenantresourcepolicy.everest.local/p1 configured'
    proc = kubectl('get', 'trp', 'p1', '-n', 'x', '-o', 'jsonpath={.spec.limits.cpuCores} {.metadata.generation}')
    assert proc.stdout == '3 2'
    doc['spec']['limits']['cpuCores'] = -1
    manifest.write_text(yaml.safe_dump(doc), encoding='utf-8')
    proc = kubectl('apply', '-f', str(manifest))
    assert proc.returncode == 1
    assert 'spec.limits.cpuCores: Invalid value: -1: spec.limits.cpuCores in body should be greater than or equal to 0' in proc.stderr
    doc['spec']['limits'] = {'cpuCores': 1, 'bogus': True}
    manifest.write_text(yaml.safe_dump(doc), encoding='utf-8')
    proc = kubectl('apply', '-f', str(manifest))
    assert proc.returncode == 1
    assert 'strict decoding error: unknown field "spec.limits.bogus"' in proc.stderr


def test_kubectl_create_and_delete(kubectl, raw):
    proc = kubectl('create', 'namespace', 'ns-k')
    assert proc.returncode == 0 and proc.stdout.strip() == 'namespace/ns-k created'
    proc = kubectl('create', 'configmap', 'c1', '-n', 'ns-k', '--from-literal=a=b')
    assert proc.returncode == 0, proc.stderr
    assert raw('GET', '/api/v1/namespaces/ns-k/configmaps/c1')[1]['data'] == {'a': 'b'}
    proc = kubectl('create', 'configmap', 'c1', '-n', 'ns-k')
    assert proc.returncode == 1
    assert 'configmaps "c1" already exists' in proc.stderr
    proc = kubectl('create', 'secret', 'generic', 's1', '-n', 'ns-k', '--from-literal=p=q')
    assert proc.returncode == 0, proc.stderr
    proc = kubectl('label', 'ns', 'ns-k', 'app.kubernetes.io/managed-by=everest')
    assert proc.returncode == 0, proc.stderr
    assert kubectl('get', 'ns', '-l', 'app.kubernetes.io/managed-by=everest', '-o', 'name').stdout.split() == ['namespace/ns-k']
    proc = kubectl('delete', 'configmap', 'c1', '-n', 'ns-k')
    assert proc.returncode == 0 and proc.stdout.strip() == 'configmap "c1" deleted'
    proc = kubectl('delete', 'ns', 'ns-k')
    assert proc.returncode == 0, proc.stderr
    assert raw('GET', '/api/v1/namespaces/ns-k/secrets/s1')[0] == 404
    proc = kubectl('get', 'ns', 'ns-k')
    assert proc.returncode == 1 and 'namespaces "ns-k" not found' in proc.stderr


def test_kubectl_without_token_is_refused(clean_sandbox, kubectl_cache, tmp_path):
    import shutil  # pylint: disable=import-outside-toplevel
    import subprocess  # pylint: disable=import-outside-toplevel

    cfg = yaml.safe_load(open(clean_sandbox.kubectl_kubeconfig, encoding='utf-8'))
    cfg['users'][0]['user']['token'] = 'wrong'
    path = tmp_path / 'bad-kubeconfig'
    path.write_text(yaml.safe_dump(cfg), encoding='utf-8')
    proc = subprocess.run(
        [shutil.which('kubectl') or 'kubectl', '--kubeconfig', str(path), '--cache-dir', str(kubectl_cache), 'get', 'ns'],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={'PATH': '/usr/bin:/bin', 'HOME': str(tmp_path)},
    )
    assert proc.returncode == 1
    assert 'Unauthorized' in proc.stderr or 'provide credentials' in proc.stderr


def test_kubectl_scale_and_server_side_apply(kubectl, raw, tmp_path):
    proc = kubectl('scale', 'deploy/everest-server', '-n', 'everest-system', '--replicas=2')
    assert proc.returncode == 0, proc.stderr
    assert raw('GET', '/apis/apps/v1/namespaces/everest-system/deployments/everest-server')[1]['spec']['replicas'] == 2
    manifest = tmp_path / 'cm.yaml'
    manifest.write_text('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa, namespace: default}\ndata: {a: "1"}\n', encoding='utf-8')
    proc = kubectl('apply', '--server-side', '-f', str(manifest))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == 'configmap/ssa serverside-applied'
    assert raw('GET', '/api/v1/namespaces/default/configmaps/ssa')[1]['data'] == {'a': '1'}


TABLE_ACCEPT = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json'


def test_table_answers(raw):
    status, table = raw('GET', '/api/v1/namespaces', headers={'Accept': TABLE_ACCEPT})
    assert status == 200
    assert table['kind'] == 'Table' and table['apiVersion'] == 'meta.k8s.io/v1'
    assert [c['name'] for c in table['columnDefinitions']] == ['Name', 'Status', 'Age']
    assert table['rows'][0]['cells'][:2] == ['default', 'Active']
    assert table['rows'][0]['object']['kind'] == 'PartialObjectMetadata'
    _st, table = raw('GET', '/api/v1/namespaces/everest-system/configmaps/everest-rbac?includeObject=Object', headers={'Accept': TABLE_ACCEPT})
    assert table['rows'][0]['cells'][:2] == ['everest-rbac', 2]
    assert table['rows'][0]['object']['data']['enabled'] == 'false'
    _st, plain = raw('GET', '/api/v1/namespaces')
    assert plain['kind'] == 'NamespaceList'


def test_kubectl_get_uses_printer_columns(kubectl, tmp_path):
    crd = tmp_path / 'crd.yaml'
    crd.write_text(
        TRP_CRD.replace(
            '    subresources: {status: {}}\n',
            '    subresources: {status: {}}\n'
            '    additionalPrinterColumns:\n'
            '    - {name: CPU, type: integer, jsonPath: .spec.limits.cpuCores}\n'
            '    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}\n',
        ),
        encoding='utf-8',
    )
    assert kubectl('apply', '-f', str(crd)).returncode == 0
    doc = tmp_path / 'trp.yaml'
    doc.write_text(
        'apiVersion: everest.local/v1\nkind: TenantResourcePolicy\nmetadata: {name: p1, namespace: default}\nspec: {limits: {cpuCores: 4}}\n', encoding='utf-8'
    )
    assert kubectl('apply', '-f', str(doc)).returncode == 0
    proc = kubectl('get', 'trp', '-n', 'default')
    assert proc.returncode == 0, proc.stderr
    header, row = proc.stdout.splitlines()
    assert header.split() == ['NAME', 'CPU', 'AGE']
    assert row.split()[:2] == ['p1', '4']
    proc = kubectl('get', 'ns', 'everest-system')
    assert proc.stdout.splitlines()[1].split()[:2] == ['everest-system', 'Active']


def test_watch_not_advertised_and_refused_clearly(kubectl, raw):
    """The emulator serves no watches: discovery does not list the verb (for built-ins and CRDs alike), and kubectl
    -w gets the real 405 plus a Warning line that says why, after the list it printed."""
    for gv_path in ('/api/v1', '/apis/apps/v1', '/apis/everest.percona.com/v1alpha1', '/apis/apiextensions.k8s.io/v1'):
        _st, listing = raw('GET', gv_path)
        assert all('watch' not in r['verbs'] for r in listing['resources']), gv_path
    proc = kubectl('api-resources', '--verbs=watch', '-o', 'name')
    assert proc.stdout.strip() == ''
    proc = kubectl('get', 'ns', '-w', '--request-timeout=20s')
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[0].split() == ['NAME', 'STATUS', 'AGE'] and 'everest-system' in proc.stdout
    assert 'Warning: watch is not supported by the sandbox Kubernetes API emulator; use get/list without --watch' in proc.stderr
    assert 'Error from server (MethodNotAllowed)' in proc.stderr
    proc = kubectl('get', 'cm', '-n', 'everest-system', '--watch-only', '--request-timeout=20s')
    assert proc.returncode == 1 and 'Warning: watch is not supported' in proc.stderr
    # everything else kubectl needs discovery for still works
    assert kubectl('get', 'db', '-A').returncode == 0
    proc = kubectl('api-resources', '--verbs=list', '-o', 'name')
    assert {'namespaces', 'configmaps', 'databaseclusters.everest.percona.com'} <= set(proc.stdout.split())
