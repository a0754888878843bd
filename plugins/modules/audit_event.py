#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: audit_event
short_description: Append one step of a runbook's audit trail to a JSON-lines file
version_added: 0.1.0
description:
  - Writes one JSON object per line to O(path) recording what a runbook step did, on which system, for which object,
    with what result. The collection's roles call it after every step so a run leaves a clear trail.
  - Safe when several runs append at the same time (the file is locked while writing).
  - Adds C(time) (UTC, ISO 8601), C(controller_user) and C(controller_host) to each record.
author:
  - vmops.datacenter maintainers (@vmops)
options:
  path:
    description:
      - JSON-lines file to append to. Missing parent directories are created (mode C(0750)).
    type: path
    required: true
  runbook:
    description: Name of the runbook, for example C(syncvm_refresh).
    type: str
    required: true
  run_id:
    description: Identifier shared by all records of one run (for example the AWX job id).
    type: str
    required: true
  step:
    description: The step this record is about, for example C(sync).
    type: str
    required: true
  result:
    description: Outcome of the step.
    type: str
    choices: [ok, changed, skipped, planned, failed]
    required: true
  system:
    description: The system the step talked to, for example the VMstore host name.
    type: str
  target:
    description: The object acted on, for example a VM name.
    type: str
  summary:
    description: Human-readable detail, for example the error message on failure.
    type: str
  details:
    description: Further structured data (ids, sizes, durations). Keep secrets out of it.
    type: dict
    default: {}
  mode:
    description: File mode when the file is created.
    type: raw
    default: "0640"
extends_documentation_fragment:
  - vmops.datacenter.attributes
  - vmops.datacenter.attributes.PLATFORM_CONTROLLER
attributes:
  check_mode:
    support: full
    details: In check mode nothing is written; the record that would be written is returned.
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Record the sync step
  vmops.datacenter.audit_event:
    path: /var/log/vmops/syncvm_refresh.jsonl
    runbook: syncvm_refresh
    run_id: "{{ tower_job_id | default(ansible_date_time.epoch) }}"
    step: sync
    result: changed
    system: vmstore1.example.com
    target: dev-sql01
    details:
      snapshot: "{{ sync.plan.source_snapshot.uuid }}"
  delegate_to: localhost
"""

RETURN = r"""
record:
  description: The record written (or that would be written in check mode).
  returned: always
  type: dict
"""

import datetime
import fcntl
import getpass
import json
import os
import socket

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            runbook=dict(type="str", required=True),
            run_id=dict(type="str", required=True),
            step=dict(type="str", required=True),
            result=dict(type="str", required=True, choices=["ok", "changed", "skipped", "planned", "failed"]),
            system=dict(type="str"),
            target=dict(type="str"),
            summary=dict(type="str"),
            details=dict(type="dict", default={}),
            mode=dict(type="raw", default="0640"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    record = dict(
        time=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        runbook=params["runbook"],
        run_id=params["run_id"],
        step=params["step"],
        result=params["result"],
        system=params["system"],
        target=params["target"],
        summary=params["summary"],
        details=params["details"],
        controller_user=getpass.getuser(),
        controller_host=socket.gethostname(),
    )
    if module.check_mode:
        module.exit_json(changed=False, record=record)
    path = params["path"]
    try:
        directory = os.path.dirname(path)
        if directory and not os.path.isdir(directory):
            os.makedirs(directory, mode=0o750, exist_ok=True)
        created = not os.path.exists(path)
        with open(path, "a", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                handle.write(json.dumps(record, sort_keys=True) + "\n")
                handle.flush()
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        if created:
            mode = params["mode"]
            os.chmod(path, int(mode, 8) if isinstance(mode, str) else mode)
    except (OSError, ValueError) as exc:
        module.fail_json(msg="Cannot append the audit record to %s: %s" % (path, exc), record=record)
    # An append to a log is not a change to the managed systems.
    module.exit_json(changed=False, record=record)


if __name__ == "__main__":
    main()
