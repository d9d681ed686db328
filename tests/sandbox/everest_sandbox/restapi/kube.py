"""Tiny Kubernetes client of the emulator: HTTP + bearer token against the API emulator (never its store)."""

from __future__ import annotations

import http.client
import json
from urllib.parse import quote, urlencode, urlsplit


class KubeError(Exception):
    def __init__(self, status: int, message: str, reason: str = ''):
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason


def path(api_version: str, plural: str, namespace: str | None = None, name: str | None = None, sub: str | None = None) -> str:
    out = ('/apis/' if '/' in api_version else '/api/') + api_version
    if namespace is not None:
        out += '/namespaces/' + quote(namespace, safe='')
    out += '/' + plural
    if name is not None:
        out += '/' + quote(name, safe='')
    if sub:
        out += '/' + sub
    return out


class Kube:
    def __init__(self, url: str, token: str, timeout: float = 30):
        parts = urlsplit(url)
        self.host = parts.hostname
        self.port = parts.port
        self.token = token
        self.timeout = timeout

    def request(self, method: str, url_path: str, body=None, query: dict | None = None, content_type='application/json'):
        if query:
            url_path += '?' + urlencode({k: v for k, v in query.items() if v is not None})
        headers = {'Authorization': f'Bearer {self.token}', 'Accept': 'application/json'}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers['Content-Type'] = content_type
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request(method, url_path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        doc = None
        if raw:
            try:
                doc = json.loads(raw)
            except ValueError:
                doc = None
        if resp.status >= 400:
            doc = doc if isinstance(doc, dict) else {}
            raise KubeError(resp.status, doc.get('message') or raw.decode('utf-8', 'replace'), doc.get('reason') or '')
        return doc

    def get(self, url_path):
        return self.request('GET', url_path)

    def get_or_none(self, url_path):
        try:
            return self.get(url_path)
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, url_path, label_selector: str | None = None) -> list:
        return (self.request('GET', url_path, query={'labelSelector': label_selector}) or {}).get('items') or []

    def create(self, url_path, body):
        return self.request('POST', url_path, body)

    def replace(self, url_path, body):
        return self.request('PUT', url_path, body)

    def merge_patch(self, url_path, body):
        return self.request('PATCH', url_path, body, content_type='application/merge-patch+json')

    def delete(self, url_path):
        try:
            return self.request('DELETE', url_path)
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise
