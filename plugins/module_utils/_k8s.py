# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small, dependency-light Kubernetes REST client for the modules of virakcloud.everest.

Why not the ``kubernetes`` library: importing it costs about 0.2 s per module execution (it loads
every generated model), which would make each of our tasks about twice as expensive as ``ping``
and dominate a no-op run over many tenants. The modules need a handful of verbs on a handful of
kinds, so this client speaks JSON over ``http.client`` and loads kubeconfig files itself:

* kubeconfig: ``KUBECONFIG`` (colon-separated list, merged like kubectl), ``~/.kube/config``,
  ``context`` selection; clusters with ``server``, ``certificate-authority(-data)``,
  ``insecure-skip-tls-verify``, ``tls-server-name``; users with ``token``, ``tokenFile``,
  ``client-certificate(-data)``/``client-key(-data)``, ``username``/``password``, ``exec``
  credential plugins (client.authentication.k8s.io v1/v1beta1);
* explicit ``host`` + ``api_key`` / client certificates (the kubernetes.core option names);
* in-cluster service account when nothing else is configured;
* legacy ``auth-provider`` users are delegated to the ``kubernetes`` library, imported only then.

Errors are typed (see ``_errors``); transient failures are retried with jittered backoff inside
``request``; 409 conflicts are the caller's business (see ``read_modify_write``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import os
import random
import socket
import ssl
import subprocess
import time

try:
    from http.client import HTTPException
    from urllib.parse import quote, urlencode
except ImportError:  # pragma: no cover - Python 2 is not supported
    HTTPException = None
    quote = urlencode = None

try:
    import yaml

    HAS_YAML = True
    YAML_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - depends on the controller
    yaml = None
    HAS_YAML = False
    YAML_IMPORT_ERROR = exc

from ansible_collections.virakcloud.everest.plugins.module_utils import _http
from ansible_collections.virakcloud.everest.plugins.module_utils import _private_files
from ansible_collections.virakcloud.everest.plugins.module_utils import _retry
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import (
    ConnectionConfigError,
    K8sAlreadyExists,
    K8sApiError,
    K8sConflict,
    K8sForbidden,
    K8sInvalid,
    K8sNotFound,
    K8sTransient,
    K8sUnauthorized,
    K8sUnsupportedMediaType,
    MissingDependencyError,
)

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
DEFAULT_KUBECONFIG = "~/.kube/config"
DEFAULT_REQUEST_TIMEOUT = 60
# Transient-failure policy: bounded, jittered, honours Retry-After (capped).
TRANSIENT_ATTEMPTS = 6
TRANSIENT_BASE_DELAY = 0.2
TRANSIENT_MAX_DELAY = 5.0
RETRY_AFTER_CAP = 30.0
TRANSIENT_BACKOFF = _retry.Backoff(TRANSIENT_BASE_DELAY, TRANSIENT_MAX_DELAY, _retry.EQUAL_JITTER, retry_after_cap=RETRY_AFTER_CAP)
CONFLICT_ATTEMPTS = 8
# read_modify_write: 409 Conflicts are retried after 0.05 s, doubling up to 2 s, times [0.5, 1.5)
CONFLICT_BACKOFF = _retry.Backoff(0.05, 2.0, _retry.WIDE_JITTER)

PATCH_CONTENT_TYPES = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
}

# Connection option names, as in kubernetes.core (one table; the argspec lives in _module.py).
AUTH_OPTIONS = ("kubeconfig", "context", "host", "api_key", "validate_certs", "ca_cert", "client_cert", "client_key", "allow_http_credentials")


def path(api_version, plural, namespace=None, name=None, subresource=None):
    """URL path of a collection or an object.

    ``path('v1', 'namespaces', name='x')`` -> ``/api/v1/namespaces/x``;
    ``path('everest.local/v1', 'tenantresourcepolicies', 'ns-a')`` ->
    ``/apis/everest.local/v1/namespaces/ns-a/tenantresourcepolicies``.
    """
    parts = ["/apis/" + api_version if "/" in api_version else "/api/" + api_version]
    if namespace is not None and plural != "namespaces":
        parts.append("namespaces/" + quote(namespace, safe=""))
    parts.append(plural)
    if name is not None:
        parts.append(quote(name, safe=""))
    if subresource:
        parts.append(subresource)
    return "/".join(parts)


