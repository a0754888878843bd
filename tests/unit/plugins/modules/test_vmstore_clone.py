# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest
import requests

from ansible_collections.vmops.datacenter.plugins.modules import vmstore_clone
from ansible_collections.vmops.datacenter.tests.unit.framework.rest_registry import page
from ansible_collections.vmops.datacenter.tests.unit.framework.tintri_objects import snap_id, snapshot, task, vm, vm_id

VMS = "/api/v310/vm"
SNAPSHOTS = "/api/v310/snapshot"
TASK = "/api/v310/task/task-1"
TGC = "Tintri Global Center"
SPEC = "com.tintri.api.rest.v310.dto.domain.beans.vm.VirtualMachineCloneSpec"
DAY = 86400000
NEWEST_FIRST = {"sortedBy": "createTime", "sortOrder": "DESC"}
HYPERV_ARGS = dict(vm="prod-sql01", snapshot="nightly", clone_name="test-sql01")


def vmware_vm(name, n=1, **kwargs):
    obj = vm(name, n=n, hypervisor="VMWARE", **kwargs)
    obj["vmware"].update(vcenterName="vc01.example.com", storageContainers=["tintri-ds01", "tintri-ds02"])
    return obj


def clone_task(state, percent=None, error=None):
    return task(state, n=1, kind="CLONE", percent=percent, error=error)


def by_name(name):
    return {"name": name, "live": "TRUE"}


def expect_source_snapshots(api, vm_n=1):
    api.expect("GET", SNAPSHOTS, params=dict(NEWEST_FIRST, vmUuid=vm_id(vm_n)), json=page([
        snapshot("hourly", n=3, vm_n=vm_n, created=1763800000000 + 2 * DAY, kind="SCHEDULED_SNAPSHOT"),
        snapshot("nightly", n=2, vm_n=vm_n, created=1763800000000 + DAY),
        snapshot("nightly", n=1, vm_n=vm_n, created=1763800000000),
    ]))


# -- the destination is the marker ------------------------------------------------------------

def test_existing_clone_name_is_a_noop_in_four_requests(api, run_module):
    api.expect_session()
    api.expect("GET", VMS, params=by_name("test-sql01"), json=page([
        vm("test-sql011", n=8),                  # substring match from the server: not ours
        vm("test-sql01", n=7)]))
    api.expect_logout()
    result = run_module(vmstore_clone, HYPERV_ARGS, diff=True)
    assert result["changed"] is False
    assert result["vm"]["uuid"] == vm_id(7) and result["vm"]["name"] == "test-sql01"
    assert result["task"] is None and result["spec"] is None
    assert result["source"] == {"vm": "prod-sql01", "vm_uuid": None, "snapshot": "nightly", "snapshot_uuid": None}
    assert result["diff"]["before"] == result["diff"]["after"] == {"state": "present", "name": "test-sql01"}
    assert len(api.made) == 4


def test_existing_restore_directory_is_a_noop_in_four_requests(api, run_module):
    api.expect_session()
    api.expect("GET", VMS, params={"subdir": "restores/sql01"}, json=page([
        vm("prod-sql01", n=11, subdir="restores/sql01-old"),     # near match: not ours
        vm("prod-sql01", n=12, subdir="restores/sql01")]))
    api.expect_logout()
    result = run_module(vmstore_clone, dict(vm="prod-sql01", snapshot="nightly", restore_directory="restores/sql01"))
    assert result["changed"] is False and result["vm"]["uuid"] == vm_id(12)
    assert result["vm"]["subdir"] == "restores/sql01"
    assert len(api.made) == 4


def test_existing_destination_in_check_mode_is_the_same_noop(api, run_module):
    api.expect_session()
    api.expect("GET", VMS, params=by_name("test-sql01"), json=page([vm("test-sql01", n=7)]))
    api.expect_logout()
    result = run_module(vmstore_clone, HYPERV_ARGS, check_mode=True)
    assert result["changed"] is False and result["vm"]["uuid"] == vm_id(7)


# -- cloning ----------------------------------------------------------------------------------

