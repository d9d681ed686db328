# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Everest local accounts: observe (Kubernetes Secret) -> decide (pure) -> act (everestctl).

Storage facts (reference §3): Secret ``everest-system/everest-accounts``, data key ``users.yaml``, a YAML map
username -> ``{enabled, capabilities, passwordMtime, passwordHash}``. ``passwordHash`` is
PBKDF2-HMAC-SHA256(password, salt=UID of Namespace ``everest-system``, 4096 iterations, 32 bytes), written
by yaml.v2 as ``!!binary <base64>`` (or as a string in the rare valid-UTF-8 case). The Secret annotation
``insecure-password/<user>`` (any value) means ``passwordHash`` holds the plain password.

Nothing in this file ever puts a password or a hash into a return value, a diff, a warning or an exception.
The structure is meant for batches too: ``AccountStore.read()`` once, then ``converge_account`` per item with
the shared snapshot; only items that change run everestctl.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import hashlib
import hmac
import random
import time

try:
    import yaml

    HAS_YAML = True
    YAML_IMPORT_ERROR = None
except ImportError as _exc:  # pragma: no cover - PyYAML ships with ansible-core
    yaml = None
    HAS_YAML = False
    YAML_IMPORT_ERROR = _exc

from ansible_collections.virakcloud.everest.plugins.module_utils._errors import (
    EverestError,
    EverestctlError,
    ValidationError,
)
from ansible_collections.virakcloud.everest.plugins.module_utils import _cache
from ansible_collections.virakcloud.everest.plugins.module_utils import _constants
from ansible_collections.virakcloud.everest.plugins.module_utils import _ownership
from ansible_collections.virakcloud.everest.plugins.module_utils import _rbac
from ansible_collections.virakcloud.everest.plugins.module_utils import _rbac_store
from ansible_collections.virakcloud.everest.plugins.module_utils import _retry
from ansible_collections.virakcloud.everest.plugins.module_utils import _validation
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import K8sConflict

INSECURE_ANNOTATION_PREFIX = 'insecure-password/'
SECRET = '%s/%s' % (_constants.SYSTEM_NAMESPACE, _constants.ACCOUNTS_SECRET)  # as messages name it
# Same as _k8s.path('v1', 'secrets', SYSTEM_NAMESPACE, ACCOUNTS_SECRET) / path('v1', 'namespaces', name=SYSTEM_NAMESPACE)
SECRET_PATH = '/api/v1/namespaces/%s/secrets/%s' % (_constants.SYSTEM_NAMESPACE, _constants.ACCOUNTS_SECRET)
SYSTEM_NAMESPACE_PATH = '/api/v1/namespaces/%s' % _constants.SYSTEM_NAMESPACE
NAMESPACES_PATH = '/api/v1/namespaces'

PBKDF2_ITERATIONS = 4096
PBKDF2_KEY_LENGTH = 32

OWNER_WRITE_ATTEMPTS = 8
DEFAULT_ATTEMPTS = 8
# everestctl conflicts (a writer outside this collection): a pause of up to 0.05 s, doubling up to 2 s (full jitter)
CONFLICT_BACKOFF = _retry.Backoff(0.05, 2.0, _retry.FULL_JITTER)

PASSWORD_UNCHANGED = '<unchanged>'
PASSWORD_CHANGED = '<changed>'

ACTION_NONE, ACTION_CREATE, ACTION_SET_PASSWORD, ACTION_DELETE = 'none', 'create', 'set_password', 'delete'

_TRUE_WORDS = ('y', 'yes', 'true', 'on')


# ----------------------------------------------------------------------------------------------- parsing

if HAS_YAML:
    # libyaml's parser when PyYAML has it (the Secret holds every account: parsing it is the cost of a batch); the
    # constructors stay PyYAML's BaseConstructor either way, so both give the same result.
    _BaseLoader = getattr(yaml, 'CBaseLoader', None) or yaml.BaseLoader

    class _UsersLoader(_BaseLoader):  # pylint: disable=too-many-ancestors
        """Every plain scalar stays a string (no YAML 1.1 int/bool/octal guessing of passwords); ``!!binary`` -> bytes."""

    def _construct_binary(loader, node):
        value = loader.construct_scalar(node)
        try:
            return base64.b64decode(''.join(value.split()).encode('ascii'))
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise yaml.constructor.ConstructorError(None, None, 'invalid !!binary value', node.start_mark)

    _UsersLoader.add_constructor('tag:yaml.org,2002:binary', _construct_binary)


