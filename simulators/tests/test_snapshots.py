"""Snapshots: create, validate, list, latest, disks, delete, expiry."""

from __future__ import annotations

import time

from .conftest import Client
from .test_sessions import assert_error

SPEC = "com.tintri.api.rest.v310.dto.domain.beans.snapshot.SnapshotSpec"


def spec(vm_id, name="snap", **kw):
    return dict({"typeId": SPEC, "sourceVmTintriUUID": vm_id, "snapshotName": name,
                 "consistency": "CRASH_CONSISTENT", "retentionMinutes": 240}, **kw)


def test_create_list_latest_disks_delete(client):
    c = client()
    vm = c.vm_by_name("dev-sql01")
    vid = vm["uuid"]["uuid"]
    before = int(time.time() * 1000)
    ids = c.ok("POST", "/v310/snapshot", json=[spec(vid, "first")])
    assert isinstance(ids, list) and len(ids) == 1 and "-SST-" in ids[0]
    # a single object instead of a list, and numbers as strings, are accepted
    ids2 = c.ok("POST", "/v310/snapshot", json=spec(vid, "second", retentionMinutes="60"))
    snap = c.ok("GET", f"/v310/snapshot/{ids2[0]}")
    assert snap["description"] == "second" and snap["type"] == "USER_GENERATED_SNAPSHOT"
    assert snap["createTime"] >= before and snap["expirationTime"] == snap["createTime"] + 60 * 60_000
    assert snap["vmUuid"]["uuid"] == vid and snap["vmName"] == "dev-sql01"
    assert c.vm_by_name("dev-sql01")["snapshot"]["latest"]["uuid"]["uuid"] == ids2[0]
    page = c.ok("GET", "/v310/snapshot", params={"vmUuid": vid, "sortedBy": "createTime", "sortOrder": "DESC",
                                                  "limit": 1})
    assert page["filteredTotal"] == 2 and page["items"][0]["uuid"]["uuid"] == ids2[0] and "next" in page
    assert c.ok("GET", "/v310/snapshot", params={"contain": "firs"})["items"][0]["description"] == "first"
    # contain also matches the VM name
    assert c.ok("GET", "/v310/snapshot", params={"contain": "prod-sql"})["filteredTotal"] == 2
    sched = c.ok("GET", "/v310/snapshot", params={"type": "SCHEDULED_SNAPSHOT"})
    assert {s["vmName"] for s in sched["items"]} == {"prod-sql01", "dev-sql02", "web-vm01"}
    disks = c.ok("GET", f"/v310/snapshot/{ids[0]}/disks")
    assert [d["name"] for d in disks] == ["SCSI 0:0", "SCSI 0:1", "SCSI 0:2"]
    assert set(disks[0]) == {"typeId", "name", "path"} and disks[0]["path"].startswith("dev-sql01/")
    r = c.delete(f"/v310/snapshot/{ids2[0]}")
    assert r.status_code == 200 and isinstance(r.json(), str)
    assert_error(c.delete(f"/v310/snapshot/{ids2[0]}"), 404, "ERR-API-8001")
    assert c.vm_by_name("dev-sql01")["snapshot"]["latest"]["uuid"]["uuid"] == ids[0]
    gone = c.ok("GET", "/v310/snapshot", params={"vmUuid": vid, "deleted": "TRUE"})
    assert [s["uuid"]["uuid"] for s in gone["items"]] == [ids2[0]] and gone["items"][0]["isDeleted"] is True
    assert_error(c.get("/v310/snapshot/nope-SST-0000000000000009"), 404, "ERR-API-8001")


