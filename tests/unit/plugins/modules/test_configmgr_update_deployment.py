# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from ansible_collections.vmops.datacenter.plugins.module_utils._psrp import PsrpError
from ansible_collections.vmops.datacenter.plugins.modules import configmgr_update_deployment as module
from ansible_collections.vmops.datacenter.tests.unit.conftest import PASSWORD
from ansible_collections.vmops.datacenter.tests.unit.plugins.module_utils.test_vmm_client import FakeRunner

WMI = "/AdminService/wmi/"
PSRP_PASSWORD = "Psrp-site-unit-Pa55"
PSRP = dict(server="cmsite.test", username="LAB\\cmps", password=PSRP_PASSWORD, auth="basic", ssl=False,
            encryption="never")
ARGS = dict(auth="basic", update_group="Hyper-V hosts 2026-11", collection="Hyper-V holding", site_code="LAB",
            available_time="2026-11-22T18:00:00Z", deadline="2026-11-22T21:00:00+01:00", user_notification="hide_all",
            suppress_restart_servers=True, psrp=PSRP)
NOW = datetime(2026, 11, 22, 7, 0, 0, tzinfo=timezone.utc)
UNIQUE = "{6F1A0E0C-1111-4222-8333-444455556666}"
GROUP = {"CI_ID": 16790001, "LocalizedDisplayName": "Hyper-V hosts 2026-11", "Updates": [11, 12, 13]}
HOLDING = {"CollectionID": "LAB00012", "Name": "Hyper-V holding", "LimitToCollectionID": "SMS00001"}
FILTER = {"$filter": "AssignedUpdateGroup eq 16790001 and TargetCollectionID eq 'LAB00012'"}


def values(*rows):
    return {"value": list(rows)}


def row(aid=16777301, unique=UNIQUE, name="Hyper-V hosts 2026-11 - Hyper-V holding", start="2026-11-22T18:00:00Z",
        deadline="2026-11-22T20:00:00Z", notify=False, ui=False, suppress=2, outside=False, override=False):
    return {"AssignmentID": aid, "AssignmentUniqueID": unique, "AssignmentName": name, "AssignedUpdateGroup": 16790001,
            "AssignedCIs": [11, 12, 13], "TargetCollectionID": "LAB00012", "StartTime": start,
            "EnforcementDeadline": deadline, "Enabled": True, "NotifyUser": notify, "UserUIExperience": ui,
            "SuppressReboot": suppress, "RebootOutsideOfServiceWindows": outside, "OverrideServiceWindows": override}


@pytest.fixture
def runner(monkeypatch):
    fake = FakeRunner()
    made = []

    def factory(params, product, connect=None):
        made.append(dict(params=params, product=product, connect=connect))
        return fake

    monkeypatch.setattr(module, "runner_from_params", factory)
    monkeypatch.setattr(module, "utc_now", lambda: NOW)
    fake.factory_calls = made
    yield fake
    fake.assert_all_consumed()


@pytest.fixture
def run(run_module, capsys):
    def call(args, **kwargs):
        result = run_module(module, args, **kwargs)
        assert PSRP_PASSWORD not in str(result)
        return result
    return call


def expect_lookups(api, by_name=True):
    if by_name:
        api.expect("GET", WMI + "SMS_AuthorizationList", params={
            "$filter": "LocalizedDisplayName eq 'Hyper-V hosts 2026-11'", "$select": "CI_ID,LocalizedDisplayName"},
            json=values({"CI_ID": 16790001, "LocalizedDisplayName": "Hyper-V hosts 2026-11"}))
    api.expect("GET", WMI + "SMS_AuthorizationList(16790001)", json=values(GROUP))
    api.expect("GET", WMI + "SMS_Collection", params={"$filter": "Name eq 'Hyper-V holding'"}, json=values(HOLDING))
    api.expect("GET", WMI + "SMS_Collection('LAB00012')", json=values(HOLDING))


