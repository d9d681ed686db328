"""`everestctl accounts ...` (reference §2, §3)."""

from __future__ import annotations

import base64
import hashlib
import os
import random
import re

from . import deployment, kube, timing, yamlv2
from .output import Ctx, Failure, prompt
from .timing import rfc3339_now

SYSTEM_NS = 'everest-system'
SECRET_PATH = kube.path('v1', 'secrets', SYSTEM_NS, 'everest-accounts')
NS_PATH = kube.path('v1', 'namespaces', name=SYSTEM_NS)
JWT_PATH = kube.path('v1', 'secrets', SYSTEM_NS, 'everest-jwt')

USERNAME_RE = re.compile(r'^[a-zA-Z0-9_]{3,}$')
PASSWORD_RE = re.compile(r'^[a-zA-Z0-9@*#$%^&+=!_-]{6,}$')
USERNAME_ERR = 'username may contain only letters, numbers, underscores, and must be at least 3 characters long'
PASSWORD_ERR = 'password may contain only letters, numbers and specific special characters (@*#$%^&+=!_-), and must be at least 6 characters long'
INSECURE_PREFIX = 'insecure-password/'


def validate_username(username: str):
    if not USERNAME_RE.match(username):
        raise Failure(USERNAME_ERR)


def validate_password(password: str):
    if not PASSWORD_RE.match(password):
        raise Failure(PASSWORD_ERR)


def hash_password(password: str, salt: str) -> bytes:
    """PBKDF2-HMAC-SHA256, salt = UID of Namespace everest-system, 4096 iterations, 32 bytes (reference §3)."""
    return hashlib.pbkdf2_hmac('sha256', password.encode('utf-8'), salt.encode('utf-8'), 4096, 32)


def _kube_call(func, *args):
    try:
        return func(*args)
    except kube.KubeError as exc:
        raise Failure(str(exc)) from None


class Store:
    """Accounts Secret access with the exact read/write pattern of reference §3 (no retry)."""

    def __init__(self, client: kube.Client):
        self.client = client

    def read(self) -> tuple[dict, dict]:
        secret = _kube_call(self.client.get, SECRET_PATH)
        raw = (secret.get('data') or {}).get('users.yaml', '')
        text = base64.b64decode(raw).decode('utf-8', 'surrogateescape') if raw else ''
        try:
            users = yamlv2.load_users(text)
        except Exception as exc:  # pylint: disable=broad-except
            raise Failure(f'yaml: {exc}') from None
        return secret, users

    def write(self, secret: dict, users: dict):
        secret.setdefault('data', {})
        secret['data']['users.yaml'] = base64.b64encode(yamlv2.dump_users(users).encode('utf-8', 'surrogateescape')).decode()
        _kube_call(self.client.replace, SECRET_PATH, secret)

    def salt(self) -> str:
        namespace = _kube_call(self.client.get, NS_PATH)
        return namespace.get('metadata', {}).get('uid', '')


def _drop_annotation(secret: dict, username: str):
    annotations = secret.get('metadata', {}).get('annotations')
    if annotations and INSECURE_PREFIX + username in annotations:
        del annotations[INSECURE_PREFIX + username]


def _client(ctx: Ctx) -> kube.Client:
    """The Kubernetes client of an accounts command, after the latency model's ``accounts_s``."""
    try:
        client = kube.Client(ctx.kubeconfig)
    except kube.KubeError as exc:
        raise Failure(str(exc)) from None
    timing.knob('accounts_s')
    return client


def create(ctx: Ctx, username: str, password: str):
    log = ctx.component('accounts')
    client = _client(ctx)
    if not username:
        username = prompt('❓ Provide username: ', ctx.io)
    if not password:
        password = prompt('❓ Provide password: ', ctx.io, secret=True)
    validate_username(username)
    validate_password(password)
    log.info(f"Creating user '{username}'", 'accounts/create.go:78')
    store = Store(client)
    try:
        _secret, users = store.read()
    except Failure as exc:
        raise Failure(f'{exc.msg}\nfailed to check if account already exists') from None
    if username in users:
        raise Failure('user already exists')
    pw_hash = hash_password(password, store.salt())
    secret, users = store.read()
    users[username] = {'enabled': True, 'capabilities': ['login'], 'passwordMtime': rfc3339_now(), 'passwordHash': pw_hash}
    _drop_annotation(secret, username)
    store.write(secret, users)
    ctx.success(f"User '{username}' has been created successfully")
    log.info(f"User '{username}' has been created succesfully", 'accounts/create.go:90')


