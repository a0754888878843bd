#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vmm_update_remediation
short_description: Install a System Center Virtual Machine Manager baseline's updates on Hyper-V hosts
version_added: 0.1.0
description:
  - Brings Hyper-V hosts managed by System Center Virtual Machine Manager (VMM) into compliance with one baseline
    through VMM's own update remediation (C(Start-SCUpdateRemediation -VMMManagedComputer -Baseline)); VMM installs the
    baseline's missing updates from its update server and restarts the host when an update asks for it, unless
    O(suspend_reboot=true).
  - Only hosts that are not compliant for the baseline are remediated, all at once (one job per host), and the module
    waits for the jobs together. A host that is already compliant is left alone; when every host is, nothing
    changes.
  - The module does not drain the host. Put a clustered host into maintenance mode first
    (M(vmops.datacenter.vmm_host_maintenance)); its running VMs would otherwise go down with the restart.
  - A failed remediation fails the task with the job's VMM error id and text and the updates that failed to install
    (RV(hosts[].failed_updates)); the other hosts' outcomes are still returned.
author:
  - vmops.datacenter maintainers (@vmops)
options:
  hosts:
    description:
      - The Hyper-V hosts, by fully qualified name or computer name.
    type: list
    elements: str
    required: true
    aliases: [host, name]
  baseline:
    description:
      - Name of the VMM baseline whose updates are installed. It must apply to every host (its assignment scope holds
        the host, its cluster or host group).
    type: str
    required: true
  suspend_reboot:
    description:
      - Do not restart the hosts, also when an update needs it (C(-SuspendReboot)). Such an update is only complete
        after a restart, which is then up to you (the C(pending) state of RV(hosts[].after)).
    type: bool
    default: false
  scan:
    description:
      - Scan the hosts against the baseline first (C(Start-SCComplianceScan)), so that the decision rests on what is
        installed now and not on VMM's last scan. Not done in check mode.
    type: bool
    default: false
  wait:
    description:
      - Wait for the remediation jobs (installation and restart) to end and report the compliance after them.
      - With V(false) the module returns as soon as VMM has accepted the jobs.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for the jobs (scans and remediation, the restart included). On timeout the module fails,
        names the job and the host's state (for example a restart that does not complete); the job keeps running in
        VMM.
    type: float
    default: 7200
  poll_interval:
    description:
      - Seconds between two polls of the jobs on the VMM server.
    type: float
    default: 10
extends_documentation_fragment:
  - vmops.datacenter.psrp
  - vmops.datacenter.attributes
  - vmops.datacenter.psrp.ACTIONGROUP_VMM
  - vmops.datacenter.attributes.PLATFORM_CONTROLLER
attributes:
  check_mode:
    support: full
    details: Reads the compliance and returns the plan (the hosts to remediate and their non-compliant updates),
      changes nothing.
  diff_mode:
    support: full
notes:
  - An unknown host or baseline fails the task with VMM error 801 before anything starts; so does a host outside
    the baseline's assignment scope.
seealso:
  - module: vmops.datacenter.vmm_update_compliance_info
  - module: vmops.datacenter.vmm_host_maintenance
  - name: Start-SCUpdateRemediation
    description: The VMM cmdlet behind this module.
    link: https://learn.microsoft.com/powershell/module/virtualmachinemanager/start-scupdateremediation
"""

EXAMPLES = r"""
- name: Drain hv-prod-01
  vmops.datacenter.vmm_host_maintenance:
    server: vmm01.example.com
    username: EXAMPLE\svc-ansible
    password: "{{ vmm_password }}"
    host: hv-prod-01.example.com
    state: enabled
  delegate_to: localhost

- name: Install the monthly baseline on it (VMM restarts the host when needed)
  vmops.datacenter.vmm_update_remediation:
    server: vmm01.example.com
    username: EXAMPLE\svc-ansible
    password: "{{ vmm_password }}"
    hosts: [hv-prod-01.example.com]
    baseline: Hyper-V hosts 2026-11
    scan: true
    wait_timeout: 5400
  delegate_to: localhost
  register: remediated

- name: Show what was installed
  ansible.builtin.debug:
    msg: "{{ remediated.hosts[0].installed }} in {{ remediated.hosts[0].seconds }} s"

- name: Plan only (which hosts miss which updates)
  vmops.datacenter.vmm_update_remediation:
    server: vmm01.example.com
    username: EXAMPLE\svc-ansible
    password: "{{ vmm_password }}"
    hosts: [hv-prod-02.example.com, hv-prod-03.example.com]
    baseline: Hyper-V hosts 2026-11
  check_mode: true
  delegate_to: localhost
"""

RETURN = r"""
hosts:
  description: One entry per host, in the order of O(hosts).
  returned: always
  type: list
  elements: dict
  contains:
    host:
      description: Fully qualified name of the host.
      type: str
    action:
      description: C(remediated), C(remediate) (check mode), C(started) (O(wait=false)), C(failed), or C(none) (already
        compliant).
      type: str
    before:
      description: Compliance before, as in RV(vmops.datacenter.vmm_update_compliance_info#module:hosts) (C(compliance),
        C(noncompliant), C(updates), ...).
      type: dict
    after:
      description: Compliance after the remediation, same shape; null in check mode, with O(wait=false) and when
        nothing was done.
      type: dict
    installed:
      description: KB article numbers that were not compliant before and are after.
      type: list
      elements: str
    failed_updates:
      description: KB article numbers whose installation failed (state C(Error) after the job).
      type: list
      elements: str
    job_id:
      description: Id of the remediation job; null when none was started.
      type: str
    job:
      description: The remediation job, as in M(vmops.datacenter.vmm_job_info); null when none was started or not
        awaited.
      type: dict
    restarted:
      description: Whether VMM was allowed to restart the host and the remediation installed updates (the restart is
        part of the job when an update asks for it).
      type: bool
    seconds:
      description: Duration of the remediation job in seconds (from its start and end times); null when none ran to
        its end.
      type: float
