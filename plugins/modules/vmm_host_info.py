#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vmm_host_info
short_description: List Hyper-V hosts managed by System Center Virtual Machine Manager
version_added: 0.1.0
description:
  - Lists the Hyper-V hosts that a System Center Virtual Machine Manager (VMM) server manages, with their state,
    maintenance mode flag, cluster, host group, memory and number of VMs.
  - Uses one PowerShell remoting (PSRP) session on the VMM server and one listing pipeline.
author:
  - vmops.datacenter maintainers (@vmops)
options:
  name:
    description:
      - Only hosts with one of these names, fully qualified or computer name (compared case-insensitively).
    type: list
    elements: str
    aliases: [names, host, hosts]
  cluster:
    description:
      - Only hosts that are nodes of one of these host clusters.
    type: list
    elements: str
    aliases: [clusters]
  query:
    description:
      - JMESPath expression run over the result (keys C(hosts), C(count) and C(server)); its value is returned
        in RV(query_result). Needs the C(jmespath) Python library on the host that runs the module.
    type: str
extends_documentation_fragment:
  - vmops.datacenter.psrp
  - vmops.datacenter.attributes
  - vmops.datacenter.attributes.INFO_MODULE
  - vmops.datacenter.psrp.ACTIONGROUP_VMM
  - vmops.datacenter.attributes.PLATFORM_CONTROLLER
notes:
  - Both filters combine (a host must match both when both are given); a list filter matches any of its values.
seealso:
  - module: vmops.datacenter.vmm_host_maintenance
  - name: Get-SCVMHost
    description: The VMM cmdlet behind this module.
    link: https://learn.microsoft.com/powershell/module/virtualmachinemanager/get-scvmhost
"""

EXAMPLES = r"""
- name: Nodes of the production cluster
  vmops.datacenter.vmm_host_info:
    server: vmm01.example.com
    username: EXAMPLE\svc-ansible
    password: "{{ vmm_password }}"
    cluster: [hvc-prod.example.com]
  delegate_to: localhost
  register: nodes

- name: Names of the hosts in maintenance mode
  vmops.datacenter.vmm_host_info:
    server: vmm01.example.com
    username: EXAMPLE\svc-ansible
    password: "{{ vmm_password }}"
    query: "hosts[?in_maintenance].name"
  delegate_to: localhost
  register: in_maintenance
"""

RETURN = r"""
hosts:
  description: The matching hosts, in the order VMM listed them.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: VMM id of the host (lower-case GUID).
      type: str
    name:
      description: Fully qualified host name.
      type: str
      sample: hv-prod-01.example.com
    computer_name:
      description: Computer name of the host.
      type: str
      sample: hv-prod-01
    cluster:
      description: Host cluster the host is a node of, or null for a stand-alone host.
      type: str
    host_group:
      description: Full path of the host group the host belongs to, from the root host group.
      type: str
      sample: All Hosts\Production\Cluster A
    overall_state:
      description: Overall state as VMM reports it.
      type: str
      sample: Ok
    in_maintenance:
      description: Whether the host is in maintenance mode.
      type: bool
    available_for_placement:
      description: Whether VMM may place VMs on the host.
      type: bool
    total_memory_mb:
      description: Physical memory of the host, MB.
      type: int
    available_memory_mb:
      description: Memory available on the host, MB.
      type: int
    running_vm_count:
      description: Number of VMs running on the host.
      type: int
    vm_count:
      description: Number of VMs on the host, in any state.
      type: int
count:
  description: Number of entries in RV(hosts).
  returned: always
  type: int
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
query_result:
  description: Value of O(query) over the result.
  returned: when O(query) is set
  type: raw
"""

from ansible_collections.vmops.datacenter.plugins.module_utils._common import check_query
from ansible_collections.vmops.datacenter.plugins.module_utils._vmm import VmmModule


class HostInfoModule(VmmModule):
    def __init__(self):
        spec = dict(
            name=dict(type="list", elements="str", aliases=["names", "host", "hosts"]),
            cluster=dict(type="list", elements="str", aliases=["clusters"]),
            query=dict(type="str"),
        )
        super().__init__(spec, supports_check_mode=True)
        check_query(self.module, self.params["query"])

    def work(self, client):
        params = self.params
        hosts = client.list_hosts(names=params["name"], clusters=params["cluster"])
        self.info_result(client, "hosts", hosts)


def main():
    module = HostInfoModule()
    module.run(module.work)


if __name__ == "__main__":
    main()
