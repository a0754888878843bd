#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vmm_host_maintenance
short_description: Put a Hyper-V host into or out of maintenance mode in System Center Virtual Machine Manager
version_added: 0.1.0
description:
  - Starts or ends maintenance mode of one Hyper-V host managed by System Center Virtual Machine Manager (VMM)
    (C(Disable-SCVMHost) and C(Enable-SCVMHost)).
  - Starting maintenance mode drains the host. With O(move_within_cluster=true) VMM live-migrates the running
    highly available VMs to other nodes of the cluster that are not in maintenance mode and saves the other
    running VMs; without it, or on a stand-alone host, every running VM is saved.
  - The module waits until the job has ended and reports, for every VM that ran on the host, where it went
    (RV(vms[].action) C(migrated) with the new host) or that it was saved.
  - Nothing is done when the host already is in the requested state.
author:
  - vmops.datacenter maintainers (@vmops)
options:
  host:
    description:
      - The Hyper-V host, by fully qualified name or computer name.
    type: str
    required: true
    aliases: [name]
  state:
    description:
      - V(enabled) puts the host into maintenance mode (drains it), V(disabled) takes it out of maintenance mode.
    type: str
    choices: [enabled, disabled]
    default: enabled
  move_within_cluster:
    description:
      - With O(state=enabled), live-migrate the running highly available VMs to other nodes of the host's cluster
        instead of saving them. Ignored for O(state=disabled) and for a stand-alone host.
    type: bool
    default: true
  wait:
    description:
      - Wait for the VMM job to finish (the host drained) before returning.
      - With V(false) the module returns as soon as VMM has accepted the job; RV(vms) then lists the VMs that ran
        on the host before, without their outcome.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for the job when O(wait=true). On timeout the module fails, names the job and its
        progress, and the job keeps running in VMM.
    type: float
    default: 1800
  poll_interval:
    description:
      - Seconds between two polls of the job on the VMM server.
    type: float
    default: 2
extends_documentation_fragment:
  - vmops.datacenter.psrp
  - vmops.datacenter.attributes
  - vmops.datacenter.psrp.ACTIONGROUP_VMM
  - vmops.datacenter.attributes.PLATFORM_CONTROLLER
attributes:
  check_mode:
    support: full
    details: Looks the host and its running VMs up and returns the plan (RV(vms[].action) C(migrate) or C(save)),
      changes nothing.
  diff_mode:
    support: full
notes:
  - A failed job fails the task with its VMM error id and text (for example 801 when VMM cannot find the host).
  - In check mode the plan assumes that VMM finds a target node for every highly available VM.
seealso:
  - module: vmops.datacenter.vmm_host_info
  - name: Disable-SCVMHost
    description: The VMM cmdlet that starts maintenance mode.
    link: https://learn.microsoft.com/powershell/module/virtualmachinemanager/disable-scvmhost
  - name: Enable-SCVMHost
    description: The VMM cmdlet that ends maintenance mode.
    link: https://learn.microsoft.com/powershell/module/virtualmachinemanager/enable-scvmhost
"""

EXAMPLES = r"""
- name: Drain hv-prod-01 for patching (HA VMs move to the other nodes, the others are saved)
  vmops.datacenter.vmm_host_maintenance:
    server: vmm01.example.com
    username: EXAMPLE\svc-ansible
    password: "{{ vmm_password }}"
    host: hv-prod-01.example.com
    state: enabled
    wait_timeout: 3600
  delegate_to: localhost
  register: drained

- name: Show where the VMs went
  ansible.builtin.debug:
    msg: "{{ drained.vms | map(attribute='name') | zip(drained.vms | map(attribute='host_after')) }}"

- name: End maintenance mode
  vmops.datacenter.vmm_host_maintenance:
    server: vmm01.example.com
    username: EXAMPLE\svc-ansible
    password: "{{ vmm_password }}"
    host: hv-prod-01.example.com
    state: disabled
  delegate_to: localhost
"""

RETURN = r"""
host:
  description: The host as VMM reports it after the change (before it in check mode), as in
    M(vmops.datacenter.vmm_host_info).
  returned: always
  type: dict
  sample: {"name": "hv-prod-01.example.com", "in_maintenance": true, "running_vm_count": 0}
