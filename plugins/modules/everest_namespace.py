#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: everest_namespace
short_description: Manage Percona Everest database namespaces
version_added: 0.1.0
author:
  - VirakCloud (@virakcloud)
description:
  - Makes a Kubernetes namespace an Everest database namespace with the wanted database operators, adds operators to
    it, or removes it from Everest (or several namespaces, with O(namespaces)).
  - Reads the Namespace (label C(app.kubernetes.io/managed-by=everest)) and, when it exists, its OLM Subscriptions
    (installed operators) and its DatabaseClusters first, and only runs C(everestctl namespaces add), C(update) or
    C(remove) when something must change.
options:
  name:
    description:
      - Namespace name. RFC 1035 label, at most 63 characters, not C(everest-system), C(everest-monitoring) or
        C(everest-olm) (checked before anything runs).
      - Mutually exclusive with O(namespaces); one of them is required.
    type: str
  state:
    description:
      - V(present) makes sure the namespace is managed by Everest with at least the operators set to V(true).
      - V(absent) removes it from Everest (C(everestctl namespaces remove)).
    type: str
    choices: [present, absent]
    default: present
  operators:
    description:
      - Database operators wanted in the namespace. At least one must be V(true) with O(state=present).
      - An operator left out is not installed on creation and kept when it is already installed.
      - Everest cannot remove an installed operator; requesting V(false) for one (also for a Subscription already present in
        a namespace to adopt) fails before anything runs unless O(ignore_operator_removal=true).
    type: dict
    suboptions:
      mysql:
        description: Percona XtraDB Cluster (MySQL) operator.
        type: bool
        aliases: [xtradb_cluster]
      postgresql:
        description: Percona PostgreSQL operator.
        type: bool
      mongodb:
        description: Percona Server for MongoDB operator.
        type: bool
  take_ownership:
    description:
      - Adopt a namespace that exists but is not managed by Everest (C(--take-ownership)). Without it such a namespace
        makes the task fail.
      - Reserved namespaces (see O(reserved_namespaces)) are never adopted, whatever this says.
      - A namespace that carries O(tenant)'s own tenant label is adopted without it (it is the tenant's own namespace,
        left unmanaged by an interrupted creation or kept at offboarding).
    type: bool
    default: false
  tenant:
    description:
      - The tenant that owns the namespace, recorded as its label C(virakcloud.everest/tenant) and checked against the
        cluster before every write, whoever runs the task. A namespace labelled for another tenant is refused before
        anything is written (the message names the owner), unless O(takeover_from) names that tenant; removing it
        (O(state=absent)) is always refused.
      - A new namespace is first created with this label (an atomic claim; of two tenants racing for one name, the
        second is refused) and then handed to C(everestctl namespaces add --take-ownership).
    type: str
  takeover_from:
    description:
      - Explicit handover, the tenant that owns the namespace now; it then passes to O(tenant).
    type: str
  reserved_namespaces:
    description:
      - Namespaces (shell-style patterns) that no task may add, adopt or remove, on top of the built-in ones,
        Everest's (C(everest-*)), Kubernetes' (C(kube-*)), C(default) and C(openshift-*). Checked before anything runs.
    type: list
    elements: str
    default: []
  ignore_operator_removal:
    description:
      - When an installed operator is requested V(false), warn and keep it instead of failing.
    type: bool
    default: false
  keep_namespace:
    description:
      - With O(state=absent), remove only Everest's resources and label and keep the Kubernetes namespace (C(--keep-namespace)).
    type: bool
    default: false
  force:
    description:
      - With O(state=absent), also delete every database cluster in the namespace (C(--force)) and their data.
      - Without it the task fails, before running anything, when the namespace holds database clusters, and names them.
    type: bool
    default: false
  labels:
    description:
      - Labels the Kubernetes Namespace must carry with O(state=present), for example the tenant that owns it
        (C(virakcloud.everest/tenant)). Set with a JSON merge patch after everestctl has made the namespace; labels not
        listed here are left alone, so removing a key from O(labels) does not remove the label.
      - Keys and values follow the Kubernetes label rules (checked before anything runs). C(app.kubernetes.io/managed-by)
        belongs to Everest and is refused. A C(virakcloud.everest/tenant) key is an ownership claim, checked like O(tenant).
      - Ignored with O(state=absent).
    type: dict
  timeout:
    description:
      - Seconds one everestctl namespace command may run; then it is killed and the task fails. A retried command
        (after a conflict) gets the full time again.
      - The default is above everestctl's own worst case, so the module never kills a command everestctl would still
        finish. C(namespaces add) and C(update) wait in the chart's install hook up to 600 seconds for each operator
        to be installed (1800 seconds for all three), plus the download of the chart. C(namespaces remove --force)
        waits up to 15 minutes each for the database clusters, the backup storages and the monitoring instances to
        be deleted, then up to 5 minutes for the namespace to go away (about 50 minutes in all).
      - Lower it to fail faster where these steps are known to be quick; the task keyword C(timeout) is a last resort
        that also stops the module's own reads.
    type: int
    default: 3600
  namespaces:
    description:
      - Several namespaces in one task. One Namespace LIST, one Subscription LIST and one DatabaseCluster LIST serve all of
        them; everestctl only runs for the items that change; every item is processed and the task fails naming each
        failed item.
      - Mutually exclusive with O(name).
    type: list
    elements: dict
    suboptions:
      name:
        description: As O(name).
        type: str
        required: true
      state:
        description: As O(state).
        type: str
        choices: [present, absent]
        default: present
      operators:
        description: As O(operators).
        type: dict
        suboptions:
          mysql:
            description: As O(operators.mysql).
            type: bool
            aliases: [xtradb_cluster]
          postgresql:
            description: As O(operators.postgresql).
            type: bool
          mongodb:
            description: As O(operators.mongodb).
            type: bool
      take_ownership:
        description: As O(take_ownership).
        type: bool
        default: false
      ignore_operator_removal:
        description: As O(ignore_operator_removal).
        type: bool
        default: false
      keep_namespace:
        description: As O(keep_namespace).
        type: bool
        default: false
      force:
        description: As O(force).
        type: bool
        default: false
      labels:
        description: As O(labels).
        type: dict
      tenant:
        description: As O(tenant).
        type: str
      takeover_from:
        description: As O(takeover_from).
        type: str
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows C(exists), C(managed), C(operators) and C(labels).
extends_documentation_fragment:
  - virakcloud.everest.connection
  - virakcloud.everest.everestctl
  - virakcloud.everest.attributes
