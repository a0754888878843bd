#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vmm_checkpoint
short_description: Create, remove or restore checkpoints of VMs managed by System Center Virtual Machine Manager
version_added: 0.1.0
description:
  - Creates, removes or restores a named checkpoint on one or many VMs that a System Center Virtual Machine Manager
    (VMM) server manages.
  - The checkpoints of all VMs are listed in one PowerShell remoting (PSRP) pipeline, their jobs are started together
    in one more and awaited together in a third, whatever the number of VMs.
  - Checkpoint names are not unique in VMM; the module reports duplicates explicitly and never picks one silently.
  - Every VM and checkpoint is looked up before anything is changed; an unknown VM, an ambiguous name or a missing
    checkpoint to restore fails the task with nothing changed.
author:
  - vmops.datacenter maintainers (@vmops)
options:
  vms:
    description:
      - VMs to act on, by name or by VMM id (GUID). Names are compared case-insensitively, as VMM does.
      - A VM name that matches several VMs fails the task and lists their ids, unless O(allow_duplicates=true).
    type: list
    elements: str
    required: true
    aliases: [vm]
  name:
    description:
      - Checkpoint name. Required with O(state=present); with O(state=absent) or O(state=restored), O(name) or
        O(checkpoint_id) is required.
    type: str
  checkpoint_id:
    description:
      - VMM id of the checkpoint to remove or restore, instead of O(name). It must belong to one of O(vms).
    type: str
  description:
    description:
      - Description of a checkpoint created with O(state=present).
    type: str
  state:
    description:
      - V(present) creates a checkpoint called O(name) on every VM that has none by that name; a VM that already
        has one is left alone (several are reported in RV(vms[].duplicates)).
      - V(absent) removes the checkpoints called O(name) (or the one with O(checkpoint_id)); several with that name
        on one VM fail the task unless O(allow_duplicates=true), which removes them all.
      - V(restored) restores each VM to its checkpoint called O(name) (or O(checkpoint_id)). A VM whose last
        restored checkpoint is that one already is left alone, unless O(force=true). Several checkpoints with that
        name on one VM fail the task unless O(allow_duplicates=true), which restores the newest.
    type: str
    default: present
    choices: [present, absent, restored]
  allow_duplicates:
    description:
      - Accept names that several VMs, or several checkpoints of one VM, carry (see O(vms) and O(state)).
    type: bool
    default: false
  force:
    description:
      - With O(state=restored), restore again even when the VM was last restored to that checkpoint. Restoring
        discards every change made in the VM since the checkpoint.
    type: bool
    default: false
  wait:
    description:
      - Wait for the VMM jobs to finish before returning.
      - With V(false) the module returns as soon as VMM has accepted the jobs; the result names them.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for the jobs when O(wait=true). On timeout the module fails, names the job and its
        progress, and the job keeps running in VMM.
    type: float
    default: 1800
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
    details: Lists the VMs and their checkpoints and returns the plan (RV(vms[].action)), changes nothing.
  diff_mode:
    support: full
notes:
  - The restore marker is the VM's C(LastRestoredCheckpointID) in VMM (RV(vms[].last_restored_checkpoint_id)).
    VMM does not reset it when the VM changes after a restore; use O(force=true) to roll back again.
  - Restoring a checkpoint taken while the VM was running leaves the VM saved; start it with
    M(vmops.datacenter.vmm_vm_power).
  - A failed job fails the task with its VMM error id and text (for example 801 when VMM cannot find the VM or
    checkpoint, 1730 when the action is not valid in the VM's state).
seealso:
  - module: vmops.datacenter.vmm_vm_power
  - name: New-SCVMCheckpoint
    description: The VMM cmdlet that creates checkpoints.
    link: https://learn.microsoft.com/powershell/module/virtualmachinemanager/new-scvmcheckpoint
"""

EXAMPLES = r"""
- name: A checkpoint before patching, on every VM of the batch
  vmops.datacenter.vmm_checkpoint:
    server: vmm01.example.com
    username: EXAMPLE\svc-ansible
    password: "{{ vmm_password }}"
    vms: "{{ batch.vms | map(attribute='id') | list }}"
    name: pre-patch-2024-06
    description: before the June updates
  delegate_to: localhost
  register: checkpoints

- name: Roll web01 back to it (once; a second run does nothing)
  vmops.datacenter.vmm_checkpoint:
    server: vmm01.example.com
    vms: [web01]
    name: pre-patch-2024-06
    state: restored
  delegate_to: localhost

- name: Remove it everywhere, even where it was taken twice
  vmops.datacenter.vmm_checkpoint:
    server: vmm01.example.com
    vms: "{{ batch.vms | map(attribute='id') | list }}"
    name: pre-patch-2024-06
    state: absent
    allow_duplicates: true
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
    action:
      description: What the module did (or plans in check mode) on the VM, C(create), C(remove), C(restore) or
        C(none).
      type: str
      sample: create
    checkpoint_ids:
      description:
        - Ids of the checkpoints acted on (removed or restored), or of the checkpoints called O(name) that made
          the action unnecessary.
        - With O(state=present), the id of the new checkpoint once its job has finished.
      type: list
      elements: str
    duplicates:
      description: Ids of the checkpoints of this VM that share the name O(name), when there are several.
      type: list
      elements: str
    checkpoints_before:
      description: The VM's checkpoints before the task, oldest first, as C(id) and C(name).
      type: list
      elements: dict
    checkpoints_after:
      description:
        - The VM's checkpoints after the task, read back from VMM; in check mode, the expected list (a new
          checkpoint has the id C(null)).
        - Null with O(wait=false).
      type: list
      elements: dict
    last_restored_checkpoint_id:
      description: Id of the checkpoint the VM was last restored to (the restore marker), after the task.
      type: str
    job_ids:
      description: Ids of the VMM jobs started for the VM.
      type: list
      elements: str
