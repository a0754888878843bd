#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vmstore_vm_info
short_description: List VMs on a Tintri VMstore or Tintri Global Center
version_added: 0.1.0
description:
  - Lists the VMs a Tintri VMstore stores, or that a Tintri Global Center sees on all its VMstores,
    with a compact summary of each.
  - Filters are sent to the server where the API has one, to keep the listing short, and are always applied
    again here, so the result holds exactly the VMs asked for (the server's C(name) filter may also match
    names that merely contain the text).
  - The whole listing is read page by page. Without O(include_disks) the module makes a single listing
    call when the VMs fit on one page.
author:
  - vmops.datacenter maintainers (@vmops)
options:
  name:
    description:
      - Exact name of the VM (case-sensitive).
    type: str
  name_pattern:
    description:
      - Shell-style pattern the VM name must match, for example V(dev-*) or V(sql0[1-3]) (case-sensitive).
      - Matched here, after the listing; the server is not asked to filter by name.
    type: str
  uuid:
    description:
      - Tintri id of one VM (C(uuid.uuid) in the API).
    type: str
  live:
    description:
      - V(true) lists live VMs only. V(false) also lists historical and deleted entries the VMstore still keeps
        (several entries can then share a name).
    type: bool
    default: true
  powered:
    description:
      - Only VMs that are powered on (V(true)) or off (V(false)). Unset lists both.
    type: bool
  hypervisor_type:
    description:
      - Only VMs of this hypervisor type.
    type: str
    choices: [vmware, rhev, hyperv, unknown, openstack, xenserver, vmware_vvol, generic, otherfile, k8s, otherfile_csi]
  include_disks:
    description:
      - Add the disk drives of every VM to the result (one more request per VM), in boot order, with
        the boot disk marked.
      - VMstore-only. Aimed at a Tintri Global Center the module fails before listing anything.
    type: bool
    default: false
  page_size:
    description:
      - Number of VMs to ask for per page (the API's C(limit)). Unset uses the server default (2000).
    type: int
  raw:
    description:
      - Add the VM object exactly as the API returned it to each entry, under C(raw).
    type: bool
    default: false
  query:
    description:
      - JMESPath expression run over the result (keys C(vms), C(count) and C(server)); its value is returned
        in RV(query_result). Needs the C(jmespath) Python library on the host that runs the module.
    type: str
extends_documentation_fragment:
  - vmops.datacenter.tintri
  - vmops.datacenter.attributes
  - vmops.datacenter.attributes.INFO_MODULE
  - vmops.datacenter.attributes.ACTIONGROUP_TINTRI
  - vmops.datacenter.attributes.PLATFORM_CONTROLLER
notes:
  - O(name) and O(name_pattern) cannot be used together; the other filters combine (all must match).
seealso:
  - module: vmops.datacenter.vmstore_snapshot_info
  - module: vmops.datacenter.vmstore_clone
"""

EXAMPLES = r"""
- name: All live Hyper-V VMs whose name starts with dev-
  vmops.datacenter.vmstore_vm_info:
    hostname: vmstore1.example.com
    username: automation
    password: "{{ vmstore_password }}"
    name_pattern: dev-*
    hypervisor_type: hyperv
  delegate_to: localhost
  register: dev_vms

- name: One VM with its disks (boot disk marked)
  vmops.datacenter.vmstore_vm_info:
    hostname: vmstore1.example.com
    username: automation
    password: "{{ vmstore_password }}"
    name: prod-sql01
    include_disks: true
  delegate_to: localhost
  register: sql

- name: Names of powered-off VMs, and on which VMstore each lives, from Tintri Global Center
  vmops.datacenter.vmstore_vm_info:
    hostname: tgc.example.com
    username: automation
    password: "{{ tgc_password }}"
    powered: false
    query: "vms[].{name: name, vmstore: vmstore}"
  delegate_to: localhost
  register: off
"""

RETURN = r"""
vms:
  description: The matching VMs, in the order the server listed them.
  returned: always
  type: list
  elements: dict
  contains:
    uuid:
      description: Tintri id of the VM.
      type: str
      sample: C218198C-9CE4-E5FD-00B3-EE96D2B3270F-VIM-0000000000000056
    name:
      description: VM name.
      type: str
      sample: prod-sql01
    hypervisor_type:
      description: Hypervisor type, for example C(HYPERV) or C(VMWARE).
      type: str
    hypervisor_manager:
      description: Hypervisor manager (vCenter, SCVMM or Hyper-V host) the VM is registered with.
      type: str
    host:
      description: Hypervisor host running the VM.
      type: str
    is_live:
      description: Whether the VM is live (not a historical entry).
      type: bool
    is_deleted:
      description: Whether the VM was deleted.
      type: bool
    is_powered:
      description: Whether the VM is powered on.
      type: bool
    storage_containers:
      description: Hypervisor datastores or SMB shares holding the VM.
      type: list
      elements: str
    subdir:
      description: Directory of the VM on the VMstore.
      type: str
    vmstore:
      description: VMstore that holds the VM (on a VMstore, its own hostname).
      type: str
    space_used_gib:
      description: Space used, GiB.
      type: float
    space_provisioned_gib:
      description: Space provisioned, GiB.
      type: float
    latest_snapshot:
      description: Summary of the newest snapshot (as in M(vmops.datacenter.vmstore_snapshot_info)), or null.
      type: dict
    cloned_from_snapshots:
      description: Ids of the snapshots this VM was cloned from.
      type: list
      elements: str
    disks:
      description: Disk drives in boot order. Only with O(include_disks=true).
      type: list
      elements: dict
      contains:
        name:
          description: Disk id on its controller, for example C(scsi0:0).
          type: str
        path:
          description: File of the disk, relative to the VMstore export.
          type: str
        uuid:
          description: Tintri id of the disk.
          type: str
        is_boot:
          description: Whether this is the boot disk (the first by bus, controller and unit).
          type: bool
    raw:
      description: The VM object as the API returned it. Only with O(raw=true).
      type: dict
count:
  description: Number of entries in RV(vms).
  returned: always
  type: int
  sample: 3
server:
  description: The server that answered.
  returned: always
  type: dict
  contains:
    hostname:
      description: Hostname as given.
      type: str
    product:
      description: C(Tintri VMstore) or C(Tintri Global Center).
      type: str
    api_version:
      description: API version used, for example C(v310.191).
      type: str
query_result:
  description: Value of O(query) over the result.
  returned: when O(query) is set
  type: raw
"""

import fnmatch

from ansible_collections.vmops.datacenter.plugins.module_utils._common import apply_query, check_query
from ansible_collections.vmops.datacenter.plugins.module_utils._tintri import uuid_of
from ansible_collections.vmops.datacenter.plugins.module_utils._tintri_lookup import (
    boot_disk_name,
    disk_summary,
    vm_disks,
    vm_name,
    vm_summary,
)
from ansible_collections.vmops.datacenter.plugins.module_utils._tintri_module import TintriModule

HYPERVISOR_TYPES = ["vmware", "rhev", "hyperv", "unknown", "openstack", "xenserver", "vmware_vvol", "generic",
                    "otherfile", "k8s", "otherfile_csi"]


def api_bool(value):
    return "TRUE" if value else "FALSE"


class VmInfoModule(TintriModule):
    def __init__(self):
        spec = dict(
            name=dict(type="str"),
            name_pattern=dict(type="str"),
            uuid=dict(type="str"),
            live=dict(type="bool", default=True),
            powered=dict(type="bool"),
            hypervisor_type=dict(type="str", choices=HYPERVISOR_TYPES),
            include_disks=dict(type="bool", default=False),
            page_size=dict(type="int"),
            raw=dict(type="bool", default=False),
            query=dict(type="str"),
        )
        super().__init__(spec, supports_check_mode=True, mutually_exclusive=[("name", "name_pattern")])
        if self.params["page_size"] is not None and self.params["page_size"] <= 0:
            self.fail("page_size must be greater than zero, got %s." % self.params["page_size"])
        # A malformed expression (or a missing jmespath library) fails here, before any request.
        check_query(self.module, self.params["query"])

    def server_params(self):
        """Filters the API applies itself; every one of them is checked again in wanted()."""
        params = self.params
        query = {"live": "TRUE" if params["live"] else "BOTH"}
        if params["name"]:
            query["name"] = params["name"]
        if params["uuid"]:
            query["uuid"] = params["uuid"]
        if params["powered"] is not None:
            query["powered"] = api_bool(params["powered"])
        if params["hypervisor_type"]:
            query["hypervisorType"] = params["hypervisor_type"].upper()
        if params["page_size"]:
            query["limit"] = params["page_size"]
        return query

    def wanted(self, vm):
        params = self.params
        vmware = vm.get("vmware") or {}
        name = vm_name(vm) or ""
        if params["name"] is not None and name != params["name"]:
            return False
        if params["name_pattern"] is not None and not fnmatch.fnmatchcase(name, params["name_pattern"]):
            return False
        if params["uuid"] is not None and uuid_of(vm) != params["uuid"]:
            return False
        if params["live"] and (vm.get("isLive") is False or vm.get("isDeleted")):
            return False
        if params["powered"] is not None and bool(vmware.get("isPowered")) != params["powered"]:
            return False
        if params["hypervisor_type"] and (vmware.get("hypervisorType") or "").upper() != params["hypervisor_type"].upper():
            return False
        return True

    def work(self, client):
        params = self.params
        if params["include_disks"]:
            self.require_vmstore(client, "include_disks (listing virtual disks)")
        vms = []
        for vm in client.iter_items("/v310/vm", self.server_params()):
            if not self.wanted(vm):
                continue
            entry = vm_summary(vm, client)
            if params["include_disks"]:
                drives = vm_disks(client, uuid_of(vm))
                boot = boot_disk_name([d.get("name") for d in drives])
                entry["disks"] = [disk_summary(d, boot) for d in drives]
            if params["raw"]:
                entry["raw"] = vm
            vms.append(entry)
        self.result.update(vms=vms, count=len(vms),
                           server=dict(hostname=client.hostname, product=client.product, api_version=client.api_version))
        if params["query"]:
            data = dict(vms=vms, count=len(vms), server=self.result["server"])
            self.result["query_result"] = apply_query(self.module, data, params["query"])


def main():
    module = VmInfoModule()
    module.run(module.work)


if __name__ == "__main__":
    main()
