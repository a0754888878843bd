"""JSON shaping: model records -> v310 DTOs with the exact typeIds and field names of the docs."""

from __future__ import annotations

import math

from .util import datetime_str, stable_hash

P = "com.tintri.api.rest.v310.dto."
T = {
    "RestApi": "com.tintri.api.rest.v.dto.domain.RestApi",
    "Uuid": "com.tintri.api.rest.vcommon.dto.Uuid",
    "Page": P + "Page",
    "UserSession": P + "UserSession",
    "Task": P + "Task",
    "TaskProperty": P + "TaskProperty",
    "VirtualMachine": P + "domain.VirtualMachine",
    "VmwareInfo": P + "domain.beans.vm.VirtualMachineVmwareInfo",
    "SnapshotInfo": P + "domain.beans.vm.VirtualMachineSnapshotInfo",
    "SnapshotBasicInfo": P + "domain.beans.snapshot.SnapshotBasicInfo",
    "Stats": P + "domain.beans.perf.Stats",
    "VirtualMachineStat": P + "domain.beans.perf.VirtualMachineStat",
    "QoSConfig": P + "domain.beans.vm.VirtualMachineQoSConfig",
    "ServiceGroupInfo": P + "domain.beans.vm.VirtualMachineServiceGroupInfo",
    "ReplicationInfo": P + "domain.beans.vm.VirtualMachineReplicationInfo",
    "VirtualDisk": P + "domain.VirtualDisk",
    "Snapshot": P + "domain.Snapshot",
    "Datastore": P + "domain.Datastore",
    "DatastoreStat": P + "domain.beans.perf.DatastoreStat",
    "HypervisorDatastore": P + "domain.beans.HypervisorDatastore",
    "Appliance": P + "domain.Appliance",
    "ApplianceInfo": P + "domain.beans.hardware.ApplianceInfo",
    "ApplianceIp": P + "domain.beans.hardware.ApplianceIp",
    "VmStore": P + "domain.VmStore",
    "VmstoreSessionStatusInfo": P + "domain.beans.VmstoreSessionStatusInfo",
    "VmstorePool": P + "domain.VmstorePool",
    "VmstorePoolStat": P + "domain.beans.perf.VmstorePoolStat",
}
R = P + "domain.beans.loadbalance.recommendation."
RECO_T = {
    "Recommendation": R + "Recommendation",
    "issues": R + "RecommendationAnalysis",
    "actionGroups": R + "RecommendationActionGroup",
    "actions": R + "RecommendationAction",
    "result": R + "RecommendationActionResult",
    "expectedOutcomes": R + "RecommendationOutcome",
    "feedback": R + "RecommendationFeedback",
    "issue.spaceInfo": R + "RecommendationSpaceAnalysis",
    "issue.iopsInfo": R + "RecommendationIopsAnalysis",
    "issue.flashInfo": R + "RecommendationFlashAnalysis",
    "outcome.spaceInfo": R + "RecommendationSpaceOutcome",
    "outcome.iopsInfo": R + "RecommendationIopsOutcome",
    "outcome.flashInfo": R + "RecommendationFlashOutcome",
    "outcome.protectionInfo": R + "RecommendationProtectionOutcome",
}
GIB = float(1 << 30)


def uuid(value: str, entity: str | None = None) -> dict:
    d = {"typeId": T["Uuid"], "uuid": value}
    if entity:
        d["entityTC"] = entity
    return d


def _gib(n_bytes: float) -> float:
    return round(n_bytes / GIB, 6)


# --- VMs -----------------------------------------------------------------------------------

def vm_stat(vm: dict, snap_bytes: int, now: int) -> dict:
    used = sum(d["size"] for d in vm["disks"])
    prov = vm.get("provisionedGiB")
    perf = vm.get("perf") or {}
    h = stable_hash(vm["id"])
    live = vm["live"] and vm.get("powered")
    iops = perf.get("iops", (h % 900) + 50) if live else 0
    read_share = 0.6
    latency = perf.get("latencyMs", round(0.4 + (h >> 10) % 300 / 100.0, 2)) if live else 0
    mbps = round(iops * 16 / 1024.0, 2)
    used_gib = perf.get("spaceUsedGiB", _gib(used))
    return {
        "typeId": T["VirtualMachineStat"],
        "timeStart": datetime_str(now - 600_000),
        "timeEnd": datetime_str(now),
        "intervalSeconds": 600,
        "spaceUsedGiB": used_gib,
        "spaceUsedLiveGiB": used_gib,
        "spaceUsedLivePhysicalGiB": round(used_gib / 2, 6),
        "spaceUsedPhysicalGiB": round(used_gib / 2, 6),
        "spaceUsedSnapshotsTintriGiB": _gib(snap_bytes),
        "spaceUsedSnapshotsHypervisorGiB": 0.0,
        "spaceProvisionedGiB": prov if prov is not None else _gib(used),
        "spaceUsedChangeGiB": 0.0,
        "spaceSavingsFactor": 2.0,
        "operationsTotalIops": iops,
        "operationsReadIops": round(iops * read_share),
        "operationsWriteIops": iops - round(iops * read_share),
        "normalizedTotalIops": iops,
        "throughputTotalMBps": mbps,
        "throughputReadMBps": round(mbps * read_share, 2),
        "throughputWriteMBps": round(mbps * (1 - read_share), 2),
        "latencyTotalMs": latency,
        "latencyStorageMs": round(latency * 0.5, 2),
        "latencyNetworkMs": round(latency * 0.1, 2),
        "latencyHostMs": round(latency * 0.3, 2),
        "latencyDiskMs": round(latency * 0.05, 2),
        "latencyFlashMs": round(latency * 0.05, 2),
        "latencyContentionMs": 0.0,
        "latencyThrottleMs": 0.0,
        "flashHitPercent": perf.get("flashHitPercent", 100.0 if iops == 0 else 90 + h % 10),
        "performanceReserveUsed": round(iops / 100.0, 2),
        "performanceReserveAutoAllocated": round(iops / 100.0, 2),
        "changeMBPerDay": 0.0,
    }


