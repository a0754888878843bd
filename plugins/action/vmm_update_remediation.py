# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vmops.datacenter maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Runs M(vmops.datacenter.vmm_update_remediation) as a watched async job when it waits for its VMM jobs."""

from __future__ import annotations

from ansible_collections.vmops.datacenter.plugins.plugin_utils._progress_action import WaitingProgressActionModule as ActionModule

__all__ = ["ActionModule"]
