#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: everest_session
short_description: Log in to Everest's REST API once and return a session token to reuse
version_added: 0.1.0
author:
  - VirakCloud (@virakcloud)
description:
  - Logs in with C(POST /v1/session) and returns the session token (JWT), to be passed to the other REST modules
    (M(virakcloud.everest.everest_database_cluster), ...) as O(everest_token), usually through C(module_defaults).
  - Everest allows one login per second per client IP and doubles a lockout gap after every failed login, so logging in
    from every task is slow and fragile. Log in once per play (or per tenant) with this module.
  - With O(state=absent) the given O(everest_token) is revoked (C(DELETE /v1/session)); Everest then refuses it with 401.
  - "The result holds the token, so give the task C(no_log: true) (see the examples). A module cannot mark its own result
    as secret (ansible-core removes a returned C(_ansible_no_log) key), and adding the token to the values Ansible masks
    would replace it by C(********) in the registered result too, making it useless."
options:
  state:
    description:
      - V(present) logs in (always; a login is not idempotent and the task reports no change).
      - V(absent) logs out the O(everest_token).
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - virakcloud.everest.everest_api
  - virakcloud.everest.attributes
attributes:
  check_mode:
    support: full
    details:
      - A login changes nothing and is also done in check mode (later tasks need the token to compute their changes);
        a logout is skipped in check mode.
  diff_mode:
    support: none
seealso:
  - module: virakcloud.everest.everest_database_cluster
"""

EXAMPLES = r"""
- name: Log in as alice once
  virakcloud.everest.everest_session:
    everest_url: https://everest.example.com
    everest_username: alice
    everest_password: "{{ alice_password }}"
  register: alice_session
  no_log: true

- name: Use the token for the tenant's tasks
  module_defaults:
    virakcloud.everest.everest_database_cluster:
      everest_url: https://everest.example.com
      everest_token: "{{ alice_session.token }}"
  block:
    - name: A PostgreSQL cluster
      virakcloud.everest.everest_database_cluster:
        namespace: ns-alice
        name: pg-alice
        engine: {type: postgresql, replicas: 1, cpu: 1, memory: 2Gi, storage_size: 25Gi}

- name: Log out
  virakcloud.everest.everest_session:
    everest_url: https://everest.example.com
    everest_token: "{{ alice_session.token }}"
    state: absent
"""

RETURN = r"""
token:
  description: The session token (JWT). Secret; keep the task C(no_log).
  returned: when O(state=present)
  type: str
username:
  description: The user the token belongs to (the token's C(sub) claim without C(:login)).
  returned: success
  type: str
  sample: alice
expires_at:
  description: Expiry of the token (UTC, RFC 3339), from its C(exp) claim.
  returned: when O(state=present)
  type: str
  sample: "2026-11-24T10:00:00Z"
"""

import time

from ansible_collections.virakcloud.everest.plugins.module_utils._module import EverestModule
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError, ValidationError
from ansible_collections.virakcloud.everest.plugins.module_utils import _everest_api


def main():
    module = EverestModule(
        argument_spec=_everest_api.argument_spec(dict(state=dict(type='str', choices=['present', 'absent'], default='present'))),
        supports_check_mode=True, k8s=False)
    params = module.params
    try:
        if not params.get('everest_url'):
            raise ValidationError('everest_url is required (or the EVEREST_URL environment variable)')
        if params['state'] == 'absent':
            if not params.get('everest_token'):
                raise ValidationError('state=absent logs out everest_token; give the token to revoke')
            client = _everest_api.EverestClient(params['everest_url'], token=params['everest_token'],
                                                validate_certs=params['everest_validate_certs'], ca_cert=params['everest_ca_cert'],
                                                timeout=params['everest_timeout'])
            user = _everest_api.token_user(params['everest_token'])
            if module.check_mode:
                module.exit_json(changed=True, username=user)
            try:
                client.logout()
            except _everest_api.EverestApiUnauthorized:
                module.exit_json(changed=False, username=user, msg='the token was already invalid (expired or revoked)')
            module.exit_json(changed=True, username=user)
        if not params.get('everest_username') or params.get('everest_password') is None:
            raise ValidationError('logging in needs everest_username and everest_password')
        client = _everest_api.EverestClient(params['everest_url'], username=params['everest_username'],
                                            password=params['everest_password'], validate_certs=params['everest_validate_certs'],
                                            ca_cert=params['everest_ca_cert'], timeout=params['everest_timeout'])
        token = client.login()
    except EverestError as exc:
        module.fail_from(exc, changed=False)
    claims = _everest_api.token_claims(token)
    expires = claims.get('exp')
    module.exit_json(changed=False, token=token, username=_everest_api.token_user(token) or params['everest_username'],
                     expires_at=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(expires)) if isinstance(expires, (int, float)) else None)


if __name__ == '__main__':
    main()
