# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.vmops.datacenter.plugins.module_utils import _vmm
from ansible_collections.vmops.datacenter.plugins.modules import vmm_host_maintenance
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
    def run(args, check_mode=False, diff=False):
        full = dict(CONNECTION)
        full.update(args)
        full["_ansible_check_mode"] = check_mode
        full["_ansible_diff"] = diff
        with patch_module_args(full):
            with pytest.raises(SystemExit):
                vmm_host_maintenance.main()
        out = capsys.readouterr().out
        assert PASSWORD not in out and VMM_PASSWORD not in out, "password leaked into module output"
        return json.loads(out)

    return run


HV1 = "hv-prod-01.lab.local"
HV2 = "hv-prod-02.lab.local"
WAIT = dict(TimeoutSeconds=1800.0, PollSeconds=2.0)
JOB_ID = "00000000-0000-4000-a000-000000000001"


def vm(n, name, host=HV1, status="Running", ha=True):
    return dict(id="00000000-0000-4000-8000-%012d" % n, name=name, status=status, host=host,
                cluster="hvc-prod.lab.local", is_highly_available=ha)


def done(status="Completed", error=None):
    return dict(id=JOB_ID, name="Disable host", status=status, is_completed=True, progress=100, error=error)


def test_already_in_maintenance_is_a_no_op(runner, run_module):
    runner.expect("vmm.host_list", dict(ComputerName=["hv-prod-01"]), [hv(1, "hv-prod-01", maintenance=True)])
    result = run_module(dict(host="hv-prod-01"))
    assert result["changed"] is False and result["vms"] == [] and result["job"] is None
    assert [call[0] for call in runner.made] == ["vmm.host_list"]


def test_already_out_of_maintenance_is_a_no_op(runner, run_module):
    runner.expect("vmm.host_list", dict(ComputerName=["hv-prod-01"]), [hv(1, "hv-prod-01")])
    result = run_module(dict(host="hv-prod-01", state="disabled"))
    assert result["changed"] is False


def test_check_mode_plans_and_writes_nothing(runner, run_module):
    runner.expect("vmm.host_list", dict(ComputerName=["hv-prod-01"]), [hv(1, "hv-prod-01")])
    runner.expect("vmm.vm_list", dict(HostName=[HV1], Status=["Running"]), [vm(1, "ha"), vm(2, "solo", ha=False)])
    result = run_module(dict(host="hv-prod-01"), check_mode=True, diff=True)
    assert result["changed"] is True
    assert [(v["name"], v["action"]) for v in result["vms"]] == [("ha", "migrate"), ("solo", "save")]
    assert result["diff"] == {"before": {"host": HV1, "in_maintenance": False},
                              "after": {"host": HV1, "in_maintenance": True}}
    assert [call[0] for call in runner.made] == ["vmm.host_list", "vmm.vm_list"]


def test_check_mode_without_move_saves_everything(runner, run_module):
    runner.expect("vmm.host_list", dict(ComputerName=["hv-prod-01"]), [hv(1, "hv-prod-01")])
    runner.expect("vmm.vm_list", dict(HostName=[HV1], Status=["Running"]), [vm(1, "ha")])
    result = run_module(dict(host="hv-prod-01", move_within_cluster=False), check_mode=True)
    assert result["vms"][0]["action"] == "save"


def test_drain_reports_where_each_vm_went(runner, run_module):
    runner.expect("vmm.host_list", dict(ComputerName=["hv-prod-01"]), [hv(1, "hv-prod-01")])
    runner.expect("vmm.vm_list", dict(HostName=[HV1], Status=["Running"]), [vm(1, "ha"), vm(2, "solo", ha=False)])
    runner.expect("vmm.host_maintenance", dict(ComputerName=[HV1], Action="disable", MoveWithinCluster=True),
                  [dict(host=HV1, host_id="h1", job_id=JOB_ID, error=None)])
    runner.expect("vmm.job_wait", dict(JobId=[JOB_ID], **WAIT), [done()])
    runner.expect("vmm.vm_list", dict(VMId=[vm(1, "ha")["id"], vm(2, "solo")["id"]]),
                  [vm(1, "ha", host=HV2), vm(2, "solo", status="Saved", ha=False)])
    runner.expect("vmm.host_list", dict(ComputerName=["hv-prod-01"]),
                  [hv(1, "hv-prod-01", maintenance=True, running=0)])
    result = run_module(dict(host="hv-prod-01"), diff=True)
    assert result["changed"] is True and result["host"]["in_maintenance"] is True
    assert [(v["name"], v["action"], v["host_after"], v["status_after"]) for v in result["vms"]] == [
        ("ha", "migrated", HV2, "Running"), ("solo", "saved", HV1, "Saved")]
    assert result["migrated"] == [vm(1, "ha")["id"]] and result["saved"] == [vm(2, "solo")["id"]]
    assert result["job_id"] == JOB_ID and result["diff"]["after"]["in_maintenance"] is True


