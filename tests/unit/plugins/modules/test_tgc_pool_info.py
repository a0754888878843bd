# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest
from ansible.module_utils.common import warnings as ansible_warnings
from ansible_collections.vmops.datacenter.plugins.modules import tgc_pool_info
from ansible_collections.vmops.datacenter.tests.unit.framework.rest_registry import page
from ansible_collections.vmops.datacenter.tests.unit.framework.tintri_objects import (
    iops_issue,
    pool,
    pool_id,
    reco_action,
    reco_issue,
    reco_outcome,
    recommendation,
    space_issue,
    vm_id,
)

TGC = "Tintri Global Center"
POOLS = "/api/v310/vmstorePool"


@pytest.fixture(autouse=True)
def fresh_warnings():
    """Module warnings are kept process-wide; start every run without the previous run's."""
    ansible_warnings._global_warnings.clear()
    ansible_warnings._global_deprecations.clear()


def warning_texts(result):
    return [w["event"]["msg"] if isinstance(w, dict) else w for w in result.get("warnings", [])]


def current(n):
    return "%s/%s/recommendation/current" % (POOLS, pool_id(n))


def available(pool_n=1):
    return recommendation(
        "AVAILABLE", reco="RECO-%d" % pool_n, pool_n=pool_n,
        issues=[reco_issue("vmstore1.test", 1, space=space_issue()),
                reco_issue("vmstore2.test", 2, iops=iops_issue())],
        groups=[[reco_action("web01", 1), reco_action(vm_n=2, issue_types=(), named=False)]],
        outcomes=[reco_outcome("vmstore1.test", 1, space=True),
                  reco_outcome("vmstore2.test", 2, space=False, iops=True, protection=[vm_id(2)])])


