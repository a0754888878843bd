"""Tintri Global Center: aggregation, VMstore-only 501s, pools and the recommendation state machine."""

from __future__ import annotations

import time
from pathlib import Path

from .conftest import Client
from .test_sessions import assert_error

RECO = "com.tintri.api.rest.v310.dto.domain.beans.loadbalance.recommendation."


def tgc_client(lab):
    return Client(lab.endpoints["tgc1"], lab.pki.ca_path).login()


def test_tgc_aggregates_vmstores(lab, client):
    t = client("tgc1")
    vms = t.ok("GET", "/v310/vm", params={"live": "TRUE"})
    assert vms["filteredTotal"] == 7
    by_name = {v["vmware"]["name"]: v for v in vms["items"]}
    assert by_name["dr-util01"]["vmstoreName"] == lab.endpoints["vmstore2"]["hostname"]
    assert by_name["prod-sql01"]["vmstoreName"] == lab.endpoints["vmstore1"]["hostname"]
    assert by_name["prod-sql01"]["vmstoreTintriUuid"] == lab.endpoints["vmstore1"]["uuid"]
    vid = by_name["prod-sql01"]["uuid"]["uuid"]
    one = t.ok("GET", f"/v310/vm/{vid}")
    assert one["vmstoreName"] == lab.endpoints["vmstore1"]["hostname"]
    snaps = t.ok("GET", "/v310/snapshot", params={"vmUuid": vid})
    assert snaps["filteredTotal"] == 2
    assert all(s["hostNameOrIp"] == lab.endpoints["vmstore1"]["hostname"] for s in snaps["items"])
    assert_error(t.get("/v310/snapshot"), 400, "ERR-API-4003")
    stores = t.ok("GET", "/v310/vmstore")
    assert [s["hostname"] for s in stores] == [lab.endpoints["vmstore1"]["hostname"], lab.endpoints["vmstore2"]["hostname"]]
    assert stores[0]["uuid"]["uuid"] == lab.endpoints["vmstore1"]["uuid"]


def test_vmstore_only_calls_are_501_on_tgc_and_vice_versa(lab, client):
    t = client("tgc1")
    vid = t.vm_by_name("prod-sql01")["uuid"]["uuid"]
    for method, path, body in [
        ("POST", "/v310/snapshot", [{"sourceVmTintriUUID": vid}]),
        ("DELETE", "/v310/snapshot/x", None),
        ("GET", "/v310/snapshot/x", None),
        ("GET", "/v310/snapshot/x/disks", None),
        ("POST", "/v310/vm/sync", {"type": "FULL_VM"}),
        ("GET", "/v310/virtualDisk", None),
        ("GET", "/v310/datastore/default/hostResources", None),
    ]:
        assert_error(t.req(method, path, json=body), 501, "ERR-API-0005")
    v = client("vmstore1")
    for path in ("/v310/vmstorePool", "/v310/vmstore", "/v310/vmstorePool/p/recommendation/current"):
        assert_error(v.get(path), 501, "ERR-API-0005")


def test_tgc_clone_goes_to_the_owning_vmstore(lab, client):
    t = client("tgc1")
    src = t.vm_by_name("dr-util01")
    task = t.ok("POST", "/v310/vm", json={"vmId": src["uuid"]["uuid"], "count": 1,
                                          "hyperv": {"cloneVmName": "dr-copy", "hyperVName": "vmm01.lab.local"}})
    assert task["vmstoreNameOrIp"] == lab.endpoints["vmstore2"]["hostname"]
    assert t.wait_task(task["uuid"]["uuid"])["state"] == "SUCCESS"
    assert t.vm_by_name("dr-copy")["vmstoreName"] == lab.endpoints["vmstore2"]["hostname"]
    assert_error(t.post("/v310/vm", {"snapshotId": "x", "hyperv": {"cloneVmName": "y"}}), 400, "ERR-API-3205")


def pools(t):
    page = t.ok("GET", "/v310/vmstorePool")
    assert page["typeId"] == "com.tintri.api.rest.v310.dto.Page"
    return {p["name"]: p for p in page["items"]}


