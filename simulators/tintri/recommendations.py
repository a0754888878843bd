"""TGC VMstore pools and recommendations: seeding, DTOs, the state machine and its execution.

Accepting a recommendation runs its action groups one after another (actions within a group
together) over real time; each finished action really moves the VM's files and model record
from the source VMstore to the destination VMstore.
"""

from __future__ import annotations

import time

from . import files
from .dto import RECO_T, T, uuid
from .errors import ApiError, not_found
from .seed import DescriptionError, new_vm_record
from .util import datetime_str, now_ms, safe_dir_name

TERMINAL_EXEC = {"COMPLETED_OK", "COMPLETED_FAILED", "COMPLETED_CANCELLED"}
ISSUE_KEYS = ("spaceInfo", "iopsInfo", "flashInfo")
OUTCOME_KEYS = ("spaceInfo", "iopsInfo", "flashInfo", "protectionInfo")
ISSUE_TYPE = {"spaceInfo": "SPACE", "iopsInfo": "IOPS", "flashInfo": "FLASH", "protectionInfo": "PROTECTION"}


def _last_generation(now: int) -> int:
    """Recommendations are produced at 06:00 and 18:00; the latest such time before now (UTC)."""
    day = now - now % 86_400_000
    for hour in (18, 6):
        t = day + hour * 3_600_000
        if t <= now:
            return t
    return day - 6 * 3_600_000


# --- seeding -------------------------------------------------------------------------------

def _find_vm(lab, vmstore: str, name: str) -> dict:
    app = lab.appliances.get(vmstore)
    if app is None or app.is_tgc:
        raise DescriptionError(f"recommendation: unknown VMstore {vmstore!r}")
    for rec in app.vms.values():
        if rec["name"] == name and rec["live"]:
            return rec
    raise DescriptionError(f"recommendation: no live VM {name!r} on {vmstore}")


def _reco_record(tgc, pool_id: str, spec: dict, lab, created: int) -> dict:
    rid = tgc.next_id("REC")
    state = str(spec.get("state", "AVAILABLE")).upper()
    reco = {"id": rid, "poolId": pool_id, "state": state, "creationTime": created,
            "expirationTime": created + 7 * 86_400_000, "lastUpdatedTime": created}
    if spec.get("stateReason"):
        reco["stateReason"] = str(spec["stateReason"])
    if "executionState" in spec:
        reco["executionState"] = str(spec["executionState"]).upper()
    elif state in ("AVAILABLE", "AVAILABLE_ACKED"):
        reco["executionState"] = "AVAILABLE"
    for t in ("acknowledgedTime", "acceptedTime", "completionTime"):
        if t in spec:
            reco[t] = created + int(spec[t]) if isinstance(spec[t], int) else created
    issues = []
    for issue in spec.get("issues") or []:
        out = {"vmstore": str(issue["vmstore"])}
        if issue["vmstore"] not in lab.appliances:
            raise DescriptionError(f"recommendation issue: unknown VMstore {issue['vmstore']!r}")
        if "summary" in issue:
            out["summary"] = str(issue["summary"])
        for key in ISSUE_KEYS:
            if key in issue:
                out[key] = dict(issue[key])
        issues.append(out)
    if issues:
        reco["issues"] = issues
    groups = []
    for group in spec.get("actionGroups") or []:
        actions = []
        for a in group.get("actions") or []:
            vm = _find_vm(lab, str(a["from"]), str(a["vm"]))
            if str(a["to"]) not in lab.appliances:
                raise DescriptionError(f"recommendation action: unknown VMstore {a['to']!r}")
            actions.append({"vmId": vm["id"], "vmName": vm["name"], "from": str(a["from"]), "to": str(a["to"]),
                            "issueTypes": [str(t).upper() for t in a.get("issueTypes") or []]})
        groups.append({"actions": actions})
    if groups:
        reco["actionGroups"] = groups
    outcomes = []
    for oc in spec.get("expectedOutcomes") or []:
        out = {"vmstore": str(oc["vmstore"])}
        if "summary" in oc:
            out["summary"] = str(oc["summary"])
        for key in OUTCOME_KEYS:
            if key in oc:
                sub = dict(oc[key])
                if key == "protectionInfo":
                    on = str(sub.pop("vms_on", oc["vmstore"]))
                    ids = [_find_vm(lab, on, str(n))["id"] for n in sub.pop("vms", [])]
                    sub["vmTintriUuids"] = ids + [str(x) for x in sub.pop("vmTintriUuids", [])]
                out[key] = sub
        outcomes.append(out)
    if outcomes:
        reco["expectedOutcomes"] = outcomes
    if spec.get("feedback"):
        reco["feedback"] = dict(spec["feedback"])
    return reco


