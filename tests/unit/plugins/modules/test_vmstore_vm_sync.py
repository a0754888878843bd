# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.vmops.datacenter.tests.unit.framework.rest_registry import page
from ansible_collections.vmops.datacenter.tests.unit.framework.tintri_objects import (
    disk,
    snap_id,
    snapshot,
    task,
    vm,
    vm_id,
)
from ansible_collections.vmops.datacenter.plugins.modules import vmstore_vm_sync

PROD, DEV = 1, 2
ARGS = dict(vm="dev-sql01", source_vm="prod-sql01", poll_interval=1)
LISTING = {"contain": "prod-sql01", "sortedBy": "createTime", "sortOrder": "DESC"}
SOURCE = snapshot("nightly", n=10, vm_name="prod-sql01", vm_n=PROD, created=1763800000000, kind="SCHEDULED_SNAPSHOT")
OLDER = snapshot("weekly", n=9, vm_name="prod-sql01", vm_n=PROD, created=1763700000000)
MARKER = "vmops.syncvm from prod-sql01 snapshot %s" % snap_id(10)
SYNC_BODY = {
    "typeId": "com.tintri.api.rest.v310.dto.domain.beans.vm.VirtualMachineSyncSpec",
    "type": "VDISK",
    "targetVmTintriUuids": [vm_id(DEV)],
    "snapshotTintriUuid": snap_id(10),
    "sourceDisks": ["SCSI 0:1", "SCSI 0:2"],
    "destDisks": ["SCSI 0:1", "SCSI 0:2"],
    "takeSnapshotSpec": {
        "typeId": "com.tintri.api.rest.v310.dto.domain.beans.vm.VirtualMachineSyncSpec$VirtualMachineSyncTakeSnapshotSpec",
        "takeSnapshot": False},
    "isSkipReboot": False,
}


def expect_listing(api, extra=()):
    # Another VM whose name contains "prod-sql01" must not be taken for the source.
    other = snapshot("nightly", n=11, vm_name="prod-sql011", vm_n=7, created=1763900000000)
    api.expect("GET", "/api/v310/snapshot", params=LISTING, json=page([other, SOURCE, OLDER] + list(extra)))


def expect_resolve(api, target_disks=("SCSI 0:0", "SCSI 0:1", "SCSI 0:2")):
    api.expect("GET", "/api/v310/vm", params={"name": "dev-sql01", "live": "TRUE"}, json=page([vm("dev-sql01", n=DEV)]))
    api.expect("GET", "/api/v310/snapshot/%s/disks" % snap_id(10),
               json=[disk("SCSI 0:0"), disk("SCSI 0:2"), disk("SCSI 0:1")])
    api.expect("GET", "/api/v310/virtualDisk", params={"vmUuid": vm_id(DEV)},
               json=page([disk(n, vm_n=DEV) for n in target_disks]))


def expect_safety_and_sync(api, sync_status=200):
    api.expect("POST", "/api/v310/snapshot", json=[snap_id(50)],
               body=lambda b: b[0]["snapshotName"].startswith("vmops.syncvm safety before %s at " % snap_id(10))
               and b[0]["sourceVmTintriUUID"] == vm_id(DEV) and b[0]["retentionMinutes"] == 1440)
    api.expect("POST", "/api/v310/vm/sync", json=task("QUEUED", n=1), body=SYNC_BODY)


def test_marker_makes_a_second_run_a_noop_in_four_requests(api, run_module):
    api.expect_session()
    expect_listing(api, extra=[snapshot(MARKER, n=60, vm_name="dev-sql01", vm_n=DEV)])
    api.expect_logout()
    result = run_module(vmstore_vm_sync, ARGS)
    assert result["changed"] is False and result["synced"] is False
    assert result["marker"]["uuid"] == snap_id(60)
    assert len(api.made) == 4


