# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.vmops.datacenter.plugins.modules import configmgr_collection

WMI = "/AdminService/wmi/"
BASIC = dict(auth="basic")
BY_NAME = {"$filter": "Name eq 'Hyper-V patch'"}


def values(*rows):
    return {"value": list(rows)}


def coll(cid, name, limit="SMS00001", limit_name="All Systems", comment="", members=0):
    return {"CollectionID": cid, "Name": name, "Comment": comment, "LimitToCollectionID": limit,
            "LimitToCollectionName": limit_name, "MemberCount": members, "CollectionType": 2}


ALL_SYSTEMS = coll("SMS00001", "All Systems", limit="", limit_name="")
PATCH = coll("LAB00011", "Hyper-V patch", comment="Hosts being patched")


def test_existing_collection_is_a_noop(api, run_module):
    api.expect("GET", WMI + "SMS_Collection", params=BY_NAME, json=values(PATCH))
    api.expect("GET", WMI + "SMS_Collection('SMS00001')", json=values(ALL_SYSTEMS))
    result = run_module(configmgr_collection, dict(BASIC, name="Hyper-V patch", comment="Hosts being patched"))
    assert result["changed"] is False and result["action"] == "none"
    assert result["collection"]["collection_id"] == "LAB00011"
    assert "warnings" not in result


def test_creates_limited_to_a_named_collection(api, run_module):
    api.expect("GET", WMI + "SMS_Collection", params=BY_NAME, json=values())
    api.expect("GET", WMI + "SMS_Collection", params={"$filter": "Name eq 'Hyper-V hosts'"},
               json=values(coll("LAB00010", "Hyper-V hosts")))
    api.expect("GET", WMI + "SMS_Collection('LAB00010')", json=values(coll("LAB00010", "Hyper-V hosts")))
    api.expect("POST", WMI + "SMS_Collection", status=201, body={
        "Name": "Hyper-V patch", "LimitToCollectionID": "LAB00010", "CollectionType": 2, "Comment": "now"},
        json=coll("LAB00020", "Hyper-V patch", limit="LAB00010", limit_name="Hyper-V hosts", comment="now"))
    result = run_module(configmgr_collection, dict(BASIC, name="Hyper-V patch", limiting_collection="Hyper-V hosts",
                                                   comment="now"), diff=True)
    assert result["changed"] is True and result["action"] == "create"
    assert result["collection"]["collection_id"] == "LAB00020"
    assert result["diff"] == {"before": None, "after": result["collection"]}


def test_check_mode_plans_the_creation_without_posting(api, run_module):
    api.expect("GET", WMI + "SMS_Collection", params=BY_NAME, json=values())
    api.expect("GET", WMI + "SMS_Collection('SMS00001')", json=values(ALL_SYSTEMS))
    result = run_module(configmgr_collection, dict(BASIC, name="Hyper-V patch"), check_mode=True)
    assert result["changed"] is True and result["collection"]["collection_id"] is None
    assert result["collection"]["limit_to_collection_name"] == "All Systems"
    assert not api.calls("POST")


def test_another_limit_is_refused_and_another_comment_is_a_warning(api, run_module):
    api.expect("GET", WMI + "SMS_Collection", params=BY_NAME, json=values(PATCH))
    api.expect("GET", WMI + "SMS_Collection('LAB00012')", json=values(coll("LAB00012", "Hyper-V holding")))
    result = run_module(configmgr_collection, dict(BASIC, name="Hyper-V patch", limiting_collection="LAB00012"))
    assert result["failed"] and "is limited to All Systems (SMS00001), not to Hyper-V holding" in result["msg"]
    api.expect("GET", WMI + "SMS_Collection", params=BY_NAME, json=values(PATCH))
    api.expect("GET", WMI + "SMS_Collection('SMS00001')", json=values(ALL_SYSTEMS))
    result = run_module(configmgr_collection, dict(BASIC, name="Hyper-V patch", comment="other"))
    assert result["changed"] is False and "keeps its comment" in str(result["warnings"])


def test_unknown_limiting_collection_fails_before_any_change(api, run_module):
    api.expect("GET", WMI + "SMS_Collection", params=BY_NAME, json=values())
    api.expect("GET", WMI + "SMS_Collection", params={"$filter": "Name eq 'Nope'"}, json=values())
    result = run_module(configmgr_collection, dict(BASIC, name="Hyper-V patch", limiting_collection="Nope"))
    assert result["failed"] and "'Nope' does not exist" in result["msg"]


def test_deletes_and_then_is_a_noop(api, run_module):
    api.expect("GET", WMI + "SMS_Collection", params=BY_NAME, json=values(PATCH))
    api.expect("DELETE", WMI + "SMS_Collection('LAB00011')", status=204)
    result = run_module(configmgr_collection, dict(BASIC, name="Hyper-V patch", state="absent"), diff=True)
    assert result["changed"] is True and result["action"] == "delete"
    assert result["diff"]["before"]["collection_id"] == "LAB00011" and result["diff"]["after"] is None
    api.expect("GET", WMI + "SMS_Collection", params=BY_NAME, json=values())
    result = run_module(configmgr_collection, dict(BASIC, name="Hyper-V patch", state="absent"))
    assert result["changed"] is False and result["action"] == "none"


def test_a_refused_deletion_reports_the_site_error(api, run_module):
    api.expect("GET", WMI + "SMS_Collection", params=BY_NAME, json=values(PATCH))
    api.expect("DELETE", WMI + "SMS_Collection('LAB00011')", status=400, json={"error": {
        "code": "BadRequest", "message": "Collection 'LAB00011' is the target of deployment(s) 16777300."}})
    result = run_module(configmgr_collection, dict(BASIC, name="Hyper-V patch", state="absent"))
    assert result["failed"]
    assert result["msg"].endswith("DELETE /AdminService/wmi/SMS_Collection('LAB00011') failed with HTTP 400 BadRequest: "
                                  "Collection 'LAB00011' is the target of deployment(s) 16777300.")
    assert result["configmgr_error"]["code"] == "BadRequest"


def test_connection_options_come_from_the_environment(api, run_module, monkeypatch):
    monkeypatch.setenv("CONFIGMGR_AUTH", "basic")
    monkeypatch.setenv("CONFIGMGR_PORT", "8443")
    api.expect("GET", WMI + "SMS_Collection", params=BY_NAME, json=values())
    result = run_module(configmgr_collection, dict(name="Hyper-V patch", state="absent"))
    assert result["changed"] is False
    call = api.calls()[0]
    assert call["host"] == "vmstore1.test:8443" and call["headers"]["Authorization"].startswith("Basic ")
    assert call["verify"] == "/etc/lab/ca.pem"
