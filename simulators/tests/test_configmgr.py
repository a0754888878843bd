"""ConfigMgr AdminService simulator: OData, authentication, collections, compliance, faults, persistence."""

from __future__ import annotations

import base64

import pytest
import requests
import spnego

from simulators.configmgr import ConfigMgrServer
from simulators.configmgr.server import _channel_bindings
from simulators.pki import ensure_lab_ca

TIMINGS = {"evaluation_seconds": 5, "download_seconds": 2, "install_seconds": 3, "reboot_seconds": 4}
DIRECT = "#AdminService.SMS_CollectionRuleDirect"
HOSTS_TO_PATCH, PATCH, HOLDING = "LAB00010", "LAB00011", "LAB00012"
DEPLOYMENT = 16777300
PROD1, PROD2 = 16777220, 16777221
CU, DOTNET, MSRT, SSU = 16800001, 16800002, 16800003, 16800004


def ensure_lab_ca_path(ca_path):
    """The server certificate next to the lab CA (what the channel bindings are computed from)."""
    return str(ca_path).replace("lab-ca.pem", "server.pem")


class Site:
    def __init__(self, server: ConfigMgrServer, ca: str):
        self.server = server
        self.ca = ca
        self.ep = server.endpoints
        self.base = self.ep["url"] + "/AdminService/wmi/"
        self.http = requests.Session()
        self.http.auth = (self.ep["username"], self.ep["password"])

    def req(self, method, path, **kw):
        url = path if path.startswith("https://") else self.base + path
        return self.http.request(method, url, verify=self.ca, timeout=30, **kw)

    def ok(self, method, path, status=200, **kw):
        r = self.req(method, path, **kw)
        assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    def values(self, path, **params):
        """Every row, following @odata.nextLink."""
        body = self.ok("GET", path, params=params)
        rows = body["value"]
        while "@odata.nextLink" in body:
            body = self.ok("GET", body["@odata.nextLink"])
            rows += body["value"]
        return rows

    def admin(self, method, path, body=None):
        r = requests.request(method, self.ep["url"] + "/_sim/" + path, json=body, verify=self.ca, timeout=30)
        assert r.status_code in (200, 201), r.text
        return r.json()

    def advance(self, seconds):
        self.admin("POST", "clock", {"advance": seconds})

    def add_rule(self, collection, rid, name="HV-PROD-01", method="AddMembershipRule"):
        return self.ok("POST", f"SMS_Collection('{collection}')/AdminService.{method}", json={"collectionRule": {
            "@odata.type": DIRECT, "ResourceClassName": "SMS_R_System", "RuleName": name, "ResourceID": rid}})

    def refresh(self, collection):
        return self.ok("POST", f"SMS_Collection('{collection}')/AdminService.RequestRefresh", json={})

    def members(self, collection):
        return sorted(m["ResourceID"] for m in self.values(
            "SMS_FullCollectionMembership", **{"$filter": f"CollectionID eq '{collection}'"}))

    def notify(self, op_type, collection, ids):
        return self.ok("POST", "SMS_ClientOperation.InitiateClientOperation", json={
            "Type": op_type, "TargetCollectionID": collection, "RandomizationWindow": 0, "TargetResourceIDs": ids})

    def asset(self, rid):
        rows = self.values("SMS_SUMDeploymentAssetDetails",
                           **{"$filter": f"AssignmentID eq {DEPLOYMENT} and ResourceID eq {rid}"})
        assert len(rows) == 1, rows
        return rows[0]

    def compliance(self, rid):
        rows = self.values("SMS_UpdateComplianceStatus", **{"$filter": f"MachineID eq {rid}"})
        return {r["CI_ID"]: r for r in rows}


@pytest.fixture
def pki(tmp_path):
    return ensure_lab_ca(tmp_path / "pki")


@pytest.fixture
def site(tmp_path, pki):
    server = ConfigMgrServer(tmp_path / "cm", pki, page_size=3, timings=TIMINGS).start()
    try:
        yield Site(server, pki.ca_path)
    finally:
        server.stop()


def patching(site, rid=PROD1):
    """Put a host in the patch collection, evaluate it and notify its client (policy)."""
    site.add_rule(PATCH, rid)
    site.refresh(PATCH)
    site.advance(TIMINGS["evaluation_seconds"])
    assert rid in site.members(PATCH)
    return site.notify(8, PATCH, [rid])


