#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vmstore_clone
short_description: Clone a VM, or restore one of its snapshots to a directory, on a Tintri VMstore
version_added: 0.1.0
description:
  - Clones a VM stored on a Tintri VMstore, either as it is now or as it was in one of its snapshots, with
    the VMstore's space-efficient clone.
  - The destination is either a new VM registered with the hypervisor manager (O(clone_name)), or a directory
    of the VMstore export that receives the VM files without registering them anywhere (O(restore_directory)).
  - The destination is the idempotency marker. When a live VM named O(clone_name) exists, or the VMstore lists
    a VM in O(restore_directory), nothing is cloned and that VM is returned, whatever it was cloned from.
  - Works on a VMstore and through a Tintri Global Center (the clone is made on the VMstore that holds the
    source VM).
  - Clones are not removed by this module; the API has no call that deletes a VM.
author:
  - vmops.datacenter maintainers (@vmops)
options:
  vm:
    description:
      - Exact name of the source VM. The VM must be live and its name unique, else use O(vm_uuid).
      - One of O(vm) and O(vm_uuid) is required.
    type: str
    aliases: [vm_name]
  vm_uuid:
    description:
      - Tintri id of the source VM (C(uuid.uuid) in the API), for example from M(vmops.datacenter.vmstore_vm_info).
    type: str
  snapshot:
    description:
      - Exact name of a snapshot of the source VM to clone from. When several snapshots share the name the
        newest is used.
      - Without O(snapshot) and O(snapshot_uuid) the VM is cloned as it is now; the VMstore takes a cloning
        snapshot for that, with O(consistency).
    type: str
  snapshot_uuid:
    description:
      - Id of a snapshot of the source VM to clone from, for example from M(vmops.datacenter.vmstore_snapshot_info).
    type: str
  consistency:
    description:
      - Consistency of the snapshot the VMstore takes when the VM is cloned as it is now (no O(snapshot) or
        O(snapshot_uuid)). V(crash_consistent) when unset.
      - V(vm_consistent) asks the hypervisor to quiesce the guest first.
    type: str
    choices: [crash_consistent, vm_consistent]
  clone_name:
    description:
      - Name of the new VM, registered with the hypervisor manager of the source VM. Exactly one of
        O(clone_name) and O(restore_directory) is required.
      - Supported for Hyper-V and VMware source VMs.
    type: str
  hypervisor_manager:
    description:
      - Hypervisor manager to register the clone with (Hyper-V host or SCVMM server, or vCenter).
        Defaults to the one of the source VM.
      - Only with O(clone_name).
    type: str
  file_share:
    description:
      - SMB share that receives a Hyper-V clone. Defaults to the first storage container of the source VM.
      - Only with O(clone_name) and a Hyper-V source.
    type: str
  datastore:
    description:
      - Hypervisor datastore that receives a VMware clone. Defaults to the first storage container of the source VM.
      - Only with O(clone_name) and a VMware source.
    type: str
  restore_directory:
    description:
      - Directory of the VMstore export to restore the VM files into, relative to the export, for example
        V(restores/prod-sql01-2026-11-20). Needs O(snapshot) or O(snapshot_uuid).
      - The restored VM is not registered with a hypervisor manager.
      - Must be a relative path without C(.) or C(..) components, empty components, backslashes, control
        characters or components that start or end with a space; anything else is refused before a request is made.
    type: str
  retain_uuid:
    description:
      - Give the restored VM the Tintri id of the source VM. V(false) when unset.
      - Only with O(restore_directory).
    type: bool
extends_documentation_fragment:
  - vmops.datacenter.tintri
  - vmops.datacenter.tintri.wait
  - vmops.datacenter.attributes
  - vmops.datacenter.attributes.ACTIONGROUP_TINTRI
  - vmops.datacenter.attributes.PLATFORM_CONTROLLER
attributes:
  check_mode:
    support: full
    details: Looks up the source VM and snapshot and returns the clone specification that would be sent.
  diff_mode:
    support: full
notes:
  - A clone request is never repeated automatically. When it fails in a way that leaves open whether the
    VMstore started the clone (a dropped connection, an HTTP 5xx answer), the module fails and says so;
    running the task again once the clone has finished is safe, since the existing destination is then found.
  - The new VM is not powered on; the API has no option for that.
seealso:
  - module: vmops.datacenter.vmstore_snapshot_info
  - module: vmops.datacenter.vmstore_vm_info