vms:
  description:
    - The VMs that were running on the host before maintenance mode started. Empty for O(state=disabled) and
      when nothing changed.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: VMM id of the VM.
      type: str
    name:
      description: VM name.
      type: str
    is_highly_available:
      description: Whether the VM is highly available.
      type: bool
    status_before:
      description: Status before (C(Running)).
      type: str
    status_after:
      description: Status after the drain; null when not awaited or in check mode.
      type: str
    host_before:
      description: The drained host.
      type: str
    host_after:
      description: Host of the VM after the drain; null when not awaited or in check mode.
      type: str
    action:
      description: C(migrated) or C(saved) (C(migrate) or C(save) in check mode, C(pending) with O(wait=false));
        C(other) if the VM neither moved nor was saved.
      type: str
migrated:
  description: Ids of the VMs that were live-migrated to another host.
  returned: always
  type: list
  elements: str
saved:
  description: Ids of the VMs that were saved.
  returned: always
  type: list
  elements: str
job:
  description: The VMM job, as in M(vmops.datacenter.vmm_job_info) (null with O(wait=false), in check mode and
    when nothing changed).
  returned: always
  type: dict
job_id:
  description: Id of the VMM job when one was started.
  returned: when changed and not in check mode
  type: str
"""

from ansible_collections.vmops.datacenter.plugins.module_utils._vmm import VmmJobError, VmmModule, raise_for_errors
from ansible_collections.vmops.datacenter.plugins.module_utils._vmm_ops import ERROR_NOT_FOUND


class HostMaintenanceModule(VmmModule):
    def __init__(self):
        spec = dict(
            host=dict(type="str", required=True, aliases=["name"]),
            state=dict(type="str", default="enabled", choices=["enabled", "disabled"]),
            move_within_cluster=dict(type="bool", default=True),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="float", default=1800),
            poll_interval=dict(type="float", default=2),
        )
        super().__init__(spec, supports_check_mode=True)
        self.result.update(host=None, vms=[], migrated=[], saved=[], job=None)

    def find_host(self, client):
        wanted = self.params["host"]
        hosts = client.list_hosts(names=[wanted])
        if not hosts:
            raise VmmJobError("host %s: VMM error %s: VMM cannot find the host object." % (wanted, ERROR_NOT_FOUND),
                              error_id=ERROR_NOT_FOUND, text="VMM cannot find the host object.", target=wanted)
        return hosts[0]

    def work(self, client):
        params = self.params
        enable = params["state"] == "enabled"
        vm_host = self.find_host(client)
        self.result["host"] = vm_host
        if bool(vm_host.get("in_maintenance")) == enable:
            return
        self.result["changed"] = True
        self.set_diff(vm_host, enable)
        move = enable and params["move_within_cluster"] and bool(vm_host.get("cluster"))
        entries = []
        if enable:
            running = client.find_vms(hosts=[vm_host["name"]], statuses=["Running"])
            for vm in running:
                plan = "migrate" if move and vm.get("is_highly_available") else "save"
                entries.append(dict(id=vm["id"], name=vm["name"], is_highly_available=vm.get("is_highly_available"),
                                    status_before=vm.get("status"), status_after=None, host_before=vm.get("host"),
                                    host_after=None, action=plan))
        self.result["vms"] = entries
        if self.module.check_mode:
            return
        items = client.host_maintenance([vm_host["name"]], enable, params["move_within_cluster"] and enable,
                                        wait=params["wait"], wait_timeout=params["wait_timeout"],
                                        poll_interval=params["poll_interval"])
        self.result["job_id"] = items[0].get("job_id") if items else None
        self.result["job"] = items[0].get("job") if items else None
        raise_for_errors(items, "host")
        if not params["wait"]:
            for entry in entries:
                entry["action"] = "pending"
            return
        if entries:
            after = dict((vm["id"], vm) for vm in client.find_vms(ids=[e["id"] for e in entries]))
            for entry in entries:
                vm = after.get(entry["id"]) or {}
                entry["status_after"] = vm.get("status")
                entry["host_after"] = vm.get("host")
                if entry["host_after"] and entry["host_after"] != entry["host_before"]:
                    entry["action"] = "migrated"
                elif entry["status_after"] == "Saved":
                    entry["action"] = "saved"
                else:
                    entry["action"] = "other"
            self.result["migrated"] = [e["id"] for e in entries if e["action"] == "migrated"]
            self.result["saved"] = [e["id"] for e in entries if e["action"] == "saved"]
        self.result["host"] = self.find_host(client)

    def set_diff(self, vm_host, enable):
        if self.module._diff:
            self.result["diff"] = dict(
                before=dict(host=vm_host.get("name"), in_maintenance=bool(vm_host.get("in_maintenance"))),
                after=dict(host=vm_host.get("name"), in_maintenance=enable))


def main():
    module = HostMaintenanceModule()
    module.run(module.work)


if __name__ == "__main__":
    main()
