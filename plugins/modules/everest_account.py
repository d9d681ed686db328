#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: everest_account
short_description: Manage Percona Everest local accounts
version_added: 0.1.0
author:
  - VirakCloud (@virakcloud)
description:
  - Creates, updates the password of, or deletes an Everest local account (or several, with O(accounts)).
  - State is read from the Kubernetes API (Secret C(everest-system/everest-accounts), key C(users.yaml)); changes are
    made with C(everestctl accounts create), C(set-password) and C(delete).
  - Password idempotency is exact, the module recomputes Everest's hash (PBKDF2-HMAC-SHA256, 4096 iterations,
    salt = UID of the C(everest-system) Namespace) and compares it with the stored one, so a re-run with the same
    password reports no change and runs no command.
options:
  username:
    description:
      - Name of the account. Letters, digits and underscores, at least 3 characters (Everest's rule, checked before
        anything runs).
      - Mutually exclusive with O(accounts); one of them is required.
    type: str
  password:
    description:
      - Password of the account. Letters, digits and C(@*#$%^&+=!_-), at least 6 characters (checked before anything runs).
      - Required with O(state=present) when the account does not exist yet.
      - When omitted for an existing account, the password is left alone.
    type: str
  state:
    description:
      - V(present) makes sure the account exists (and, with O(update_password=always), has O(password)).
      - V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  update_password:
    description:
      - V(always) makes the stored password equal O(password) (only changed when it differs).
      - V(on_create) sets O(password) only when the account is created.
    type: str
    choices: [always, on_create]
    default: always
  allow_admin_removal:
    description:
      - Deleting the C(admin) account is refused unless this is V(true); without C(admin) operators can lock themselves out.
    type: bool
    default: false
  tenant:
    description:
      - The tenant the account belongs to. Recorded in the accounts Secret (annotation
        C(virakcloud.everest/account-tenants)) before the account is created, and checked against the cluster before every
        write, whoever runs the task, so one tenant can never reset the password of, or delete, another tenant's account.
      - An account of another tenant is refused (the message names the owner) unless O(takeover_from) names that tenant;
        an existing account that belongs to no tenant is refused unless O(take_ownership=true); deleting an account
        another tenant owns is always refused. Accounts recorded nowhere are attributed to the tenant whose RBAC block
        binds them.
      - The C(admin) account cannot belong to a tenant.
      - Without O(tenant) nothing is checked or recorded.
      - In O(accounts), an item without its own C(tenant) uses this one.
    type: str
  takeover_from:
    description:
      - Explicit handover, the tenant that owns the account now; the account then passes to O(tenant).
    type: str
  take_ownership:
    description:
      - Adopt an existing account that belongs to no tenant into O(tenant).
    type: bool
    default: false
  accounts:
    description:
      - Several accounts in one task. The Secret is read once for all of them and everestctl only runs for accounts that
        change. Every item is processed even when one fails; the task then fails naming each failed item.
      - Mutually exclusive with O(username).
    type: list
    elements: dict
    suboptions:
      username:
        description: As O(username).
        type: str
        required: true
      password:
        description: As O(password).
        type: str
      state:
        description: As O(state).
        type: str
        choices: [present, absent]
        default: present
      update_password:
        description: As O(update_password).
        type: str
        choices: [always, on_create]
        default: always
      allow_admin_removal:
        description: As O(allow_admin_removal).
        type: bool
        default: false
      tenant:
        description: As O(tenant) (default, O(tenant)).
        type: str
      takeover_from:
        description: As O(takeover_from).
        type: str
      take_ownership:
        description: As O(take_ownership) (default, O(take_ownership)).
        type: bool
  cluster_lock:
    description:
      - Serialise account writes across every process that uses this collection (forks, parallel plays, AWX jobs on
        other controllers) with a C(coordination.k8s.io/v1) Lease C(virakcloud-everest-accounts) in C(everest-system).
      - everestctl's C(accounts delete) writes back a copy of the Secret read before the one it overwrites, so two
        overlapping account commands can silently resurrect or drop an account after its own task verified it; only not
        overlapping prevents that. The lock is taken only when an account must change (never for a no-op or in check
        mode), released right after, and renewed while held; a holder that died is taken over after 30 seconds.
      - Needs C(get), C(create), C(update) and C(delete) on C(leases) in C(everest-system). Set V(false) only when
        account changes are already serialised some other way (for example with C(throttle) set to 1).
    type: bool
    default: true
  cluster_lock_timeout:
    description:
      - Seconds to wait for the lock before failing (the message names the holder).
    type: int
    default: 300
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows C(exists), C(enabled), C(capabilities) and C(password) as V(<unchanged>) or V(<changed>), never a
        password or hash; with O(tenant), also the owning C(tenant).
extends_documentation_fragment:
  - virakcloud.everest.connection
  - virakcloud.everest.everestctl
  - virakcloud.everest.attributes
notes:
  - everestctl only accepts passwords as command-line arguments (there is no stdin or environment input), so while
    C(accounts create) or C(accounts set-password) runs, the password is visible in the process list of the host that
    runs the module. The module limits that exposure, it runs everestctl only when the password really differs (checked
    by recomputing the hash), the process is short-lived and has no shell, the password is masked (C(********)) in the
    returned RV(cmd), in errors and in logs, and O(password) is C(no_log).
  - everestctl rewrites the whole accounts Secret without retrying on conflicts, and a concurrent delete can silently
    drop a fresh account. The module serialises its writes with a Lease (O(cluster_lock)), re-reads the Secret once it
    holds the lock, retries conflicts with writers outside the collection (bounded, with jitter), resolves
    C(user already exists) and C(account not found) races by re-reading, and verifies each write by reading the Secret
    back. Writers that bypass the collection (the Everest UI, a hand-run everestctl) are not serialised.
  - Accounts are always created enabled with the C(login) capability; everestctl cannot change either.
  - The password hash salt (the UID of Namespace C(everest-system)) is remembered in
    C($XDG_CACHE_HOME/virakcloud.everest/everest-salt-<hash>.json) (default C(~/.cache/...)), keyed by the UID of the
    accounts Secret, so a re-run reads only the Secret. The entry cannot go stale, a re-created C(everest-system)
    namespace holds a new Secret with a new UID. The salt is not a secret (it is readable by anyone who can read the
    namespace).
seealso:
  - module: virakcloud.everest.everest_account_info
"""

EXAMPLES = r"""
- name: Create the tenant's Everest account
  virakcloud.everest.everest_account:
    username: acme_admin
    password: "{{ vault_acme_everest_password }}"
    state: present
  register: acme_account

- name: Show when the password last changed
  ansible.builtin.debug:
    msg: "{{ acme_account.account.password_mtime }}"

- name: Create the account only, never reset its password afterwards
  virakcloud.everest.everest_account:
    username: acme_ops
    password: "{{ lookup('ansible.builtin.password', '/dev/null length=24 chars=ascii_letters,digits') }}"
    update_password: on_create

- name: Several accounts with one Secret read
  virakcloud.everest.everest_account:
    accounts:
      - username: acme_admin
        password: "{{ vault_acme_everest_password }}"
      - username: old_tenant
        state: absent

- name: What would change?
  virakcloud.everest.everest_account:
    username: acme_admin
    password: "{{ vault_acme_everest_password }}"
  check_mode: true
  diff: true

- name: Remove an account
  virakcloud.everest.everest_account:
    username: old_tenant
    state: absent
"""

RETURN = r"""
account:
  description: The account after the task (predicted in check mode). Never contains a password or hash.
  returned: when O(username) is used
  type: dict
  contains:
    username:
      description: Account name.
      type: str
      sample: acme_admin
    exists:
      description: Whether the account exists.
      type: bool
      sample: true
    enabled:
      description: Whether the account is enabled (null when it does not exist).
      type: bool
      sample: true
    capabilities:
      description: Capabilities of the account.
      type: list
      elements: str
      sample: [login]
    password_mtime:
      description: When the password was last set (as stored by everestctl); null for the chart's initial admin.
      type: str
      sample: "2026-11-23T10:00:00Z"
    plain_text_password:
      description: Whether the stored password is plain text (the C(insecure-password/<user>) annotation, the initial admin).
      type: bool
      sample: false
  sample:
    username: acme_admin
    exists: true
    enabled: true
    capabilities: [login]
    password_mtime: "2026-11-23T10:00:00Z"
    plain_text_password: false
cmd:
  description: The everestctl command that ran (or would run, in check mode), with the password masked.
  returned: when O(username) is used and a command ran or would run
  type: list
  elements: str
  sample: [everestctl, accounts, create, -u, acme_admin, -p, "********", --kubeconfig, /root/.kube/config]
results:
  description: One entry per item of O(accounts), with C(username), C(changed), C(action), C(account), C(cmd), or C(failed) and C(msg).
  returned: when O(accounts) is used
  type: list
  elements: dict
  sample: [{username: acme_admin, changed: false, action: none, account: {username: acme_admin, exists: true}}]
"""

from ansible_collections.virakcloud.everest.plugins.module_utils._module import LazyEverestctl
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError
from ansible_collections.virakcloud.everest.plugins.module_utils import _accounts, _batch, _constants, _lock

ITEM_SPEC = dict(
    username=dict(type='str', required=True),
    password=dict(type='str', no_log=True),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    update_password=dict(type='str', choices=['always', 'on_create'], default='always', no_log=False),
    allow_admin_removal=dict(type='bool', default=False),
    tenant=dict(type='str'),
    takeover_from=dict(type='str'),
    take_ownership=dict(type='bool'),
)
# an item's ownership options default to the module's
FORM = _batch.BatchForm(
    ITEM_SPEC,
    'accounts',
    'username',
    'account',
    module_options=dict(
        cluster_lock=dict(type='bool', default=True),
        cluster_lock_timeout=dict(type='int', default=_lock.DEFAULT_TIMEOUT),
    ),
    inherited={'tenant': None, 'takeover_from': None, 'take_ownership': False},
)
ARGUMENT_SPEC = FORM.argument_spec()

# the fields of one item in the batch form's results
RESULT_FIELDS = ('username', 'changed', 'action', 'account', 'cmd', 'failed', 'msg', 'attempts')


def main():
    module = FORM.module(k8s=True, everestctl=True)
    items, batch = FORM.items(module.params)
    for item in items:
        if item.get('password'):
            module.no_log_values.add(item['password'])
    FORM.validate(module, items, batch, _accounts.validate_item, 'account(s)')
    try:
        store = _accounts.AccountStore(module.k8s, salt_cache=True)
        runner = LazyEverestctl(module)
        lock = None
        if module.params['cluster_lock']:
            lock = _lock.LeaseLock(
                module.k8s,
                _constants.SYSTEM_NAMESPACE,
                _constants.ACCOUNTS_LEASE,
                purpose='everest accounts',
                timeout=module.params['cluster_lock_timeout'],
                sticky=batch,
            )
        if not batch:
            result = _accounts.converge_account(store, runner, items[0], check_mode=module.check_mode, lock=lock)
        else:
            results = _accounts.converge_accounts(store, runner, items, check_mode=module.check_mode, lock=lock)
    except EverestError as exc:
        module.fail_from(exc)

    if not batch:
        FORM.exit_single(module, result, ('account',), optional=('cmd',))
    FORM.exit_batch(module, results, RESULT_FIELDS)


if __name__ == '__main__':
    main()