"""

EXAMPLES = r"""
- name: Clone a Hyper-V VM from last night's snapshot, next to the source
  vmops.datacenter.vmstore_clone:
    hostname: vmstore1.example.com
    username: automation
    password: "{{ vmstore_password }}"
    vm: prod-sql01
    snapshot: nightly-2026-11-20
    clone_name: test-sql01
  delegate_to: localhost
  register: clone

- name: Clone a VMware VM as it is now, quiesced, into another datastore
  vmops.datacenter.vmstore_clone:
    hostname: vmstore1.example.com
    username: automation
    password: "{{ vmstore_password }}"
    vm: web01
    consistency: vm_consistent
    clone_name: web01-staging
    datastore: tintri-ds02
  delegate_to: localhost

- name: Restore a snapshot's files into a directory of the export, without waiting
  vmops.datacenter.vmstore_clone:
    hostname: vmstore1.example.com
    username: automation
    password: "{{ vmstore_password }}"
    vm_uuid: C218198C-9CE4-E5FD-00B3-EE96D2B3270F-VIM-0000000000000056
    snapshot_uuid: C218198C-9CE4-E5FD-00B3-EE96D2B3270F-SST-00000000000000A1
    restore_directory: restores/prod-sql01-2026-11-20
    wait: false
  delegate_to: localhost
  register: restore

- name: Show the task id to follow up on
  ansible.builtin.debug:
    msg: "Restore running as task {{ restore.task.uuid }}"
"""

RETURN = r"""
vm:
  description:
    - The clone, as found after the task finished, or the existing VM when nothing needed doing.
    - In check mode, with O(wait=false), or when the clone is not listed yet, the planned clone with
      RV(vm.uuid=null).
  returned: success
  type: dict
  contains:
    uuid:
      description: Tintri id of the clone; null when planned.
      type: str
    name:
      description: VM name; null for a planned restore.
      type: str
      sample: test-sql01
    hypervisor_type:
      description: Hypervisor type, for example C(HYPERV) or C(VMWARE).
      type: str
    hypervisor_manager:
      description: Hypervisor manager the clone is registered with.
      type: str
    storage_containers:
      description: Hypervisor datastores or SMB shares holding the clone.
      type: list
      elements: str
    subdir:
      description: Directory of the VM on the VMstore.
      type: str
    vmstore:
      description: VMstore that holds the VM.
      type: str
    is_live:
      description: Whether the VM is live.
      type: bool
    cloned_from_snapshots:
      description: Ids of the snapshots the VM was cloned from.
      type: list
      elements: str
source:
  description:
    - The source of the clone. When nothing needed doing, the source options as given (no lookup is made).
  returned: success
  type: dict
  contains:
    vm:
      description: Name of the source VM.
      type: str
    vm_uuid:
      description: Id of the source VM.
      type: str
    snapshot:
      description: Name of the source snapshot; null when the VM is cloned as it is now.
      type: str
    snapshot_uuid:
      description: Id of the source snapshot; null when the VM is cloned as it is now.
      type: str
task:
  description:
    - The clone task, after waiting (or as accepted with O(wait=false)). Null when nothing was sent.
    - Also returned when the task failed or the wait timed out.
  returned: always
  type: dict
  contains:
    uuid:
      description: Task id.
      type: str
    type:
      description: Task type, C(CLONE).
      type: str
    state:
      description: C(QUEUED), C(RUNNING), C(SUCCESS), C(FAILED) or C(CANCELLED).
      type: str
    progress_percent:
      description: Progress, 0 to 100.
      type: float
    description:
      description: Progress text from the server.
      type: str
    target_ids:
      description: Ids the task reports as its targets.
      type: list
      elements: str
    error_code:
      description: Tintri error code of a failed task.
      type: str
    error_message:
      description: Error message of a failed task.
      type: str
    vmstore:
      description: VMstore running the task, as reported by a Tintri Global Center.
      type: str
spec:
  description: The clone specification sent (or that would be sent in check mode), as the API takes it. Null when nothing was sent.
  returned: always
  type: dict
  sample:
    typeId: com.tintri.api.rest.v310.dto.domain.beans.vm.VirtualMachineCloneSpec
    vmId: C218198C-9CE4-E5FD-00B3-EE96D2B3270F-VIM-0000000000000056
    snapshotId: C218198C-9CE4-E5FD-00B3-EE96D2B3270F-SST-00000000000000A1
    count: 1
    hyperv:
      typeId: com.tintri.api.rest.v310.dto.domain.beans.vm.VirtualMachineCloneSpec$HyperVCloneInfo
      cloneVmName: test-sql01
      hyperVName: hv-mgr01
      fileShare: tintri-smb
