#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vmstore_snapshot
short_description: Create or delete a named Tintri VMstore snapshot of a VM
version_added: 0.1.0
description:
  - Makes sure a VM has (V(present)) or has no (V(absent)) snapshot with a given name on a Tintri VMstore.
  - Snapshot names are not unique on a VMstore. With O(state=present) an existing snapshot of the VM with exactly
    that name satisfies the request, so running the task again changes nothing.
  - Snapshots cannot be changed after they are taken; an existing snapshot with other O(consistency) or
    retention is kept as it is and reported.
  - VMstore-only. Aimed at a Tintri Global Center, the module fails before changing anything and names the
    VMstore that holds the VM.
author:
  - vmops.datacenter maintainers (@vmops)
options:
  vm:
    description:
      - Exact name of the VM. The VM must be live and its name unique on the VMstore, else use O(vm_uuid).
      - One of O(vm) and O(vm_uuid) is required.
    type: str
    aliases: [vm_name]
  vm_uuid:
    description:
      - Tintri id of the VM (C(uuid.uuid) in the API), for example from M(vmops.datacenter.vmstore_vm_info).
    type: str
  name:
    description:
      - Name of the snapshot (the API shows it as the snapshot C(description)).
      - Required with O(state=present). With O(state=absent) give O(name) or O(uuid).
    type: str
  uuid:
    description:
      - Id of one snapshot to delete with O(state=absent).
    type: str
  state:
    description:
      - V(present) takes the snapshot unless one with this name exists; V(absent) deletes every snapshot
        of the VM with this name (or the one with O(uuid)).
    type: str
    choices: [present, absent]
    default: present
  consistency:
    description:
      - V(crash_consistent) snapshots the disks as they are. V(vm_consistent) asks the hypervisor to quiesce
        the guest (VSS on Hyper-V) first.
    type: str
    choices: [crash_consistent, vm_consistent]
    default: crash_consistent
  retention_minutes:
    description:
      - Minutes to keep the snapshot on this VMstore. V(-1) or unset keeps it until it is deleted.
        Otherwise at least V(60) (an API rule).
    type: int
  replica_retention_minutes:
    description:
      - Minutes to keep the replica on the replication destination, with the same rule as O(retention_minutes).
    type: int
extends_documentation_fragment:
  - vmops.datacenter.tintri
  - vmops.datacenter.attributes
  - vmops.datacenter.attributes.ACTIONGROUP_TINTRI
  - vmops.datacenter.attributes.PLATFORM_CONTROLLER
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
notes:
  - A snapshot that is the source of clones cannot be deleted; the module refuses before deleting anything
    and names the snapshot and its clone count.
seealso:
  - module: vmops.datacenter.vmstore_snapshot_info
"""

EXAMPLES = r"""
- name: Snapshot a VM before a change, keep it two days
  vmops.datacenter.vmstore_snapshot:
    hostname: vmstore1.example.com
    username: automation
    password: "{{ vmstore_password }}"
    ca_path: /etc/pki/tls/certs/corp-ca.pem
    vm: prod-sql01
    name: before-patch-2026-11
    consistency: vm_consistent
    retention_minutes: 2880
  delegate_to: localhost

- name: Remove it again (connection options from module_defaults)
  module_defaults:
    group/vmops.datacenter.tintri:
      hostname: vmstore1.example.com
      username: automation
      password: "{{ vmstore_password }}"
  vmops.datacenter.vmstore_snapshot:
    vm: prod-sql01
    name: before-patch-2026-11
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
snapshot:
  description:
    - The snapshot with this name (the newest when several share it), after the change.
    - In check mode, when it would be created, the planned snapshot with RV(snapshot.uuid=null).
    - Absent with O(state=absent).
  returned: when O(state=present)
  type: dict
  contains:
    uuid:
      description: Snapshot id.
      type: str
      sample: C218198C-9CE4-E5FD-00B3-EE96D2B3270F-SST-00000000000000A1
    name:
      description: Snapshot name.
      type: str
      sample: before-patch-2026-11
    vm_name:
      description: Name of the VM.
      type: str
    vm_uuid:
      description: Id of the VM.
      type: str
    type:
      description: Snapshot type, for example C(USER_GENERATED_SNAPSHOT).
      type: str
    consistency:
      description: C(CRASH_CONSISTENT) or C(VM_CONSISTENT).
      type: str
    create_time:
      description: When the snapshot was taken (ISO 8601, UTC).
      type: str
    expiration_time:
      description: When the VMstore deletes it (ISO 8601, UTC), null when kept until deleted.
      type: str
    clone_reference_count:
      description: Number of clones made from this snapshot.
      type: int
deleted:
  description: Snapshots deleted (or that would be deleted in check mode).
  returned: when O(state=absent)
  type: list
  elements: dict