# -- authentication --------------------------------------------------------------------------------


def test_unauthenticated_request_is_challenged_for_windows_auth_and_basic(site):
    r = requests.get(site.base + "SMS_R_System", verify=site.ca, timeout=30)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == 'Negotiate, NTLM, Basic realm="AdminService"'
    assert r.headers["Content-Type"] == "text/html"
    bad = requests.get(site.base + "SMS_R_System", auth=(site.ep["username"], "wrong"), verify=site.ca, timeout=30)
    assert bad.status_code == 401


def _negotiate(session, url, ca, username, password, bindings=True):
    cbt = _channel_bindings(ensure_lab_ca_path(ca)) if bindings else None
    ctx = spnego.client(username, password, hostname="localhost", service="HTTP", protocol="negotiate",
                        channel_bindings=cbt)
    r = session.get(url, headers={"Authorization": "Negotiate " + base64.b64encode(ctx.step()).decode()},
                    verify=ca, timeout=30)
    assert r.status_code == 401
    challenge = base64.b64decode(r.headers["WWW-Authenticate"].split(" ", 1)[1])
    return session.get(url, headers={"Authorization": "Negotiate " + base64.b64encode(ctx.step(challenge)).decode()},
                       verify=ca, timeout=30)


def test_negotiate_ntlm_handshake_authenticates_the_connection(site):
    http = requests.Session()
    r = _negotiate(http, site.base + "SMS_Collection", site.ca, site.ep["username"], site.ep["password"])
    assert r.status_code == 200, r.text
    assert r.headers["WWW-Authenticate"].startswith("Negotiate ")  # the acceptor's final token
    assert len(r.json()["value"]) == 3
    # IIS keeps an NTLM-authenticated keep-alive connection authenticated
    assert http.get(site.base + "SMS_Collection", verify=site.ca, timeout=30).status_code == 200
    assert site.admin("GET", "auth")["negotiate"] == 1


def test_extended_protection_refuses_an_answer_without_channel_bindings(site):
    r = _negotiate(requests.Session(), site.base + "SMS_Collection", site.ca, site.ep["username"], site.ep["password"],
                   bindings=False)
    assert r.status_code == 401


def test_negotiate_with_a_wrong_password_is_refused(site):
    r = _negotiate(requests.Session(), site.base + "SMS_Collection", site.ca, site.ep["username"], "wrong")
    assert r.status_code == 401
    assert site.admin("GET", "auth")["failed"] == 1


def test_basic_can_be_switched_off(tmp_path, pki):
    with ConfigMgrServer(tmp_path / "nb", pki, basic=False) as server:
        ep = server.endpoints
        r = requests.get(ep["url"] + "/AdminService/wmi/SMS_R_System", auth=(ep["username"], ep["password"]),
                         verify=pki.ca_path, timeout=30)
        assert r.status_code == 401
        assert "Basic" not in r.headers["WWW-Authenticate"]
        r = _negotiate(requests.Session(), ep["url"] + "/AdminService/wmi/SMS_R_System", pki.ca_path,
                       ep["username"], ep["password"])
        assert r.status_code == 200


def test_read_only_administrator_cannot_write(site):
    r = requests.post(site.base + f"SMS_Collection('{PATCH}')/AdminService.RequestRefresh", json={},
                      auth=(site.ep["readonly_username"], site.ep["readonly_password"]), verify=site.ca, timeout=30)
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "Forbidden"


# -- OData -----------------------------------------------------------------------------------------


def test_paging_follows_next_links_and_keeps_the_query(site):
    body = site.ok("GET", "SMS_R_System", params={"$select": "ResourceID,Name"})
    names = [v["Name"] for v in body["value"]]
    pages = 1
    while "@odata.nextLink" in body:
        assert "$select=ResourceID,Name" in body["@odata.nextLink"]
        body = site.ok("GET", body["@odata.nextLink"])
        names += [v["Name"] for v in body["value"]]
        pages += 1
        assert set(body["value"][0]) == {"ResourceID", "Name"}
    assert pages == 3 and len(names) == len(set(names)) == 8
    top = site.ok("GET", "SMS_R_System", params={"$top": "4", "$orderby": "Name desc"})
    nxt = site.ok("GET", top["@odata.nextLink"])
    assert len(top["value"]) == 3 and len(nxt["value"]) == 1 and "@odata.nextLink" not in nxt
    assert top["value"][0]["Name"] == "HV-TEST-03"
    assert site.ok("GET", "SMS_R_System", params={"$count": "true", "$top": "1"})["@odata.count"] == 8