def vm(app, rec: dict, now: int, tgc_fields: dict | None = None) -> dict:
    """VirtualMachine DTO. ``app`` is the owning VMstore (for snapshots and datastore names)."""
    latest = app.latest_snapshot(rec["id"])
    snap_bytes = app.snapshot_bytes(rec["id"])
    disks = rec["disks"]
    config = rec.get("configFile") or ""
    vmware = {
        "typeId": T["VmwareInfo"],
        "name": rec["name"],
        "vcenterName": rec.get("vcenterName") or "",
        "hypervisorManagerDisplayName": rec.get("vcenterName") or "",
        "hypervisorType": rec["hypervisorType"],
        "host": rec.get("host") or "",
        "mor": rec.get("mor") or "",
        "instanceUuids": [rec["instanceUuid"]] if rec.get("instanceUuid") else [],
        "biosUuid": rec.get("biosUuid") or "",
        "isPowered": bool(rec.get("powered")),
        "isTemplate": bool(rec.get("template")),
        "hasSnapshots": False,
        "folderPath": rec.get("folderPath") or "",
        "hypervisorPath": rec.get("hypervisorPath") or "",
        "storageContainers": list(rec.get("storageContainers") or []),
        "storageContainerIds": list(rec.get("storageContainers") or []),
        "subdir": rec.get("subdir") or "",
        "configurationFilepath": config,
        "virtualDiskExtentPath": disks[0]["file"] if disks else "",
        "numberCpu": rec.get("numberCpu", 2),
        "memoryProvisionedMB": rec.get("memoryMB", 4096),
        "ipList": list(rec.get("ipList") or []),
        "supportedSnapshotConsistencyTypes": ["CRASH_CONSISTENT", "VM_CONSISTENT"],
        "lastUpdateFromHypervisor": datetime_str(rec.get("lastChanged") or now),
        "lastUpdatedTime": datetime_str(rec.get("lastChanged") or now),
        "version": 1,
    }
    snapinfo = {
        "typeId": T["SnapshotInfo"],
        "cloneFromSnapshots": [
            {
                "typeId": T["SnapshotBasicInfo"],
                "creationTime": datetime_str(c["creationTime"]),
                "snapshotTintriUUID": c["snapshotId"],
                "vmName": c.get("vmName") or "",
            }
            for c in rec.get("cloneFromSnapshots") or []
        ],
        "snapshotIdsWithClone": app.snapshot_ids_with_clone(rec["id"]),
        "useDefaultSystemSchedule": True,
        "isSystemDefaultSchedule": True,
        "locked": False,
        "schedules": [],
    }
    if latest is not None:
        snapinfo["latest"] = snapshot(app, latest)
    if rec.get("cloneFromSnapshots"):
        first = rec["cloneFromSnapshots"][0]
        snapinfo["cloneFromSnapshot"] = first["snapshotId"]
        snapinfo["baseVmName"] = first.get("vmName") or ""
    qos = rec.get("qos") or {}
    out = {
        "typeId": T["VirtualMachine"],
        "uuid": uuid(rec["id"], "VIRTUAL_MACHINE"),
        "isLive": bool(rec["live"]),
        "isDeleted": bool(rec.get("deleted")),
        "lastUpdatedTime": datetime_str(rec.get("lastChanged") or now),
        "lastConfigChangedTime": datetime_str(rec.get("lastChanged") or now),
        "diskFormatDescription": "VHDX" if rec["hypervisorType"] == "HYPERV" else "VMDK",
        "hasSyncVmFileLevelRestoreDisk": False,
        "pinnedType": "NOT_PINNED",
        "provisionedType": "THIN",
        "sharedModeOfDisks": ["NONE"],
        "vmware": vmware,
        "snapshot": snapinfo,
        "stat": {
            "typeId": T["Stats"],
            "startTime": datetime_str(now - 600_000),
            "endTime": datetime_str(now),
            "numberOfSlices": 1,
            "sortedStats": [vm_stat(rec, snap_bytes, now)],
        },
        "qosConfig": {
            "typeId": T["QoSConfig"],
            "minNormalizedIops": qos.get("minNormalizedIops", 0),
            "maxNormalizedIops": qos.get("maxNormalizedIops", 0),
            "effectiveMinNormalizedIops": qos.get("minNormalizedIops", 0),
            "effectiveMaxNormalizedIops": qos.get("maxNormalizedIops", 0),
            "inheritanceEnabled": True,
        },
        "replication": {
            "typeId": T["ReplicationInfo"],
            "isEnabled": bool(rec.get("replicated")),
            "configurationsOutgoing": [],
            "configurationsIncoming": [],
        },
    }
    if rec.get("timeDeleted"):
        out["timeDeleted"] = rec["timeDeleted"]
    sg = rec.get("serviceGroup")
    if sg:
        out["serviceGroup"] = {
            "typeId": T["ServiceGroupInfo"], "groupId": sg["id"], "name": sg["name"], "static": True,
        }
    if tgc_fields:
        out.update(tgc_fields)
    return out


