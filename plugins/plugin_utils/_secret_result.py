# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Base of the action plugins whose module returns a secret (everest_session's token, the database credentials of
everest_database_cluster_info): run the module, then mark the result as secret when the task asked for it.

A module cannot do this itself: ansible-core drops an ``_ansible_no_log`` key a module returns, and adding the value
to the module's ``no_log_values`` would mask it in the registered variable too. The ``_ansible_no_log`` of an action
plugin hides the result from every callback (the screen at any verbosity, logs, AWX) while the registered variable
keeps the value for later tasks. The rule itself is ``hide_secret_result`` (pure, unit-tested).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

WITHHELD_STDOUT = (
    "<withheld by virakcloud.everest: the module's raw output may hold a secret (session token or database "
    "credentials); run the task with ANSIBLE_DEBUG=1 on a trusted terminal to see it>"
)


def hide_secret_result(result, secret_keys, requested):
    """For the action plugins of modules whose result holds a secret (everest_session's token, the credentials of
    everest_database_cluster_info): mark the result ``_ansible_no_log`` so no callback shows it, at any verbosity,
    while the registered variable keeps the values.

    ``requested``: the task asked for the secret (a login; ``credentials: true``). A successful result is hidden
    when it was requested or holds one of ``secret_keys``. A failed result stays visible (the modules never put a
    secret into a failure, so the message is safe and needed), unless it holds a secret key; a module's unparsed
    raw output (``module_stdout``, when its JSON was broken) is withheld because it may be the secret result itself.
    """
    holds_secret = any(key in result for key in secret_keys)
    if result.get("failed"):
        if holds_secret:
            result["_ansible_no_log"] = True
        elif result.get("module_stdout"):
            result["module_stdout"] = WITHHELD_STDOUT
        return result
    if requested or holds_secret:
        result["_ansible_no_log"] = True
    return result


class SecretResultAction(ActionBase):
    """Subclasses set ``SECRET_KEYS`` (result keys that hold the secret) and ``secret_requested()``."""

    _supports_check_mode = True
    # async_status would hand the secret out without this plugin's protection
    _supports_async = False

    SECRET_KEYS = ()

    def secret_requested(self):
        raise NotImplementedError

    def run(self, tmp=None, task_vars=None):
        result = super(SecretResultAction, self).run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        result = merge_hash(result, self._execute_module(task_vars=task_vars))
        self._remove_tmp_path(self._connection._shell.tmpdir)
        return hide_secret_result(result, self.SECRET_KEYS, self.secret_requested())
