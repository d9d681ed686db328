#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: everest_oidc
short_description: Percona Everest's OIDC (SSO) settings, changed only when they differ
version_added: 0.1.0
author:
  - VirakCloud (@virakcloud)
description:
  - Makes Everest's OIDC settings (the issuer, the client id of Everest's application in the IdP, and the scopes the UI
    requests) equal to the options, with C(everestctl settings oidc configure).
  - Reads C(oidc.config) of the ConfigMap C(everest-system/everest-settings) first and compares the parsed values
    (scopes as a set). everestctl is run only when something differs; it rewrites the settings and B(restarts the Everest
    server) even when nothing differs, so a no-op run of this module runs nothing.
  - Before anything is changed, also in check mode, the issuer's discovery document
    (C(<issuer_url>/.well-known/openid-configuration)) is read from the host that runs the module and must be a JSON
    document with a C(jwks_uri), as the Everest server needs it at start-up. Everest reads it only when it starts and stops
    when it cannot (its pod then crash-loops); so an unreachable or wrong issuer fails the task before the server is
    restarted into a crash.
  - With O(require_groups_scope=true) (the role sets it when a tenant binds IdP groups) C(groups) is added to the scopes.
    Everest reads the groups of a user from the C(groups) claim of the B(access token) only (a fixed claim name), so the IdP
    must also put that claim into access tokens (see the collection README, "Tenants that sign in through SSO").
options:
  issuer_url:
    description:
      - The IdP's issuer URL, for example C(https://keycloak.example.com/realms/acme). It must be reachable, with a
        certificate they trust, both from the host that runs this module and from the Everest server's pod (Everest has
        no option for a CA bundle).
    type: str
    required: true
  client_id:
    description: Client id of Everest's application in the IdP (a public client; Everest holds no client secret).
    type: str
    required: true
  scopes:
    description:
      - Scopes the UI requests. Must contain C(openid). everestctl's default has no C(groups).
      - Compared as a set with the stored ones; the order is kept when they are written.
    type: list
    elements: str
    default: [openid, profile, email]
  require_groups_scope:
    description:
      - Add C(groups) to O(scopes) when it is missing (tenants that bind IdP groups need it).
    type: bool
    default: false
  discovery_timeout:
    description: Seconds to wait for the issuer's discovery document (each request; redirects are followed, at most 10).
    type: int
    default: 10
extends_documentation_fragment:
  - virakcloud.everest.connection
  - virakcloud.everest.everestctl
  - virakcloud.everest.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads the settings and the issuer's discovery document, runs nothing that writes, and reports whether
        everestctl would run (RV(cmd)).
  diff_mode:
    support: full
    details:
      - The diff shows C(issuerUrl), C(clientId) and C(scopes) before and after, in one YAML layout.