@pytest.mark.parametrize("expression, expected", [
    ("Name eq 'hv-prod-01'", ["HV-PROD-01"]),  # string comparisons ignore case, like WQL
    ("startswith(Name,'HV-TEST') and not (Name eq 'HV-TEST-02')", ["HV-TEST-01", "HV-TEST-03"]),
    ("ResourceID gt 16777225 or Name eq 'HV-PROD-02'", ["HV-PROD-02", "HV-DEV-01", "HV-DMZ-01"]),
    ("endswith(Name,'-01') and contains(Name,'D')", ["HV-PROD-01", "HV-DEV-01", "HV-DMZ-01"]),
    ("Name eq 'O''Brien'", []),
])
def test_filter_expressions(site, expression, expected):
    rows = site.values("SMS_R_System", **{"$filter": expression})
    assert [r["Name"] for r in rows] == expected


@pytest.mark.parametrize("params, message", [
    ({"$filter": "Nmae eq 'x'"}, "Could not find a property named 'Nmae'"),
    ({"$filter": "Name eq"}, "not valid"),
    ({"$filter": "Name = 'x'"}, "not valid"),
    ({"$filter": "ResourceNames eq 'x'"}, "collection"),
    ({"$select": "Name,Bogus"}, "Could not find a property named 'Bogus'"),
    ({"$top": "-1"}, "non-negative integer"),
    ({"$expand": "Rules"}, "not supported"),
    ({"$Filter": "Name eq 'a'", "$filter": "Name eq 'b'"}, "more than once"),
    ({"$bogus": "1"}, "not supported"),
])
def test_bad_queries_get_odata_errors(site, params, message):
    r = site.req("GET", "SMS_R_System", params=params)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "BadRequest" and message in error["message"]


def test_custom_query_parameters_are_ignored_and_class_names_are_case_insensitive(site):
    assert len(site.ok("GET", "sms_r_system", params={"x-trace": "1", "$top": "2"})["value"]) == 2


def test_instances_by_key_and_not_found(site):
    (coll,) = site.values(f"SMS_Collection('{HOSTS_TO_PATCH}')")
    assert len(coll["CollectionRules"]) == 7  # lazy property: only when read by key
    assert all("CollectionRules" not in c for c in site.values("SMS_Collection"))
    (device,) = site.values(f"SMS_R_System({PROD1})")
    assert device["Name"] == "HV-PROD-01" and device["ResourceNames"] == ["hv-prod-01.lab.local"]
    r = site.req("GET", "SMS_Collection('LAB0FFFF')")
    assert r.status_code == 404 and r.json()["error"]["code"] == "NotFound"
    assert site.req("GET", "SMS_Nothing").status_code == 404
    assert site.req("PUT", "SMS_R_System").status_code == 405
    v1 = site.ok("GET", site.ep["url"] + f"/AdminService/v1.0/Device({PROD1})")
    assert v1["Name"] == "HV-PROD-01" and v1["@odata.context"].endswith("$entity")
    assert len(site.values(site.ep["url"] + "/AdminService/v1.0/Device")) == 8


# -- collections and membership --------------------------------------------------------------------


def test_membership_changes_only_after_evaluation(site):
    site.add_rule(PATCH, PROD1)
    (coll,) = site.values(f"SMS_Collection('{PATCH}')")
    assert [r["ResourceID"] for r in coll["CollectionRules"]] == [PROD1]
    assert site.members(PATCH) == [] and coll["MemberCount"] == 0
    site.advance(60)  # no evaluation without a refresh (the schedule is not simulated)
    assert site.members(PATCH) == []
    assert site.refresh(PATCH)["ReturnValue"] == 0
    assert site.values(f"SMS_Collection('{PATCH}')")[0]["CurrentStatus"] == 5
    site.advance(TIMINGS["evaluation_seconds"])
    assert site.members(PATCH) == [PROD1]
    assert site.values(f"SMS_Collection('{PATCH}')")[0]["CurrentStatus"] == 1
    # the same rule twice is accepted and kept once; removal shows after the next evaluation
    site.add_rule(PATCH, PROD1)
    site.ok("POST", f"SMS_Collection('{PATCH}')/AdminService.DeleteMembershipRule", json={"collectionRule": {
        "@odata.type": DIRECT, "ResourceClassName": "SMS_R_System", "RuleName": "HV-PROD-01", "ResourceID": PROD1}})
    assert site.members(PATCH) == [PROD1]
    site.refresh(PATCH)
    site.admin("POST", f"collections/{PATCH}/evaluate")
    assert site.members(PATCH) == []


