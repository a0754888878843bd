# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import base64
import random

import pytest
import requests
import spnego
import urllib3

from ansible_collections.vmops.datacenter.plugins.module_utils._configmgr import (
    ConfigMgrApiError,
    ConfigMgrClient,
    ConfigMgrConnectionError,
    ConfigMgrTimeoutError,
    any_of,
    odata_string,
)

PASSWORD = "Pa55-cm-client-secret"
USER = "LAB\\cmadmin"
WMI = "/AdminService/wmi/"
CA = "/lab/ca.pem"


def client(auth="basic", **kwargs):
    kwargs.setdefault("rng", random.Random(7))
    return ConfigMgrClient("https://cm01.lab.test/", USER, PASSWORD, auth=auth, port=8443, ca_path=CA, **kwargs)


def values(rows, next_link=None):
    body = {"@odata.context": "https://cm01.lab.test:8443/AdminService/wmi/$metadata#X", "value": rows}
    if next_link:
        body["@odata.nextLink"] = next_link
    return body


def odata_error(code, message):
    return {"error": {"code": code, "message": message}}


def basic_header():
    return "Basic " + base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()


# -- requests, TLS, Basic ----------------------------------------------------------------------------


def test_basic_request_goes_to_the_admin_service_with_tls_verification_per_request(api):
    api.expect("GET", WMI + "SMS_R_System", params={"$filter": "Name eq 'HV-01'", "$select": "ResourceID,Name"},
               json=values([{"ResourceID": 1, "Name": "HV-01"}]))
    rows = client().query("/wmi/SMS_R_System", filter="Name eq 'HV-01'", select=["ResourceID", "Name"])
    assert rows == [{"ResourceID": 1, "Name": "HV-01"}]
    call = api.calls()[0]
    assert call["host"] == "cm01.lab.test:8443"
    assert call["verify"] == CA
    assert call["headers"]["Authorization"] == basic_header()


def test_validate_certs_false_is_passed_along_but_only_when_asked(api):
    api.expect("GET", WMI + "SMS_Collection", json=values([]))
    client(validate_certs=False).query("/wmi/SMS_Collection")
    assert api.calls()[0]["verify"] is False


def test_odata_literals_double_single_quotes():
    assert odata_string("O'Brien") == "'O''Brien'"
    assert any_of("Name", ["A", "B'"]) == "(Name eq 'A' or Name eq 'B''')"


# -- paging ----------------------------------------------------------------------------------------


def test_listing_follows_next_links_until_the_last_page(api):
    first = "https://cm01.lab.test:8443/AdminService/wmi/SMS_R_System?$filter=Client%20eq%201&$skip=2"
    second = "https://cm01.lab.test:8443/AdminService/wmi/SMS_R_System?$filter=Client%20eq%201&$skip=4"
    api.expect("GET", WMI + "SMS_R_System", params={"$filter": "Client eq 1"}, json=values([{"n": 1}, {"n": 2}], first))
    api.expect("GET", WMI + "SMS_R_System", params={"$filter": "Client eq 1", "$skip": "2"},
               json=values([{"n": 3}, {"n": 4}], second))
    api.expect("GET", WMI + "SMS_R_System", params={"$filter": "Client eq 1", "$skip": "4"}, json=values([{"n": 5}]))
    assert [r["n"] for r in client().query("/wmi/SMS_R_System", filter="Client eq 1")] == [1, 2, 3, 4, 5]


def test_a_next_link_to_another_server_is_not_followed_with_the_credentials(api):
    api.expect("GET", WMI + "SMS_R_System", json=values([{"n": 1}], "https://elsewhere.test/AdminService/wmi/X?$skip=1"))
    with pytest.raises(ConfigMgrApiError, match="another server"):
        client().query("/wmi/SMS_R_System")


def test_a_listing_without_a_value_array_is_an_error(api):
    api.expect("GET", WMI + "SMS_R_System", json={"Name": "not a listing"})
    with pytest.raises(ConfigMgrApiError, match="no OData value array"):
        client().query("/wmi/SMS_R_System")


def test_instance_reads_accept_the_wmi_array_the_v1_entity_and_404(api):
    api.expect("GET", WMI + "SMS_Collection('LAB00010')", json=values([{"CollectionID": "LAB00010"}]))
    api.expect("GET", "/AdminService/v1.0/Device(16777220)", json={"MachineId": 16777220})
    api.expect("GET", WMI + "SMS_Collection('LAB0FFFF')", status=404, json=odata_error("NotFound", "No collection."))
    cm = client()
    assert cm.get_collection("LAB00010") == {"CollectionID": "LAB00010"}
    assert cm.instance("/v1.0/Device(16777220)") == {"MachineId": 16777220}
    assert cm.get_collection("LAB0FFFF") is None


