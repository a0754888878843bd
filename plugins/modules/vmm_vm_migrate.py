#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vmm_vm_migrate
short_description: Live-migrate virtual machines to a Hyper-V host with System Center Virtual Machine Manager
version_added: 0.1.0
description:
  - Moves one or many highly available VMs that System Center Virtual Machine Manager (VMM) manages to one Hyper-V
    host of their cluster, by live migration (C(Move-SCVirtualMachine -VM -VMHost)). The VMs' files stay on the
    cluster's shared storage; nothing is copied.
  - Every VM and the host are looked up and the whole move is checked before anything is changed. An unknown VM or
    host, an ambiguous name, a host in maintenance mode, a VM that is not highly available or lives in another
    cluster, and a host without the memory for all the running VMs fail the task with nothing changed.
  - A VM already on the host is left alone; a second run reports no change.
  - At most O(max_parallel) migrations run at the same time. Each group of jobs is started in one PowerShell
    remoting (PSRP) pipeline and awaited in one more; the next group starts when the previous one has ended. When
    a migration fails, the VMs not yet started stay where they are.
author:
  - vmops.datacenter maintainers (@vmops)
options:
  vms:
    description:
      - VMs to move, by name or by VMM id (GUID). Names are compared case-insensitively, as VMM does.
      - A name that matches several VMs fails the task and lists their ids, unless O(allow_duplicates=true).
    type: list
    elements: str
    required: true
    aliases: [vm, name, names]
  allow_duplicates:
    description:
      - Move every VM that carries a given name instead of failing when a name is not unique.
    type: bool
    default: false
  host:
    description:
      - The destination Hyper-V host, by fully qualified name or computer name. It must be a node of the VMs' cluster
        and not in maintenance mode.
    type: str
    required: true
    aliases: [destination]
  max_parallel:
    description:
      - How many live migrations run at the same time.
      - Hyper-V runs two simultaneous live migrations per host unless configured otherwise; VMM queues more, and
        queued migrations can time out and fail. Raise it only when the hosts allow more.
    type: int
    default: 2
  wait:
    description:
      - Wait for the migrations to finish before returning.
      - With V(false) the jobs of at most O(max_parallel) VMs are started and the module returns at once; more VMs to
        move fail the task before anything is started.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for all migrations when O(wait=true). On timeout the module fails, names the jobs still
        running (they keep running in VMM) and starts no further migration.
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
    details: Looks the VMs and the host up, checks the move and returns the plan (RV(plan)); changes nothing.
  diff_mode:
    support: full
    details: The host of every VM before and after.
notes:
  - The checks before the move use what VMM reports at that moment (the host's available memory, its maintenance
    state); VMM checks again when each job runs, and a job it refuses fails the task with its VMM error id and text.
  - Only live migration within a cluster is supported; moving a VM that is not highly available needs a storage
    destination, which this module does not send.
seealso:
  - module: vmops.datacenter.vmm_host_maintenance
  - module: vmops.datacenter.vmm_vm_info
  - name: Move-SCVirtualMachine
    description: The VMM cmdlet that migrates a virtual machine.
    link: https://learn.microsoft.com/powershell/module/virtualmachinemanager/move-scvirtualmachine
"""

EXAMPLES = r"""
- name: Move two VMs back to hv-prod-02 after its patching
  vmops.datacenter.vmm_vm_migrate:
    server: vmm01.example.com
    username: EXAMPLE\svc-ansible
    password: "{{ vmm_password }}"
    vms: [prod-web02, prod-sql01]
    host: hv-prod-02.example.com
  delegate_to: localhost
  register: moved

- name: Show what moved where
  ansible.builtin.debug:
    msg: "{{ moved.migrated | map(attribute='name') | zip(moved.migrated | map(attribute='from')) }}"

- name: What would move (check mode), by VMM id, one migration at a time
  vmops.datacenter.vmm_vm_migrate:
    vms: ["5f0c9c52-7f1e-4b8c-9a55-0d2b1c3e4f60"]
    host: hv-prod-01
    max_parallel: 1
  check_mode: true
  delegate_to: localhost
  register: plan
