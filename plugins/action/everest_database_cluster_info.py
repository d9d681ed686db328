# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""everest_database_cluster_info: runs the module, then marks the result as secret when it was asked for the database
credentials (``credentials: true``), so no callback shows the password while the registered variable keeps it.
Lists and gets without credentials stay visible (see plugins/plugin_utils/_secret_result.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.virakcloud.everest.plugins.plugin_utils._secret_result import SecretResultAction


class ActionModule(SecretResultAction):
    SECRET_KEYS = ('credentials',)

    def secret_requested(self):
        """True when the task asks for credentials; a value that is not a boolean counts as asking (the safe side)."""
        try:
            return boolean(self._task.args.get('credentials', False), strict=True)
        except TypeError:
            return True
