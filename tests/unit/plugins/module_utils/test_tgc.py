# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest
from ansible_collections.vmops.datacenter.plugins.module_utils import _tgc
from ansible_collections.vmops.datacenter.plugins.module_utils._tintri import (
    TintriUnsupportedError,
)
from ansible_collections.vmops.datacenter.tests.unit.framework.tintri_objects import (
    flash_issue,
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


def full_reco(**kwargs):
    return recommendation(
        issues=[reco_issue("vmstore1.test", 1, space=space_issue(), iops=iops_issue()),
                reco_issue("vmstore2.test", 2, flash=flash_issue())],
        groups=[[reco_action("web01", 1), reco_action("web02", 2, issue_types=("IOPS",))],
                [reco_action("db01", 3, issue_types=("SPACE", "FLASH"))]],
        outcomes=[reco_outcome("vmstore1.test", 1, space=True, iops=True),
                  reco_outcome("vmstore2.test", 2, space=False, flash=True, protection=[vm_id(3)])],
        **kwargs)


# -- normalisation --------------------------------------------------------------------------

def test_normalises_a_full_recommendation():
    norm = _tgc.normalise_recommendation(full_reco())
    assert norm["id"] == "RECO-1" and norm["pool_uuid"] == pool_id(1)
    assert norm["state"] == "AVAILABLE" and norm["execution_state"] == "AVAILABLE"
    assert norm["issue_types"] == ["FLASH", "IOPS", "SPACE"]
    first = norm["issues"][0]
    assert first["vmstore"] == "vmstore1.test" and first["types"] == ["SPACE", "IOPS"]
    assert first["space"] == dict(type="SPACE", summary="Space 92.5%", severity=3, selected=True, disabled=False,
                                  space_used_physical_gib=9250.0, space_used_physical_percent=92.5,
                                  space_used_physical_change_gib_per_week=120.5, space_threshold_percent=90,
                                  probability=80)
    assert first["iops"]["total_iops"] == 48000 and first["iops"]["latency_storage_ms"] == 4.2
    assert first["flash"] is None
    assert norm["issues"][1]["flash"]["flash_hit_rate_threshold_percent"] == 95
    assert sorted(norm["issues_by_type"]) == ["FLASH", "IOPS", "SPACE"]
    assert norm["issues_by_type"]["FLASH"][0]["vmstore"] == "vmstore2.test"
    assert [len(g["actions"]) for g in norm["action_groups"]] == [2, 1]
    assert norm["vms_moved"] == 3
    action = norm["action_groups"][0]["actions"][0]
    assert action == dict(vm="web01", vm_uuid=vm_id(1), source_datastore="vmstore1.test", source_datastore_uuid="TIN-0011",
                          destination_datastore="vmstore2.test", destination_datastore_uuid="TIN-0012",
                          issue_types=["SPACE"], state="AVAILABLE", progress=0, error=None)
    outcome = norm["expected_outcomes"][1]
    assert outcome["space"] is None and outcome["iops"] is None
    assert outcome["flash"] == dict(type="FLASH", summary="Flash hit rate up", flash_hit_rate_percent=97.0,
                                    changed_latency_ms=-0.5)
    assert outcome["protection"]["vm_uuids"] == [vm_id(3)]
    assert norm["expected_outcomes"][0]["iops"]["predicted_outcome_load_week_percent"] == 10
    assert norm["loses_protection"] is True and norm["protection_loss_vms"] == [vm_id(3)]


@pytest.mark.parametrize("key", ["spaceInfo", "iopsInfo", "flashInfo"])
def test_each_issue_sub_object_may_be_missing(key):
    issue = reco_issue("vmstore1.test", 1, space=space_issue(), iops=iops_issue(), flash=flash_issue())
    del issue[key]
    norm = _tgc.normalise_recommendation(recommendation(issues=[issue]))
    name = {"spaceInfo": "space", "iopsInfo": "iops", "flashInfo": "flash"}[key]
    assert norm["issues"][0][name] is None
    assert len(norm["issues"][0]["types"]) == 2
    assert name.upper() not in norm["issue_types"] and name.upper() not in norm["issues_by_type"]


@pytest.mark.parametrize("key", ["spaceInfo", "iopsInfo", "flashInfo", "protectionInfo"])
def test_each_outcome_sub_object_may_be_missing(key):
    outcome = reco_outcome(space=True, iops=True, flash=True, protection=[vm_id(5)])
    del outcome[key]
    norm = _tgc.normalise_recommendation(recommendation(outcomes=[outcome]))
    name = {"spaceInfo": "space", "iopsInfo": "iops", "flashInfo": "flash", "protectionInfo": "protection"}[key]
    assert norm["expected_outcomes"][0][name] is None
    assert norm["loses_protection"] is (key != "protectionInfo")


def test_sub_objects_with_missing_fields_and_a_bare_recommendation_do_not_crash():
    reco = recommendation(issues=[{"vmStoreId": "TIN-1", "spaceInfo": {}}],
                          groups=[[{"targetVmTintriUuid": vm_id(4)}]],
                          outcomes=[{"vmStoreId": "TIN-1", "protectionInfo": {"issueType": "PROTECTION"}}])
    norm = _tgc.normalise_recommendation(reco)
    assert norm["issues"][0]["vmstore"] == "TIN-1" and norm["issues"][0]["space"]["type"] == "SPACE"
    action = norm["action_groups"][0]["actions"][0]
    assert action["vm"] == vm_id(4) and action["issue_types"] == [] and action["state"] is None
    assert norm["loses_protection"] is True and norm["protection_loss_vms"] == []
    bare = _tgc.normalise_recommendation({"state": "NO_RECOMMENDATION_NEEDED"}, pool_uuid="P")
    assert bare["pool_uuid"] == "P" and bare["issues"] == [] and bare["action_groups"] == []
    assert bare["vms_moved"] == 0 and bare["issue_types"] == [] and bare["loses_protection"] is False
    assert _tgc.normalise_recommendation(None) is None


def test_action_without_display_name_or_issue_types_falls_back():
    norm = _tgc.normalise_recommendation(recommendation(groups=[[reco_action(vm_n=7, issue_types=(), named=False)]]))
    action = norm["action_groups"][0]["actions"][0]
    assert action["vm"] == vm_id(7) and action["issue_types"] == []


def test_protection_uuids_given_as_a_string_are_split():
    outcome = reco_outcome(protection=[])
    outcome["protectionInfo"]["vmTintriUuids"] = "%s, %s" % (vm_id(1), vm_id(2))
    norm = _tgc.normalise_recommendation(recommendation(outcomes=[outcome, reco_outcome(protection=[vm_id(1)])]))
    assert norm["protection_loss_vms"] == [vm_id(1), vm_id(2)]


def test_action_error_is_reported():
    reco = recommendation(groups=[[reco_action(state="COMPLETED_FAILED", error=("Move failed", "Target full"))]])
    action = _tgc.normalise_recommendation(reco)["action_groups"][0]["actions"][0]
    assert action["error"] == dict(category="VMSTORE", summary="Move failed", detail="Target full")


def test_pool_summary():
    summary = _tgc.pool_summary(pool("gold", n=2, members=("a.test",)), recommendation=None)
    assert summary == dict(uuid=pool_id(2), name="gold", description="gold pool",
                           members=[dict(uuid="TIN-0021", hostname="a.test")], issue_type_preference=["SPACE"],
                           recommendation=None)
    assert _tgc.pool_summary(dict(pool("x"), issueTypePreference="IOPS"))["issue_type_preference"] == ["IOPS"]


# -- policy ---------------------------------------------------------------------------------

def test_policy_passes_within_limits():
    norm = _tgc.normalise_recommendation(full_reco())
    verdict = _tgc.evaluate_policy(norm, allow_protection_loss=True, max_vms_moved=3)
    assert verdict == dict(passed=True, violations=[], issue_types=["FLASH", "IOPS", "SPACE"], vms_moved=3,
                           loses_protection=True)


def test_policy_lists_every_violation():
    norm = _tgc.normalise_recommendation(full_reco())
    verdict = _tgc.evaluate_policy(norm, allowed_issue_types=["space"], max_vms_moved=2)
    assert verdict["passed"] is False
    assert len(verdict["violations"]) == 3
    assert "FLASH, IOPS" in verdict["violations"][0]
    assert vm_id(3) in verdict["violations"][1] and "allow_protection_loss" in verdict["violations"][1]
    assert "moves 3 VMs" in verdict["violations"][2]


def test_policy_counts_action_issue_types_and_ignores_protection():
    reco = recommendation(issues=[reco_issue(space=space_issue())],
                          groups=[[reco_action(issue_types=("IOPS", "PROTECTION")), reco_action(issue_types=())]])
    norm = _tgc.normalise_recommendation(reco)
    assert norm["issue_types"] == ["SPACE"]
    verdict = _tgc.evaluate_policy(norm, allowed_issue_types=["space"])
    assert verdict["issue_types"] == ["IOPS", "SPACE"] and not verdict["passed"]
    assert _tgc.evaluate_policy(norm, allowed_issue_types=["space", "iops"])["passed"]


def test_policy_on_an_empty_recommendation_passes():
    norm = _tgc.normalise_recommendation(recommendation("NO_RECOMMENDATION_NEEDED"))
    assert _tgc.evaluate_policy(norm, allowed_issue_types=[], max_vms_moved=0)["passed"]


# -- state machine --------------------------------------------------------------------------

@pytest.mark.parametrize("desired,state,execution,action,outcome", [
    ("acknowledged", "AVAILABLE", "AVAILABLE", "acknowledge", "AVAILABLE_ACKED"),
    ("acknowledged", "AVAILABLE_ACKED", "AVAILABLE", None, "msg"),
    ("acknowledged", "ACCEPTED", "RUNNING", None, "msg"),
    ("acknowledged", "EXPIRED", "AVAILABLE", None, "msg"),
    ("accepted", "AVAILABLE", "AVAILABLE", "accept", "ACCEPTED"),
    ("accepted", "AVAILABLE_ACKED", "AVAILABLE", "accept", "ACCEPTED"),
    ("accepted", "ACCEPTED", "RUNNING", None, "msg"),
    ("accepted", "NO_RECOMMENDATION_NEEDED", None, None, "msg"),
    ("accepted", "NO_RECOMMENDATION_AVAILABLE", None, None, "msg"),
    ("accepted", "INVALIDATED", "AVAILABLE", None, "msg"),
    ("accepted", "CANCELLED", "COMPLETED_CANCELLED", None, "msg"),
    ("cancelled", "ACCEPTED", "PENDING", "cancel", "CANCELLED"),
    ("cancelled", "ACCEPTED", "RUNNING_ERROR", "cancel", "CANCELLED"),
    ("cancelled", "ACCEPTED", "CANCELLED_PENDING", None, "msg"),
    ("cancelled", "CANCELLED", "COMPLETED_CANCELLED", None, "msg"),
    ("cancelled", "ACCEPTED", "COMPLETED_OK", None, "error"),
    ("cancelled", "ACCEPTED", "COMPLETED_FAILED", None, "error"),
    ("cancelled", "AVAILABLE", "AVAILABLE", None, "error"),
    ("cancelled", "EXPIRED", "AVAILABLE", None, "msg"),
    ("reset", "AVAILABLE", "AVAILABLE", "reset", "INVALIDATED"),
    ("reset", "AVAILABLE_ACKED", "AVAILABLE", "reset", "INVALIDATED"),
    ("reset", "INVALIDATED", "AVAILABLE", None, "msg"),
    ("reset", "ACCEPTED", "RUNNING", None, "error"),
    ("reset", "NO_RECOMMENDATION_NEEDED", None, None, "msg"),
    ("accepted", "SOMETHING_NEW", None, None, "error"),
])
def test_plan_transition(desired, state, execution, action, outcome):
    plan = _tgc.plan_transition(desired, {"id": "R", "state": state, "executionState": execution})
    assert plan["action"] == action
    if action:
        assert plan["to"] == outcome and not plan["msg"] and not plan["error"]
    elif outcome == "msg":
        assert plan["msg"] and not plan["error"]
    else:
        assert plan["error"] and not plan["msg"]


def test_plan_messages_are_specific():
    assert "state=reset" in _tgc.plan_transition("cancelled", {"id": "R", "state": "AVAILABLE"})["error"]
    assert "state=cancelled" in _tgc.plan_transition("reset", {"id": "R", "state": "ACCEPTED"})["error"]
    plan = _tgc.plan_transition("accepted", {"state": "NO_RECOMMENDATION_AVAILABLE",
                                             "stateReason": "UNAVAILABLE_UNDER_CONSTRUCTION"})
    assert "NO_RECOMMENDATION_AVAILABLE (UNAVAILABLE_UNDER_CONSTRUCTION)" in plan["msg"]


@pytest.mark.parametrize("action,reco,done", [
    ("acknowledge", {"state": "AVAILABLE"}, False),
    ("acknowledge", {"state": "AVAILABLE_ACKED"}, True),
    ("accept", {"state": "AVAILABLE_ACKED"}, False),
    ("accept", {"state": "ACCEPTED", "executionState": "PENDING"}, True),
    ("cancel", {"state": "ACCEPTED", "executionState": "RUNNING"}, False),
    ("cancel", {"state": "ACCEPTED", "executionState": "CANCELLED_PENDING"}, True),
    ("cancel", {"state": "CANCELLED"}, True),
    ("reset", {"state": "AVAILABLE"}, False),
    ("reset", {"state": "INVALIDATED"}, True),
])
def test_transition_done(action, reco, done):
    assert _tgc.transition_done(action, reco) is done


@pytest.mark.parametrize("state,execution,finished", [
    ("ACCEPTED", "AVAILABLE", False),
    ("ACCEPTED", "PENDING", False),
    ("ACCEPTED", "RUNNING_ERROR", False),
    ("ACCEPTED", "COMPLETED_OK", True),
    ("ACCEPTED", "COMPLETED_FAILED", True),
    ("CANCELLED", "CANCELLED_PENDING", False),
    ("CANCELLED", "COMPLETED_CANCELLED", True),
    ("CANCELLED", "AVAILABLE", True),
    ("INVALIDATED", None, True),
])
def test_execution_finished(state, execution, finished):
    assert _tgc.execution_finished({"state": state, "executionState": execution}) is finished


class FakeTgc:
    product = "Tintri Global Center"
    hostname = "tgc.test"
    server_label = "Tintri Global Center tgc.test"

    def __init__(self, answers=()):
        self.answers = list(answers)
        self.paths = []

    @property
    def is_tgc(self):
        return self.product == "Tintri Global Center"

    def get(self, path, params=None):
        self.paths.append(path)
        return self.answers.pop(0)


def test_require_tgc():
    client = FakeTgc()
    _tgc.require_tgc(client)
    client.product = "Tintri VMstore"
    with pytest.raises(TintriUnsupportedError) as caught:
        _tgc.require_tgc(client)
    assert "tgc.test is a Tintri VMstore" in str(caught.value)
    assert "Point hostname at the Tintri Global Center" in str(caught.value)


def test_wait_for_execution_polls_by_id(monkeypatch):
    sleeps = []
    monkeypatch.setattr(_tgc.time, "sleep", sleeps.append)
    client = FakeTgc([recommendation("ACCEPTED", execution="RUNNING"), recommendation("ACCEPTED", execution="COMPLETED_OK")])
    final = _tgc.wait_for_execution(client, pool_id(1), recommendation("ACCEPTED", execution="PENDING"), 60, 3)
    assert final["executionState"] == "COMPLETED_OK"
    assert client.paths == ["/v310/vmstorePool/%s/recommendation/RECO-1" % pool_id(1)] * 2
    assert sleeps == [3, 3]


def test_wait_for_execution_failure_names_the_failed_moves(monkeypatch):
    monkeypatch.setattr(_tgc.time, "sleep", lambda s: None)
    failed = recommendation("ACCEPTED", execution="COMPLETED_FAILED", groups=[[
        reco_action("web01", 1, state="COMPLETED_OK", progress=100),
        reco_action("db01", 2, state="COMPLETED_FAILED", error=("Storage vMotion failed", "Datastore ds-2 is full"))]])
    with pytest.raises(_tgc.RecommendationWaitError) as caught:
        _tgc.wait_for_execution(FakeTgc([failed]), pool_id(1), recommendation("ACCEPTED", execution="RUNNING"), 60, 1)
    text = str(caught.value)
    assert "COMPLETED_FAILED" in text and "2 of 2 VM move(s) finished" in text
    assert "VM db01 (vmstore1.test -> vmstore2.test) COMPLETED_FAILED: Storage vMotion failed: Datastore ds-2 is full" in text
    assert "web01" not in text
    assert caught.value.recommendation is failed


def test_wait_for_execution_times_out(monkeypatch):
    sleeps = []
    monkeypatch.setattr(_tgc.time, "sleep", sleeps.append)
    running = recommendation("ACCEPTED", execution="RUNNING", groups=[[reco_action(state="RUNNING")]])
    client = FakeTgc([running] * 3)
    with pytest.raises(_tgc.RecommendationWaitError) as caught:
        _tgc.wait_for_execution(client, pool_id(1), running, 5, 2, clock=lambda: sum(sleeps))
    assert sleeps == [2, 2, 1]
    assert "still RUNNING (0 of 1 VM move(s) finished) after 5s" in str(caught.value)
    assert "continues on the Tintri Global Center" in str(caught.value)
