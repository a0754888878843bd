#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vmm_job_info
short_description: List System Center Virtual Machine Manager jobs
version_added: 0.1.0
description:
  - Lists jobs of a System Center Virtual Machine Manager (VMM) server, with status, progress, times and, for a
    failed job, the VMM error id and text.
  - Jobs by id, or the newest O(newest) jobs, or (with neither) the jobs running now.
author:
  - vmops.datacenter maintainers (@vmops)
options:
  id:
    description:
      - The jobs with these VMM ids (GUIDs). An id VMM does not know comes back with status C(NotFound) and error
        801.
    type: list
    elements: str
    aliases: [ids, job_id]
  newest:
    description:
      - The newest this many jobs, newest first. Mutually exclusive with O(id).
      - With neither O(id) nor O(newest), the jobs running now are listed.
    type: int
  query:
    description:
      - JMESPath expression run over the result (keys C(jobs), C(count) and C(server)); its value is returned
        in RV(query_result). Needs the C(jmespath) Python library on the host that runs the module.
    type: str
extends_documentation_fragment:
  - vmops.datacenter.psrp
  - vmops.datacenter.attributes
  - vmops.datacenter.attributes.INFO_MODULE
  - vmops.datacenter.psrp.ACTIONGROUP_VMM
  - vmops.datacenter.attributes.PLATFORM_CONTROLLER
seealso:
  - name: Get-SCJob
    description: The VMM cmdlet behind this module.
    link: https://learn.microsoft.com/powershell/module/virtualmachinemanager/get-scjob
"""

EXAMPLES = r"""
- name: Jobs running now
  vmops.datacenter.vmm_job_info:
    server: vmm01.example.com
    username: EXAMPLE\svc-ansible
    password: "{{ vmm_password }}"
  delegate_to: localhost
  register: running

- name: The failed jobs among the newest 50
  vmops.datacenter.vmm_job_info:
    server: vmm01.example.com
    username: EXAMPLE\svc-ansible
    password: "{{ vmm_password }}"
    newest: 50
    query: "jobs[?status=='Failed'].{id: id, name: name, error: error.id}"
  delegate_to: localhost
  register: failed

- name: One job by id
  vmops.datacenter.vmm_job_info:
    server: vmm01.example.com
    username: EXAMPLE\svc-ansible
    password: "{{ vmm_password }}"
    id: [5a9e0a5c-1b7e-4d43-9d0b-2f8f6f1c2a11]
  delegate_to: localhost
"""

RETURN = r"""
jobs:
  description: The jobs, in the order asked for (by id) or as VMM listed them.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: VMM id of the job (lower-case GUID).
      type: str
    name:
      description: Job name.
      type: str
      sample: Shut down virtual machine
    status:
      description: Job status, for example C(Running), C(Completed), C(Failed), or C(NotFound) for an unknown id.
      type: str
    is_completed:
      description: Whether the job has ended.
      type: bool
    progress:
      description: Progress in percent.
      type: int
    result_name:
      description: Name of the object the job worked on.
      type: str
    start_time:
      description: Start time (ISO 8601).
      type: str
    end_time:
      description: End time (ISO 8601), or null while running.
      type: str
    error:
      description: For a failed job, C(id) (VMM error id), C(message) and C(recommended_action); else null.
      type: dict
count:
  description: Number of entries in RV(jobs).
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


class JobInfoModule(VmmModule):
    def __init__(self):
        spec = dict(
            id=dict(type="list", elements="str", aliases=["ids", "job_id"]),
            newest=dict(type="int"),
            query=dict(type="str"),
        )
        super().__init__(spec, supports_check_mode=True, mutually_exclusive=[("id", "newest")])
        if self.params["newest"] is not None and self.params["newest"] <= 0:
            self.module.fail_json(msg="newest must be greater than zero, got %s." % self.params["newest"])
        check_query(self.module, self.params["query"])

    def work(self, client):
        params = self.params
        jobs = client.list_jobs(ids=params["id"], newest=params["newest"])
        self.info_result(client, "jobs", jobs)


def main():
    module = JobInfoModule()
    module.run(module.work)


if __name__ == "__main__":
    main()
