# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Finding VMs, snapshots and disks on a VMstore/TGC, and the compact shapes modules return.

The API's ``?name=`` filter may match substrings, so names are always matched exactly here.
Private to the collection: the interface may change between releases.
"""

from __future__ import annotations

import datetime
import re

from ansible_collections.vmops.datacenter.plugins.module_utils._tintri import (
    TintriApiError,
    TintriError,
    uuid_of,
)

# Boot disk = first disk by bus, controller, unit. IDE boots before SCSI (Hyper-V generation 1),
# which is also how the Tintri PowerShell samples pick "all but the first vDisk".
_BUS_ORDER = {"ide": 0, "sata": 1, "scsi": 2, "nvme": 3}
_DISK_NAME = re.compile(r"^\s*([A-Za-z]*)\s*(\d+)\s*:\s*(\d+)\s*$")


class TintriLookupError(TintriError):
    """The object the user named does not exist, or the name is ambiguous."""


def vm_name(vm):
    return (vm.get("vmware") or {}).get("name")


def ms_to_iso(value):
    """Epoch milliseconds (the API's <Date>) as an ISO-8601 UTC string; None for unset or -1 ("never")."""
    if value in (None, "", 0):
        return None
    try:
        if float(value) < 0:
            return None
        moment = datetime.datetime.fromtimestamp(float(value) / 1000.0, tz=datetime.timezone.utc)
    except (TypeError, ValueError, OverflowError):
        return str(value)
    return moment.isoformat().replace("+00:00", "Z")


# -- VMs ------------------------------------------------------------------------------------

def find_vms(client, name=None, uuid=None, live_only=True, extra_params=None):
    """Live VMs with exactly this name (or id); a list, possibly empty or with duplicates."""
    params = dict(extra_params or {})
    if name:
        params["name"] = name
    if uuid:
        params["uuid"] = uuid
    if live_only:
        params["live"] = "TRUE"
    found = []
    for vm in client.iter_items("/v310/vm", params):
        if name is not None and vm_name(vm) != name:
            continue
        if uuid is not None and uuid_of(vm) != uuid:
            continue
        if live_only and (vm.get("isLive") is False or vm.get("isDeleted")):
            continue
        found.append(vm)
    return found


def get_vm(client, name=None, uuid=None):
    """Exactly one live VM, or a TintriLookupError that says what was found instead."""
    if uuid:
        try:
            vm = client.get("/v310/vm/%s" % uuid)
        except TintriApiError as exc:
            if exc.status == 404:
                raise TintriLookupError("No VM with id %r on %s." % (uuid, client.server_label),
                                        server=client.hostname, status=404, code=exc.code) from exc
            raise
        if name and vm_name(vm) != name:
            raise TintriLookupError("VM id %r on %s is named %r, not %r." % (
                uuid, client.server_label, vm_name(vm), name), server=client.hostname)
        return vm
    matches = find_vms(client, name=name)
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise TintriLookupError("No live VM named %r on %s." % (name, client.server_label),
                                server=client.hostname)
    where = ", ".join("%s%s" % (uuid_of(vm), " on %s" % vm["vmstoreName"] if vm.get("vmstoreName") else "")
                      for vm in matches)
    raise TintriLookupError("%d live VMs are named %r on %s (%s); name one by its id instead." % (
        len(matches), name, client.server_label, where), server=client.hostname)


def vm_summary(vm, client=None):
    vmware = vm.get("vmware") or {}
    latest = (vm.get("snapshot") or {}).get("latest")
    stats = ((vm.get("stat") or {}).get("sortedStats") or [{}])[0]
    return dict(
        uuid=uuid_of(vm),
        name=vmware.get("name"),
        hypervisor_type=vmware.get("hypervisorType"),
        hypervisor_manager=vmware.get("vcenterName") or vmware.get("hypervisorManagerDisplayName"),
        host=vmware.get("host"),
        is_live=vm.get("isLive"),
        is_deleted=vm.get("isDeleted"),
        is_powered=vmware.get("isPowered"),
        storage_containers=vmware.get("storageContainers") or [],
        subdir=vmware.get("subdir"),
        vmstore=vm.get("vmstoreName") or (client.hostname if client is not None else None),
        space_used_gib=stats.get("spaceUsedGiB"),
        space_provisioned_gib=stats.get("spaceProvisionedGiB"),
        latest_snapshot=snapshot_summary(latest) if latest else None,
        cloned_from_snapshots=[s.get("snapshotTintriUUID") for s in
                               (vm.get("snapshot") or {}).get("cloneFromSnapshots") or []],
    )


# -- snapshots ------------------------------------------------------------------------------

def list_snapshots(client, vm_uuid=None, contain=None):
    """Non-deleted snapshots, newest first (sorted here too: the server's default order is unknown)."""
    params = {"sortedBy": "createTime", "sortOrder": "DESC"}
    if vm_uuid:
        params["vmUuid"] = vm_uuid
    if contain:
        params["contain"] = contain
    snapshots = [s for s in client.iter_items("/v310/snapshot", params) if not s.get("isDeleted")]
    snapshots.sort(key=lambda s: s.get("createTime") or 0, reverse=True)
    return snapshots


def snapshot_vm_uuid(snapshot):
    return uuid_of({"uuid": snapshot.get("vmUuid")})


def snapshot_summary(snapshot):
    return dict(
        uuid=uuid_of(snapshot),
        name=snapshot.get("description"),
        vm_name=snapshot.get("vmName"),
        vm_uuid=snapshot_vm_uuid(snapshot),
        type=snapshot.get("type"),
        consistency=snapshot.get("consistency"),
        create_time=ms_to_iso(snapshot.get("createTime")),
        expiration_time=ms_to_iso(snapshot.get("expirationTime")),
        clone_reference_count=snapshot.get("cloneReferenceCount") or 0,
        vmstore=snapshot.get("hostNameOrIp"),
    )


def snapshot_disks(client, snapshot_uuid):
    return client.list_all("/v310/snapshot/%s/disks" % snapshot_uuid)


# -- disks ----------------------------------------------------------------------------------

def disk_sort_key(name):
    match = _DISK_NAME.match(name or "")
    if not match:
        return (len(_BUS_ORDER) + 1, 0, 0, name or "")
    bus, controller, unit = match.groups()
    return (_BUS_ORDER.get(bus.lower(), len(_BUS_ORDER)), int(controller), int(unit), name)


def vm_disks(client, vm_uuid):
    """The VM's disk drives (not synthetic files), in boot order."""
    disks = client.list_all("/v310/virtualDisk", {"vmUuid": vm_uuid})
    drives = [d for d in disks if d.get("isDiskDrive", True) and not d.get("isSynthetic")
              and uuid_of({"uuid": d.get("vmUuid")}) in (None, vm_uuid)]
    return sorted(drives, key=lambda d: disk_sort_key(d.get("name")))


def boot_disk_name(disk_names, explicit=None):
    if explicit:
        return explicit
    ordered = sorted(disk_names, key=disk_sort_key)
    return ordered[0] if ordered else None


def disk_summary(disk, boot_name=None):
    return dict(name=disk.get("name"), path=disk.get("path"), uuid=uuid_of(disk),
                is_boot=disk.get("name") == boot_name)


# -- tasks ----------------------------------------------------------------------------------

def task_summary(task):
    error = task.get("error") or {}
    return dict(
        uuid=uuid_of(task),
        type=task.get("type"),
        state=task.get("state"),
        progress_percent=task.get("progressPercent"),
        description=task.get("progressDescription"),
        target_ids=task.get("targetIds") or [],
        error_code=error.get("code"),
        error_message=error.get("message"),
        vmstore=task.get("vmstoreNameOrIp"),
    )