def seed_pool(tgc, spec: dict, lab) -> dict:
    pid = tgc.next_id("VMP")
    members = [str(m) for m in spec.get("members") or []]
    for m in members:
        if m not in tgc.cfg["members"]:
            raise DescriptionError(f"pool {spec.get('name')}: {m!r} is not a member VMstore of {tgc.name}")
    now = now_ms()
    created = _last_generation(now)
    pool = {
        "id": pid, "name": str(spec["name"]), "description": str(spec.get("description", "")),
        "members": members,
        "issueTypePreference": [str(x) for x in spec.get("issueTypePreference", ["SPACE", "IOPS", "FLASH", "PROTECTION"])],
        "notificationPreference": str(spec.get("notificationPreference", "ALL")),
        "history": [],
    }
    for i, h in enumerate(spec.get("history") or []):
        r = _reco_record(tgc, pid, h, lab, created - (len(spec["history"]) - i) * 43_200_000)
        tgc.state["recommendations"][r["id"]] = r
        pool["history"].append(r["id"])
    cur_spec = spec.get("recommendation") or {"state": "NO_RECOMMENDATION_AVAILABLE",
                                               "stateReason": "UNAVAILABLE_UNDER_CONSTRUCTION"}
    cur = _reco_record(tgc, pid, cur_spec, lab, created)
    tgc.state["recommendations"][cur["id"]] = cur
    pool["current"] = cur["id"]
    pool["history"].append(cur["id"])
    tgc.state["pools"][pid] = pool
    return pool


# --- DTOs ----------------------------------------------------------------------------------

def vmstore_dto(lab, tgc, app) -> dict:
    pool_id = next((p["id"] for p in tgc.state["pools"].values() if app.name in p["members"]), None)
    out = {
        "typeId": T["VmStore"],
        "uuid": uuid(app.vmstore_uuid, "VMSTORE"),
        "hostname": app.hostname,
        "ipAddress": "127.0.0.1",
        "applianceId": app.appliance_uuid,
        "datastoreId": [app.datastore_uuid],
        "includeInCluster": True,
        "isTce": False,
        "localAlias": app.name,
        "applianceInfo": lab.appliance_info(app),
        "sessionStatusInfo": {"typeId": T["VmstoreSessionStatusInfo"], "connected": True,
                              "lastSuccesAPIRequestTime": now_ms()},
        "lastUpdatedTime": datetime_str(now_ms()),
    }
    if pool_id:
        out["vmstorePoolId"] = pool_id
    return out


def pool_dto(lab, tgc, pool: dict) -> dict:
    members = [lab.appliances[m] for m in pool["members"] if m in lab.appliances]
    stats = [lab.datastore_stat(m) for m in members]
    agg = {"typeId": T["VmstorePoolStat"]}
    for key in ("spaceTotalGiB", "spaceUsedGiB", "spaceProvisionedGiB", "spaceRemainingPhysicalGiB",
                "operationsTotalIops", "vmsCount", "throughputTotalMBps"):
        agg[key] = round(sum(s.get(key, 0) for s in stats), 6)
    agg["latencyTotalMs"] = round(max([s.get("latencyTotalMs", 0) for s in stats] or [0]), 2)
    agg["flashHitPercent"] = round(min([s.get("flashHitPercent", 100) for s in stats] or [100]), 2)
    return {
        "typeId": T["VmstorePool"],
        "uuid": uuid(pool["id"], "VMSTORE_POOL"),
        "name": pool["name"],
        "description": pool["description"],
        "members": [vmstore_dto(lab, tgc, m) for m in members],
        "stat": agg,
        "issueTypePreference": list(pool["issueTypePreference"]),
        "notificationPreference": pool["notificationPreference"],
        "isFipsEnabled": False,
        "lastUpdatedTime": datetime_str(now_ms()),
    }


