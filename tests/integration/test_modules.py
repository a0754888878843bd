# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every module's integration target against a fresh simulated lab."""

from __future__ import annotations

import pytest

from .conftest import INTEGRATION, RUN_TARGET

# Targets for VMM/SCOM need the PSRP lab and run from test_vmm_modules.py; ConfigMgr targets need its lab
# and run from test_configmgr_modules.py.
TARGETS = sorted(p.name for p in (INTEGRATION / "targets").iterdir()
                 if (p / "tasks" / "main.yml").exists() and not p.name.startswith(("setup_", "vmm_", "scom_", "configmgr_")))


@pytest.mark.parametrize("target", TARGETS)
def test_target(target, ansible):
    # At -vvvv every module invocation and result is printed: the harness checks no lab password shows.
    ansible(RUN_TARGET, {"target": target}, verbosity=4).assert_ok()
