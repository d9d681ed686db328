# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""everest_session: runs the module, then marks a login's result (it holds the session token) as secret, so no
callback shows the token while the registered variable keeps it (see plugins/plugin_utils/_secret_result.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.virakcloud.everest.plugins.plugin_utils._secret_result import SecretResultAction


class ActionModule(SecretResultAction):
    SECRET_KEYS = ('token',)

    def secret_requested(self):
        """A login returns the token; a logout (state=absent) returns nothing secret and stays visible."""
        return self._task.args.get('state', 'present') != 'absent'
