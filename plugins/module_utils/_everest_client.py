# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Client of Everest's REST API (reference §6, §7): connection, session, errors, and the module glue of its options.

* ``EverestClient``: JSON over ``http.client``; ``login()`` (``POST /v1/session``) or a given token;
  429 retried (bounded) after the server's ``Retry-After`` when there is one, else with a jittered exponential
  backoff (Everest's echo rate limiter sends none, reference §7); GET retried on 5xx/connection errors; every error
  status mapped to a typed ``EverestApiError`` whose message names the object, the cause and the fix
  (403 names the RBAC permission, or says the account is disabled when the login itself is refused; 401 says
  when the token expired and how to get a new one; 400/422 name the field).
* ``argument_spec(spec)`` / ``api_client(module)``: the ``everest_*`` options and the client they describe (one
  login per task only when no token is given; ``everest_session`` exists to log in once per play).

What the day-2 modules do with it: ``_everest_objects.py`` (objects with write-only secrets, waits) and
``_database_cluster.py``. Secrets (password, token) are never put into messages or details.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy
import json
import random
import re
import socket
import ssl
import time

try:
    from http.client import HTTPException
    from urllib.parse import quote, urlencode, urlsplit
except ImportError:  # pragma: no cover - Python 2 is not supported
    HTTPException = None
    quote = urlencode = urlsplit = None

from ansible.module_utils.basic import env_fallback

from ansible_collections.virakcloud.everest.plugins.module_utils import _http, _retry
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError, ValidationError

API_ARG_SPEC = {
    "everest_url": {"type": "str", "fallback": (env_fallback, ["EVEREST_URL"])},
    "everest_token": {"type": "str", "no_log": True, "fallback": (env_fallback, ["EVEREST_TOKEN"])},
    "everest_username": {"type": "str", "fallback": (env_fallback, ["EVEREST_USERNAME"])},
    "everest_password": {"type": "str", "no_log": True, "fallback": (env_fallback, ["EVEREST_PASSWORD"])},
    "everest_validate_certs": {"type": "bool", "default": True, "fallback": (env_fallback, ["EVEREST_VALIDATE_CERTS"])},
    "everest_ca_cert": {"type": "path", "fallback": (env_fallback, ["EVEREST_CA_CERT"])},
    "everest_timeout": {"type": "int", "default": 30},
    "everest_allow_http_credentials": {"type": "bool", "default": False, "fallback": (env_fallback, ["VIRAKCLOUD_EVEREST_ALLOW_HTTP_CREDENTIALS"])},
}
SESSION_HINT = "run virakcloud.everest.everest_session again (or give everest_username/everest_password) to get a new token"
ACCOUNTS_DOC = "https://docs.percona.com/everest/administer/manage_users.html"
RATE_LIMIT_ATTEMPTS = 10
RETRY_AFTER_CAP = 30.0
BACKOFF_BASE = 0.5
# 429 without Retry-After, 5xx and connection failures of GETs: BACKOFF_BASE doubling up to RETRY_AFTER_CAP, times [0.5, 1)
BACKOFF = _retry.Backoff(BACKOFF_BASE, RETRY_AFTER_CAP, _retry.EQUAL_JITTER, retry_after_cap=RETRY_AFTER_CAP)
RBAC_DENIED = "insufficient permissions"
# Kubernetes-style validation text, as Everest passes it on (reference §6.1): '<Kind> "<name>" is invalid: <field>: <reason>'
# (several causes: 'is invalid: [<field>: <reason>, ...]').
K8S_INVALID_FIELD_RE = re.compile(r"is invalid: \[?([A-Za-z][\w.\[\]/-]*): ")
TRANSIENT_ATTEMPTS = 4


# -------------------------------------------------------------------------------------------------------- errors


class EverestApiError(EverestError):
    """An error answer of the Everest API (or no answer). ``status`` is None for connection failures."""

    def __init__(self, msg, status=None, api_message=None, method=None, path=None, field=None):
        super(EverestApiError, self).__init__(msg, status=status, api_message=api_message, method=method, path=path, field=field)
        self.status, self.api_message, self.field = status, api_message, field
        self.method, self.path = method, path


class EverestApiUnauthorized(EverestApiError):
    pass


class EverestApiForbidden(EverestApiError):
    pass


class EverestApiNotFound(EverestApiError):
    pass


class EverestApiConflict(EverestApiError):
    pass


class EverestApiInvalid(EverestApiError):
    """400 or 422: the request was refused by validation."""


class EverestApiRateLimited(EverestApiError):
    pass


class EverestApiUnavailable(EverestApiError):
    """5xx or a connection failure."""


def token_claims(token):
    """The (unverified) claims of a JWT, {} when it cannot be decoded. Only used for messages and expiry."""
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode("utf-8")) or {}
    except (ValueError, IndexError, AttributeError, TypeError):
        return {}


