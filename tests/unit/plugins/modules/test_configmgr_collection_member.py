# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.vmops.datacenter.plugins.modules import configmgr_collection_member

WMI = "/AdminService/wmi/"
DIRECT = "#AdminService.SMS_CollectionRuleDirect"
SELECT = "ResourceID,Name,ResourceNames,Client,Active"
MEMBERS = {"$filter": "CollectionID eq 'LAB00011'", "$select": "ResourceID"}
ARGS = dict(auth="basic", collection="LAB00011", devices=["hv-prod-01.lab.local", "HV-PROD-02"], poll_interval=2)


def values(*rows):
    return {"value": list(rows)}


def rule(name, rid):
    return {"@odata.type": DIRECT, "ResourceClassName": "SMS_R_System", "RuleName": name, "ResourceID": rid}


def collection(*rules, limit="SMS00001"):
    return values({"CollectionID": "LAB00011", "Name": "Hyper-V patch", "LimitToCollectionID": limit,
                   "CollectionRules": list(rules)})


TWO_HOSTS = [{"ResourceID": 1, "Name": "HV-PROD-01"}, {"ResourceID": 2, "Name": "HV-PROD-02"}]


def expect_reads(api, rules=(), members=(), limit="SMS00001"):
    api.expect("GET", WMI + "SMS_Collection('LAB00011')", json=collection(*rules, limit=limit))
    api.expect("GET", WMI + "SMS_R_System", params={
        "$filter": "(Name eq 'HV-PROD-01' or Name eq 'HV-PROD-02') and Obsolete eq 0", "$select": SELECT},
        json=values(*TWO_HOSTS))
    api.expect("GET", WMI + "SMS_FullCollectionMembership", params=MEMBERS,
               json=values(*({"ResourceID": m} for m in members)))


def test_rules_in_place_and_evaluated_is_a_noop_in_three_requests(api, run_module):
    expect_reads(api, rules=[rule("HV-PROD-01", 1), rule("HV-PROD-02", 2)], members=[1, 2])
    result = run_module(configmgr_collection_member, ARGS)
    assert result["changed"] is False and result["refreshed"] is False
    assert [d["action"] for d in result["devices"]] == ["none", "none"]
    assert len(api.made) == 3


def test_adds_the_missing_rules_in_one_call_refreshes_and_waits_for_evaluation(api, run_module):
    expect_reads(api, rules=[rule("HV-PROD-01", 1)], members=[1])
    api.expect("POST", WMI + "SMS_Collection('LAB00011')/AdminService.AddMembershipRule",
               body={"collectionRule": rule("HV-PROD-02", 2)}, json={"ReturnValue": 0, "QueryID": 0})
    api.expect("POST", WMI + "SMS_Collection('LAB00011')/AdminService.RequestRefresh", body={}, json={"ReturnValue": 0})
    api.expect("GET", WMI + "SMS_FullCollectionMembership", params=MEMBERS, json=values({"ResourceID": 1}))
    api.expect("GET", WMI + "SMS_FullCollectionMembership", params=MEMBERS,
               json=values({"ResourceID": 1}, {"ResourceID": 2}))
    result = run_module(configmgr_collection_member, ARGS, diff=True)
    assert result["changed"] is True and result["refreshed"] is True
    assert [(d["name"], d["action"], d["member"]) for d in result["devices"]] == [
        ("HV-PROD-01", "none", True), ("HV-PROD-02", "add", True)]
    assert result["members"] == [1, 2]
    assert result["diff"] == {"before": {"direct_rules": [1]}, "after": {"direct_rules": [1, 2]}}
    assert api.sleeps == [2]