def test_refresh_all_data_disks_keeps_boot_disk_and_records_marker(api, run_module):
    old_marker = snapshot("vmops.syncvm from prod-sql01 snapshot %s" % snap_id(9), n=59, vm_name="dev-sql01", vm_n=DEV)
    api.expect_session()
    expect_listing(api, extra=[old_marker])
    expect_resolve(api)
    expect_safety_and_sync(api)
    api.expect("GET", "/api/v310/task/task-1", json=task("RUNNING", n=1, percent=40))
    api.expect("GET", "/api/v310/task/task-1", json=task("SUCCESS", n=1))
    api.expect("POST", "/api/v310/snapshot", json=[snap_id(61)],
               body=lambda b: b[0]["snapshotName"] == MARKER and b[0]["retentionMinutes"] == -1)
    api.expect("DELETE", "/api/v310/snapshot/%s" % snap_id(59), json="ok")
    api.expect_logout()
    result = run_module(vmstore_vm_sync, ARGS, diff=True)
    assert result["changed"] is True and result["synced"] is True
    assert result["plan"]["disks"] == [{"source": "SCSI 0:1", "target": "SCSI 0:1"},
                                       {"source": "SCSI 0:2", "target": "SCSI 0:2"}]
    assert result["plan"]["source_snapshot"]["uuid"] == snap_id(10)
    assert result["marker"] == {"uuid": snap_id(61), "name": MARKER}
    assert result["safety_snapshot"]["uuid"] == snap_id(50)
    assert result["task"]["state"] == "SUCCESS"
    assert result["diff"] == {"before": {"synced_from": snap_id(9)},
                              "after": {"synced_from": snap_id(10), "disks": result["plan"]["disks"]}}
    assert api.sleeps == [1, 1]


def test_check_mode_returns_the_plan_and_changes_nothing(api, run_module):
    api.expect_session()
    expect_listing(api)
    expect_resolve(api)
    api.expect_logout()
    result = run_module(vmstore_vm_sync, ARGS, check_mode=True)
    assert result["changed"] is True and result["plan"]["reboot"] is True
    assert len(api.calls("POST")) == 2  # login and logout only


def test_failed_sync_is_rolled_back_to_the_safety_snapshot(api, run_module):
    api.expect_session()
    expect_listing(api)
    expect_resolve(api)
    expect_safety_and_sync(api)
    api.expect("GET", "/api/v310/task/task-1", json=task("FAILED", n=1, error={
        "code": "ERR-API-3701", "message": "Failed SyncVM", "causeDetails": "disk busy"}))
    api.expect("POST", "/api/v310/vm/sync", json=task("QUEUED", n=2),
               body=lambda b: b["type"] == "FULL_VM" and b["snapshotTintriUuid"] == snap_id(50)
               and b["targetVmTintriUuids"] == [vm_id(DEV)] and "isSkipReboot" not in b)
    api.expect("GET", "/api/v310/task/task-2", json=task("SUCCESS", n=2))
    api.expect_logout()
    result = run_module(vmstore_vm_sync, ARGS)
    assert result["failed"] and result["rolled_back"] is True
    assert "ERR-API-3701" in result["msg"] and "rolled back" in result["msg"] and snap_id(50) in result["msg"]
    assert "marker" not in result


def test_failed_rollback_says_so_and_keeps_the_safety_snapshot(api, run_module):
    api.expect_session()
    expect_listing(api)
    expect_resolve(api)
    expect_safety_and_sync(api)
    api.expect("GET", "/api/v310/task/task-1", json=task("FAILED", n=1, error={"code": "ERR-API-3701", "message": "x"}))
    api.expect_error("POST", "/api/v310/vm/sync", 500, "ERR-API-3701", "Failed SyncVM")
    api.expect_logout()
    result = run_module(vmstore_vm_sync, ARGS)
    assert result["failed"] and result["rolled_back"] is False
    assert "rollback" in result["msg"] and "by hand" in result["msg"]


def test_target_missing_a_disk_fails_before_any_change(api, run_module):
    api.expect_session()
    expect_listing(api)
    expect_resolve(api, target_disks=("SCSI 0:0", "SCSI 0:1"))
    api.expect_logout()
    result = run_module(vmstore_vm_sync, ARGS)
    assert result["failed"] and "has no disk 'SCSI 0:2'" in result["msg"] and "SCSI 0:1" in result["msg"]


def test_disk_map_onto_boot_disk_needs_allow_boot_disk(api, run_module):
    api.expect_session()
    expect_listing(api)
    expect_resolve(api)
    api.expect_logout()
    result = run_module(vmstore_vm_sync, dict(ARGS, disk_map=[{"source": "SCSI 0:1", "target": "SCSI 0:0"}]))
    assert result["failed"] and "boot disk" in result["msg"]


def test_source_vm_without_snapshots(api, run_module):
    api.expect_session()
    api.expect("GET", "/api/v310/snapshot", params=LISTING, json=page([]))
    api.expect("GET", "/api/v310/vm", params={"name": "prod-sql01", "live": "TRUE"}, json=page([vm("prod-sql01")]))
    api.expect_logout()
    result = run_module(vmstore_vm_sync, ARGS)
    assert result["failed"] and "has no snapshot at all" in result["msg"]