def test_end_maintenance(runner, run_module):
    runner.expect("vmm.host_list", dict(ComputerName=["hv-prod-01"]), [hv(1, "hv-prod-01", maintenance=True)])
    runner.expect("vmm.host_maintenance", dict(ComputerName=[HV1], Action="enable"),
                  [dict(host=HV1, host_id="h1", job_id=JOB_ID, error=None)])
    runner.expect("vmm.job_wait", dict(JobId=[JOB_ID], TimeoutSeconds=60.0, PollSeconds=0.5), [done()])
    runner.expect("vmm.host_list", dict(ComputerName=["hv-prod-01"]), [hv(1, "hv-prod-01")])
    result = run_module(dict(host="hv-prod-01", state="disabled", wait_timeout=60, poll_interval=0.5))
    assert result["changed"] is True and result["host"]["in_maintenance"] is False and result["vms"] == []


def test_no_wait_returns_the_job(runner, run_module):
    runner.expect("vmm.host_list", dict(ComputerName=["hv-prod-01"]), [hv(1, "hv-prod-01")])
    runner.expect("vmm.vm_list", dict(HostName=[HV1], Status=["Running"]), [vm(1, "ha")])
    runner.expect("vmm.host_maintenance", dict(ComputerName=[HV1], Action="disable"),
                  [dict(host=HV1, host_id="h1", job_id=JOB_ID, error=None)])
    result = run_module(dict(host="hv-prod-01", wait=False, move_within_cluster=False))
    assert result["job_id"] == JOB_ID and result["vms"][0]["action"] == "pending"


def test_unknown_host_fails_with_801(runner, run_module):
    runner.expect("vmm.host_list", dict(ComputerName=["nope"]), [])
    result = run_module(dict(host="nope"))
    assert result["failed"] and "801" in result["msg"] and result["vmm_error"]["error_id"] == 801
    assert result["vmm_error"]["target"] == "nope"


def test_failed_job_fails_with_its_error(runner, run_module):
    runner.expect("vmm.host_list", dict(ComputerName=["hv-prod-01"]), [hv(1, "hv-prod-01")])
    runner.expect("vmm.vm_list", dict(HostName=[HV1], Status=["Running"]), [])
    runner.expect("vmm.host_maintenance", dict(ComputerName=[HV1], Action="disable", MoveWithinCluster=True),
                  [dict(host=HV1, host_id="h1", job_id=JOB_ID, error=None)])
    runner.expect("vmm.job_wait", dict(JobId=[JOB_ID], **WAIT),
                  [done("Failed", dict(id=1730, message="The host is in an invalid state."))])
    result = run_module(dict(host="hv-prod-01"))
    assert result["failed"] and "VMM error 1730" in result["msg"] and "invalid state" in result["msg"]
    assert result["vmm_error"]["error_id"] == 1730 and result["job_id"] == JOB_ID


def test_job_timeout_names_the_job(runner, run_module):
    runner.expect("vmm.host_list", dict(ComputerName=["hv-prod-01"]), [hv(1, "hv-prod-01", maintenance=True)])
    runner.expect("vmm.host_maintenance", dict(ComputerName=[HV1], Action="enable"),
                  [dict(host=HV1, host_id="h1", job_id=JOB_ID, error=None)])
    runner.expect("vmm.job_wait", dict(JobId=[JOB_ID], **WAIT),
                  [dict(done("Running"), is_completed=False, progress=30)])
    result = run_module(dict(host="hv-prod-01", state="disabled"))
    assert result["failed"] and JOB_ID in result["msg"] and "did not finish in time" in result["msg"]