def labels_of(obj):
    """The labels of an object (``{}`` when it has none, or for None)."""
    return ((obj or {}).get("metadata") or {}).get("labels") or {}


def labels_missing(obj, labels):
    """The entries of ``labels`` the object does not carry with the same value."""
    have = labels_of(obj)
    return dict((k, v) for k, v in labels.items() if have.get(k) != v)


def contains(actual, wanted):
    """True when every field of ``wanted`` is present with the same value in ``actual`` (server defaults ignored): the
    object as the API server returns it still has everything we wrote."""
    if isinstance(wanted, dict):
        if not isinstance(actual, dict):
            return False
        return all(key in actual and contains(actual[key], value) for key, value in wanted.items())
    if isinstance(wanted, list):
        if not isinstance(actual, list) or len(actual) != len(wanted):
            return False
        return all(contains(a, w) for a, w in zip(actual, wanted))
    if isinstance(wanted, bool) or isinstance(actual, bool):
        return actual is wanted
    return actual == wanted


def list_items(client, url_path, label_selector=None):
    """The items of a LIST; [] when the API does not exist (404: its CRD is not installed)."""
    try:
        return client.list(url_path, label_selector=label_selector).get("items") or []
    except K8sNotFound:
        return []


def _b64decode(data):
    return base64.b64decode(data.encode("ascii") if not isinstance(data, bytes) else data)


class ClusterConfig:
    """Resolved connection settings (what the client needs, nothing more)."""

    def __init__(self):
        self.server = None
        self.token = None
        self.token_file = None
        self.username = None
        self.password = None
        self.ca_file = None
        self.ca_data = None  # bytes (PEM)
        self.client_cert_file = None
        self.client_cert_data = None  # bytes (PEM)
        self.client_key_file = None
        self.client_key_data = None  # bytes (PEM)
        self.insecure = False
        self.tls_server_name = None
        self.exec_config = None
        self.source_file = None  # the single kubeconfig file this came from, unmodified
        self.context_name = None
        self.allow_http_credentials = False
        self.secrets = []  # values to hide from any output

    def has_credentials(self):
        return bool(self.token or self.token_file or self.exec_config or (self.username and self.password is not None))

    def bearer_token(self):
        if self.token_file:
            try:
                with open(os.path.expanduser(self.token_file)) as handle:
                    return handle.read().strip()
            except (IOError, OSError) as exc:
                raise ConnectionConfigError("cannot read the token file %s: %s" % (self.token_file, exc))
        return self.token


def _read_yaml_file(filename):
    if not HAS_YAML:
        raise MissingDependencyError("the PyYAML library is required to read kubeconfig files", library="PyYAML")
    try:
        with open(filename) as handle:
            data = yaml.safe_load(handle)
    except (IOError, OSError) as exc:
        raise ConnectionConfigError(
            "cannot read the kubeconfig file %s: %s; set the kubeconfig option (or K8S_AUTH_KUBECONFIG / KUBECONFIG) "
            "to a readable file" % (filename, exc.strerror or exc)
        )
    except yaml.YAMLError as exc:
        raise ConnectionConfigError("the kubeconfig file %s is not valid YAML: %s" % (filename, exc))
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConnectionConfigError("the kubeconfig file %s does not contain a kubeconfig mapping" % filename)
    return data


def _merge_kubeconfigs(files):
    """Merge like kubectl: the first file that sets a named entry (or current-context) wins."""
    merged = {"clusters": [], "users": [], "contexts": [], "current-context": None}
    seen = {"clusters": set(), "users": set(), "contexts": set()}
    for filename in files:
        data = _read_yaml_file(filename)
        base = os.path.dirname(os.path.abspath(filename))
        for section, inner in (("clusters", "cluster"), ("users", "user"), ("contexts", "context")):
            for entry in data.get(section) or []:
                if not isinstance(entry, dict) or entry.get("name") in seen[section]:
                    continue
                seen[section].add(entry.get("name"))
                entry = dict(entry)
                entry["_base"] = base
                entry.setdefault(inner, {})
                merged[section].append(entry)
        if not merged["current-context"] and data.get("current-context"):
            merged["current-context"] = data["current-context"]
    return merged


