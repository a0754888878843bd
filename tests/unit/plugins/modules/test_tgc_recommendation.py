# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest
import requests
from ansible.module_utils.common import warnings as ansible_warnings
from ansible_collections.vmops.datacenter.plugins.module_utils import _tgc
from ansible_collections.vmops.datacenter.plugins.modules import tgc_recommendation
from ansible_collections.vmops.datacenter.tests.unit.framework.rest_registry import page
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

TGC = "Tintri Global Center"
POOLS = "/api/v310/vmstorePool"
CURRENT = "%s/%s/recommendation/current" % (POOLS, pool_id(1))
BY_ID = "%s/%s/recommendation/RECO-1" % (POOLS, pool_id(1))
BY_UUID = dict(pool_uuid=pool_id(1))


@pytest.fixture(autouse=True)
def fresh_warnings():
    """Module warnings are kept process-wide; start every run without the previous run's."""
    ansible_warnings._global_warnings.clear()
    ansible_warnings._global_deprecations.clear()


def warning_texts(result):
    return [w["event"]["msg"] if isinstance(w, dict) else w for w in result.get("warnings", [])]


def action_path(action):
    return "%s/%s" % (BY_ID, action)


def reco(state="AVAILABLE", execution="AVAILABLE", actions=None, protection=None, issues=None, **kwargs):
    """A space-only recommendation moving web01 and web02 unless told otherwise."""
    if actions is None:
        actions = [reco_action("web01", 1, state=_action_state(execution)),
                   reco_action("web02", 2, state=_action_state(execution))]
    if issues is None:
        issues = [reco_issue("vmstore1.test", 1, space=space_issue())]
    return recommendation(state, execution=execution, issues=issues, groups=[actions],
                          outcomes=[reco_outcome("vmstore1.test", 1, space=True, protection=protection)], **kwargs)


def _action_state(execution):
    return {"PENDING": "PENDING", "RUNNING": "RUNNING", "COMPLETED_OK": "COMPLETED_OK"}.get(execution, "AVAILABLE")


def posts(api):
    return [c for c in api.calls("POST") if "/session/" not in c["path"]]


# -- acknowledge ----------------------------------------------------------------------------

def test_acknowledges_an_available_recommendation(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", CURRENT, json=reco())
    api.expect("POST", action_path("acknowledge"), status=204)
    api.expect("GET", BY_ID, json=reco("AVAILABLE_ACKED"))
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(BY_UUID, state="acknowledged"), diff=True)
    assert result["changed"] is True
    assert result["transition"] == {"from": "AVAILABLE", "to": "AVAILABLE_ACKED"}
    assert result["recommendation"]["state"] == "AVAILABLE_ACKED"
    assert result["diff"]["before"] == dict(id="RECO-1", state="AVAILABLE", execution_state="AVAILABLE")
    assert result["diff"]["after"] == dict(id="RECO-1", state="AVAILABLE_ACKED", execution_state="AVAILABLE")
    assert posts(api)[0]["body"] is None
    assert "accepted" not in result and "policy" not in result
    assert result["msg"] == "Acknowledged recommendation RECO-1 of VMstore pool %s (AVAILABLE -> AVAILABLE_ACKED)." % pool_id(1)
    assert result["pool"] == dict(uuid=pool_id(1), name=None)


@pytest.mark.parametrize("state", ["AVAILABLE_ACKED", "ACCEPTED"])
def test_acknowledge_is_a_noop_in_four_requests(api, run_module, state):
    api.expect_session(product=TGC)
    api.expect("GET", CURRENT, json=reco(state, execution="RUNNING" if state == "ACCEPTED" else "AVAILABLE"))
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(BY_UUID, state="acknowledged"))
    assert result["changed"] is False and result["transition"] is None
    assert "already %s" % state in result["msg"]
    assert len(api.made) == 4


# -- accept ---------------------------------------------------------------------------------