"""

RETURN = r"""
host:
  description: The destination host as VMM reported it before the move, as in M(vmops.datacenter.vmm_host_info).
  returned: always
  type: dict
  sample: {"name": "hv-prod-02.example.com", "cluster": "hvc-prod.example.com", "in_maintenance": false}
plan:
  description: The VMs that are not on the destination host yet, in the order they are moved (also in check mode).
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
    from:
      description: The host the VM is on.
      type: str
    to:
      description: The destination host.
      type: str
    status:
      description: The VM's status (a running VM needs memory on the destination).
      type: str
migrated:
  description: The VMs that were moved (their jobs started, with O(wait=false)). Empty in check mode. When a migration
    fails, the ones that succeeded before it.
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
    from:
      description: The host the VM left.
      type: str
    to:
      description: The host the VM is on now.
      type: str
    job_id:
      description: Id of the VMM job that moved it.
      type: str
    job_status:
      description: Status of the job (C(Completed), or C(Running) with O(wait=false)).
      type: str
    seconds:
      description: How long the job ran, from VMM's start and end times; null with O(wait=false).
      type: float
  sample: [{"id": "5f0c9c52-7f1e-4b8c-9a55-0d2b1c3e4f60", "name": "prod-web02", "from": "hv-prod-01.example.com",
            "to": "hv-prod-02.example.com", "job_id": "0b0d6f0e-3f51-4a43-8a3e-6f1f0c2d9e11", "job_status": "Completed",
            "seconds": 14.2}]
unchanged:
  description: The VMs that were on the destination host already.
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
    host:
      description: The host the VM is on (the destination).
      type: str
not_started:
  description: Ids of planned VMs whose migration was never started because an earlier one failed or the time ran out.
  returned: when a migration failed
  type: list
  elements: str
"""

import math
import re
from datetime import datetime, timezone

from ansible_collections.vmops.datacenter.plugins.module_utils._common import Deadline
from ansible_collections.vmops.datacenter.plugins.module_utils._vmm import (
    VmmJobError,
    VmmModule,
    outcome_error,
    raise_for_errors,
    resolve_vms,
)
from ansible_collections.vmops.datacenter.plugins.module_utils._vmm_ops import (
    ERROR_INVALID_STATE,
    ERROR_NOT_FOUND,
    HOST_NOT_FOUND,
)

# DateTime.ToString('o'): 2026-01-02T03:04:05.1234560Z (seven fraction digits; strptime takes six).
_ISO = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?")
MEMORY_STATUSES = ("Running", "Paused")


def job_seconds(job):
    """Seconds between a job's start and end time, or None when VMM did not report both."""
    times = []
    for key in ("start_time", "end_time"):
        match = _ISO.match((job or {}).get(key) or "")
        if not match:
            return None
        fraction = float("0." + match.group(2)) if match.group(2) else 0.0
        times.append(datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp() + fraction)
    return round(times[1] - times[0], 1)


def refuse(reason, target):
    raise VmmJobError("Cannot move to %s: %s. Nothing was changed." % (target, reason), error_id=ERROR_INVALID_STATE,
                      text=reason, target=target)


