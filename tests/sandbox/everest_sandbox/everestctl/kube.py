"""Minimal Kubernetes REST client on http.client with a kubeconfig loader (reference §1.2).

The emulator talks to the cluster ONLY through this client (no `kubernetes` import: startup must be fast).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import posixpath
import ssl
import tempfile
import time
import urllib.parse

import yaml


class KubeError(Exception):
    """Any failure while talking to the API server; str() is the client-go style message."""


class ApiError(KubeError):
    """A non-2xx answer; message is the Status message passed through verbatim."""

    def __init__(self, status: int, message: str, reason: str = ''):
        super().__init__(message)
        self.status = status
        self.reason = reason

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409


def go_clean(path: str) -> str:
    """Go filepath.Clean for POSIX paths."""
    if path == '':
        return '.'
    cleaned = posixpath.normpath(path)
    if cleaned.startswith('//'):
        cleaned = '/' + cleaned.lstrip('/')
    return cleaned


def resolve_kubeconfig_path(raw: str) -> str:
    """Replace every `~` by $HOME, then clean (pkg/kubernetes New)."""
    return go_clean(raw.replace('~', os.environ.get('HOME', '')))


def read_kubeconfig(raw_path: str) -> dict:
    path = resolve_kubeconfig_path(raw_path)
    try:
        with open(path, 'rb') as handle:
            data = handle.read()
    except FileNotFoundError:
        raise KubeError(f'open {path}: no such file or directory\ncould not read kubeconfig file') from None
    except IsADirectoryError:
        raise KubeError(f'read {path}: is a directory\ncould not read kubeconfig file') from None
    except PermissionError:
        raise KubeError(f'open {path}: permission denied\ncould not read kubeconfig file') from None
    try:
        doc = yaml.safe_load(data) or {}
    except yaml.YAMLError as exc:
        raise KubeError(f'error loading config file "{path}": {exc}') from None
    if not isinstance(doc, dict):
        raise KubeError(f'error loading config file "{path}": not a kubeconfig')
    return doc


def _named(items, name):
    for item in items or []:
        if item.get('name') == name:
            return item
    return None


class Client:
    """REST client for one cluster."""

    def __init__(self, kubeconfig_path: str):
        doc = read_kubeconfig(kubeconfig_path)
        self._tmpfiles: list[str] = []
        ctx_name = doc.get('current-context') or ''
        ctx = (_named(doc.get('contexts'), ctx_name) or {}).get('context') or {}
        if not ctx and doc.get('contexts'):
            ctx = doc['contexts'][0].get('context') or {}
        cluster = (_named(doc.get('clusters'), ctx.get('cluster')) or {}).get('cluster') or {}
        user = (_named(doc.get('users'), ctx.get('user')) or {}).get('user') or {}
        server = cluster.get('server')
        if not server:
            raise KubeError('invalid configuration: no configuration has been provided, try setting KUBERNETES_MASTER environment variable')
        parsed = urllib.parse.urlsplit(server)
        self.scheme = parsed.scheme or 'https'
        self.host = parsed.hostname or 'localhost'
        self.port = parsed.port or (443 if self.scheme == 'https' else 80)
        self.base = parsed.path.rstrip('/')
        self.headers = {'Accept': 'application/json', 'User-Agent': 'everestctl/sandbox'}
        token = user.get('token')
        if not token and user.get('tokenFile'):
            with open(user['tokenFile'], encoding='utf-8') as handle:
                token = handle.read().strip()
        if token:
            self.headers['Authorization'] = f'Bearer {token}'
        elif user.get('username') is not None:
            basic = base64.b64encode(f"{user.get('username')}:{user.get('password', '')}".encode()).decode()
            self.headers['Authorization'] = f'Basic {basic}'
        self.ssl_ctx = None
        if self.scheme == 'https':
            self.ssl_ctx = self._ssl_context(cluster, user)

    def _file_or_data(self, obj: dict, key: str) -> str | None:
        if obj.get(key + '-data'):
            handle = tempfile.NamedTemporaryFile('wb', delete=False, prefix='everestctl-')
            handle.write(base64.b64decode(obj[key + '-data']))
            handle.close()
            self._tmpfiles.append(handle.name)
            return handle.name
        return obj.get(key)

    def _ssl_context(self, cluster: dict, user: dict) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        if cluster.get('insecure-skip-tls-verify'):
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        else:
            cafile = self._file_or_data(cluster, 'certificate-authority')
            if cafile:
                ctx.load_verify_locations(cafile)
        cert = self._file_or_data(user, 'client-certificate')
        key = self._file_or_data(user, 'client-key')
        if cert:
            ctx.load_cert_chain(cert, key)
        return ctx

    def close(self):
        for name in self._tmpfiles:
            try:
                os.unlink(name)
            except OSError:
                pass

    def _connect(self):
        if self.scheme == 'https':
            return http.client.HTTPSConnection(self.host, self.port, timeout=60, context=self.ssl_ctx)
        return http.client.HTTPConnection(self.host, self.port, timeout=60)

    def request(self, method: str, path: str, body=None, query: dict | None = None, content_type='application/json'):
        url_path = self.base + path
        if query:
            url_path += '?' + urllib.parse.urlencode(query)
        headers = dict(self.headers)
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers['Content-Type'] = content_type
        full_url = f'{self.scheme}://{self.host}:{self.port}{url_path}'
        # client-go honours Retry-After on 429/5xx answers (up to 10 retries).
        for _attempt in range(11):
            status, data, retry_after = self._once(method, url_path, payload, headers, full_url)
            if retry_after is None or not (status == 429 or status >= 500):
                break
            time.sleep(min(retry_after, 5))
        if status >= 300:
            raise _api_error(status, data)
        if not data:
            return {}
        try:
            return json.loads(data)
        except ValueError:
            return {}

    def _once(self, method, url_path, payload, headers, full_url):
        # One connection per request: a kept-alive connection to a server that writes headers and body
        # separately (Nagle) costs a 40 ms delayed ACK per request; a fresh connection starts in quick-ACK mode.
        conn = self._connect()
        try:
            conn.request(method, url_path, body=payload, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except ConnectionRefusedError:
            raise KubeError(f'{method.capitalize()} "{full_url}": dial tcp {self.host}:{self.port}: connect: connection refused') from None
        except OSError as exc:
            raise KubeError(f'{method.capitalize()} "{full_url}": {exc}') from None
        except http.client.HTTPException as exc:
            raise KubeError(f'{method.capitalize()} "{full_url}": {exc}') from None
        finally:
            conn.close()
        retry_after = resp.getheader('Retry-After')
        try:
            retry_after = None if retry_after is None else max(0, int(retry_after))
        except ValueError:
            retry_after = None
        return resp.status, data, retry_after

    # helpers ------------------------------------------------------------------------------------
    def get(self, path):
        return self.request('GET', path)

    def get_or_none(self, path):
        try:
            return self.get(path)
        except ApiError as exc:
            if exc.not_found:
                return None
            raise

    def list(self, path, label_selector: str | None = None):
        return self.request('GET', path, query={'labelSelector': label_selector} if label_selector else None)

    def create(self, path, body):
        return self.request('POST', path, body)

    def replace(self, path, body):
        return self.request('PUT', path, body)

    def merge_patch(self, path, body):
        return self.request('PATCH', path, body, content_type='application/merge-patch+json')

    def delete(self, path, query=None):
        return self.request('DELETE', path, query=query)


def _api_error(status: int, data: bytes) -> ApiError:
    try:
        doc = json.loads(data)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and doc.get('kind') == 'Status' and doc.get('message'):
        return ApiError(status, doc['message'], doc.get('reason', ''))
    text = data.decode('utf-8', 'replace').strip()
    if status == 404:
        return ApiError(status, 'the server could not find the requested resource', 'NotFound')
    return ApiError(status, f'an error on the server ("{text}") has prevented the request from succeeding', 'InternalError')


def path(group_version: str, plural: str, namespace: str | None = None, name: str | None = None) -> str:
    """REST path of a collection or object."""
    prefix = '/api/v1' if group_version == 'v1' else f'/apis/{group_version}'
    out = prefix
    if namespace:
        out += f'/namespaces/{urllib.parse.quote(namespace, safe="")}'
    out += f'/{plural}'
    if name:
        out += f'/{urllib.parse.quote(name, safe="")}'
    return out
