# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vmops.datacenter maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Runs M(vmops.datacenter.vmm_update_compliance_info) as a watched async job when it scans the hosts first."""

from __future__ import annotations

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.vmops.datacenter.plugins.plugin_utils._progress_action import ProgressActionModule

__all__ = ["ActionModule"]


class ActionModule(ProgressActionModule):
    """Only a scan (VMM jobs) takes long; reading recorded compliance is one quick call."""

    def long_run(self, args):
        try:
            return boolean(args.get("scan", False), strict=False)
        except TypeError:
            return False
