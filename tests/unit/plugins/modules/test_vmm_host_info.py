# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.vmops.datacenter.plugins.module_utils import _vmm
from ansible_collections.vmops.datacenter.plugins.module_utils._psrp import PsrpError
from ansible_collections.vmops.datacenter.plugins.modules import vmm_host_info
from ansible_collections.vmops.datacenter.tests.unit.plugins.module_utils.test_vmm_client import FakeRunner

PASSWORD = "Psrp-unit-Pa55"
VMM_PASSWORD = "Vmm-unit-Pa55"
CONNECTION = dict(server="vmm01.test", username="LAB\\ansible", password=PASSWORD, auth="basic", ssl=False,
                  encryption="never")
CONNECTED = {"server": "vmm01.lab.local", "version": "10.22.0.0"}


def hv(n, name, cluster="hvc-prod.lab.local", maintenance=False, running=2):
    return dict(id="00000000-0000-4000-9000-%012d" % n, name=name + ".lab.local", computer_name=name, cluster=cluster,
                overall_state="MaintenanceMode" if maintenance else "Ok", in_maintenance=maintenance,
                available_for_placement=not maintenance, total_memory_mb=262144, available_memory_mb=131072,
                running_vm_count=running)


@pytest.fixture
def runner(monkeypatch):
    fake = FakeRunner()
    fake.connected = CONNECTED
    made = []

    def factory(params, product):
        made.append((params, product))
        return fake

    monkeypatch.setattr(_vmm, "runner_from_params", factory)
    fake.factory_calls = made
    yield fake
    fake.assert_all_consumed()


@pytest.fixture
def run_module(capsys):
    def run(args, check_mode=False):
        full = dict(CONNECTION)
        full.update(args)
        full["_ansible_check_mode"] = check_mode
        with patch_module_args(full):
            with pytest.raises(SystemExit):
                vmm_host_info.main()
        out = capsys.readouterr().out
        assert PASSWORD not in out and VMM_PASSWORD not in out, "password leaked into module output"
        return json.loads(out)

    return run


def test_filters_become_catalogue_parameters(runner, run_module):
    answer = [hv(1, "hv-prod-01"), hv(2, "hv-prod-02", maintenance=True, running=0)]
    runner.expect("vmm.host_list", dict(ComputerName=["hv-prod-01", "hv-prod-02"], ClusterName=["hvc-prod.lab.local"]),
                  answer)
    result = run_module(dict(name=["hv-prod-01", "hv-prod-02"], cluster=["hvc-prod.lab.local"]))
    assert result["changed"] is False
    assert result["hosts"] == answer and result["count"] == 2
    assert result["server"] == {"hostname": "vmm01.test", "vmm_server": "vmm01.lab.local", "version": "10.22.0.0"}
    assert runner.closed


def test_no_filter_lists_every_host_in_check_mode_too(runner, run_module):
    runner.expect("vmm.host_list", {}, [hv(1, "hv-dev-01", cluster=None)])
    result = run_module({}, check_mode=True)
    assert result["count"] == 1 and result["hosts"][0]["cluster"] is None
    assert "query_result" not in result


def test_query_runs_over_the_result(runner, run_module):
    runner.expect("vmm.host_list", {}, [hv(1, "a"), hv(2, "b", maintenance=True)])
    result = run_module(dict(query="hosts[?in_maintenance].computer_name"))
    assert result["query_result"] == ["b"]


def test_length_query_is_valid(runner, run_module):
    runner.expect("vmm.host_list", {}, [])
    assert run_module(dict(query="length(hosts)"))["query_result"] == 0


def test_a_bad_query_fails_before_connecting(runner, run_module):
    result = run_module(dict(query="hosts[?"))
    assert result["failed"] and "Invalid query" in result["msg"]
    assert runner.factory_calls == []


def test_powershell_errors_fail_the_task_with_details_and_no_secret(runner, run_module):
    runner.expect("vmm.host_list", {}, PsrpError(
        "vmm01.test: vmm.host_list: PowerShell error CannotConnectToVMMServer (ConnectionError): no such server",
        server="vmm01.test", operation="vmm.host_list", error_id="CannotConnectToVMMServer",
        category="ConnectionError", ps_message="no such server"))
    result = run_module(dict(vmm_server="vmm02", vmm_username="LAB\\hop", vmm_password=VMM_PASSWORD))
    assert result["failed"] and result["msg"].startswith("vmm01.test: vmm.host_list: PowerShell error")
    assert result["psrp_error"]["error_id"] == "CannotConnectToVMMServer"
    assert runner.closed