def test_force_syncs_again_despite_the_marker(api, run_module):
    api.expect_session()
    expect_listing(api, extra=[snapshot(MARKER, n=60, vm_name="dev-sql01", vm_n=DEV)])
    expect_resolve(api)
    api.expect_logout()
    result = run_module(vmstore_vm_sync, dict(ARGS, force=True), check_mode=True)
    assert result["changed"] is True and result["synced"] is True


def test_unlicensed_vmstore_is_a_clear_error(api, run_module):
    api.expect_session()
    expect_listing(api)
    expect_resolve(api)
    api.expect("POST", "/api/v310/snapshot", json=[snap_id(50)])
    api.expect_error("POST", "/api/v310/vm/sync", 403, "ERR-API-0403", "SyncVM is not licensed")
    api.expect("DELETE", "/api/v310/snapshot/%s" % snap_id(50), json="deleted")  # nothing started: no leftovers
    api.expect_logout()
    result = run_module(vmstore_vm_sync, ARGS)
    assert result["failed"] and "HTTP 403" in result["msg"] and "not licensed" in result["msg"]
    assert result["safety_snapshot"] == {"uuid": snap_id(50), "name": result["safety_snapshot"]["name"], "deleted": True}


def test_by_snapshot_id_noop_uses_the_id_in_the_marker(api, run_module):
    api.expect_session()
    api.expect("GET", "/api/v310/snapshot", params={"contain": snap_id(10), "sortedBy": "createTime", "sortOrder": "DESC"},
               json=page([snapshot(MARKER, n=60, vm_name="dev-sql01", vm_n=DEV)]))
    api.expect_logout()
    result = run_module(vmstore_vm_sync, dict(vm="dev-sql01", source_snapshot_uuid=snap_id(10)))
    assert result["changed"] is False


def test_tgc_is_refused(api, run_module):
    api.expect_session(product="Tintri Global Center")
    api.expect("GET", "/api/v310/vm", params={"name": "dev-sql01", "live": "TRUE"},
               json=page([vm("dev-sql01", vmstore="localhost:9443")]))
    api.expect_logout()
    result = run_module(vmstore_vm_sync, ARGS)
    assert result["failed"] and "VMstore-only" in result["msg"] and "localhost:9443" in result["msg"]


def test_wait_timeout_does_not_roll_back(api, run_module):
    api.expect_session()
    expect_listing(api)
    expect_resolve(api)
    expect_safety_and_sync(api)
    api.expect("GET", "/api/v310/task/task-1", json=task("RUNNING", n=1, percent=10))
    api.expect_logout()
    result = run_module(vmstore_vm_sync, dict(ARGS, wait_timeout=1, poll_interval=1))
    assert result["failed"] and "wait_timeout" in result["msg"]
    assert "rolled_back" not in result


def test_markers_of_deleted_vms_do_not_count(api, run_module):
    orphan = snapshot(MARKER, n=60, vm_name="dev-sql01", vm_n=99)
    orphan["isOrphaned"] = True
    api.expect_session()
    expect_listing(api, extra=[orphan])
    expect_resolve(api)
    api.expect_logout()
    result = run_module(vmstore_vm_sync, ARGS, check_mode=True)
    assert result["changed"] is True and result["synced"] is True


def test_ambiguous_marker_post_never_mistakes_an_older_marker_for_the_new_one(api, run_module):
    old = snapshot(MARKER, n=60, vm_name="dev-sql01", vm_n=DEV)
    api.expect_session()
    expect_listing(api, extra=[old])
    expect_resolve(api)
    expect_safety_and_sync(api)
    api.expect("GET", "/api/v310/task/task-1", json=task("SUCCESS", n=1))
    api.expect_error("POST", "/api/v310/snapshot", 503, "ERR-API-0007", "busy")
    # The probe sees only the old marker (same name): not ours, so the marker is written again.
    probe = {"vmUuid": vm_id(DEV), "contain": MARKER, "sortedBy": "createTime", "sortOrder": "DESC"}
    api.expect("GET", "/api/v310/snapshot", params=probe, json=page([old]))
    api.expect("POST", "/api/v310/snapshot", json=[snap_id(61)])
    api.expect("DELETE", "/api/v310/snapshot/%s" % snap_id(60), json="ok")
    api.expect_logout()
    result = run_module(vmstore_vm_sync, dict(ARGS, force=True))
    assert result["marker"]["uuid"] == snap_id(61)
