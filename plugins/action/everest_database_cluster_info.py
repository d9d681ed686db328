# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""everest_database_cluster_info: runs the module, then marks the result as secret when it was asked for the database
credentials (``credentials: true``), so no callback shows the password while the registered variable keeps it.

Lists and gets without credentials stay visible. See plugins/action/everest_session.py for why a module cannot do
this itself; the rule is ``_everest_api.hide_secret_result``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

from ansible_collections.virakcloud.everest.plugins.module_utils._everest_api import hide_secret_result


class ActionModule(ActionBase):

    _supports_check_mode = True
    # async_status would hand the credentials out without this plugin's protection
    _supports_async = False

    SECRET_KEYS = ('credentials',)

    def secret_requested(self):
        """True when the task asks for credentials; a value that is not a boolean counts as asking (the safe side)."""
        try:
            return boolean(self._task.args.get('credentials', False), strict=True)
        except TypeError:
            return True

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        result = merge_hash(result, self._execute_module(task_vars=task_vars))
        self._remove_tmp_path(self._connection._shell.tmpdir)
        return hide_secret_result(result, self.SECRET_KEYS, self.secret_requested())