def _sub(kind: str, key: str, data: dict, selected_default: bool) -> dict:
    out = {"typeId": RECO_T[f"{kind}.{key}"], "issueType": ISSUE_TYPE[key]}
    if kind == "issue":
        out["isSelected"] = selected_default
        out["isDisabled"] = False
    out.update(data)
    return out


def reco_dto(lab, reco: dict) -> dict:
    out = {"typeId": RECO_T["Recommendation"], "id": reco["id"], "vmstorePoolId": reco["poolId"], "state": reco["state"]}
    for key in ("stateReason", "executionState", "keepCurrent"):
        if key in reco:
            out[key] = reco[key]
    for key in ("creationTime", "acknowledgedTime", "acceptedTime", "completionTime", "expirationTime", "lastUpdatedTime"):
        if reco.get(key) is not None:
            out[key] = datetime_str(reco[key])
    if reco.get("vmAffinityNotNowTintriUuids"):
        out["vmAffinityNotNowTintriUuids"] = list(reco["vmAffinityNotNowTintriUuids"])
    if reco.get("feedback"):
        out["feedback"] = dict(reco["feedback"], typeId=RECO_T["feedback"])
    updated = datetime_str(reco.get("lastUpdatedTime"))

    def store(name):
        app = lab.appliances.get(name)
        return (app.vmstore_uuid, app.hostname) if app else (name, name)

    if "issues" in reco:
        issues = []
        for issue in reco["issues"]:
            sid, sname = store(issue["vmstore"])
            d = {"typeId": RECO_T["issues"], "vmStoreId": sid, "vmStoreDisplayName": sname,
                 "vmStoreIsSelected": True, "lastUpdatedTime": updated}
            if "summary" in issue:
                d["summary"] = issue["summary"]
            for key in ISSUE_KEYS:
                if key in issue:
                    d[key] = _sub("issue", key, issue[key], True)
            issues.append(d)
        out["issues"] = issues
    if "actionGroups" in reco:
        groups = []
        for group in reco["actionGroups"]:
            actions = []
            for a in group["actions"]:
                src, dst = lab.appliances.get(a["from"]), lab.appliances.get(a["to"])
                d = {
                    "typeId": RECO_T["actions"],
                    "targetVmTintriUuid": a["vmId"],
                    "targetVmDisplayName": a["vmName"],
                    "sourceDatastore": src.datastore_uuid if src else a["from"],
                    "sourceDatastoreDisplayName": src.hostname if src else a["from"],
                    "sourceDatastoreTintriUuid": src.vmstore_uuid if src else a["from"],
                    "destinationDatastore": dst.datastore_uuid if dst else a["to"],
                    "destinationDatastoreDisplayName": dst.hostname if dst else a["to"],
                    "destinationDatastoreTintriUuid": dst.vmstore_uuid if dst else a["to"],
                    "issueTypes": list(a["issueTypes"]),
                    "lastUpdatedTime": datetime_str(a.get("updated") or reco.get("lastUpdatedTime")),
                }
                if "result" in a:
                    r = a["result"]
                    res = {"typeId": RECO_T["result"], "state": r["state"], "progress": round(r.get("progress", 0), 1)}
                    for key in ("progressInfo", "errorCategory", "errorSummary", "errorDetail"):
                        if r.get(key):
                            res[key] = r[key]
                    for key in ("startedTime", "completionTime", "lastUpdatedTime"):
                        if r.get(key):
                            res[key] = datetime_str(r[key])
                    d["result"] = res
                actions.append(d)
            groups.append({"typeId": RECO_T["actionGroups"], "actions": actions})
        out["actionGroups"] = groups
    if "expectedOutcomes" in reco:
        outcomes = []
        for oc in reco["expectedOutcomes"]:
            sid, sname = store(oc["vmstore"])
            d = {"typeId": RECO_T["expectedOutcomes"], "vmStoreId": sid, "vmStoreDisplayName": sname,
                 "lastUpdatedTime": updated}
            if "summary" in oc:
                d["summary"] = oc["summary"]
            for key in OUTCOME_KEYS:
                if key in oc:
                    d[key] = _sub("outcome", key, oc[key], True)
            outcomes.append(d)
        out["expectedOutcomes"] = outcomes
    return out


