#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vmstore_vm_sync
short_description: Refresh a VM's disks from a snapshot of another VM with Tintri SyncVM
version_added: 0.1.0
description:
  - Runs Tintri SyncVM on a VMstore (C(POST /api/v310/vm/sync)) to replace the disks of a target VM, typically a
    development copy, with the disks of a snapshot of a source VM, typically production. The copy is zero-copy on
    the VMstore.
  - With O(type=vdisk) (the default) only the chosen disks are replaced. By default these are all data disks,
    that is every disk of the snapshot except the boot disk, each paired with the target's disk of the same name.
    O(disk_map) names the pairs explicitly.
  - With O(type=full_vm) the whole VM is synchronised to the snapshot, keeping the target's configuration.
  - Before syncing, the module takes a named safety snapshot of the target. If the SyncVM task fails, the target
    is rolled back to it (O(rollback_on_failure)), so a failed refresh does not leave a half-synced VM.
  - After a successful sync the module records a marker on the target, a snapshot named
    C(vmops.syncvm from <source VM> snapshot <snapshot id>). A later run for the same source snapshot finds the marker
    and changes nothing; O(force=true) syncs again. Only the newest marker per target is kept.
  - SyncVM is a licensed, VMstore-only feature. A Tintri Global Center is refused with a clear error before any
    change; a VMstore without the licence answers HTTP 403, reported as such.
author:
  - vmops.datacenter maintainers (@vmops)
