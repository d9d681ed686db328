# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Options of modules that run everestctl.
    DOCUMENTATION = r"""
options:
  everestctl_path:
    description:
      - Path of the C(everestctl) binary.
      - When not set, the E(EVERESTCTL_PATH) environment variable, then C(everestctl) in E(PATH).
    type: path
  everestctl_timeout:
    description:
      - Default timeout in seconds for one everestctl call. A call that takes longer is killed and the task fails with
        C(timed out after N s).
    type: int
    default: 900
requirements:
  - everestctl (Percona Everest CLI) 1.4.0 or later on the host that runs the module (the controller when the
    connection is local)
notes:
  - everestctl runs with stdin closed, without a controlling terminal (so a prompt fails at once instead of blocking)
    and with C(LC_ALL=C). Its argv is built from a fixed allow-list of command shapes; secret values are shown as
    C(********) in every returned or logged command.
"""
