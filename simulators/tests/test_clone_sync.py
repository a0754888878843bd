"""Clone, restore into a directory, and SyncVM (VDISK / FULL_VM) with real file content."""

from __future__ import annotations

import hashlib
from pathlib import Path

from .test_sessions import assert_error

SYNC = "com.tintri.api.rest.v310.dto.domain.beans.vm.VirtualMachineSyncSpec"
CLONE = "com.tintri.api.rest.v310.dto.domain.beans.vm.VirtualMachineCloneSpec"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def disk_files(lab, store, vm_name):
    """disk name -> file in the export, from the admin state view."""
    st = lab.admin(store).state()
    vm = next(v for v in st["vms"] if v["name"] == vm_name and v["live"])
    root = Path(lab.endpoints[store]["datastore_dir"])
    return {d["name"]: root / d["file"] for d in vm["disks"]}


def snapshot_sums(lab, store, snap_id):
    st = lab.admin(store).state(checksums=True)
    s = next(x for x in st["snapshots"] if x["id"] == snap_id)
    return {d["name"]: d["sha256"] for d in s["disks"]}


def test_clone_from_snapshot_registered_with_count(lab, client):
    c = client()
    prod = c.vm_by_name("prod-sql01")
    snap = prod["snapshot"]["latest"]["uuid"]["uuid"]
    body = {
        "typeId": CLONE, "snapshotId": snap, "count": "3", "consistency": "CRASH_CONSISTENT",
        "hyperv": {"typeId": CLONE + "$HyperVCloneInfo", "cloneVmName": "prod-copy",
                   "hyperVName": "vmm01.lab.local", "fileShare": "\\\\smb\\tintri"},
    }
    task = c.ok("POST", "/v310/vm", json=body)
    assert task["typeId"] == "com.tintri.api.rest.v310.dto.Task" and task["type"] == "CLONE"
    assert task["state"] in ("QUEUED", "RUNNING") and task["jobDone"] is False
    done = c.wait_task(task["uuid"]["uuid"])
    assert done["state"] == "SUCCESS" and done["progressPercent"] == 100 and done["error"] is None
    clones = c.ok("GET", "/v310/vm", params={"name": "prod-copy", "sortedBy": "name"})["items"]
    assert [v["vmware"]["name"] for v in clones] == ["prod-copy-1", "prod-copy-2", "prod-copy-3"]
    v = clones[0]
    assert v["vmware"]["vcenterName"] == "vmm01.lab.local" and v["vmware"]["isPowered"] is False
    assert v["snapshot"]["cloneFromSnapshots"][0]["snapshotTintriUUID"] == snap
    assert {x["uuid"]["uuid"] for x in clones} <= set(done["targetIds"])
    sums = snapshot_sums(lab, "vmstore1", snap)
    files = disk_files(lab, "vmstore1", "prod-copy-2")
    assert {n: sha(p) for n, p in files.items()} == sums
    assert c.ok("GET", f"/v310/snapshot/{snap}")["cloneReferenceCount"] == 3


def test_clone_from_vm_takes_cloning_snapshot(lab, client):
    c = client()
    web = c.vm_by_name("web-vm01")
    body = {"typeId": CLONE, "vmId": web["uuid"]["uuid"], "count": 1,
            "vmware": {"typeId": CLONE + "$VMwareCloneInfo", "cloneVmName": "web-test",
                       "vCenterName": "vcenter01.lab.local", "datastoreName": "tintri-prod",
                       "folderMorefValue": "group-v3"}}
    done = c.wait_task(c.ok("POST", "/v310/vm", json=body)["uuid"]["uuid"])
    assert done["state"] == "SUCCESS"
    clone = c.vm_by_name("web-test")
    base = clone["snapshot"]["cloneFromSnapshots"][0]["snapshotTintriUUID"]
    snap = c.ok("GET", f"/v310/snapshot/{base}")
    assert snap["type"] == "AUTO_GENERATED_CLONING_SNAPSHOT" and snap["cloneReferenceCount"] == 1
    # unknown hypervisor manager: created on storage but not in inventory
    body["vmware"] = {"cloneVmName": "web-orphan", "vCenterName": "nowhere.lab.local"}
    assert c.wait_task(c.ok("POST", "/v310/vm", json=body)["uuid"]["uuid"])["state"] == "SUCCESS"
    assert c.vm_by_name("web-orphan")["vmware"]["vcenterName"] == ""