def _as_bool(value):
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in _TRUE_WORDS


def _as_bytes(value):
    if value is None:
        return b''
    if isinstance(value, bytes):
        return value
    return str(value).encode('utf-8')


def parse_users_yaml(text):
    """users.yaml text -> {username: {enabled, capabilities, password_mtime, stored(bytes)}}."""
    if not HAS_YAML:
        raise EverestError('PyYAML is required to read Everest accounts')
    if isinstance(text, bytes):
        text = text.decode('utf-8')
    try:
        data = yaml.load(text, Loader=_UsersLoader)  # nosec - BaseLoader subclass: strings, maps, lists, binary only
    except yaml.YAMLError as exc:
        raise EverestError(
            'Secret %s/%s: key %s is not valid YAML (%s)'
            % (_constants.SYSTEM_NAMESPACE, _constants.ACCOUNTS_SECRET, _constants.ACCOUNTS_KEY, getattr(exc, 'problem', None) or type(exc).__name__)
        )
    if data is None or data == '':
        return {}
    if not isinstance(data, dict):
        raise EverestError('Secret %s: key %s is not a map of accounts' % (SECRET, _constants.ACCOUNTS_KEY))
    users = {}
    for username, entry in data.items():
        entry = entry if isinstance(entry, dict) else {}
        caps = entry.get('capabilities') or []
        if not isinstance(caps, list):
            caps = [caps]
        users[str(username)] = {
            'enabled': _as_bool(entry.get('enabled', False)),
            'capabilities': [str(c) for c in caps],
            'password_mtime': entry.get('passwordMtime') or None,
            'stored': _as_bytes(entry.get('passwordHash')),
        }
    return users


def parse_accounts_secret(secret):
    """Secret object (as the API returns it) -> {username: account}; ``plain`` flags insecure-password annotations."""
    data = (secret or {}).get('data') or {}
    raw = data.get(_constants.ACCOUNTS_KEY)
    text = ''
    if raw:
        try:
            text = base64.b64decode(raw).decode('utf-8')
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise EverestError('Secret %s: key %s is not valid base64 UTF-8 text' % (SECRET, _constants.ACCOUNTS_KEY))
    users = parse_users_yaml(text)
    annotations = ((secret or {}).get('metadata') or {}).get('annotations') or {}
    for username, account in users.items():
        account['username'] = username
        account['plain'] = (INSECURE_ANNOTATION_PREFIX + username) in annotations
    return users


def read_account_names(client):
    """Set of Everest account names, or None when the accounts Secret does not exist."""
    obj = client.get_or_none(SECRET_PATH)
    if obj is None:
        return None
    return set(parse_accounts_secret(obj))


# ----------------------------------------------------------------------------------------------- hashing


def hash_password(password, salt):
    """The 32 raw bytes Everest stores for ``password`` (reference §3)."""
    return hashlib.pbkdf2_hmac('sha256', _as_bytes(password), _as_bytes(salt), PBKDF2_ITERATIONS, PBKDF2_KEY_LENGTH)


def password_matches(account, password, salt_fn):
    """True when ``password`` is the account's password. ``salt_fn`` is only called when a hash is needed."""
    stored = account.get('stored') or b''
    if account.get('plain'):
        return hmac.compare_digest(stored, _as_bytes(password))
    return hmac.compare_digest(stored, hash_password(password, salt_fn()))


# ----------------------------------------------------------------------------------------------- observe

SALT_CACHE_KIND = 'everest-salt'


