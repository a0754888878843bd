#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vmm_vm_power
short_description: Start, stop, save or pause virtual machines managed by System Center Virtual Machine Manager
version_added: 0.1.0
description:
  - Brings one or many VMs that a System Center Virtual Machine Manager (VMM) server manages into a power state.
  - The power jobs of all VMs are started together in one PowerShell remoting (PSRP) pipeline and awaited together
    in one more, whatever the number of VMs.
  - A VM already in the desired state is left alone; a second run reports no change.
  - Every VM is looked up before anything is changed; an unknown VM, an ambiguous name or a state that cannot be
    reached from the VM's current state fails the task with nothing changed.
author:
  - vmops.datacenter maintainers (@vmops)
options:
  vms:
    description:
      - VMs to act on, by name or by VMM id (GUID). Names are compared case-insensitively, as VMM does.
      - A name that matches several VMs fails the task and lists their ids, unless O(allow_duplicates=true).
    type: list
    elements: str
    required: true
    aliases: [vm, name, names]
  allow_duplicates:
    description:
      - Act on every VM that carries a given name instead of failing when a name is not unique.
    type: bool
    default: false
  state:
    description:
      - Desired power state.
      - V(running) starts VMs that are off or saved and resumes paused ones.
      - V(stopped) turns running VMs off as O(stop_mode) says; a paused or saved VM can only be turned off with
        O(stop_mode=force).
      - V(saved) saves the state of running or paused VMs.
      - V(paused) pauses running VMs.
    type: str
    required: true
    choices: [running, stopped, saved, paused]
  stop_mode:
    description:
      - How O(state=stopped) turns a running VM off.
      - V(shutdown) asks the guest operating system to shut down (needs the integration services in the guest).
      - V(force) turns the VM off at once, like pulling the plug.
    type: str
    default: shutdown
    choices: [shutdown, force]
  force_after:
    description:
      - With O(stop_mode=shutdown), seconds to wait for the graceful shutdowns; the VMs still running after that
        are turned off by force. The result marks them with RV(vms[].forced).
      - Unset waits for the graceful shutdown up to O(wait_timeout) and fails if it does not finish.
      - Needs O(wait=true).
    type: float
  wait:
    description:
      - Wait for the VMM jobs to finish before returning.
      - With V(false) the module returns as soon as VMM has accepted the jobs; the result names them (see
        M(vmops.datacenter.vmm_vm_info) to follow the VMs up).
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for the jobs when O(wait=true). On timeout the module fails, names the job and its
        progress, and the job keeps running in VMM.
    type: float
    default: 600
  poll_interval:
    description:
      - Seconds between two polls of the jobs on the VMM server.
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
    details: Looks the VMs up and returns the plan (RV(vms[].action) and the expected RV(vms[].after)), changes nothing.
  diff_mode:
    support: full