def test_restore_into_directory(lab, client):
    c = client()
    prod = c.vm_by_name("prod-sql01")
    snap = prod["snapshot"]["latest"]["uuid"]["uuid"]
    body = {"typeId": CLONE, "snapshotId": snap, "vmId": prod["uuid"]["uuid"], "count": 1,
            "restoreInfo": {"typeId": CLONE + "$RestoreInfo", "directoryName": "restores/prod-sql01-r1",
                            "retainTintriUuid": False}}
    done = c.wait_task(c.ok("POST", "/v310/vm", json=body)["uuid"]["uuid"])
    assert done["state"] == "SUCCESS", done
    restored = c.ok("GET", "/v310/vm", params={"subdir": "restores/prod-sql01-r1"})["items"]
    assert len(restored) == 1
    r = restored[0]
    assert r["vmware"]["name"] == "prod-sql01" and r["vmware"]["vcenterName"] == ""
    assert r["vmware"]["isPowered"] is False and r["isLive"] is True
    assert r["uuid"]["uuid"] != prod["uuid"]["uuid"]
    root = Path(lab.endpoints["vmstore1"]["datastore_dir"]) / "restores" / "prod-sql01-r1"
    sums = snapshot_sums(lab, "vmstore1", snap)
    on_disk = {p.name: sha(p) for p in root.iterdir() if p.suffix == ".vhdx"}
    assert sorted(on_disk.values()) == sorted(sums.values())
    assert any(p.suffix == ".vmcx" for p in root.iterdir())
    # the same directory again is refused
    assert_error(c.post("/v310/vm", body), 400, "ERR-API-3205")
    for bad in ("/abs/path", "../escape", "a/../../b", "", "C:\\x"):
        body["restoreInfo"]["directoryName"] = bad
        assert_error(c.post("/v310/vm", body), 400, "ERR-API-3205")


def test_clone_validation(client):
    c = client()
    prod = c.vm_by_name("prod-sql01")
    snap = prod["snapshot"]["latest"]["uuid"]["uuid"]
    hv = {"cloneVmName": "x", "hyperVName": "vmm01.lab.local"}
    assert_error(c.post("/v310/vm", {"snapshotId": snap, "count": 0, "hyperv": hv}), 400, "ERR-API-3205")
    assert_error(c.post("/v310/vm", {"snapshotId": snap, "count": 501, "hyperv": hv}), 400, "ERR-API-3205")
    assert_error(c.post("/v310/vm", {"snapshotId": snap, "count": 1}), 400, "ERR-API-3205")
    assert_error(c.post("/v310/vm", {"count": 1, "hyperv": hv}), 400, "ERR-API-3205")
    assert_error(c.post("/v310/vm", {"snapshotId": snap, "hyperv": {"hyperVName": "vmm01"}}), 400, "ERR-API-3205")
    assert_error(c.post("/v310/vm", {"typeId": "bad", "snapshotId": snap, "hyperv": hv}), 400, "ERR-API-3205")
    assert_error(c.post("/v310/vm", {"snapshotId": "gone-SST-0000000000000001", "hyperv": hv}), 404, "ERR-API-3214")
    assert_error(c.post("/v310/vm", {"snapshotId": snap, "restoreInfo": {"directoryName": "r"}, "count": 2}),
                 400, "ERR-API-3205")


def sync_body(snapshot, targets, stype="VDISK", src=None, dst=None, **kw):
    return dict({"typeId": SYNC, "type": stype, "targetVmTintriUuids": targets, "snapshotTintriUuid": snapshot,
                 "sourceDisks": src or [], "destDisks": dst or []}, **kw)


