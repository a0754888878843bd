#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vmstore_snapshot_info
short_description: List the Tintri snapshots of a VM
version_added: 0.1.0
description:
  - Lists the snapshots of a VM on a Tintri VMstore or through a Tintri Global Center, newest first, optionally
    only those with a given name or type, only the newest, or one snapshot by its id.
  - Names and types are sent to the server to keep the listing short and always matched exactly here as well.
  - Deleted snapshots are not listed.
author:
  - vmops.datacenter maintainers (@vmops)
options:
  vm:
    description:
      - Exact name of the VM.
      - One of O(vm), O(vm_uuid) and O(uuid) is required.
    type: str
    aliases: [vm_name]
  vm_uuid:
    description:
      - Tintri id of the VM (C(uuid.uuid) in the API), for example from M(vmops.datacenter.vmstore_vm_info).
    type: str
  name:
    description:
      - Only snapshots with exactly this name (the API shows it as the snapshot C(description)).
    type: str
  uuid:
    description:
      - Id of one snapshot. Alone it is read directly on a VMstore; on a Tintri Global Center O(vm) or O(vm_uuid)
        is needed as well, since there snapshots can only be listed per VM.
      - When the id is unknown the result is an empty list.
    type: str
  latest:
    description:
      - Only the newest of the matching snapshots.
      - Without O(name), O(types) and O(uuid) the newest snapshot is taken from the VM itself, in one request.
    type: bool
    default: false
  types:
    description:
      - Only snapshots of these types.
    type: list
    elements: str
    choices:
      - scheduled_snapshot
      - user_generated_snapshot
      - auto_generated_cloning_snapshot
      - vaai_generated_snapshot
      - odx_generated_snapshot
      - cinder_generated_snapshot
      - scheduled_high_frequency_snapshot
      - hyperv_share_snapshot
      - syncrepl_resync_snapshot
  include_disks:
    description:
      - Add the disks of every returned snapshot (one more request per snapshot), in boot order, with the boot
        disk marked. These are the disk names M(vmops.datacenter.vmstore_vm_sync) takes.
      - VMstore-only. Aimed at a Tintri Global Center the module fails before listing anything.
    type: bool
    default: false
  query:
    description:
      - JMESPath expression run over the result (keys C(snapshots) and C(count)); its value is returned
        in RV(query_result). Needs the C(jmespath) Python library on the host that runs the module.
    type: str
extends_documentation_fragment:
  - vmops.datacenter.tintri
  - vmops.datacenter.attributes
  - vmops.datacenter.attributes.INFO_MODULE
  - vmops.datacenter.attributes.ACTIONGROUP_TINTRI
  - vmops.datacenter.attributes.PLATFORM_CONTROLLER
notes:
  - With O(vm) on a VMstore the snapshots are matched by VM name in a single listing, so snapshots that an
    earlier, deleted VM of the same name left behind are listed too. Use O(vm_uuid) to pin one VM.
  - A VM that does not exist gives an empty list. A name that several live VMs share is an error (use O(vm_uuid))
    when the VM has to be looked up, that is with O(latest) alone or on a Tintri Global Center.
seealso:
  - module: vmops.datacenter.vmstore_snapshot
  - module: vmops.datacenter.vmstore_clone
"""

EXAMPLES = r"""
- name: Newest snapshot of a VM (one request besides login)
  vmops.datacenter.vmstore_snapshot_info:
    hostname: vmstore1.example.com
    username: automation
    password: "{{ vmstore_password }}"
    vm: prod-sql01
    latest: true
  delegate_to: localhost
  register: newest

- name: Newest scheduled snapshot with its disks, for a disk refresh
  vmops.datacenter.vmstore_snapshot_info:
    hostname: vmstore1.example.com
    username: automation
    password: "{{ vmstore_password }}"
    vm: prod-sql01
    types: [scheduled_snapshot]
    latest: true
    include_disks: true
  delegate_to: localhost
  register: nightly