def test_accepts_by_pool_name_without_waiting(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", POOLS, params={"name": "gold"}, json=page([pool("gold-dr", 2), pool("gold", 1)]))
    api.expect("GET", CURRENT, json=reco("AVAILABLE_ACKED"))
    api.expect("POST", action_path("accept"), status=204)
    api.expect("GET", BY_ID, json=reco("ACCEPTED", execution="PENDING"))
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(pool="gold", state="accepted", wait=False))
    assert result["changed"] is True and result["accepted"] is True
    assert result["policy"] == dict(passed=True, violations=[], issue_types=["SPACE"], vms_moved=2,
                                    loses_protection=False)
    assert result["recommendation"]["execution_state"] == "PENDING"
    assert result["pool"] == dict(uuid=pool_id(1), name="gold")
    assert result["msg"] == ("Accepted recommendation RECO-1 of VMstore pool gold (AVAILABLE_ACKED -> ACCEPTED). "
                             "2 VM move(s); execution PENDING.")
    assert api.sleeps == []


def test_accept_waits_through_pending_and_running_to_completed_ok(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", CURRENT, json=reco())
    api.expect("POST", action_path("accept"), status=204)
    api.expect("GET", BY_ID, json=reco("ACCEPTED", execution="PENDING"))
    api.expect("GET", BY_ID, json=reco("ACCEPTED", execution="RUNNING"))
    api.expect("GET", BY_ID, json=reco("ACCEPTED", execution="RUNNING"))
    api.expect("GET", BY_ID, json=reco("ACCEPTED", execution="COMPLETED_OK"))
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(BY_UUID, state="accepted", poll_interval=5), diff=True)
    assert result["changed"] is True and result["accepted"] is True
    assert result["recommendation"]["execution_state"] == "COMPLETED_OK"
    assert [a["state"] for a in result["recommendation"]["action_groups"][0]["actions"]] == ["COMPLETED_OK"] * 2
    assert result["diff"]["after"] == dict(id="RECO-1", state="ACCEPTED", execution_state="COMPLETED_OK")
    assert "completed (COMPLETED_OK)" in result["msg"]
    assert api.sleeps == [5, 5, 5]
    assert len(posts(api)) == 1


def test_accept_ending_completed_failed_names_the_failed_moves(api, run_module):
    failed = reco("ACCEPTED", execution="COMPLETED_FAILED", actions=[
        reco_action("web01", 1, state="COMPLETED_OK", progress=100),
        reco_action("web02", 2, state="COMPLETED_FAILED", progress=40,
                    error=("Storage migration failed", "Destination vmstore2.test ran out of space"))])
    api.expect_session(product=TGC)
    api.expect("GET", CURRENT, json=reco())
    api.expect("POST", action_path("accept"), status=204)
    api.expect("GET", BY_ID, json=reco("ACCEPTED", execution="RUNNING"))
    api.expect("GET", BY_ID, json=failed)
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(BY_UUID, state="accepted"))
    assert result["failed"] is True and result["changed"] is True
    assert "ended COMPLETED_FAILED" in result["msg"]
    assert "VM web02 (vmstore1.test -> vmstore2.test) COMPLETED_FAILED: Storage migration failed: " \
           "Destination vmstore2.test ran out of space" in result["msg"]
    assert "web01" not in result["msg"]
    assert result["recommendation"]["execution_state"] == "COMPLETED_FAILED"
    assert result["accepted"] is True


def test_wait_timeout_fails_and_says_it_continues(api, run_module, monkeypatch):
    monkeypatch.setattr(_tgc, "_now", lambda: sum(api.sleeps))  # time passes only while sleeping
    running = reco("ACCEPTED", execution="RUNNING")
    api.expect_session(product=TGC)
    api.expect("GET", CURRENT, json=reco())
    api.expect("POST", action_path("accept"), status=204)
    for _poll in range(4):
        api.expect("GET", BY_ID, json=running)
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(BY_UUID, state="accepted", wait_timeout=5, poll_interval=2))
    assert result["failed"] is True and result["changed"] is True
    assert "still RUNNING (0 of 2 VM move(s) finished) after 5s (wait_timeout)" in result["msg"]
    assert "continues on the Tintri Global Center" in result["msg"]
    assert result["recommendation"]["state"] == "ACCEPTED"
    assert api.sleeps == [2, 2, 1]


def test_already_accepted_and_completed_is_a_noop_in_four_requests(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", CURRENT, json=reco("ACCEPTED", execution="COMPLETED_OK"))
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(BY_UUID, state="accepted"))
    assert result["changed"] is False and result["accepted"] is True and result["transition"] is None
    assert "Already accepted" in result["msg"]
    assert len(api.made) == 4