"""

from ansible_collections.vmops.datacenter.plugins.module_utils._tintri import TintriApiError, uuid_of
from ansible_collections.vmops.datacenter.plugins.module_utils._tintri_lookup import (
    get_vm,
    list_snapshots,
    snapshot_summary,
    snapshot_vm_uuid,
    vm_name,
)
from ansible_collections.vmops.datacenter.plugins.module_utils._tintri_module import (
    TintriModule,
    vm_argument_spec,
)

SNAPSHOT_SPEC = "com.tintri.api.rest.v310.dto.domain.beans.snapshot.SnapshotSpec"


def valid_retention(value):
    return value is None or value == -1 or value >= 60


class SnapshotModule(TintriModule):
    def __init__(self):
        vm_spec, vm_rules = vm_argument_spec()
        spec = dict(
            name=dict(type="str"),
            uuid=dict(type="str"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            consistency=dict(type="str", choices=["crash_consistent", "vm_consistent"], default="crash_consistent"),
            retention_minutes=dict(type="int"),
            replica_retention_minutes=dict(type="int"),
        )
        spec.update(vm_spec)
        super().__init__(spec, supports_check_mode=True,
                         required_if=[("state", "present", ("name",)), ("state", "absent", ("name", "uuid"), True)],
                         mutually_exclusive=vm_rules["mutually_exclusive"] + [("uuid", "name")],
                         required_one_of=vm_rules["required_one_of"])
        for option in ("retention_minutes", "replica_retention_minutes"):
            if not valid_retention(self.params[option]):
                self.fail("%s must be -1 (keep until deleted) or at least 60, got %s." % (option, self.params[option]))

    def matching(self, client):
        """Snapshots of this VM with this name (or id), newest first, from one listing."""
        params = self.params

        def wanted(snapshot):
            if params["uuid"]:
                return uuid_of(snapshot) == params["uuid"]
            return snapshot.get("description") == params["name"]

        if params["vm_uuid"]:
            snapshots = list_snapshots(client, vm_uuid=params["vm_uuid"], contain=params["name"])
            return [s for s in snapshots if wanted(s) and snapshot_vm_uuid(s) == params["vm_uuid"]]
        # `contain` matches the snapshot name or the VM name: one call finds the VM's named snapshots.
        snapshots = list_snapshots(client, contain=params["name"] or params["vm"])
        return [s for s in snapshots if wanted(s) and s.get("vmName") == params["vm"]]

    def work(self, client):
        if client.is_tgc:
            vm = get_vm(client, name=self.params["vm"], uuid=self.params["vm_uuid"])
            self.require_vmstore(client, "taking and deleting snapshots", vm)
        existing = self.matching(client)
        if self.params["state"] == "present":
            self.ensure_present(client, existing)
        else:
            self.ensure_absent(client, existing)

    def ensure_present(self, client, existing):
        params = self.params
        if existing:
            self.result["snapshot"] = snapshot_summary(existing[0])
            self.set_diff(self.diff_view(existing[0]), self.diff_view(existing[0]))
            return
        vm = get_vm(client, name=params["vm"], uuid=params["vm_uuid"])
        planned = dict(uuid=None, name=params["name"], vm_name=vm_name(vm), vm_uuid=uuid_of(vm),
                       type="USER_GENERATED_SNAPSHOT", consistency=params["consistency"].upper(),
                       create_time=None, expiration_time=None, clone_reference_count=0)
        self.result["changed"] = True
        self.set_diff(dict(state="absent"), dict(state="present", name=params["name"], vm=vm_name(vm),
                                                 consistency=planned["consistency"],
                                                 retention_minutes=params["retention_minutes"]))
        if self.check_mode:
            self.result["snapshot"] = planned
            return
        spec = dict(typeId=SNAPSHOT_SPEC, sourceVmTintriUUID=uuid_of(vm), snapshotName=params["name"],
                    consistency=planned["consistency"])
        if params["retention_minutes"] is not None:
            spec["retentionMinutes"] = params["retention_minutes"]
        if params["replica_retention_minutes"] is not None:
            spec["replicaRetentionMinutes"] = params["replica_retention_minutes"]

        def probe():
            found = self.matching(client)
            return [uuid_of(found[0])] if found else None

        created = client.create("/v310/snapshot", [spec], probe)
        snapshot_uuid = created[0] if isinstance(created, list) and created else None
        snapshot = client.get("/v310/snapshot/%s" % snapshot_uuid) if snapshot_uuid else None
        self.result["snapshot"] = snapshot_summary(snapshot) if snapshot else planned

    def ensure_absent(self, client, existing):
        busy = [s for s in existing if (s.get("cloneReferenceCount") or 0) > 0]
        if busy:
            self.fail("Not deleting anything: snapshot %s of VM %s has %d clone(s); delete or sync away "
                      "the clones first." % (uuid_of(busy[0]), busy[0].get("vmName"), busy[0]["cloneReferenceCount"]),
                      deleted=[])
        self.result["deleted"] = [snapshot_summary(s) for s in existing]
        if not existing:
            self.set_diff(dict(state="absent"), dict(state="absent"))
            return
        self.result["changed"] = True
        self.set_diff(dict(state="present", snapshots=[self.diff_view(s) for s in existing]), dict(state="absent"))
        if self.check_mode:
            return
        for snapshot in existing:
            try:
                client.delete("/v310/snapshot/%s" % uuid_of(snapshot))
            except TintriApiError as exc:
                if exc.status != 404:  # already gone is what we want
                    raise

    @staticmethod
    def diff_view(snapshot):
        summary = snapshot_summary(snapshot)
        return dict(state="present", uuid=summary["uuid"], name=summary["name"], vm=summary["vm_name"],
                    consistency=summary["consistency"], expiration_time=summary["expiration_time"])


def main():
    module = SnapshotModule()
    module.run(module.work)


if __name__ == "__main__":
    main()
