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