def virtual_disk(app, rec: dict, disk: dict) -> dict:
    return {
        "typeId": T["VirtualDisk"],
        "uuid": uuid(disk["uuid"], "VIRTUAL_DISK"),
        "vmUuid": uuid(rec["id"], "VIRTUAL_MACHINE"),
        "vmName": rec["name"],
        "name": disk["name"],
        "displayName": f"{rec['name']} {disk['name']}",
        "path": disk["file"],
        "instanceUuid": disk["uuid"],
        "datastoreUuid": uuid(app.datastore_uuid, "DATA_STORE"),
        "isDiskDrive": disk.get("isDiskDrive", True),
        "isSynthetic": disk.get("isSynthetic", False),
        "isPinned": False,
        "isAutoAligned": True,
        "sharedMode": "NONE",
        "stat": {
            "typeId": P + "domain.beans.perf.CommonStat",
            "spaceUsedGiB": _gib(disk["size"]),
            "spaceProvisionedGiB": _gib(disk["size"]),
        },
    }


# --- snapshots -----------------------------------------------------------------------------

def snapshot(app, s: dict, tgc_fields: dict | None = None) -> dict:
    size = sum(d["size"] for d in s["disks"])
    out = {
        "typeId": T["Snapshot"],
        "uuid": uuid(s["id"], "SNAPSHOT"),
        "vmUuid": uuid(s["vmId"], "VIRTUAL_MACHINE"),
        "vmName": s["vmName"],
        "description": s["description"],
        "createTime": s["createTime"],
        "expirationTime": s["expirationTime"],
        "consistency": s["consistency"],
        "type": s["type"],
        "deletionPolicy": s.get("deletionPolicy", "DELETE_ON_EXPIRATION"),
        "cloneReferenceCount": app.clone_reference_count(s["id"]),
        "creatorName": s.get("creatorName") or "",
        "hypervisorType": s.get("hypervisorType") or "UNKNOWN",
        "isDeleted": bool(s.get("deleted")),
        "isReplica": False,
        "isOrphaned": app.snapshot_orphaned(s),
        "isCollapsed": False,
        "isLastReplicatedSnapshot": False,
        "locked": False,
        "replicaRetentionMinutes": s.get("replicaRetentionMinutes", -1),
        "sizeChangedMB": round(size / (1 << 20), 3),
        "sizeChangedPhysicalMB": round(size / (1 << 21), 3),
        "logicalFullSizeGiB": _gib(size),
        "location": "local",
        "vmIsTemplate": False,
        "lastUpdatedTime": datetime_str(s.get("timeDeleted") or s["createTime"]),
    }
    if s.get("timeDeleted"):
        out["timeDeleted"] = s["timeDeleted"]
    if tgc_fields:
        out.update(tgc_fields)
    return out


def snapshot_disk(d: dict) -> dict:
    return {"typeId": T["VirtualDisk"], "name": d["name"], "path": d["path"]}


# --- tasks ---------------------------------------------------------------------------------

def task(t: dict, tgc_fields: dict | None = None) -> dict:
    done = t["state"] in ("SUCCESS", "FAILED", "CANCELLED")
    out = {
        "typeId": T["Task"],
        "uuid": uuid(t["id"], "JOB"),
        "type": t["type"],
        "state": t["state"],
        "jobDone": done,
        "progressPercent": round(float(t.get("progress", 0.0)), 1),
        "progressDescription": t.get("description") or "",
        "progressSecondsRemaining": max(0, int(math.ceil(t.get("remaining", 0)))) if not done else 0,
        "progressError": t["state"] == "FAILED",
        "error": t.get("error"),
        "targetIds": list(t.get("targetIds") or []),
        "targetType": t.get("targetType", "VM"),
        "properties": [{"typeId": T["TaskProperty"], "name": k, "value": v} for k, v in (t.get("properties") or {}).items()],
        "createDate": t["created"],
        "createdBy": t.get("createdBy") or "",
        "isCancelable": False,
        "restartable": False,
        "lastUpdatedTime": datetime_str(t.get("updated") or t["created"]),
    }
    if tgc_fields:
        out.update(tgc_fields)
    return out