# -- Windows authentication ------------------------------------------------------------------------


@pytest.fixture
def acceptor(tmp_path, monkeypatch):
    """A real NTLM acceptor (pyspnego) that knows LAB\\cmadmin."""
    users = tmp_path / "ntlm_users"
    users.write_text("LAB:cmadmin:%s\n" % PASSWORD)
    monkeypatch.setenv("NTLM_USER_FILE", str(users))
    return spnego.server(hostname="cm01.lab.test", service="HTTP", protocol="negotiate")


def _leg(acceptor, scheme, final_json=None):
    def respond(call):
        label, token = call["headers"]["Authorization"].split(" ", 1)
        assert label == scheme
        out = acceptor.step(base64.b64decode(token))
        header = {"WWW-Authenticate": "%s %s" % (scheme, base64.b64encode(out).decode())} if out else {}
        if acceptor.complete:
            return dict(status=200, headers=header, json=final_json)
        return dict(status=401, headers=header, json=None)
    return respond


@pytest.mark.parametrize("auth, scheme", [("negotiate", "Negotiate"), ("ntlm", "NTLM")])
def test_windows_authentication_runs_the_handshake_and_resends_the_request(api, acceptor, auth, scheme):
    challenge = {"WWW-Authenticate": "Negotiate, NTLM"}
    api.expect("POST", WMI + "SMS_Collection('LAB00011')/AdminService.RequestRefresh", status=401, headers=challenge)
    api.expect("POST", WMI + "SMS_Collection('LAB00011')/AdminService.RequestRefresh", respond=_leg(acceptor, scheme))
    api.expect("POST", WMI + "SMS_Collection('LAB00011')/AdminService.RequestRefresh", body={},
               respond=_leg(acceptor, scheme, final_json={"ReturnValue": 0}))
    client(auth=auth).request_refresh("LAB00011")
    assert acceptor.complete and acceptor.client_principal == "LAB\\cmadmin"
    calls = api.calls()
    assert "Authorization" not in calls[0]["headers"]
    assert all(c["body"] == {} for c in calls)  # the body goes again with every leg
    assert all(PASSWORD not in str(c["headers"]) for c in calls)


def test_refused_windows_authentication_names_the_offer_and_never_the_password(api, tmp_path, monkeypatch):
    users = tmp_path / "ntlm_users"
    users.write_text("LAB:cmadmin:another-password\n")
    monkeypatch.setenv("NTLM_USER_FILE", str(users))
    acceptor = spnego.server(hostname="cm01.lab.test", service="HTTP", protocol="negotiate")

    def last(call):
        try:
            acceptor.step(base64.b64decode(call["headers"]["Authorization"].split(" ", 1)[1]))
        except spnego.exceptions.SpnegoError:
            pass
        return dict(status=401, headers={"WWW-Authenticate": "Negotiate, NTLM"}, json=None)

    api.expect("GET", WMI + "SMS_R_System", status=401, headers={"WWW-Authenticate": "Negotiate, NTLM"})
    api.expect("GET", WMI + "SMS_R_System", respond=_leg(acceptor, "Negotiate"))
    api.expect("GET", WMI + "SMS_R_System", respond=last)
    with pytest.raises(ConfigMgrApiError) as err:
        client(auth="negotiate").query("/wmi/SMS_R_System")
    text = str(err.value)
    assert "HTTP 401" in text and "negotiate, ntlm" in text and "DOMAIN\\user" in text
    assert PASSWORD not in text and err.value.status == 401


def test_basic_refused_by_a_windows_only_server_says_what_it_offers(api):
    api.expect("GET", WMI + "SMS_R_System", status=401, headers={"WWW-Authenticate": "Negotiate, NTLM"},
               text="<html>401 - Unauthorized</html>")
    with pytest.raises(ConfigMgrApiError, match=r"offers: negotiate, ntlm\). .*basic was used"):
        client().query("/wmi/SMS_R_System")


# -- errors ----------------------------------------------------------------------------------------


