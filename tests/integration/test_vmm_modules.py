# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The VMM modules through ansible-playbook against the WS-Man/PSRP simulator (Basic auth over HTTPS)."""

from __future__ import annotations

from simulators.psrp import PowerShellError

from .conftest import RUN_TARGET


def test_vmm_vm_info(vmm_lab, ansible):
    ansible(RUN_TARGET, vmm_lab.extra_vars(target="vmm_vm_info")).assert_ok()
    stats = vmm_lab.server.stats()
    # One session per task: a pool opened and closed, connect once, then one listing pipeline (the last
    # task stops at connect).
    assert stats["shells_open"] == 0
    assert stats["pipelines_by_op"]["vmm.vm_list"] == 6
    assert stats["pipelines_by_op"]["vmm.connect"] == stats["shells_created"] == 7


def test_vmm_vm_info_at_vvvv_shows_no_password(vmm_lab, ansible):
    result = ansible(RUN_TARGET, vmm_lab.extra_vars(target="vmm_vm_info"), verbosity=4).assert_ok()
    assert vmm_lab.server.password in vmm_lab.lab.passwords
    assert vmm_lab.server.password not in result.output
    assert "vmm_vm_info" in result.output  # the module really ran and printed its invocation


PLAYBOOK = """
- name: vmm_vm_info through transient faults
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Batch 7
      vmops.datacenter.vmm_vm_info:
        server: "{{ lab_psrp.server }}"
        port: "{{ lab_psrp.port }}"
        auth: basic
        username: "{{ lab_psrp.username }}"
        password: "{{ lab_psrp.password }}"
        ca_path: "{{ lab_psrp.ca_path }}"
        custom_property_name: Custom1
        custom_property_value: "7"
      register: batch7
    - name: All twelve, despite the faults
      ansible.builtin.assert:
        that:
          - batch7.count == 12
"""


def test_reads_survive_a_busy_listener_and_vmm_error_1600(vmm_lab, ansible):
    playbook = vmm_lab.lab.workdir / "transient.yml"
    playbook.write_text(PLAYBOOK)
    server = vmm_lab.server
    server.http_error(status=503, count=1, action="Create")
    server.fail_next("vmm.vm_list", PowerShellError("The VMM server is busy. (Error ID: 1600)", "VmmBusy",
                                                    "ResourceBusy"))
    ansible(playbook, vmm_lab.extra_vars()).assert_ok()
    stats = server.stats()
    assert stats["pipelines_by_op"]["vmm.vm_list"] == 2
    assert stats["shells_open"] == 0


def test_vmm_vm_power(vmm_lab, ansible):
    # Pipelines are counted without progress lines (a watched wait asks once more, at once, for its first line).
    ansible(RUN_TARGET, vmm_lab.extra_vars(target="vmm_vm_power", vmops_progress=False)).assert_ok()
    stats = vmm_lab.server.stats()
    assert stats["shells_open"] == 0
    # Jobs of many VMs start in one pipeline per action and are awaited in one more; the forced
    # fallback adds one start and one wait.
    assert stats["pipelines_by_op"]["vmm.vm_power"] == 4
    assert stats["pipelines_by_op"]["vmm.job_wait"] == 4


def test_vmm_checkpoint(vmm_lab, ansible):
    ansible(RUN_TARGET, vmm_lab.extra_vars(target="vmm_checkpoint")).assert_ok()
    stats = vmm_lab.server.stats()
    assert stats["shells_open"] == 0
    # Both VMs' checkpoints are created in one pipeline and removed in one more.
    assert stats["pipelines_by_op"]["vmm.checkpoint_new"] == 1
    assert stats["pipelines_by_op"]["vmm.checkpoint_remove"] == 1
    assert stats["pipelines_by_op"]["vmm.checkpoint_restore"] == 2


def test_vmm_host_maintenance(vmm_lab, ansible):
    ansible(RUN_TARGET, vmm_lab.extra_vars(target="vmm_host_maintenance", vmops_progress=False)).assert_ok()
    stats = vmm_lab.server.stats()
    assert stats["shells_open"] == 0
    # One start and one wait to drain, one each to end maintenance; no-ops and check mode start nothing.
    assert stats["pipelines_by_op"]["vmm.host_maintenance"] == 2
    assert stats["pipelines_by_op"]["vmm.job_wait"] == 2


def test_vmm_update_remediation(vmm_lab, ansible):
    vmm_lab.server.vmm.set_update_faults("hv-test-02", fail_update="KB5066131")
    ansible(RUN_TARGET, vmm_lab.extra_vars(target="vmm_update_remediation")).assert_ok()
    stats = vmm_lab.server.stats()
    assert stats["shells_open"] == 0
    # Two scans (the info module's and the remediation's) and two remediations (hv-test-01, hv-test-02); check mode,
    # the re-run and the refused hosts start nothing.
    assert stats["pipelines_by_op"]["vmm.compliance_scan"] == 2
    assert stats["pipelines_by_op"]["vmm.update_remediate"] == 2


def test_scom_maintenance(vmm_lab, ansible):
    ansible(RUN_TARGET, vmm_lab.extra_vars(target="scom_maintenance")).assert_ok()
    stats = vmm_lab.server.stats()
    assert stats["shells_open"] == 0
    # Both objects start in one pipeline, are extended in one and stopped in one.
    assert stats["pipelines_by_op"]["scom.maintenance_start"] == 1
    assert stats["pipelines_by_op"]["scom.maintenance_update"] == 1
    assert stats["pipelines_by_op"]["scom.maintenance_stop"] == 1


