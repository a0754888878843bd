# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def controller_mode(monkeypatch):
    """Inventory plugins run in the controller (the shared conftest turns controller mode off for modules)."""
    from ansible.module_utils import _internal

    monkeypatch.setattr(_internal, "is_controller", True, raising=False)