class VmMigrateModule(VmmModule):
    def __init__(self):
        spec = dict(
            vms=dict(type="list", elements="str", required=True, aliases=["vm", "name", "names"]),
            allow_duplicates=dict(type="bool", default=False),
            host=dict(type="str", required=True, aliases=["destination"]),
            max_parallel=dict(type="int", default=2),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="float", default=1800),
            poll_interval=dict(type="float", default=2),
        )
        super().__init__(spec, supports_check_mode=True)
        if not self.params["vms"]:
            self.module.fail_json(msg="vms must name at least one VM.")
        if self.params["max_parallel"] < 1:
            self.module.fail_json(msg="max_parallel must be at least 1, got %s." % self.params["max_parallel"])
        self.result.update(host=None, plan=[], migrated=[], unchanged=[])

    def find_host(self, client):
        wanted = self.params["host"]
        hosts = client.list_hosts(names=[wanted])
        if not hosts:
            raise VmmJobError("host %s: VMM error %s: %s Nothing was changed." % (wanted, ERROR_NOT_FOUND, HOST_NOT_FOUND),
                              error_id=ERROR_NOT_FOUND, text=HOST_NOT_FOUND, target=wanted)
        return hosts[0]

    def work(self, client):
        params = self.params
        target = self.find_host(client)
        self.result["host"] = target
        vms = resolve_vms(client, params["vms"], params["allow_duplicates"])
        plan = []
        for vm in vms:
            if (vm.get("host") or "").lower() == target["name"].lower():
                self.result["unchanged"].append(dict(id=vm["id"], name=vm["name"], host=vm["host"]))
            else:
                plan.append(dict(id=vm["id"], name=vm["name"], status=vm.get("status"), memory_mb=vm.get("memory_mb"),
                                 is_highly_available=vm.get("is_highly_available"), cluster=vm.get("cluster"),
                                 **{"from": vm.get("host"), "to": target["name"]}))
        self.check(plan, target)
        self.result["plan"] = [dict((k, e[k]) for k in ("id", "name", "from", "to", "status")) for e in plan]
        self.result["changed"] = bool(plan)
        self.set_diff(vms, plan)
        if not plan or self.module.check_mode:
            return
        if not params["wait"] and len(plan) > params["max_parallel"]:
            raise VmmJobError("With wait=false at most max_parallel (%d) VMs can be moved, %d would move. Nothing was "
                              "changed." % (params["max_parallel"], len(plan)))
        self.move(client, plan, target)

    def check(self, plan, target):
        """Refuse what VMM would refuse, before the first VM moves."""
        if target.get("in_maintenance"):
            refuse("the host is in maintenance mode", target["name"])
        not_ha = ["%s (%s)" % (e["name"], e["id"]) for e in plan if not e["is_highly_available"]]
        if not_ha:
            refuse("not highly available, so no live migration within a cluster: %s" % ", ".join(not_ha), target["name"])
        elsewhere = ["%s (cluster %s)" % (e["name"], e["cluster"]) for e in plan if e["cluster"] != target.get("cluster")]
        if elsewhere:
            reason = "the host is a node of cluster %s, these VMs are not: %s" % (target.get("cluster"), ", ".join(elsewhere))
            refuse(reason, target["name"])
        needed = sum(e["memory_mb"] or 0 for e in plan if e["status"] in MEMORY_STATUSES)
        free = target.get("available_memory_mb")
        if free is not None and needed > free:
            refuse("the running VMs need %d MB of memory, the host has %d MB available" % (needed, free), target["name"])

    def move(self, client, plan, target):
        params = self.params
        deadline = Deadline(params["wait_timeout"])
        size = params["max_parallel"]
        for start in range(0, len(plan), size):
            group = plan[start:start + size]
            # Whole seconds, so a run's own overhead does not show in the timeout VMM is given.
            left = float(math.ceil(deadline.remaining))
            if params["wait"] and left <= 0:
                self.result["not_started"] = [e["id"] for e in plan[start:]]
                raise VmmJobError("wait_timeout (%s s) passed after %d of %d migrations; the others were not started."
                                  % (params["wait_timeout"], start, len(plan)))
            items = client.migrate([e["id"] for e in group], target["name"], wait=params["wait"], wait_timeout=left,
                                   poll_interval=params["poll_interval"])
            for index, item in enumerate(items):
                entry = group[index]
                item["vm"] = "%s (%s)" % (entry["name"], entry["id"])
                if item.get("job_id") and not outcome_error(item):
                    job = item.get("job") or {}
                    self.result["migrated"].append(dict(
                        id=entry["id"], name=entry["name"], job_id=item["job_id"],
                        job_status=job.get("status", "Running"), seconds=job_seconds(job),
                        **{"from": item.get("from") or entry["from"], "to": target["name"]}))
            if any(outcome_error(item) for item in items):
                self.result["not_started"] = [e["id"] for e in plan[start + size:]]
                raise_for_errors(items, "vm")

    def set_diff(self, vms, plan):
        if self.module._diff:
            moving = dict((e["id"], e["to"]) for e in plan)
            self.result["diff"] = dict(
                before=dict(vms=dict((vm["id"], dict(name=vm["name"], host=vm.get("host"))) for vm in vms)),
                after=dict(vms=dict((vm["id"], dict(name=vm["name"], host=moving.get(vm["id"], vm.get("host"))))
                                    for vm in vms)))


def main():
    module = VmMigrateModule()
    module.run(module.work)


if __name__ == "__main__":
    main()
