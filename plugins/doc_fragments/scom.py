# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # How the PowerShell remoting options (vmops.datacenter.psrp) apply to the SCOM modules, and their action group.
    DOCUMENTATION = r"""
attributes:
  action_group:
    description: Use C(group/vmops.datacenter.scom) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - vmops.datacenter.scom
notes:
  - The PowerShell session runs on O(server), the SCOM management server (the C(OperationsManager) module must be
    installed there); the module connects to the management group on that server itself.
  - For a jump box, set O(server) to the jump box and O(vmm_server) (with O(vmm_username) and O(vmm_password)) to
    the SCOM management server the jump box connects on to; the C(vmm_) options name the management server here.
"""