class AccountStore:
    """Reads the accounts Secret and the salt; the salt is read at most once per execution.

    With ``salt_cache`` the salt is remembered on this host (``_cache``) keyed by the accounts Secret's own UID, so a
    re-run needs no read of the ``everest-system`` Namespace. That mapping cannot go stale: a Secret object lives in
    exactly one Namespace object, whose UID never changes; a re-created namespace (a re-installed Everest, a restore
    from backup) holds a new Secret object with a new UID, so its salt is read again.
    """

    def __init__(self, client, salt_cache=False):
        self.client = client
        self.salt_cache = salt_cache
        self._salt = None
        self.reads = 0
        self.salt_reads = 0
        self.last = None
        self.secret_uid = None
        self.recorded_owners = {}
        self._derived_owners = None
        self._secret_rv = None

    def read(self):
        """The accounts now (also kept as ``last``)."""
        self.reads += 1
        secret = self.client.get_or_none(SECRET_PATH)
        if secret is None:
            raise EverestError(
                'Secret %s/%s not found: Everest is not installed in this cluster (or the kubeconfig points at another '
                'cluster); install Everest first' % (_constants.SYSTEM_NAMESPACE, _constants.ACCOUNTS_SECRET),
                namespace=_constants.SYSTEM_NAMESPACE,
                secret=_constants.ACCOUNTS_SECRET,
            )
        self.last = parse_accounts_secret(secret)
        self.secret_uid = (secret.get('metadata') or {}).get('uid') or None
        self._secret_rv = (secret.get('metadata') or {}).get('resourceVersion')
        self.recorded_owners = _ownership.account_owners(secret)
        return self.last

    def owner_of(self, username):
        """The tenant owning ``username``: the Secret's record, else the tenant whose RBAC block binds it (read once,
        only when an account has no record: installations from before the record existed)."""
        if username in self.recorded_owners:
            return self.recorded_owners[username]
        if self._derived_owners is None:
            text = _rbac_store.read_policy_text(self.client) or ''
            try:
                blocks = _rbac.get_blocks(text)
            except _rbac.BlockError:
                blocks = {}
            namespaces = self.client.list(NAMESPACES_PATH, label_selector=_constants.TENANT_LABEL).get('items') or []
            self._derived_owners = _ownership.account_owner_map(None, blocks, _ownership.namespace_owner_map(namespaces))
        return self._derived_owners.get(username)

    def write_owners(self, changes):
        """Record ``changes`` ({username: tenant, or None to forget}) in the Secret's annotation: a merge patch carrying
        the resourceVersion last read, re-read and retried on 409 (callers hold the accounts Lease)."""
        for _attempt in range(OWNER_WRITE_ATTEMPTS):
            owners = dict(self.recorded_owners)
            for username, tenant in changes.items():
                if tenant is None:
                    owners.pop(username, None)
                else:
                    owners[username] = tenant
            if owners == self.recorded_owners:
                return False
            patch = {
                'metadata': {'resourceVersion': self._secret_rv, 'annotations': {_constants.ACCOUNT_OWNERS_ANNOTATION: _ownership.owners_annotation(owners)}}
            }
            try:
                secret = self.client.patch(SECRET_PATH, patch)
            except K8sConflict:
                self.read()
                continue
            self._secret_rv = (secret.get('metadata') or {}).get('resourceVersion')
            self.recorded_owners = _ownership.account_owners(secret)
            return True
        raise EverestError("Secret %s kept changing while the account owners were recorded; retry" % SECRET)

    def salt(self):
        if self._salt is None and self.salt_cache and self.secret_uid:
            cached = _cache.load(SALT_CACHE_KIND, self.secret_uid)
            if isinstance(cached, str) and cached:
                self._salt = cached
        if self._salt is None:
            self.salt_reads += 1
            namespace = self.client.get_or_none(SYSTEM_NAMESPACE_PATH)
            uid = ((namespace or {}).get('metadata') or {}).get('uid')
            if not uid:
                raise EverestError(
                    'Namespace %s not found (or has no uid): cannot compute Everest password hashes; install Everest first' % _constants.SYSTEM_NAMESPACE,
                    namespace=_constants.SYSTEM_NAMESPACE,
                )
            self._salt = uid
            if self.salt_cache and self.secret_uid:
                _cache.store(SALT_CACHE_KIND, self.secret_uid, uid)
        return self._salt


# ----------------------------------------------------------------------------------------------- decide


def validate_item(want):
    """Raise ValidationError for input Everest would refuse (username first, then password, reference §2.1)."""
    username = want.get('username')
    error = _validation.check_username(username)
    if error:
        raise ValidationError("account %r: %s" % (username, error), username=username)
    if want.get('state', 'present') == 'present' and want.get('password') is not None:
        error = _validation.check_password(want['password'])
        if error:
            raise ValidationError("account '%s': %s" % (username, error), username=username)
    if want.get('tenant') is not None:
        problem = _validation.check_tenant_name(want['tenant'])
        if problem:
            raise ValidationError("account '%s': %s" % (username, problem), username=username)
        if username == _constants.ADMIN_USERNAME:
            raise ValidationError("account 'admin' is Everest's own administrator account; it cannot belong to tenant '%s'" % want['tenant'], username=username)
    if want.get('state') == 'absent' and username == _constants.ADMIN_USERNAME and not want.get('allow_admin_removal'):
        raise ValidationError(
            "account 'admin': refusing to delete the admin account, it would lock operators out of Everest; set allow_admin_removal=true if you really mean it",
            username=username,
        )