"""

from ansible_collections.vmops.datacenter.plugins.module_utils._vmm import (
    VmmJobError,
    VmmModule,
    raise_for_errors,
    resolve_vms,
)
from ansible_collections.vmops.datacenter.plugins.module_utils._vmm_ops import ERROR_NOT_FOUND


def brief(checkpoints):
    return [dict(id=cp["id"], name=cp["name"]) for cp in checkpoints]


class CheckpointModule(VmmModule):
    def __init__(self):
        spec = dict(
            vms=dict(type="list", elements="str", required=True, aliases=["vm"]),
            name=dict(type="str"),
            checkpoint_id=dict(type="str"),
            description=dict(type="str"),
            state=dict(type="str", default="present", choices=["present", "absent", "restored"]),
            allow_duplicates=dict(type="bool", default=False),
            force=dict(type="bool", default=False),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="float", default=1800),
            poll_interval=dict(type="float", default=2),
        )
        super().__init__(spec, supports_check_mode=True, mutually_exclusive=[("name", "checkpoint_id")],
                         required_if=[("state", "present", ["name"]),
                                      ("state", "absent", ["name", "checkpoint_id"], True),
                                      ("state", "restored", ["name", "checkpoint_id"], True)])
        if not self.params["vms"]:
            self.module.fail_json(msg="vms must name at least one VM.")
        if self.params["checkpoint_id"]:
            self.params["checkpoint_id"] = self.params["checkpoint_id"].strip("{}").lower()

    def work(self, client):
        params = self.params
        vms = resolve_vms(client, params["vms"], params["allow_duplicates"])
        listing = client.list_checkpoints([vm["id"] for vm in vms])
        raise_for_errors(listing, "vm_id")
        by_vm = dict((item["vm_id"].lower(), item["checkpoints"] or []) for item in listing)
        entries = []
        for vm in vms:
            checkpoints = by_vm.get(vm["id"].lower(), [])
            entries.append(dict(id=vm["id"], name=vm["name"], action="none", checkpoint_ids=[], duplicates=[],
                                checkpoints_before=brief(checkpoints), checkpoints_after=brief(checkpoints),
                                last_restored_checkpoint_id=vm.get("last_restored_checkpoint_id"), job_ids=[],
                                _all=checkpoints))
        getattr(self, "plan_" + params["state"])(entries)
        todo = [e for e in entries if e["action"] != "none"]
        self.result["changed"] = bool(todo)
        self.result["vms"] = entries
        self.finish(entries)
        if not todo or self.module.check_mode:
            return
        wait = dict(wait=params["wait"], wait_timeout=params["wait_timeout"], poll_interval=params["poll_interval"])
        if params["state"] == "present":
            items = client.create_checkpoints([e["id"] for e in todo], params["name"], params["description"], **wait)
            for entry, item in self.pair(todo, items, "vm_id", lambda e: [e["id"]]):
                self.job(entry, item)
        else:
            ids = [cp_id for e in todo for cp_id in e["checkpoint_ids"]]
            call = client.remove_checkpoints if params["state"] == "absent" else client.restore_checkpoints
            items = call(ids, **wait)
            for entry, item in self.pair(todo, items, "checkpoint_id", lambda e: e["checkpoint_ids"]):
                self.job(entry, item)
        for item in items:
            vm_name = item.get("entry", {}).get("name", item.get("vm_id"))
            item["target"] = "%s (checkpoint %s)" % (vm_name, item.get("checkpoint_id") or params["name"])
        if params["wait"]:
            self.read_back(client, entries)
        else:
            for entry in todo:
                entry["checkpoints_after"] = None
        self.finish(entries)
        raise_for_errors(items, "target")

    @staticmethod
    def pair(todo, items, key, keys_of):
        by_key = dict((str(item.get(key)).lower(), item) for item in items)
        for entry in todo:
            for value in keys_of(entry):
                item = by_key.get(value.lower())
                if item is not None:
                    item["entry"] = entry
                    yield entry, item

    @staticmethod
    def job(entry, item):
        if item.get("job_id"):
            entry["job_ids"].append(item["job_id"])

    def matches(self, entry):
        params = self.params
        if params["checkpoint_id"]:
            return [cp for cp in entry["_all"] if cp["id"].lower() == params["checkpoint_id"]]
        return [cp for cp in entry["_all"] if cp["name"] == params["name"]]

    def plan_present(self, entries):
        for entry in entries:
            found = self.matches(entry)
            entry["checkpoint_ids"] = [cp["id"] for cp in found]
            if len(found) > 1:
                entry["duplicates"] = [cp["id"] for cp in found]
                self.module.warn("VM %s (%s) has %d checkpoints called %s: %s." % (
                    entry["name"], entry["id"], len(found), self.params["name"], ", ".join(entry["duplicates"])))
            if not found:
                entry["action"] = "create"
                entry["checkpoints_after"] = entry["checkpoints_before"] + [dict(id=None, name=self.params["name"])]

    def plan_absent(self, entries):
        ambiguous = []
        for entry in entries:
            found = self.matches(entry)
            if len(found) > 1:
                entry["duplicates"] = [cp["id"] for cp in found]
                if not self.params["allow_duplicates"]:
                    ambiguous.append("%s (%s): %s" % (entry["name"], entry["id"], ", ".join(entry["duplicates"])))
            if found:
                gone = set(cp["id"] for cp in found)
                entry["action"] = "remove"
                entry["checkpoint_ids"] = [cp["id"] for cp in found]
                entry["checkpoints_after"] = [cp for cp in entry["checkpoints_before"] if cp["id"] not in gone]
        self.refuse_duplicates(ambiguous)

    def plan_restored(self, entries):
        ambiguous, missing = [], []
        for entry in entries:
            found = self.matches(entry)
            if len(found) > 1:
                entry["duplicates"] = [cp["id"] for cp in found]
                if not self.params["allow_duplicates"]:
                    ambiguous.append("%s (%s): %s" % (entry["name"], entry["id"], ", ".join(entry["duplicates"])))
            if not found:
                if not self.params["checkpoint_id"]:
                    missing.append("%s (%s)" % (entry["name"], entry["id"]))
                continue
            target = found[-1]["id"]  # the listing is oldest first
            entry["checkpoint_ids"] = [target]
            marker = (entry["last_restored_checkpoint_id"] or "").lower()
            if marker != target.lower() or self.params["force"]:
                entry["action"] = "restore"
                entry["last_restored_checkpoint_id"] = target
        if self.params["checkpoint_id"] and not any(e["checkpoint_ids"] for e in entries):
            missing.append("any of the VMs (checkpoint %s)" % self.params["checkpoint_id"])
        if missing:
            what = self.params["name"] or self.params["checkpoint_id"]
            raise VmmJobError("VMM error %s: no checkpoint %s on %s; nothing was changed." % (
                ERROR_NOT_FOUND, what, ", ".join(missing)), error_id=ERROR_NOT_FOUND,
                text="VMM cannot find the checkpoint object.", target=missing[0])
        self.refuse_duplicates(ambiguous)

    def refuse_duplicates(self, ambiguous):
        if ambiguous:
            raise VmmJobError("Several checkpoints are called %s on %s; give checkpoint_id or set "
                              "allow_duplicates=true. Nothing was changed." % (self.params["name"], "; ".join(ambiguous)),
                              target=ambiguous[0])

    def read_back(self, client, entries):
        ids = [e["id"] for e in entries]
        after = dict((item["vm_id"].lower(), item["checkpoints"] or []) for item in client.list_checkpoints(ids))
        markers = dict((vm["id"].lower(), vm.get("last_restored_checkpoint_id")) for vm in client.find_vms(ids=ids))
        for entry in entries:
            checkpoints = after.get(entry["id"].lower(), [])
            entry["checkpoints_after"] = brief(checkpoints)
            entry["last_restored_checkpoint_id"] = markers.get(entry["id"].lower())
            if entry["action"] == "create":
                before = set(cp["id"] for cp in entry["checkpoints_before"])
                entry["checkpoint_ids"] = [cp["id"] for cp in checkpoints
                                           if cp["id"] not in before and cp["name"] == self.params["name"]]

    def finish(self, entries):
        self.result["vms"] = [dict((k, v) for k, v in e.items() if not k.startswith("_")) for e in entries]
        if self.module._diff:
            self.result["diff"] = dict(
                before=dict(vms=dict((e["id"], e["checkpoints_before"]) for e in entries)),
                after=dict(vms=dict((e["id"], e["checkpoints_after"]) for e in entries)))


def main():
    module = CheckpointModule()
    module.run(module.work)


if __name__ == "__main__":
    main()