notes:
  - Applying a change restarts the Everest server (Deployment C(everest-system/everest-server)); a warning says so. Its API
    and UI are unavailable until it is ready again; sessions survive (they are signed with Everest's own key).
  - everestctl replaces the whole C(data) of C(everest-settings) with C(oidc.config); other keys are lost (a warning
    names them).
  - There is no everestctl command to turn OIDC off; delete the key C(oidc.config) and restart C(everest-server).
  - No secret is involved. Everest's settings hold no client secret (the UI is a public client using PKCE).
requirements:
  - everestctl (only when the settings differ)
seealso:
  - module: virakcloud.everest.everest_rbac_policy
  - module: virakcloud.everest.everest_rbac_check
"""

EXAMPLES = r"""
- name: Point Everest at the company's Keycloak realm (groups in the scopes for group-bound tenants)
  virakcloud.everest.everest_oidc:
    issuer_url: https://keycloak.example.com/realms/acme
    client_id: everest
    scopes: [openid, profile, email]
    require_groups_scope: true
  register: oidc

- name: Show what Everest uses now
  ansible.builtin.debug:
    msg: "{{ oidc.oidc.issuer_url }} ({{ oidc.oidc.scopes | join(', ') }}), server restarted: {{ oidc.restarted }}"

- name: Preview a change (reads the issuer's discovery document, writes nothing, restarts nothing)
  virakcloud.everest.everest_oidc:
    issuer_url: https://login.example.com/oauth2/default
    client_id: 0oa1b2c3d4everest
    scopes: [openid, profile, email, groups]
  check_mode: true
  diff: true
"""

RETURN = r"""
oidc:
  description: Everest's OIDC settings after the task (in check mode, what they would be).
  returned: success
  type: dict
  contains:
    issuer_url:
      description: The issuer URL.
      type: str
    client_id:
      description: The client id.
      type: str
    scopes:
      description: The scopes.
      type: list
      elements: str
  sample: {issuer_url: "https://keycloak.example.com/realms/acme", client_id: everest, scopes: [openid, profile, email, groups]}
previous:
  description: The settings before the task (null when OIDC was off).
  returned: success
  type: dict
  sample: {issuer_url: "https://old.example.com/realms/acme", client_id: everest, scopes: [openid, profile, email]}
restarted:
  description: Whether the Everest server was restarted (everestctl ran). Always false in check mode.
  returned: success
  type: bool
  sample: true
discovery:
  description: What the issuer's discovery document said (read when the settings differ).
  returned: when the settings differ
  type: dict
  contains:
    url:
      description: The discovery document's URL (after redirects).
      type: str
    issuer:
      description: Its C(issuer) (Everest does not compare it with O(issuer_url)).
      type: str
    jwks_uri:
      description: Its C(jwks_uri).
      type: str
  sample: {url: "https://keycloak.example.com/realms/acme/.well-known/openid-configuration", issuer: "https://keycloak.example.com/realms/acme",
           jwks_uri: "https://keycloak.example.com/realms/acme/protocol/openid-connect/certs"}
cmd:
  description: The everestctl command that ran (or would run, in check mode).
  returned: when the settings differ
  type: list
  elements: str
  sample: [everestctl, settings, oidc, configure, "--issuer-url=https://keycloak.example.com/realms/acme", "--client-id=everest",
           "--scopes=openid,profile,email,groups", --kubeconfig, /tmp/kubeconfig]
"""

from ansible_collections.virakcloud.everest.plugins.module_utils import _constants
from ansible_collections.virakcloud.everest.plugins.module_utils import _oidc
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError
from ansible_collections.virakcloud.everest.plugins.module_utils._module import EverestModule, LazyEverestctl

ARGUMENT_SPEC = dict(
    issuer_url=dict(type='str', required=True),
    client_id=dict(type='str', required=True),
    scopes=dict(type='list', elements='str', default=list(_constants.OIDC_DEFAULT_SCOPES)),
    require_groups_scope=dict(type='bool', default=False),
    discovery_timeout=dict(type='int', default=10),
)


def converge(module):
    params = module.params
    desired = _oidc.wanted(params['issuer_url'], params['client_id'], params['scopes'], params['require_groups_scope'])
    obj, raw = _oidc.read_settings(module.k8s)
    try:
        current = _oidc.parse_config(raw)
    except ValueError as exc:
        module.warn('%s cannot be read (%s); Everest would not start with it, so it is replaced' % (_oidc.WHERE, exc))
        current = None
    result = {'changed': False, 'restarted': False, 'oidc': _oidc.view(current), 'previous': _oidc.view(current)}
    if _oidc.same(current, desired):
        return result, current, current
    discovery = _oidc.check_discovery(desired['issuerUrl'], params['discovery_timeout'])
    lost = sorted(k for k in ((obj or {}).get('data') or {}) if k != _constants.OIDC_SETTINGS_KEY)
    if lost:
        module.warn(
            'everestctl replaces the whole data of ConfigMap %s/%s: its key(s) %s will be lost'
            % (_constants.SYSTEM_NAMESPACE, _constants.SETTINGS_CONFIGMAP, ', '.join(lost))
        )
    values = dict(issuer_url=desired['issuerUrl'], client_id=desired['clientId'], scopes=desired['scopes'])
    result.update(changed=True, discovery=discovery, oidc=_oidc.view(desired))
    if module.check_mode:
        result['cmd'] = LazyEverestctl(module).preview('oidc_configure', **values)
        module.warn('%s (check mode: nothing was changed)' % _oidc.RESTART_WARNING)
        return result, current, desired
    module.warn(_oidc.RESTART_WARNING)
    answer = module.everestctl.run('oidc_configure', **values)
    result.update(cmd=answer.cmd, restarted=True)
    _obj, raw = _oidc.read_settings(module.k8s)
    try:
        after = _oidc.parse_config(raw)
    except ValueError:
        after = None
    if not _oidc.same(after, desired):
        raise EverestError(
            'everestctl settings oidc configure succeeded, but %s does not hold the requested settings afterwards (another '
            'writer?); re-run the task' % _oidc.WHERE,
            cmd=answer.cmd,
        )
    result['oidc'] = _oidc.view(after)
    return result, current, after


def main():
    module = EverestModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, k8s=True, everestctl=True)
    try:
        result, before, after = converge(module)
    except EverestError as exc:
        module.fail_from(exc)
    if module._diff:
        result['diff'] = {
            'before': _oidc.render(before),
            'after': _oidc.render(after),
            'before_header': '%s (before)' % _oidc.WHERE,
            'after_header': '%s (after)' % _oidc.WHERE,
        }
    module.exit_json(**result)


if __name__ == '__main__':
    main()