class Decision:
    """What to do for one account. ``error`` is a message for a refusal (never contains secrets)."""

    def __init__(self, action, error=None, password_changes=False):
        self.action = action
        self.error = error
        self.password_changes = password_changes

    def __repr__(self):
        return 'Decision(%r, error=%r, password_changes=%r)' % (self.action, self.error, self.password_changes)


def decide(account, want, matches):
    """Pure decision. ``account`` is the observed account or None; ``matches(account, password)`` -> bool."""
    username = want['username']
    if want.get('state', 'present') == 'absent':
        return Decision(ACTION_DELETE if account is not None else ACTION_NONE)
    password = want.get('password')
    if account is None:
        if password is None:
            return Decision(ACTION_NONE, error="account '%s' does not exist and no password was given; set password to create it" % username)
        return Decision(ACTION_CREATE, password_changes=True)
    if password is None or want.get('update_password', 'always') == 'on_create':
        return Decision(ACTION_NONE)
    if matches(account, password):
        return Decision(ACTION_NONE)
    return Decision(ACTION_SET_PASSWORD, password_changes=True)


def ownership(want, account, owner, recorded=None):
    """(claim, release) for ``want`` given the observed account, its owner and the owner recorded in the Secret (the
    owner may also be derived from an RBAC block); raises OwnershipError (pure).

    ``claim``: the tenant to record as owner before writing (None: nothing to record); ``release``: forget the record
    after the account is gone. Without ``tenant`` in ``want`` nothing is checked or recorded (plain module use)."""
    tenant = want.get('tenant')
    username = want['username']
    if tenant is None:
        return None, False
    if want.get('state', 'present') == 'absent':
        _ownership.check_remove('account', username, owner, tenant)
        return None, recorded == tenant
    _ownership.check_take('account', username, owner, tenant, want.get('takeover_from'))
    if account is not None and owner is None and not want.get('take_ownership'):
        raise _ownership.OwnershipError(
            "account '%s' already exists and belongs to no tenant (it was created outside this collection, or before it "
            "recorded owners); tenant '%s' may not take it silently. Set take_ownership: true (role variable "
            "tenant_bootstrap_take_ownership) to adopt it, or choose another username" % (username, tenant),
            owner=None,
            tenant=tenant,
            object_kind='account',
            object_name=username,
        )
    return (tenant if recorded != tenant else None), False


def account_view(username, account):
    """The public shape of an account (no hash, no password)."""
    if account is None:
        return {'username': username, 'exists': False, 'enabled': None, 'capabilities': [], 'password_mtime': None, 'plain_text_password': None}
    return {
        'username': username,
        'exists': True,
        'enabled': account.get('enabled'),
        'capabilities': list(account.get('capabilities') or []),
        'password_mtime': account.get('password_mtime'),
        'plain_text_password': bool(account.get('plain')),
    }


def predict(username, account, decision):
    """The account as it would be after ``decision`` (check mode)."""
    if decision.action == ACTION_DELETE:
        return account_view(username, None)
    if decision.action == ACTION_CREATE:
        view = account_view(username, {'enabled': True, 'capabilities': ['login'], 'plain': False})
        view['password_mtime'] = None
        return view
    if decision.action == ACTION_SET_PASSWORD:
        view = account_view(username, account)
        view['plain_text_password'] = False
        return view
    return account_view(username, account)


_NO_OWNER = object()  # the diff shows no owner (the module was not given a tenant)


def _owner_after(want, owner, claim, release):
    if want.get('tenant') is None:
        return _NO_OWNER
    if release:
        return None
    return claim or owner


def diff_view(account, password_changed, owner=_NO_OWNER):
    view = {
        'exists': account is not None,
        'enabled': account.get('enabled') if account is not None else None,
        'capabilities': list(account.get('capabilities') or []) if account is not None else [],
        'password': PASSWORD_CHANGED if password_changed else PASSWORD_UNCHANGED,
    }
    if owner is not _NO_OWNER:
        view['tenant'] = owner
    return view


