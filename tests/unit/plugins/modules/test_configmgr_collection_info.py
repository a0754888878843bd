# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.vmops.datacenter.plugins.modules import configmgr_collection_info

WMI = "/AdminService/wmi/"
BASIC = dict(auth="basic")
MEMBER_SELECT = "ResourceID,Name,Domain,IsDirect,IsClient"


def values(*rows):
    return {"value": list(rows)}


def coll(cid, name, members=0):
    return {"CollectionID": cid, "Name": name, "Comment": "", "LimitToCollectionID": "SMS00001",
            "LimitToCollectionName": "All Systems", "MemberCount": members, "CollectionType": 2,
            "LastRefreshTime": "2026-11-22T07:00:00Z"}


def member(rid, name, direct=True):
    return {"ResourceID": rid, "Name": name, "Domain": "LAB", "IsDirect": direct, "IsClient": True}


TO_PATCH = coll("LAB00010", "Hyper-V hosts to patch", members=2)


def expect_members(api, cid, *rows):
    api.expect("GET", WMI + "SMS_FullCollectionMembership",
               params={"$filter": "CollectionID eq '%s'" % cid, "$select": MEMBER_SELECT}, json=values(*rows))


def test_members_of_a_named_collection_sorted_by_name(api, run_module):
    api.expect("GET", WMI + "SMS_Collection", params={"$filter": "Name eq 'Hyper-V hosts to patch'"},
               json=values(TO_PATCH))
    expect_members(api, "LAB00010", member(16777221, "HV-PROD-02"), member(16777220, "HV-PROD-01", direct=False))
    result = run_module(configmgr_collection_info, dict(BASIC, name=["Hyper-V hosts to patch"],
                                                        query="collections[0].members[].name"))
    assert result["changed"] is False
    found = result["collections"][0]
    assert found["collection_id"] == "LAB00010" and found["member_count"] == 2
    assert found["members"][0] == dict(name="HV-PROD-01", resource_id=16777220, domain="LAB", direct=False,
                                       client=True)
    assert result["query_result"] == ["HV-PROD-01", "HV-PROD-02"]


def test_a_collection_id_is_looked_up_by_id_and_members_can_be_left_out(api, run_module):
    api.expect("GET", WMI + "SMS_Collection", params={"$filter": "CollectionID eq 'LAB00010'"}, json=values(TO_PATCH))
    result = run_module(configmgr_collection_info, dict(BASIC, name=["lab00010"], members=False))
    assert result["collections"][0]["name"] == "Hyper-V hosts to patch"
    assert result["collections"][0]["members"] == []


def test_without_names_every_device_collection(api, run_module):
    api.expect("GET", WMI + "SMS_Collection", params={"$filter": "CollectionType eq 2", "$orderby": "Name"},
               json=values(coll("SMS00001", "All Systems"), TO_PATCH))
    result = run_module(configmgr_collection_info, dict(BASIC, members=False))
    assert [c["collection_id"] for c in result["collections"]] == ["SMS00001", "LAB00010"]


def test_unknown_and_ambiguous_names_fail_naming_them(api, run_module):
    api.expect("GET", WMI + "SMS_Collection", params={"$filter": "Name eq 'Nope'"}, json=values())
    api.expect("GET", WMI + "SMS_Collection", params={"$filter": "Name eq 'Twice'"},
               json=values(coll("LAB00020", "Twice"), coll("LAB00021", "twice")))
    result = run_module(configmgr_collection_info, dict(BASIC, name=["Nope", "Twice"]))
    assert result["failed"]
    assert "no collection called 'Nope'" in result["msg"]
    assert "more than one collection called 'Twice' (LAB00020, LAB00021)" in result["msg"]
    assert not api.calls("POST")


def test_a_bad_query_fails_before_any_request(api, run_module):
    result = run_module(configmgr_collection_info, dict(BASIC, name=["x"], query="collections[?"))
    assert result["failed"] and "Invalid query" in result["msg"]
    assert not api.calls("GET")
