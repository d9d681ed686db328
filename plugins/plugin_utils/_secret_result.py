# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Base of the action plugins whose module returns a secret (everest_session's token, the database credentials of
everest_database_cluster_info): run the module, then mark the result as secret when the task asked for it.

A module cannot do this itself: ansible-core drops an ``_ansible_no_log`` key a module returns, and adding the value
to the module's ``no_log_values`` would mask it in the registered variable too. The ``_ansible_no_log`` of an action
plugin hides the result from every callback (the screen at any verbosity, logs, AWX) while the registered variable
keeps the value for later tasks. The rule itself is ``_everest_api.hide_secret_result``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

from ansible_collections.virakcloud.everest.plugins.module_utils._everest_api import hide_secret_result


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