changed_hosts:
  description: Names of the hosts that were (or in check mode would be) remediated.
  returned: always
  type: list
  elements: str
"""

import re
from datetime import datetime

from ansible_collections.vmops.datacenter.plugins.module_utils._vmm import (
    VmmJobError,
    VmmModule,
    compliance_entry,
    outcome_error,
    raise_for_errors,
)

_FRACTION = re.compile(r"(\.\d{6})\d*")


def _time(text):
    """An ISO-8601 time from VMM ('o' format: seven fraction digits, Z) as a datetime, or None."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(_FRACTION.sub(r"\1", text).replace("Z", "+00:00"))
    except ValueError:
        return None


def job_seconds(job):
    start, end = _time((job or {}).get("start_time")), _time((job or {}).get("end_time"))
    return round((end - start).total_seconds(), 1) if start and end else None


def _diff_view(entry):
    return dict(compliance=entry["compliance"], noncompliant=entry["noncompliant"])


class UpdateRemediationModule(VmmModule):
    def __init__(self):
        spec = dict(
            hosts=dict(type="list", elements="str", required=True, aliases=["host", "name"]),
            baseline=dict(type="str", required=True),
            suspend_reboot=dict(type="bool", default=False),
            scan=dict(type="bool", default=False),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="float", default=7200),
            poll_interval=dict(type="float", default=10),
        )
        super().__init__(spec, supports_check_mode=True)
        if not self.params["hosts"]:
            self.module.fail_json(msg="hosts must name at least one host.")
        self.result.update(hosts=[], changed_hosts=[])

    def timing(self):
        return dict(wait_timeout=self.params["wait_timeout"], poll_interval=self.params["poll_interval"])

    def read(self, client):
        items = client.compliance(self.params["hosts"], self.params["baseline"])
        raise_for_errors(items, "host")
        return [compliance_entry(item) for item in items]

    def work(self, client):
        params = self.params
        if params["scan"] and not self.module.check_mode:
            raise_for_errors(client.scan_compliance(params["hosts"], params["baseline"], **self.timing()), "host")
        before = self.read(client)
        outside = [entry["host"] for entry in before if not entry["assigned"]]
        if outside:
            self.fail("The baseline %s does not apply to %s (not in its assignment scope); add the host, its cluster or "
                      "host group to the baseline. Nothing was changed." % (params["baseline"], ", ".join(outside)))
        entries = [dict(host=b["host"], action="none" if b["compliant"] else "remediate", before=b, after=None,
                        installed=[], failed_updates=[], job_id=None, job=None, restarted=False, seconds=None)
                   for b in before]
        todo = [e for e in entries if e["action"] == "remediate"]
        self.result.update(hosts=entries, changed_hosts=[e["host"] for e in todo], changed=bool(todo))
        if self.module._diff:
            self.result["diff"] = dict(
                before=dict((e["host"], _diff_view(e["before"])) for e in todo),
                after=dict((e["host"], dict(compliance="Compliant", noncompliant=[])) for e in todo))
        if not todo or self.module.check_mode:
            return
        items = client.remediate_updates([e["host"] for e in todo], params["baseline"], params["suspend_reboot"],
                                         wait=params["wait"], **self.timing())
        for entry, item in zip(todo, items, strict=True):
            entry.update(job_id=item.get("job_id"), job=item.get("job"), seconds=job_seconds(item.get("job")),
                         action="started" if not params["wait"] else "remediated")
            if outcome_error(item):
                entry["action"] = "failed"
        if not params["wait"]:
            raise_for_errors(items, "host")
            return
        after = dict((a["id"], a) for a in self.read(client))
        for entry in todo:
            entry["after"] = after.get(entry["before"]["id"])
            now_missing = set(entry["after"]["noncompliant"]) if entry["after"] else set()
            entry["installed"] = [kb for kb in entry["before"]["noncompliant"] if kb not in now_missing]
            entry["failed_updates"] = entry["after"]["failed"] if entry["after"] else []
            entry["restarted"] = entry["action"] == "remediated" and not params["suspend_reboot"] and bool(
                entry["installed"])
        self.raise_failures(items, todo)

    def raise_failures(self, items, todo):
        """The first failed remediation as the task's error, naming the updates that did not install."""
        try:
            raise_for_errors(items, "host")
        except VmmJobError as exc:
            entry = next((e for e in todo if e["host"] == exc.target or e["job_id"] == (exc.job or {}).get("id")),
                         None) or todo[0]
            state = entry["after"] or {}
            failed = entry["failed_updates"] or state.get("noncompliant") or []
            details = " Updates not installed: %s." % ", ".join("KB" + kb for kb in failed) if failed else ""
            pending = " The host is %s (%s)." % (state.get("communication_state"), state["pending"]) if state.get(
                "pending") else ""
            raise VmmJobError(str(exc).rstrip(".") + "." + details + pending, error_id=exc.error_id, text=exc.text,
                              target=entry["host"], job=exc.job) from None


def main():
    module = UpdateRemediationModule()
    module.run(module.work)


if __name__ == "__main__":
    main()
