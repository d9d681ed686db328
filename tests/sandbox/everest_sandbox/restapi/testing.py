"""Test helpers for the Everest REST API emulator: start it on top of the ``sandbox`` fixture's Kubernetes API
emulator, a manual clock, and a direct (Kubernetes API) bootstrap of the example tenants (Alice and Bob).

Import the fixtures into a test module with ``from everest_sandbox.restapi.testing import everest_api  # noqa: F401``.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
from urllib.parse import urlsplit

import pytest

from ..kubeapi.seed import accounts_yaml
from .kube import Kube, KubeError, path as kpath
from .server import EverestApiServer

ALICE_PASSWORD = 'Alice-pass1'
BOB_PASSWORD = 'Bob-pass1'
SEED_POLICY = '''\
# ---------- Alice: limit to ns-alice ----------
p, role:tenant-ns-alice, namespaces, read, ns-alice
p, role:tenant-ns-alice, database-engines, read, ns-alice/*
p, role:tenant-ns-alice, database-clusters, *, ns-alice/*
p, role:tenant-ns-alice, database-cluster-credentials, read, ns-alice/*
p, role:tenant-ns-alice, database-cluster-backups, *, ns-alice/*
p, role:tenant-ns-alice, database-cluster-restores, *, ns-alice/*
p, role:tenant-ns-alice, backup-storages, *, ns-alice/*
p, role:tenant-ns-alice, monitoring-instances, *, ns-alice/*

g, alice, role:tenant-ns-alice

# ---------- Bob: limit to ns-bob ----------
p, role:tenant-ns-bob, namespaces, read, ns-bob
p, role:tenant-ns-bob, database-engines, read, ns-bob/*
p, role:tenant-ns-bob, database-clusters, *, ns-bob/*
p, role:tenant-ns-bob, database-cluster-credentials, read, ns-bob/*
p, role:tenant-ns-bob, database-cluster-backups, *, ns-bob/*
p, role:tenant-ns-bob, database-cluster-restores, *, ns-bob/*
p, role:tenant-ns-bob, backup-storages, *, ns-bob/*
p, role:tenant-ns-bob, monitoring-instances, *, ns-bob/*

g, bob, role:tenant-ns-bob
'''


class ManualClock:
    """An injectable clock: ``clock()`` returns the current value, ``advance(s)`` moves it."""

    def __init__(self, start: float = 1_800_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float):
        self.now += seconds


def start(sandbox, **kwargs) -> EverestApiServer:
    return EverestApiServer(sandbox.url, sandbox.token, **kwargs).start()


def kube_for(sandbox) -> Kube:
    return Kube(sandbox.url, sandbox.token)


def set_accounts(kube: Kube, passwords: dict, plain: tuple = ('admin',)):
    """Rewrite the accounts Secret: PBKDF2 hashes (``!!binary``) except for the names in ``plain``."""
    secret_path = kpath('v1', 'secrets', 'everest-system', 'everest-accounts')
    salt = kube.get(kpath('v1', 'namespaces', name='everest-system'))['metadata']['uid'].encode()
    secret = kube.get(secret_path)
    users = {}
    annotations = {k: v for k, v in (secret['metadata'].get('annotations') or {}).items() if not k.startswith('insecure-password/')}
    for name, password in passwords.items():
        if name in plain:
            users[name] = password
            annotations[f'insecure-password/{name}'] = 'true'
        else:
            digest = hashlib.pbkdf2_hmac('sha256', password.encode(), salt, 4096, 32)
            users[name] = '!!binary ' + base64.b64encode(digest).decode()
    secret['metadata']['annotations'] = annotations
    secret['data'] = {'users.yaml': base64.b64encode(accounts_yaml(users).encode()).decode()}
    kube.replace(secret_path, secret)


def set_rbac(kube: Kube, policy: str, enabled: bool = True):
    kube.merge_patch(kpath('v1', 'configmaps', 'everest-system', 'everest-rbac'), {'data': {'enabled': 'true' if enabled else 'false', 'policy.csv': policy}})


def add_namespace(kube: Kube, name: str):
    body = {'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': name, 'labels': {'app.kubernetes.io/managed-by': 'everest'}}}
    try:
        kube.create(kpath('v1', 'namespaces'), body)
    except KubeError as exc:
        if exc.status != 409:
            raise


def bootstrap_seed000(sandbox, admin_password: str):
    """The example tenants' namespaces, accounts and RBAC, made directly through the Kubernetes API."""
    kube = kube_for(sandbox)
    add_namespace(kube, 'ns-alice')
    add_namespace(kube, 'ns-bob')
    set_accounts(kube, {'admin': admin_password, 'alice': ALICE_PASSWORD, 'bob': BOB_PASSWORD})
    set_rbac(kube, 'g, admin, role:admin\n' + SEED_POLICY)
    return kube


def call(url: str, method: str, path: str, body=None, token: str | None = None, headers: dict | None = None):
    """One HTTP request; (status, parsed JSON or None, response headers)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    hdrs = {'Accept': 'application/json'}
    if token:
        hdrs['Authorization'] = f'Bearer {token}'
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs['Content-Type'] = 'application/json'
    hdrs.update(headers or {})
    try:
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        resp_headers = {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()
    return resp.status, (json.loads(raw) if raw else None), resp_headers


@pytest.fixture
def everest_api(clean_sandbox):
    """An emulator with a manual clock over a reset sandbox; ``.clock`` is the ManualClock."""
    clock = ManualClock()
    server = start(clean_sandbox, clock=clock, ready_delay=5.0, job_delay=3.0)
    server.manual_clock = clock
    try:
        yield server
    finally:
        server.stop()