- name: Ids of the snapshots called before-patch, through Tintri Global Center
  vmops.datacenter.vmstore_snapshot_info:
    hostname: tgc.example.com
    username: automation
    password: "{{ tgc_password }}"
    vm: prod-sql01
    name: before-patch
    query: "snapshots[].uuid"
  delegate_to: localhost
  register: before_patch
"""

RETURN = r"""
snapshots:
  description: The matching snapshots, newest first.
  returned: always
  type: list
  elements: dict
  contains:
    uuid:
      description: Snapshot id.
      type: str
      sample: C218198C-9CE4-E5FD-00B3-EE96D2B3270F-SST-00000000000000A1
    name:
      description: Snapshot name (C(description) in the API).
      type: str
      sample: before-patch
    vm_name:
      description: Name of the VM.
      type: str
    vm_uuid:
      description: Id of the VM.
      type: str
    type:
      description: Snapshot type, for example C(USER_GENERATED_SNAPSHOT) or C(SCHEDULED_SNAPSHOT).
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
    vmstore:
      description: VMstore holding the snapshot, as reported by a Tintri Global Center (null on a VMstore).
      type: str
    disks:
      description: Disks in the snapshot, in boot order. Only with O(include_disks=true).
      type: list
      elements: dict
      contains:
        name:
          description: Disk id on its controller, for example C(scsi0:1).
          type: str
        path:
          description: File of the disk, relative to the VMstore export.
          type: str
        is_boot:
          description: Whether this is the boot disk (the first by bus, controller and unit).
          type: bool
count:
  description: Number of entries in RV(snapshots).
  returned: always
  type: int
  sample: 1
query_result:
  description: Value of O(query) over the result.
  returned: when O(query) is set
  type: raw
