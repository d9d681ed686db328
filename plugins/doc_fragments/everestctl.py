# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # everestctl options. Every module with the Kubernetes connection options accepts them (the everest action
    # group shares module_defaults); only the modules that run everestctl use them.
    DOCUMENTATION = r"""
options:
  everestctl_path:
    description:
      - Path of the C(everestctl) binary.
      - When not set, the E(EVERESTCTL_PATH) environment variable, then C(everestctl) in E(PATH).
      - Modules that never run everestctl (for example M(virakcloud.everest.tenant_resource_policy)) accept this option
        so that C(module_defaults) for the C(group/virakcloud.everest.everest) action group can set it once, and ignore it.
    type: path
  everestctl_timeout:
    description:
      - Default timeout in seconds for one everestctl call. A call that takes longer is killed and the task fails with
        C(timed out after N s).
    type: int
    default: 900
requirements:
  - for modules that run it, everestctl (Percona Everest CLI) 1.4.0 or later on the host that runs the module (the
    controller when the connection is local)
notes:
  - everestctl runs with stdin closed, without a controlling terminal (so a prompt fails at once instead of blocking)
    and with C(LC_ALL=C). Its argv is built from a fixed allow-list of command shapes; secret values are shown as
    C(********) in every returned or logged command.
"""
