# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.vmops.datacenter.plugins.module_utils import _vmm
from ansible_collections.vmops.datacenter.plugins.module_utils._psrp import PsrpError
from ansible_collections.vmops.datacenter.plugins.modules import vmm_vm_info
from ansible_collections.vmops.datacenter.tests.unit.plugins.module_utils.test_vmm_client import FakeRunner

PASSWORD = "Psrp-unit-Pa55"
VMM_PASSWORD = "Vmm-unit-Pa55"
CONNECTION = dict(server="vmm01.test", username="LAB\\ansible", password=PASSWORD, auth="basic", ssl=False,
                  encryption="never")
CONNECTED = {"server": "vmm01.lab.local", "version": "10.22.0.0"}


def vm(n, name, status="Running", host="hv-prod-01.lab.local", cluster="hvc-prod.lab.local", custom=None):
    return dict(id="00000000-0000-4000-8000-%012d" % n, name=name, computer_name=name + ".lab.local", status=status,
                host=host, cluster=cluster, is_highly_available=cluster is not None, memory_mb=4096,
                custom_properties=custom or {}, last_restored_checkpoint_id=None)


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
                vmm_vm_info.main()
        out = capsys.readouterr().out
        assert PASSWORD not in out and VMM_PASSWORD not in out, "password leaked into module output"
        return json.loads(out)

    return run


def test_every_filter_becomes_one_catalogue_parameter(runner, run_module):
    answer = [vm(1, "prod-sql01", custom={"Custom1": "3"})]
    runner.expect("vmm.vm_list", dict(VMId=[answer[0]["id"]], Name=["prod-sql01"], HostName=["hv-prod-01"],
                                      ClusterName=["hvc-prod.lab.local"], Status=["Running"],
                                      CustomPropertyName="Custom1", CustomPropertyValue="3"), answer)
    result = run_module(dict(id=[answer[0]["id"]], name=["prod-sql01"], host=["hv-prod-01"],
                             cluster=["hvc-prod.lab.local"], status=["Running"], custom_property_name="Custom1",
                             custom_property_value="3"))
    assert result["changed"] is False
    assert result["vms"] == answer and result["count"] == 1
    assert result["server"] == {"hostname": "vmm01.test", "vmm_server": "vmm01.lab.local", "version": "10.22.0.0"}
    assert runner.closed
    [(params, product)] = runner.factory_calls
    assert product == "vmm" and params["configuration_name"] == "Microsoft.PowerShell"


def test_no_filter_lists_everything_and_check_mode_reads_too(runner, run_module):
    answer = [vm(1, "a"), vm(2, "a", status="PowerOff"), vm(3, "b", host="hv-dev-01.lab.local", cluster=None)]
    runner.expect("vmm.vm_list", {}, answer)
    result = run_module({}, check_mode=True)
    assert result["count"] == 3 and [v["name"] for v in result["vms"]] == ["a", "a", "b"]
    assert "query_result" not in result


def test_query_runs_over_the_result(runner, run_module):
    runner.expect("vmm.vm_list", dict(Status=["Running"]), [vm(1, "a"), vm(2, "b", host="hv2")])
    result = run_module(dict(status=["Running"], query="vms[].{name: name, host: host}"))
    assert result["query_result"] == [{"name": "a", "host": "hv-prod-01.lab.local"}, {"name": "b", "host": "hv2"}]


def test_a_bad_query_fails_before_connecting(runner, run_module):
    result = run_module(dict(query="vms[?"))
    assert result["failed"] and "Invalid query" in result["msg"]
    assert runner.factory_calls == []


def test_value_without_property_name_is_refused(runner, run_module):
    result = run_module(dict(custom_property_value="7"))
    assert result["failed"] and "custom_property_name" in result["msg"]


def test_powershell_errors_fail_the_task_with_details_and_no_secret(runner, run_module):
    runner.expect("vmm.vm_list", {}, PsrpError(
        "vmm01.test: vmm.vm_list: PowerShell error CannotConnectToVMMServer (ConnectionError): no such server",
        server="vmm01.test", operation="vmm.vm_list", error_id="CannotConnectToVMMServer",
        category="ConnectionError", ps_message="no such server"))
    result = run_module(dict(vmm_server="vmm02", vmm_username="LAB\\hop", vmm_password=VMM_PASSWORD))
    assert result["failed"] and result["msg"].startswith("vmm01.test: vmm.vm_list: PowerShell error")
    assert result["psrp_error"]["error_id"] == "CannotConnectToVMMServer"
    assert result["psrp_error"]["category"] == "ConnectionError"
    assert "exception" not in result  # a user's mistake, not a traceback
    assert runner.closed
    params = runner.factory_calls[0][0]
    assert params["vmm_server"] == "vmm02" and params["vmm_username"] == "LAB\\hop"


def test_jump_box_user_needs_a_password(runner, run_module):
    result = run_module(dict(vmm_server="vmm02", vmm_username="LAB\\hop"))
    assert result["failed"] and "vmm_password" in result["msg"]


def test_connection_options_come_from_the_environment(runner, run_module, monkeypatch):
    monkeypatch.setenv("VMOPS_PSRP_SERVER", "vmm-env.test")
    monkeypatch.setenv("VMOPS_PSRP_OPERATION_TIMEOUT", "45")
    runner.expect("vmm.vm_list", {}, [])
    with patch_module_args(dict(username="u", password=PASSWORD)):
        with pytest.raises(SystemExit):
            vmm_vm_info.main()
    params = runner.factory_calls[0][0]
    assert params["server"] == "vmm-env.test" and params["operation_timeout"] == 45


def test_non_positive_timeouts_are_refused(runner, run_module):
    result = run_module(dict(operation_timeout=0))
    assert result["failed"] and "operation_timeout must be greater than zero" in result["msg"]
