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