def test_create_validation(client):
    c = client()
    vid = c.vm_by_name("app")["uuid"]["uuid"]
    for bad in (0, 59, -2, "soon"):
        assert_error(c.post("/v310/snapshot", [spec(vid, retentionMinutes=bad)]), 400, "ERR-API-3105")
    assert_error(c.post("/v310/snapshot", [spec(vid, replicaRetentionMinutes=30)]), 400, "ERR-API-3105")
    assert_error(c.post("/v310/snapshot", [spec(vid, consistency="SOMETIMES")]), 400, "ERR-API-3105")
    assert_error(c.post("/v310/snapshot", [{"snapshotName": "x"}]), 400, "ERR-API-3105")
    assert_error(c.post("/v310/snapshot", [spec(vid, typeId="com.example.Wrong")]), 400, "ERR-API-3105")
    assert_error(c.post("/v310/snapshot", [spec("missing-VIM-0000000000000099")]), 404, "ERR-API-8001")
    hist = [v for v in c.ok("GET", "/v310/vm", params={"live": "FALSE"})["items"]][0]["uuid"]["uuid"]
    assert_error(c.post("/v310/snapshot", [spec(hist)]), 400, "ERR-API-3105")
    assert c.ok("POST", "/v310/snapshot", json=[spec(vid, retentionMinutes=-1)])
    nothing = c.ok("GET", "/v310/snapshot", params={"vmUuid": vid})
    assert nothing["filteredTotal"] == 1 and nothing["items"][0]["expirationTime"] == -1
    # at most 128 snapshots per VM; a request that would exceed it creates nothing
    assert len(c.ok("POST", "/v310/snapshot", json=[spec(vid, f"s{i}") for i in range(127)])) == 127
    assert_error(c.post("/v310/snapshot", [spec(vid, "one-too-many")]), 400, "ERR-API-3105")
    assert c.ok("GET", "/v310/snapshot", params={"vmUuid": vid})["filteredTotal"] == 128


def test_delete_by_vm_and_clone_reference_refusal(client):
    c = client()
    vid = c.vm_by_name("app01")["uuid"]["uuid"]
    ids = c.ok("POST", "/v310/snapshot", json=[spec(vid, "keep-me"), spec(vid, "drop-me")])
    assert_error(c.delete("/v310/snapshot"), 400, "ERR-API-4003")
    r = c.delete("/v310/snapshot", params={"vmUuid": vid, "contain": "drop"})
    assert r.status_code == 200, r.text
    left = c.ok("GET", "/v310/snapshot", params={"vmUuid": vid})["items"]
    assert [s["uuid"]["uuid"] for s in left] == [ids[0]]
    ids = ids[::-1]
    task = c.ok("POST", "/v310/vm", json={"snapshotId": ids[1], "count": 1,
                                          "vmware": {"cloneVmName": "app01-clone", "vCenterName": "vcenter01.lab.local"}})
    assert c.wait_task(task["uuid"]["uuid"])["state"] == "SUCCESS"
    assert c.ok("GET", f"/v310/snapshot/{ids[1]}")["cloneReferenceCount"] == 1
    body = assert_error(c.delete(f"/v310/snapshot/{ids[1]}"), 500, "ERR-API-3107")
    assert "clone reference" in body["causeDetails"]
    assert ids[1] in c.vm_by_name("app01")["snapshot"]["snapshotIdsWithClone"]


def test_expired_snapshots_disappear(make_lab, small_desc):
    desc = small_desc
    desc["vmstores"]["vmstore2"]["vms"][0]["snapshots"] = [
        {"name": "short-lived", "age": "59.6s", "retention_minutes": 1},
        {"name": "kept", "age": "1h", "retention_minutes": 1440},
    ]
    lab = make_lab(desc)
    c = Client(lab.endpoints["vmstore2"], lab.pki.ca_path).login()
    deadline = time.time() + 5
    while time.time() < deadline:
        names = [s["description"] for s in c.ok("GET", "/v310/snapshot")["items"]]
        if names == ["kept"]:
            break
        time.sleep(0.1)
    assert names == ["kept"]
    assert c.vm_by_name("dr-util01")["snapshot"]["latest"]["description"] == "kept"


def test_snapshots_of_a_vm_that_is_gone_are_orphaned(client, lab):
    import shutil
    from pathlib import Path

    c = client()
    vm = c.vm_by_name("app01")
    vid = vm["uuid"]["uuid"]
    sid = c.ok("POST", "/v310/snapshot", json=[spec(vid, "before-removal")])[0]
    assert c.ok("GET", f"/v310/snapshot/{sid}")["isOrphaned"] is False
    export = Path(lab.endpoints["vmstore1"]["datastore_dir"])
    shutil.rmtree(export / vm["vmware"]["subdir"])
    lab.admin("vmstore1").discover()
    assert c.ok("GET", f"/v310/snapshot/{sid}")["isOrphaned"] is True
    listed = c.ok("GET", "/v310/snapshot", params={"contain": "before-removal", "orphaned": "No"})
    assert listed["filteredTotal"] == 0
    assert c.ok("GET", "/v310/snapshot", params={"contain": "before-removal", "orphaned": "Yes"})["filteredTotal"] == 1