def test_syncvm_vdisk_refresh(lab, client):
    c = client()
    prod = c.vm_by_name("prod-sql01")
    dev = c.vm_by_name("dev-sql01")
    snap = prod["snapshot"]["latest"]["uuid"]["uuid"]
    disk_names = [d["name"] for d in c.ok("GET", f"/v310/snapshot/{snap}/disks")]
    data = [n for n in disk_names if not n.endswith(" 0:0")]
    before = {n: sha(p) for n, p in disk_files(lab, "vmstore1", "dev-sql01").items()}
    body = sync_body(snap, [dev["uuid"]["uuid"]], "VDISK", data, data,
                     takeSnapshotSpec={"typeId": SYNC + "$VirtualMachineSyncTakeSnapshotSpec", "takeSnapshot": True})
    task = c.ok("POST", "/v310/vm/sync", json=body)
    assert task["type"] == "SYNC_VM" and task["targetIds"] == [dev["uuid"]["uuid"]]
    seen, powered = [], []
    while True:
        t = c.ok("GET", f"/v310/task/{task['uuid']['uuid']}")
        seen.append(t["state"])
        if t["state"] == "RUNNING":
            powered.append(c.ok("GET", f"/v310/vm/{dev['uuid']['uuid']}")["vmware"]["isPowered"])
        if t["jobDone"]:
            break
    assert t["state"] == "SUCCESS", t
    assert seen[0] in ("QUEUED", "RUNNING") and "RUNNING" in seen
    assert False in powered  # powered off while the disks were replaced
    after = c.ok("GET", f"/v310/vm/{dev['uuid']['uuid']}")
    assert after["vmware"]["isPowered"] is True
    assert after["snapshot"]["cloneFromSnapshots"][0]["snapshotTintriUUID"] == snap
    now = {n: sha(p) for n, p in disk_files(lab, "vmstore1", "dev-sql01").items()}
    sums = snapshot_sums(lab, "vmstore1", snap)
    assert now["SCSI 0:0"] == before["SCSI 0:0"]  # boot disk untouched
    for n in data:
        assert now[n] == sums[n] != before[n]
    safety = c.ok("GET", "/v310/snapshot", params={"vmUuid": dev["uuid"]["uuid"]})["items"]
    assert len(safety) == 1
    assert safety[0]["expirationTime"] - safety[0]["createTime"] == 1440 * 60_000
    # the safety snapshot holds the pre-sync content
    assert snapshot_sums(lab, "vmstore1", safety[0]["uuid"]["uuid"]) == before


def test_syncvm_skip_reboot_no_snapshot_and_sync_mode(lab, client):
    c = client()
    prod = c.vm_by_name("prod-sql01")
    dev = c.vm_by_name("dev-sql02")
    snap = prod["snapshot"]["latest"]["uuid"]["uuid"]
    n_snaps = c.ok("GET", "/v310/snapshot", params={"vmUuid": dev["uuid"]["uuid"]})["filteredTotal"]
    body = sync_body(snap, dev["uuid"]["uuid"], "VDISK", ["SCSI 0:1"], ["SCSI 0:2"], isSkipReboot="true",
                     takeSnapshotSpec={"takeSnapshot": False}, isAsync=False)
    task = c.ok("POST", "/v310/vm/sync", json=body)
    assert task["state"] == "SUCCESS" and task["jobDone"] is True  # async=false: answered when done
    assert c.vm_by_name("dev-sql02")["vmware"]["isPowered"] is True
    assert c.ok("GET", "/v310/snapshot", params={"vmUuid": dev["uuid"]["uuid"]})["filteredTotal"] == n_snaps
    files = disk_files(lab, "vmstore1", "dev-sql02")
    assert sha(files["SCSI 0:2"]) == snapshot_sums(lab, "vmstore1", snap)["SCSI 0:1"]