def test_pools_and_recommendation_shape(lab, client):
    t = client("tgc1")
    p = pools(t)
    assert set(p) == {"pool-prod", "pool-lab"}
    prod = p["pool-prod"]
    assert prod["typeId"] == "com.tintri.api.rest.v310.dto.domain.VmstorePool"
    assert [m["hostname"] for m in prod["members"]] == [lab.endpoints["vmstore1"]["hostname"],
                                                        lab.endpoints["vmstore2"]["hostname"]]
    pid = prod["uuid"]["uuid"]
    assert t.ok("GET", f"/v310/vmstorePool/{pid}")["name"] == "pool-prod"
    reco = t.ok("GET", f"/v310/vmstorePool/{pid}/recommendation/current")
    assert reco["typeId"] == RECO + "Recommendation" and isinstance(reco["id"], str)
    assert reco["state"] == "AVAILABLE" and reco["vmstorePoolId"] == pid
    assert isinstance(reco["creationTime"], str) and "T" in reco["creationTime"]
    i1, i2 = reco["issues"]
    assert i1["typeId"] == RECO + "RecommendationAnalysis"
    assert set(i1) >= {"flashInfo", "spaceInfo"} and "iopsInfo" not in i1
    assert i1["flashInfo"]["typeId"] == RECO + "RecommendationFlashAnalysis" and i1["flashInfo"]["issueType"] == "FLASH"
    assert "iopsInfo" in i2 and "flashInfo" not in i2 and "spaceInfo" not in i2
    assert i1["vmStoreDisplayName"] == lab.endpoints["vmstore1"]["hostname"]
    groups = reco["actionGroups"]
    assert [len(g["actions"]) for g in groups] == [1, 2]
    a = groups[0]["actions"][0]
    assert a["typeId"] == RECO + "RecommendationAction" and a["targetVmDisplayName"] == "dev-sql02"
    assert a["issueTypes"] == ["SPACE", "FLASH"] and "result" not in a
    outcomes = {o["vmStoreDisplayName"]: o for o in reco["expectedOutcomes"]}
    prot = outcomes[lab.endpoints["vmstore2"]["hostname"]]["protectionInfo"]
    assert prot["typeId"] == RECO + "RecommendationProtectionOutcome" and "summary" in prot
    assert prot["vmTintriUuids"] == [t.vm_by_name("web-vm01")["uuid"]["uuid"]]
    assert "protectionInfo" not in outcomes[lab.endpoints["vmstore1"]["hostname"]]
    assert None not in reco.values()
    same = t.ok("GET", f"/v310/vmstorePool/{pid}/recommendation/{reco['id']}")
    assert same["id"] == reco["id"]
    hist = t.ok("GET", f"/v310/vmstorePool/{pid}/recommendationHistory")
    assert isinstance(hist, list) and [h["state"] for h in hist] == ["AVAILABLE", "EXPIRED"]
    lab_pool = p["pool-lab"]["uuid"]["uuid"]
    balanced = t.ok("GET", f"/v310/vmstorePool/{lab_pool}/recommendation/current")
    assert balanced["state"] == "NO_RECOMMENDATION_NEEDED"
    assert not {"issues", "actionGroups", "expectedOutcomes"} & set(balanced)
    assert_error(t.get("/v310/vmstorePool/nope"), 404, "ERR-API-8001")
    assert_error(t.get(f"/v310/vmstorePool/{pid}/recommendation/nope"), 404, "ERR-API-8001")


