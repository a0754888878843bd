# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Long modules run as watched async jobs: status lines while they run, the module's own result at the end."""

from __future__ import annotations

import re

PLAYBOOK = """
- name: A watched VMM drain
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/vmops.datacenter.vmm:
      server: "{{ lab_psrp.server }}"
      port: "{{ lab_psrp.port }}"
      ssl: "{{ lab_psrp.ssl }}"
      auth: "{{ lab_psrp.auth }}"
      encryption: "{{ lab_psrp.encryption }}"
      username: "{{ lab_psrp.username }}"
      password: "{{ lab_psrp.password }}"
      ca_path: "{{ lab_psrp.ca_path }}"
  tasks:
    - name: Drain hv-prod-02
      vmops.datacenter.vmm_host_maintenance:
        host: hv-prod-02
        state: "{{ wanted | default('enabled') }}"
      register: drained

    - name: Show the registered result
      ansible.builtin.debug:
        msg: "keys={{ drained.keys() | sort | join(',') }} changed={{ drained.changed }} moved={{ drained.migrated | length }}"
"""

STATUS_LINE = re.compile(r"^\[localhost\] VMM job '[^']+' \d+ %, \d+ s$", re.M)


def run(vmm_lab, ansible, tmp_path, check=False, verbosity=0, **extra):
    playbook = tmp_path / "drain.yml"
    playbook.write_text(PLAYBOOK)
    async_dir = tmp_path / "async"
    result = ansible(playbook, vmm_lab.extra_vars(vmops_progress_interval=0.2, **extra), check=check,
                     verbosity=verbosity, env={"ANSIBLE_ASYNC_DIR": str(async_dir)}).assert_ok()
    return result, async_dir


def test_a_drain_prints_its_jobs_progress_and_returns_the_modules_own_result(vmm_lab, ansible, tmp_path):
    result, async_dir = run(vmm_lab, ansible, tmp_path, verbosity=4)
    assert STATUS_LINE.search(result.output), result.tail()
    shown = re.search(r"keys=(\S+) changed=True moved=(\d+)", result.output)
    assert shown and int(shown.group(2)) > 0, result.tail()
    keys = shown.group(1).split(",")
    assert "migrated" in keys and "job" in keys
    assert not {"ansible_job_id", "results_file", "started", "finished"} & set(keys)
    # The job's result file and the status file are gone; the password never showed, even at -vvvv.
    assert not list(async_dir.glob("*")) if async_dir.exists() else True
    assert vmm_lab.server.password not in result.output
    assert vmm_lab.server.vmm.list_hosts(names=["hv-prod-02"])[0]["in_maintenance"]

    again, _async_dir = run(vmm_lab, ansible, tmp_path)
    assert "changed=False moved=0" in again.output


def test_check_mode_and_switched_off_progress_run_in_the_foreground(vmm_lab, ansible, tmp_path):
    planned, async_dir = run(vmm_lab, ansible, tmp_path, check=True)
    assert not STATUS_LINE.search(planned.output) and "changed=True" in planned.output
    assert not async_dir.exists()
    assert not vmm_lab.server.vmm.list_hosts(names=["hv-prod-02"])[0]["in_maintenance"]

    quiet, async_dir = run(vmm_lab, ansible, tmp_path, vmops_progress=False)
    assert not STATUS_LINE.search(quiet.output) and "changed=True" in quiet.output
    assert not async_dir.exists()
    assert vmm_lab.server.vmm.list_hosts(names=["hv-prod-02"])[0]["in_maintenance"]


def test_a_failing_watched_module_fails_with_its_own_message(vmm_lab, ansible, tmp_path):
    playbook = tmp_path / "drain.yml"
    playbook.write_text(PLAYBOOK.replace("host: hv-prod-02", "host: hv-nowhere-09"))
    result = ansible(playbook, vmm_lab.extra_vars(vmops_progress_interval=0.2)).assert_failed()
    assert "hv-nowhere-09: VMM error 801: VMM cannot find the host object." in result.output
    assert "ansible_job_id" not in result.output
