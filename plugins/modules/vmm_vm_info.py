#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vmm_vm_info
short_description: List virtual machines managed by System Center Virtual Machine Manager
version_added: 0.1.0
description:
  - Lists the VMs that a System Center Virtual Machine Manager (VMM) server manages, with their status, placement,
    high availability and custom properties.
  - Uses one PowerShell remoting (PSRP) session on the VMM server and one listing pipeline, whatever the number of VMs.
  - VM names are not unique in VMM; every entry carries the VM's id (a GUID), which the other VMM modules accept.
author:
  - vmops.datacenter maintainers (@vmops)
options:
  name:
    description:
      - Only VMs with one of these names (compared case-insensitively, as VMM does).
    type: list
    elements: str
    aliases: [names]
  id:
    description:
      - Only the VMs with these VMM ids (GUIDs). Ids VMM does not know are left out of the result.
    type: list
    elements: str
    aliases: [ids, vm_id]
  host:
    description:
      - Only VMs placed on one of these Hyper-V hosts, by fully qualified name or computer name.
    type: list
    elements: str
    aliases: [hosts]
  cluster:
    description:
      - Only VMs placed on a node of one of these host clusters.
    type: list
    elements: str
    aliases: [clusters]
  status:
    description:
      - Only VMs in one of these states, as VMM names them, for example V(Running), V(PowerOff), V(Saved) or
        V(Paused) (compared case-insensitively).
    type: list
    elements: str
  custom_property_name:
    description:
      - Only VMs that have a value for this custom property. The legacy slots are named V(Custom1) to V(Custom10).
    type: str
  custom_property_value:
    description:
      - With O(custom_property_name), only VMs whose property has exactly this value.
    type: str
  query:
    description:
      - JMESPath expression run over the result (keys C(vms), C(count) and C(server)); its value is returned
        in RV(query_result). Needs the C(jmespath) Python library on the host that runs the module.
    type: str
extends_documentation_fragment:
  - vmops.datacenter.psrp
  - vmops.datacenter.attributes
  - vmops.datacenter.attributes.INFO_MODULE
  - vmops.datacenter.psrp.ACTIONGROUP_VMM
  - vmops.datacenter.attributes.PLATFORM_CONTROLLER
notes:
  - All filters combine (a VM must match every one given); a list filter matches any of its values.
seealso:
  - name: Get-SCVirtualMachine
    description: The VMM cmdlet behind this module.
    link: https://learn.microsoft.com/powershell/module/virtualmachinemanager/get-scvirtualmachine
"""

EXAMPLES = r"""
- name: Running VMs of batch 7 (custom property Custom1), straight on the VMM server
  vmops.datacenter.vmm_vm_info:
    server: vmm01.example.com
    username: EXAMPLE\svc-ansible
    password: "{{ vmm_password }}"
    custom_property_name: Custom1
    custom_property_value: "7"
    status: [Running]
  delegate_to: localhost
  register: batch

- name: Names and hosts of every VM on a cluster, through a jump box that connects on to the VMM server
  vmops.datacenter.vmm_vm_info:
    server: jump01.example.com
    auth: credssp
    username: EXAMPLE\svc-ansible
    password: "{{ jump_password }}"
    vmm_server: vmm01.example.com
    vmm_username: EXAMPLE\svc-vmm
    vmm_password: "{{ vmm_password }}"
    cluster: [hvc-prod.example.com]
    query: "vms[].{name: name, host: host}"
  delegate_to: localhost
  register: placement

- name: Connection options once for all VMM tasks of a block
  module_defaults:
    group/vmops.datacenter.vmm:
      server: vmm01.example.com
      ca_path: /etc/pki/example-ca.pem
  delegate_to: localhost
  block:
    - name: Every VM called web01 (names are not unique)
      vmops.datacenter.vmm_vm_info:
        name: [web01]
      register: web01
"""

RETURN = r"""
vms:
  description: The matching VMs, in the order VMM listed them.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: VMM id of the VM (lower-case GUID).
      type: str
      sample: 1e7508dc-6269-53f9-9ec1-fae3a64d43e2
    name:
      description: VM name in VMM (not unique).
      type: str
      sample: prod-sql01
    computer_name:
      description: Guest computer name, if VMM knows it.
      type: str
      sample: prod-sql01.example.com
    status:
      description: VM state as VMM names it, for example C(Running), C(PowerOff), C(Saved) or C(Paused).
      type: str
      sample: Running
    host:
      description: Hyper-V host the VM is placed on (fully qualified name).
      type: str
    cluster:
      description: Host cluster of that host, or null for a stand-alone host.
      type: str
    is_highly_available:
      description: Whether the VM is a clustered (highly available) VM.
      type: bool
    memory_mb:
      description: Memory assigned to the VM, MB.
      type: int
    custom_properties:
      description: Custom properties with a value, by name, including the legacy C(Custom1) to C(Custom10) slots.
      type: dict
      sample: {"Custom1": "7", "Owner": "dba"}
    last_restored_checkpoint_id:
      description: Id of the checkpoint the VM was last restored to, or null.
      type: str
count:
  description: Number of entries in RV(vms).
  returned: always
  type: int
  sample: 12
server:
  description: The server that answered.
  returned: always
  type: dict
  contains:
    hostname:
      description: The PowerShell remoting endpoint, as given in O(server).
      type: str
    vmm_server:
      description: Name of the VMM management server the session connected to.
      type: str
    version:
      description: VMM product version.
      type: str
      sample: 10.22.0.0
query_result:
  description: Value of O(query) over the result.
  returned: when O(query) is set
  type: raw
"""

from ansible_collections.vmops.datacenter.plugins.module_utils._common import check_query
from ansible_collections.vmops.datacenter.plugins.module_utils._vmm import VmmModule


class VmInfoModule(VmmModule):
    def __init__(self):
        spec = dict(
            name=dict(type="list", elements="str", aliases=["names"]),
            id=dict(type="list", elements="str", aliases=["ids", "vm_id"]),
            host=dict(type="list", elements="str", aliases=["hosts"]),
            cluster=dict(type="list", elements="str", aliases=["clusters"]),
            status=dict(type="list", elements="str"),
            custom_property_name=dict(type="str"),
            custom_property_value=dict(type="str"),
            query=dict(type="str"),
        )
        super().__init__(spec, supports_check_mode=True,
                         required_by=dict(custom_property_value="custom_property_name"))
        # A malformed expression (or a missing jmespath library) fails here, before connecting.
        # The sample has the result's shape, so functions such as length(vms) see the right types.
        check_query(self.module, self.params["query"])

    def work(self, client):
        params = self.params
        vms = client.find_vms(ids=params["id"], names=params["name"], hosts=params["host"],
                              clusters=params["cluster"], statuses=params["status"],
                              custom_property=params["custom_property_name"],
                              custom_value=params["custom_property_value"])
        self.info_result(client, "vms", vms)


def main():
    module = VmInfoModule()
    module.run(module.work)


if __name__ == "__main__":
    main()