def test_ack_accept_execution_moves_vms(lab, client):
    t = client("tgc1")
    pid = pools(t)["pool-prod"]["uuid"]["uuid"]
    base = f"/v310/vmstorePool/{pid}/recommendation"
    reco = t.ok("GET", base + "/current")
    rid = reco["id"]
    moved = {a["targetVmDisplayName"] for g in reco["actionGroups"] for a in g["actions"]}
    assert t.req("POST", f"{base}/{rid}/acknowledge", data="null",
                 headers={"content-type": "application/json"}).status_code == 204
    assert t.ok("GET", base + "/current")["state"] == "AVAILABLE_ACKED"
    assert_error(t.post(f"{base}/{rid}/acknowledge"), 400, "ERR-API-7111")
    assert t.req("POST", f"{base}/{rid}/accept").status_code == 204
    states, action_states = [], set()
    deadline = time.time() + 20
    while time.time() < deadline:
        r = t.ok("GET", base + "/current")
        states.append(r["executionState"])
        action_states |= {a["result"]["state"] for g in r["actionGroups"] for a in g["actions"]}
        if r["executionState"].startswith("COMPLETED"):
            break
        time.sleep(0.02)
    assert r["state"] == "ACCEPTED" and r["executionState"] == "COMPLETED_OK", r
    assert states[0] in ("PENDING", "RUNNING") and "RUNNING" in states
    assert {"RUNNING", "COMPLETED_OK"} <= action_states
    assert all(a["result"]["progress"] == 100 for g in r["actionGroups"] for a in g["actions"])
    assert "acceptedTime" in r and "completionTime" in r
    live = {v["vmware"]["name"]: v for v in t.ok("GET", "/v310/vm", params={"live": "TRUE"})["items"]}
    for name in moved:
        assert live[name]["vmstoreName"] == lab.endpoints["vmstore2"]["hostname"]
        assert not (Path(lab.endpoints["vmstore1"]["datastore_dir"]) / name).exists()
        assert (Path(lab.endpoints["vmstore2"]["datastore_dir"]) / name).is_dir()
    v1 = client("vmstore1")
    old = v1.ok("GET", "/v310/vm", params={"name": "dev-sql02"})["items"]
    assert [v["isLive"] for v in old] == [False]
    assert_error(t.post(f"{base}/{rid}/cancel"), 400, "ERR-API-7109")
    assert_error(t.post(f"{base}/{rid}/reset"), 400, "ERR-API-7113")
    assert_error(t.post(f"{base}/{rid}/accept"), 400, "ERR-API-7107")


def test_cancel_and_reset(make_lab, small_desc):
    lab = make_lab(small_desc, task_seconds=2.0)
    t = tgc_client(lab)
    pid = pools(t)["pool-prod"]["uuid"]["uuid"]
    base = f"/v310/vmstorePool/{pid}/recommendation"
    rid = t.ok("GET", base + "/current")["id"]
    assert_error(t.post(f"{base}/{rid}/cancel"), 400, "ERR-API-7109")
    assert t.req("POST", f"{base}/{rid}/accept", json=None).status_code == 204
    time.sleep(0.3)
    assert t.req("POST", f"{base}/{rid}/cancel").status_code == 204
    r = t.ok("GET", base + "/current")
    assert r["state"] == "CANCELLED" and r["executionState"] in ("CANCELLED_PENDING", "COMPLETED_CANCELLED")
    deadline = time.time() + 5
    while r["executionState"] != "COMPLETED_CANCELLED" and time.time() < deadline:
        time.sleep(0.05)
        r = t.ok("GET", base + "/current")
    assert r["executionState"] == "COMPLETED_CANCELLED"
    assert {a["result"]["state"] for g in r["actionGroups"] for a in g["actions"]} == {"COMPLETED_CANCELLED"}
    assert t.vm_by_name("dev-sql02")["vmstoreName"] == lab.endpoints["vmstore1"]["hostname"]
    assert_error(t.post(f"{base}/{rid}/cancel"), 400, "ERR-API-7109")
    # a fresh lab: reset from AVAILABLE invalidates; nothing is allowed afterwards
    lab2 = make_lab(small_desc)
    t2 = tgc_client(lab2)
    pid2 = pools(t2)["pool-prod"]["uuid"]["uuid"]
    base2 = f"/v310/vmstorePool/{pid2}/recommendation"
    rid2 = t2.ok("GET", base2 + "/current")["id"]
    assert t2.req("POST", f"{base2}/{rid2}/reset", data="").status_code == 204
    assert t2.ok("GET", base2 + "/current")["state"] == "INVALIDATED"
    for action, code in (("accept", "ERR-API-7107"), ("acknowledge", "ERR-API-7111"), ("reset", "ERR-API-7113")):
        assert_error(t2.post(f"{base2}/{rid2}/{action}"), 400, code)
    lab_pool = pools(t2)["pool-lab"]["uuid"]["uuid"]
    none = t2.ok("GET", f"/v310/vmstorePool/{lab_pool}/recommendation/current")["id"]
    assert_error(t2.post(f"/v310/vmstorePool/{lab_pool}/recommendation/{none}/accept"), 400, "ERR-API-7107")