def set_password(ctx: Ctx, username: str, password: str):
    log = ctx.component('accounts')
    client = _client(ctx)
    if not username:
        username = prompt('❓ Provide username: ', ctx.io)
    if not password:
        password = prompt('❓ Provide a new password: ', ctx.io, secret=True)
        if prompt('❓ Confirm a new password: ', ctx.io, secret=True) != password:
            raise Failure('passwords do not match')
    validate_username(username)
    validate_password(password)
    log.info(f"Setting new password for user '{username}'", 'accounts/set_password.go:80')
    store = Store(client)
    _secret, users = store.read()
    if username not in users:
        raise Failure('account not found')
    entry = dict(users[username])
    entry['passwordHash'] = hash_password(password, store.salt())
    entry['passwordMtime'] = rfc3339_now()
    secret, users2 = store.read()
    users2[username] = entry
    _drop_annotation(secret, username)
    store.write(secret, users2)
    ctx.success(f"Password for user '{username}' has been set successfully")
    log.info(f"Password for user '{username}' has been set succesfully", 'accounts/set_password.go:92')


def delete(ctx: Ctx, username: str):
    log = ctx.component('accounts')
    client = _client(ctx)
    if not username:
        username = prompt('❓ Provide username: ', ctx.io)
    validate_username(username)
    log.info(f"Deleting user '{username}'", 'accounts/delete.go:70')
    store = Store(client)
    _secret, users = store.read()
    if username not in users:
        raise Failure('account not found')
    del users[username]
    secret, _users = store.read()
    store.write(secret, users)
    ctx.success(f"User '{username}' has been deleted successfully")
    log.info(f"User '{username}' has been deleted successfully", 'accounts/delete.go:80')


def initial_admin_password(ctx: Ctx):
    client = _client(ctx)
    secret, users = Store(client).read()
    if 'admin' not in users:
        raise Failure('account not found')
    annotations = secret.get('metadata', {}).get('annotations') or {}
    if annotations.get(INSECURE_PREFIX + 'admin') != 'true':
        raise Failure('cannot retrieve admin password after it has been updated')
    ctx.io.out(users['admin']['passwordHash'].decode('utf-8', 'surrogateescape') + '\n')


def _go_slice(values) -> str:
    return '[' + ' '.join(values) + ']'


def render_table(headings: list[str], rows: list[list[str]], show_header: bool = True) -> str:
    """rodaine/table v1.3.0 with padding 2 and an upper-casing header formatter."""
    widths = [len(h) + 2 for h in headings]
    cells = []
    for row in rows:
        row = (list(row) + [''] * len(headings))[: len(headings)]
        cells.append(row)
        for i, val in enumerate(row):
            widths[i] = max(widths[i], len(val) + 2)
    out = []
    if show_header:
        out.append(''.join(h.ljust(w) for h, w in zip(headings, widths)).upper() + '\n')
    for row in cells:
        out.append(''.join(v.ljust(w) for v, w in zip(row, widths)) + '\n')
    return ''.join(out)


def list_accounts(ctx: Ctx, no_headers: bool, columns: list[str]):
    client = _client(ctx)
    _secret, users = Store(client).read()
    headings = list(columns) if columns else ['user', 'capabilities', 'enabled']
    names = list(users)
    if os.environ.get('EVEREST_SANDBOX_DETERMINISTIC') == '1':
        names.sort()
    else:
        random.shuffle(names)
    rows = []
    for name in names:
        acc = users[name]
        row = []
        for heading in headings:
            if heading == 'user':
                row.append(name)
            elif heading == 'capabilities':
                row.append(_go_slice(acc['capabilities']))
            elif heading == 'enabled':
                row.append('true' if acc['enabled'] else 'false')
        rows.append(row)
    ctx.io.out(render_table(headings, rows, show_header=not no_headers))


def _fake_pem(kind: str, size: int) -> str:
    body = base64.b64encode(os.urandom(size)).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return f'-----BEGIN {kind}-----\n' + '\n'.join(lines) + f'\n-----END {kind}-----\n'


def reset_jwt_keys(ctx: Ctx):
    """Store a (fake, PEM-shaped) key pair in Secret everest-jwt and restart everest-server (waits until ready)."""
    log = ctx.component('jwt')
    client = _client(ctx)
    data = {
        'id_rsa': base64.b64encode(_fake_pem('RSA PRIVATE KEY', 608).encode()).decode(),
        'id_rsa.pub': base64.b64encode(_fake_pem('RSA PUBLIC KEY', 140).encode()).decode(),
    }
    log.info('Creating/updating JWT keys', 'accounts/reset_jwt_keys.go:60')
    secret = _kube_call(client.get_or_none, JWT_PATH)
    if secret is None:
        body = {'apiVersion': 'v1', 'kind': 'Secret', 'type': 'Opaque', 'metadata': {'name': 'everest-jwt', 'namespace': SYSTEM_NS}, 'data': data}
        _kube_call(client.create, kube.path('v1', 'secrets', SYSTEM_NS), body)
    else:
        secret.setdefault('data', {}).update(data)
        _kube_call(client.replace, JWT_PATH, secret)
    deployment.restart(client)
    ctx.success('JWT keys have been created/updated successfully')
    log.info('JWT keys have been created/updated successfully', 'accounts/reset_jwt_keys.go:75')
