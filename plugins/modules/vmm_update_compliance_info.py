#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vmm_update_compliance_info
short_description: Update compliance of Hyper-V hosts for a System Center Virtual Machine Manager baseline
version_added: 0.1.0
description:
  - Reads the update compliance of Hyper-V hosts managed by System Center Virtual Machine Manager (VMM) for one
    baseline (C(Get-SCComplianceStatus)), per host and per update of the baseline.
  - VMM answers from what its last compliance scan or remediation recorded. With O(scan=true) the module first scans
    every host against the baseline (C(Start-SCComplianceScan), one job per host, awaited together).
  - A host that is outside the baseline's assignment scope has no compliance for it; RV(hosts[].assigned) is then
    false and RV(hosts[].updates) empty.
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
      - Name of the VMM baseline (as in C(Get-SCBaseline -Name)).
    type: str
    required: true
  scan:
    description:
      - Scan the hosts against the baseline before reading their compliance.
      - Not done in check mode; RV(scanned) says whether it was.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait for the scan jobs with O(scan=true). On timeout the module fails and names the job; it keeps
        running in VMM.
    type: float
    default: 1800
  poll_interval:
    description:
      - Seconds between two polls of the scan jobs.
    type: float
    default: 5
  query:
    description:
      - JMESPath expression run over the result (keys C(hosts), C(count), C(compliant), C(noncompliant) and
        C(server)); its value is returned in RV(query_result). Needs the C(jmespath) Python library on the host that
        runs the module.
    type: str
extends_documentation_fragment:
  - vmops.datacenter.psrp
  - vmops.datacenter.attributes
  - vmops.datacenter.attributes.INFO_MODULE
  - vmops.datacenter.psrp.ACTIONGROUP_VMM
  - vmops.datacenter.attributes.PLATFORM_CONTROLLER
notes:
  - An unknown host or baseline fails the task with VMM error 801.
  - A scan of a host that does not respond (for example while it restarts) fails with the job's VMM error.
seealso:
  - module: vmops.datacenter.vmm_update_remediation
  - name: Get-SCComplianceStatus
    description: The VMM cmdlet that reads compliance.
    link: https://learn.microsoft.com/powershell/module/virtualmachinemanager/get-sccompliancestatus
  - name: Start-SCComplianceScan
    description: The VMM cmdlet that scans a managed computer against a baseline.
    link: https://learn.microsoft.com/powershell/module/virtualmachinemanager/start-sccompliancescan
"""

EXAMPLES = r"""
- name: Scan the nodes of hvc-prod against the monthly baseline and read their compliance
  vmops.datacenter.vmm_update_compliance_info:
    server: vmm01.example.com
    username: EXAMPLE\svc-ansible
    password: "{{ vmm_password }}"
    hosts: [hv-prod-01.example.com, hv-prod-02.example.com, hv-prod-03.example.com]
    baseline: Hyper-V hosts 2026-11
    scan: true
  delegate_to: localhost
  register: compliance

- name: Show the updates each host still misses
  ansible.builtin.debug:
    msg: "{{ compliance.hosts | items2dict(key_name='host', value_name='noncompliant') }}"

- name: Only the names of the non-compliant hosts
  vmops.datacenter.vmm_update_compliance_info:
    server: vmm01.example.com
    username: EXAMPLE\svc-ansible
    password: "{{ vmm_password }}"
    hosts: [hv-prod-01.example.com, hv-prod-02.example.com]
    baseline: Hyper-V hosts 2026-11
    query: "hosts[?!compliant].host"
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
      sample: hv-prod-01.example.com
    id:
      description: VMM id of the host.
      type: str
    baseline:
      description: The baseline, as named in O(baseline).
      type: str
    baseline_id:
      description: VMM id of the baseline.
      type: str
    assigned:
      description: Whether the baseline applies to the host (its assignment scope holds the host, its cluster or
        host group).
      type: bool
    compliance:
      description: The host's compliance for the baseline (C(BaselineLevelComplianceState)), for example
        C(Compliant), C(NonCompliant), C(Unknown) (not scanned) or C(Error); null when not assigned.
      type: str
    compliant:
      description: Whether RV(hosts[].compliance) is C(Compliant).
      type: bool
    overall_compliance:
      description: The host's compliance over every baseline assigned to it (C(OverallComplianceState)).
      type: str
    pending:
      description: What VMM is doing or waiting for on the host (C(StatusString)), for example a running
        remediation or a restart it needs; null when nothing.
      type: str
    communication_state:
      description: Whether VMM reaches the host (C(Responding), C(Not Responding) while it restarts).
      type: str
    updates:
      description: The baseline's updates with their state on the host.
      type: list
      elements: dict
      contains:
        id:
          description: VMM id of the update.
          type: str
        kb:
          description: KB article number, without the C(KB) prefix.
          type: str
          sample: "5068787"
        title:
          description: Title of the update.
          type: str
        status:
          description: C(Compliant), C(NonCompliant), C(Unknown) or C(Error) (the last installation failed).
          type: str
    noncompliant:
      description: KB article numbers of the updates that are not compliant.
      type: list
      elements: str
    failed:
      description: KB article numbers of the updates whose installation failed (state C(Error)).
      type: list
      elements: str
count:
  description: Number of entries in RV(hosts).
  returned: always
  type: int
compliant:
  description: Names of the hosts that are compliant for the baseline.
  returned: always
  type: list
  elements: str
noncompliant:
  description: Names of the hosts that are not (also those outside the baseline's scope).
  returned: always
  type: list
  elements: str
scanned:
  description: Whether the hosts were scanned first.
  returned: always
  type: bool
scan_jobs:
  description: The scan jobs, as in M(vmops.datacenter.vmm_job_info); empty without a scan.
  returned: always
  type: list
  elements: dict
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
from ansible_collections.vmops.datacenter.plugins.module_utils._vmm import VmmModule, compliance_entry, raise_for_errors


class UpdateComplianceInfoModule(VmmModule):
    def __init__(self):
        spec = dict(
            hosts=dict(type="list", elements="str", required=True, aliases=["host", "name"]),
            baseline=dict(type="str", required=True),
            scan=dict(type="bool", default=False),
            wait_timeout=dict(type="float", default=1800),
            poll_interval=dict(type="float", default=5),
            query=dict(type="str"),
        )
        super().__init__(spec, supports_check_mode=True)
        if not self.params["hosts"]:
            self.module.fail_json(msg="hosts must name at least one host.")
        check_query(self.module, self.params["query"])
        self.result.update(hosts=[], count=0, compliant=[], noncompliant=[], scanned=False, scan_jobs=[])

    def work(self, client):
        params = self.params
        if params["scan"] and not self.module.check_mode:
            items = client.scan_compliance(params["hosts"], params["baseline"], wait_timeout=params["wait_timeout"],
                                           poll_interval=params["poll_interval"])
            self.result["scan_jobs"] = [item["job"] for item in items if item.get("job")]
            raise_for_errors(items, "host")
            self.result["scanned"] = True
        items = client.compliance(params["hosts"], params["baseline"])
        raise_for_errors(items, "host")
        hosts = [compliance_entry(item) for item in items]
        self.info_result(client, "hosts", hosts, compliant=[h["host"] for h in hosts if h["compliant"]],
                         noncompliant=[h["host"] for h in hosts if not h["compliant"]])


def main():
    module = UpdateComplianceInfoModule()
    module.run(module.work)


if __name__ == "__main__":
    main()
