#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: everest_namespace_info
short_description: List the database namespaces Percona Everest manages
version_added: 0.1.0
author:
  - VirakCloud (@virakcloud)
description:
  - The Kubernetes API side of C(everestctl namespaces list). Lists the same namespaces as that command, that is
    the Active namespaces labelled C(app.kubernetes.io/managed-by=everest), minus the system namespaces it hides; a
    namespace being deleted (phase C(Terminating) or a deletion timestamp) is left out, as C(namespaces list) leaves
    it out. Or one namespace by O(name). Each comes with the operators installed in it (from the OLM Subscriptions) and its
    DatabaseClusters.
  - Two different notions of "managed". RV(namespaces[].managed) is the label C(app.kubernetes.io/managed-by=everest),
    which is what Everest and M(virakcloud.everest.everest_namespace) decide by (and what selects the listed
    namespaces). The C(MANAGED) column of C(everestctl namespaces list) is something else, V(true) when at least one
    OLM Subscription exists in the namespace; that is RV(namespaces[].operators_installed). The two differ, for
    example, for a namespace labelled by hand or one whose Subscriptions were deleted outside Everest.
  - Three API calls in total for the whole list (Namespaces, Subscriptions, DatabaseClusters).
options:
  name:
    description:
      - Only this namespace, whether managed or not (so you can see C(managed=false)) and also while it is being deleted
        (RV(namespaces[].terminating=true)). Empty list when it does not exist.
    type: str
extends_documentation_fragment:
  - virakcloud.everest.connection
  - virakcloud.everest.everestctl
  - virakcloud.everest.attributes
  - virakcloud.everest.attributes.info_module
seealso:
  - module: virakcloud.everest.everest_namespace
"""

EXAMPLES = r"""
- name: All Everest database namespaces
  virakcloud.everest.everest_namespace_info:
  register: everest_ns

- name: Namespaces that still hold database clusters
  ansible.builtin.debug:
    msg: "{{ everest_ns.namespaces | selectattr('database_clusters', 'gt', 0) | map(attribute='name') | list }}"

- name: One namespace
  virakcloud.everest.everest_namespace_info:
    name: acme-db
  register: acme_ns
"""

RETURN = r"""
namespaces:
  description: The namespaces, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Namespace name.
      type: str
      sample: acme-db
    exists:
      description: Whether the namespace exists (always V(true) in the list).
      type: bool
      sample: true
    managed:
      description:
        - Whether the namespace carries the label C(app.kubernetes.io/managed-by=everest) (always V(true) in the list
          without O(name)).
        - Not the C(MANAGED) column of C(everestctl namespaces list); that is RV(namespaces[].operators_installed).
      type: bool
      sample: true
    operators_installed:
      description:
        - Whether at least one OLM Subscription (of any name) exists in the namespace. This is exactly the C(MANAGED)
          column of C(everestctl namespaces list).
      type: bool
      sample: true
    terminating:
      description:
        - Whether the namespace is being deleted (phase C(Terminating) or a deletion timestamp). Such namespaces are
          only returned when asked for by O(name).
      type: bool
      sample: false
    operators:
      description: Which database operators have a Subscription in the namespace.
      type: dict
      sample: {mysql: true, postgresql: false, mongodb: true}
    subscriptions:
      description: The OLM Subscriptions in the namespace (C(name), C(operator), C(short_name), C(installed_csv), C(state)).
      type: list
      elements: dict
      sample: [{name: percona-xtradb-cluster-operator, operator: mysql, short_name: pxc,
                installed_csv: percona-xtradb-cluster-operator.v1.16.1, state: AtLatestKnown}]
    database_clusters:
      description: Number of DatabaseClusters in the namespace.
      type: int
      sample: 2
    database_cluster_names:
      description: Names of the DatabaseClusters in the namespace.
      type: list
      elements: str
      sample: [orders, billing]
"""

from ansible_collections.virakcloud.everest.plugins.module_utils._module import EverestModule
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError
from ansible_collections.virakcloud.everest.plugins.module_utils import _namespaces


def main():
    module = EverestModule(argument_spec=dict(name=dict(type='str')), supports_check_mode=True, k8s=True)
    try:
        namespaces = _namespaces.list_managed(module.k8s, module.params['name'])
    except EverestError as exc:
        module.fail_from(exc)
    module.exit_json(changed=False, namespaces=namespaces)


if __name__ == '__main__':
    main()