def test_already_accepted_still_honours_wait(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", CURRENT, json=reco("ACCEPTED", execution="RUNNING"))
    api.expect("GET", BY_ID, json=reco("ACCEPTED", execution="COMPLETED_OK"))
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(BY_UUID, state="accepted"))
    assert result["changed"] is False and result["accepted"] is True
    assert result["recommendation"]["execution_state"] == "COMPLETED_OK"
    assert posts(api) == []


def test_already_accepted_without_wait_does_not_poll(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", CURRENT, json=reco("ACCEPTED", execution="RUNNING"))
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(BY_UUID, state="accepted", wait=False))
    assert result["changed"] is False and "already accepted (execution RUNNING)" in result["msg"]


def test_execution_cancelled_elsewhere_while_waiting_is_a_warning(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", CURRENT, json=reco("ACCEPTED", execution="RUNNING"))
    api.expect("GET", BY_ID, json=reco("CANCELLED", execution="COMPLETED_CANCELLED"))
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(BY_UUID, state="accepted"))
    assert not result.get("failed") and result["accepted"] is False
    assert "COMPLETED_CANCELLED" in warning_texts(result)[0]


@pytest.mark.parametrize("state", ["NO_RECOMMENDATION_NEEDED", "NO_RECOMMENDATION_AVAILABLE", "EXPIRED", "INVALIDATED"])
@pytest.mark.parametrize("desired", ["accepted", "acknowledged"])
def test_nothing_to_accept_or_acknowledge_is_not_a_failure(api, run_module, state, desired):
    api.expect_session(product=TGC)
    api.expect("GET", CURRENT, json=recommendation(state, reason="INVALID_VMS_CHANGED" if state == "INVALIDATED" else None))
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(BY_UUID, state=desired))
    assert not result.get("failed") and result["changed"] is False
    assert result["msg"].startswith("Nothing to ") and state in result["msg"]
    assert result.get("accepted", False) is False
    assert len(api.made) == 4


# -- accept policy --------------------------------------------------------------------------

def test_protection_loss_is_skipped_with_a_warning(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", CURRENT, json=reco(protection=[vm_id(2)]))
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(BY_UUID, state="accepted"), diff=True)
    assert not result.get("failed") and result["changed"] is False and result["accepted"] is False
    assert result["policy"]["passed"] is False and result["policy"]["loses_protection"] is True
    assert vm_id(2) in result["policy"]["violations"][0] and "allow_protection_loss" in result["policy"]["violations"][0]
    assert result["msg"].startswith("Not accepting recommendation RECO-1")
    assert warning_texts(result) == [result["msg"]]
    assert result["diff"]["before"] == result["diff"]["after"]
    assert posts(api) == []


def test_protection_loss_allowed_is_accepted(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", CURRENT, json=reco(protection=[vm_id(2)]))
    api.expect("POST", action_path("accept"), status=204)
    api.expect("GET", BY_ID, json=reco("ACCEPTED", execution="PENDING", protection=[vm_id(2)]))
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(BY_UUID, state="accepted", allow_protection_loss=True, wait=False))
    assert result["changed"] is True and result["accepted"] is True and result["policy"]["passed"] is True


def test_disallowed_issue_type_is_skipped(api, run_module):
    issues = [reco_issue("vmstore1.test", 1, space=space_issue()), reco_issue("vmstore2.test", 2, flash=flash_issue())]
    api.expect_session(product=TGC)
    api.expect("GET", CURRENT, json=reco(issues=issues))
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(BY_UUID, state="accepted", allowed_issue_types=["space", "iops"]))
    assert result["changed"] is False and result["accepted"] is False
    assert result["policy"]["violations"] == [
        "It addresses issue type(s) FLASH, which allowed_issue_types (space, iops) does not include."]


def test_disallowed_issue_type_in_a_move_only_is_skipped(api, run_module):
    actions = [reco_action("web01", 1, issue_types=("SPACE", "IOPS")), reco_action("web02", 2, issue_types=())]
    api.expect_session(product=TGC)
    api.expect("GET", CURRENT, json=reco(actions=actions))
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(BY_UUID, state="accepted", allowed_issue_types=["space"]))
    assert result["accepted"] is False and "IOPS" in result["policy"]["violations"][0]


def test_too_many_vms_moved_fails_when_asked_to(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", CURRENT, json=reco(issues=[reco_issue(space=space_issue(), iops=iops_issue())]))
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(BY_UUID, state="accepted", max_vms_moved=1, on_policy_violation="fail"))
    assert result["failed"] is True and result["changed"] is False
    assert "moves 2 VMs, more than max_vms_moved=1" in result["msg"]
    assert result["policy"]["passed"] is False and result["accepted"] is False
    assert posts(api) == []