"""

from ansible_collections.vmops.datacenter.plugins.module_utils._common import apply_query, check_query
from ansible_collections.vmops.datacenter.plugins.module_utils._tintri import TintriApiError, uuid_of
from ansible_collections.vmops.datacenter.plugins.module_utils._tintri_lookup import (
    TintriLookupError,
    boot_disk_name,
    disk_sort_key,
    find_vms,
    snapshot_disks,
    snapshot_summary,
    snapshot_vm_uuid,
)
from ansible_collections.vmops.datacenter.plugins.module_utils._tintri_module import (
    TintriModule,
    vm_argument_spec,
)

SNAPSHOT_TYPES = ["scheduled_snapshot", "user_generated_snapshot", "auto_generated_cloning_snapshot",
                  "vaai_generated_snapshot", "odx_generated_snapshot", "cinder_generated_snapshot",
                  "scheduled_high_frequency_snapshot", "hyperv_share_snapshot", "syncrepl_resync_snapshot"]


class SnapshotInfoModule(TintriModule):
    def __init__(self):
        vm_spec, vm_rules = vm_argument_spec(required=False)
        spec = dict(
            name=dict(type="str"),
            uuid=dict(type="str"),
            latest=dict(type="bool", default=False),
            types=dict(type="list", elements="str", choices=SNAPSHOT_TYPES),
            include_disks=dict(type="bool", default=False),
            query=dict(type="str"),
        )
        spec.update(vm_spec)
        super().__init__(spec, supports_check_mode=True, mutually_exclusive=vm_rules["mutually_exclusive"],
                         required_one_of=[("vm", "vm_uuid", "uuid")])
        self.vm_checked = False
        self.types = sorted(set(t.upper() for t in self.params["types"] or []))
        check_query(self.module, self.params["query"])  # a malformed expression fails before any request

    # -- finding ------------------------------------------------------------------------------

    def lookup_vm(self, client):
        """The VM named by vm/vm_uuid, or None when there is no such VM."""
        params = self.params
        if params["vm_uuid"]:
            try:
                return client.get("/v310/vm/%s" % params["vm_uuid"])
            except TintriApiError as exc:
                if exc.status == 404:
                    return None
                raise
        matches = find_vms(client, name=params["vm"])
        if len(matches) > 1:
            where = ", ".join("%s%s" % (uuid_of(vm), " on %s" % vm["vmstoreName"] if vm.get("vmstoreName") else "")
                              for vm in matches)
            raise TintriLookupError("%d live VMs are named %r on %s (%s); give vm_uuid instead." % (
                len(matches), params["vm"], client.server_label, where), server=client.hostname)
        return matches[0] if matches else None

    def listing(self, client, vm_uuid=None, contain=None):
        query = {"sortedBy": "createTime", "sortOrder": "DESC"}
        if vm_uuid:
            query["vmUuid"] = vm_uuid
        if contain:
            query["contain"] = contain
        if self.types:
            query["type"] = ",".join(self.types)
        return list(client.iter_items("/v310/snapshot", query))

    def candidates(self, client):
        params = self.params
        if params["uuid"] and not client.is_tgc:
            try:
                return [client.get("/v310/snapshot/%s" % params["uuid"])]
            except TintriApiError as exc:
                if exc.status == 404:
                    return []
                raise
        if params["uuid"] and not (params["vm"] or params["vm_uuid"]):
            self.fail("%s is a Tintri Global Center, which lists snapshots only per VM: give vm or vm_uuid "
                      "together with uuid." % client.hostname, snapshots=[], count=0)
        if params["latest"] and not (params["name"] or self.types or params["uuid"]):
            vm = self.lookup_vm(client)
            latest = ((vm or {}).get("snapshot") or {}).get("latest")
            self.vm_checked = True  # it came from the VM itself, whatever vmName/vmUuid it carries
            return [latest] if latest else []
        if client.is_tgc or params["vm_uuid"]:
            vm_uuid = params["vm_uuid"] or uuid_of(self.lookup_vm(client))
            if not vm_uuid:
                return []
            return self.listing(client, vm_uuid=vm_uuid, contain=params["name"])
        # `contain` matches the snapshot name or the VM name: one call finds the VM's (named) snapshots.
        return self.listing(client, contain=params["name"] or params["vm"])

    def wanted(self, snapshot):
        params = self.params
        if not isinstance(snapshot, dict) or snapshot.get("isDeleted"):
            return False
        if params["uuid"] and uuid_of(snapshot) != params["uuid"]:
            return False
        if params["name"] is not None and snapshot.get("description") != params["name"]:
            return False
        if self.types and snapshot.get("type") not in self.types:
            return False
        if self.vm_checked:
            return True
        if params["vm_uuid"] and snapshot_vm_uuid(snapshot) != params["vm_uuid"]:
            return False
        if params["vm"] and snapshot.get("vmName") != params["vm"]:
            return False
        return True

    # -- result -------------------------------------------------------------------------------

    def work(self, client):
        if self.params["include_disks"]:
            self.require_vmstore(client, "include_disks (listing snapshot disks)")
        found = [s for s in self.candidates(client) if self.wanted(s)]
        found.sort(key=lambda s: s.get("createTime") or 0, reverse=True)
        if self.params["latest"]:
            found = found[:1]
        snapshots = []
        for snapshot in found:
            entry = snapshot_summary(snapshot)
            if self.params["include_disks"]:
                disks = sorted(snapshot_disks(client, uuid_of(snapshot)), key=lambda d: disk_sort_key(d.get("name")))
                boot = boot_disk_name([d.get("name") for d in disks])
                entry["disks"] = [dict(name=d.get("name"), path=d.get("path"), is_boot=d.get("name") == boot)
                                  for d in disks]
            snapshots.append(entry)
        self.result.update(snapshots=snapshots, count=len(snapshots))
        if self.params["query"]:
            self.result["query_result"] = apply_query(self.module, dict(snapshots=snapshots, count=len(snapshots)),
                                                      self.params["query"])


def main():
    module = SnapshotInfoModule()
    module.run(module.work)


if __name__ == "__main__":
    main()