def _named(entries, name, what):
    for entry in entries:
        if entry.get("name") == name:
            return entry
    raise ConnectionConfigError("%s '%s' is not defined in the kubeconfig; check the context option" % (what, name))


def _rel(base, filename):
    if not filename:
        return None
    filename = os.path.expanduser(filename)
    return filename if os.path.isabs(filename) else os.path.join(base, filename)


def kubeconfig_files(kubeconfig):
    """The kubeconfig files to merge: the option, else $KUBECONFIG (colon list), else ~/.kube/config."""
    if kubeconfig:
        return [os.path.expanduser(kubeconfig)]
    env = os.environ.get("KUBECONFIG")
    if env:
        files = [os.path.expanduser(f) for f in env.split(os.pathsep) if f]
        existing = [f for f in files if os.path.exists(f)]
        return existing or files[:1]
    default = os.path.expanduser(DEFAULT_KUBECONFIG)
    return [default] if os.path.exists(default) else []


def load_config(params):
    """Resolve connection settings from module params (kubernetes.core semantics)."""
    params = params or {}
    cfg = ClusterConfig()
    files = kubeconfig_files(params.get("kubeconfig"))
    explicit_host = params.get("host")
    if files and not (explicit_host and (params.get("api_key") or params.get("client_cert")) and not params.get("kubeconfig")):
        _load_kubeconfig(cfg, files, params.get("context"))
    elif not explicit_host:
        if not _load_incluster(cfg):
            raise ConnectionConfigError(
                "no Kubernetes connection configured: no kubeconfig found (~/.kube/config, KUBECONFIG) and not running in a "
                "cluster; set the kubeconfig option (or K8S_AUTH_KUBECONFIG), or host and api_key"
            )
    # explicit options override what the kubeconfig said
    if explicit_host:
        cfg.server = explicit_host
        cfg.source_file = None
    if params.get("api_key"):
        cfg.token, cfg.token_file, cfg.exec_config = params["api_key"], None, None
        cfg.secrets.append(params["api_key"])
        cfg.source_file = None
    if params.get("ca_cert"):
        cfg.ca_file, cfg.ca_data = os.path.expanduser(params["ca_cert"]), None
        cfg.source_file = None
    if params.get("client_cert"):
        cfg.client_cert_file, cfg.client_cert_data = os.path.expanduser(params["client_cert"]), None
        cfg.source_file = None
    if params.get("client_key"):
        cfg.client_key_file, cfg.client_key_data = os.path.expanduser(params["client_key"]), None
        cfg.source_file = None
    if params.get("validate_certs") is not None:
        if cfg.insecure != (not params["validate_certs"]):
            cfg.source_file = None
        cfg.insecure = not params["validate_certs"]
    if not cfg.server:
        raise ConnectionConfigError("the Kubernetes API server address is unknown: the kubeconfig cluster has no server and no host option was given")
    cfg.allow_http_credentials = bool(params.get("allow_http_credentials"))
    _http.check_ca_insecure(cfg.ca_file, cfg.ca_data, cfg.insecure, "the Kubernetes API server %s" % cfg.server)
    cfg.server = cfg.server.rstrip("/")
    return cfg


def _load_kubeconfig(cfg, files, context):
    merged = _merge_kubeconfigs(files)
    context_name = context or merged.get("current-context")
    if not context_name:
        raise ConnectionConfigError("the kubeconfig (%s) has no current-context; set the context option" % ", ".join(files))
    ctx = _named(merged["contexts"], context_name, "context").get("context") or {}
    cluster_entry = _named(merged["clusters"], ctx.get("cluster"), "cluster")
    cluster = cluster_entry.get("cluster") or {}
    user_entry = _named(merged["users"], ctx.get("user"), "user") if ctx.get("user") else {"user": {}, "_base": cluster_entry["_base"]}
    user = user_entry.get("user") or {}
    cfg.context_name = context_name
    cfg.server = cluster.get("server")
    cfg.insecure = bool(cluster.get("insecure-skip-tls-verify"))
    cfg.tls_server_name = cluster.get("tls-server-name")
    if cluster.get("certificate-authority-data"):
        cfg.ca_data = _b64decode(cluster["certificate-authority-data"])
    cfg.ca_file = _rel(cluster_entry["_base"], cluster.get("certificate-authority"))
    base = user_entry["_base"]
    if user.get("token"):
        cfg.token = user["token"]
        cfg.secrets.append(user["token"])
    cfg.token_file = _rel(base, user.get("tokenFile"))
    if user.get("client-certificate-data"):
        cfg.client_cert_data = _b64decode(user["client-certificate-data"])
    if user.get("client-key-data"):
        cfg.client_key_data = _b64decode(user["client-key-data"])
        cfg.secrets.append(user["client-key-data"])
    cfg.client_cert_file = _rel(base, user.get("client-certificate"))
    cfg.client_key_file = _rel(base, user.get("client-key"))
    cfg.username = user.get("username")
    cfg.password = user.get("password")
    if cfg.password:
        cfg.secrets.append(cfg.password)
    cfg.exec_config = user.get("exec")
    if user.get("auth-provider"):
        _token_from_kubernetes_library(cfg, files, context_name)
    if len(files) == 1 and not context:
        cfg.source_file = files[0]
    elif len(files) == 1:
        cfg.source_file = files[0] if context == merged.get("current-context") else None


