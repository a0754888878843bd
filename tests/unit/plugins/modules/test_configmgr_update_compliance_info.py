# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json

from ansible_collections.vmops.datacenter.plugins.modules import configmgr_update_compliance_info

WMI = "/AdminService/wmi/"
ARGS = dict(auth="basic", deployment_id=300)
CU, NET = 11, 12
DEPLOYMENT = {"AssignmentID": 300, "AssignmentName": "Patch", "AssignedCIs": [CU, NET], "AssignedUpdateGroup": 50,
              "TargetCollectionID": "LAB00011", "Enabled": True}


def values(*rows):
    return {"value": list(rows)}


def state(machine, ci, status, message=None, name=None, error=0):
    return {"MachineID": machine, "CI_ID": ci, "Status": status, "ArticleID": str(5000 + ci),
            "LastEnforcementMessageID": message, "LastEnforcementMessageName": name, "LastErrorCode": error}


def asset(rid, name, status_type, error=0):
    return {"ResourceID": rid, "DeviceName": name, "StatusType": status_type, "StatusErrorCode": error}


def expect_deployment(api):
    api.expect("GET", WMI + "SMS_UpdatesAssignment", params={"$filter": "AssignmentID eq 300"}, json=values(DEPLOYMENT))
    api.expect("GET", WMI + "SMS_SoftwareUpdate", params={
        "$filter": "(CI_ID eq 11 or CI_ID eq 12)", "$select": "CI_ID,ArticleID,BulletinID,LocalizedDisplayName"},
        json=values({"CI_ID": CU, "ArticleID": "5011", "LocalizedDisplayName": "CU"},
                    {"CI_ID": NET, "ArticleID": "5012", "LocalizedDisplayName": ".NET"}))


def test_every_targeted_device_judged_only_on_the_deployments_updates(api, run_module):
    expect_deployment(api)
    api.expect("GET", WMI + "SMS_SUMDeploymentAssetDetails", params={"$filter": "AssignmentID eq 300"},
               json=values(asset(1, "HV-01", 1), asset(2, "HV-02", 2), asset(3, "HV-03", 5, error=-2147023293),
                           asset(4, "HV-04", 4)))
    api.expect("GET", WMI + "SMS_UpdateComplianceStatus", params={
        "$filter": "(MachineID eq 1 or MachineID eq 2 or MachineID eq 3 or MachineID eq 4) and (CI_ID eq 11 or CI_ID eq 12)"},
        json=values(state(1, CU, 3, 4, "Successfully installed update(s)"), state(1, NET, 1),
                    state(2, CU, 2, 5, "Pending system restart"), state(2, NET, 3, 4),
                    state(3, CU, 2, 6, "Failed to install update(s)", error=-2147023293), state(3, NET, 3, 4),
                    state(4, CU, 2), state(4, NET, 2)))
    api.expect("GET", WMI + "SMS_CombinedDeviceResources", params={
        "$filter": "(ResourceID eq 1 or ResourceID eq 2 or ResourceID eq 3 or ResourceID eq 4)",
        "$select": "ResourceID,CNIsOnline"},
        json=values({"ResourceID": 1, "CNIsOnline": True}, {"ResourceID": 2, "CNIsOnline": False}))
    result = run_module(configmgr_update_compliance_info, ARGS)
    assert result["changed"] is False
    devices = dict((d["name"], d) for d in result["devices"])
    assert devices["HV-01"]["compliant"] and devices["HV-01"]["deployment_status"] == "success"
    assert devices["HV-02"]["pending_reboot"] and not devices["HV-02"]["compliant"]
    assert devices["HV-02"]["online"] is False and devices["HV-04"]["online"] is None
    assert devices["HV-03"]["failed"] and devices["HV-03"]["error_code"] == -2147023293
    assert devices["HV-04"]["deployment_status"] == "unknown" and not devices["HV-04"]["failed"]
    assert devices["HV-02"]["updates"][0] == dict(ci_id=CU, article_id="5011", status="required",
                                                  enforcement="Pending system restart", enforcement_id=5, error_code=0)
    assert result["summary"] == dict(total=4, compliant=1, in_progress=1, pending_reboot=1, failed=1, unknown=1)
    assert result["all_compliant"] is False
    assert result["updates"] == [dict(ci_id=CU, article_id="5011", title="CU"), dict(ci_id=NET, article_id="5012",
                                                                                     title=".NET")]


def test_named_devices_include_one_the_deployment_does_not_target(api, run_module):
    expect_deployment(api)
    api.expect("GET", WMI + "SMS_R_System", params={
        "$filter": "(Name eq 'HV-01' or Name eq 'HV-09') and Obsolete eq 0",
        "$select": "ResourceID,Name,ResourceNames,Client,Active"},
        json=values({"ResourceID": 1, "Name": "HV-01"}, {"ResourceID": 9, "Name": "HV-09"}))
    api.expect("GET", WMI + "SMS_SUMDeploymentAssetDetails",
               params={"$filter": "AssignmentID eq 300 and (ResourceID eq 1 or ResourceID eq 9)"},
               json=values(asset(1, "HV-01", 1)))
    api.expect("GET", WMI + "SMS_UpdateComplianceStatus", params={
        "$filter": "(MachineID eq 1 or MachineID eq 9) and (CI_ID eq 11 or CI_ID eq 12)"},
        json=values(state(1, CU, 3), state(1, NET, 3), state(9, CU, 3), state(9, NET, 1)))
    api.expect("GET", WMI + "SMS_CombinedDeviceResources", params={
        "$filter": "(ResourceID eq 1 or ResourceID eq 9)", "$select": "ResourceID,CNIsOnline"}, json=values())
    result = run_module(configmgr_update_compliance_info, dict(ARGS, devices=["hv-01.lab.local", "hv-09"],
                                                               query="devices[?compliant].name"))
    assert [d["deployment_status"] for d in result["devices"]] == ["success", "not_targeted"]
    assert result["all_compliant"] is True
    assert result["query_result"] == ["HV-01", "HV-09"]


