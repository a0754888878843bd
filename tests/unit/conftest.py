# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import time

import pytest
import requests.adapters

from ansible.module_utils.testing import patch_module_args

from ansible_collections.vmops.datacenter.tests.unit.framework.rest_registry import RestRegistry

PASSWORD = "S3cr3t-unit-Pa55"
CONNECTION = dict(hostname="vmstore1.test", username="admin", password=PASSWORD, ca_path="/etc/lab/ca.pem")


@pytest.fixture(autouse=True)
def fresh_module_warnings(monkeypatch):
    """Warnings and deprecations live in process-wide lists; each test starts with none."""
    from ansible.module_utils import _internal
    from ansible.module_utils.common import warnings

    # Importing controller code (the inventory plugin tests do) switches module_utils to controller mode, where
    # warnings go to the display instead of the module result; modules run with it off.
    monkeypatch.setattr(_internal, "is_controller", False, raising=False)

    for name in ("_global_warnings", "_global_deprecations"):
        if isinstance(getattr(warnings, name, None), (list, dict)):
            getattr(warnings, name).clear()
    yield


@pytest.fixture
def api(monkeypatch):
    """The strict request registry; no real network, no real sleeping."""
    registry = RestRegistry()

    def send(adapter, request, **kwargs):
        return registry.send(adapter, request, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    # Sleeping advances a fake clock instantly, so waits and timeouts are exact and fast.
    clock = [1000.0]
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr(time, "sleep", sleep)
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    registry.sleeps = sleeps
    yield registry
    registry.assert_all_consumed()


@pytest.fixture
def run_module(capsys):
    """Run a module's main() with arguments; return its JSON result exactly as Ansible would see it."""

    def run(module, args, check_mode=False, diff=False):
        full = dict(CONNECTION)
        full.update(args)
        full["_ansible_check_mode"] = check_mode
        full["_ansible_diff"] = diff
        with patch_module_args(full):
            with pytest.raises(SystemExit):
                module.main()
        out = capsys.readouterr().out
        assert PASSWORD not in out, "password leaked into module output"
        return json.loads(out)

    return run