def _token_from_kubernetes_library(cfg, files, context_name):
    """Legacy auth-provider users (gcp, oidc, azure): let the kubernetes library compute the token."""
    try:
        from kubernetes import client as k8s_client  # pylint: disable=import-outside-toplevel
        from kubernetes import config as k8s_config  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise MissingDependencyError(
            "the kubeconfig user of context '%s' uses an auth-provider, which needs the kubernetes Python library "
            "(pip install kubernetes); alternatively use an exec credential plugin" % context_name,
            library="kubernetes",
        )
    configuration = k8s_client.Configuration()
    try:
        k8s_config.load_kube_config(config_file=files[0], context=context_name, client_configuration=configuration)
    except Exception as exc:  # the library raises many types; report them all the same way
        raise ConnectionConfigError("cannot load context '%s' with the kubernetes library: %s" % (context_name, exc))
    header = (configuration.api_key or {}).get("authorization") or (configuration.api_key or {}).get("BearerToken")
    if header:
        cfg.token = header.split(" ", 1)[1] if header.lower().startswith("bearer ") else header
        cfg.secrets.append(cfg.token)


def _load_incluster(cfg):
    host = os.environ.get("KUBERNETES_SERVICE_HOST")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    token_file = os.path.join(SERVICE_ACCOUNT_DIR, "token")
    if not host or not os.path.exists(token_file):
        return False
    if ":" in host and not host.startswith("["):
        host = "[%s]" % host
    cfg.server = "https://%s:%s" % (host, port)
    cfg.token_file = token_file
    ca_file = os.path.join(SERVICE_ACCOUNT_DIR, "ca.crt")
    cfg.ca_file = ca_file if os.path.exists(ca_file) else None
    return True


def _exec_env(exec_config, command):
    """The environment of an exec credential plugin: ours plus its validated ``env`` entries."""
    env = dict(os.environ)
    entries = exec_config.get("env") or []
    if not isinstance(entries, list):
        raise ConnectionConfigError("the kubeconfig exec credential plugin %s: env must be a list of {name, value}" % command)
    for index, item in enumerate(entries):
        if not (
            isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"] and "=" not in item["name"] and isinstance(item.get("value", ""), str)
        ):
            raise ConnectionConfigError(
                "the kubeconfig exec credential plugin %s: env entry %d must be a map with a non-empty string name (no '=') "
                "and a string value" % (command, index)
            )
        env[item["name"]] = item.get("value", "")
    return env


def _run_exec_plugin(exec_config):
    """Run a client-go exec credential plugin and return its ExecCredential status."""
    command = exec_config.get("command")
    if not command or not isinstance(command, str):
        raise ConnectionConfigError("the kubeconfig exec credential plugin has no command")
    args = exec_config.get("args") or []
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ConnectionConfigError("the kubeconfig exec credential plugin %s: args must be a list of strings" % command)
    env = _exec_env(exec_config, command)
    api_version = exec_config.get("apiVersion", "client.authentication.k8s.io/v1")
    env["KUBERNETES_EXEC_INFO"] = json.dumps({"apiVersion": api_version, "kind": "ExecCredential", "spec": {"interactive": False}})
    argv = [command] + list(args)
    try:
        proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConnectionConfigError("the kubeconfig exec credential plugin %s failed to run: %s" % (command, exc))
    if proc.returncode != 0:
        raise ConnectionConfigError(
            "the kubeconfig exec credential plugin %s exited with %d: %s" % (command, proc.returncode, proc.stderr.decode("utf-8", "replace").strip()[:500])
        )
    try:
        status = json.loads(proc.stdout.decode("utf-8"))["status"]
    except (ValueError, KeyError, TypeError):
        raise ConnectionConfigError("the kubeconfig exec credential plugin %s did not print an ExecCredential" % command)
    if not isinstance(status, dict):
        raise ConnectionConfigError("the kubeconfig exec credential plugin %s did not print an ExecCredential" % command)
    return status


