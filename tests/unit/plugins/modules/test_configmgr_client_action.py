# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import requests

from ansible_collections.vmops.datacenter.plugins.modules import configmgr_client_action

WMI = "/AdminService/wmi/"
OPERATION = WMI + "SMS_ClientOperation.InitiateClientOperation"
ARGS = dict(auth="basic", collection="Hyper-V patch", action="machine_policy")
MEMBERS = {"$filter": "CollectionID eq 'LAB00011'", "$select": "ResourceID"}


def values(*rows):
    return {"value": list(rows)}


def expect_collection(api):
    api.expect("GET", WMI + "SMS_Collection", params={"$filter": "Name eq 'Hyper-V patch'"},
               json=values({"CollectionID": "LAB00011", "Name": "Hyper-V patch"}))
    api.expect("GET", WMI + "SMS_Collection('LAB00011')", json=values({"CollectionID": "LAB00011",
                                                                       "Name": "Hyper-V patch"}))


def expect_device(api, rid=1):
    api.expect("GET", WMI + "SMS_R_System", params={"$filter": "(Name eq 'HV-01') and Obsolete eq 0",
                                                    "$select": "ResourceID,Name,ResourceNames,Client,Active"},
               json=values({"ResourceID": rid, "Name": "HV-01"}))


def test_notifies_the_named_members(api, run_module):
    expect_collection(api)
    expect_device(api)
    api.expect("GET", WMI + "SMS_FullCollectionMembership", params=MEMBERS, json=values({"ResourceID": 1}))
    api.expect("POST", OPERATION, body={"Type": 8, "TargetCollectionID": "LAB00011", "RandomizationWindow": 0,
                                        "TargetResourceIDs": [1]}, json={"OperationID": 16777217, "ReturnValue": 0})
    result = run_module(configmgr_client_action, dict(ARGS, devices=["hv-01.lab.local", "HV-01"]))
    assert result["changed"] is True and result["operation_id"] == 16777217 and result["type"] == 8
    assert result["devices"] == [dict(name="HV-01", resource_id=1)]


def test_the_whole_collection_and_check_mode(api, run_module):
    expect_collection(api)
    result = run_module(configmgr_client_action, dict(ARGS, action="software_update_evaluation"), check_mode=True)
    assert result["changed"] is True and result["operation_id"] is None and result["type"] == 14
    expect_collection(api)
    api.expect("POST", OPERATION, body={"Type": 17, "TargetCollectionID": "LAB00011", "RandomizationWindow": 0,
                                        "TargetResourceIDs": []}, json={"OperationID": 5, "ReturnValue": 0})
    assert run_module(configmgr_client_action, dict(ARGS, action="restart"))["operation_id"] == 5


def test_a_device_that_is_not_an_evaluated_member_is_refused(api, run_module):
    expect_collection(api)
    expect_device(api, rid=2)
    api.expect("GET", WMI + "SMS_FullCollectionMembership", params=MEMBERS, json=values({"ResourceID": 1}))
    result = run_module(configmgr_client_action, dict(ARGS, devices=["HV-01"]))
    assert result["failed"] and result["msg"].startswith("HV-01 is not an evaluated member of Hyper-V patch (LAB00011)")


def test_an_ambiguous_failure_is_not_sent_again(api, run_module):
    expect_collection(api)
    api.expect_exception("POST", OPERATION, requests.exceptions.ConnectionError("reset by peer"))
    result = run_module(configmgr_client_action, ARGS)
    assert result["failed"] and "not repeated automatically" in result["msg"]
    assert result["configmgr_error"]["method"] == "POST"