def test_hyperv_clone_from_named_snapshot_sends_exact_spec_and_waits(api, run_module):
    api.expect_session()
    api.expect("GET", VMS, params=by_name("test-sql01"), json=page([]))
    api.expect("GET", VMS, params=by_name("prod-sql01"), json=page([vm("prod-sql01", n=1), vm("prod-sql01-old", n=2)]))
    expect_source_snapshots(api)
    api.expect("POST", VMS, json=clone_task("QUEUED"), body={
        "typeId": SPEC,
        "vmId": vm_id(1),
        "snapshotId": snap_id(2),          # the newest snapshot called nightly
        "count": 1,
        "hyperv": {"typeId": SPEC + "$HyperVCloneInfo", "cloneVmName": "test-sql01",
                   "hyperVName": "hv-mgr01", "fileShare": "tintri-smb"},
    })
    api.expect("GET", TASK, json=clone_task("RUNNING", percent=40))
    api.expect("GET", TASK, json=clone_task("SUCCESS"))
    api.expect("GET", VMS, params=by_name("test-sql01"), json=page([vm("test-sql01", n=9, clone_from=snap_id(2))]))
    api.expect_logout()
    result = run_module(vmstore_clone, HYPERV_ARGS, diff=True)
    assert result["changed"] is True
    assert result["vm"]["uuid"] == vm_id(9) and result["vm"]["cloned_from_snapshots"] == [snap_id(2)]
    assert result["source"] == {"vm": "prod-sql01", "vm_uuid": vm_id(1), "snapshot": "nightly",
                                "snapshot_uuid": snap_id(2)}
    assert result["task"]["uuid"] == "task-1" and result["task"]["state"] == "SUCCESS"
    assert result["spec"]["hyperv"]["cloneVmName"] == "test-sql01"
    assert result["diff"]["before"] == {"state": "absent"}
    assert result["diff"]["after"]["state"] == "present" and result["diff"]["after"]["name"] == "test-sql01"
    assert len(api.calls("POST")) == 3   # login, the clone, logout
    assert api.sleeps == [2.0, 2.0]


def test_hyperv_options_override_the_source_defaults(api, run_module):
    api.expect_session()
    api.expect("GET", VMS, params=by_name("test-sql01"), json=page([]))
    api.expect("GET", "%s/%s" % (VMS, vm_id(1)), json=vm("prod-sql01", n=1))
    api.expect("POST", VMS, json=clone_task("SUCCESS"), body={
        "typeId": SPEC, "vmId": vm_id(1), "count": 1, "consistency": "CRASH_CONSISTENT",
        "hyperv": {"typeId": SPEC + "$HyperVCloneInfo", "cloneVmName": "test-sql01",
                   "hyperVName": "scvmm02", "fileShare": "tintri-smb2"},
    })
    api.expect("GET", VMS, params=by_name("test-sql01"), json=page([vm("test-sql01", n=9)]))
    api.expect_logout()
    result = run_module(vmstore_clone, dict(vm_uuid=vm_id(1), clone_name="test-sql01", hypervisor_manager="scvmm02",
                                            file_share="tintri-smb2"))
    assert result["changed"] is True and result["source"]["snapshot_uuid"] is None
    assert api.sleeps == []    # the task came back finished


def test_vmware_clone_of_current_state_sends_exact_spec(api, run_module):
    api.expect_session()
    api.expect("GET", VMS, params=by_name("web01-staging"), json=page([]))
    api.expect("GET", VMS, params=by_name("web01"), json=page([vmware_vm("web01", n=4)]))
    api.expect("POST", VMS, json=clone_task("RUNNING"), body={
        "typeId": SPEC, "vmId": vm_id(4), "count": 1, "consistency": "VM_CONSISTENT",
        "vmware": {"typeId": SPEC + "$VMwareCloneInfo", "cloneVmName": "web01-staging",
                   "vCenterName": "vc01.example.com", "datastoreName": "tintri-ds01"},
    })
    api.expect("GET", TASK, json=clone_task("SUCCESS"))
    api.expect("GET", VMS, params=by_name("web01-staging"), json=page([vmware_vm("web01-staging", n=5)]))
    api.expect_logout()
    result = run_module(vmstore_clone, dict(vm="web01", clone_name="web01-staging", consistency="vm_consistent"))
    assert result["changed"] is True and result["vm"]["uuid"] == vm_id(5)
    assert result["vm"]["hypervisor_type"] == "VMWARE"


def test_vmware_datastore_option_and_file_share_refused(api, run_module):
    api.expect_session()
    api.expect("GET", VMS, params=by_name("web01-staging"), json=page([]))
    api.expect("GET", VMS, params=by_name("web01"), json=page([vmware_vm("web01", n=4)]))
    api.expect_logout()
    result = run_module(vmstore_clone, dict(vm="web01", clone_name="web01-staging", file_share="share"))
    assert result["failed"] and "use datastore" in result["msg"]
    assert len(api.calls("POST")) == 2


