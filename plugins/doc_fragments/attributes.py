# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Standard attributes; modules refine the support level and details.
    DOCUMENTATION = r"""
attributes:
  check_mode:
    description: Can run in C(check_mode) and return the changed status and the plan without changing anything.
  diff_mode:
    description: Will return details on what has changed (or would change in check mode) when in diff mode.
"""

    INFO_MODULE = r"""
attributes:
  check_mode:
    support: full
    details: This module only reads; it never changes anything.
    description: Can run in C(check_mode) and return the same result as without check mode.
  diff_mode:
    support: N/A
    details: This module only reads.
    description: Will return details on what has changed (or might change) when in diff mode.
"""

    ACTIONGROUP_TINTRI = r"""
attributes:
  action_group:
    description: Use C(group/vmops.datacenter.tintri) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - vmops.datacenter.tintri
"""

    ACTIONGROUP_S3 = r"""
attributes:
  action_group:
    description: Use C(group/vmops.datacenter.s3) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - vmops.datacenter.s3
"""

    PLATFORM_CONTROLLER = r"""
attributes:
  platform:
    description: Runs where the API is reachable, usually the controller (C(delegate_to=localhost)).
    support: full
    platforms: posix
"""
