# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.vmops.datacenter.plugins.module_utils import _vmm
from ansible_collections.vmops.datacenter.plugins.modules import vmm_checkpoint
from ansible_collections.vmops.datacenter.tests.unit.plugins.module_utils.test_vmm_client import (
    FakeRunner,
    job,
    job_id,
    vm_id,
)

PASSWORD = "Psrp-unit-Pa55"
CONNECTION = dict(server="vmm01.test", username="LAB\\ansible", password=PASSWORD, auth="basic", ssl=False,
                  encryption="never")
WAIT = dict(TimeoutSeconds=1800.0, PollSeconds=2.0)
WRITES = ("vmm.checkpoint_new", "vmm.checkpoint_remove", "vmm.checkpoint_restore", "vmm.job_wait")


def vm(n, name, marker=None):
    return dict(id=vm_id(n), name=name, status="Running", host="hv1", cluster=None, is_highly_available=False,
                memory_mb=1024, custom_properties={}, last_restored_checkpoint_id=marker)


def cp_id(n):
    return "20000000-0000-4000-8000-%012d" % n


def cp(n, name):
    return dict(id=cp_id(n), name=name, description="", parent_id=None, added_time=None)


def listing(n, *checkpoints):
    return dict(vm_id=vm_id(n), vm_name="vm%d" % n, checkpoints=list(checkpoints), error=None)


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
                vmm_checkpoint.main()
        out = capsys.readouterr().out
        assert PASSWORD not in out, "password leaked into module output"
        return json.loads(out)

    return run


def writes(runner):
    return [call for call in runner.made if call[0] in WRITES]


def test_present_creates_where_missing_in_one_pipeline_then_nothing_to_do(runner, run_module):
    runner.expect("vmm.vm_list", dict(Name=["a", "b"]), [vm(1, "a"), vm(2, "b")])
    runner.expect("vmm.checkpoint_list", dict(VMId=[vm_id(1), vm_id(2)]), [listing(1), listing(2, cp(5, "pre"))])
    runner.expect("vmm.checkpoint_new", dict(VMId=[vm_id(1)], Name="pre", Description="x"),
                  [dict(vm_id=vm_id(1), job_id=job_id(1), error=None)])
    runner.expect("vmm.job_wait", dict(JobId=[job_id(1)], **WAIT), [job(1)])
    runner.expect("vmm.checkpoint_list", dict(VMId=[vm_id(1), vm_id(2)]),
                  [listing(1, cp(6, "pre")), listing(2, cp(5, "pre"))])
    runner.expect("vmm.vm_list", dict(VMId=[vm_id(1), vm_id(2)]), [vm(1, "a"), vm(2, "b")])
    result = run_module(dict(vms=["a", "b"], name="pre", description="x"), diff=True)
    assert result["changed"]
    a, b = result["vms"]
    assert (a["action"], a["checkpoint_ids"], a["job_ids"]) == ("create", [cp_id(6)], [job_id(1)])
    assert (b["action"], b["checkpoint_ids"], b["job_ids"]) == ("none", [cp_id(5)], [])
    assert a["checkpoints_before"] == [] and a["checkpoints_after"] == [dict(id=cp_id(6), name="pre")]
    assert result["diff"]["after"]["vms"][vm_id(1)] == [dict(id=cp_id(6), name="pre")]
    assert "_all" not in a

    runner.expect("vmm.vm_list", dict(Name=["a", "b"]), [vm(1, "a"), vm(2, "b")])
    runner.expect("vmm.checkpoint_list", dict(VMId=[vm_id(1), vm_id(2)]),
                  [listing(1, cp(6, "pre")), listing(2, cp(5, "pre"))])
    again = run_module(dict(vms=["a", "b"], name="pre", description="x"))
    assert again["changed"] is False
    assert [call[0] for call in runner.made[-2:]] == ["vmm.vm_list", "vmm.checkpoint_list"]