def test_an_equal_deployment_is_a_noop_without_powershell(api, runner, run):
    expect_lookups(api)
    api.expect("GET", WMI + "SMS_UpdateGroupAssignment", params=FILTER, json=values(row()))
    result = run(ARGS)
    assert result["changed"] is False and result["action"] == "none" and result["differences"] == {}
    assert result["deployment"]["assignment_id"] == 16777301 and result["deployment"]["suppress_restart_servers"]
    assert runner.factory_calls == []  # no PowerShell session for a run that changes nothing
    assert len(api.calls()) == 5


def test_creates_through_powershell_and_reads_it_back(api, runner, run):
    expect_lookups(api)
    api.expect("GET", WMI + "SMS_UpdateGroupAssignment", params=FILTER, json=values())
    runner.expect("configmgr.update_deployment_new", dict(
        SoftwareUpdateGroupId="16790001", CollectionId="LAB00012", DeploymentName="Hyper-V hosts 2026-11 - Hyper-V holding",
        AvailableTime="2026-11-22T18:00:00Z", DeadlineTime="2026-11-22T20:00:00Z", UserNotification="HideAll",
        SuppressRestartServer=True), dict(assignment_id=16777301, assignment_unique_id=UNIQUE, name="x"))
    api.expect("GET", WMI + "SMS_UpdateGroupAssignment(16777301)", json=values(row()))
    result = run(ARGS, diff=True)
    assert result["changed"] is True and result["action"] == "create"
    assert result["deployment"]["assignment_unique_id"] == UNIQUE
    assert result["diff"] == {"before": None, "after": result["deployment"]}
    [made] = runner.factory_calls
    assert made["product"] == "configmgr" and made["params"]["server"] == "cmsite.test"
    assert made["params"]["password"] == PSRP_PASSWORD
    assert made["connect"] == {"ProviderMachineName": "vmstore1.test", "SiteCode": "LAB"}


def test_check_mode_plans_without_powershell(api, runner, run):
    api.expect("GET", WMI + "SMS_AuthorizationList(16790001)", json=values(GROUP))
    api.expect("GET", WMI + "SMS_Collection('LAB00012')", json=values(HOLDING))
    api.expect("GET", WMI + "SMS_UpdateGroupAssignment", params=FILTER, json=values())
    result = run(dict(auth="basic", update_group="16790001", collection="LAB00012"), check_mode=True)
    planned = result["deployment"]
    assert result["changed"] is True and planned["assignment_id"] is None
    assert (planned["available_time"], planned["deadline"]) == ("2026-11-22T07:00:00Z", "2026-11-22T07:00:00Z")
    assert planned["user_notification"] == "hide_all" and planned["updates"] == [11, 12, 13]
    assert not planned["suppress_restart_servers"] and runner.factory_calls == []


def test_differing_settings_are_listed_and_refused(api, runner, run):
    expect_lookups(api)
    api.expect("GET", WMI + "SMS_UpdateGroupAssignment", params=FILTER, json=values(row(
        deadline="2026-11-23T20:00:00Z", notify=True, ui=True, suppress=0)))
    result = run(ARGS)
    assert result["failed"] and result["changed"] is False
    assert set(result["differences"]) == {"deadline", "user_notification", "suppress_restart_servers"}
    assert result["differences"]["deadline"] == {"current": "2026-11-23T20:00:00Z", "requested": "2026-11-22T20:00:00Z"}
    assert "remove it with state=absent and deploy again. Nothing was changed." in result["msg"]
    assert runner.factory_calls == []


def test_unknown_group_or_collection_is_refused_before_any_change(api, runner, run):
    api.expect("GET", WMI + "SMS_AuthorizationList", params={
        "$filter": "LocalizedDisplayName eq 'Nope'", "$select": "CI_ID,LocalizedDisplayName"}, json=values())
    api.expect("GET", WMI + "SMS_Collection", params={"$filter": "Name eq 'Hyper-V holding'"}, json=values(HOLDING))
    api.expect("GET", WMI + "SMS_Collection('LAB00012')", json=values(HOLDING))
    result = run(dict(ARGS, update_group="Nope"))
    assert result["failed"] and "has no software update group 'Nope'; nothing was changed" in result["msg"]