JUMP_BOX = """
- name: vmm_vm_info from a jump box
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/vmops.datacenter.vmm:
      server: "{{ lab_psrp.server }}"
      port: "{{ lab_psrp.port }}"
      auth: basic
      username: "{{ lab_psrp.username }}"
      password: "{{ lab_psrp.password }}"
      ca_path: "{{ lab_psrp.ca_path }}"
  tasks:
    - name: The jump box runs no VMM service of its own
      vmops.datacenter.vmm_vm_info:
        custom_property_name: Custom1
        custom_property_value: "7"
      register: local
      ignore_errors: true
    - name: Without a credential the VMM server refuses the second hop
      vmops.datacenter.vmm_vm_info:
        vmm_server: vmm01.lab.local
      register: no_credential
      ignore_errors: true
    - name: A wrong credential is refused too
      vmops.datacenter.vmm_vm_info:
        vmm_server: vmm01.lab.local
        vmm_username: LAB\\vmm-automation
        vmm_password: not-the-password
      register: wrong
      ignore_errors: true
    - name: With the credential, batch 7
      vmops.datacenter.vmm_vm_info:
        vmm_server: vmm01.lab.local
        vmm_username: LAB\\vmm-automation
        vmm_password: "{{ jump_password }}"
        custom_property_name: Custom1
        custom_property_value: "7"
      register: batch7
    - name: Each failure says why
      ansible.builtin.assert:
        that:
          - local is failed and 'cannot contact the VMM management server localhost' in local.msg
          - no_credential is failed and 'double hop' in no_credential.msg and 'vmm_username' in no_credential.msg
          - wrong is failed and 'Access is denied' in wrong.msg and 'double hop' not in wrong.msg
          - wrong.psrp_error.category == 'PermissionDenied'
          - batch7.count == 12
          - batch7.server.vmm_server == 'vmm01.lab.local'
        fail_msg: "{{ [local.msg | default(''), no_credential.msg | default(''), wrong.msg | default('')] }}"
"""


def test_jump_box_connects_to_the_vmm_server_with_an_explicit_credential(vmm_lab, ansible):
    jump_password = "Jump-Hop-2!x"
    vmm_lab.server.vmm.configure_jump_box("LAB\\vmm-automation", jump_password)
    vmm_lab.lab.passwords = sorted(set(vmm_lab.lab.passwords) | {jump_password})
    playbook = vmm_lab.lab.workdir / "jump_box.yml"
    playbook.write_text(JUMP_BOX)
    result = ansible(playbook, vmm_lab.extra_vars(jump_password=jump_password), verbosity=4).assert_ok()
    assert jump_password not in result.output
    # The credential travelled as a PSRP parameter of the connect operation, never inside the script text.
    connects = [params for _script, params in vmm_lab.server.operations("vmm.connect")]
    assert any(p.get("UserName") == "LAB\\vmm-automation" for p in connects)
    assert all(jump_password not in record.command for record in vmm_lab.server.pipelines)


def test_vmm_vm_migrate(vmm_lab, ansible):
    ansible(RUN_TARGET, vmm_lab.extra_vars(target="vmm_vm_migrate")).assert_ok()
    stats = vmm_lab.server.stats()
    assert stats["shells_open"] == 0
    # Three VMs two at a time: two groups; two more one at a time on the way back. Check mode, the second run
    # and every refusal start nothing.
    assert stats["pipelines_by_op"]["vmm.vm_migrate"] == 4
    vms = {vm["name"]: vm["host"] for vm in vmm_lab.server.vmm.list_vms(names=["prod-web01", "prod-sql01", "prod-web02"])}
    assert vms == {"prod-web01": "hv-prod-01.lab.local", "prod-sql01": "hv-prod-01.lab.local",
                   "prod-web02": "hv-prod-03.lab.local"}


MIGRATE_FAILS = """
- name: vmm_vm_migrate when VMM fails a migration job
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/vmops.datacenter.vmm:
      server: "{{ lab_psrp.server }}"
      port: "{{ lab_psrp.port }}"
      auth: basic
      username: "{{ lab_psrp.username }}"
      password: "{{ lab_psrp.password }}"
      ca_path: "{{ lab_psrp.ca_path }}"
  tasks:
    - name: Three VMs, one at a time; the second job fails
      vmops.datacenter.vmm_vm_migrate:
        vms: [prod-web01, prod-sql01, prod-web02]
        host: hv-prod-03
        max_parallel: 1
        poll_interval: 0.2
      register: moved
      ignore_errors: true
    - name: The first moved, the failure is named, the third never started
      ansible.builtin.assert:
        that:
          - moved is failed
          - moved.vmm_error.error_id == 2915
          - "'The live migration failed' in moved.msg and 'prod-sql01' in moved.msg"
          - moved.migrated | map(attribute='name') | list == ['prod-web01']
          - moved.not_started | length == 1
        fail_msg: "{{ moved | to_json }}"
"""


def test_vmm_vm_migrate_stops_at_a_failed_job(vmm_lab, ansible):
    playbook = vmm_lab.lab.workdir / "migrate_fails.yml"
    playbook.write_text(MIGRATE_FAILS)
    vmm = vmm_lab.server.vmm
    vmm.inject_fault("vm_migrate", 2915, target="prod-sql01", message="The live migration failed.")
    ansible(playbook, vmm_lab.extra_vars()).assert_ok()
    hosts = {vm["name"]: vm["host"] for vm in vmm.list_vms(names=["prod-web01", "prod-sql01", "prod-web02"])}
    assert hosts == {"prod-web01": "hv-prod-03.lab.local", "prod-sql01": "hv-prod-01.lab.local",
                     "prod-web02": "hv-prod-02.lab.local"}
