# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""API objects shaped like Tintri v310 answers, for unit tests."""

from __future__ import annotations

FS = "C218198C-9CE4-E5FD-00B3-EE96D2B3270F"
UUID_TYPE = "com.tintri.api.rest.vcommon.dto.Uuid"


def wrap(uuid):
    return {"typeId": UUID_TYPE, "uuid": uuid}


def vm_id(n):
    return "%s-VIM-%016X" % (FS, n)


def snap_id(n):
    return "%s-SST-%016X" % (FS, n)


def vm(name, n=1, live=True, powered=True, hypervisor="HYPERV", latest=None, vmstore=None, subdir=None,
       clone_from=None):
    obj = {
        "typeId": "com.tintri.api.rest.v310.dto.domain.VirtualMachine",
        "uuid": wrap(vm_id(n)),
        "isLive": live,
        "isDeleted": not live,
        "vmware": {"name": name, "hypervisorType": hypervisor, "isPowered": powered, "vcenterName": "hv-mgr01",
                   "host": "hv01", "storageContainers": ["tintri-smb"], "subdir": subdir or name},
        "snapshot": {},
        "stat": {"sortedStats": [{"spaceUsedGiB": 1.5, "spaceProvisionedGiB": 40.0}]},
        "qosConfig": {"typeId": "com.tintri.api.rest.v310.dto.domain.beans.vm.VirtualMachineQoSConfig",
                      "minNormalizedIops": 0, "maxNormalizedIops": 0},
    }
    if latest:
        obj["snapshot"]["latest"] = latest
    if clone_from:
        obj["snapshot"]["cloneFromSnapshots"] = [{"snapshotTintriUUID": clone_from}]
    if vmstore:
        obj["vmstoreName"] = vmstore
        obj["vmstoreTintriUuid"] = "TIN-%s" % vmstore
    return obj


def snapshot(description, n=1, vm_name="prod-sql01", vm_n=1, created=1763800000000, clones=0,
             consistency="CRASH_CONSISTENT", kind="USER_GENERATED_SNAPSHOT"):
    return {
        "typeId": "com.tintri.api.rest.v310.dto.domain.Snapshot",
        "uuid": wrap(snap_id(n)),
        "description": description,
        "vmName": vm_name,
        "vmUuid": wrap(vm_id(vm_n)),
        "createTime": created,
        "expirationTime": -1,
        "consistency": consistency,
        "type": kind,
        "cloneReferenceCount": clones,
        "isDeleted": False,
    }


def disk(name, vm_n=1, path=None, drive=True):
    return {
        "typeId": "com.tintri.api.rest.v310.dto.domain.VirtualDisk",
        "uuid": wrap("%s-VDK-%s" % (FS, name.replace(" ", "").replace(":", "-"))),
        "vmUuid": wrap(vm_id(vm_n)),
        "name": name,
        "path": path or "vm/%s.vhdx" % name.replace(" ", "_").replace(":", "_"),
        "isDiskDrive": drive,
        "isSynthetic": False,
    }


def task(state, n=1, kind="SYNC_VM", percent=None, error=None):
    done = state in ("SUCCESS", "FAILED", "CANCELLED")
    return {
        "typeId": "com.tintri.api.rest.v310.dto.Task",
        "uuid": wrap("task-%d" % n),
        "type": kind,
        "state": state,
        "jobDone": done,
        "progressPercent": 100 if done else (percent or 0),
        "progressDescription": state.lower(),
        "error": error,
        "targetIds": [],
    }


# -- Tintri Global Center: VMstore pools and recommendations ---------------------------------

RECO = "com.tintri.api.rest.v310.dto.domain.beans.loadbalance.recommendation."


def pool_id(n):
    return "POOL-%04d" % n


def vmstore_member(hostname, n=1):
    return {"typeId": "com.tintri.api.rest.v310.dto.domain.VmStore", "uuid": wrap("TIN-%04d" % n),
            "hostname": hostname, "ipAddress": "10.0.0.%d" % n, "vmstorePoolId": None}


def pool(name, n=1, members=("vmstore1.test", "vmstore2.test"), preference=("SPACE",), description=None):
    return {
        "typeId": "com.tintri.api.rest.v310.dto.domain.VmstorePool",
        "uuid": wrap(pool_id(n)),
        "name": name,
        "description": description if description is not None else "%s pool" % name,
        "members": [vmstore_member(h, n * 10 + i) for i, h in enumerate(members, 1)],
        "issueTypePreference": list(preference),
        "notificationPreference": "ALL",
    }


def space_issue(used_percent=92.5, severity=3):
    return {"typeId": RECO + "RecommendationSpaceAnalysis", "issueType": "SPACE", "summary": "Space %s%%" % used_percent,
            "severity": severity, "isSelected": True, "isDisabled": False, "spaceUsedPhysicalGiB": 9250.0,
            "spaceUsedPhysicalPercent": used_percent, "spaceUsedPhysicalChange": 120.5, "spaceThresholdPercent": 90,
            "probability": 80}


def iops_issue(severity=2):
    return {"typeId": RECO + "RecommendationIopsAnalysis", "issueType": "IOPS", "summary": "Heavy load",
            "severity": severity, "isSelected": True, "isDisabled": False, "totalIops": 48000,
            "throughputTotalMBps": 900.0, "latencyStorageMs": 4.2, "loadThresholdPercent": 80,
            "percentOfWeekUnderLoad": 35}