def test_deployment_by_name_must_be_unique(api, run_module):
    api.expect("GET", WMI + "SMS_UpdatesAssignment", params={"$filter": "AssignmentName eq 'Patch'"},
               json=values(DEPLOYMENT, dict(DEPLOYMENT, AssignmentID=301)))
    result = run_module(configmgr_update_compliance_info, dict(auth="basic", deployment="Patch"))
    assert result["failed"] and "AssignmentIDs 300, 301" in result["msg"]
    api.expect("GET", WMI + "SMS_UpdatesAssignment", params={"$filter": "AssignmentID eq 300"}, json=values())
    result = run_module(configmgr_update_compliance_info, ARGS)
    assert result["failed"] and result["msg"] == "ConfigMgr has no software update deployment 300."


def test_a_malformed_query_fails_before_any_request(run_module):
    result = run_module(configmgr_update_compliance_info, dict(ARGS, query="devices[?"))
    assert result["failed"] and "Invalid query" in result["msg"]


def expect_host_read(api, status_type, cu, net):
    api.expect("GET", WMI + "SMS_SUMDeploymentAssetDetails",
               params={"$filter": "AssignmentID eq 300 and (ResourceID eq 1)"}, json=values(asset(1, "HV-01", status_type)))
    api.expect("GET", WMI + "SMS_UpdateComplianceStatus", params={
        "$filter": "MachineID eq 1 and (CI_ID eq 11 or CI_ID eq 12)"}, json=values(cu, net))
    api.expect("GET", WMI + "SMS_CombinedDeviceResources", params={
        "$filter": "(ResourceID eq 1)", "$select": "ResourceID,CNIsOnline"},
        json=values({"ResourceID": 1, "CNIsOnline": True}))


def expect_named_host(api):
    api.expect("GET", WMI + "SMS_R_System", params={
        "$filter": "(Name eq 'HV-01') and Obsolete eq 0", "$select": "ResourceID,Name,ResourceNames,Client,Active"},
        json=values({"ResourceID": 1, "Name": "HV-01"}))


def test_wait_until_polls_the_named_device_until_it_reaches_a_state(api, run_module, tmp_path, monkeypatch):
    status_file = tmp_path / "status.json"
    monkeypatch.setenv("VMOPS_PROGRESS_FILE", str(status_file))
    expect_deployment(api)
    expect_named_host(api)
    expect_host_read(api, 2, state(1, CU, 2), state(1, NET, 3, 4))
    expect_host_read(api, 2, state(1, CU, 2, 5, "Pending system restart"), state(1, NET, 3, 4))
    result = run_module(configmgr_update_compliance_info, dict(ARGS, devices=["HV-01"], poll_interval=7,
                                                               wait_until=["compliant", "pending_reboot", "failed"]))
    assert api.sleeps == [7]
    assert result["devices"][0]["pending_reboot"] and result["timed_out"] is False and result["waited"] >= 0
    line = json.loads(status_file.read_text())["text"]
    assert line.startswith("Patch: HV-01 not compliant yet (1 installed, 1 required; deployment in progress), ")


def test_running_out_of_wait_timeout_is_reported_not_raised(api, run_module):
    expect_deployment(api)
    expect_named_host(api)
    for _read in range(3):
        expect_host_read(api, 2, state(1, CU, 2), state(1, NET, 2))
    result = run_module(configmgr_update_compliance_info, dict(ARGS, devices=["HV-01"], wait_timeout=5,
                                                               poll_interval=3, wait_until=["compliant"]))
    assert not result.get("failed") and result["timed_out"] is True
    assert api.sleeps == [3, 2] and result["waited"] == 5


def test_without_wait_until_one_read_and_no_wait(api, run_module):
    expect_deployment(api)
    expect_named_host(api)
    expect_host_read(api, 1, state(1, CU, 3), state(1, NET, 3))
    result = run_module(configmgr_update_compliance_info, dict(ARGS, devices=["HV-01"]))
    assert result["timed_out"] is False and result["waited"] == 0.0 and result["all_compliant"] is True


def test_several_devices_are_summed_up_while_waiting():
    entries = [dict(compliant=True, pending_reboot=False, failed=False),
               dict(compliant=False, pending_reboot=True, failed=False),
               dict(compliant=False, pending_reboot=False, failed=False)]
    assert configmgr_update_compliance_info.waiting_status(entries) == (
        "3 devices: 1 compliant, 1 restart pending, 0 failed, 1 other")