def test_odata_errors_name_server_method_path_status_code_and_message(api):
    api.expect("GET", WMI + "SMS_R_System", status=400,
               json=odata_error("BadRequest", "Could not find a property named 'Nmae' on type 'AdminService.SMS_R_System'."))
    with pytest.raises(ConfigMgrApiError) as err:
        client().query("/wmi/SMS_R_System", filter="Nmae eq 'x'")
    assert str(err.value) == (
        "ConfigMgr AdminService cm01.lab.test:8443: GET /AdminService/wmi/SMS_R_System failed with HTTP 400 BadRequest: "
        "Could not find a property named 'Nmae' on type 'AdminService.SMS_R_System'.")
    assert err.value.as_dict() == dict(server="cm01.lab.test:8443", method="GET", path="/AdminService/wmi/SMS_R_System",
                                       status=400, code="BadRequest",
                                       message="Could not find a property named 'Nmae' on type 'AdminService.SMS_R_System'.")


def test_an_echoed_password_is_redacted_and_html_errors_still_read_well(api):
    api.expect("POST", WMI + "SMS_Collection", status=400, json=odata_error("BadRequest", "bad value %s" % PASSWORD))
    api.expect("GET", WMI + "SMS_Collection", status=500, text="<html>Server Error</html>")
    cm = client()
    with pytest.raises(ConfigMgrApiError) as err:
        cm.create_collection("X", "SMS00001")
    assert PASSWORD not in str(err.value) and PASSWORD not in str(err.value.as_dict())
    with pytest.raises(ConfigMgrApiError, match="HTTP 500: Error."):
        cm.query("/wmi/SMS_Collection")


def test_403_says_a_role_is_missing(api):
    api.expect("POST", WMI + "SMS_Collection('LAB00011')/AdminService.RequestRefresh", status=403,
               json=odata_error("Forbidden", "Access denied"))
    with pytest.raises(ConfigMgrApiError, match="administrative role"):
        client().request_refresh("LAB00011")


def test_tls_failures_say_how_to_trust_the_site(api):
    api.expect_exception("GET", WMI + "SMS_R_System", requests.exceptions.SSLError("certificate verify failed"))
    with pytest.raises(ConfigMgrConnectionError, match="ca_path"):
        client().query("/wmi/SMS_R_System")


# -- retries ---------------------------------------------------------------------------------------


def refused():
    return requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(
        None, "/", urllib3.exceptions.NewConnectionError(None, "Connection refused")))


def test_reads_are_retried_with_capped_jittered_backoff(api):
    api.expect("GET", WMI + "SMS_R_System", status=503, json=odata_error("ServiceUnavailable", "busy"))
    api.expect_exception("GET", WMI + "SMS_R_System", requests.exceptions.ConnectionError("reset by peer"))
    api.expect("GET", WMI + "SMS_R_System", status=429)
    api.expect("GET", WMI + "SMS_R_System", json=values([{"n": 1}]))
    assert client().query("/wmi/SMS_R_System") == [{"n": 1}]
    assert len(api.sleeps) == 3
    assert 0.5 <= api.sleeps[0] <= 1.0 and 1.0 <= api.sleeps[1] <= 2.0 and 2.0 <= api.sleeps[2] <= 4.0


def test_retries_end_with_the_last_error(api):
    for _attempt in range(3):
        api.expect("GET", WMI + "SMS_R_System", status=503, json=odata_error("ServiceUnavailable", "busy"))
    with pytest.raises(ConfigMgrApiError, match="HTTP 503 ServiceUnavailable: busy"):
        client(retries=2).query("/wmi/SMS_R_System")


def test_membership_rules_and_refresh_are_retried_because_repeating_them_is_harmless(api):
    path = WMI + "SMS_Collection('LAB00011')/AdminService.AddMembershipRules"
    rules = [{"@odata.type": "#AdminService.SMS_CollectionRuleDirect", "ResourceClassName": "SMS_R_System",
              "RuleName": n, "ResourceID": r} for n, r in (("HV-01", 1), ("HV-02", 2))]
    api.expect("POST", path, status=502)
    api.expect("POST", path, body={"collectionRules": rules}, json={"ReturnValue": 0, "QueryIDs": [0, 0]})
    client().add_direct_rules("LAB00011", [{"Name": "HV-01", "ResourceID": 1}, {"Name": "HV-02", "ResourceID": 2}])


def test_a_failed_rule_method_reports_its_return_value(api):
    api.expect("POST", WMI + "SMS_Collection('LAB00011')/AdminService.DeleteMembershipRule",
               json={"ReturnValue": 2147749889})
    with pytest.raises(ConfigMgrApiError, match="returned 2147749889"):
        client().delete_direct_rules("LAB00011", [{"Name": "HV-01", "ResourceID": 1}])


