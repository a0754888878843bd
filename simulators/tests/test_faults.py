"""Fault injection (HTTP and task), the admin endpoint and the request log."""

from __future__ import annotations

import time

import pytest
import requests

from .conftest import Client
from .test_clone_sync import disk_files, sha, snapshot_sums, sync_body
from .test_sessions import assert_error


def admin_url(lab, name, path):
    return lab.endpoints[name]["url"] + "/_sim" + path


def test_error_burst_with_count_and_percent(lab, client):
    c = client()
    added = requests.post(admin_url(lab, "vmstore1", "/faults"), verify=lab.pki.ca_path, timeout=10, json={
        "method": "GET", "path": "/api/v310/vm", "action": "error", "status": 503,
        "code": "ERR-API-9013", "message": "Snapshot inventory is busy", "count": 2})
    assert added.status_code == 201 and added.json()[0]["id"]
    assert_error(c.get("/v310/vm"), 503, "ERR-API-9013")
    assert c.get("/v310/vm/whatever").status_code == 404  # glob matches the exact path only
    assert_error(c.get("/v310/vm"), 503, "ERR-API-9013")
    assert c.get("/v310/vm").status_code == 200  # burst over
    assert requests.get(admin_url(lab, "vmstore1", "/faults"), verify=lab.pki.ca_path, timeout=10).json() == []
    adm = lab.admin("vmstore1")
    adm.add_fault({"path_regex": r"^/api/v310/snapshot$", "method": "POST", "status": 500,
                   "code": "ERR-API-3106", "message": "Create snapshot failed.", "percent": 100})
    vid = c.vm_by_name("app")["uuid"]["uuid"]
    assert_error(c.post("/v310/snapshot", [{"sourceVmTintriUUID": vid}]), 500, "ERR-API-3106")
    assert c.get("/v310/snapshot").status_code == 200  # other method: untouched
    assert adm.clear_faults() == 1
    adm.add_fault({"path": "/api/v310/*", "percent": 0})
    assert all(c.get("/v310/vm").status_code == 200 for _ in range(5))


def test_latency_and_dropped_connection(lab, client):
    c = client()
    adm = lab.admin("vmstore1")
    adm.add_fault({"path": "/api/v310/vm", "action": "latency", "latency_ms": 300, "count": 1})
    t0 = time.time()
    assert c.get("/v310/vm").status_code == 200
    assert time.time() - t0 >= 0.3
    adm.add_fault({"path": "/api/v310/vm", "action": "drop", "count": 1})
    with pytest.raises(requests.exceptions.ConnectionError):
        c.get("/v310/vm")
    assert c.get("/v310/vm").status_code == 200
    log = adm.requests()
    assert [e["status"] for e in log if e["path"] == "/api/v310/vm"][-2:] == [0, 200]


def test_tgc_reco_action_failure_code(lab, client):
    t = client("tgc1")
    lab.admin("tgc1").add_fault({"path": "/api/v310/vmstorePool/*/accept", "method": "POST", "status": 500,
                                 "code": "ERR-API-7108", "message": "Failed to accept Recommendation.", "count": 1})
    pool = t.ok("GET", "/v310/vmstorePool", params={"name": "pool-prod"})["items"][0]["uuid"]["uuid"]
    rid = t.ok("GET", f"/v310/vmstorePool/{pool}/recommendation/current")["id"]
    assert_error(t.post(f"/v310/vmstorePool/{pool}/recommendation/{rid}/accept"), 500, "ERR-API-7108")
    assert t.ok("GET", f"/v310/vmstorePool/{pool}/recommendation/current")["state"] == "AVAILABLE"


def test_task_fails_at_start(lab, client):
    c = client()
    lab.admin("vmstore1").add_fault({"type": "task", "task_type": "SYNC_VM", "when": "start", "count": 1})
    prod, dev = c.vm_by_name("prod-sql01"), c.vm_by_name("dev-sql01")
    before = {n: sha(p) for n, p in disk_files(lab, "vmstore1", "dev-sql01").items()}
    t = c.ok("POST", "/v310/vm/sync", json=sync_body(prod["snapshot"]["latest"]["uuid"]["uuid"],
                                                        [dev["uuid"]["uuid"]], "FULL_VM"))
    done = c.wait_task(t["uuid"]["uuid"])
    assert done["state"] == "FAILED" and done["jobDone"] is True
    assert done["error"]["code"] == "ERR-API-3701" and done["error"]["typeId"].endswith("TintriError")
    assert {n: sha(p) for n, p in disk_files(lab, "vmstore1", "dev-sql01").items()} == before
    assert c.vm_by_name("dev-sql01")["vmware"]["isPowered"] is True
    # the rule was for one task only
    t2 = c.ok("POST", "/v310/vm/sync", json=sync_body(prod["snapshot"]["latest"]["uuid"]["uuid"],
                                                         [dev["uuid"]["uuid"]], "FULL_VM"))
    assert c.wait_task(t2["uuid"]["uuid"])["state"] == "SUCCESS"


