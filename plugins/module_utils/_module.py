# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""EverestModule: AnsibleModule with the shared connection options, a lazy Kubernetes client,
a lazy everestctl runner and one way to fail from a typed error."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import os
import signal
import traceback

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.virakcloud.everest.plugins.module_utils import _everestctl
from ansible_collections.virakcloud.everest.plugins.module_utils import _k8s
from ansible_collections.virakcloud.everest.plugins.module_utils import _lock
from ansible_collections.virakcloud.everest.plugins.module_utils import _private_files
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError, MissingDependencyError
from ansible_collections.virakcloud.everest.plugins.module_utils._everestctl import Everestctl

# The kubernetes.core option names and environment variables (plugins/doc_fragments/connection.py documents them).
K8S_AUTH_ARG_SPEC = {
    "kubeconfig": {"type": "path", "fallback": (env_fallback, ["K8S_AUTH_KUBECONFIG"])},
    "context": {"type": "str", "fallback": (env_fallback, ["K8S_AUTH_CONTEXT"])},
    "host": {"type": "str", "fallback": (env_fallback, ["K8S_AUTH_HOST"])},
    "api_key": {"type": "str", "no_log": True, "fallback": (env_fallback, ["K8S_AUTH_API_KEY"])},
    "validate_certs": {"type": "bool", "aliases": ["verify_ssl"], "fallback": (env_fallback, ["K8S_AUTH_VERIFY_SSL"])},
    "ca_cert": {"type": "path", "aliases": ["ssl_ca_cert"], "fallback": (env_fallback, ["K8S_AUTH_SSL_CA_CERT"])},
    "client_cert": {"type": "path", "aliases": ["cert_file"], "fallback": (env_fallback, ["K8S_AUTH_CERT_FILE"])},
    "client_key": {"type": "path", "aliases": ["key_file"], "no_log": False, "fallback": (env_fallback, ["K8S_AUTH_KEY_FILE"])},
    "allow_http_credentials": {"type": "bool", "default": False, "fallback": (env_fallback, ["VIRAKCLOUD_EVEREST_ALLOW_HTTP_CREDENTIALS"])},
}
# Signals that end a module cleanly: its everestctl children die with it, its Leases are given back, its private files
# closed. (SIGKILL cannot be caught: the kernel kills the children (_everestctl) and nothing was ever on disk
# (_private_files); a Lease then expires on its own.)
HANDLED_SIGNALS = ("SIGTERM", "SIGINT", "SIGHUP")

EVERESTCTL_ARG_SPEC = {
    "everestctl_path": {"type": "path", "fallback": (env_fallback, ["EVERESTCTL_PATH"])},
    "everestctl_timeout": {"type": "int", "default": 900},
}


def build_argument_spec(spec, k8s=True, everestctl=False):
    """A module's own options plus the shared ones (deep copies, so modules can't alter the originals).

    Every module that talks to the Kubernetes API also accepts the everestctl options, used or not: they are all
    in the ``everest`` action group, and ``module_defaults`` passes every group default to every member.
    """
    result = {}
    if k8s:
        result.update(copy.deepcopy(K8S_AUTH_ARG_SPEC))
    if k8s or everestctl:
        result.update(copy.deepcopy(EVERESTCTL_ARG_SPEC))
    result.update(copy.deepcopy(spec))
    return result


class EverestModule(AnsibleModule):
    """AnsibleModule with ``k8s`` (lazy K8sClient) and ``everestctl`` (lazy runner) properties."""

    def __init__(self, argument_spec=None, k8s=True, everestctl=False, **kwargs):
        self._use_k8s = k8s
        self._use_everestctl = everestctl
        self._k8s_client = None
        self._runner = None
        super(EverestModule, self).__init__(argument_spec=build_argument_spec(argument_spec or {}, k8s=k8s, everestctl=everestctl), **kwargs)
        self._interrupted = False
        for name in HANDLED_SIGNALS:
            signal.signal(getattr(signal, name), self._on_signal)
        if not _k8s.HAS_YAML:
            self.fail_json(msg=missing_required_lib("PyYAML"), exception=str(_k8s.YAML_IMPORT_ERROR))

    @property
    def k8s(self):
        if self._k8s_client is None:
            params = dict((name, self.params.get(name)) for name in _k8s.AUTH_OPTIONS)
            try:
                self._k8s_client = _k8s.client_from_params(params)
            except EverestError as exc:
                self.fail_from(exc)
            for secret in self._k8s_client.secrets:
                self.no_log_values.add(secret)
        return self._k8s_client

    @property
    def everestctl(self):
        if self._runner is None:
            binary = self.params.get("everestctl_path")
            if binary:
                binary = os.path.expanduser(binary)
                if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
                    self.fail_json(msg="everestctl_path %s is not an executable file; install everestctl or fix everestctl_path / EVERESTCTL_PATH" % binary)
            else:
                binary = self.get_bin_path("everestctl")
                if not binary:
                    self.fail_json(
                        msg="everestctl was not found in PATH; install it "
                        "(https://docs.percona.com/everest/install/installEverestCLI.html) or set everestctl_path / EVERESTCTL_PATH"
                    )
            client = self.k8s
            self._runner = Everestctl(
                binary,
                kubeconfig=client.kubeconfig_path,
                pass_fds=client.private_fds,
                timeout=self.params.get("everestctl_timeout") or 900,
                secrets=client.secrets,
            )
        return self._runner

    def fail_from(self, exc, **extra):
        """fail_json from an EverestError (structured keys kept apart from msg); never a traceback as msg."""
        if isinstance(exc, MissingDependencyError) and exc.details.get("library"):
            kwargs = {"msg": missing_required_lib(exc.details["library"]) + " (" + exc.msg + ")"}
        elif isinstance(exc, EverestError):
            kwargs = exc.to_fail_kwargs()
        else:
            kwargs = {"msg": "unexpected error: %s" % exc, "exception": traceback.format_exc()}
        kwargs.update(extra)
        self._close_client()
        self.fail_json(**kwargs)

    def exit_json(self, **kwargs):
        self._close_client()
        super(EverestModule, self).exit_json(**kwargs)

    def fail_json(self, msg, **kwargs):
        # every way out closes the client: its temporary kubeconfig may hold a token
        self._close_client()
        super(EverestModule, self).fail_json(msg, **kwargs)

    def _on_signal(self, signum, _frame):
        if self._interrupted:
            return
        self._interrupted = True
        killed = _everestctl.terminate_all()
        _lock.release_all()
        self._close_client()
        _private_files.close_all()
        stopped = " (%d everestctl process(es) stopped)" % killed if killed else ""
        self.fail_json(
            msg="interrupted by signal %d%s; nothing is left running. Re-run the task: every step reads the cluster "
            "first and resumes what was interrupted" % (signum, stopped)
        )

    def _close_client(self):
        if self._k8s_client is not None:
            self._k8s_client.close()


class LazyEverestctl:
    """The runner interface (``run``/``preview``) without creating the runner until a command is really built.

    A no-op run never needs the everestctl binary, and check mode can show the command it would run even on a
    controller without everestctl (the preview then names plain ``everestctl`` and no ``--kubeconfig``).
    """

    def __init__(self, module):
        self._module = module

    def run(self, shape, **values):
        return self._module.everestctl.run(shape, **values)

    def preview(self, shape, **values):
        if self._module.params.get('everestctl_path') or self._module.get_bin_path('everestctl'):
            return self._module.everestctl.preview(shape, **values)
        return Everestctl('everestctl').preview(shape, **values)
