# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Connection options of the modules that use Everest's REST API.
    DOCUMENTATION = r"""
options:
  everest_url:
    description:
      - Base URL of the Everest API server, for example V(https://everest.example.com) (the C(everest) Service in
        C(everest-system), port 8080, or its ingress). Paths C(/v1/...) are appended.
      - Can also be set with the E(EVEREST_URL) environment variable.
    type: str
  everest_token:
    description:
      - Session token (JWT) to use, normally the RV(virakcloud.everest.everest_session#module:token) of an earlier
        M(virakcloud.everest.everest_session) task, passed to every task through C(module_defaults).
      - Takes precedence over O(everest_username)/O(everest_password).
      - Can also be set with the E(EVEREST_TOKEN) environment variable.
    type: str
  everest_username:
    description:
      - Everest account used to log in when no O(everest_token) is given.
      - Everest limits logins to one per second per client IP and locks out after failed logins, so logging in from every
        task is slow and fragile; log in once with M(virakcloud.everest.everest_session) instead.
      - Can also be set with the E(EVEREST_USERNAME) environment variable.
    type: str
  everest_password:
    description:
      - Password of O(everest_username). Can also be set with the E(EVEREST_PASSWORD) environment variable.
    type: str
  everest_validate_certs:
    description:
      - Whether to verify the TLS certificate of O(everest_url).
      - Named with the C(everest_) prefix because the modules that also talk to Kubernetes have their own
        C(validate_certs) for the Kubernetes API.
      - Can also be set with the E(EVEREST_VALIDATE_CERTS) environment variable.
    type: bool
    default: true
  everest_ca_cert:
    description:
      - CA certificate (PEM file) used to verify O(everest_url). Can also be set with the E(EVEREST_CA_CERT) environment variable.
    type: path
  everest_timeout:
    description:
      - Timeout in seconds of one HTTP request to Everest (not of a wait).
    type: int
    default: 30
  everest_allow_http_credentials:
    description:
      - Credentials (the session token, or the password of a login) are never sent to O(everest_url) over plain
        C(http), except to a loopback address (V(localhost), V(127.0.0.1), V(::1)); such a task fails with a message
        instead. Set V(true) to allow it anyway, for a network path that is protected otherwise.
      - Named with the C(everest_) prefix because the modules that also talk to Kubernetes have their own
        C(allow_http_credentials) for the Kubernetes API.
      - Can also be set with the E(VIRAKCLOUD_EVEREST_ALLOW_HTTP_CREDENTIALS) environment variable.
    type: bool
    default: false
notes:
  - Answers C(429 rate limit exceeded) are retried, up to 10 attempts in all. Everest's rate limiter sends no
    C(Retry-After) header, so the module waits with a jittered exponential backoff (0.25 to 0.5 s, doubling each time,
    at most 30 s per wait); a C(Retry-After) header (for example from a proxy in front of Everest) is honoured, capped at
    30 s. The final failure says how many attempts were made over how long. GET requests are also retried on 5xx answers
    and connection failures; other methods are not (they may have been carried out).
  - A refused call fails with a message naming the object and the cause; for 403 it names the RBAC resource, action and
    object the policy would need (or, when the login itself is refused with 403, says the account is disabled or lacks the
    C(login) capability, which no RBAC rule changes), for 401 with an expired token it says when the token expired and to
    run M(virakcloud.everest.everest_session) again, for 400 and 422 it names the field when the answer does.
"""