def test_syncvm_full_vm(lab, client):
    c = client()
    prod = c.vm_by_name("prod-sql01")
    dev = c.vm_by_name("dev-sql02")
    snap = prod["snapshot"]["latest"]["uuid"]["uuid"]
    task = c.ok("POST", "/v310/vm/sync", json=sync_body(snap, [dev["uuid"]["uuid"]], "FULL_VM", **{"async": True}))
    assert c.wait_task(task["uuid"]["uuid"])["state"] == "SUCCESS"
    sums = snapshot_sums(lab, "vmstore1", snap)
    assert {n: sha(p) for n, p in disk_files(lab, "vmstore1", "dev-sql02").items()} == sums
    after = c.vm_by_name("dev-sql02")
    assert after["vmware"]["name"] == "dev-sql02" and after["vmware"]["host"] == "hv-dev-02.lab.local"
    assert after["uuid"] == dev["uuid"]


def test_syncvm_validation(lab, client):
    c = client()
    prod = c.vm_by_name("prod-sql01")
    dev = c.vm_by_name("dev-sql01")["uuid"]["uuid"]
    web = c.vm_by_name("web-vm01")["uuid"]["uuid"]
    snap = prod["snapshot"]["latest"]["uuid"]["uuid"]
    cases = [
        (sync_body(snap, [dev], "VDISK", ["SCSI 0:9"], ["SCSI 0:1"]), 400, "ERR-API-0020"),
        (sync_body(snap, [dev], "VDISK", ["SCSI 0:1"], ["SCSI 0:9"]), 400, "ERR-API-0020"),
        (sync_body(snap, [web], "VDISK", ["SCSI 0:1"], ["SCSI 0:1"]), 400, "ERR-API-0020"),
        (sync_body(snap, [dev], "VDISK", ["SCSI 0:1", "SCSI 0:2"], ["SCSI 0:1"]), 400, "ERR-API-0020"),
        (sync_body(snap, [dev], "VDISK"), 400, "ERR-API-0020"),
        (sync_body(snap, [dev], "SOMETHING"), 400, "ERR-API-0020"),
        (sync_body(snap, [], "FULL_VM"), 400, "ERR-API-0020"),
        (sync_body(snap, [dev], "FILE_RESTORE"), 400, "ERR-API-0005"),
        (sync_body("gone-SST-0000000000000042", [dev], "FULL_VM"), 404, "ERR-API-8001"),
        (sync_body(snap, ["gone-VIM-0000000000000042"], "FULL_VM"), 404, "ERR-API-8001"),
        (sync_body(snap, [dev], "FULL_VM", takeSnapshotSpec={"localRetentionTimeInMinutes": 5}), 400, "ERR-API-0020"),
        (dict(sync_body(snap, [dev], "FULL_VM"), typeId="x.Y"), 400, "ERR-API-0020"),
    ]
    for body, status, code in cases:
        assert_error(c.post("/v310/vm/sync", body), status, code)
    lab.admin("vmstore1").set_config(syncvm_licensed=False)
    body = assert_error(c.post("/v310/vm/sync", sync_body(snap, [dev], "FULL_VM")), 403, "ERR-API-3701")
    assert "license" in body["causeDetails"]


def test_task_list_filters(lab, client):
    c = client()
    prod = c.vm_by_name("prod-sql01")
    dev = c.vm_by_name("dev-sql01")["uuid"]["uuid"]
    snap = prod["snapshot"]["latest"]["uuid"]["uuid"]
    t = c.ok("POST", "/v310/vm/sync", json=sync_body(snap, [dev], "FULL_VM"))
    c.wait_task(t["uuid"]["uuid"])
    page = c.ok("GET", "/v310/task", params={"state": "SUCCESS", "jobType": "SYNC_VM"})
    assert page["typeId"] == "com.tintri.api.rest.v310.dto.Page"
    assert [x["uuid"]["uuid"] for x in page["items"]] == [t["uuid"]["uuid"]]
    assert c.ok("GET", "/v310/task", params={"targetId": dev})["filteredTotal"] == 1
    assert c.ok("GET", "/v310/task", params={"state": "FAILED"})["filteredTotal"] == 0
    item = page["items"][0]
    assert isinstance(item["createDate"], int) and item["jobDone"] is True
    assert_error(c.get("/v310/task/nope"), 404, "ERR-API-8001")