notes:
  - C(everestctl namespaces remove) deletes every backup storage and monitoring instance in the namespace without a prompt.
  - The C(everest-db-namespace) Helm chart must be downloadable by everestctl (or be in its cache).
seealso:
  - module: virakcloud.everest.everest_namespace_info
"""

EXAMPLES = r"""
- name: Database namespace with MySQL and PostgreSQL operators
  virakcloud.everest.everest_namespace:
    name: acme-db
    operators:
      mysql: true
      postgresql: true
  register: acme_ns

- name: Add the MongoDB operator later (installed operators are kept)
  virakcloud.everest.everest_namespace:
    name: acme-db
    operators:
      mongodb: true

- name: Tenant namespace labelled with its owner
  virakcloud.everest.everest_namespace:
    name: ns-alice
    operators:
      postgresql: true
    labels:
      virakcloud.everest/tenant: alice

- name: Adopt an existing namespace
  virakcloud.everest.everest_namespace:
    name: legacy-apps
    operators:
      postgresql: true
    take_ownership: true

- name: What would happen?
  virakcloud.everest.everest_namespace:
    name: acme-db
    operators:
      mysql: true
  check_mode: true
  diff: true

- name: Remove the tenant namespace but keep the Kubernetes namespace
  virakcloud.everest.everest_namespace:
    name: acme-db
    state: absent
    keep_namespace: true