def predicted_diff_view(account, decision, owner=_NO_OWNER):
    if decision.action == ACTION_DELETE:
        return diff_view(None, False, owner)
    if decision.action == ACTION_CREATE:
        return diff_view({'enabled': True, 'capabilities': ['login']}, True, owner)
    return diff_view(account, decision.password_changes, owner)


# ----------------------------------------------------------------------------------------------- act


def _run(runner, action, want):
    if action == ACTION_CREATE:
        return runner.run('accounts_create', username=want['username'], password=want['password'])
    if action == ACTION_SET_PASSWORD:
        return runner.run('accounts_set_password', username=want['username'], password=want['password'])
    return runner.run('accounts_delete', username=want['username'])


def _preview(runner, action, want):
    if action == ACTION_CREATE:
        return runner.preview('accounts_create', username=want['username'], password=want['password'])
    if action == ACTION_SET_PASSWORD:
        return runner.preview('accounts_set_password', username=want['username'], password=want['password'])
    if action == ACTION_DELETE:
        return runner.preview('accounts_delete', username=want['username'])
    return None


def converge_account(
    store, runner, want, check_mode=False, users=None, attempts=DEFAULT_ATTEMPTS, sleep=time.sleep, rng=None, lock=None, fresh=False, on_lock=None
):
    """Bring one account to ``want``; returns a result dict (``changed``, ``action``, ``account``, ``before``,
    ``after``, ``cmd``, ``attempts``). ``users`` is a shared snapshot from ``store.read()`` (read here if None).

    everestctl's read-modify-write of the Secret is not atomic and never retried (reference §3): a ``delete`` writes a map
    computed from an earlier read, so it can silently resurrect or drop an account another writer changed in
    between, after that writer verified its own change. Hence writes happen only while holding ``lock`` (a
    cluster-wide Lease, see _lock.py; taken only when something must change, never in check mode), the state is
    re-read under the lock, a ``conflict`` (a writer outside this collection) is retried after a jittered pause,
    ``already_exists``/``not_found`` races are resolved by re-reading, and every write is verified by re-reading.
    ``fresh=True`` says ``users`` was read while this process already held the lock (a batch's previous read-back),
    so the re-read under the lock is skipped.
    """
    rng = rng or random.Random()
    username = want['username']
    if users is None:
        users = store.read()
    initial = users.get(username)

    def matches(account, password):
        return password_matches(account, password, store.salt)

    decision = decide(initial, want, matches)
    if decision.error:
        raise ValidationError(decision.error, username=username)
    owner = store.owner_of(username) if want.get('tenant') is not None else None
    claim, release = ownership(want, initial, owner, store.recorded_owners.get(username))
    result = {
        'username': username,
        'changed': decision.action != ACTION_NONE or claim is not None or (release and decision.action == ACTION_NONE),
        'action': decision.action,
        'before': diff_view(initial, False, owner if want.get('tenant') is not None else _NO_OWNER),
        'cmd': None,
        'attempts': 0,
    }
    if not result['changed'] or check_mode:
        result['account'] = predict(username, initial, decision)
        result['after'] = predicted_diff_view(initial, decision, _owner_after(want, owner, claim, release))
        if check_mode:
            result['cmd'] = _preview(runner, decision.action, want)
        return result

    with lock if lock is not None else _NoLock():
        if on_lock is not None:
            on_lock()
        return _write(store, runner, want, result, decision, initial, matches, attempts, sleep, rng, lock, reread=lock is not None and not fresh)


class _NoLock:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _fenced_run(runner, action, want, lock):
    """One everestctl command, fenced by the Lease: verified ours before it starts and after it ends."""
    if lock is not None:
        lock.verify()
    try:
        return _run(runner, action, want)
    finally:
        if lock is not None:
            lock.verify()