def test_policy_is_not_enforced_on_an_already_accepted_recommendation(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", CURRENT, json=reco("ACCEPTED", execution="COMPLETED_OK", protection=[vm_id(1)]))
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(BY_UUID, state="accepted", on_policy_violation="fail"))
    assert not result.get("failed") and result["accepted"] is True and result["policy"]["passed"] is False


# -- cancel and reset -----------------------------------------------------------------------

def test_cancels_a_running_recommendation(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", CURRENT, json=reco("ACCEPTED", execution="RUNNING"))
    api.expect("POST", action_path("cancel"), status=204)
    api.expect("GET", BY_ID, json=reco("CANCELLED", execution="CANCELLED_PENDING"))
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(BY_UUID, state="cancelled"))
    assert result["changed"] is True and result["transition"] == {"from": "ACCEPTED", "to": "CANCELLED"}
    assert result["recommendation"]["execution_state"] == "CANCELLED_PENDING"
    assert len(api.made) == 6


@pytest.mark.parametrize("state,execution", [("CANCELLED", "COMPLETED_CANCELLED"), ("ACCEPTED", "CANCELLED_PENDING")])
def test_cancel_is_a_noop_when_already_cancelled(api, run_module, state, execution):
    api.expect_session(product=TGC)
    api.expect("GET", CURRENT, json=reco(state, execution=execution))
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(BY_UUID, state="cancelled"))
    assert result["changed"] is False and "already" in result["msg"]
    assert len(api.made) == 4


@pytest.mark.parametrize("execution", ["COMPLETED_OK", "COMPLETED_FAILED"])
def test_cancel_of_a_finished_recommendation_fails_clearly(api, run_module, execution):
    api.expect_session(product=TGC)
    api.expect("GET", CURRENT, json=reco("ACCEPTED", execution=execution))
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(BY_UUID, state="cancelled"))
    assert result["failed"] is True and result["changed"] is False
    assert "already finished executing (%s" % execution in result["msg"]
    assert posts(api) == []


def test_cancel_of_an_available_recommendation_points_to_reset(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", CURRENT, json=reco())
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(BY_UUID, state="cancelled"))
    assert result["failed"] is True and "state=reset" in result["msg"]


def test_resets_an_acknowledged_recommendation(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", CURRENT, json=reco("AVAILABLE_ACKED"))
    api.expect("POST", action_path("reset"), status=204)
    api.expect("GET", BY_ID, json=reco("INVALIDATED"))
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(BY_UUID, state="reset"))
    assert result["changed"] is True and result["recommendation"]["state"] == "INVALIDATED"
    assert result["transition"] == {"from": "AVAILABLE_ACKED", "to": "INVALIDATED"}


def test_reset_is_a_noop_when_invalidated(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", CURRENT, json=reco("INVALIDATED"))
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(BY_UUID, state="reset"))
    assert result["changed"] is False and "already reset" in result["msg"]
    assert len(api.made) == 4


def test_reset_of_an_accepted_recommendation_fails_clearly(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", CURRENT, json=reco("ACCEPTED", execution="RUNNING"))
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(BY_UUID, state="reset"))
    assert result["failed"] is True and "state=cancelled" in result["msg"]


# -- check mode, ambiguous POSTs, races -----------------------------------------------------

def test_check_mode_returns_the_plan_without_posting(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", CURRENT, json=reco())
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(BY_UUID, state="accepted"), check_mode=True, diff=True)
    assert result["changed"] is True and result["accepted"] is True
    assert result["transition"] == {"from": "AVAILABLE", "to": "ACCEPTED"}
    assert result["policy"]["passed"] is True
    assert result["recommendation"]["state"] == "ACCEPTED" and result["recommendation"]["execution_state"] == "PENDING"
    assert result["diff"] == dict(before=dict(id="RECO-1", state="AVAILABLE", execution_state="AVAILABLE"),
                                  after=dict(id="RECO-1", state="ACCEPTED", execution_state="PENDING"))
    assert result["msg"].startswith("Would accept recommendation RECO-1")
    assert posts(api) == [] and api.sleeps == []


def test_check_mode_reports_a_policy_skip(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", CURRENT, json=reco())
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(BY_UUID, state="accepted", max_vms_moved=0), check_mode=True)
    assert result["changed"] is False and result["accepted"] is False and result["policy"]["violations"]