def test_task_fails_midway_half_done(lab, client):
    c = client()
    lab.admin("vmstore1").add_fault({"type": "task", "task_type": "SYNC_VM", "when": "midway", "count": 1,
                                     "code": "ERR-API-3701", "message": "Failed SyncVM", "cause": "disk copy aborted"})
    prod, dev = c.vm_by_name("prod-sql01"), c.vm_by_name("dev-sql01")
    snap = prod["snapshot"]["latest"]["uuid"]["uuid"]
    before = {n: sha(p) for n, p in disk_files(lab, "vmstore1", "dev-sql01").items()}
    t = c.ok("POST", "/v310/vm/sync", json=sync_body(snap, [dev["uuid"]["uuid"]], "VDISK",
                                                        ["SCSI 0:1", "SCSI 0:2"], ["SCSI 0:1", "SCSI 0:2"]))
    done = c.wait_task(t["uuid"]["uuid"])
    assert done["state"] == "FAILED" and done["error"]["causeDetails"] == "disk copy aborted"
    now = {n: sha(p) for n, p in disk_files(lab, "vmstore1", "dev-sql01").items()}
    sums = snapshot_sums(lab, "vmstore1", snap)
    assert now["SCSI 0:1"] == sums["SCSI 0:1"]      # replaced before the failure
    assert now["SCSI 0:2"] == before["SCSI 0:2"]    # not reached
    assert c.vm_by_name("dev-sql01")["vmware"]["isPowered"] is True  # power state restored
    safety = done["properties"][0]["value"]
    assert snapshot_sums(lab, "vmstore1", safety) == before


def test_admin_http_sessions_state_and_request_log(lab, client):
    c = client()
    ca = lab.pki.ca_path
    assert requests.delete(admin_url(lab, "vmstore1", "/requests"), verify=ca, timeout=10).status_code == 200
    c.login()
    c.get("/v310/vm", params={"name": "app"})
    log = requests.get(admin_url(lab, "vmstore1", "/requests"), verify=ca, timeout=10).json()
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("POST", "/api/v310/session/login", 200), ("GET", "/api/v310/vm", 200)]
    assert log[1]["query"] == "name=app" and log[1]["appliance"] == "vmstore1"
    assert isinstance(log[1]["duration_ms"], float)
    assert "Tintri-Lab-1" not in repr(log)
    r = requests.post(admin_url(lab, "vmstore1", "/sessions/expire"), verify=ca, timeout=10)
    assert r.json()["expired"] >= 1
    assert_error(c.get("/v310/vm"), 401, "ERR-API-0104")
    st = requests.get(admin_url(lab, "vmstore1", "/state"), verify=ca, timeout=10).json()
    assert st["counts"]["live_vms"] == 6 and {v["name"] for v in st["vms"]} >= {"prod-sql01", "app01"}
    summary = requests.get(admin_url(lab, "tgc1", "/state?summary=1"), verify=ca, timeout=10).json()
    assert summary["personality"] == "tgc" and "vms" not in summary
    tgc_state = lab.admin("tgc1").state()
    assert {p["name"] for p in tgc_state["pools"]} == {"pool-prod", "pool-lab"}
    cfg = requests.put(admin_url(lab, "vmstore1", "/config"), json={"task_seconds": 0.2}, verify=ca, timeout=10)
    assert cfg.json()["task_seconds"] == 0.2
    assert requests.get(admin_url(lab, "vmstore1", "/nope"), verify=ca, timeout=10).status_code == 404


def test_start_time_faults_from_description(make_lab, small_desc):
    small_desc["vmstores"]["vmstore2"]["faults"] = [
        {"path": "/api/v310/session/login", "status": 503, "code": "ERR-API-9013", "count": 1}]
    lab = make_lab(small_desc)
    c = Client(lab.endpoints["vmstore2"], lab.pki.ca_path)
    r = c.post("/v310/session/login", {"username": "admin", "password": "Tintri-Lab-2!"})
    assert_error(r, 503, "ERR-API-9013")
    c.login()
