# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.vmops.datacenter.plugins.module_utils import _vmm
from ansible_collections.vmops.datacenter.plugins.modules import vmm_vm_power
from ansible_collections.vmops.datacenter.tests.unit.plugins.module_utils.test_vmm_client import (
    FakeRunner,
    job,
    job_id,
    vm_id,
)

PASSWORD = "Psrp-unit-Pa55"
CONNECTION = dict(server="vmm01.test", username="LAB\\ansible", password=PASSWORD, auth="basic", ssl=False,
                  encryption="never")
WAIT = dict(TimeoutSeconds=600.0, PollSeconds=2.0)
WRITES = ("vmm.vm_power", "vmm.job_wait")


def vm(n, name, status="Running"):
    return dict(id=vm_id(n), name=name, status=status, host="hv1", cluster=None, is_highly_available=False,
                memory_mb=1024, custom_properties={}, last_restored_checkpoint_id=None)


def started(*ns):
    return [dict(vm_id=vm_id(n), job_id=job_id(n), error=None) for n in ns]


@pytest.fixture
def runner(monkeypatch):
    fake = FakeRunner()
    fake.connected = {"server": "vmm01.lab.local", "version": "10.22.0.0"}
    monkeypatch.setattr(_vmm, "runner_from_params", lambda params, product: fake)
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
                vmm_vm_power.main()
        out = capsys.readouterr().out
        assert PASSWORD not in out, "password leaked into module output"
        return json.loads(out)

    return run


def test_stop_many_vms_in_one_pipeline_then_nothing_to_do(runner, run_module):
    runner.expect("vmm.vm_list", dict(Name=["a", "b", "c"]), [vm(1, "a"), vm(2, "b"), vm(3, "c", "PowerOff")])
    runner.expect("vmm.vm_power", dict(VMId=[vm_id(1), vm_id(2)], Action="shutdown"), started(1, 2))
    runner.expect("vmm.job_wait", dict(JobId=[job_id(1), job_id(2)], **WAIT), [job(1), job(2)])
    runner.expect("vmm.vm_list", dict(VMId=[vm_id(1), vm_id(2)]), [vm(1, "a", "PowerOff"), vm(2, "b", "PowerOff")])
    result = run_module(dict(vms=["a", "b", "c"], state="stopped"), diff=True)
    assert result["changed"] is True
    assert [(v["name"], v["before"], v["after"], v["action"], v["job_id"]) for v in result["vms"]] == [
        ("a", "Running", "PowerOff", "shutdown", job_id(1)), ("b", "Running", "PowerOff", "shutdown", job_id(2)),
        ("c", "PowerOff", "PowerOff", "none", None)]
    assert result["diff"]["before"]["vms"][vm_id(1)]["status"] == "Running"
    assert result["diff"]["after"]["vms"][vm_id(1)]["status"] == "PowerOff"

    runner.expect("vmm.vm_list", dict(Name=["a", "b", "c"]), [vm(1, "a", "PowerOff"), vm(2, "b", "PowerOff"),
                                                              vm(3, "c", "PowerOff")])
    again = run_module(dict(vms=["a", "b", "c"], state="stopped"))
    assert again["changed"] is False and {v["action"] for v in again["vms"]} == {"none"}
    ops = [call[0] for call in runner.made]
    assert ops == ["vmm.vm_list", "vmm.vm_power", "vmm.job_wait", "vmm.vm_list", "vmm.vm_list"]


def test_check_mode_returns_the_plan_and_calls_no_write(runner, run_module):
    runner.expect("vmm.vm_list", dict(VMId=[vm_id(1)]), [vm(1, "a", "Saved")])
    runner.expect("vmm.vm_list", dict(Name=["b"]), [vm(2, "b", "Paused")])
    result = run_module(dict(vms=[vm_id(1).upper(), "b"], state="running"), check_mode=True, diff=True)
    assert result["changed"] is True
    planned = [(v["action"], v["after"], v["job_id"]) for v in result["vms"]]
    assert planned == [("start", "Running", None), ("resume", "Running", None)]
    assert result["diff"]["after"]["vms"][vm_id(2)]["status"] == "Running"
    assert not [call for call in runner.made if call[0] in WRITES]


def test_unknown_vm_fails_with_801_and_changes_nothing(runner, run_module):
    runner.expect("vmm.vm_list", dict(Name=["a", "ghost"]), [vm(1, "a")])
    result = run_module(dict(vms=["a", "ghost"], state="stopped"))
    assert result["failed"] and "801" in result["msg"] and "ghost" in result["msg"]
    assert "nothing was changed" in result["msg"]
    assert result["vmm_error"]["error_id"] == 801
    assert not [call for call in runner.made if call[0] in WRITES]


def test_a_name_with_several_vms_lists_their_ids_unless_duplicates_are_allowed(runner, run_module):
    runner.expect("vmm.vm_list", dict(Name=["a"]), [vm(1, "a"), vm(2, "A")])
    result = run_module(dict(vms=["a"], state="saved"))
    assert result["failed"] and vm_id(1) in result["msg"] and vm_id(2) in result["msg"]
    assert "allow_duplicates" in result["msg"]

    runner.expect("vmm.vm_list", dict(Name=["a"]), [vm(1, "a"), vm(2, "A")])
    runner.expect("vmm.vm_power", dict(VMId=[vm_id(1), vm_id(2)], Action="save"), started(1, 2))
    runner.expect("vmm.job_wait", dict(JobId=[job_id(1), job_id(2)], **WAIT), [job(1), job(2)])
    runner.expect("vmm.vm_list", dict(VMId=[vm_id(1), vm_id(2)]), [vm(1, "a", "Saved"), vm(2, "A", "Saved")])
    result = run_module(dict(vms=["a"], state="saved", allow_duplicates=True))
    assert result["changed"] and [v["after"] for v in result["vms"]] == ["Saved", "Saved"]