def test_removes_many_rules_at_once_without_waiting(api, run_module):
    expect_reads(api, rules=[rule("HV-PROD-01", 1), rule("HV-PROD-02", 2), rule("HV-TEST-01", 5)], members=[1, 2, 5])
    api.expect("POST", WMI + "SMS_Collection('LAB00011')/AdminService.DeleteMembershipRules",
               body={"collectionRules": [rule("HV-PROD-01", 1), rule("HV-PROD-02", 2)]}, json={"ReturnValue": 0})
    api.expect("POST", WMI + "SMS_Collection('LAB00011')/AdminService.RequestRefresh", json={"ReturnValue": 0})
    result = run_module(configmgr_collection_member, dict(ARGS, state="absent", wait=False))
    assert result["changed"] is True
    assert [d["action"] for d in result["devices"]] == ["remove", "remove"]
    assert [d["member"] for d in result["devices"]] == [True, True]  # until the site evaluates the collection


def test_check_mode_plans_and_changes_nothing(api, run_module):
    expect_reads(api)
    result = run_module(configmgr_collection_member, ARGS, check_mode=True)
    assert result["changed"] is True and [d["action"] for d in result["devices"]] == ["add", "add"]
    assert not api.calls("POST")


def test_rules_from_a_run_that_did_not_wait_are_awaited_without_a_change(api, run_module):
    expect_reads(api, rules=[rule("HV-PROD-01", 1), rule("HV-PROD-02", 2)], members=[])
    api.expect("POST", WMI + "SMS_Collection('LAB00011')/AdminService.RequestRefresh", json={"ReturnValue": 0})
    api.expect("GET", WMI + "SMS_FullCollectionMembership", params=MEMBERS,
               json=values({"ResourceID": 1}, {"ResourceID": 2}))
    result = run_module(configmgr_collection_member, ARGS)
    assert result["changed"] is False and result["refreshed"] is True and result["members"] == [1, 2]


def test_evaluation_that_does_not_come_times_out_clearly(api, run_module):
    expect_reads(api, rules=[rule("HV-PROD-01", 1), rule("HV-PROD-02", 2)], members=[])
    api.expect("POST", WMI + "SMS_Collection('LAB00011')/AdminService.RequestRefresh", json={"ReturnValue": 0})
    for _attempt in range(3):
        api.expect("GET", WMI + "SMS_FullCollectionMembership", params=MEMBERS, json=values())
    result = run_module(configmgr_collection_member, dict(ARGS, wait_timeout=4))
    assert result["failed"] and "still missing [1, 2]" in result["msg"] and "wait_timeout" in result["msg"]


def test_unknown_and_duplicate_devices_fail_before_any_change(api, run_module):
    api.expect("GET", WMI + "SMS_Collection('LAB00011')", json=collection())
    api.expect("GET", WMI + "SMS_R_System", params={
        "$filter": "(Name eq 'HV-PROD-01' or Name eq 'HV-PROD-02') and Obsolete eq 0", "$select": SELECT},
        json=values({"ResourceID": 1, "Name": "HV-PROD-01"}, {"ResourceID": 7, "Name": "HV-PROD-01"}))
    result = run_module(configmgr_collection_member, ARGS)
    assert result["failed"]
    assert result["msg"] == ("Devices unknown to the site: HV-PROD-02; known more than once: hv-prod-01.lab.local "
                             "(ResourceIDs 1, 7) (remove the stale records). Nothing was changed.")


def test_a_device_outside_the_limiting_collection_is_refused(api, run_module):
    expect_reads(api, limit="LAB00010")
    api.expect("GET", WMI + "SMS_FullCollectionMembership",
               params={"$filter": "CollectionID eq 'LAB00010'", "$select": "ResourceID"}, json=values({"ResourceID": 1}))
    result = run_module(configmgr_collection_member, ARGS)
    assert result["failed"] and result["msg"].startswith("HV-PROD-02 is not in LAB00010, the limiting collection of")


def test_collection_by_name_and_unknown_collection(api, run_module):
    api.expect("GET", WMI + "SMS_Collection", params={"$filter": "Name eq 'No such'"}, json=values())
    result = run_module(configmgr_collection_member, dict(ARGS, collection="No such"))
    assert result["failed"] and result["msg"] == "ConfigMgr has no collection 'No such'; nothing was changed."


def test_empty_device_list_is_refused(run_module):
    result = run_module(configmgr_collection_member, dict(ARGS, devices=[" "]))
    assert result["failed"] and "at least one device" in result["msg"]
