"""The TenantResourcePolicy CRD file is one document for people and modules alike.

A person runs ``kubectl apply -f files/crd-tenantresourcepolicy.yaml``; the CRD becomes Established, ``kubectl get trp``
shows the printer columns, and the collection's own ensure-CRD code path (``_trp_crd.ensure_crd`` with ``_k8s.K8sClient``,
what tenant_resource_policy and tenant_resource_policy_crd run) then finds nothing to change: the copy embedded in
plugins/module_utils/_trp_crd.py and the file are the same document, and the server's defaults are not a difference.
"""

import json
from pathlib import Path

import yaml

from ansible_collections.virakcloud.everest.plugins.module_utils import _k8s, _trp_crd
from ansible_collections.virakcloud.everest.plugins.module_utils import _trp_policy
from ansible_collections.virakcloud.everest.plugins.module_utils import _constants

REPO = Path(__file__).resolve().parents[2]
CRD_FILE = REPO / 'files' / 'crd-tenantresourcepolicy.yaml'
CRD_PATH = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/' + _constants.TRP_CRD_NAME
WRITE_VERBS = ('create', 'update', 'patch', 'delete')

POLICY = {
    'apiVersion': 'everest.local/v1',
    'kind': 'TenantResourcePolicy',
    'metadata': {'name': 'resource-policy', 'namespace': 'ns-alice'},
    'spec': {'limits': {'cpuCores': 4, 'memoryBytes': 17179869184, 'maxClusters': 3, 'maxDbUsers': 20}, 'selectors': {'engines': ['postgresql', 'mysql']}},
}


def _established(crd):
    return any(c.get('type') == 'Established' and c.get('status') == 'True' for c in (crd.get('status') or {}).get('conditions') or [])


def _writes(sandbox):
    by_verb = sandbox.stats()['by_verb']
    return dict((v, by_verb[v]) for v in WRITE_VERBS if by_verb.get(v))


def test_kubectl_apply_of_the_crd_file_then_the_module_finds_nothing_to_change(kubectl, raw, clean_sandbox, tmp_path):
    assert _trp_crd.CRD_YAML == CRD_FILE.read_text(encoding='utf-8')  # the module installs exactly this file

    proc = kubectl('apply', '-f', str(CRD_FILE))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == 'customresourcedefinition.apiextensions.k8s.io/%s created' % _constants.TRP_CRD_NAME

    # Established, read through the API (and through kubectl's jsonpath, as a person would check it)
    status, crd = raw('GET', CRD_PATH)
    assert status == 200 and _established(crd), crd.get('status')
    assert crd['metadata']['labels'] == {'app.kubernetes.io/managed-by': 'virakcloud.everest'}
    proc = kubectl('get', 'crd', _constants.TRP_CRD_NAME, '-o', 'jsonpath={.status.conditions[?(@.type=="Established")].status}')
    assert proc.returncode == 0 and proc.stdout == 'True', proc.stderr

    # a policy created with kubectl (the seed's example object), listed by its short name with the printer columns
    assert kubectl('create', 'namespace', 'ns-alice').returncode == 0
    manifest = tmp_path / 'trp.yaml'
    manifest.write_text(yaml.safe_dump(POLICY), encoding='utf-8')
    proc = kubectl('apply', '-f', str(manifest))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == 'tenantresourcepolicy.everest.local/resource-policy created'
    proc = kubectl('get', 'trp', '-n', 'ns-alice')
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    columns = [c['name'].upper() for c in yaml.safe_load(CRD_FILE.read_text(encoding='utf-8'))['spec']['versions'][0]['additionalPrinterColumns']]
    assert columns == ['MAX CLUSTERS', 'ENGINES', 'AGE']
    header = lines[0]
    assert header.split('  ')[0] == 'NAME'
    positions = [header.index(name) for name in ['NAME'] + columns]
    assert positions == sorted(positions), header  # in the CRD's order, after NAME
    assert len(lines) == 2, proc.stdout
    row = lines[1]
    cells = [row[start:end].strip() for start, end in zip(positions, positions[1:] + [None])]
    assert cells[:3] == ['resource-policy', '3', json.dumps(['postgresql', 'mysql'], separators=(',', ':'))], proc.stdout
    assert cells[3]  # age, e.g. "0s"

    # the collection's ensure-CRD path with its own client: one GET, no write, no change
    client = _k8s.client_from_params({'kubeconfig': clean_sandbox.kubeconfig})
    try:
        clean_sandbox.reset_stats()
        changed, obj = _trp_crd.ensure_crd(client, wait_timeout=10)
        assert changed is False
        assert _trp_crd.crd_established(obj)
        assert _writes(clean_sandbox) == {}
        assert clean_sandbox.stats()['by_verb'].get('get') == 1
        # check mode says the same
        assert _trp_crd.ensure_crd(client, check_mode=True)[0] is False
        # and the policy kubectl wrote is what the module would write for the same options: no change either
        item = _trp_policy.normalize_item(
            {
                'namespace': 'ns-alice',
                'limits': {'cpu': 4, 'memory': '16Gi', 'max_clusters': 3, 'max_db_users': 20},
                'allowed_engines': ['postgresql', 'mysql'],
                'cluster_quota': False,
            }
        )
        policy = _trp_policy.observe_one(client, 'ns-alice', 'resource-policy', cluster_quota=False)[0]
        assert _trp_policy.canonical_spec(policy['spec']) == item['spec']
    finally:
        client.close()

    # and back: kubectl sees the CRD it applied unchanged
    proc = kubectl('apply', '-f', str(CRD_FILE))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == 'customresourcedefinition.apiextensions.k8s.io/%s unchanged' % _constants.TRP_CRD_NAME
