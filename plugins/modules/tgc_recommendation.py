#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: tgc_recommendation
short_description: Acknowledge, accept (by policy), cancel or reset a Tintri VMstore pool recommendation
version_added: 0.1.0
description:
  - Brings a VMstore pool's VM scale-out recommendation on Tintri Global Center (TGC) to a state -
    V(acknowledged), V(accepted), V(cancelled) or V(reset).
  - The recommendation's own state is what decides whether anything is done, so running the task again
    changes nothing. Acknowledging is done only from C(AVAILABLE); accepting from C(AVAILABLE) or
    C(AVAILABLE_ACKED); cancelling only from C(ACCEPTED) while its execution has not ended; resetting
    (the API's C(INVALIDATED)) from C(AVAILABLE) or C(AVAILABLE_ACKED).
  - When there is nothing to act on (C(NO_RECOMMENDATION_NEEDED), C(NO_RECOMMENDATION_AVAILABLE), C(EXPIRED),
    C(INVALIDATED), C(CANCELLED) or C(REFRESH)), the module changes nothing, does not fail, and says so in
    RV(msg).
  - With O(state=accepted), an accept policy (O(allowed_issue_types), O(allow_protection_loss),
    O(max_vms_moved)) is checked first. A recommendation that breaks it is not accepted; by default
    (O(on_policy_violation=skip)) that is a warning, not a failure, so a scheduled job keeps running on days
    when the recommendation is not acceptable.
  - Accepting starts VM moves on TGC. With O(wait=true) the module follows the recommendation's execution
    state until the moves end and fails, naming each failed move, if they end C(COMPLETED_FAILED).
  - Tintri Global Center only. Aimed at a VMstore, the module fails before any pool call and says to point
    O(hostname) at the Tintri Global Center.
author:
  - vmops.datacenter maintainers (@vmops)
options:
  pool:
    description:
      - Exact name of the VMstore pool. One of O(pool) and O(pool_uuid) is required.
    type: str
  pool_uuid:
    description:
      - Id of the VMstore pool, for example RV(vmops.datacenter.tgc_pool_info#module:pools[].uuid).
        Saves the request that looks the pool up by name.
    type: str
  recommendation_id:
    description:
      - Id of the recommendation to act on. By default the pool's current recommendation.
    type: str
  state:
    description:
      - V(acknowledged) marks an C(AVAILABLE) recommendation as seen (C(AVAILABLE_ACKED)).
      - V(accepted) accepts it if the accept policy allows; TGC then moves the VMs.
      - V(cancelled) stops the execution of an accepted recommendation. One whose execution has already
        ended cannot be cancelled and the module fails.
      - V(reset) discards an C(AVAILABLE) or C(AVAILABLE_ACKED) recommendation (C(INVALIDATED)); an accepted one
        cannot be reset and the module fails.
    type: str
    required: true
    choices: [acknowledged, accepted, cancelled, reset]
  allowed_issue_types:
    description:
      - Accept policy, used with O(state=accepted). Issue types a recommendation may address; one that
        addresses another type (in its issues or its VM moves) is not accepted.
    type: list
    elements: str
    choices: [space, iops, flash]
    default: [space, iops, flash]
  allow_protection_loss:
    description:
      - Accept policy, used with O(state=accepted). With V(false), a recommendation whose expected outcome says
        that the replication (protection) of some VMs would stop is not accepted.
    type: bool
    default: false
  max_vms_moved:
    description:
      - Accept policy, used with O(state=accepted). A recommendation that moves more VMs is not accepted.
        No limit when not set.
    type: int
  on_policy_violation:
    description:
      - What to do when the recommendation breaks the accept policy.
      - V(skip) does not accept it, warns, and returns C(changed=false), RV(accepted=false) and the reasons in
        RV(policy.violations).
      - V(fail) makes the task fail with the reasons.
    type: str
    choices: [skip, fail]
    default: skip
  wait:
    description:
      - With O(state=accepted), wait until the recommendation's execution state is C(COMPLETED_OK),
        C(COMPLETED_FAILED) or C(COMPLETED_CANCELLED) by reading the recommendation again every
        O(poll_interval) seconds. Also done when the recommendation was accepted before.
      - C(COMPLETED_FAILED) makes the module fail and name the failed VM moves with their errors.
      - With V(false) the module returns right after accepting, with the execution state at that moment.
      - Not used with the other states, nor in check mode.
  wait_timeout:
    description:
      - Seconds to wait for the execution when O(wait=true). On timeout the module fails and reports the
        progress; the moves continue on TGC, and running the task again waits for them without accepting again.
  poll_interval:
    description:
      - Seconds between two reads of the recommendation while waiting.
extends_documentation_fragment:
  - vmops.datacenter.tintri
  - vmops.datacenter.tintri.WAIT
  - vmops.datacenter.attributes
  - vmops.datacenter.attributes.ACTIONGROUP_TINTRI
  - vmops.datacenter.attributes.PLATFORM_CONTROLLER
attributes:
  check_mode:
    support: full
    details: Reads the recommendation, evaluates the policy and returns the planned transition without changing it.
  diff_mode:
    support: full
    details: Shows the recommendation's id, state and execution state before and after.
notes:
  - A no-op run makes 4 requests with O(pool_uuid) (discovery, login, reading the recommendation, logout)
    and one more with O(pool).
  - If the connection drops while the action is sent, the module reads the recommendation again and does not
    repeat the action when it has taken effect.
seealso:
  - module: vmops.datacenter.tgc_pool_info
"""

EXAMPLES = r"""
- name: Accept today's recommendation for the gold pool if it only balances space and IOPS
  vmops.datacenter.tgc_recommendation:
    hostname: tgc.example.com
    username: automation
    password: "{{ tgc_password }}"
    pool: gold
    state: accepted
    allowed_issue_types: [space, iops]
    max_vms_moved: 10
    wait_timeout: 14400
  delegate_to: localhost
  register: reco

- name: Report why it was not accepted
  ansible.builtin.debug:
    msg: "{{ reco.policy.violations }}"
  when: not reco.accepted

- name: Mark a recommendation as seen without acting on it
  vmops.datacenter.tgc_recommendation:
    pool_uuid: "{{ pool_uuid }}"
    state: acknowledged
  delegate_to: localhost

- name: Stop the moves of an accepted recommendation
  vmops.datacenter.tgc_recommendation:
    pool: gold
    state: cancelled
  delegate_to: localhost
"""

RETURN = r"""
msg:
  description: What was done, or why nothing was done.
  returned: always
  type: str
  sample: Accepted recommendation 7f3c-1 of VMstore pool gold (4 VM moves); execution COMPLETED_OK.
pool:
  description: The pool - C(uuid), and C(name) when given by O(pool).
  returned: always
  type: dict
recommendation:
  description:
    - The recommendation after the run (in check mode, with the planned state and execution state), in the same
      shape as RV(vmops.datacenter.tgc_pool_info#module:pools[].recommendation).
  returned: always
  type: dict
  contains:
    id:
      description: Recommendation id.
      type: str
    pool_uuid:
      description: Id of the pool.
      type: str
    state:
      description: Recommendation state, for example C(ACCEPTED).
      type: str
    state_reason:
      description: Why it is invalid or unavailable.
      type: str
    execution_state:
      description: Execution progress, for example C(RUNNING) or C(COMPLETED_OK).
      type: str
    creation_time:
      description: When TGC produced it.
      type: str
    acknowledged_time:
      description: When it was acknowledged.
      type: str
    accepted_time:
      description: When it was accepted.
      type: str
    completion_time:
      description: When its execution ended.
      type: str
    expiration_time:
      description: When it expires if not accepted.
      type: str
    last_updated_time:
      description: When TGC last changed it.
      type: str
    issue_types:
      description: Sorted issue types over all its issues.
      type: list
      elements: str
    issues:
      description: Issues per VMstore, see M(vmops.datacenter.tgc_pool_info).
      type: list
      elements: dict
    issues_by_type:
      description: Issue details grouped by type.
      type: dict
    action_groups:
      description: VM moves (C(actions) per group) with their C(state), C(progress) and C(error).
      type: list
      elements: dict
    vms_moved:
      description: Number of VM moves.
      type: int
    expected_outcomes:
      description: Predicted result per VMstore.
      type: list
      elements: dict
    loses_protection:
      description: Whether accepting stops the replication of some VMs.
      type: bool
    protection_loss_vms:
      description: Ids of the VMs whose replication stops.
      type: list
      elements: str
transition:
  description:
    - The state change made (or, in check mode, that would be made) - C(from) and C(to). V(null) when none.
  returned: always
  type: dict
  sample: {"from": "AVAILABLE", "to": "ACCEPTED"}
accepted:
  description:
    - Whether the recommendation is accepted after the run (in check mode, whether it would be).
  returned: when O(state=accepted)
  type: bool
policy:
  description:
    - The accept policy's verdict. It is enforced only when this run would accept; for a recommendation
      that is already accepted it is informative.
  returned: when O(state=accepted)
  type: dict
  contains:
    passed:
      description: Whether the recommendation may be accepted.
      type: bool
    violations:
      description: Every reason it may not.
      type: list
      elements: str
    issue_types:
      description: Issue types it addresses (issues and VM moves).
      type: list
      elements: str
    vms_moved:
      description: Number of VM moves.
      type: int
    loses_protection:
      description: Whether it stops the replication of some VMs.
      type: bool
"""

from ansible_collections.vmops.datacenter.plugins.module_utils._tgc import (
    ACCEPTED,
    CANCELLED_PENDING,
    COMPLETED_OK,
    INVALID_TRANSITION_CODES,
    RecommendationWaitError,
    evaluate_policy,
    get_pool_by_name,
    get_recommendation,
    normalise_recommendation,
    plan_transition,
    recommendation_path,
    require_tgc,
    transition_done,
    wait_for_execution,
)
from ansible_collections.vmops.datacenter.plugins.module_utils._tintri import (
    TintriApiError,
    uuid_of,
)
from ansible_collections.vmops.datacenter.plugins.module_utils._tintri_module import (
    TintriModule,
    wait_argument_spec,
)

DONE = {"acknowledge": "Acknowledged", "accept": "Accepted", "cancel": "Cancelled", "reset": "Reset"}
# Execution state right after the action, for the check-mode plan.
PLANNED_EXECUTION = {"accept": "PENDING", "cancel": CANCELLED_PENDING}


def diff_view(norm):
    norm = norm or {}
    return dict(id=norm.get("id"), state=norm.get("state"), execution_state=norm.get("execution_state"))


class RecommendationModule(TintriModule):
    def __init__(self):
        spec = dict(
            pool=dict(type="str"),
            pool_uuid=dict(type="str"),
            recommendation_id=dict(type="str"),
            state=dict(type="str", required=True, choices=["acknowledged", "accepted", "cancelled", "reset"]),
            allowed_issue_types=dict(type="list", elements="str", choices=["space", "iops", "flash"],
                                     default=["space", "iops", "flash"]),
            allow_protection_loss=dict(type="bool", default=False),
            max_vms_moved=dict(type="int"),
            on_policy_violation=dict(type="str", choices=["skip", "fail"], default="skip"),
        )
        spec.update(wait_argument_spec())
        super().__init__(spec, supports_check_mode=True, mutually_exclusive=[("pool", "pool_uuid")],
                         required_one_of=[("pool", "pool_uuid")])
        if self.params["max_vms_moved"] is not None and self.params["max_vms_moved"] < 0:
            self.fail("max_vms_moved must be 0 or more, got %s." % self.params["max_vms_moved"])
        self.pool_label = None

    # -- steps ------------------------------------------------------------------------------

    def resolve_pool(self, client):
        params = self.params
        if params["pool_uuid"]:
            self.result["pool"] = dict(uuid=params["pool_uuid"], name=None)
            self.pool_label = params["pool_uuid"]
        else:
            pool = get_pool_by_name(client, params["pool"])
            self.result["pool"] = dict(uuid=uuid_of(pool), name=pool.get("name"))
            self.pool_label = pool.get("name")
        return self.result["pool"]["uuid"]

    def work(self, client):
        params = self.params
        require_tgc(client)
        pool_uuid = self.resolve_pool(client)
        reco = get_recommendation(client, pool_uuid, params["recommendation_id"])
        before = normalise_recommendation(reco, pool_uuid)
        self.result.update(recommendation=before, transition=None)
        accepting = params["state"] == "accepted"
        if accepting:
            self.result["policy"] = evaluate_policy(
                before, allowed_issue_types=params["allowed_issue_types"],
                allow_protection_loss=params["allow_protection_loss"], max_vms_moved=params["max_vms_moved"])
            self.result["accepted"] = before["state"] == ACCEPTED
        plan = plan_transition(params["state"], reco)
        if plan["error"]:
            self.set_diff(diff_view(before), diff_view(before))
            self.fail(plan["error"])
        if plan["action"] is None:
            self.result["msg"] = plan["msg"]
            self.set_diff(diff_view(before), diff_view(before))
            if accepting and before["state"] == ACCEPTED and params["wait"] and not self.check_mode:
                self.wait(client, pool_uuid, reco, before)
            return
        if accepting and not self.result["policy"]["passed"]:
            self.refuse(before)
            return
        self.result["changed"] = True
        self.result["transition"] = {"from": before["state"], "to": plan["to"]}
        label = "recommendation %s of VMstore pool %s" % (before["id"], self.pool_label)
        if self.check_mode:
            planned = dict(before, state=plan["to"],
                           execution_state=PLANNED_EXECUTION.get(plan["action"], before["execution_state"]))
            self.result.update(recommendation=planned, msg="Would %s %s (%s -> %s)." % (
                plan["action"], label, before["state"], plan["to"]))
            if accepting:
                self.result["accepted"] = True
            self.set_diff(diff_view(before), diff_view(planned))
            return
        after = self.transition(client, pool_uuid, reco, plan["action"])
        norm = normalise_recommendation(after, pool_uuid)
        self.result["recommendation"] = norm
        self.set_diff(diff_view(before), diff_view(norm))
        if accepting:
            self.result["accepted"] = norm["state"] == ACCEPTED
        if self.result["changed"]:
            self.result["msg"] = "%s %s (%s -> %s)." % (DONE[plan["action"]], label, before["state"], norm["state"])
            if plan["action"] in ("accept", "cancel"):
                self.result["msg"] += " %d VM move(s); execution %s." % (norm["vms_moved"], norm["execution_state"])
        if accepting and params["wait"]:
            self.wait(client, pool_uuid, after, before, done=DONE[plan["action"]] if self.result["changed"] else None)

    def refuse(self, before):
        violations = self.result["policy"]["violations"]
        msg = "Not accepting recommendation %s of VMstore pool %s: %s" % (
            before["id"], self.pool_label, " ".join(violations))
        self.set_diff(diff_view(before), diff_view(before))
        if self.params["on_policy_violation"] == "fail":
            self.fail(msg)
        self.module.warn(msg)
        self.result["msg"] = msg

    def transition(self, client, pool_uuid, reco, action):
        """POST the action once; after an ambiguous failure, a re-read decides whether to send it again."""
        reco_id = reco.get("id")

        def probe():
            current = get_recommendation(client, pool_uuid, reco_id)
            return current if transition_done(action, current) else None

        try:
            answer = client.create(recommendation_path(pool_uuid, reco_id, action), None, probe)
        except TintriApiError as exc:
            if exc.status != 400 or exc.code not in INVALID_TRANSITION_CODES:
                raise
            # Refused as an invalid transition: the state changed since it was read.
            current = get_recommendation(client, pool_uuid, reco_id)
            if not transition_done(action, current):
                raise TintriApiError("%s The recommendation is now %s." % (exc, current.get("state")),
                                     server=exc.server, method=exc.method, path=exc.path, status=exc.status,
                                     code=exc.code, api_message=exc.api_message, cause_details=exc.cause_details) from exc
            self.result.update(changed=False, transition=None)
            self.result["msg"] = "Recommendation %s of VMstore pool %s was already %s: it was changed elsewhere." % (
                reco_id, self.pool_label, current.get("state"))
            self.module.warn(self.result["msg"])
            return current
        if isinstance(answer, dict) and answer.get("state"):
            return answer  # the probe found the action done
        return get_recommendation(client, pool_uuid, reco_id)

    def wait(self, client, pool_uuid, reco, before, done=None):
        params = self.params
        try:
            final = wait_for_execution(client, pool_uuid, reco, params["wait_timeout"], params["poll_interval"])
        except RecommendationWaitError as exc:
            norm = normalise_recommendation(exc.recommendation, pool_uuid)
            self.result["recommendation"] = norm
            self.set_diff(diff_view(before), diff_view(norm))
            self.result.pop("msg", None)  # the failure message replaces the progress message
            raise
        norm = normalise_recommendation(final, pool_uuid)
        self.result["recommendation"] = norm
        self.result["accepted"] = norm["state"] == ACCEPTED
        self.set_diff(diff_view(before), diff_view(norm))
        label = "recommendation %s of VMstore pool %s" % (norm["id"], self.pool_label)
        if norm["execution_state"] == COMPLETED_OK:
            self.result["msg"] = "%s %s; its %d VM move(s) completed (COMPLETED_OK)." % (
                done or "Already accepted", label, norm["vms_moved"])
        else:
            self.result["msg"] = "%s %s, but its execution ended %s (state %s) before completing." % (
                done or "Already accepted", label, norm["execution_state"], norm["state"])
            self.module.warn(self.result["msg"])


def main():
    module = RecommendationModule()
    module.run(module.work)


if __name__ == "__main__":
    main()
