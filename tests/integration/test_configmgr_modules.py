# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ConfigMgr modules through ansible-playbook against the AdminService simulator (Negotiate/NTLM over HTTPS)."""

from __future__ import annotations

from .conftest import RUN_TARGET


def test_configmgr_collection(configmgr_lab, ansible):
    ansible(RUN_TARGET, configmgr_lab.extra_vars(target="configmgr_collection")).assert_ok()
    server = configmgr_lab.server
    assert server.auth_counts["negotiate"] >= 10  # every task authenticated with Negotiate (NTLM), none with Basic
    assert server.auth_counts["basic"] == 0
    deletes = [r for r in server.requests.list() if r["method"] == "DELETE" and r["status"] == 204]
    assert len(deletes) == 1


def test_configmgr_collection_member(configmgr_lab, ansible):
    ansible(RUN_TARGET, configmgr_lab.extra_vars(target="configmgr_collection_member")).assert_ok()
    log = configmgr_lab.server.requests.list()
    rule_calls = [r["path"].rsplit(".", 1)[-1] for r in log if "MembershipRule" in r["path"] and r["status"] == 200]
    assert rule_calls == ["AddMembershipRules", "DeleteMembershipRule"]  # two hosts in one call, one out
    assert configmgr_lab.server.model.members(configmgr_lab.server.model.collection("LAB00011")) == [16777220]


def test_configmgr_collection_info(configmgr_lab, ansible):
    ansible(RUN_TARGET, configmgr_lab.extra_vars(target="configmgr_collection_info")).assert_ok()
    methods = {r["method"] for r in configmgr_lab.server.requests.list()}
    assert methods == {"GET"}  # reads only


def test_configmgr_password_never_shows_at_vvvv(configmgr_lab, ansible):
    result = ansible(RUN_TARGET, configmgr_lab.extra_vars(target="configmgr_collection"), verbosity=4).assert_ok()
    assert configmgr_lab.endpoint["password"] in configmgr_lab.lab.passwords
    assert "configmgr_collection" in result.output


def test_configmgr_update_compliance_info_through_a_patch_cycle(configmgr_lab, ansible):
    ansible(RUN_TARGET, configmgr_lab.extra_vars(target="configmgr_update_compliance_info")).assert_ok()
    operations = configmgr_lab.server.model.state["operations"]
    assert [o["Type"] for o in operations] == [8, 17, 14]  # policy, restart, evaluation: nothing sent twice


def test_configmgr_client_action(configmgr_lab, ansible):
    ansible(RUN_TARGET, configmgr_lab.extra_vars(target="configmgr_client_action")).assert_ok()
    operations = configmgr_lab.server.model.state["operations"]
    assert [(o["Type"], len(o["TargetResourceIDs"])) for o in operations] == [(12, 7)]
    assert configmgr_lab.server.auth_counts["ntlm"] >= 3 and configmgr_lab.server.auth_counts["basic"] == 0


TRANSIENT = """
- name: configmgr_collection_member through transient faults
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/vmops.datacenter.configmgr:
      server: "{{ lab_configmgr.hostname }}"
      username: "{{ lab_configmgr.username }}"
      password: "{{ lab_configmgr.password }}"
      ca_path: "{{ lab_configmgr.ca_path }}"
      retries: 3
  tasks:
    - name: Two hosts into the patch collection
      vmops.datacenter.configmgr_collection_member:
        collection: Hyper-V patch
        devices: [hv-test-01, hv-test-02]
        poll_interval: 0.2
        wait_timeout: 30
      register: added
    - name: Both evaluated members despite the faults
      ansible.builtin.assert:
        that:
          - added is changed
          - added.members | length == 2
"""


def test_transient_faults_are_retried_where_repeating_is_safe(configmgr_lab, ansible):
    playbook = configmgr_lab.lab.workdir / "transient.yml"
    playbook.write_text(TRANSIENT)
    server = configmgr_lab.server
    server.faults.add([
        {"path": "/AdminService/wmi/SMS_R_System", "method": "GET", "status": 503, "code": "ServiceUnavailable",
         "count": 1},
        {"path": "*AddMembershipRules", "method": "POST", "status": 502, "code": "BadGateway", "count": 1},
        {"path": "/AdminService/wmi/SMS_FullCollectionMembership", "action": "drop", "count": 1},
    ])
    ansible(playbook, configmgr_lab.extra_vars()).assert_ok()
    statuses = [(r["path"].rsplit("/", 1)[-1], r["status"]) for r in server.requests.list() if r["status"] != 401]
    assert ("SMS_R_System", 503) in statuses and ("SMS_FullCollectionMembership", 0) in statuses
    added = [s for s in statuses if s[0].endswith("AddMembershipRules")]
    assert added == [("AdminService.AddMembershipRules", 502), ("AdminService.AddMembershipRules", 200)]


def _configmgr_pipelines(psrp):
    return [(p.op, p.state) for p in psrp.journal.pipelines if p.op and p.op.startswith("configmgr.")]


def test_configmgr_update_deployment(configmgr_psrp_lab, ansible):
    ansible(RUN_TARGET, configmgr_psrp_lab.extra_vars(target="configmgr_update_deployment")).assert_ok()
    # One PowerShell session per change (connect, then the cmdlet); runs that changed nothing opened none.
    assert _configmgr_pipelines(configmgr_psrp_lab.psrp) == [
        ("configmgr.connect", "Completed"), ("configmgr.update_deployment_new", "Completed"),
        ("configmgr.connect", "Completed"), ("configmgr.update_deployment_remove", "Completed")]
    deployments = configmgr_psrp_lab.server.model.state["deployments"]
    assert [d["TargetCollectionID"] for d in deployments.values()] == ["LAB00011"]


def test_configmgr_update_deployment_passwords_never_show_at_vvvv(configmgr_psrp_lab, ansible):
    result = ansible(RUN_TARGET, configmgr_psrp_lab.extra_vars(target="configmgr_update_deployment"),
                     verbosity=4).assert_ok()
    assert configmgr_psrp_lab.psrp.password in configmgr_psrp_lab.lab.passwords
    assert configmgr_psrp_lab.endpoint["password"] in configmgr_psrp_lab.lab.passwords
    assert "configmgr_update_deployment" in result.output