def test_lists_every_pool_across_pages_with_recommendations(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", POOLS, params={}, json=page([pool("gold", 1)], next_link="offset=1&limit=1", total=2))
    api.expect("GET", POOLS, params={"offset": "1", "limit": "1"}, json=page([pool("silver", 2)], total=2))
    api.expect("GET", current(1), json=available(1))
    api.expect("GET", current(2), json=recommendation("NO_RECOMMENDATION_NEEDED", reco="RECO-2", pool_n=2))
    api.expect_logout()
    result = run_module(tgc_pool_info, {})
    assert result["changed"] is False and result["count"] == 2
    gold, silver = result["pools"]
    assert gold["uuid"] == pool_id(1) and gold["name"] == "gold" and gold["description"] == "gold pool"
    assert gold["members"] == [dict(uuid="TIN-0011", hostname="vmstore1.test"),
                               dict(uuid="TIN-0012", hostname="vmstore2.test")]
    assert gold["issue_type_preference"] == ["SPACE"]
    reco = gold["recommendation"]
    assert reco["id"] == "RECO-1" and reco["state"] == "AVAILABLE" and reco["pool_uuid"] == pool_id(1)
    assert reco["issue_types"] == ["IOPS", "SPACE"]
    assert reco["issues"][0]["iops"] is None and reco["issues"][1]["space"] is None
    assert reco["issues_by_type"]["IOPS"][0]["vmstore"] == "vmstore2.test"
    assert reco["vms_moved"] == 2
    assert reco["action_groups"][0]["actions"][1]["vm"] == vm_id(2)
    assert reco["action_groups"][0]["actions"][1]["issue_types"] == []
    assert reco["loses_protection"] is True and reco["protection_loss_vms"] == [vm_id(2)]
    assert "raw" not in gold and "query_result" not in result
    assert silver["recommendation"]["state"] == "NO_RECOMMENDATION_NEEDED"
    assert silver["recommendation"]["issues"] == [] and silver["recommendation"]["vms_moved"] == 0
    assert silver["recommendation"]["loses_protection"] is False
    assert len(api.made) == 7


def test_pool_name_is_matched_exactly(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", POOLS, params={"name": "gold"}, json=page([pool("gold-dr", 3), pool("gold", 1)]))
    api.expect("GET", current(1), json=recommendation("NO_RECOMMENDATION_NEEDED"))
    api.expect_logout()
    result = run_module(tgc_pool_info, dict(pool="gold"))
    assert [p["name"] for p in result["pools"]] == ["gold"] and result["count"] == 1


def test_unknown_pool_name_returns_an_empty_list(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", POOLS, params={"name": "bronze"}, json=page([pool("bronze-old", 3)]))
    api.expect_logout()
    result = run_module(tgc_pool_info, dict(pool="bronze"))
    assert not result.get("failed")
    assert result["pools"] == [] and result["count"] == 0


def test_without_recommendations_reads_only_the_pools(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", POOLS, json=page([pool("gold", 1), pool("silver", 2)]))
    api.expect_logout()
    result = run_module(tgc_pool_info, dict(include_recommendation=False))
    assert [p["recommendation"] for p in result["pools"]] == [None, None]
    assert len(api.made) == 4


def test_aimed_at_a_vmstore_fails_clearly_before_any_pool_call(api, run_module):
    api.expect_session(product="Tintri VMstore")
    api.expect_logout()
    result = run_module(tgc_pool_info, {})
    assert result["failed"]
    assert "vmstore1.test is a Tintri VMstore" in result["msg"]
    assert "Point hostname at the Tintri Global Center" in result["msg"]
    assert [c["path"] for c in api.made] == ["/api/info", "/api/v310/session/login", "/api/v310/session/logout"]


def test_raw_returns_the_api_objects(api, run_module):
    api_pool, api_reco = pool("gold", 1), available(1)
    api.expect_session(product=TGC)
    api.expect("GET", POOLS, json=page([api_pool]))
    api.expect("GET", current(1), json=api_reco)
    api.expect_logout()
    result = run_module(tgc_pool_info, dict(raw=True))
    assert result["pools"][0]["raw"] == dict(pool=api_pool, recommendation=api_reco)


def test_query_selects_from_the_result(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", POOLS, json=page([pool("gold", 1), pool("silver", 2)]))
    api.expect("GET", current(1), json=available(1))
    api.expect("GET", current(2), json=recommendation("NO_RECOMMENDATION_NEEDED", pool_n=2))
    api.expect_logout()
    result = run_module(tgc_pool_info, dict(query="pools[?recommendation.state=='AVAILABLE'].name"))
    assert result["query_result"] == ["gold"]
    assert result["count"] == 2


def test_invalid_query_is_a_clear_error(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", POOLS, json=page([]))
    api.expect_logout()
    result = run_module(tgc_pool_info, dict(query="pools[?"))
    assert result["failed"] and "Invalid query" in result["msg"]


def test_a_recommendation_that_cannot_be_read_is_a_warning(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", POOLS, json=page([pool("gold", 1), pool("silver", 2)]))
    api.expect_error("GET", current(1), 500, "ERR-API-7103", "Failed to get Recommendation for VMstore Pool")
    api.expect("GET", current(2), json=recommendation("NO_RECOMMENDATION_NEEDED", pool_n=2))
    api.expect_logout()
    result = run_module(tgc_pool_info, {})
    gold, silver = result["pools"]
    assert gold["recommendation"] is None and "ERR-API-7103" in gold["recommendation_error"]
    assert "recommendation_error" not in silver
    assert len(warning_texts(result)) == 1
    assert "Pool gold" in warning_texts(result)[0] and "ERR-API-7103" in warning_texts(result)[0]


def test_check_mode_gives_the_same_result(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", POOLS, json=page([pool("gold", 1)]))
    api.expect("GET", current(1), json=available(1))
    api.expect_logout()
    result = run_module(tgc_pool_info, {}, check_mode=True)
    assert result["changed"] is False and result["pools"][0]["recommendation"]["vms_moved"] == 2
    assert not api.calls("POST")[2:]  # login and logout only
