# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import random

import pytest
import requests
import urllib3

from ansible_collections.vmops.datacenter.plugins.module_utils._common import backoff_delays, redact
from ansible_collections.vmops.datacenter.plugins.module_utils._tintri import (
    TintriApiError,
    TintriClient,
    TintriConnectionError,
    TintriTaskError,
    TintriTimeoutError,
)
from ansible_collections.vmops.datacenter.tests.unit.framework.rest_registry import page
from ansible_collections.vmops.datacenter.tests.unit.framework.tintri_objects import task, vm

PASSWORD = "Pa55-client-secret"


def client(**kwargs):
    return TintriClient("https://vmstore1.test:9443/", "admin", PASSWORD, ca_path="/lab/ca.pem", **kwargs)


def connected(api, **kwargs):
    api.expect_session()
    tintri = client(**kwargs)
    tintri.connect()
    return tintri


def test_login_sends_credentials_with_the_servers_api_version_and_uses_the_cookie(api):
    tintri = connected(api)
    login = api.calls("POST")[0]
    assert login["body"] == {"typeId": "com.tintri.api.rest.vcommon.dto.rbac.RestApiCredentials",
                             "username": "admin", "password": PASSWORD, "fullApiVersion": "v310.191"}
    api.expect("GET", "/api/v310/vm/x", json=vm("a"))
    tintri.get("/v310/vm/x")
    assert api.made[-1]["headers"]["Cookie"] == "JSESSIONID=sess-1"
    assert tintri.verify == "/lab/ca.pem" and tintri.base_url == "https://vmstore1.test:9443/api"
    api.expect_logout()
    tintri.close()


