#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: everest_cluster_info
short_description: Preflight facts about an Everest installation (everestctl, cluster, Everest, RBAC, accounts, CRD)
version_added: 0.1.0
author:
  - VirakCloud (@virakcloud)
description:
  - Read-only preflight for the other modules of this collection. Reports whether C(everestctl) is found and its client
    version, whether the Kubernetes API server is reachable, whether Everest is installed (Deployment
    C(everest-system/everest-server), or the legacy C(percona-everest)) and its version (the image tag of container
    C(everest)), whether the RBAC ConfigMap C(everest-system/everest-rbac) exists and whether RBAC is enabled in it,
    whether the accounts Secret C(everest-system/everest-accounts) exists, and whether the
    C(tenantresourcepolicies.everest.local) CRD is installed and C(Established).
  - With O(fail_on_missing=true) the task fails naming every missing prerequisite and how to fix it.
  - With O(tenant_label), also returns which namespaces each value of that label owns (the Namespaces carrying the label
    and the namespaces holding a TenantResourcePolicy carrying it; two LISTs), so a playbook can check tenant ownership
    without one call per tenant.
  - Costs at most seven GETs/LISTs and, only when the everestctl binary changed since the last run, one
    C(everestctl version --client-only) (see O(version_cache)).
options:
  fail_on_missing:
    description:
      - Fail when a prerequisite is missing (everestctl not found, cluster unreachable, Everest not installed, RBAC
        ConfigMap or accounts Secret missing). The message names each one with its fix.
      - The CRD is not a prerequisite (the collection installs it); see O(require_crd).
    type: bool
    default: false
  require_crd:
    description: With O(fail_on_missing=true), also fail when the TenantResourcePolicy CRD is missing or not Established.
    type: bool
    default: false
  require_everestctl:
    description: With O(fail_on_missing=true), fail when everestctl is not found. Set V(false) for read-only plays.
    type: bool
    default: true
  tenant_label:
    description:
      - Label key whose values name tenants (for example V(virakcloud.everest/tenant)). When set, RV(tenant_namespaces)
        maps each value to the Namespaces labelled with it and the namespaces holding a TenantResourcePolicy labelled
        with it.
    type: str
  ownership:
    description:
      - Also return RV(ownership), which tenant owns which namespace, account and RBAC block, and which names the RBAC
        policy binds (for the checks of SSO identities), read from the objects this module reads anyway (the labelled
        Namespaces, the accounts Secret, the RBAC ConfigMap), so the check costs no extra request. The role checks every
        tenant against it before anything is written.
    type: bool
    default: false
  version_cache:
    description:
      - Remember the everestctl client version per binary (path, size and modification time) in
        C($XDG_CACHE_HOME/virakcloud.everest/everestctl-version-<hash>.json) (default C(~/.cache/...); one file per
        binary, so concurrent runs never overwrite each other's entries), so repeated runs do not execute everestctl
        at all. V(false) runs C(everestctl version --client-only) every time.
    type: bool
    default: true
extends_documentation_fragment:
  - virakcloud.everest.connection
  - virakcloud.everest.everestctl
  - virakcloud.everest.attributes
  - virakcloud.everest.attributes.info_module
notes:
  - The accounts Secret is read to see that it exists; nothing of its content is returned, except the account names
    with O(ownership=true).
seealso:
  - module: virakcloud.everest.tenant_resource_policy_crd
  - module: virakcloud.everest.everest_namespace_info
"""

EXAMPLES = r"""
- name: Preflight, fail fast with the fix
  virakcloud.everest.everest_cluster_info:
    fail_on_missing: true
  register: everest_cluster

- name: Show the versions
  ansible.builtin.debug:
    msg: "everestctl {{ everest_cluster.everestctl.version }}, Everest {{ everest_cluster.everest.version }}"

- name: Which namespaces does each tenant own?
  virakcloud.everest.everest_cluster_info:
    tenant_label: virakcloud.everest/tenant
  register: owners
"""

RETURN = r"""
everestctl:
  description: The everestctl binary.
  returned: always
  type: dict
  contains:
    found:
      description: Whether an executable everestctl was found (O(everestctl_path), E(EVERESTCTL_PATH) or E(PATH)).
      type: bool
      sample: true
    path:
      description: Its path (null when not found).
      type: str
      sample: /usr/local/bin/everestctl
    version:
      description: Client version (C(everestctl version --client-only)); null when not found or it failed.
      type: str
      sample: v1.10.0
    version_cached:
      description: Whether the version came from the cache (no everestctl run).
      type: bool
      sample: true
    error:
      description: Why everestctl could not be used or its version read (null when fine).
      type: str
      sample: null
cluster:
  description: The Kubernetes API server.
  returned: always
  type: dict
  contains:
    reachable:
      description: Whether the API server answered.
      type: bool
      sample: true
    server:
      description: API server URL (null when the connection options could not be loaded).
      type: str
      sample: https://10.0.0.1:6443
    error:
      description: Why it is not reachable (null when fine).
      type: str
      sample: null
everest:
  description: The Everest installation.
  returned: always
  type: dict
  contains:
    installed:
      description: Whether Deployment C(everest-system/everest-server) (or legacy C(percona-everest)) exists.
      type: bool
      sample: true
    deployment:
      description: Name of the Deployment found.
      type: str
      sample: everest-server
    version:
      description: Everest version (image tag of container C(everest), leading V(v) removed), null when unknown.
      type: str
      sample: 1.10.0
rbac:
  description: The RBAC ConfigMap C(everest-system/everest-rbac).
  returned: always
  type: dict
  contains:
    present:
      description: Whether it exists.
      type: bool
      sample: true
    enabled:
      description: Whether key C(enabled) is C("true") (null when the ConfigMap is missing).
      type: bool
      sample: false
accounts:
  description: The accounts Secret C(everest-system/everest-accounts).
  returned: always
  type: dict
  contains:
    present:
      description: Whether it exists.
      type: bool
      sample: true
crd:
  description: The C(tenantresourcepolicies.everest.local) CRD.
  returned: always
  type: dict
  contains:
    present:
      description: Whether it exists.
      type: bool
      sample: true
    established:
      description: Whether its C(Established) condition is C(True).
      type: bool
      sample: true
tenant_namespaces:
  description: Label value -> sorted namespaces that are labelled with O(tenant_label) set to it or hold a
    TenantResourcePolicy labelled so.
  returned: when O(tenant_label) is set
  type: dict
  sample: {alice: [ns-alice], bob: [ns-bob]}
ownership:
  description: Who owns what in the cluster (see the module _ownership of this collection for the rules).
  returned: when O(ownership=true)
  type: dict
  contains:
    namespaces:
      description: Namespace -> tenant (its C(virakcloud.everest/tenant) label).
      type: dict
      sample: {ns-alice: alice}
    accounts:
      description: Account -> tenant (the accounts Secret's record, else the tenant whose RBAC block binds it).
      type: dict
      sample: {alice: alice}
    existing_accounts:
      description: Every account that exists (names only).
      type: list
      elements: str
      sample: [admin, alice]
    blocks:
      description: RBAC block -> tenant (its metadata line, else the owner of the namespace it is named after).
      type: dict
      sample: {ns-alice: alice}
    members:
      description:
        - Name -> the managed RBAC blocks whose C(g) lines bind it (local users, SSO subjects and IdP groups alike).
        - The role refuses an SSO identity another tenant's block binds (unless both declare it shared).
      type: dict
      sample: {alice: [ns-alice], /acme/dbas: [ns-acme]}
    shared:
      description: Block -> the members it declares shared on purpose with other tenants (its C(# sso-shared <name>) lines).
      type: dict
      sample: {ns-acme: [/corp/dba-oncall]}
    policy_names:
      description:
        - Names other than C(role:...) that lines outside the tenants' blocks grant to or bind (C(p) subjects, C(g)
          members and targets), for example C(admin) of the chart's C(g, admin, role:admin).
        - An IdP group or OIDC subject of such a name would inherit those grants (one flat name space), so the role refuses it.
      type: list
      elements: str
      sample: [admin]
missing:
  description: The missing prerequisites, each with C(name), C(problem) and C(fix).
  returned: always
  type: list
  elements: dict
  sample: [{name: rbac_configmap, problem: "ConfigMap everest-system/everest-rbac not found", fix: "..."}]
ready:
  description: Whether nothing in RV(missing).
  returned: always
  type: bool
  sample: true
"""

import os

from ansible_collections.virakcloud.everest.plugins.module_utils._module import EverestModule
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError, K8sApiError
from ansible_collections.virakcloud.everest.plugins.module_utils._everestctl import Everestctl
from ansible_collections.virakcloud.everest.plugins.module_utils import _accounts
from ansible_collections.virakcloud.everest.plugins.module_utils import _constants
from ansible_collections.virakcloud.everest.plugins.module_utils import _k8s
from ansible_collections.virakcloud.everest.plugins.module_utils import _ownership
from ansible_collections.virakcloud.everest.plugins.module_utils import _rbac
from ansible_collections.virakcloud.everest.plugins.module_utils import _rbac_store
from ansible_collections.virakcloud.everest.plugins.module_utils import _cache
from ansible_collections.virakcloud.everest.plugins.module_utils import _trp_crd


FIXES = {
    'everestctl': 'install everestctl (https://docs.percona.com/everest/install/installEverestCLI.html) or set everestctl_path / EVERESTCTL_PATH',
    'cluster': 'check kubeconfig/context (or K8S_AUTH_KUBECONFIG) and that the API server is reachable from the controller',
    'everest': 'install Everest in the cluster (everestctl install) or point kubeconfig/context at the cluster that has it',
    'rbac_configmap': 'the Everest Helm chart creates everest-system/everest-rbac at install; re-install or upgrade Everest, or create it '
    'with data {enabled: "false", policy.csv: "g, admin, role:admin"}',
    'accounts_secret': 'the Everest Helm chart creates everest-system/everest-accounts at install; re-install or upgrade Everest',
    'crd': 'install it with virakcloud.everest.tenant_resource_policy_crd (or kubectl apply -f files/crd-tenantresourcepolicy.yaml)',
}


def image_tag(image):
    """Tag of an image reference ('repo/everest:1.10.0' -> '1.10.0'); digests and ports are handled."""
    if not image:
        return None
    image = image.split('@', 1)[0]
    last = image.rsplit('/', 1)[-1]
    if ':' not in last:
        return None
    return last.rsplit(':', 1)[1] or None


def everest_version(deployment):
    containers = (((deployment.get('spec') or {}).get('template') or {}).get('spec') or {}).get('containers') or []
    for container in containers:
        if container.get('name') == 'everest':
            tag = image_tag(container.get('image'))
            if tag and tag.startswith('v'):
                tag = tag[1:]
            return tag
    return None


VERSION_CACHE_KIND = 'everestctl-version'


def _binary_key(binary):
    real = os.path.realpath(binary)
    st = os.stat(real)
    return '%s|%d|%d' % (real, st.st_size, int(st.st_mtime * 1000000))


def cached_version(binary, runner, use_cache):
    """(version, from_cache). Any problem with the cache just means running everestctl."""
    key = None
    if use_cache:
        try:
            key = _binary_key(binary)
        except OSError:
            key = None
        version = _cache.load(VERSION_CACHE_KIND, key) if key else None
        if version:
            return version, True
    version = runner.version()
    if use_cache and key and version:
        _cache.store(VERSION_CACHE_KIND, key, version)
    return version, False


def find_everestctl(module):
    binary = module.params.get('everestctl_path')  # type path: already expanded
    if binary:
        if os.path.isfile(binary) and os.access(binary, os.X_OK):
            return binary, None
        return None, 'everestctl_path %s is not an executable file' % binary
    binary = module.get_bin_path('everestctl')
    if binary:
        return binary, None
    return None, 'everestctl was not found in PATH (and neither everestctl_path nor EVERESTCTL_PATH is set)'


def _api_error_text(exc):
    return exc.msg if isinstance(exc, EverestError) else str(exc)


def gather(module):
    """Collect the facts; never raises for a missing prerequisite."""
    facts = {
        'everestctl': {'found': False, 'path': None, 'version': None, 'version_cached': False, 'error': None},
        'cluster': {'reachable': False, 'server': None, 'error': None},
        'everest': {'installed': False, 'deployment': None, 'version': None},
        'rbac': {'present': False, 'enabled': None},
        'accounts': {'present': False},
        'crd': {'present': False, 'established': False},
    }
    client = None
    try:
        params = dict((name, module.params.get(name)) for name in _k8s.AUTH_OPTIONS)
        client = _k8s.client_from_params(params)
        for secret in client.secrets:
            module.no_log_values.add(secret)
        facts['cluster']['server'] = client.config.server
    except EverestError as exc:
        facts['cluster']['error'] = exc.msg

    binary, problem = find_everestctl(module)
    facts['everestctl']['path'] = binary
    facts['everestctl']['found'] = binary is not None
    facts['everestctl']['error'] = problem
    if binary is not None:
        runner = Everestctl(
            binary,
            kubeconfig=client.kubeconfig_path if client is not None else None,
            pass_fds=client.private_fds if client is not None else (),
            timeout=module.params.get('everestctl_timeout') or 900,
            secrets=client.secrets if client is not None else (),
        )
        try:
            version, cached = cached_version(binary, runner, module.params['version_cache'])
            facts['everestctl']['version'] = version
            facts['everestctl']['version_cached'] = cached
        except EverestError as exc:
            facts['everestctl']['error'] = 'everestctl version --client-only failed: %s' % exc.msg

    if client is None:
        return facts, None
    try:
        deployment = None
        for name in _constants.SERVER_DEPLOYMENTS:
            deployment = client.get_or_none(_k8s.path('apps/v1', 'deployments', _constants.SYSTEM_NAMESPACE, name))
            facts['cluster']['reachable'] = True
            if deployment is not None:
                facts['everest'].update(installed=True, deployment=name, version=everest_version(deployment))
                break
        rbac = _rbac_store.read_configmap(client)
        if rbac is not None:
            facts['rbac'].update(present=True, enabled=(rbac.get('data') or {}).get(_constants.RBAC_ENABLED_KEY) == 'true')
        secret = client.get_or_none(_k8s.path('v1', 'secrets', _constants.SYSTEM_NAMESPACE, _constants.ACCOUNTS_SECRET))
        facts['accounts']['present'] = secret is not None
        objects = {'rbac': rbac, 'secret': secret, 'namespaces': []}
        crd = client.get_or_none(_trp_crd.CRD_PATH)
        if crd is not None:
            facts['crd'].update(present=True, established=_trp_crd.crd_established(crd))
        owners = None
        label = module.params.get('tenant_label') or (_constants.TENANT_LABEL if module.params['ownership'] else None)
        if label:
            owners = {}
            # a tenant owns the Namespaces labelled with its name and the namespaces of its labelled policies
            objects['namespaces'] = client.list(_k8s.path('v1', 'namespaces'), label_selector=label)['items']
            labelled = [(n, (n.get('metadata') or {}).get('name')) for n in objects['namespaces']]
            if crd is not None:
                items = _k8s.list_items(client, _k8s.path(_constants.TRP_API_VERSION, _constants.TRP_PLURAL), label_selector=label)
                labelled.extend((item, (item.get('metadata') or {}).get('namespace')) for item in items)
            for item, namespace in labelled:
                value = ((item.get('metadata') or {}).get('labels') or {}).get(label)
                if value is not None:
                    owners.setdefault(value, set()).add(namespace)
            owners = dict((k, sorted(v)) for k, v in owners.items())
        if module.params['ownership']:
            facts['ownership'] = ownership_facts(objects)
        return facts, owners
    except K8sApiError as exc:
        if not facts['cluster']['reachable']:
            facts['cluster']['error'] = _api_error_text(exc)
            return facts, ({} if module.params.get('tenant_label') else None)
        raise
    finally:
        client.close()


def ownership_facts(objects):
    """RV(ownership) from the objects gather() read (no extra request)."""
    namespaces = _ownership.namespace_owner_map(objects['namespaces'])
    text = ((objects['rbac'] or {}).get('data') or {}).get(_constants.RBAC_POLICY_KEY) or ''
    try:
        blocks = _rbac.get_blocks(text)
    except _rbac.BlockError:
        blocks = {}
    existing = sorted(_accounts.parse_accounts_secret(objects['secret'])) if objects['secret'] is not None else []
    facts = {
        'namespaces': namespaces,
        'blocks': _ownership.block_owners(blocks, namespaces),
        'accounts': _ownership.account_owner_map(objects['secret'], blocks, namespaces),
        'existing_accounts': existing,
    }
    facts.update(_ownership.identity_facts(text, blocks, namespaces))
    return facts


def missing_items(facts, params):
    missing = []

    def add(name, problem):
        missing.append({'name': name, 'problem': problem, 'fix': FIXES[name]})

    if not facts['everestctl']['found'] and params['require_everestctl']:
        add('everestctl', facts['everestctl']['error'] or 'everestctl not found')
    if not facts['cluster']['reachable']:
        add('cluster', 'Kubernetes API server not reachable: %s' % (facts['cluster']['error'] or 'unknown error'))
        return missing
    if not facts['everest']['installed']:
        add('everest', 'Everest is not installed: no Deployment everest-system/everest-server (nor legacy percona-everest)')
    if not facts['rbac']['present']:
        add('rbac_configmap', 'ConfigMap everest-system/everest-rbac not found')
    if not facts['accounts']['present']:
        add('accounts_secret', 'Secret everest-system/everest-accounts not found')
    if params['require_crd'] and not facts['crd']['established']:
        add('crd', 'CustomResourceDefinition %s %s' % (_constants.TRP_CRD_NAME, 'is not Established' if facts['crd']['present'] else 'not found'))
    return missing


def main():
    module = EverestModule(
        argument_spec=dict(
            fail_on_missing=dict(type='bool', default=False),
            require_crd=dict(type='bool', default=False),
            require_everestctl=dict(type='bool', default=True),
            tenant_label=dict(type='str'),
            ownership=dict(type='bool', default=False),
            version_cache=dict(type='bool', default=True),
        ),
        supports_check_mode=True,
        k8s=True,
        everestctl=True,
    )
    try:
        facts, owners = gather(module)
    except EverestError as exc:
        module.fail_from(exc)
    missing = missing_items(facts, module.params)
    result = dict(changed=False, missing=missing, ready=not missing, **facts)
    if module.params.get('tenant_label'):
        result['tenant_namespaces'] = owners or {}
    if module.params['ownership']:
        result.setdefault(
            'ownership', {'namespaces': {}, 'blocks': {}, 'accounts': {}, 'existing_accounts': [], 'members': {}, 'shared': {}, 'policy_names': []}
        )
    if missing and module.params['fail_on_missing']:
        msg = 'Everest preflight failed: ' + '; '.join('%s (fix: %s)' % (m['problem'], m['fix']) for m in missing)
        module.fail_json(msg=msg, **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