class K8sClient:
    """JSON client for one API server. Threads may share it: one HTTP exchange at a time on its keep-alive connection."""

    def __init__(self, config, request_timeout=DEFAULT_REQUEST_TIMEOUT, sleep=time.sleep, rng=None):
        self.config = config
        self.timeout = request_timeout
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._files = []
        self._exec_status = None
        self._kubeconfig_path = None
        self.requests = {"get": 0, "list": 0, "create": 0, "update": 0, "patch": 0, "delete": 0}
        self._transport = _http.Transport(
            config.server,
            what="the Kubernetes API server %s" % config.server,
            timeout=request_timeout,
            context=self._ssl_context,
            tls_server_name=config.tls_server_name,
            allow_http_credentials=config.allow_http_credentials,
        )
        if config.has_credentials():
            self._transport.check_credentials("the kubeconfig user's credentials (token, basic auth or exec plugin)")

    # -- secrets and cleanup -------------------------------------------------------------------
    @property
    def secrets(self):
        values = list(self.config.secrets)
        if self._exec_status:
            values.extend(self._exec_status.get(key) for key in ("token", "clientKeyData"))
        return [v for v in values if v]

    def close(self):
        """Close the connection and forget the private files (idempotent)."""
        self.close_connection()
        for private in self._files:
            private.close()
        self._files = []
        self._kubeconfig_path = None

    def private_fds(self):
        """File descriptors a child process (everestctl) must inherit to read ``kubeconfig_path()``."""
        return tuple(f.fd for f in self._files if f.fd is not None)

    def _tmpfile(self, data, suffix):
        private = _private_files.create(data, suffix)
        self._files.append(private)
        return private.path

    # -- connection ----------------------------------------------------------------------------
    def _ssl_context(self):
        cfg = self.config
        cert_file, key_file = cfg.client_cert_file, cfg.client_key_file
        exec_status = self._exec_credentials()
        if exec_status and exec_status.get("clientCertificateData"):
            cert_file = self._tmpfile(exec_status["clientCertificateData"].encode("ascii"), ".crt")
            key_file = self._tmpfile((exec_status.get("clientKeyData") or "").encode("ascii"), ".key")
        if cfg.client_cert_data:
            cert_file = self._tmpfile(cfg.client_cert_data, ".crt")
        if cfg.client_key_data:
            key_file = self._tmpfile(cfg.client_key_data, ".key")
        return _http.ssl_context(
            ca_file=cfg.ca_file,
            ca_data=cfg.ca_data,
            insecure=cfg.insecure,
            cert_file=cert_file,
            key_file=key_file,
            what="the Kubernetes API server %s" % cfg.server,
        )

    def _exec_credentials(self):
        if self.config.exec_config and self._exec_status is None:
            self._exec_status = _run_exec_plugin(self.config.exec_config)
        return self._exec_status

    def _headers(self, content_type=None):
        headers = {"Accept": "application/json", "User-Agent": "virakcloud.everest"}
        token = self.config.bearer_token()
        exec_status = self._exec_credentials()
        if exec_status and exec_status.get("token"):
            token = exec_status["token"]
        if token:
            headers["Authorization"] = "Bearer " + token
        elif self.config.username and self.config.password is not None:
            raw = ("%s:%s" % (self.config.username, self.config.password)).encode("utf-8")
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode("ascii")
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    # -- requests ------------------------------------------------------------------------------
    def request(self, method, url_path, body=None, query=None, content_type="application/json", verb=None):
        """Send one request; retry transient failures; return the decoded JSON (or None).

        A 401 with an exec credential plugin runs the plugin again once (its credential may have expired), as
        client-go does."""
        full = url_path
        if query:
            full += "?" + urlencode([(k, v) for k, v in query.items() if v is not None])
        payload = None
        if body is not None:
            payload = json.dumps(body).encode("utf-8")
        if verb:
            with self._transport.lock:
                self.requests[verb] = self.requests.get(verb, 0) + 1
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            try:
                status, reason, headers, data = self._send(method, full, payload, content_type if body is not None else None)
            except (socket.timeout, ConnectionError, HTTPException, OSError) as exc:
                self.close_connection()
                if isinstance(exc, ssl.SSLError) and "CERTIFICATE_VERIFY_FAILED" in str(exc):
                    raise ConnectionConfigError(
                        "TLS verification of %s failed: %s; set ca_cert to the cluster CA (or validate_certs: false for a test cluster)"
                        % (self.config.server, exc)
                    )
                err = K8sTransient("cannot reach the Kubernetes API at %s: %s" % (self.config.server, exc), method=method, path=url_path)
                if attempt >= TRANSIENT_ATTEMPTS:
                    raise err
                self._backoff(attempt, None)
                continue
            if 200 <= status < 300:
                try:
                    return _http.json_body(data)
                except ValueError:
                    raise K8sApiError(
                        "the Kubernetes API returned a non-JSON answer to %s %s" % (method, url_path), status=status, method=method, path=url_path
                    )
            if status == 401 and self.config.exec_config and not refreshed:
                refreshed = True
                self._exec_status = None
                self.close_connection()  # a client certificate from the plugin is part of the TLS context
                continue
            error = self._error(method, url_path, status, reason, data)
            if isinstance(error, K8sTransient) and attempt < TRANSIENT_ATTEMPTS:
                self._backoff(attempt, headers.get("retry-after"))
                continue
            raise error

    def close_connection(self):
        self._transport.close()

    def _send(self, method, full, payload, content_type):
        # One HTTP exchange at a time on the shared keep-alive connection: a module may use the client from a second
        # thread (the Lease renewer of _lock.py) while its main thread reads and writes.
        with self._transport.lock:
            return self._transport.send(method, full, body=payload, headers=self._headers(content_type))

    def _backoff(self, attempt, retry_after):
        TRANSIENT_BACKOFF.pause(attempt - 1, self._sleep, self._rng, retry_after=retry_after)

    def _error(self, method, url_path, status, reason, data):
        api_reason, api_message, causes = reason, None, []
        try:
            doc = json.loads(data.decode("utf-8")) if data else {}
        except ValueError:
            doc = {}
        if isinstance(doc, dict):
            api_reason = doc.get("reason") or reason
            api_message = doc.get("message")
            causes = [c for c in ((doc.get("details") or {}).get("causes") or []) if isinstance(c, dict)]
        text = api_message or (data.decode("utf-8", "replace").strip()[:300] if data else reason)
        msg = "Kubernetes API %s %s: %s (%s %s)" % (method, url_path, text, status, api_reason)
        kwargs = dict(status=status, reason=api_reason, api_message=api_message, causes=causes, method=method, path=url_path)
        if status == 404:
            return K8sNotFound(msg, **kwargs)
        if status == 409:
            return (K8sAlreadyExists if api_reason == "AlreadyExists" else K8sConflict)(msg, **kwargs)
        if status == 422:
            return K8sInvalid(msg, **kwargs)
        if status == 403:
            return K8sForbidden(msg, **kwargs)
        if status == 401:
            kwargs_msg = (
                "the Kubernetes API at %s rejected the credentials (401 Unauthorized); check the kubeconfig user, "
                "api_key or the token's expiry" % self.config.server
            )
            return K8sUnauthorized(kwargs_msg, **kwargs)
        if status == 415:
            return K8sUnsupportedMediaType(msg, **kwargs)
        if status == 429 or status >= 500:
            return K8sTransient(msg, **kwargs)
        return K8sApiError(msg, **kwargs)

    # -- verbs ---------------------------------------------------------------------------------
    def get(self, url_path):
        return self.request("GET", url_path, verb="get")

    def get_or_none(self, url_path):
        try:
            return self.get(url_path)
        except K8sNotFound:
            return None

    def list(self, url_path, label_selector=None, field_selector=None):
        return self.request("GET", url_path, query={"labelSelector": label_selector, "fieldSelector": field_selector}, verb="list")

    def create(self, url_path, body):
        return self.request("POST", url_path, body=body, verb="create")

    def replace(self, url_path, body):
        return self.request("PUT", url_path, body=body, verb="update")

    def patch(self, url_path, body, patch_type="merge"):
        return self.request("PATCH", url_path, body=body, content_type=PATCH_CONTENT_TYPES[patch_type], verb="patch")

    def delete(self, url_path, missing_ok=True, body=None):
        try:
            return self.request("DELETE", url_path, body=body, verb="delete")
        except K8sNotFound:
            if missing_ok:
                return None
            raise

    # -- kubeconfig for everestctl --------------------------------------------------------------
    def kubeconfig_path(self):
        """One kubeconfig file pointing at the same cluster with the same credentials.

        The original file when it can be used as is; otherwise a private (0600) temporary file that
        is removed by ``close()``.
        """
        if self.config.source_file:
            return self.config.source_file
        if self._kubeconfig_path:
            return self._kubeconfig_path
        cfg = self.config
        cluster = {"server": cfg.server}
        if cfg.insecure:
            cluster["insecure-skip-tls-verify"] = True
        if cfg.ca_data:
            cluster["certificate-authority-data"] = base64.b64encode(cfg.ca_data).decode("ascii")
        elif cfg.ca_file:
            cluster["certificate-authority"] = os.path.abspath(cfg.ca_file)
        if cfg.tls_server_name:
            cluster["tls-server-name"] = cfg.tls_server_name
        user = {}
        if cfg.token:
            user["token"] = cfg.token
        elif cfg.token_file:
            user["tokenFile"] = os.path.abspath(cfg.token_file)
        elif cfg.exec_config:
            user["exec"] = cfg.exec_config
        if cfg.client_cert_data:
            user["client-certificate-data"] = base64.b64encode(cfg.client_cert_data).decode("ascii")
        elif cfg.client_cert_file:
            user["client-certificate"] = os.path.abspath(cfg.client_cert_file)
        if cfg.client_key_data:
            user["client-key-data"] = base64.b64encode(cfg.client_key_data).decode("ascii")
        elif cfg.client_key_file:
            user["client-key"] = os.path.abspath(cfg.client_key_file)
        if cfg.username and cfg.password is not None and not user:
            user.update({"username": cfg.username, "password": cfg.password})
        doc = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "everest",
            "clusters": [{"name": "everest", "cluster": cluster}],
            "users": [{"name": "everest", "user": user}],
            "contexts": [{"name": "everest", "context": {"cluster": "everest", "user": "everest"}}],
        }
        self._kubeconfig_path = self._tmpfile(json.dumps(doc).encode("utf-8"), ".kubeconfig")
        return self._kubeconfig_path