def test_present_reports_duplicate_names(runner, run_module):
    runner.expect("vmm.vm_list", dict(VMId=[vm_id(1)]), [vm(1, "a")])
    runner.expect("vmm.checkpoint_list", dict(VMId=[vm_id(1)]), [listing(1, cp(1, "pre"), cp(2, "pre"))])
    result = run_module(dict(vms=[vm_id(1)], name="pre"))
    assert result["changed"] is False and result["vms"][0]["duplicates"] == [cp_id(1), cp_id(2)]
    assert "2 checkpoints called pre" in json.dumps(result["warnings"])


def test_check_mode_calls_no_write(runner, run_module):
    runner.expect("vmm.vm_list", dict(Name=["a"]), [vm(1, "a")])
    runner.expect("vmm.checkpoint_list", dict(VMId=[vm_id(1)]), [listing(1, cp(1, "old"))])
    result = run_module(dict(vms=["a"], name="pre"), check_mode=True, diff=True)
    assert result["changed"] and result["vms"][0]["action"] == "create"
    assert result["diff"]["after"]["vms"][vm_id(1)] == [dict(id=cp_id(1), name="old"), dict(id=None, name="pre")]
    assert writes(runner) == []


def test_absent_with_several_of_a_name_fails_unless_allowed(runner, run_module):
    runner.expect("vmm.vm_list", dict(Name=["a"]), [vm(1, "a")])
    runner.expect("vmm.checkpoint_list", dict(VMId=[vm_id(1)]), [listing(1, cp(1, "pre"), cp(2, "pre"))])
    result = run_module(dict(vms=["a"], name="pre", state="absent"))
    assert result["failed"] and cp_id(1) in result["msg"] and cp_id(2) in result["msg"]
    assert "allow_duplicates" in result["msg"] and writes(runner) == []

    runner.expect("vmm.vm_list", dict(Name=["a"]), [vm(1, "a")])
    runner.expect("vmm.checkpoint_list", dict(VMId=[vm_id(1)]), [listing(1, cp(1, "pre"), cp(2, "pre"))])
    runner.expect("vmm.checkpoint_remove", dict(CheckpointId=[cp_id(1), cp_id(2)]), [
        dict(checkpoint_id=cp_id(1), vm_id=vm_id(1), job_id=job_id(1), error=None),
        dict(checkpoint_id=cp_id(2), vm_id=vm_id(1), job_id=job_id(2), error=None)])
    runner.expect("vmm.job_wait", dict(JobId=[job_id(1), job_id(2)], **WAIT), [job(1), job(2)])
    runner.expect("vmm.checkpoint_list", dict(VMId=[vm_id(1)]), [listing(1)])
    runner.expect("vmm.vm_list", dict(VMId=[vm_id(1)]), [vm(1, "a")])
    result = run_module(dict(vms=["a"], name="pre", state="absent", allow_duplicates=True))
    assert result["changed"] and result["vms"][0]["job_ids"] == [job_id(1), job_id(2)]
    assert result["vms"][0]["checkpoints_after"] == []


def test_absent_by_id_when_already_gone_is_a_no_op(runner, run_module):
    runner.expect("vmm.vm_list", dict(Name=["a"]), [vm(1, "a")])
    runner.expect("vmm.checkpoint_list", dict(VMId=[vm_id(1)]), [listing(1, cp(1, "pre"))])
    result = run_module(dict(vms=["a"], checkpoint_id=cp_id(9), state="absent"))
    assert result["changed"] is False and writes(runner) == []


