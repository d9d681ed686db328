# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one HTTP transport under both API clients (Kubernetes: ``_k8s.py``; Everest REST: ``_everest_client.py``).

One keep-alive connection per server, one exchange at a time (a module may share its client with a second thread,
e.g. the Lease renewer), and the transport rules both clients must follow:

* the URL is ``http(s)://host[:port][/prefix]``;
* TLS: a CA file or PEM data, or no verification; client certificate and key files; a ``tls-server-name`` that
  replaces the host name for SNI and certificate verification (as client-go's ``ServerName``);
* a CA together with "skip verification" is refused, as client-go refuses it;
* credentials (bearer tokens, basic auth) never travel over plain ``http`` except to a loopback address, unless the
  caller opted in (``allow_http_credentials``). client-go goes further and silently never sends them over http; we
  refuse with a message instead, so a misconfigured URL cannot leak a token and cannot fail mysteriously either.

Error mapping, retries and authentication stay with each client; this file only moves bytes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json
import ssl
import threading

try:
    from http.client import HTTPConnection, HTTPSConnection
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover - Python 2 is not supported
    HTTPConnection = HTTPSConnection = object
    urlsplit = None

from ansible_collections.virakcloud.everest.plugins.module_utils._errors import ConnectionConfigError

CA_WITH_INSECURE = "specifying a root certificates file with the insecure flag is not allowed"
LOOPBACK_NAMES = ("localhost",)


def json_body(data):
    """The JSON document of an answer's body, None for an empty body; ValueError when the body is not JSON."""
    return json.loads(data.decode("utf-8")) if data else None


def is_loopback(host):
    """True for ``localhost``, ``*.localhost`` and literal loopback addresses (no name resolution)."""
    host = (host or "").strip("[]").lower()
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def split_url(url, what):
    """(scheme, host, port, path prefix) of an http(s) URL; ConnectionConfigError otherwise."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectionConfigError("%s address '%s' is not an http(s) URL" % (what, url))
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ConnectionConfigError("%s address '%s' has an invalid port" % (what, url))
    return parts.scheme, parts.hostname, port, parts.path.rstrip("/")


def check_ca_insecure(ca_file, ca_data, insecure, what="server"):
    """client-go refuses a CA together with "skip verification" (one of them is a mistake); so do we."""
    if insecure and (ca_file or ca_data):
        raise ConnectionConfigError(
            "%s: %s (the kubeconfig or the options give a CA, certificate-authority(-data) or ca_cert, and also skip "
            "verification, insecure-skip-tls-verify or validate_certs: false); remove one of the two" % (what, CA_WITH_INSECURE)
        )


def ssl_context(ca_file=None, ca_data=None, insecure=False, cert_file=None, key_file=None, what="server"):
    """An SSLContext for these settings (client-go's rules: CA plus insecure is refused)."""
    check_ca_insecure(ca_file, ca_data, insecure, what)
    try:
        if insecure:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        else:
            if isinstance(ca_data, bytes):
                ca_data = ca_data.decode("ascii")
            context = ssl.create_default_context(cafile=ca_file, cadata=ca_data)
    except (ssl.SSLError, IOError, OSError, ValueError) as exc:
        raise ConnectionConfigError("%s: cannot set up TLS (CA certificates): %s" % (what, exc))
    if cert_file:
        try:
            context.load_cert_chain(cert_file, key_file)
        except (ssl.SSLError, IOError, OSError, ValueError) as exc:
            raise ConnectionConfigError("%s: cannot load the client certificate and key: %s" % (what, exc))
    return context


class _ServerNameHTTPSConnection(HTTPSConnection):
    """HTTPSConnection that verifies and sends SNI for ``server_name`` instead of the host it connects to."""

    def __init__(self, host, port, server_name, **kwargs):
        HTTPSConnection.__init__(self, host, port, **kwargs)
        self._server_name = server_name

    def connect(self):
        HTTPConnection.connect(self)  # pylint: disable=non-parent-init-called
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self._server_name)


class Transport:
    """One server, one keep-alive connection, one exchange at a time. ``context`` builds the SSLContext lazily."""

    def __init__(self, url, what="server", timeout=60, context=None, tls_server_name=None, allow_http_credentials=False, option="allow_http_credentials"):
        self.url = url
        self.what = what
        self.scheme, self.host, self.port, self.prefix = split_url(url, what)
        self.timeout = timeout
        self._context_factory = context
        self.tls_server_name = tls_server_name
        self.allow_http_credentials = allow_http_credentials
        self.option = option  # the module option that sets allow_http_credentials (named in the refusal)
        self._conn = None
        self.lock = threading.RLock()

    def check_credentials(self, kind):
        """Raise unless credentials of ``kind`` may be sent to this server (see the module docstring)."""
        if self.scheme == "https" or self.allow_http_credentials or is_loopback(self.host):
            return
        raise ConnectionConfigError(
            "refusing to send %s to %s over plain http: anyone on the network path could read them. Use the server's https "
            "address, or set %s: true (VIRAKCLOUD_EVEREST_ALLOW_HTTP_CREDENTIALS=true) if the path is "
            "protected otherwise (loopback addresses are always allowed)" % (kind, self.url, self.option)
        )

    def _connection(self):
        if self._conn is None:
            if self.scheme == "https":
                context = self._context_factory() if self._context_factory else ssl_context(what=self.what)
                if self.tls_server_name:
                    self._conn = _ServerNameHTTPSConnection(self.host, self.port, self.tls_server_name, timeout=self.timeout, context=context)
                else:
                    self._conn = HTTPSConnection(self.host, self.port, timeout=self.timeout, context=context)
            else:
                self._conn = HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self._conn

    @property
    def connected(self):
        return self._conn is not None

    def send(self, method, path, body=None, headers=None):
        """One exchange: (status, reason, {lower-case header: value}, body bytes). Socket errors propagate."""
        with self.lock:
            conn = self._connection()
            conn.request(method, self.prefix + path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            resp_headers = dict((k.lower(), v) for k, v in resp.getheaders())
            if resp_headers.get("connection", "").lower() == "close":
                self.close()
            return resp.status, resp.reason, resp_headers, data

    def close(self):
        with self.lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                except Exception:  # pylint: disable=broad-except
                    pass
                self._conn = None