def test_client_notification_is_not_repeated_after_an_ambiguous_failure(api):
    path = WMI + "SMS_ClientOperation.InitiateClientOperation"
    api.expect_exception("POST", path, refused())  # never left: safe to send again
    api.expect_exception("POST", path, requests.exceptions.ConnectionError("reset by peer"))
    with pytest.raises(ConfigMgrConnectionError, match="not repeated automatically"):
        client().client_operation(8, "LAB00011", [1])
    assert api.calls()[0]["body"] == {"Type": 8, "TargetCollectionID": "LAB00011", "RandomizationWindow": 0,
                                      "TargetResourceIDs": [1]}


def test_collection_creation_looks_before_sending_again(api):
    api.expect("POST", WMI + "SMS_Collection", status=504)
    api.expect("GET", WMI + "SMS_Collection", params={"$filter": "Name eq 'Patch ''A'''"},
               json=values([{"CollectionID": "LAB00020", "Name": "Patch 'A'"}]))
    assert client().create_collection("Patch 'A'", "SMS00001")["CollectionID"] == "LAB00020"
    assert api.calls()[0]["body"] == {"Name": "Patch 'A'", "LimitToCollectionID": "SMS00001", "CollectionType": 2,
                                      "Comment": ""}


# -- domain helpers --------------------------------------------------------------------------------


def test_devices_are_found_by_netbios_name_whatever_the_case_or_domain(api):
    api.expect("GET", WMI + "SMS_R_System", params={
        "$filter": "(Name eq 'HV-01' or Name eq 'HV-02') and Obsolete eq 0",
        "$select": "ResourceID,Name,ResourceNames,Client,Active"},
        json=values([{"ResourceID": 1, "Name": "HV-01"}, {"ResourceID": 9, "Name": "hv-01"}]))
    found = client().find_devices(["hv-01.lab.local", "HV-02"])
    assert [d["ResourceID"] for d in found["hv-01.lab.local"]] == [1, 9]  # duplicates are the caller's to judge
    assert found["HV-02"] == []


def test_compliance_is_read_only_for_the_updates_asked_for(api):
    api.expect("GET", WMI + "SMS_UpdateComplianceStatus",
               params={"$filter": "MachineID eq 7 and (CI_ID eq 11 or CI_ID eq 12)"}, json=values([{"CI_ID": 11}]))
    api.expect("GET", WMI + "SMS_UpdateComplianceStatus",
               params={"$filter": "(MachineID eq 7 or MachineID eq 8) and (CI_ID eq 11)"}, json=values([]))
    api.expect("GET", WMI + "SMS_SUMDeploymentAssetDetails",
               params={"$filter": "AssignmentID eq 300 and (ResourceID eq 7)"}, json=values([{"StatusType": 2}]))
    cm = client()
    assert cm.update_compliance([7], [12, 11, 12]) == [{"CI_ID": 11}]
    assert cm.update_compliance([8, 7], [11]) == []
    assert cm.deployment_assets(300, [7]) == [{"StatusType": 2}]
    assert cm.update_compliance([7], []) == []


def test_waiting_for_evaluated_membership(api):
    flt = {"$filter": "CollectionID eq 'LAB00011'", "$select": "ResourceID"}
    api.expect("GET", WMI + "SMS_FullCollectionMembership", params=flt, json=values([{"ResourceID": 2}]))
    api.expect("GET", WMI + "SMS_FullCollectionMembership", params=flt, json=values([{"ResourceID": 1}]))
    assert client().wait_for_members("LAB00011", present=[1], absent=[2], wait_timeout=30, poll_interval=5) == [1]
    assert api.sleeps == [5]


def test_waiting_for_membership_times_out_with_what_is_missing(api):
    flt = {"$filter": "CollectionID eq 'LAB00011'", "$select": "ResourceID"}
    for _attempt in range(3):
        api.expect("GET", WMI + "SMS_FullCollectionMembership", params=flt, json=values([]))
    with pytest.raises(ConfigMgrTimeoutError, match=r"still missing \[1\]"):
        client().wait_for_members("LAB00011", present=[1], wait_timeout=10, poll_interval=5)


def test_windows_authentication_against_a_basic_only_server_stops_at_the_first_401(api):
    api.expect("GET", WMI + "SMS_R_System", status=401, headers={"WWW-Authenticate": 'Basic realm="AdminService"'})
    with pytest.raises(ConfigMgrApiError, match=r"it offers: basic\). .*negotiate was used"):
        client(auth="negotiate").query("/wmi/SMS_R_System")
    assert len(api.made) == 1