def test_absent_removes_every_deployment_of_the_group_to_the_collection(api, runner, run, monkeypatch):
    monkeypatch.setenv("CONFIGMGR_PSRP_SERVER", "cmsite-env.test")
    monkeypatch.setenv("VMOPS_PSRP_SERVER", "vmm.test")  # the VMM server's variable is not used
    expect_lookups(api)
    other = "{00000000-0000-4000-8000-000000000002}"
    api.expect("GET", WMI + "SMS_UpdateGroupAssignment", params=FILTER, json=values(row(), row(aid=16777302, unique=other)))
    runner.expect("configmgr.update_deployment_remove", dict(DeploymentId=[UNIQUE, other]),
                  [dict(deployment_id=UNIQUE, removed=True), dict(deployment_id=other, removed=True)])
    result = run(dict(auth="basic", update_group="Hyper-V hosts 2026-11", collection="Hyper-V holding", state="absent"))
    assert result["changed"] is True and result["action"] == "delete"
    assert [d["assignment_id"] for d in result["removed"]] == [16777301, 16777302]
    [made] = runner.factory_calls
    # The env variable names the site server; without psrp credentials the AdminService account is used.
    assert made["params"]["server"] == "cmsite-env.test" and made["params"]["username"] == "admin"
    assert made["params"]["password"] == PASSWORD and made["connect"] == {"ProviderMachineName": "vmstore1.test"}


def test_absent_of_an_unknown_group_is_a_noop_with_a_warning(api, runner, run):
    api.expect("GET", WMI + "SMS_AuthorizationList", params={
        "$filter": "LocalizedDisplayName eq 'Gone'", "$select": "CI_ID,LocalizedDisplayName"}, json=values())
    api.expect("GET", WMI + "SMS_Collection", params={"$filter": "Name eq 'Hyper-V holding'"}, json=values(HOLDING))
    api.expect("GET", WMI + "SMS_Collection('LAB00012')", json=values(HOLDING))
    result = run(dict(auth="basic", update_group="Gone", collection="Hyper-V holding", state="absent"))
    assert result["changed"] is False and result["removed"] == []
    assert "no software update group 'Gone'" in str(result["warnings"])


def test_a_powershell_failure_is_reported_with_its_details(api, runner, run):
    expect_lookups(api)
    api.expect("GET", WMI + "SMS_UpdateGroupAssignment", params=FILTER, json=values())
    runner.expect("configmgr.update_deployment_new", dict(
        SoftwareUpdateGroupId="16790001", CollectionId="LAB00012", DeploymentName="Hyper-V hosts 2026-11 - Hyper-V holding",
        AvailableTime="2026-11-22T18:00:00Z", DeadlineTime="2026-11-22T20:00:00Z", UserNotification="HideAll",
        SuppressRestartServer=True),
        PsrpError("cmsite.test: configmgr.connect: PowerShell error X (OperationStopped): console missing",
                  server="cmsite.test", operation="configmgr.connect", category="OperationStopped",
                  ps_message="console missing"))
    result = run(ARGS)
    assert result["failed"] and "console missing" in result["msg"]
    assert result["psrp_error"]["operation"] == "configmgr.connect" and result["action"] == "create"


@pytest.mark.parametrize("args, message", [
    (dict(deadline="tomorrow"), "deadline must be an ISO 8601 time"),
    (dict(deadline="2026-11-22T17:00:00Z"), "is earlier than available_time"),
    (dict(collection=" "), "collection must not be empty"),
])
def test_bad_input_fails_before_any_call(api, runner, run, args, message):
    result = run(dict(ARGS, **args))
    assert result["failed"] and message in result["msg"]


def test_several_deployments_of_the_group_to_the_collection_are_refused_for_present(api, runner, run):
    expect_lookups(api)
    api.expect("GET", WMI + "SMS_UpdateGroupAssignment", params=FILTER, json=values(row(), row(aid=16777302)))
    result = run(ARGS)
    expected = "deployed 2 times to collection 'Hyper-V holding' (AssignmentID 16777301, 16777302)"
    assert result["failed"] and expected in result["msg"]
    assert runner.factory_calls == []