# --- state machine -------------------------------------------------------------------------

def pool_or_404(tgc, pool_id: str) -> dict:
    pool = tgc.state["pools"].get(pool_id)
    if pool is None:
        raise not_found("VmstorePool", pool_id)
    return pool


def reco_or_404(tgc, pool: dict, reco_id: str) -> dict:
    if reco_id == "current":
        return tgc.state["recommendations"][pool["current"]]
    reco = tgc.state["recommendations"].get(reco_id)
    if reco is None or reco["poolId"] != pool["id"]:
        raise not_found("Recommendation", reco_id)
    return reco


TRANSITIONS = {
    # action: (allowed states, invalid-request code, message)
    "acknowledge": ({"AVAILABLE"}, "ERR-API-7111", "Invalid acknowledge Recommendation request."),
    "accept": ({"AVAILABLE", "AVAILABLE_ACKED"}, "ERR-API-7107", "Invalid accept Recommendation request."),
    "cancel": ({"ACCEPTED"}, "ERR-API-7109", "Invalid cancel Recommendation request."),
    "reset": ({"AVAILABLE", "AVAILABLE_ACKED"}, "ERR-API-7113", "Invalid reset Recommendation request."),
}


def transition(lab, tgc, reco: dict, action: str) -> None:
    allowed, code, message = TRANSITIONS[action]
    state = reco["state"]
    if state not in allowed or (action == "cancel" and reco.get("executionState") in TERMINAL_EXEC | {"CANCELLED_PENDING"}):
        raise ApiError(400, code, message,
                       f"Recommendation {reco['id']} is in state {state}"
                       + (f"/{reco.get('executionState')}" if action == "cancel" else "")
                       + f"; {action} is allowed only from {', '.join(sorted(allowed))}")
    now = now_ms()
    reco["lastUpdatedTime"] = now
    if action == "acknowledge":
        reco["state"] = "AVAILABLE_ACKED"
        reco["acknowledgedTime"] = now
    elif action == "reset":
        reco["state"] = "INVALIDATED"
        reco.pop("executionState", None)
    elif action == "accept":
        reco["state"] = "ACCEPTED"
        reco["acceptedTime"] = now
        reco["executionState"] = "PENDING"
        reco["exec"] = {"since": time.time(), "group": 0}
        for group in reco.get("actionGroups") or []:
            for a in group["actions"]:
                a["result"] = {"state": "PENDING", "progress": 0.0, "lastUpdatedTime": now}
        if not reco.get("actionGroups"):
            reco["executionState"] = "COMPLETED_OK"
            reco["completionTime"] = now
    elif action == "cancel":
        reco["state"] = "CANCELLED"
        reco["executionState"] = "CANCELLED_PENDING"
        reco.setdefault("exec", {})["cancelSince"] = time.time()
    tgc.changed()