def _write(store, runner, want, result, decision, current, matches, attempts, sleep, rng, lock, reread):
    username = want['username']
    tenant = want.get('tenant')
    performed = []
    wrote_password = False
    verify_want = dict(want)
    if reread:
        # the snapshot predates the lock: decide again on what the previous holder left
        current = store.read().get(username)
        decision = decide(current, verify_want, matches)
        if decision.error:
            raise ValidationError(decision.error, username=username)
    owner = store.owner_of(username) if tenant is not None else None
    claim, release = ownership(want, current, owner, store.recorded_owners.get(username))
    result['before'] = diff_view(current, False, owner if tenant is not None else _NO_OWNER)
    if claim is not None:
        if lock is not None:
            lock.verify()
        store.write_owners({username: claim})  # recorded before the account is written: an interrupted run keeps it
    attempt = 0
    while decision.action != ACTION_NONE:
        if attempt == attempts:
            raise EverestError(
                "account '%s': could not reach the wanted state after %d attempts; other writers keep "
                "changing Secret %s/%s; serialise account changes and retry" % (username, attempts, _constants.SYSTEM_NAMESPACE, _constants.ACCOUNTS_SECRET),
                username=username,
                attempts=attempts,
            )
        attempt += 1
        result['attempts'] = attempt
        try:
            outcome = _fenced_run(runner, decision.action, verify_want, lock)
            performed.append(decision.action)
            result['cmd'] = outcome.cmd
            if decision.action in (ACTION_CREATE, ACTION_SET_PASSWORD):
                wrote_password = True
                # from now on "converged" means: our password is stored
                verify_want['update_password'] = 'always'
        except EverestctlError as exc:
            if exc.kind == 'conflict':
                CONFLICT_BACKOFF.pause(attempt - 1, sleep, rng)
            elif exc.kind == 'already_exists' and decision.action == ACTION_CREATE:
                pass
            elif exc.kind == 'not_found' and decision.action in (ACTION_DELETE, ACTION_SET_PASSWORD):
                pass
            else:
                raise
        current = store.read().get(username)
        decision = decide(current, verify_want, matches)
        if decision.error:
            raise ValidationError(decision.error, username=username)
    forgot = False
    if release and current is None:
        forgot = store.write_owners({username: None})
    result['changed'] = bool(performed) or claim is not None or forgot
    result['action'] = performed[-1] if performed else ACTION_NONE
    result['account'] = account_view(username, current)
    result['after'] = diff_view(current, wrote_password, (None if release else (claim or owner)) if tenant is not None else _NO_OWNER)
    return result


def _pending_claims(store, wants, users):
    """{username: tenant} the batch will record as owners (items that fail their ownership check are left out)."""
    claims = {}
    for want in wants:
        if want.get('tenant') is None or want.get('state', 'present') == 'absent':
            continue
        try:
            claim, _release = ownership(want, users.get(want['username']), store.owner_of(want['username']), store.recorded_owners.get(want['username']))
        except EverestError:
            continue
        if claim is not None:
            claims[want['username']] = claim
    return claims


def converge_accounts(store, runner, wants, check_mode=False, lock=None, **kwargs):
    """Batch form: one Secret read shared by all items; per-item results; failures collected, not hidden.

    A sticky ``lock`` is taken at the first item that writes and kept until the batch ends (one acquisition). The
    owners the batch records are written in one patch when the lock is first taken (checked again on a fresh read).
    """
    users = store.read()
    claims = {} if check_mode else _pending_claims(store, wants, users)
    state = {'claimed': not claims}

    def claim_all():
        if state['claimed']:
            return
        state['claimed'] = True
        fresh = store.read()
        valid = {}
        for want in wants:
            if want['username'] in claims:
                try:
                    claim, _release = ownership(
                        want, fresh.get(want['username']), store.owner_of(want['username']), store.recorded_owners.get(want['username'])
                    )
                except EverestError:
                    continue  # the item fails on its own, with its message
                if claim is not None:
                    valid[want['username']] = claim
        if valid:
            if lock is not None:
                lock.verify()
            store.write_owners(valid)

    results = []
    try:
        for want in wants:
            # while this batch holds the lock, the last read-back is the state: no re-read before the next item
            fresh = lock is not None and lock.owned and store.last is not None
            try:
                results.append(
                    converge_account(
                        store, runner, want, check_mode=check_mode, users=store.last if fresh else users, lock=lock, fresh=fresh, on_lock=claim_all, **kwargs
                    )
                )
            except EverestError as exc:
                item = {'username': want.get('username'), 'changed': False, 'failed': True}
                item.update(exc.to_fail_kwargs())
                results.append(item)
    finally:
        if lock is not None:
            lock.close()
    return results


def list_accounts(store, username=None):
    """Public views of all accounts (sorted by name) or of one; read-only."""
    users = store.read()
    if username is not None:
        return [account_view(username, users[username])] if username in users else []
    return [account_view(name, users[name]) for name in sorted(users)]