def test_dropped_accept_is_resolved_by_the_probe_not_repeated(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", CURRENT, json=reco())
    api.expect_exception("POST", action_path("accept"), requests.exceptions.ConnectionError("Connection reset by peer"))
    api.expect("GET", BY_ID, json=reco("ACCEPTED", execution="PENDING"))   # the probe: it did take effect
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(BY_UUID, state="accepted", wait=False))
    assert result["changed"] is True and result["accepted"] is True
    assert result["recommendation"]["execution_state"] == "PENDING"
    assert len(posts(api)) == 1


def test_dropped_accept_that_did_not_happen_is_sent_again(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", CURRENT, json=reco())
    api.expect_exception("POST", action_path("accept"), requests.exceptions.ConnectionError("Connection reset by peer"))
    api.expect("GET", BY_ID, json=reco())   # the probe: still AVAILABLE
    api.expect("POST", action_path("accept"), status=204)
    api.expect("GET", BY_ID, json=reco("ACCEPTED", execution="PENDING"))
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(BY_UUID, state="accepted", wait=False))
    assert result["changed"] is True and len(posts(api)) == 2
    assert len(api.sleeps) == 1  # one backoff pause before the second POST


def test_accepted_elsewhere_meanwhile_is_not_a_failure(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", CURRENT, json=reco())
    api.expect_error("POST", action_path("accept"), 400, "ERR-API-7107", "Invalid accept Recommendation request.")
    api.expect("GET", BY_ID, json=reco("ACCEPTED", execution="PENDING"))
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(BY_UUID, state="accepted", wait=False))
    assert not result.get("failed") and result["changed"] is False and result["accepted"] is True
    assert "changed elsewhere" in warning_texts(result)[0]


def test_refused_transition_reports_the_current_state(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", CURRENT, json=reco())
    api.expect_error("POST", action_path("acknowledge"), 400, "ERR-API-7111", "Invalid acknowledge Recommendation request.")
    api.expect("GET", BY_ID, json=reco("EXPIRED"))
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(BY_UUID, state="acknowledged"))
    assert result["failed"] is True
    assert "ERR-API-7111" in result["msg"] and "The recommendation is now EXPIRED." in result["msg"]
    assert result["tintri_error"]["code"] == "ERR-API-7111"


# -- targeting and input --------------------------------------------------------------------

def test_aimed_at_a_vmstore_fails_clearly_before_any_pool_call(api, run_module):
    api.expect_session(product="Tintri VMstore")
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(pool="gold", state="accepted"))
    assert result["failed"] is True
    assert "is a Tintri VMstore, not a Tintri Global Center" in result["msg"]
    assert "Point hostname at the Tintri Global Center" in result["msg"]
    assert len(api.made) == 3


def test_unknown_pool_name_is_a_clear_error(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", POOLS, params={"name": "gold"}, json=page([pool("gold-dr", 2)]))
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(pool="gold", state="accepted"))
    assert result["failed"] is True and "No VMstore pool named 'gold'" in result["msg"]


def test_unknown_pool_uuid_is_a_clear_error(api, run_module):
    api.expect_session(product=TGC)
    api.expect_error("GET", CURRENT, 404, "ERR-API-8001", "Resource not found")
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(BY_UUID, state="accepted"))
    assert result["failed"] is True and "No VMstore pool with id %r" % pool_id(1) in result["msg"]


def test_a_named_recommendation_is_read_by_id(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", BY_ID, json=reco("AVAILABLE_ACKED"))
    api.expect_logout()
    result = run_module(tgc_recommendation, dict(BY_UUID, recommendation_id="RECO-1", state="acknowledged"))
    assert result["changed"] is False and result["recommendation"]["id"] == "RECO-1"


def test_negative_max_vms_moved_fails_before_any_request(api, run_module):
    result = run_module(tgc_recommendation, dict(BY_UUID, state="accepted", max_vms_moved=-1))
    assert result["failed"] is True and "max_vms_moved" in result["msg"]
    assert api.made == []


def test_pool_and_pool_uuid_are_exclusive(api, run_module):
    result = run_module(tgc_recommendation, dict(pool="gold", pool_uuid=pool_id(1), state="accepted"))
    assert result["failed"] is True and "mutually exclusive" in result["msg"]
    assert api.made == []