def test_a_failed_job_gives_the_vmm_error_1730(runner, run_module):
    runner.expect("vmm.vm_list", dict(Name=["a", "b"]), [vm(1, "a"), vm(2, "b")])
    runner.expect("vmm.vm_power", dict(VMId=[vm_id(1), vm_id(2)], Action="suspend"), started(1, 2))
    failed = job(2, status="Failed", error=dict(id=1730, message="The selected action is not valid."))
    runner.expect("vmm.job_wait", dict(JobId=[job_id(1), job_id(2)], **WAIT), [job(1), failed])
    runner.expect("vmm.vm_list", dict(VMId=[vm_id(1), vm_id(2)]), [vm(1, "a", "Paused"), vm(2, "b")])
    result = run_module(dict(vms=["a", "b"], state="paused"))
    assert result["failed"] and result["changed"]
    assert "VMM error 1730" in result["msg"] and "b (%s)" % vm_id(2) in result["msg"]
    assert result["vmm_error"]["error_id"] == 1730
    assert [v["job_status"] for v in result["vms"]] == ["Completed", "Failed"]


def test_a_state_that_cannot_be_reached_fails_before_any_write(runner, run_module):
    runner.expect("vmm.vm_list", dict(Name=["a"]), [vm(1, "a", "Paused")])
    result = run_module(dict(vms=["a"], state="stopped"))
    assert result["failed"] and "stop_mode=force" in result["msg"] and "Nothing was changed" in result["msg"]
    assert result["vmm_error"]["error_id"] == 1730


def test_force_after_turns_off_the_vms_whose_shutdown_did_not_finish(runner, run_module):
    runner.expect("vmm.vm_list", dict(Name=["a", "b"]), [vm(1, "a"), vm(2, "b")])
    runner.expect("vmm.vm_power", dict(VMId=[vm_id(1), vm_id(2)], Action="shutdown"), started(1, 2))
    runner.expect("vmm.job_wait", dict(JobId=[job_id(1), job_id(2)], TimeoutSeconds=30.0, PollSeconds=0.5),
                  [job(1), job(2, status="Running", completed=False, progress=10)])
    runner.expect("vmm.vm_power", dict(VMId=[vm_id(2)], Action="stop"),
                  [dict(vm_id=vm_id(2), job_id=job_id(3), error=None)])
    runner.expect("vmm.job_wait", dict(JobId=[job_id(3)], TimeoutSeconds=120.0, PollSeconds=0.5), [job(3)])
    runner.expect("vmm.vm_list", dict(VMId=[vm_id(1), vm_id(2)]), [vm(1, "a", "PowerOff"), vm(2, "b", "PowerOff")])
    result = run_module(dict(vms=["a", "b"], state="stopped", force_after=30, wait_timeout=120, poll_interval=0.5))
    assert result["changed"] and "failed" not in result
    a, b = result["vms"]
    assert (a["action"], a["forced"], a["job_ids"]) == ("shutdown", False, [job_id(1)])
    assert (b["action"], b["forced"], b["job_ids"], b["job_id"]) == ("stop", True, [job_id(2), job_id(3)], job_id(3))


def test_a_shutdown_that_does_not_finish_without_force_after_fails(runner, run_module):
    runner.expect("vmm.vm_list", dict(Name=["a"]), [vm(1, "a")])
    runner.expect("vmm.vm_power", dict(VMId=[vm_id(1)], Action="shutdown"), started(1))
    runner.expect("vmm.job_wait", dict(JobId=[job_id(1)], TimeoutSeconds=5.0, PollSeconds=1.0),
                  [job(1, status="Running", completed=False, progress=0)])
    runner.expect("vmm.vm_list", dict(VMId=[vm_id(1)]), [vm(1, "a")])
    result = run_module(dict(vms=["a"], state="stopped", wait_timeout=5, poll_interval=1))
    assert result["failed"] and "did not finish in time" in result["msg"]


def test_without_wait_the_jobs_are_returned_unawaited(runner, run_module):
    runner.expect("vmm.vm_list", dict(Name=["a"]), [vm(1, "a", "PowerOff")])
    runner.expect("vmm.vm_power", dict(VMId=[vm_id(1)], Action="start"), started(1))
    result = run_module(dict(vms=["a"], state="running", wait=False))
    assert result["changed"] and result["vms"][0]["job_id"] == job_id(1) and result["vms"][0]["after"] is None


@pytest.mark.parametrize("args, text", [
    (dict(state="stopped", force_after=10, stop_mode="force"), "force_after applies"),
    (dict(state="stopped", force_after=10, wait=False), "force_after needs wait=true"),
    (dict(state="stopped", force_after=0), "force_after must be greater than zero"),
    (dict(state="stopped", wait_timeout=0), "wait_timeout must be greater than zero"),
])
def test_bad_options_are_refused_before_connecting(runner, run_module, args, text):
    result = run_module(dict(vms=["a"], **args))
    assert result["failed"] and text in result["msg"]