options:
  vm:
    description:
      - Exact name of the target VM whose disks are replaced. One of O(vm) and O(vm_uuid) is required.
    type: str
    aliases: [vm_name, target_vm]
  vm_uuid:
    description:
      - Tintri id of the target VM.
    type: str
  source_vm:
    description:
      - Exact name of the VM whose snapshot is the source. Required unless O(source_snapshot_uuid) is given.
    type: str
  source_snapshot:
    description:
      - Name of the snapshot of O(source_vm) to use (the newest one with that name).
      - When neither this nor O(source_snapshot_uuid) is given, the newest snapshot of O(source_vm) is used.
    type: str
  source_snapshot_uuid:
    description:
      - Id of the source snapshot; it may belong to any VM on the VMstore.
    type: str
  type:
    description:
      - V(vdisk) replaces selected disks; V(full_vm) synchronises the whole VM to the snapshot.
    type: str
    choices: [vdisk, full_vm]
    default: vdisk
  disk_map:
    description:
      - Explicit disk pairs for O(type=vdisk). Without it, all data disks are synchronised to the target's
        disks of the same names.
    type: list
    elements: dict
    suboptions:
      source:
        description: Disk name in the snapshot, for example C(SCSI 0:1) or C(scsi0:1).
        type: str
        required: true
      target:
        description: Disk name on the target VM to replace.
        type: str
        required: true
  boot_disk:
    description:
      - Name of the boot disk when it is not the first disk by bus, controller and unit (IDE before SCSI).
    type: str
  allow_boot_disk:
    description:
      - Allow O(disk_map) to replace the target's boot disk. Off by default so a wrong map cannot overwrite it.
    type: bool
    default: false
  skip_reboot:
    description:
      - For O(type=vdisk), do not stop and restart the target VM around the sync (the API's C(isSkipReboot)).
        The guest must not be using the data disks while they are replaced.
    type: bool
    default: false
  safety_snapshot:
    description:
      - Take a named snapshot of the target before syncing. It is the rollback point.
      - With V(false) the VMstore takes its own, unnamed safety snapshot and O(rollback_on_failure) is not possible.
    type: bool
    default: true
  safety_snapshot_retention_minutes:
    description:
      - Minutes to keep the safety snapshot; V(-1) keeps it until it is deleted, else at least V(60).
    type: int
    default: 1440
  rollback_on_failure:
    description:
      - When the SyncVM task fails, synchronise the target back to the safety snapshot (C(FULL_VM)) and wait for it
        before failing. Not attempted after O(wait_timeout), since the task may still be running.
    type: bool
    default: true
  force:
    description:
      - Sync even when the marker shows that the target was already synced from this snapshot.
    type: bool
    default: false
extends_documentation_fragment:
  - vmops.datacenter.tintri
  - vmops.datacenter.tintri.WAIT
  - vmops.datacenter.attributes
  - vmops.datacenter.attributes.ACTIONGROUP_TINTRI
  - vmops.datacenter.attributes.PLATFORM_CONTROLLER
attributes:
  check_mode:
    support: full
    details: Returns the plan (source snapshot, disk pairs, safety snapshot, reboot) without changing anything.
  diff_mode:
    support: full
notes:
  - With O(wait=false) the module returns once the task is accepted; no marker is recorded and no rollback is
    possible, so a later run syncs again.
  - Disk names come from C(GET /api/v310/snapshot/{id}/disks) for the source and C(GET /api/v310/virtualDisk) for
    the target.
seealso:
  - module: vmops.datacenter.vmstore_snapshot_info
  - module: vmops.datacenter.vmstore_snapshot
"""

EXAMPLES = r"""
- name: Refresh dev-sql01's data disks from the newest production snapshot (boot disk kept)
  vmops.datacenter.vmstore_vm_sync:
    hostname: vmstore1.example.com
    username: automation
    password: "{{ vmstore_password }}"
    ca_path: /etc/pki/tls/certs/corp-ca.pem
    vm: dev-sql01
    source_vm: prod-sql01
  delegate_to: localhost

- name: Sync two named disks from a given snapshot, without rebooting the dev VM
  vmops.datacenter.vmstore_vm_sync:
    vm: dev-sql02
    source_snapshot_uuid: C218198C-9CE4-E5FD-00B3-EE96D2B3270F-SST-0000000000000042
    disk_map:
      - {source: "SCSI 0:1", target: "SCSI 0:1"}
      - {source: "SCSI 0:2", target: "SCSI 0:3"}
    skip_reboot: true
    wait_timeout: 3600
  delegate_to: localhost

- name: Put a VM back to one of its own snapshots
  vmops.datacenter.vmstore_vm_sync:
    vm: app01
    source_vm: app01
    source_snapshot: before-upgrade
    type: full_vm
  delegate_to: localhost
"""

RETURN = r"""
synced:
  description: Whether a sync was done in this run (or would be, in check mode).
  returned: always
  type: bool
plan:
  description: What the sync does (in check mode, what it would do).
  returned: when a source snapshot was found
  type: dict
  contains:
    target:
      description: Target VM name and id.
      type: dict
    source_snapshot:
      description: The source snapshot (id, name, VM, time taken).
      type: dict
    type:
      description: C(VDISK) or C(FULL_VM).
      type: str
    disks:
      description: Disk pairs, each with C(source) and C(target) names (empty for C(FULL_VM)).
      type: list
      elements: dict
    safety_snapshot:
      description: Whether a named safety snapshot is taken first.
      type: bool
    reboot:
      description: Whether the VMstore stops and restarts the target around the sync.
      type: bool
safety_snapshot:
  description:
    - Id and name of the safety snapshot taken before the sync.
    - C(deleted=true) when the VMstore refused the sync outright (for example without a SyncVM licence) and the
      snapshot was removed again.
  returned: when one was taken
  type: dict
marker:
  description: The marker snapshot recording the sync (found, or written by this run).
  returned: when the target is synced from the source snapshot
  type: dict
task:
  description: The SyncVM task (state, progress, error).
  returned: when a sync was started
  type: dict
rolled_back:
  description: Whether the target was rolled back to the safety snapshot after a failed sync.
  returned: on failure after a sync was started
  type: bool
"""

import datetime

from ansible_collections.vmops.datacenter.plugins.module_utils._tintri import (
    RETRY_STATUSES,
    TintriApiError,
    TintriError,
    TintriTaskError,
    uuid_of,
)
from ansible_collections.vmops.datacenter.plugins.module_utils._tintri_lookup import (
    TintriLookupError,
    boot_disk_name,
    disk_sort_key,
    get_vm,
    list_snapshots,
    snapshot_disks,
    snapshot_summary,
    task_summary,
    vm_disks,
    vm_name,
)
from ansible_collections.vmops.datacenter.plugins.module_utils._tintri_module import (
    TintriModule,
    vm_argument_spec,
    wait_argument_spec,
)

SYNC_SPEC = "com.tintri.api.rest.v310.dto.domain.beans.vm.VirtualMachineSyncSpec"
TAKE_SNAPSHOT_SPEC = SYNC_SPEC + "$VirtualMachineSyncTakeSnapshotSpec"
SNAPSHOT_SPEC = "com.tintri.api.rest.v310.dto.domain.beans.snapshot.SnapshotSpec"
MARKER_PREFIX = "vmops.syncvm from "
SAFETY_PREFIX = "vmops.syncvm safety "


def marker_name(source_vm_name, snapshot_uuid):
    return "%s%s snapshot %s" % (MARKER_PREFIX, source_vm_name or "?", snapshot_uuid)


def is_own_snapshot(snapshot):
    return (snapshot.get("description") or "").startswith(("vmops.syncvm ",))


class SyncModule(TintriModule):
    def __init__(self):
        vm_spec, vm_rules = vm_argument_spec()
        vm_spec["vm"]["aliases"] = ["vm_name", "target_vm"]
        spec = dict(
            source_vm=dict(type="str"),
            source_snapshot=dict(type="str"),
            source_snapshot_uuid=dict(type="str"),
            type=dict(type="str", choices=["vdisk", "full_vm"], default="vdisk"),
            disk_map=dict(type="list", elements="dict", options=dict(
                source=dict(type="str", required=True), target=dict(type="str", required=True))),
            boot_disk=dict(type="str"),
            allow_boot_disk=dict(type="bool", default=False),
            skip_reboot=dict(type="bool", default=False),
            safety_snapshot=dict(type="bool", default=True),
            safety_snapshot_retention_minutes=dict(type="int", default=1440),
            rollback_on_failure=dict(type="bool", default=True),
            force=dict(type="bool", default=False),
        )
        spec.update(vm_spec)
        spec.update(wait_argument_spec())
        super().__init__(
            spec, supports_check_mode=True,
            mutually_exclusive=vm_rules["mutually_exclusive"] + [("source_snapshot", "source_snapshot_uuid"),
                                                                 ("source_vm", "source_snapshot_uuid")],
            required_one_of=vm_rules["required_one_of"] + [("source_vm", "source_snapshot_uuid")])
        params = self.params
        retention = params["safety_snapshot_retention_minutes"]
        if retention != -1 and retention < 60:
            self.fail("safety_snapshot_retention_minutes must be -1 or at least 60, got %s." % retention)
        if params["type"] == "full_vm" and params["disk_map"]:
            self.fail("disk_map only applies to type=vdisk; full_vm synchronises every disk.")
        self.result.update(synced=False)

    # -- finding the source and the marker with one listing ---------------------------------

    def source_and_marker(self, client):
        """(source snapshot or None, marker snapshot or None, older markers of the target)."""
        params = self.params
        target_name = params["vm"]
        wanted_uuid = params["source_snapshot_uuid"]
        # `contain` matches a snapshot's name or its VM's name: the source VM's snapshots and the
        # markers naming that VM (or that snapshot id) arrive in one listing.
        snapshots = list_snapshots(client, contain=wanted_uuid or params["source_vm"])
        if wanted_uuid:
            source = None
        else:
            candidates = [s for s in snapshots if s.get("vmName") == params["source_vm"] and not is_own_snapshot(s)]
            if params["source_snapshot"]:
                candidates = [s for s in candidates if s.get("description") == params["source_snapshot"]]
            source = candidates[0] if candidates else None
            wanted_uuid = uuid_of(source) if source else None

        def on_target(s):
            return (target_name is None or s.get("vmName") == target_name) and \
                (params["vm_uuid"] is None or uuid_of({"uuid": s.get("vmUuid")}) == params["vm_uuid"])

        # A marker of a deleted VM (its snapshots are kept, "orphaned") says nothing about a new VM of that name.
        markers = [s for s in snapshots if on_target(s) and not s.get("isOrphaned")
                   and (s.get("description") or "").startswith(MARKER_PREFIX)]
        current = [s for s in markers if wanted_uuid and s["description"].endswith(" snapshot %s" % wanted_uuid)]
        return source, (current[0] if current else None), markers

    def resolve_source(self, client, source):
        params = self.params
        if params["source_snapshot_uuid"]:
            try:
                return client.get("/v310/snapshot/%s" % params["source_snapshot_uuid"])
            except TintriApiError as exc:
                if exc.status == 404:
                    raise TintriLookupError("No snapshot with id %r on %s." % (
                        params["source_snapshot_uuid"], client.server_label), server=client.hostname) from exc
                raise
        if source is not None:
            return source
        get_vm(client, name=params["source_vm"])  # a clear "no such VM" beats "no snapshot"
        what = "named %r" % params["source_snapshot"] if params["source_snapshot"] else "at all"
        raise TintriLookupError("VM %r has no snapshot %s on %s." % (params["source_vm"], what, client.server_label),
                                server=client.hostname)

    # -- disks ------------------------------------------------------------------------------

    def disk_pairs(self, client, source, target):
        params = self.params
        if params["type"] == "full_vm":
            return []
        source_names = sorted((d.get("name") for d in snapshot_disks(client, uuid_of(source))), key=disk_sort_key)
        target_names = [d.get("name") for d in vm_disks(client, uuid_of(target))]
        source_boot = boot_disk_name(source_names, params["boot_disk"])
        target_boot = boot_disk_name(target_names, params["boot_disk"])
        if params["disk_map"]:
            pairs = [(p["source"], p["target"]) for p in params["disk_map"]]
        else:
            pairs = [(name, name) for name in source_names if name != source_boot]
        for source_disk, target_disk in pairs:
            if source_disk not in source_names:
                self.fail("Snapshot %s has no disk %r; its disks are: %s." % (
                    uuid_of(source), source_disk, ", ".join(source_names)))
            if target_disk not in target_names:
                self.fail("Target VM %s has no disk %r; its disks are: %s." % (
                    vm_name(target), target_disk, ", ".join(target_names)))
        if not pairs:
            self.fail("Snapshot %s has no data disks besides boot disk %r; nothing to sync." % (
                uuid_of(source), source_boot))
        targets = [target_disk for _source_disk, target_disk in pairs]
        if len(set(targets)) != len(targets):
            self.fail("disk_map replaces a target disk twice: %s." % ", ".join(targets))
        if target_boot in targets and not params["allow_boot_disk"]:
            self.fail("The disk pairs would replace the boot disk %r of %s; set allow_boot_disk=true if that is "
                      "intended." % (target_boot, vm_name(target)))
        return [dict(source=s, target=t) for s, t in pairs]

    # -- the run ----------------------------------------------------------------------------

    def work(self, client):
        params = self.params
        if client.is_tgc:
            self.require_vmstore(client, "SyncVM", get_vm(client, name=params["vm"], uuid=params["vm_uuid"]))
        source, marker, markers = self.source_and_marker(client)
        before = dict(synced_from=self.marker_source(markers[0] if markers else None))
        if marker and not params["force"]:
            self.result["marker"] = snapshot_summary(marker)
            self.set_diff(before, before)
            return
        source = self.resolve_source(client, source)
        target = get_vm(client, name=params["vm"], uuid=params["vm_uuid"])
        pairs = self.disk_pairs(client, source, target)
        plan = dict(
            target=dict(name=vm_name(target), uuid=uuid_of(target)),
            source_snapshot=snapshot_summary(source),
            type=params["type"].upper(),
            disks=pairs,
            safety_snapshot=params["safety_snapshot"],
            reboot=params["type"] == "full_vm" or not params["skip_reboot"],
        )
        self.result.update(plan=plan, synced=True, changed=True)
        self.set_diff(before, dict(synced_from=uuid_of(source), disks=pairs))
        if self.check_mode:
            return
        safety = self.take_safety_snapshot(client, target, source) if params["safety_snapshot"] else None
        spec = self.sync_spec(target, source, pairs, own_safety=safety is not None)
        task = self.start_sync(client, spec, safety)
        self.result["task"] = task_summary(task)
        if not params["wait"]:
            self.module.warn("wait=false: no marker recorded, a later run will sync again.")
            return
        try:
            task = client.wait_for_task(task, params["wait_timeout"], params["poll_interval"],
                                        what="SyncVM of %s" % vm_name(target))
        except TintriTaskError as exc:
            self.result["task"] = task_summary(exc.task)
            self.roll_back(client, target, safety, exc)
        self.result["task"] = task_summary(task)
        self.write_marker(client, target, source, markers)

    @staticmethod
    def marker_source(marker):
        if not marker:
            return None
        return marker["description"].rsplit(" ", 1)[-1]

    def take_safety_snapshot(self, client, target, source):
        # Unique per run, so looking it up after an ambiguous failure cannot find an older one.
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        name = "%sbefore %s at %s" % (SAFETY_PREFIX, uuid_of(source), stamp)
        spec = dict(typeId=SNAPSHOT_SPEC, sourceVmTintriUUID=uuid_of(target), snapshotName=name,
                    consistency="CRASH_CONSISTENT",
                    retentionMinutes=self.params["safety_snapshot_retention_minutes"])
        created = client.create("/v310/snapshot", [spec], lambda: self.own_snapshot(client, target, name))
        safety = dict(uuid=created[0], name=name)
        self.result["safety_snapshot"] = safety
        return safety

    @staticmethod
    def own_snapshot(client, target, name, ignore=()):
        """Probe for a snapshot this run created: by name, never one that existed before."""
        found = [s for s in list_snapshots(client, vm_uuid=uuid_of(target), contain=name)
                 if s.get("description") == name and uuid_of(s) not in ignore]
        return [uuid_of(found[0])] if found else None

    def sync_spec(self, target, source, pairs, own_safety, full_vm=False):
        full_vm = full_vm or self.params["type"] == "full_vm"
        spec = dict(typeId=SYNC_SPEC, type="FULL_VM" if full_vm else "VDISK",
                    targetVmTintriUuids=[uuid_of(target)], snapshotTintriUuid=uuid_of(source),
                    sourceDisks=[p["source"] for p in pairs], destDisks=[p["target"] for p in pairs])
        if own_safety:
            # Our named snapshot is the rollback point; a second, unnamed one would only cost space.
            spec["takeSnapshotSpec"] = dict(typeId=TAKE_SNAPSHOT_SPEC, takeSnapshot=False)
        if not full_vm:
            spec["isSkipReboot"] = self.params["skip_reboot"]
        return spec

    def start_sync(self, client, spec, safety):
        try:
            return client.post("/v310/vm/sync", spec)
        except TintriApiError as exc:
            # Refused outright (licence, validation): nothing started, so the safety snapshot is not needed.
            if safety and exc.status not in RETRY_STATUSES:
                try:
                    client.delete("/v310/snapshot/%s" % safety["uuid"])
                    self.result["safety_snapshot"]["deleted"] = True
                except TintriError:
                    pass
            raise

    def roll_back(self, client, target, safety, failure):
        params = self.params
        self.result["rolled_back"] = False
        if not (safety and params["rollback_on_failure"]):
            raise failure
        spec = self.sync_spec(target, {"uuid": {"uuid": safety["uuid"]}}, [], own_safety=True, full_vm=True)
        try:
            task = client.post("/v310/vm/sync", spec)
            client.wait_for_task(task, params["wait_timeout"], params["poll_interval"],
                                 what="rollback of %s" % vm_name(target))
        except TintriError as exc:
            self.fail_from(type(failure)(
                "%s The rollback to safety snapshot %s also failed: %s Restore that snapshot by hand." % (
                    failure, safety["uuid"], exc), failure.task, server=failure.server, path=failure.path,
                code=failure.code, api_message=failure.api_message, cause_details=failure.cause_details))
        self.result["rolled_back"] = True
        self.result["changed"] = True
        self.fail_from(type(failure)(
            "%s %s was rolled back to its safety snapshot %s; nothing was left half-synced." % (
                failure, vm_name(target), safety["uuid"]), failure.task, server=failure.server, path=failure.path,
            code=failure.code, api_message=failure.api_message, cause_details=failure.cause_details))

    def write_marker(self, client, target, source, old_markers):
        name = marker_name(source.get("vmName"), uuid_of(source))
        spec = dict(typeId=SNAPSHOT_SPEC, sourceVmTintriUUID=uuid_of(target), snapshotName=name,
                    consistency="CRASH_CONSISTENT", retentionMinutes=-1)
        existing = set(uuid_of(m) for m in old_markers)
        created = client.create("/v310/snapshot", [spec], lambda: self.own_snapshot(client, target, name, existing))
        self.result["marker"] = dict(uuid=created[0], name=name)
        for old in old_markers:
            if uuid_of(old) != created[0] and uuid_of({"uuid": old.get("vmUuid")}) == uuid_of(target):
                try:
                    client.delete("/v310/snapshot/%s" % uuid_of(old))
                except TintriApiError as exc:
                    if exc.status != 404:
                        self.module.warn("Could not delete the older marker snapshot %s: %s" % (uuid_of(old), exc))


def main():
    module = SyncModule()
    module.run(module.work)


if __name__ == "__main__":
    main()