def test_a_device_added_by_a_test_is_a_client_of_all_systems_only(site):
    before = len(site.members("SMS00001"))
    added = site.server.model.add_device("fs-01.lab.local")
    assert added["Name"] == "FS-01" and added["cluster"] is None
    assert site.values("SMS_R_System", **{"$filter": "Name eq 'FS-01'"})[0]["ResourceID"] == added["ResourceID"]
    assert len(site.members("SMS00001")) == before + 1 and added["ResourceID"] not in site.members(HOSTS_TO_PATCH)
    with pytest.raises(Exception, match="exists"):
        site.server.model.add_device("FS-01")


def test_many_rules_at_once_and_the_limiting_collection(site):
    created = site.ok("POST", "SMS_Collection", status=201, json={
        "Name": "Limited to holding", "LimitToCollectionID": HOLDING, "CollectionType": 2, "Comment": "test"})
    cid = created["CollectionID"]
    assert cid.startswith("LAB") and created["LimitToCollectionName"] == "Hyper-V holding"
    rules = [{"@odata.type": DIRECT, "ResourceClassName": "SMS_R_System", "RuleName": n, "ResourceID": r}
             for n, r in (("HV-PROD-01", PROD1), ("HV-PROD-02", PROD2))]
    answer = site.ok("POST", f"SMS_Collection('{cid}')/AdminService.AddMembershipRules", json={"collectionRules": rules})
    assert answer["QueryIDs"] == [0, 0]
    site.refresh(cid)
    site.advance(TIMINGS["evaluation_seconds"])
    assert site.members(cid) == []  # the holding collection is empty: nothing gets through
    site.add_rule(HOLDING, PROD2, "HV-PROD-02")
    site.refresh(HOLDING)
    site.advance(TIMINGS["evaluation_seconds"])
    site.refresh(cid)
    site.advance(TIMINGS["evaluation_seconds"])
    assert site.members(cid) == [PROD2]
    assert site.req("DELETE", f"SMS_Collection('{HOLDING}')").status_code == 400  # it limits another
    assert site.req("DELETE", f"SMS_Collection('{cid}')").status_code == 204
    assert site.req("GET", f"SMS_Collection('{cid}')").status_code == 404


@pytest.mark.parametrize("body, message", [
    ({"Name": "X", "LimitToCollectionID": "SMS00001", "CollectionType": 2, "MemberCount": 3}, "MemberCount"),
    ({"LimitToCollectionID": "SMS00001", "CollectionType": 2}, "'Name' is required"),
    ({"Name": "X", "LimitToCollectionID": "SMS00001", "CollectionType": "2"}, "CollectionType"),
    ({"Name": "hyper-v PATCH", "LimitToCollectionID": "SMS00001", "CollectionType": 2}, "already exists"),
])
def test_collection_creation_is_strict(site, body, message):
    r = site.req("POST", "SMS_Collection", json=body)
    assert r.status_code == 400 and message in r.json()["error"]["message"]


def test_deletions_refused(site):
    assert site.req("DELETE", "SMS_Collection('SMS00001')").status_code == 403
    r = site.req("DELETE", f"SMS_Collection('{PATCH}')")
    assert r.status_code == 400 and "deployment" in r.json()["error"]["message"]