def client_from_params(params, **kwargs):
    """Build a K8sClient from connection options (see AUTH_OPTIONS)."""
    return K8sClient(load_config(params), **kwargs)


def read_modify_write(client, url_path, mutate, attempts=CONFLICT_ATTEMPTS, sleep=time.sleep, rng=None):
    """Conditional update with conflict retry.

    GET the object, call ``mutate(obj)`` (it gets a fresh copy each attempt and returns the new
    object, or None when nothing needs to change), PUT it carrying the resourceVersion that was
    read. On 409 Conflict re-read and re-apply, with jittered exponential backoff.
    Returns ``(changed, object_after)``.
    """
    rng = rng or random.Random()
    for attempt in range(1, attempts + 1):
        current = client.get(url_path)
        desired = mutate(current)
        if desired is None:
            return False, current
        desired.setdefault("metadata", {})["resourceVersion"] = current["metadata"]["resourceVersion"]
        try:
            return True, client.replace(url_path, desired)
        except K8sConflict as exc:
            if attempt == attempts:
                raise K8sConflict(
                    "%s kept changing under us: %d conditional updates in a row were refused (409 Conflict); another writer "
                    "is updating it continuously; retry later" % (url_path, attempts),
                    status=exc.status,
                    reason=exc.reason,
                    api_message=exc.message,
                    method="PUT",
                    path=url_path,
                )
            CONFLICT_BACKOFF.pause(attempt - 1, sleep, rng)
    raise AssertionError("unreachable")  # pragma: no cover