"""

import unicodedata

from ansible_collections.vmops.datacenter.plugins.module_utils._tintri import (
    TintriApiError,
    TintriConnectionError,
    uuid_of,
)
from ansible_collections.vmops.datacenter.plugins.module_utils._tintri_lookup import (
    TintriLookupError,
    find_vms,
    get_vm,
    list_snapshots,
    snapshot_vm_uuid,
    task_summary,
    vm_name,
    vm_summary,
)
from ansible_collections.vmops.datacenter.plugins.module_utils._tintri_module import (
    TintriModule,
    vm_argument_spec,
    wait_argument_spec,
)

CLONE_SPEC = "com.tintri.api.rest.v310.dto.domain.beans.vm.VirtualMachineCloneSpec"
HYPERV_INFO = CLONE_SPEC + "$HyperVCloneInfo"
VMWARE_INFO = CLONE_SPEC + "$VMwareCloneInfo"
RESTORE_INFO = CLONE_SPEC + "$RestoreInfo"
SHOWN_SNAPSHOT_NAMES = 5


def has_control(text):
    return any(unicodedata.category(char) == "Cc" for char in text)


def directory_problem(path):
    """Why a restore directory is not a plain relative path inside the export (None when it is)."""
    if not path:
        return "it is empty"
    if has_control(path):
        return "it contains a control character (NUL, newline, tab, ...)"
    if "\\" in path:
        return "it contains a backslash; separate directories with /"
    if path.startswith("/"):
        return "it is absolute; give a path relative to the VMstore export"
    parts = path.split("/")
    if "" in parts:
        return "it has an empty component (a doubled or trailing /)"
    if ".." in parts:
        return "it has a .. component, which could leave the export"
    if "." in parts:
        return "it has a . component"
    if any(part != part.strip() for part in parts):
        return "a component starts or ends with a space, which file servers handle inconsistently"
    return None


def name_problem(name):
    if not name or not name.strip():
        return "it is empty"
    if has_control(name):
        return "it contains a control character (NUL, newline, tab, ...)"
    return None


class CloneModule(TintriModule):
    def __init__(self):
        vm_spec, vm_rules = vm_argument_spec()
        spec = dict(
            snapshot=dict(type="str"),
            snapshot_uuid=dict(type="str"),
            consistency=dict(type="str", choices=["crash_consistent", "vm_consistent"]),
            clone_name=dict(type="str"),
            hypervisor_manager=dict(type="str"),
            file_share=dict(type="str"),
            datastore=dict(type="str"),
            restore_directory=dict(type="str"),
            retain_uuid=dict(type="bool"),
        )
        spec.update(vm_spec)
        spec.update(wait_argument_spec())
        super().__init__(
            spec, supports_check_mode=True,
            mutually_exclusive=vm_rules["mutually_exclusive"] + [
                ("snapshot", "snapshot_uuid"), ("clone_name", "restore_directory"), ("file_share", "datastore"),
                ("consistency", "snapshot"), ("consistency", "snapshot_uuid")],
            required_one_of=vm_rules["required_one_of"] + [("clone_name", "restore_directory")],
            required_by=dict(hypervisor_manager="clone_name", file_share="clone_name", datastore="clone_name",
                             retain_uuid="restore_directory"),
        )
        self.validate()

    def validate(self):
        """Refuse bad input before any request."""
        params = self.params
        if params["restore_directory"] is not None:
            problem = directory_problem(params["restore_directory"])
            if problem:
                self.fail("restore_directory %r is refused: %s. It must be a relative path inside the VMstore export, "
                          "for example restores/prod-sql01." % (params["restore_directory"], problem))
            if not (params["snapshot"] or params["snapshot_uuid"]):
                self.fail("restore_directory restores a snapshot: give snapshot or snapshot_uuid as well.")
        if params["clone_name"] is not None:
            problem = name_problem(params["clone_name"])
            if problem:
                self.fail("clone_name %r is refused: %s." % (params["clone_name"], problem))
            if params["clone_name"] == params["vm"]:
                self.fail("clone_name %r is the name of the source VM; give the clone a name of its own."
                          % params["clone_name"])
        for option in ("snapshot", "hypervisor_manager", "file_share", "datastore"):
            if params[option] is not None:
                problem = name_problem(params[option])
                if problem:
                    self.fail("%s %r is refused: %s." % (option, params[option], problem))

    # -- the destination is the marker -------------------------------------------------------

    @property
    def destination_label(self):
        if self.params["clone_name"] is not None:
            return "VM %r" % self.params["clone_name"]
        return "directory %r" % self.params["restore_directory"]

    def find_destination(self, client):
        """The VM already at the destination, or None; one listing call."""
        params = self.params
        if params["clone_name"] is not None:
            found = find_vms(client, name=params["clone_name"])
            if params["vm_uuid"] and any(uuid_of(vm) == params["vm_uuid"] for vm in found):
                self.fail("clone_name %r is the name of the source VM; give the clone a name of its own."
                          % params["clone_name"])
            return found[0] if found else None
        wanted = params["restore_directory"]
        for vm in client.iter_items("/v310/vm", {"subdir": wanted}):
            subdir = ((vm.get("vmware") or {}).get("subdir") or "").strip("/")
            if subdir == wanted and not vm.get("isDeleted"):
                return vm
        return None

    def diff_view(self):
        if self.params["clone_name"] is not None:
            return dict(state="present", name=self.params["clone_name"])
        return dict(state="present", directory=self.params["restore_directory"])

    # -- source -------------------------------------------------------------------------------

    def find_snapshot(self, client, vm):
        params = self.params
        if not (params["snapshot"] or params["snapshot_uuid"]):
            return None
        source_uuid = uuid_of(vm)
        snapshots = [s for s in list_snapshots(client, vm_uuid=source_uuid)
                     if snapshot_vm_uuid(s) in (None, source_uuid)]
        if params["snapshot_uuid"]:
            for snapshot in snapshots:
                if uuid_of(snapshot) == params["snapshot_uuid"]:
                    return snapshot
            raise TintriLookupError("VM %r (%s) on %s has no snapshot with id %r." % (
                vm_name(vm), source_uuid, client.server_label, params["snapshot_uuid"]), server=client.hostname)
        for snapshot in snapshots:  # newest first
            if snapshot.get("description") == params["snapshot"]:
                return snapshot
        names = []
        for snapshot in snapshots:
            if snapshot.get("description") not in names:
                names.append(snapshot.get("description"))
        if names:
            shown = ", ".join(repr(n) for n in names[:SHOWN_SNAPSHOT_NAMES])
            more = " and %d more" % (len(names) - SHOWN_SNAPSHOT_NAMES) if len(names) > SHOWN_SNAPSHOT_NAMES else ""
            known = "Its snapshots, newest first: %s%s." % (shown, more)
        else:
            known = "It has no snapshots."
        raise TintriLookupError("VM %r (%s) on %s has no snapshot named %r. %s" % (
            vm_name(vm), source_uuid, client.server_label, params["snapshot"], known), server=client.hostname)

    # -- plan ---------------------------------------------------------------------------------

    def build(self, vm, snapshot):
        """The clone spec to send, and the VM it should produce."""
        params = self.params
        vmware = vm.get("vmware") or {}
        containers = vmware.get("storageContainers") or []
        spec = dict(typeId=CLONE_SPEC, vmId=uuid_of(vm), count=1)
        if snapshot is not None:
            spec["snapshotId"] = uuid_of(snapshot)
        else:
            spec["consistency"] = (params["consistency"] or "crash_consistent").upper()
        planned = vm_summary({})
        planned.update(hypervisor_type=vmware.get("hypervisorType"), vmstore=vm.get("vmstoreName"),
                       cloned_from_snapshots=[uuid_of(snapshot)] if snapshot is not None else [])
        if params["restore_directory"] is not None:
            spec["restoreInfo"] = dict(typeId=RESTORE_INFO, directoryName=params["restore_directory"],
                                       retainTintriUuid=bool(params["retain_uuid"]))
            planned["subdir"] = params["restore_directory"]
            return spec, planned
        kind = (vmware.get("hypervisorType") or "").upper()
        manager = params["hypervisor_manager"] or vmware.get("vcenterName")
        if kind == "HYPERV":
            if params["datastore"]:
                self.fail("datastore applies to VMware VMs; %r is a Hyper-V VM: use file_share." % vm_name(vm))
            target, option = params["file_share"] or (containers[0] if containers else None), "file_share"
            block = dict(typeId=HYPERV_INFO, cloneVmName=params["clone_name"], hyperVName=manager, fileShare=target)
            spec["hyperv"] = block
        elif kind == "VMWARE":
            if params["file_share"]:
                self.fail("file_share applies to Hyper-V VMs; %r is a VMware VM: use datastore." % vm_name(vm))
            target, option = params["datastore"] or (containers[0] if containers else None), "datastore"
            block = dict(typeId=VMWARE_INFO, cloneVmName=params["clone_name"], vCenterName=manager,
                         datastoreName=target)
            spec["vmware"] = block
        else:
            self.fail("VM %r is a %s VM; clone_name supports Hyper-V and VMware VMs. Use restore_directory to "
                      "restore a snapshot of it into a directory instead." % (vm_name(vm), kind or "UNKNOWN"))
        if not manager:
            self.fail("VM %r reports no hypervisor manager; give hypervisor_manager." % vm_name(vm))
        if not target:
            self.fail("VM %r reports no storage container; give %s." % (vm_name(vm), option))
        planned.update(name=params["clone_name"], hypervisor_manager=manager, storage_containers=[target])
        return spec, planned

    # -- change -------------------------------------------------------------------------------

    def send(self, client, spec):
        """POST the spec once; an answer that leaves open whether the clone started is not retried."""
        try:
            return client.post("/v310/vm", spec)
        except TintriApiError as exc:
            if exc.status is None or exc.status < 500:
                raise
            failure = exc
        except TintriConnectionError as exc:
            failure = exc
        text = str(failure).rstrip()
        text += "" if text.endswith(".") else "."
        if "not repeated" not in text:
            text += " The request was not repeated."
        text += (" The VMstore may have started the clone to %s anyway; check its tasks. Running this task again is "
                 "safe once that clone has finished: it then finds the %s and changes nothing." % (
                     self.destination_label, "VM" if self.params["clone_name"] is not None else "directory"))
        failure.args = (text,)
        raise failure

    def work(self, client):
        params = self.params
        self.result.update(task=None, spec=None)
        existing = self.find_destination(client)
        if existing is not None:
            self.result.update(vm=vm_summary(existing, client), source=dict(
                vm=params["vm"], vm_uuid=params["vm_uuid"], snapshot=params["snapshot"],
                snapshot_uuid=params["snapshot_uuid"]))
            self.set_diff(self.diff_view(), self.diff_view())
            return
        vm = get_vm(client, name=params["vm"], uuid=params["vm_uuid"])
        snapshot = self.find_snapshot(client, vm)
        spec, planned = self.build(vm, snapshot)
        if planned["vmstore"] is None:
            planned["vmstore"] = client.hostname
        self.result.update(changed=True, spec=spec, source=dict(
            vm=vm_name(vm), vm_uuid=uuid_of(vm), snapshot=snapshot.get("description") if snapshot else None,
            snapshot_uuid=uuid_of(snapshot) if snapshot else None))
        after = self.diff_view()
        after.update(source_vm=vm_name(vm), source_snapshot=self.result["source"]["snapshot_uuid"])
        self.set_diff(dict(state="absent"), after)
        if self.check_mode:
            self.result["vm"] = planned
            return
        task = self.send(client, spec)
        task = task if isinstance(task, dict) else {}
        self.result["task"] = task_summary(task)
        if not params["wait"] or not uuid_of(task):
            self.result["vm"] = planned
            if params["wait"]:
                self.module.warn("The VMstore accepted the clone without a task id to wait on; the clone may still "
                                 "be in progress.")
            return
        self.result["vm"] = planned
        task = client.wait_for_task(task, params["wait_timeout"], params["poll_interval"],
                                    what="clone of %s to %s" % (vm_name(vm), self.destination_label))
        self.result["task"] = task_summary(task)
        clone = self.find_destination(client)
        if clone is None:
            self.module.warn("The clone task %s succeeded but %s is not listed yet; it may take a moment to appear."
                             % (uuid_of(task), self.destination_label))
        else:
            self.result["vm"] = vm_summary(clone, client)


def main():
    module = CloneModule()
    module.run(module.work)


if __name__ == "__main__":
    main()