@pytest.mark.parametrize("rule, message", [
    ({"ResourceClassName": "SMS_R_System", "RuleName": "a", "ResourceID": PROD1}, "@odata.type"),
    ({"@odata.type": DIRECT, "ResourceClassName": "SMS_R_User", "RuleName": "a", "ResourceID": PROD1}, "SMS_R_System"),
    ({"@odata.type": DIRECT, "ResourceClassName": "SMS_R_System", "RuleName": "a", "ResourceID": "1"}, "integer"),
    ({"@odata.type": DIRECT, "ResourceClassName": "SMS_R_System", "RuleName": "", "ResourceID": PROD1}, "RuleName"),
    ({"@odata.type": DIRECT, "ResourceClassName": "SMS_R_System", "RuleName": "a", "ResourceID": PROD1, "X": 1}, "'X'"),
])
def test_direct_rules_are_checked(site, rule, message):
    r = site.req("POST", f"SMS_Collection('{PATCH}')/AdminService.AddMembershipRule", json={"collectionRule": rule})
    assert r.status_code == 400 and message in r.json()["error"]["message"]
    r = site.req("POST", f"SMS_Collection('{PATCH}')/AdminService.AddMembershipRule", json={"rule": rule})
    assert r.status_code == 400
    r = site.req("POST", f"SMS_Collection('{PATCH}')/AdminService.AddMembershipRule",
                 json={"collectionRule": dict(rule, **{"@odata.type": DIRECT, "ResourceID": 1})})
    assert r.status_code in (400, 404)


# -- updates and compliance ------------------------------------------------------------------------


def test_update_groups_and_deployments(site):
    (group,) = site.values("SMS_AuthorizationList")
    assert "Updates" not in group and group["IsDeployed"] is True
    (full,) = site.values(f"SMS_AuthorizationList({group['CI_ID']})")
    assert full["Updates"] == [CU, DOTNET, MSRT]
    for cls in ("SMS_UpdatesAssignment", "SMS_UpdateGroupAssignment"):
        (dep,) = site.values(cls)
        assert dep["AssignedCIs"] == [CU, DOTNET, MSRT] and dep["TargetCollectionID"] == PATCH
    ssu = site.values("SMS_SoftwareUpdate", **{"$filter": "ArticleID eq '5065425'"})[0]
    assert ssu["IsDeployed"] is False


def test_compliance_advances_from_download_to_pending_reboot_to_compliant(site):
    assert site.values("SMS_SUMDeploymentAssetDetails") == []  # nobody in the patch collection yet
    op = patching(site)
    assert op["ReturnValue"] == 0 and op["OperationID"] > 0
    asset = site.asset(PROD1)
    assert (asset["StatusType"], asset["LastEnforcementMessageID"], asset["IsCompliant"]) == (2, 7, False)
    site.advance(TIMINGS["download_seconds"])
    assert site.asset(PROD1)["LastEnforcementMessageID"] == 1  # installing
    site.advance(TIMINGS["install_seconds"])
    asset = site.asset(PROD1)
    assert (asset["StatusType"], asset["LastEnforcementMessageID"], asset["StatusDescription"]) == (
        2, 5, "Pending system restart")
    states = site.compliance(PROD1)
    assert states[CU]["Status"] == 2 and states[CU]["LastEnforcementMessageID"] == 5
    assert states[DOTNET]["Status"] == states[MSRT]["Status"] == 3  # no restart needed for these
    assert states[SSU]["Status"] == 2 and states[SSU]["LastEnforcementMessageID"] is None  # not deployed
    site.admin("POST", "devices/hv-prod-01/reboot")
    online = site.values("SMS_CombinedDeviceResources", **{"$filter": f"ResourceID eq {PROD1}"})[0]
    assert online["CNIsOnline"] is False
    assert site.asset(PROD1)["StatusType"] == 2
    site.advance(TIMINGS["reboot_seconds"])
    assert site.values("SMS_CombinedDeviceResources", **{"$filter": f"ResourceID eq {PROD1}"})[0]["CNIsOnline"]
    asset = site.asset(PROD1)
    assert (asset["StatusType"], asset["IsCompliant"], asset["LastEnforcementMessageID"]) == (1, True, 4)
    assert site.compliance(PROD1)[CU]["Status"] == 3
    assert site.compliance(PROD1)[SSU]["Status"] == 2  # never deployed, still required


