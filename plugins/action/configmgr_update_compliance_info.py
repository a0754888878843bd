# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vmops.datacenter maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Runs M(vmops.datacenter.configmgr_update_compliance_info) as a watched async job when it waits (wait_until)."""

from __future__ import annotations

from ansible_collections.vmops.datacenter.plugins.plugin_utils._progress_action import ProgressActionModule


class ActionModule(ProgressActionModule):
    def long_run(self, args):
        return bool(args.get("wait_until"))