def test_ca_path_wins_over_requests_ca_bundle(api, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    seen = []
    original = api.send

    def send(adapter, request, **kwargs):
        seen.append(kwargs.get("verify"))
        return original(adapter, request, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    connected(api)
    assert seen == ["/lab/ca.pem", "/lab/ca.pem"]


def test_get_is_retried_on_503_and_busy_with_capped_backoff(api):
    tintri = connected(api)
    api.expect_error("GET", "/api/v310/snapshot", 503, "ERR-API-9013", "Snapshot inventory is busy")
    api.expect_error("GET", "/api/v310/snapshot", 502, "", "")
    api.expect_exception("GET", "/api/v310/snapshot", requests.exceptions.ConnectionError("reset"))
    api.expect("GET", "/api/v310/snapshot", json=page([]))
    assert tintri.list_all("/v310/snapshot") == []
    assert len(api.sleeps) == 3 and all(0 < s <= 20 for s in api.sleeps)


def test_get_gives_up_after_the_retry_budget_with_a_clear_error(api):
    tintri = connected(api, retries=2)
    for _attempt in range(3):
        api.expect_error("GET", "/api/v310/vm", 503, "ERR-API-0007", "Service unavailable", cause="AD down")
    with pytest.raises(TintriApiError) as info:
        tintri.get("/v310/vm")
    message = str(info.value)
    assert "Tintri VMstore vmstore1.test:9443: GET /api/v310/vm failed with HTTP 503 ERR-API-0007" in message
    assert "Cause: AD down" in message and info.value.status == 503


def test_post_is_not_repeated_after_503_or_an_ambiguous_drop(api):
    tintri = connected(api)
    api.expect_error("POST", "/api/v310/vm", 503, "ERR-API-3206", "Clone request failed")
    with pytest.raises(TintriApiError):
        tintri.post("/v310/vm", {"x": 1})
    api.expect_exception("POST", "/api/v310/vm", requests.exceptions.ConnectionError("Connection aborted"))
    with pytest.raises(TintriConnectionError) as info:
        tintri.post("/v310/vm", {"x": 1})
    assert "may have reached the server" in str(info.value)
    assert api.sleeps == []


def test_post_that_never_left_is_retried(api):
    tintri = connected(api)
    refused = requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(
        None, "/api/v310/vm", urllib3.exceptions.NewConnectionError(None, "Connection refused")))
    api.expect_exception("POST", "/api/v310/vm", refused)
    api.expect("POST", "/api/v310/vm", json=task("QUEUED"))
    assert tintri.post("/v310/vm", {"x": 1})["state"] == "QUEUED"


def test_expired_session_is_renewed_once_even_for_a_post(api):
    tintri = connected(api)
    api.expect_error("POST", "/api/v310/vm/sync", 401, "ERR-API-0104", "Session expired")
    api.expect("POST", "/api/v310/session/login", json="ADMIN", cookies={"JSESSIONID": "sess-2"})
    api.expect("POST", "/api/v310/vm/sync", json=task("QUEUED"))
    tintri.post("/v310/vm/sync", {})
    assert api.made[-1]["headers"]["Cookie"] == "JSESSIONID=sess-2"
    # A second expiry in the same request is not retried forever.
    api.expect_error("GET", "/api/v310/vm", 401, "ERR-API-0104", "Session expired")
    api.expect("POST", "/api/v310/session/login", json="ADMIN", cookies={"JSESSIONID": "sess-3"})
    api.expect_error("GET", "/api/v310/vm", 401, "ERR-API-0104", "Session expired")
    with pytest.raises(TintriApiError) as info:
        tintri.get("/v310/vm")
    assert info.value.code == "ERR-API-0104"


def test_bad_credentials_say_so_without_the_password(api):
    api.expect("GET", "/api/info", json={"productName": "Tintri VMstore", "preferredVersion": "v310.191"})
    api.expect_error("POST", "/api/v310/session/login", 403, "ERR-API-0101",
                     "Authentication failed for admin/%s" % PASSWORD)
    with pytest.raises(TintriApiError) as info:
        client().connect()
    assert "HTTP 403" in str(info.value) and "Check username and password" in str(info.value)
    assert PASSWORD not in str(info.value) and PASSWORD not in str(info.value.as_dict())


def test_tls_failure_points_at_ca_path(api):
    api.expect_exception("GET", "/api/info", requests.exceptions.SSLError("certificate verify failed"))
    with pytest.raises(TintriConnectionError) as info:
        client().connect()
    assert "ca_path" in str(info.value)


def test_other_api_majors_are_refused(api):
    api.expect("GET", "/api/info", json={"productName": "Tintri VMstore", "preferredVersion": "v400.1"})
    with pytest.raises(TintriApiError.__mro__[1]) as info:
        client().connect()
    assert "v310" in str(info.value)


def test_paging_follows_next_keeps_filters_and_stops_on_last_page(api):
    tintri = connected(api)
    api.expect("GET", "/api/v310/vm", params={"name": "dev", "live": "TRUE"},
               json=page([vm("dev1", n=1)], next_link="offset=1&limit=1&name=dev&live=TRUE", total=3))
    # A server that drops a filter from `next`: the client keeps it.
    api.expect("GET", "/api/v310/vm", params={"name": "dev", "live": "TRUE", "offset": "1", "limit": "1"},
               json=page([vm("dev2", n=2)], next_link="offset=2&limit=1", total=3))
    api.expect("GET", "/api/v310/vm", params={"name": "dev", "live": "TRUE", "offset": "2", "limit": "1"},
               json=page([vm("dev3", n=3)], total=3))
    names = [v["vmware"]["name"] for v in tintri.iter_items("/v310/vm", {"name": "dev", "live": "TRUE"})]
    assert names == ["dev1", "dev2", "dev3"]


def test_tgc_501_names_the_remedy(api):
    api.expect_session(product="Tintri Global Center")
    tintri = client()
    tintri.connect()
    api.expect_error("POST", "/api/v310/snapshot", 501, "ERR-API-0005", "Request not supported")
    with pytest.raises(TintriApiError) as info:
        tintri.post("/v310/snapshot", [])
    assert "VMstore-only" in str(info.value) and "Tintri Global Center" in str(info.value)


def test_logout_always_runs_even_when_the_work_fails(api):
    api.expect_session()
    api.expect_error("GET", "/api/v310/vm/nope", 404, "ERR-API-8001", "not found")
    api.expect_logout()
    with pytest.raises(TintriApiError):
        with client() as tintri:
            tintri.get("/v310/vm/nope")


def test_task_wait_reports_failure_and_timeout(api):
    tintri = connected(api)
    api.expect("GET", "/api/v310/task/task-1", json=task("RUNNING", percent=50))
    api.expect("GET", "/api/v310/task/task-1", json=task("FAILED", error={
        "code": "ERR-API-3213", "message": "Clone workflow task failed.", "causeDetails": "no space"}))
    with pytest.raises(TintriTaskError) as info:
        tintri.wait_for_task(task("QUEUED"), 60, 5, what="clone of x")
    assert "clone of x (task task-1) ended FAILED: ERR-API-3213 Clone workflow task failed. Cause: no space" in str(info.value)
    api.expect("GET", "/api/v310/task/task-1", json=task("RUNNING", percent=70))
    api.expect("GET", "/api/v310/task/task-1", json=task("RUNNING", percent=80))
    with pytest.raises(TintriTimeoutError) as info:
        tintri.wait_for_task(task("QUEUED"), 9, 5)
    assert "still RUNNING at 80%" in str(info.value)


def test_backoff_is_capped_and_jittered():
    delays = list(backoff_delays(8, base_delay=1, max_delay=20, rng=random.Random(7)))
    assert len(delays) == 8
    assert all(10 <= d <= 20 for d in delays[5:])
    assert 0.5 <= delays[0] <= 1
    assert len(set(delays)) == len(delays)


def test_redact_walks_nested_values():
    assert redact({"a": ["x %s y" % PASSWORD]}, [PASSWORD, None]) == {"a": ["x ******** y"]}


def test_repeated_filters_in_next_links_survive(api):
    tintri = connected(api)
    api.expect("GET", "/api/v310/snapshot", params={"type": ["A", "B"]},
               json=page([{"n": 1}], next_link="offset=1&limit=1&type=A&type=B", total=2))
    api.expect("GET", "/api/v310/snapshot", params={"type": ["A", "B"], "offset": "1", "limit": "1"},
               json=page([{"n": 2}], total=2))
    assert [i["n"] for i in tintri.iter_items("/v310/snapshot", {"type": ["A", "B"]})] == [1, 2]


def test_never_expiring_snapshots_have_no_expiry_time():
    from ansible_collections.vmops.datacenter.plugins.module_utils._tintri_lookup import ms_to_iso

    assert ms_to_iso(-1) is None and ms_to_iso(None) is None
    assert ms_to_iso(1763800000000) == "2025-11-22T08:26:40Z"