def test_notification_reaches_only_members_and_online_clients(site):
    r = site.req("POST", "SMS_ClientOperation.InitiateClientOperation",
                 json={"Type": 8, "TargetCollectionID": PATCH, "TargetResourceIDs": [PROD1]})
    assert r.status_code == 400 and "not members" in r.json()["error"]["message"]
    for body in ({"Type": 99, "TargetCollectionID": PATCH}, {"Type": 8}, {"Type": 8, "TargetCollectionID": PATCH,
                                                                         "Targets": []}):
        assert site.req("POST", "SMS_ClientOperation.InitiateClientOperation", json=body).status_code == 400
    site.add_rule(PATCH, PROD1)
    site.refresh(PATCH)
    site.advance(TIMINGS["evaluation_seconds"])
    site.admin("POST", "devices/HV-PROD-01/reboot")
    site.notify(8, PATCH, [PROD1])  # accepted, but the client is restarting and never hears of it
    site.advance(TIMINGS["reboot_seconds"])
    assert site.asset(PROD1)["StatusType"] == 4
    site.notify(14, PATCH, [])  # the whole collection
    assert site.asset(PROD1)["StatusType"] == 2
    ops = site.values("SMS_ClientOperation")
    assert [(o["PrimaryActionType"], o["CollectionID"]) for o in ops] == [(8, PATCH), (14, PATCH)]


def test_install_failure_and_retry(site):
    site.admin("POST", "devices/hv-prod-01/faults", {"install_error": -2147023293})
    patching(site)
    site.advance(TIMINGS["download_seconds"] + TIMINGS["install_seconds"])
    asset = site.asset(PROD1)
    assert (asset["StatusType"], asset["StatusErrorCode"], asset["LastEnforcementMessageID"]) == (5, -2147023293, 6)
    assert site.compliance(PROD1)[CU]["LastErrorCode"] == -2147023293
    site.admin("POST", "devices/hv-prod-01/faults", {"install_error": None})
    site.notify(14, PATCH, [PROD1])
    assert site.asset(PROD1)["StatusType"] == 2


def test_stuck_pending_reboot_and_restart_through_client_notification(site):
    site.admin("POST", "devices/hv-prod-01/faults", {"stuck_reboot": True})
    patching(site)
    site.advance(TIMINGS["download_seconds"] + TIMINGS["install_seconds"])
    site.notify(17, PATCH, [PROD1])  # Restart through ConfigMgr
    site.advance(TIMINGS["reboot_seconds"])
    assert site.asset(PROD1)["LastEnforcementMessageID"] == 5  # still pending a restart
    site.admin("POST", "devices/hv-prod-01/faults", {"stuck_reboot": False})
    site.notify(17, PATCH, [PROD1])
    site.advance(TIMINGS["reboot_seconds"])
    assert site.asset(PROD1)["IsCompliant"] is True


# -- faults, persistence, log ----------------------------------------------------------------------


def test_injected_http_errors_drops_and_latency(site):
    site.admin("POST", "faults", {"path": "/AdminService/wmi/SMS_R_System", "status": 503, "count": 1})
    r = site.req("GET", "SMS_R_System")
    assert r.status_code == 503 and r.json()["error"]["code"] == "ServiceUnavailable"
    assert site.req("GET", "SMS_R_System").status_code == 200
    site.admin("POST", "faults", {"path": "*/SMS_Collection", "action": "drop", "method": "GET", "count": 1})
    with pytest.raises(requests.exceptions.ConnectionError):
        site.req("GET", "SMS_Collection")
    site.admin("POST", "faults", {"path_regex": "Membership", "action": "latency", "latency_ms": 300, "count": 1})
    r = site.req("GET", "SMS_FullCollectionMembership")
    assert r.status_code == 200 and r.elapsed.total_seconds() >= 0.3
    statuses = [(e["path"].rsplit("/", 1)[-1], e["status"]) for e in site.admin("GET", "requests")]
    assert statuses == [("SMS_R_System", 503), ("SMS_R_System", 200), ("SMS_Collection", 0),
                        ("SMS_FullCollectionMembership", 200)]


def test_state_survives_a_restart(tmp_path, pki):
    state = tmp_path / "cm"
    server = ConfigMgrServer(state, pki, timings=TIMINGS).start()
    site = Site(server, pki.ca_path)
    port = server.port
    patching(site)
    site.advance(TIMINGS["download_seconds"])
    server.stop()
    server = ConfigMgrServer(state, pki).start()
    try:
        site = Site(server, pki.ca_path)
        assert server.port == port
        assert site.members(PATCH) == [PROD1]
        assert site.asset(PROD1)["LastEnforcementMessageID"] == 1  # the clock offset persisted too
    finally:
        server.stop()
