"""Discovery, TLS, sessions and the error model."""

from __future__ import annotations

import ssl
import time
import urllib.request
import warnings

import requests

from .conftest import CRED_TYPE, Client

ERROR_TYPE = "com.tintri.api.rest.v310.dto.domain.beans.TintriError"


def assert_error(r, status, code):
    assert r.status_code == status, r.text
    body = r.json()
    assert body["typeId"] == ERROR_TYPE
    assert body["code"] == code
    for key in ("message", "causeDetails", "title"):
        assert isinstance(body[key], str)
    assert r.headers["Content-Length"] == str(len(r.content))
    return body


def test_tls_verifies_against_lab_ca_strictly(lab):
    ctx = ssl.create_default_context(cafile=lab.pki.ca_path)
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    with urllib.request.urlopen(lab.endpoints["vmstore1"]["url"] + "/api/info", context=ctx) as resp:
        assert resp.status == 200
    # the IP SAN works too
    ctx.check_hostname = True
    port = lab.endpoints["vmstore1"]["port"]
    with urllib.request.urlopen(f"https://127.0.0.1:{port}/api/info", context=ctx) as resp:
        assert resp.status == 200


def test_tls_below_1_2_refused(lab):
    ctx = ssl.create_default_context(cafile=lab.pki.ca_path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
            ctx.minimum_version = ssl.TLSVersion.TLSv1
    except (ValueError, ssl.SSLError):
        return
    try:
        urllib.request.urlopen(lab.endpoints["vmstore1"]["url"] + "/api/info", context=ctx)
    except (ssl.SSLError, OSError):
        return
    raise AssertionError("TLS 1.1 handshake was accepted")


def test_info_per_personality(lab, client):
    c = client(login=False)
    info = c.ok("GET", "/info")
    assert info == {
        "typeId": "com.tintri.api.rest.v.dto.domain.RestApi", "productName": "Tintri VMstore",
        "preferredVersion": "v310.191", "supportedVersionSet": info["supportedVersionSet"],
    }
    assert "v310.191" in info["supportedVersionSet"]
    assert client("tgc1", login=False).ok("GET", "/info")["productName"] == "Tintri Global Center"


def test_login_cookie_current_logout(client):
    c = client(login=False)
    r = c.post("/v310/session/login", {"typeId": CRED_TYPE, "username": "admin", "password": "Tintri-Lab-1!",
                                       "newPassword": None, "roles": None, "fullApiVersion": "v310.191"})
    assert r.status_code == 200
    assert r.json() == "ADMIN"
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("JSESSIONID=") and "Path=/" in cookie and "Domain" not in cookie
    cur = c.ok("GET", "/v310/session/current")
    assert cur["typeId"] == "com.tintri.api.rest.v310.dto.UserSession"
    assert cur["userName"] == "admin" and cur["roles"] == ["ADMIN"]
    # raw cookie header, the way every Tintri example client sends it
    token = c.s.cookies["JSESSIONID"]
    raw = requests.get(c.base + "/v310/session/current", headers={"cookie": f"JSESSIONID={token}"},
                       verify=c.ca, timeout=10)
    assert raw.status_code == 200
    assert c.req("GET", "/v310/session/logout").status_code == 204
    assert_error(c.get("/v310/vm"), 401, "ERR-API-0104")
    c.login()
    assert c.req("POST", "/v310/session/logout").status_code == 204
    assert_error(c.get("/v310/vm"), 401, "ERR-API-0104")
    # logout without any cookie (PySDK does this) is still 204
    assert Client(c.endpoint, c.ca).req("GET", "/v310/session/logout").status_code == 204


def test_bad_credentials_and_missing_session(client):
    c = client(login=False)
    assert_error(c.post("/v310/session/login", {"typeId": CRED_TYPE, "username": "admin", "password": "nope"}),
                 403, "ERR-API-0124")
    assert_error(c.post("/v310/session/login", {"typeId": "wrong.Type", "username": "admin", "password": "x"}),
                 400, "ERR-API-0020")
    assert_error(c.req("POST", "/v310/session/login", data="{not json"), 400, "ERR-API-0020")
    assert_error(c.get("/v310/vm"), 401, "ERR-API-0104")
    c.s.cookies.set("JSESSIONID", "0123456789ABCDEF")
    assert_error(c.get("/v310/vm"), 401, "ERR-API-0104")


def test_idle_timeout_and_forced_expiry(make_lab, small_desc):
    lab = make_lab(small_desc, session_idle_seconds=0.4)
    c = Client(lab.endpoints["vmstore1"], lab.pki.ca_path).login()
    for _ in range(3):  # each access resets the idle clock
        time.sleep(0.2)
        assert c.get("/v310/session/current").status_code == 200
    time.sleep(0.6)
    assert_error(c.get("/v310/session/current"), 401, "ERR-API-0104")
    lab.admin("vmstore1").set_config(session_idle_seconds=60)
    c.login()
    assert lab.admin("vmstore1").expire_sessions() == 1
    assert_error(c.get("/v310/vm"), 401, "ERR-API-0104")


def test_read_only_user_cannot_write(lab, client):
    e = lab.endpoints["vmstore1"]
    c = client(login=False).login(e["readonly_username"], e["readonly_password"])
    assert c.get("/v310/vm").status_code == 200
    vm = c.vm_by_name("dev-sql01")
    assert_error(c.post("/v310/snapshot", [{"sourceVmTintriUUID": vm["uuid"]["uuid"]}]), 403, "ERR-API-6010")


def test_unknown_route_wrong_method_unimplemented(client):
    c = client()
    assert_error(c.get("/v310/doesNotExist"), 404, "ERR-API-8001")
    assert_error(c.req("PATCH", "/v310/vm"), 405, "ERR-API-0005")
    assert_error(c.req("PUT", "/v310/snapshot"), 405, "ERR-API-0005")
    body = assert_error(c.get("/v310/alert"), 501, "ERR-API-0005")
    assert "not implemented" in body["causeDetails"]
    r = requests.get(c.endpoint["url"] + "/nothing", verify=c.ca, timeout=10)
    assert_error(r, 404, "ERR-API-8001")


def test_keep_alive_and_bad_input_do_not_break_the_server(lab, client):
    c = client()
    for _ in range(5):
        assert c.get("/v310/vm", params={"limit": 1}).status_code == 200
    assert_error(c.get("/v310/vm", params={"limit": "many"}), 400, "ERR-API-4003")
    assert_error(c.get("/v310/vm", params={"live": "MAYBE"}), 400, "ERR-API-4003")
    assert_error(c.req("POST", "/v310/snapshot", data=b"\xff\xfe"), 400, "ERR-API-0020")
    assert c.get("/v310/vm").status_code == 200


def test_appliance_and_datastore(client):
    c = client()
    apps = c.ok("GET", "/v310/appliance")
    assert isinstance(apps, list) and apps[0]["info"]["serialNumber"] == "TT7080-00001"
    info = c.ok("GET", "/v310/appliance/default/info")
    assert info["typeId"].endswith("ApplianceInfo") and "-" in info["osVersion"]
    ds = c.ok("GET", "/v310/datastore")
    assert isinstance(ds, list) and ds[0]["stat"]["vmsCount"] == 6
    one = c.ok("GET", "/v310/datastore/default")
    assert one["uuid"]["uuid"] == ds[0]["uuid"]["uuid"]
    assert one["stat"]["spaceUsedGiB"] > 0
    assert_error(c.get("/v310/datastore/other"), 501, "ERR-API-2001")
    hr = c.ok("GET", "/v310/datastore/default/hostResources")
    assert {h["hostname"] for h in hr} == {"vmm01.lab.local", "vcenter01.lab.local"}