def flash_issue(severity=1):
    return {"typeId": RECO + "RecommendationFlashAnalysis", "issueType": "FLASH", "summary": "Flash hit rate low",
            "severity": severity, "isSelected": True, "isDisabled": False, "flashHitRatePercent": 88.0,
            "flashHitRatePercentMinimum": 70.0, "flashHitRatePercentMaximum": 99.0,
            "flashHitRateThresholdPercent": 95, "latencyFlashMs": 1.5}


def reco_issue(vmstore="vmstore1.test", n=1, space=None, iops=None, flash=None):
    """One RecommendationAnalysis; absent sub-objects are omitted, as the API does."""
    obj = {"typeId": RECO + "RecommendationAnalysis", "vmStoreId": "TIN-%04d" % n, "vmStoreDisplayName": vmstore,
           "vmStoreIsSelected": True, "summary": "%s needs balancing" % vmstore}
    for key, value in (("spaceInfo", space), ("iopsInfo", iops), ("flashInfo", flash)):
        if value is not None:
            obj[key] = value
    return obj


def reco_action(vm_name="web01", vm_n=1, issue_types=("SPACE",), state="AVAILABLE", progress=0, error=None,
                named=True):
    obj = {
        "typeId": RECO + "RecommendationAction",
        "targetVmTintriUuid": vm_id(vm_n),
        "sourceDatastore": "ds-1", "sourceDatastoreDisplayName": "vmstore1.test",
        "sourceDatastoreTintriUuid": "TIN-0011",
        "destinationDatastore": "ds-2", "destinationDatastoreDisplayName": "vmstore2.test",
        "destinationDatastoreTintriUuid": "TIN-0012",
        "issueTypes": list(issue_types),
        "result": {"typeId": RECO + "RecommendationActionResult", "state": state, "progress": progress},
    }
    if named:
        obj["targetVmDisplayName"] = vm_name
    if error:
        obj["result"].update(errorCategory="VMSTORE", errorSummary=error[0], errorDetail=error[1])
    return obj


def reco_outcome(vmstore="vmstore1.test", n=1, space=True, iops=False, flash=False, protection=None):
    obj = {"typeId": RECO + "RecommendationOutcome", "vmStoreId": "TIN-%04d" % n, "vmStoreDisplayName": vmstore,
           "summary": "%s after the moves" % vmstore}
    if space:
        obj["spaceInfo"] = {"issueType": "SPACE", "spaceChangedPhysicalGiB": -800.0, "spaceThresholdPercent": 90,
                            "probability": 5, "summary": "Space down 800 GiB"}
    if iops:
        obj["iopsInfo"] = {"issueType": "IOPS", "loadThresholdPercent": 80, "predictedLoadWeekPercent": 35,
                           "predictedOutcomeLoadWeekPercent": 10, "summary": "Load down"}
    if flash:
        obj["flashInfo"] = {"issueType": "FLASH", "flashHitRatePercent": 97.0, "changedLatencyMs": -0.5,
                            "summary": "Flash hit rate up"}
    if protection is not None:
        obj["protectionInfo"] = {"issueType": "PROTECTION", "vmTintriUuids": list(protection),
                                 "summary": "%d VM(s) stop replicating" % len(protection)}
    return obj


def recommendation(state="AVAILABLE", reco="RECO-1", pool_n=1, execution="AVAILABLE", issues=None, groups=None,
                   outcomes=None, reason=None, **times):
    """A Recommendation; ``issues``/``groups``/``outcomes`` of None are left out like the API does.

    ``groups`` is a list of lists of actions.
    """
    if state in ("NO_RECOMMENDATION_NEEDED", "NO_RECOMMENDATION_AVAILABLE"):
        obj = {"typeId": RECO + "Recommendation", "id": reco, "vmstorePoolId": pool_id(pool_n), "state": state,
               "creationTime": "2026-11-22T06:00:00.000-08:00"}
        if reason:
            obj["stateReason"] = reason
        return obj
    obj = {"typeId": RECO + "Recommendation", "id": reco, "vmstorePoolId": pool_id(pool_n), "state": state,
           "executionState": execution, "creationTime": "2026-11-22T06:00:00.000-08:00",
           "expirationTime": "2026-11-22T18:00:00.000-08:00", "lastUpdatedTime": "2026-11-22T06:00:01.000-08:00"}
    if reason:
        obj["stateReason"] = reason
    if state in ("AVAILABLE_ACKED", "ACCEPTED"):
        obj["acknowledgedTime"] = "2026-11-22T07:00:00.000-08:00"
    if state == "ACCEPTED":
        obj["acceptedTime"] = "2026-11-22T07:30:00.000-08:00"
    if execution in ("COMPLETED_OK", "COMPLETED_FAILED", "COMPLETED_CANCELLED"):
        obj["completionTime"] = "2026-11-22T08:00:00.000-08:00"
    obj.update(times)
    if issues is not None:
        obj["issues"] = issues
    if groups is not None:
        obj["actionGroups"] = [{"typeId": RECO + "RecommendationActionGroup", "actions": list(g)} for g in groups]
    if outcomes is not None:
        obj["expectedOutcomes"] = outcomes
    return obj