def tick(lab, tgc) -> None:
    """Advance executing recommendations (lock held)."""
    changed = False
    ts = lab.task_seconds
    for reco in tgc.state["recommendations"].values():
        ex = reco.get("executionState")
        if ex not in ("PENDING", "RUNNING", "RUNNING_ERROR", "CANCELLED_PENDING") or "exec" not in reco:
            continue
        state = reco["exec"]
        now = time.time()
        nms = now_ms()
        if ex == "CANCELLED_PENDING":
            if now - state.get("cancelSince", now) >= 0.2 * ts:
                for group in reco.get("actionGroups") or []:
                    for a in group["actions"]:
                        r = a.get("result")
                        if r and r["state"] not in TERMINAL_EXEC:
                            r.update(state="COMPLETED_CANCELLED", completionTime=nms, lastUpdatedTime=nms)
                reco["executionState"] = "COMPLETED_CANCELLED"
                reco["completionTime"] = nms
                reco["lastUpdatedTime"] = nms
                changed = True
            continue
        if ex == "PENDING":
            if now - state["since"] < 0.1 * ts:
                continue
            reco["executionState"] = "RUNNING"
            state["groupSince"] = now
            changed = True
        groups = reco.get("actionGroups") or []
        gi = state["group"]
        if gi >= len(groups):
            continue
        group = groups[gi]
        frac = min(1.0, (now - state["groupSince"]) / max(ts, 0.001))
        for a in group["actions"]:
            r = a["result"]
            if r["state"] == "PENDING":
                r.update(state="RUNNING", startedTime=nms, progressInfo=f"Moving {a['vmName']}")
                a["fault"] = lab.take_task_fault(tgc, "RECOMMENDATION")
            if r["state"] == "RUNNING":
                fault = a.get("fault")
                limit = 0.0 if fault and fault.get("when") == "start" else 0.5
                if fault and frac >= limit:
                    r.update(state="COMPLETED_FAILED", completionTime=nms, errorCategory="VMSTORE",
                             errorSummary=fault.get("message") or "VM migration failed",
                             errorDetail=fault.get("cause") or f"Injected failure moving {a['vmName']}",
                             progress=round(frac * 100, 1))
                    reco["executionState"] = "RUNNING_ERROR"
                else:
                    r["progress"] = round(frac * 100, 1)
            r["lastUpdatedTime"] = nms
        changed = True
        if frac >= 1.0:
            for a in group["actions"]:
                r = a["result"]
                if r["state"] != "RUNNING":
                    continue
                err = move_vm(lab, a)
                if err:
                    r.update(state="COMPLETED_FAILED", completionTime=nms, errorCategory="VMSTORE",
                             errorSummary="VM migration failed", errorDetail=err)
                    reco["executionState"] = "RUNNING_ERROR"
                else:
                    r.update(state="COMPLETED_OK", progress=100.0, completionTime=nms,
                             progressInfo=f"Moved {a['vmName']} to {lab.appliances[a['to']].hostname}")
            state["group"] = gi + 1
            state["groupSince"] = now
            if state["group"] >= len(groups):
                failed = any(a["result"]["state"] == "COMPLETED_FAILED" for g in groups for a in g["actions"])
                reco["executionState"] = "COMPLETED_FAILED" if failed else "COMPLETED_OK"
                reco["completionTime"] = nms
        reco["lastUpdatedTime"] = nms
    if changed:
        tgc.changed()


def move_vm(lab, action: dict) -> str | None:
    """Move a VM's files and record between VMstores; returns an error text or None."""
    src, dst = lab.appliances.get(action["from"]), lab.appliances.get(action["to"])
    if src is None or dst is None:
        return "unknown source or destination VMstore"
    rec = src.vm(action["vmId"])
    if rec is None or not rec["live"]:
        return f"VM {action['vmName']} ({action['vmId']}) is no longer live on {src.hostname}"
    sub = safe_dir_name(rec["subdir"].rsplit("/", 1)[-1] or rec["name"])
    n = 1
    while (dst.datastore_dir / sub).exists() or any(v["live"] and v.get("subdir") == sub for v in dst.vms.values()):
        n += 1
        sub = f"{safe_dir_name(rec['name'])}_{n}"
    disks = []
    for d in rec["disks"]:
        base = d["file"].rsplit("/", 1)[-1]
        try:
            files.copy_file(src.vm_path(d["file"]), dst.vm_path(f"{sub}/{base}"))
        except OSError as exc:
            files.remove_tree(dst.datastore_dir / sub)
            return f"copy of {d['file']} failed: {exc}"
        disks.append({"name": d["name"], "file": f"{sub}/{base}", "size": d["size"], "boot": d["boot"]})
    new = new_vm_record(
        dst, rec["name"], rec["hypervisorType"], sub, disks,
        vcenterName=rec.get("vcenterName", ""), host=rec.get("host", ""), powered=rec.get("powered", False),
        storageContainers=[dst.cfg["storageContainer"]],
    )
    for key in ("numberCpu", "memoryMB", "instanceUuid", "biosUuid", "mor", "serviceGroup", "qos", "perf",
                "provisionedGiB", "cloneFromSnapshots", "replicated"):
        if key in rec:
            new[key] = rec[key]
    dst.add_vm(new)
    dst.write_vm_config(new)
    rec.update(live=False, deleted=True, powered=False, timeDeleted=now_ms(), movedTo=new["id"])
    files.remove_tree(src.datastore_dir / rec["subdir"])
    src.changed()
    dst.changed()
    action["movedTo"] = new["id"]
    lab.log.info("moved VM %s from %s to %s as %s", rec["name"], src.name, dst.name, new["id"])
    return None