notes:
  - A failed job fails the task with its VMM error id and text (for example 801 when VMM cannot find the VM,
    1730 when the action is not valid in the VM's state); the result still lists every VM and its job.
seealso:
  - module: vmops.datacenter.vmm_vm_info
  - name: Stop-SCVirtualMachine
    description: The VMM cmdlet that shuts down, turns off and saves VMs.
    link: https://learn.microsoft.com/powershell/module/virtualmachinemanager/stop-scvirtualmachine
"""

EXAMPLES = r"""
- name: Shut the web tier down, forcing the VMs that are still running after five minutes
  vmops.datacenter.vmm_vm_power:
    server: vmm01.example.com
    username: EXAMPLE\svc-ansible
    password: "{{ vmm_password }}"
    vms: [web01, web02, web03]
    state: stopped
    stop_mode: shutdown
    force_after: 300
  delegate_to: localhost
  register: stopped

- name: Start exactly the VMs that were running before, by id
  vmops.datacenter.vmm_vm_power:
    server: vmm01.example.com
    username: EXAMPLE\svc-ansible
    password: "{{ vmm_password }}"
    vms: "{{ stopped.vms | selectattr('before', 'equalto', 'Running') | map(attribute='id') | list }}"
    state: running
  delegate_to: localhost

- name: Save every VM called test01 (names are not unique) without waiting for the jobs
  vmops.datacenter.vmm_vm_power:
    server: vmm01.example.com
    vms: [test01]
    allow_duplicates: true
    state: saved
    wait: false
  delegate_to: localhost
"""

RETURN = r"""
vms:
  description: One entry per VM, in the order of O(vms).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: VMM id of the VM.
      type: str
      sample: 1e7508dc-6269-53f9-9ec1-fae3a64d43e2
    name:
      description: VM name in VMM.
      type: str
      sample: web01
    before:
      description: VM status before the task, as VMM names it (C(Running), C(PowerOff), C(Saved) or C(Paused)).
      type: str
      sample: Running
    after:
      description:
        - VM status after the task, read back from VMM; in check mode the status the plan leads to.
        - Null with O(wait=false), when the jobs may still be running.
      type: str
      sample: PowerOff
    action:
      description:
        - VMM power action taken (C(start), C(shutdown), C(stop), C(save), C(suspend) or C(resume)), or C(none) for
          a VM already in the desired state. After a forced fallback, C(stop).
      type: str
      sample: shutdown
    forced:
      description: Whether the VM was turned off by force after its graceful shutdown did not finish within
        O(force_after).
      type: bool
    job_id:
      description: Id of the VMM job of the last action, or null.
      type: str
    job_ids:
      description: Ids of every VMM job started for the VM (two after a forced fallback).
      type: list
      elements: str
    job_status:
      description: Status of the last job when awaited, for example C(Completed) or C(Failed).
      type: str
"""

from ansible_collections.vmops.datacenter.plugins.module_utils._vmm import (
    VmmJobError,
    VmmModule,
    raise_for_errors,
    resolve_vms,
)
from ansible_collections.vmops.datacenter.plugins.module_utils._vmm_ops import ERROR_INVALID_STATE

TARGET = dict(running="Running", stopped="PowerOff", saved="Saved", paused="Paused")


def plan_action(status, state, stop_mode):
    """The VMM power action that brings a VM from ``status`` to ``state``: 'none', an action, or None (impossible)."""
    if status == TARGET[state]:
        return "none"
    if state == "running":
        return "resume" if status == "Paused" else "start"
    if state == "stopped":
        if status == "Running":
            return "stop" if stop_mode == "force" else "shutdown"
        return "stop" if stop_mode == "force" else None
    if state == "saved":
        return "save" if status in ("Running", "Paused") else None
    return "suspend" if status == "Running" else None


class VmPowerModule(VmmModule):
    def __init__(self):
        spec = dict(
            vms=dict(type="list", elements="str", required=True, aliases=["vm", "name", "names"]),
            allow_duplicates=dict(type="bool", default=False),
            state=dict(type="str", required=True, choices=["running", "stopped", "saved", "paused"]),
            stop_mode=dict(type="str", default="shutdown", choices=["shutdown", "force"]),
            force_after=dict(type="float"),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="float", default=600),
            poll_interval=dict(type="float", default=2),
        )
        super().__init__(spec, supports_check_mode=True)
        params = self.params
        if params["force_after"] is not None:
            if params["force_after"] <= 0:
                self.module.fail_json(msg="force_after must be greater than zero, got %s." % params["force_after"])
            if params["stop_mode"] != "shutdown" or params["state"] != "stopped":
                self.module.fail_json(msg="force_after applies to state=stopped with stop_mode=shutdown only.")
            if not params["wait"]:
                self.module.fail_json(msg="force_after needs wait=true.")
        if not params["vms"]:
            self.module.fail_json(msg="vms must name at least one VM.")

    def work(self, client):
        params = self.params
        vms = resolve_vms(client, params["vms"], params["allow_duplicates"])
        entries = []
        impossible = []
        for vm in vms:
            action = plan_action(vm["status"], params["state"], params["stop_mode"])
            if action is None:
                impossible.append("%s (%s) is %s" % (vm["name"], vm["id"], vm["status"]))
            entries.append(dict(id=vm["id"], name=vm["name"], before=vm["status"], after=vm["status"],
                                action=action or "none", forced=False, job_id=None, job_ids=[], job_status=None))
        self.result["vms"] = entries
        if impossible:
            hint = " (a paused or saved VM can only be stopped with stop_mode=force)" if params["state"] == "stopped" \
                else ""
            raise VmmJobError("Cannot bring to state %s%s: %s. Nothing was changed." % (
                params["state"], hint, "; ".join(impossible)), error_id=ERROR_INVALID_STATE,
                text="The action is not valid in the VM's current state.", target=impossible[0])
        todo = [e for e in entries if e["action"] != "none"]
        for entry in todo:
            entry["after"] = TARGET[params["state"]]
        self.result["changed"] = bool(todo)
        self.set_diff(entries)
        if not todo or self.module.check_mode:
            return
        for entry in todo:
            entry["after"] = None
        by_action = {}
        for entry in todo:
            by_action.setdefault(entry["action"], []).append(entry)
        graceful = params["force_after"] is not None
        timeout = params["force_after"] if graceful else params["wait_timeout"]
        items = self.power(client, by_action, timeout)
        if graceful:
            late = [item for item in items if item["entry"]["action"] == "shutdown" and item.get("job")
                    and not item["job"].get("is_completed")]
            if late:
                for item in late:
                    item["entry"]["forced"] = True
                    item["entry"]["action"] = "stop"
                forced = self.power(client, dict(stop=[item["entry"] for item in late]), params["wait_timeout"])
                items = [item for item in items if item not in late] + forced
        if params["wait"]:
            now = dict((vm["id"], vm["status"]) for vm in client.find_vms(ids=[e["id"] for e in todo]))
            for entry in todo:
                entry["after"] = now.get(entry["id"])
            self.set_diff(entries)
        raise_for_errors(items, "vm")

    def power(self, client, by_action, timeout):
        """Start every action's jobs, then await all of them together in one pipeline."""
        params = self.params
        items = []
        for action, group in by_action.items():
            started = client.power([e["id"] for e in group], action, wait=False, wait_timeout=timeout,
                                   poll_interval=params["poll_interval"])
            for index, item in enumerate(started):
                entry = group[index]
                item["entry"] = entry
                item["vm"] = "%s (%s)" % (entry["name"], entry["id"])
                if item.get("job_id"):
                    entry["job_id"] = item["job_id"]
                    entry["job_ids"].append(item["job_id"])
                items.append(item)
        job_ids = [item["job_id"] for item in items if item.get("job_id")]
        if params["wait"] and job_ids:
            jobs = dict((job["id"], job) for job in client.wait_jobs(job_ids, timeout, params["poll_interval"]))
            for item in items:
                item["job"] = jobs.get(item.get("job_id"))
                if item["job"]:
                    item["entry"]["job_status"] = item["job"].get("status")
        return items

    def set_diff(self, entries):
        if self.module._diff:
            self.result["diff"] = dict(
                before=dict(vms=dict((e["id"], dict(name=e["name"], status=e["before"])) for e in entries)),
                after=dict(vms=dict((e["id"], dict(name=e["name"], status=e["after"])) for e in entries)))


def main():
    module = VmPowerModule()
    module.run(module.work)


if __name__ == "__main__":
    main()