def test_restore_marker_makes_a_second_run_a_no_op_and_force_restores_again(runner, run_module):
    runner.expect("vmm.vm_list", dict(Name=["a"]), [vm(1, "a")])
    runner.expect("vmm.checkpoint_list", dict(VMId=[vm_id(1)]), [listing(1, cp(1, "pre"))])
    runner.expect("vmm.checkpoint_restore", dict(CheckpointId=[cp_id(1)]),
                  [dict(checkpoint_id=cp_id(1), vm_id=vm_id(1), job_id=job_id(1), error=None)])
    runner.expect("vmm.job_wait", dict(JobId=[job_id(1)], **WAIT), [job(1)])
    runner.expect("vmm.checkpoint_list", dict(VMId=[vm_id(1)]), [listing(1, cp(1, "pre"))])
    runner.expect("vmm.vm_list", dict(VMId=[vm_id(1)]), [vm(1, "a", marker=cp_id(1))])
    result = run_module(dict(vms=["a"], name="pre", state="restored"))
    assert result["changed"] and result["vms"][0]["last_restored_checkpoint_id"] == cp_id(1)

    runner.expect("vmm.vm_list", dict(Name=["a"]), [vm(1, "a", marker=cp_id(1))])
    runner.expect("vmm.checkpoint_list", dict(VMId=[vm_id(1)]), [listing(1, cp(1, "pre"))])
    again = run_module(dict(vms=["a"], name="pre", state="restored"))
    assert again["changed"] is False and again["vms"][0]["action"] == "none"

    runner.expect("vmm.vm_list", dict(Name=["a"]), [vm(1, "a", marker=cp_id(1))])
    runner.expect("vmm.checkpoint_list", dict(VMId=[vm_id(1)]), [listing(1, cp(1, "pre"))])
    result = run_module(dict(vms=["a"], name="pre", state="restored", force=True), check_mode=True)
    assert result["changed"] and result["vms"][0]["action"] == "restore"


def test_restore_of_a_missing_checkpoint_fails_with_801_before_any_write(runner, run_module):
    runner.expect("vmm.vm_list", dict(Name=["a"]), [vm(1, "a")])
    runner.expect("vmm.checkpoint_list", dict(VMId=[vm_id(1)]), [listing(1, cp(1, "old"))])
    result = run_module(dict(vms=["a"], name="pre", state="restored"))
    assert result["failed"] and "801" in result["msg"] and "nothing was changed" in result["msg"]
    assert result["vmm_error"]["error_id"] == 801 and writes(runner) == []


def test_unknown_vm_fails_with_801(runner, run_module):
    runner.expect("vmm.vm_list", dict(Name=["ghost"]), [])
    result = run_module(dict(vms=["ghost"], name="pre"))
    assert result["failed"] and "801" in result["msg"] and "ghost" in result["msg"]


def test_a_failed_job_gives_the_vmm_error_1730(runner, run_module):
    runner.expect("vmm.vm_list", dict(Name=["a"]), [vm(1, "a")])
    runner.expect("vmm.checkpoint_list", dict(VMId=[vm_id(1)]), [listing(1)])
    runner.expect("vmm.checkpoint_new", dict(VMId=[vm_id(1)], Name="pre"),
                  [dict(vm_id=vm_id(1), job_id=job_id(1), error=None)])
    runner.expect("vmm.job_wait", dict(JobId=[job_id(1)], **WAIT),
                  [job(1, status="Failed", error=dict(id=1730, message="The VM is in a state not valid."))])
    runner.expect("vmm.checkpoint_list", dict(VMId=[vm_id(1)]), [listing(1)])
    runner.expect("vmm.vm_list", dict(VMId=[vm_id(1)]), [vm(1, "a")])
    result = run_module(dict(vms=["a"], name="pre"))
    assert result["failed"] and "VMM error 1730" in result["msg"] and "a (checkpoint pre)" in result["msg"]
    assert result["vmm_error"]["error_id"] == 1730


@pytest.mark.parametrize("args, text", [
    (dict(state="present"), "name"),
    (dict(state="restored"), "name, checkpoint_id"),
    (dict(name="x", checkpoint_id=cp_id(1), state="absent"), "mutually exclusive"),
])
def test_bad_options_are_refused(runner, run_module, args, text):
    result = run_module(dict(vms=["a"], **args))
    assert result["failed"] and text in result["msg"]
