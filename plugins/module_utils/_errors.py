# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed errors shared by every module of virakcloud.everest.

Modules raise these from module_utils and turn them into one ``fail_json`` in ``main()``
(``EverestModule.fail_from``). Messages name the object, the cause and the fix; structured
details (``rc``, ``stderr``, ``cmd``, ``status``, ``causes``) travel as separate keys.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class EverestError(Exception):
    """Base error: ``msg`` for people, ``details`` for tools (all values JSON-serialisable)."""

    def __init__(self, msg, **details):
        super(EverestError, self).__init__(msg)
        self.msg = msg
        self.details = details

    def to_fail_kwargs(self):
        kwargs = {"msg": self.msg}
        for key, value in self.details.items():
            if value is not None:
                kwargs[key] = value
        return kwargs


class ValidationError(EverestError):
    """Bad input detected before any call was made."""


class ConnectionConfigError(EverestError):
    """The kubeconfig or the connection options cannot be used."""


class MissingDependencyError(EverestError):
    """A Python library needed for this configuration is not installed."""


class K8sApiError(EverestError):
    """The Kubernetes API answered with an error status (or could not be reached)."""

    def __init__(self, msg, status=None, reason=None, api_message=None, causes=None, method=None, path=None):
        super(K8sApiError, self).__init__(msg, status=status, reason=reason, api_message=api_message, causes=causes or None, method=method, path=path)
        self.status = status
        self.reason = reason
        self.message = api_message
        self.causes = causes or []
        self.method = method
        self.path = path


class K8sNotFound(K8sApiError):
    pass


class K8sConflict(K8sApiError):
    """409 Conflict: the object changed since it was read (stale resourceVersion)."""


class K8sAlreadyExists(K8sApiError):
    """409 AlreadyExists on create."""


class K8sInvalid(K8sApiError):
    """422 Invalid: the object failed validation; ``causes`` carry field paths."""


class K8sForbidden(K8sApiError):
    pass


class K8sUnauthorized(K8sApiError):
    pass


class K8sUnsupportedMediaType(K8sApiError):
    pass


class K8sTransient(K8sApiError):
    """429, 5xx, or a connection failure: worth retrying."""


class TimeoutExceeded(EverestError):
    """A wait did not finish in time; ``details['result']`` may hold the partial result."""


class EverestctlError(EverestError):
    """everestctl exited non-zero. ``kind`` classifies the known stderr texts (see _everestctl.ERROR_KINDS)."""

    def __init__(self, msg, kind="unknown", rc=None, stdout=None, stderr=None, cmd=None):
        super(EverestctlError, self).__init__(msg, rc=rc, stdout=stdout, stderr=stderr, cmd=cmd, error_kind=kind)
        self.kind = kind
        self.rc, self.stdout, self.stderr, self.cmd = rc, stdout, stderr, cmd