"""

RETURN = r"""
namespace:
  description: The namespace after the task (predicted in check mode).
  returned: when O(name) is used
  type: dict
  contains:
    name:
      description: Namespace name.
      type: str
      sample: acme-db
    exists:
      description: Whether the Kubernetes namespace exists.
      type: bool
      sample: true
    managed:
      description: Whether the namespace carries C(app.kubernetes.io/managed-by=everest).
      type: bool
      sample: true
    operators:
      description: Installed operators (Subscriptions).
      type: dict
      sample: {mysql: true, postgresql: true, mongodb: false}
    labels:
      description: Labels of the Kubernetes Namespace (predicted in check mode).
      type: dict
      sample: {app.kubernetes.io/managed-by: everest, virakcloud.everest/tenant: alice}
    database_clusters:
      description:
        - Number of DatabaseClusters in the namespace, read with one LIST when the namespace exists, for both
          O(state=present) and O(state=absent) (the batch form reads all namespaces with one cluster-wide LIST).
          A cluster without the DatabaseCluster CRD counts V(0).
        - V(0) for a namespace that would be created (check mode) or was just created; null when the namespace does
          not exist (also after a removal without O(keep_namespace)).
      type: int
      sample: 0
cmd:
  description: The everestctl command that ran (or would run, in check mode).
  returned: when O(name) is used and a command ran or would run
  type: list
  elements: str
  sample: [everestctl, namespaces, add, acme-db, --skip-wizard, --operator.mysql=true, --operator.postgresql=true,
           --operator.mongodb=false, --kubeconfig, /root/.kube/config]
results:
  description: One entry per item of O(namespaces), with C(name), C(changed), C(action), C(namespace), C(cmd), or C(failed) and C(msg).
  returned: when O(namespaces) is used
  type: list
  elements: dict
  sample: [{name: acme-db, changed: false, action: none}]
"""

from ansible_collections.virakcloud.everest.plugins.module_utils._module import LazyEverestctl
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError
from ansible_collections.virakcloud.everest.plugins.module_utils import _batch, _namespaces

OPERATORS_SPEC = dict(
    mysql=dict(type='bool', aliases=['xtradb_cluster']),
    postgresql=dict(type='bool'),
    mongodb=dict(type='bool'),
)

ITEM_SPEC = dict(
    name=dict(type='str', required=True),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    operators=dict(type='dict', options=OPERATORS_SPEC),
    take_ownership=dict(type='bool', default=False),
    ignore_operator_removal=dict(type='bool', default=False),
    keep_namespace=dict(type='bool', default=False),
    force=dict(type='bool', default=False),
    labels=dict(type='dict'),
    tenant=dict(type='str'),
    takeover_from=dict(type='str'),
)
# every item is checked against the module's reserved_namespaces
FORM = _batch.BatchForm(
    ITEM_SPEC,
    'namespaces',
    'name',
    'namespace',
    shared=('reserved_namespaces',),
    module_options=dict(
        reserved_namespaces=dict(type='list', elements='str', default=[]),
        timeout=dict(type='int', default=_namespaces.DEFAULT_TIMEOUT),
    ),
)
ARGUMENT_SPEC = FORM.argument_spec()

# the fields of one item in the batch form's results
RESULT_FIELDS = ('name', 'changed', 'action', 'namespace', 'cmd', 'failed', 'msg', 'warnings')


def main():
    module = FORM.module(k8s=True, everestctl=True)
    params = module.params
    items, batch = FORM.items(params)
    FORM.validate(module, items, batch, _namespaces.validate_item, 'namespace(s)')

    runner = LazyEverestctl(module)
    try:
        if not batch:
            result = _namespaces.converge_namespace(module.k8s, runner, items[0], check_mode=module.check_mode, timeout=params['timeout'])
        else:
            results = _namespaces.converge_namespaces(module.k8s, runner, items, check_mode=module.check_mode, timeout=params['timeout'])
    except EverestError as exc:
        module.fail_from(exc)

    if not batch:
        FORM.exit_single(module, result, ('namespace',), optional=('cmd',))
    FORM.exit_batch(module, results, RESULT_FIELDS)


if __name__ == '__main__':
    main()
