# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only callback: records every task result and the recap as JSON for the integration tests.

Enabled by tests/integration/conftest.py (ANSIBLE_CALLBACKS_ENABLED=record); the file is named by the
environment variable EVEREST_TEST_RESULTS. The screen output stays the default callback's, so tests can
also grep what a person would see.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: record
type: aggregate
short_description: record task results as JSON (integration tests only)
description:
  - Writes every task result and the play recap to the file named by E(EVEREST_TEST_RESULTS).
requirements:
  - enabled in configuration
"""

import json
import os

from ansible.plugins.callback import CallbackBase


def _plain(value):
    """Make results JSON-safe (ansible wraps strings in its own types)."""
    return json.loads(json.dumps(value, default=str))


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "record"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self._tasks = []
        self._current = None

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._current = {"name": task.get_name(), "action": task.action, "hosts": {}}
        self._tasks.append(self._current)

    v2_playbook_on_handler_task_start = v2_playbook_on_task_start

    def _record(self, result, status):
        data = dict(result._result)
        data.setdefault("changed", False)
        data["_status"] = status
        name = result._task.get_name()
        if self._current is None or self._current["name"] != name:
            self.v2_playbook_on_task_start(result._task, False)
        self._current["hosts"][result._host.get_name()] = _plain(data)

    def v2_runner_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        recap = {}
        for host in sorted(stats.processed.keys()):
            recap[host] = stats.summarize(host)
        path = os.environ.get("EVEREST_TEST_RESULTS")
        if path:
            with open(path, "w") as handle:
                json.dump({"tasks": self._tasks, "stats": recap}, handle)