def token_user(token):
    sub = token_claims(token).get("sub") or ""
    return sub.rsplit(":", 1)[0] if ":" in sub else sub or None


def _utc(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


# -------------------------------------------------------------------------------------------------------- client


class EverestClient:
    """JSON client of the Everest API. ``rbac=(resource, action, object)`` on a call makes 403 messages precise."""

    def __init__(
        self,
        url,
        token=None,
        username=None,
        password=None,
        validate_certs=True,
        ca_cert=None,
        timeout=30,
        sleep=time.sleep,
        clock=time.time,
        rng=None,
        allow_http_credentials=False,
    ):
        parts = urlsplit(url or "")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError("everest_url %r is not an http(s) URL, e.g. https://everest.example.com" % (url,))
        self.url = url.rstrip("/")
        self.token, self.username, self.password = token, username, password
        self.validate_certs, self.ca_cert, self.timeout = validate_certs, ca_cert, timeout
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self.logins = 0
        self.rate_limit_waits = []
        self._transport = _http.Transport(
            self.url,
            what="the Everest API server %s" % self.url,
            timeout=timeout,
            context=self._ssl_context,
            allow_http_credentials=allow_http_credentials,
            option="everest_allow_http_credentials",
        )
        if token or (username and password is not None):
            self._transport.check_credentials("the Everest credentials (session token or password)")

    # -- transport ---------------------------------------------------------------------------
    def _ssl_context(self):
        # without verification a CA is not used (it used to be ignored, so it is not refused as it is for Kubernetes)
        return _http.ssl_context(
            ca_file=self.ca_cert if self.validate_certs else None, insecure=not self.validate_certs, what="the Everest API server %s" % self.url
        )

    def close(self):
        self._transport.close()

    def _send(self, method, full, payload, token):
        headers = {"Accept": "application/json", "User-Agent": "virakcloud.everest"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = "Bearer " + token
        status, _reason, resp_headers, data = self._transport.send(method, full, body=payload, headers=headers)
        return status, resp_headers, data

    def _retry_delay(self, headers, attempt):
        """The server's Retry-After (capped), else BACKOFF_BASE * 2**(attempt-1), capped, times a jitter in [0.5, 1)."""
        return BACKOFF.delay(attempt - 1, self._rng, retry_after=headers.get("retry-after"))

    def request(self, method, path, body=None, query=None, rbac=None, what=None, auth=True):
        """Send one call; returns the decoded JSON (None for an empty body). ``path`` starts with ``/v1``."""
        full = path
        if query:
            full += "?" + urlencode([(k, v) for k, v in query.items() if v is not None])
        payload = json.dumps(body).encode("utf-8") if body is not None else None
        if auth and not self.token:
            self.login()
        attempt = 0
        waited = 0.0
        while True:
            attempt += 1
            reused = self._transport.connected
            try:
                status, headers, data = self._send(method, full, payload, self.token if auth else None)
            except ssl.SSLError as exc:
                self.close()
                raise EverestApiUnavailable(
                    "TLS connection to Everest at %s failed: %s; set everest_ca_cert to the CA of the Everest certificate "
                    "(or everest_validate_certs: false for a test installation)" % (self.url, exc),
                    method=method,
                    path=path,
                )
            except (socket.timeout, ConnectionError, HTTPException, OSError) as exc:
                self.close()
                if reused and not isinstance(exc, socket.timeout) and attempt == 1:
                    continue  # the server closed an idle keep-alive connection: the request never reached it
                if method == "GET" and attempt < TRANSIENT_ATTEMPTS:
                    self._sleep(self._retry_delay({}, attempt))
                    continue
                raise EverestApiUnavailable(
                    "cannot reach the Everest API at %s: %s; check everest_url and that the everest Service is reachable" % (self.url, exc),
                    method=method,
                    path=path,
                )
            if 200 <= status < 300:
                try:
                    return _http.json_body(data)
                except ValueError:
                    raise EverestApiError("Everest returned a non-JSON answer to %s %s" % (method, path), status=status, method=method, path=path)
            if status == 429 and attempt < RATE_LIMIT_ATTEMPTS:
                delay = self._retry_delay(headers, attempt)
                self.rate_limit_waits.append(delay)
                waited += delay
                self._sleep(delay)
                continue
            if status >= 500 and method == "GET" and attempt < TRANSIENT_ATTEMPTS:
                self._sleep(self._retry_delay(headers, attempt))
                continue
            raise self._error(method, path, status, data, rbac, what, attempt, waited)

    def _error(self, method, path, status, data, rbac, what, attempts, waited=0.0):
        try:
            doc = json.loads(data.decode("utf-8")) if data else {}
        except ValueError:
            doc = {}
        api_message = doc.get("message") if isinstance(doc, dict) else None
        if api_message is None and data:
            api_message = data.decode("utf-8", "replace").strip()[:300]
        text = (api_message or "").replace("\n", ": ")
        what = what or "%s %s" % (method, path)
        kwargs = dict(status=status, api_message=api_message, method=method, path=path)
        if status == 401:
            return EverestApiUnauthorized(self._unauthorized_message(text), **kwargs)
        if status == 403:
            if method == "POST" and path == "/v1/session":
                return EverestApiForbidden(self._login_forbidden_message(text), **kwargs)
            user = token_user(self.token) or self.username or "the token's user"
            if "is forbidden" in text and RBAC_DENIED not in text:
                # not Everest's RBAC: Kubernetes refused the call Everest made (a ResourceQuota, an admission webhook)
                return EverestApiForbidden(
                    "Kubernetes refused %s for Everest (403 %s): user '%s' passed Everest's RBAC, but a Kubernetes rule (for "
                    "example the namespace's ResourceQuota or an admission webhook) does not allow it; free or raise what the "
                    "message names, no Everest RBAC line changes it" % (what, text, user),
                    **kwargs,
                )
            if rbac:
                resource, action, obj = rbac
                msg = (
                    "Everest refused to let user '%s' %s %s (403 %s): the RBAC policy (ConfigMap everest-system/everest-rbac) "
                    "does not grant '%s' on resource '%s' for object '%s'; add a rule such as 'p, <user or role>, %s, %s, %s' "
                    "for %s, or use a user who has it" % (user, action, what, text, action, resource, obj, resource, action, obj, user)
                )
            else:
                msg = "Everest refused %s for user '%s' (403 %s): missing RBAC permission" % (what, user, text)
            return EverestApiForbidden(msg, **kwargs)
        if status == 404:
            return EverestApiNotFound("%s: not found (404 %s)" % (what, text), **kwargs)
        if status == 409:
            return EverestApiConflict(
                "%s: 409 Conflict (%s): it already exists, or it was changed by someone else since it was read "
                "(stale metadata.resourceVersion)" % (what, text or "Conflict"),
                **kwargs,
            )
        if status in (400, 422):
            field = None
            match = re.search(r'Error at "([^"]+)"', text) or K8S_INVALID_FIELD_RE.search(text) or re.search(r"'([A-Za-z][\w.\[\]]*)'", text)
            if match:
                field = match.group(1)
            msg = "Everest refused %s (%d): %s" % (what, status, text)
            if field:
                msg += " (field: %s)" % field
            kwargs["field"] = field
            return EverestApiInvalid(msg, **kwargs)
        if status == 429:
            return EverestApiRateLimited(
                "Everest kept answering 429 rate limit exceeded to %s: %d attempts over %.1f s (it limits requests per client IP, "
                "/v1/session to 1 per second with a lockout after failed logins); reuse a token from "
                "virakcloud.everest.everest_session instead of logging in per task, lower forks, or retry later" % (what, attempts, waited),
                **kwargs,
            )
        return EverestApiUnavailable("%s failed on the Everest side (%d %s)" % (what, status, text), **kwargs)

    def _login_forbidden_message(self, text):
        """403 on POST /v1/session: the password was accepted, the account itself may not log in (reference §6.1); no RBAC rule helps."""
        lowered = text.lower()
        if "disabled" in lowered:
            cause = "the account is disabled"
        elif "capabilit" in lowered:
            cause = "the account lacks the 'login' capability"
        else:
            cause = "the account is disabled or lacks the 'login' capability"
        return (
            "Everest refused the login of '%s' (403 %s): %s (fields enabled and capabilities of the account in Secret "
            "everest-system/everest-accounts); this is not an RBAC permission, no policy line changes it. An Everest administrator "
            "must enable the account with the 'login' capability; everestctl cannot change these fields, but deleting and "
            "re-creating the account with virakcloud.everest.everest_account (state: absent, then present) gives an enabled "
            "account with 'login' (see %s)" % (self.username or "?", text, cause, ACCOUNTS_DOC)
        )

    def _unauthorized_message(self, text):
        if not self.token:
            return "Everest refused the login of '%s' (401 %s); check everest_username and everest_password" % (self.username, text)
        exp = token_claims(self.token).get("exp")
        if isinstance(exp, (int, float)) and exp <= self._clock():
            return "the Everest session token of '%s' expired at %s (401 %s); %s" % (token_user(self.token) or "?", _utc(exp), text, SESSION_HINT)
        return "Everest rejected the session token (401 %s): it is invalid, was revoked by a logout, or the server's JWT keys changed; %s" % (
            text,
            SESSION_HINT,
        )

    # -- session -----------------------------------------------------------------------------
    def login(self):
        if not self.username or self.password is None:
            raise ValidationError(
                "no Everest credentials: give everest_token (from virakcloud.everest.everest_session), or everest_username and everest_password"
            )
        saved, self.token = self.token, None
        try:
            answer = self.request(
                "POST", "/v1/session", {"username": self.username, "password": self.password}, what="login of '%s'" % self.username, auth=False
            )
        except EverestError:
            self.token = saved
            raise
        token = (answer or {}).get("token")
        if not token:
            raise EverestApiError("Everest answered the login of '%s' without a token" % self.username)
        self.token = token
        self.logins += 1
        return token

    def logout(self):
        self.request("DELETE", "/v1/session", what="logout")

    # -- helpers -----------------------------------------------------------------------------
    def get_or_none(self, path, rbac=None, what=None):
        try:
            return self.request("GET", path, rbac=rbac, what=what)
        except EverestApiNotFound:
            return None


def ns_path(namespace, collection, name=None, sub=None):
    out = "/v1/namespaces/%s/%s" % (quote(namespace, safe=""), collection)
    if name is not None:
        out += "/" + quote(name, safe="")
    if sub:
        out += "/" + sub
    return out


# --------------------------------------------------------------------------------------------------- module glue


def argument_spec(spec):
    """A module's own options plus the everest_* connection options (copies)."""
    result = copy.deepcopy(API_ARG_SPEC)
    result.update(copy.deepcopy(spec))
    return result


def check_url(params):
    if not params.get("everest_url"):
        raise ValidationError("everest_url is required (or the EVEREST_URL environment variable)")


def client_from_params(params, **overrides):
    """EverestClient from the everest_* options (``overrides``: other constructor arguments, e.g. ``token=None``)."""
    check_url(params)
    kwargs = dict(
        token=params.get("everest_token"),
        username=params.get("everest_username"),
        password=params.get("everest_password"),
        validate_certs=params.get("everest_validate_certs"),
        ca_cert=params.get("everest_ca_cert"),
        timeout=params.get("everest_timeout"),
        allow_http_credentials=bool(params.get("everest_allow_http_credentials")),
    )
    kwargs.update(overrides)
    return EverestClient(params.get("everest_url"), **kwargs)


def api_client(module, **kwargs):
    """EverestClient from the module's everest_* options; logs in (once) when no token is given."""
    params = module.params
    try:
        kwargs.setdefault("timeout", params.get("everest_timeout") or 30)
        client = client_from_params(params, **kwargs)
        if not client.token:
            client.login()
    except EverestError as exc:
        module.fail_from(exc, changed=False)
    module.no_log_values.add(client.token)
    return client
