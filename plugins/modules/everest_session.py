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
  - "The registered result holds the token, but the module's action plugin marks the result of a login as secret, the
    way a task-level C(no_log: true) does: no output shows it (the screen at any verbosity, callbacks, AWX job events),
    while the registered variable keeps it for later tasks. A task-level C(no_log) is therefore not needed. A failed
    login stays visible (its message never holds the password or a token); so does a logout, which returns nothing secret."
  - Do not print the registered variable (for example with M(ansible.builtin.debug)) or pass it to a task whose output
    is shown; the token is a bearer credential of the user for its whole lifetime (24 hours by default).
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
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
    details:
      - The action plugin runs the module and hides a login's result from the output (see the description).
      - C(async) is refused, since C(async_status) would return the token without that protection.
seealso:
  - module: virakcloud.everest.everest_database_cluster
"""

EXAMPLES = r"""
- name: Log in as alice once
  virakcloud.everest.everest_session:
    everest_url: https://everest.example.com
    everest_username: alice
    everest_password: "{{ alice_password }}"
  register: alice_session  # the output never shows the token; later tasks use alice_session.token

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
  description: The session token (JWT). Secret; the action plugin hides the result from the output, do not print it.
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
from ansible_collections.virakcloud.everest.plugins.module_utils import _everest_client


def main():
    module = EverestModule(
        argument_spec=_everest_client.argument_spec(dict(state=dict(type='str', choices=['present', 'absent'], default='present'))),
        supports_check_mode=True,
        k8s=False,
    )
    params = module.params
    try:
        _everest_client.check_url(params)
        if params['state'] == 'absent':
            if not params.get('everest_token'):
                raise ValidationError('state=absent logs out everest_token; give the token to revoke')
            client = _everest_client.client_from_params(params, username=None, password=None)
            user = _everest_client.token_user(params['everest_token'])
            if module.check_mode:
                module.exit_json(changed=True, username=user)
            try:
                client.logout()
            except _everest_client.EverestApiUnauthorized:
                module.exit_json(changed=False, username=user, msg='the token was already invalid (expired or revoked)')
            module.exit_json(changed=True, username=user)
        if not params.get('everest_username') or params.get('everest_password') is None:
            raise ValidationError('logging in needs everest_username and everest_password')
        client = _everest_client.client_from_params(params, token=None)
        token = client.login()
    except EverestError as exc:
        module.fail_from(exc, changed=False)
    claims = _everest_client.token_claims(token)
    expires = claims.get('exp')
    module.exit_json(
        changed=False,
        token=token,
        username=_everest_client.token_user(token) or params['everest_username'],
        expires_at=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(expires)) if isinstance(expires, (int, float)) else None,
    )


if __name__ == '__main__':
    main()