def test_restore_directory_sends_restore_info(api, run_module):
    api.expect_session()
    api.expect("GET", VMS, params={"subdir": "restores/sql01"}, json=page([]))
    api.expect("GET", VMS, params=by_name("prod-sql01"), json=page([vm("prod-sql01", n=1)]))
    expect_source_snapshots(api)
    api.expect("POST", VMS, json=clone_task("RUNNING"), body={
        "typeId": SPEC, "vmId": vm_id(1), "snapshotId": snap_id(3), "count": 1,
        "restoreInfo": {"typeId": SPEC + "$RestoreInfo", "directoryName": "restores/sql01", "retainTintriUuid": True},
    })
    api.expect("GET", TASK, json=clone_task("SUCCESS"))
    api.expect("GET", VMS, params={"subdir": "restores/sql01"},
               json=page([vm("prod-sql01", n=20, subdir="restores/sql01")]))
    api.expect_logout()
    result = run_module(vmstore_clone, dict(vm="prod-sql01", snapshot_uuid=snap_id(3),
                                            restore_directory="restores/sql01", retain_uuid=True), diff=True)
    assert result["changed"] is True and result["vm"]["uuid"] == vm_id(20)
    assert result["diff"]["after"]["directory"] == "restores/sql01"


def test_tgc_clone_keeps_vm_id_with_a_snapshot(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", VMS, params=by_name("test-sql01"), json=page([]))
    api.expect("GET", VMS, params=by_name("prod-sql01"), json=page([vm("prod-sql01", n=1, vmstore="vmstore2.test")]))
    expect_source_snapshots(api)
    api.expect("POST", VMS, json=clone_task("SUCCESS"),
               body=lambda b: b["vmId"] == vm_id(1) and b["snapshotId"] == snap_id(2) and b["count"] == 1)
    api.expect("GET", VMS, params=by_name("test-sql01"), json=page([vm("test-sql01", n=9, vmstore="vmstore2.test")]))
    api.expect_logout()
    result = run_module(vmstore_clone, HYPERV_ARGS)
    assert result["changed"] is True and result["vm"]["vmstore"] == "vmstore2.test"


def test_check_mode_returns_the_plan_without_posting(api, run_module):
    api.expect_session()
    api.expect("GET", VMS, params=by_name("test-sql01"), json=page([]))
    api.expect("GET", VMS, params=by_name("prod-sql01"), json=page([vm("prod-sql01", n=1)]))
    expect_source_snapshots(api)
    api.expect_logout()
    result = run_module(vmstore_clone, HYPERV_ARGS, check_mode=True, diff=True)
    assert result["changed"] is True
    assert result["vm"]["uuid"] is None and result["vm"]["name"] == "test-sql01"
    assert result["vm"]["hypervisor_manager"] == "hv-mgr01" and result["vm"]["storage_containers"] == ["tintri-smb"]
    assert result["vm"]["vmstore"] == "vmstore1.test"
    assert result["spec"]["snapshotId"] == snap_id(2)
    assert result["task"] is None
    assert result["diff"]["before"] == {"state": "absent"}
    assert len(api.calls("POST")) == 2   # login and logout only


def test_no_wait_returns_the_task_id(api, run_module):
    api.expect_session()
    api.expect("GET", VMS, params=by_name("test-sql01"), json=page([]))
    api.expect("GET", VMS, params=by_name("prod-sql01"), json=page([vm("prod-sql01", n=1)]))
    expect_source_snapshots(api)
    api.expect("POST", VMS, json=clone_task("QUEUED"), body=lambda b: b["hyperv"]["cloneVmName"] == "test-sql01")
    api.expect_logout()
    result = run_module(vmstore_clone, dict(HYPERV_ARGS, wait=False))
    assert result["changed"] is True
    assert result["task"]["uuid"] == "task-1" and result["task"]["state"] == "QUEUED"
    assert result["vm"]["uuid"] is None


def test_failed_task_is_a_clear_failure_with_the_task(api, run_module):
    error = {"typeId": "com.tintri.api.rest.v310.dto.domain.beans.TintriError", "code": "ERR-API-3213",
             "message": "Clone workflow task failed.", "causeDetails": "Hyper-V host refused the VM"}
    api.expect_session()
    api.expect("GET", VMS, params=by_name("test-sql01"), json=page([]))
    api.expect("GET", VMS, params=by_name("prod-sql01"), json=page([vm("prod-sql01", n=1)]))
    expect_source_snapshots(api)
    api.expect("POST", VMS, json=clone_task("RUNNING"))
    api.expect("GET", TASK, json=clone_task("FAILED", error=error))
    api.expect_logout()
    result = run_module(vmstore_clone, HYPERV_ARGS)
    assert result["failed"]
    assert "FAILED" in result["msg"] and "ERR-API-3213" in result["msg"] and "Hyper-V host refused" in result["msg"]
    assert result["task"]["state"] == "FAILED" and result["task"]["error_code"] == "ERR-API-3213"
    assert result["spec"]["snapshotId"] == snap_id(2)


def test_wait_timeout_names_the_task(api, run_module):
    api.expect_session()
    api.expect("GET", VMS, params=by_name("test-sql01"), json=page([]))
    api.expect("GET", VMS, params=by_name("prod-sql01"), json=page([vm("prod-sql01", n=1)]))
    expect_source_snapshots(api)
    api.expect("POST", VMS, json=clone_task("RUNNING", percent=10))
    for percent in (20, 30, 40):
        api.expect("GET", TASK, json=clone_task("RUNNING", percent=percent))
    api.expect_logout()
    result = run_module(vmstore_clone, dict(HYPERV_ARGS, wait_timeout=5, poll_interval=2))
    assert result["failed"] and "task-1" in result["msg"] and "wait_timeout" in result["msg"]
    assert result["task"]["state"] == "RUNNING" and result["task"]["progress_percent"] == 40
    assert len(api.calls("POST")) == 3


@pytest.mark.parametrize("failure", ["dropped", "503", "500"])
def test_ambiguous_clone_post_is_not_repeated(api, run_module, failure):
    api.expect_session()
    api.expect("GET", VMS, params=by_name("test-sql01"), json=page([]))
    api.expect("GET", VMS, params=by_name("prod-sql01"), json=page([vm("prod-sql01", n=1)]))
    expect_source_snapshots(api)
    if failure == "dropped":
        api.expect_exception("POST", VMS, requests.exceptions.ConnectionError("Connection reset by peer"))
    else:
        api.expect_error("POST", VMS, int(failure), "ERR-API-3206", "Clone request failed.")
    api.expect_logout()
    result = run_module(vmstore_clone, HYPERV_ARGS)
    assert result["failed"]
    assert "may have started the clone" in result["msg"] and "again is safe" in result["msg"]
    assert len([c for c in api.calls("POST") if c["path"] == VMS]) == 1


def test_rejected_clone_request_is_a_plain_error(api, run_module):
    api.expect_session()
    api.expect("GET", VMS, params=by_name("test-sql01"), json=page([]))
    api.expect("GET", VMS, params=by_name("prod-sql01"), json=page([vm("prod-sql01", n=1)]))
    expect_source_snapshots(api)
    api.expect_error("POST", VMS, 400, "ERR-API-3205", "Invalid clone request.", cause="fileShare unknown")
    api.expect_logout()
    result = run_module(vmstore_clone, HYPERV_ARGS)
    assert result["failed"] and "ERR-API-3205" in result["msg"] and "fileShare unknown" in result["msg"]
    assert "may have started" not in result["msg"]
    assert result["tintri_error"]["status"] == 400


# -- bad input and unknown sources ------------------------------------------------------------

@pytest.mark.parametrize("directory, reason", [
    ("../etc", ".."),
    ("restores/../../x", ".."),
    ("/tintri/restores", "absolute"),
    ("restores\\sql01", "backslash"),
    ("restores//sql01", "empty component"),
    ("restores/sql01/", "empty component"),
    ("restores/sql\x0001", "control character"),
    ("restores/sql\n01", "control character"),
    ("", "empty"),
    ("./restores", ". component"),
    (" restores/sql01", "space"),
    ("restores/sql01 ", "space"),
])
def test_bad_restore_directory_is_refused_before_any_request(api, run_module, directory, reason):
    result = run_module(vmstore_clone, dict(vm="prod-sql01", snapshot="nightly", restore_directory=directory))
    assert result["failed"] and "restore_directory" in result["msg"] and reason in result["msg"]
    assert api.made == []


@pytest.mark.parametrize("name", ["", "   ", "bad\x07name", "two\nlines"])
def test_bad_clone_name_is_refused_before_any_request(api, run_module, name):
    result = run_module(vmstore_clone, dict(vm="prod-sql01", clone_name=name))
    assert result["failed"] and "clone_name" in result["msg"]
    assert api.made == []


@pytest.mark.parametrize("args, text", [
    (dict(vm="prod-sql01", clone_name="prod-sql01"), "name of the source VM"),
    (dict(vm="prod-sql01", restore_directory="restores/a"), "give snapshot or snapshot_uuid"),
    (dict(vm="prod-sql01", clone_name="a", restore_directory="restores/a"), "mutually exclusive"),
    (dict(vm="prod-sql01", snapshot="nightly", consistency="vm_consistent", clone_name="a"), "mutually exclusive"),
    (dict(vm="prod-sql01", restore_directory="restores/a", snapshot="n", datastore="ds"), "clone_name"),
    (dict(vm="prod-sql01"), "one of the following is required"),
])
def test_inconsistent_options_are_refused_before_any_request(api, run_module, args, text):
    result = run_module(vmstore_clone, args)
    assert result["failed"] and text in result["msg"]
    assert api.made == []


def test_unknown_source_vm(api, run_module):
    api.expect_session()
    api.expect("GET", VMS, params=by_name("test-sql01"), json=page([]))
    api.expect("GET", VMS, params=by_name("prod-sql01"), json=page([vm("prod-sql01x", n=3)]))
    api.expect_logout()
    result = run_module(vmstore_clone, HYPERV_ARGS)
    assert result["failed"] and "No live VM named 'prod-sql01'" in result["msg"]


def test_ambiguous_source_name(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", VMS, params=by_name("test-sql01"), json=page([]))
    api.expect("GET", VMS, params=by_name("prod-sql01"), json=page([
        vm("prod-sql01", n=1, vmstore="vmstore1.test"), vm("prod-sql01", n=2, vmstore="vmstore2.test")]))
    api.expect_logout()
    result = run_module(vmstore_clone, HYPERV_ARGS)
    assert result["failed"] and "2 live VMs are named 'prod-sql01'" in result["msg"]
    assert "vmstore2.test" in result["msg"]


def test_unknown_snapshot_name_lists_existing_ones(api, run_module):
    api.expect_session()
    api.expect("GET", VMS, params=by_name("test-sql01"), json=page([]))
    api.expect("GET", VMS, params=by_name("prod-sql01"), json=page([vm("prod-sql01", n=1)]))
    expect_source_snapshots(api)
    api.expect_logout()
    result = run_module(vmstore_clone, dict(HYPERV_ARGS, snapshot="nightly-2026"))
    assert result["failed"] and "no snapshot named 'nightly-2026'" in result["msg"]
    assert "'hourly', 'nightly'" in result["msg"]
    assert len(api.calls("POST")) == 2


def test_unknown_snapshot_uuid(api, run_module):
    api.expect_session()
    api.expect("GET", VMS, params=by_name("test-sql01"), json=page([]))
    api.expect("GET", VMS, params=by_name("prod-sql01"), json=page([vm("prod-sql01", n=1)]))
    api.expect("GET", SNAPSHOTS, params=dict(NEWEST_FIRST, vmUuid=vm_id(1)), json=page([]))
    api.expect_logout()
    result = run_module(vmstore_clone, dict(vm="prod-sql01", snapshot_uuid=snap_id(9), clone_name="test-sql01"))
    assert result["failed"] and "no snapshot with id" in result["msg"]


def test_clone_name_of_the_source_by_uuid_is_refused(api, run_module):
    api.expect_session()
    api.expect("GET", VMS, params=by_name("prod-sql01"), json=page([vm("prod-sql01", n=1)]))
    api.expect_logout()
    result = run_module(vmstore_clone, dict(vm_uuid=vm_id(1), clone_name="prod-sql01"))
    assert result["failed"] and "name of the source VM" in result["msg"]


def test_unsupported_hypervisor_suggests_restore(api, run_module):
    api.expect_session()
    api.expect("GET", VMS, params=by_name("kvm-clone"), json=page([]))
    api.expect("GET", VMS, params=by_name("kvm01"), json=page([vm("kvm01", n=1, hypervisor="RHEV")]))
    api.expect_logout()
    result = run_module(vmstore_clone, dict(vm="kvm01", clone_name="kvm-clone"))
    assert result["failed"] and "RHEV" in result["msg"] and "restore_directory" in result["msg"]
