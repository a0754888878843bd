# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tintri Global Center: VMstore pools, their recommendations, and the accept policy.

A recommendation moves VMs between the VMstores of a pool. The API omits the optional parts of
a recommendation (issue and outcome sub-objects, display names) when they do not apply, so
everything here reads them with ``.get`` and never assumes they exist.

Private to the collection: the interface may change between releases.
"""

from __future__ import annotations

import time

from ansible_collections.vmops.datacenter.plugins.module_utils._common import Deadline
from ansible_collections.vmops.datacenter.plugins.module_utils._progress import Progress
from ansible_collections.vmops.datacenter.plugins.module_utils._tintri import (
    TintriApiError,
    TintriError,
    TintriUnsupportedError,
    uuid_of,
)
from ansible_collections.vmops.datacenter.plugins.module_utils._tintri_lookup import (
    TintriLookupError,
)

POOLS = "/v310/vmstorePool"

ISSUE_TYPES = ("SPACE", "IOPS", "FLASH")
PROTECTION = "PROTECTION"

# Recommendation.state
AVAILABLE = "AVAILABLE"
AVAILABLE_ACKED = "AVAILABLE_ACKED"
ACCEPTED = "ACCEPTED"
CANCELLED = "CANCELLED"
INVALIDATED = "INVALIDATED"
# States in which there is nothing to acknowledge, accept or reset.
NOTHING_TO_DO = frozenset(["NO_RECOMMENDATION_NEEDED", "NO_RECOMMENDATION_AVAILABLE", "EXPIRED", INVALIDATED,
                           CANCELLED, "REFRESH"])
KNOWN_STATES = frozenset([AVAILABLE, AVAILABLE_ACKED, ACCEPTED]) | NOTHING_TO_DO

# Recommendation.executionState (also RecommendationActionResult.state)
COMPLETED_OK = "COMPLETED_OK"
COMPLETED_FAILED = "COMPLETED_FAILED"
COMPLETED_CANCELLED = "COMPLETED_CANCELLED"
CANCELLED_PENDING = "CANCELLED_PENDING"
RUNNING_ERROR = "RUNNING_ERROR"
EXECUTION_COMPLETED = frozenset([COMPLETED_OK, COMPLETED_FAILED, COMPLETED_CANCELLED])
EXECUTION_ACTIVE = frozenset(["PENDING", "RUNNING", RUNNING_ERROR, CANCELLED_PENDING])

# Module state -> API action, and the state the recommendation is in afterwards.
ACTIONS = {
    "acknowledged": ("acknowledge", AVAILABLE_ACKED),
    "accepted": ("accept", ACCEPTED),
    "cancelled": ("cancel", CANCELLED),
    "reset": ("reset", INVALIDATED),
}
# "Invalid <action> Recommendation request" (HTTP 400): the state changed under us.
INVALID_TRANSITION_CODES = frozenset(["ERR-API-7107", "ERR-API-7109", "ERR-API-7111", "ERR-API-7113"])

# API field -> returned key, per optional sub-object.
_ISSUE_METRICS = {
    "spaceInfo": ("SPACE", "space", (
        ("spaceUsedPhysicalGiB", "space_used_physical_gib"),
        ("spaceUsedPhysicalPercent", "space_used_physical_percent"),
        ("spaceUsedPhysicalChange", "space_used_physical_change_gib_per_week"),
        ("spaceThresholdPercent", "space_threshold_percent"),
        ("probability", "probability"),
    )),
    "iopsInfo": ("IOPS", "iops", (
        ("totalIops", "total_iops"),
        ("throughputTotalMBps", "throughput_total_mbps"),
        ("latencyStorageMs", "latency_storage_ms"),
        ("loadThresholdPercent", "load_threshold_percent"),
        ("percentOfWeekUnderLoad", "percent_of_week_under_load"),
    )),
    "flashInfo": ("FLASH", "flash", (
        ("flashHitRatePercent", "flash_hit_rate_percent"),
        ("flashHitRatePercentMinimum", "flash_hit_rate_percent_minimum"),
        ("flashHitRatePercentMaximum", "flash_hit_rate_percent_maximum"),
        ("flashHitRateThresholdPercent", "flash_hit_rate_threshold_percent"),
        ("latencyFlashMs", "latency_flash_ms"),
    )),
}
_OUTCOME_METRICS = {
    "spaceInfo": ("SPACE", "space", (
        ("spaceChangedPhysicalGiB", "space_changed_physical_gib"),
        ("spaceThresholdPercent", "space_threshold_percent"),
        ("probability", "probability"),
    )),
    "iopsInfo": ("IOPS", "iops", (
        ("loadThresholdPercent", "load_threshold_percent"),
        ("predictedLoadWeekPercent", "predicted_load_week_percent"),
        ("predictedOutcomeLoadWeekPercent", "predicted_outcome_load_week_percent"),
    )),
    "flashInfo": ("FLASH", "flash", (
        ("flashHitRatePercent", "flash_hit_rate_percent"),
        ("changedLatencyMs", "changed_latency_ms"),
    )),
}


class RecommendationWaitError(TintriError):
    """Waiting for a recommendation's execution failed or ran out of time; carries the last read."""

    def __init__(self, message, recommendation, **kwargs):
        super().__init__(message, **kwargs)
        self.recommendation = recommendation


def _now():
    return time.monotonic()


def _dict(value):
    return value if isinstance(value, dict) else {}


def _list(value):
    """A list from an API field that may be absent, null, a single value or a list."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [value]


def _unique(values):
    seen = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen


# -- server and pools -----------------------------------------------------------------------

def require_tgc(client, what="VMstore pools and their recommendations"):
    """Stop before any pool call when the server is not a Tintri Global Center."""
    if client.is_tgc:
        return
    raise TintriUnsupportedError(
        "%s is a %s, not a Tintri Global Center: %s exist only on a Tintri Global Center. Point hostname at "
        "the Tintri Global Center that manages the VMstore pools." % (
            client.hostname, client.product or "Tintri server", what), server=client.hostname)


def pool_name(pool):
    return _dict(pool).get("name")


def find_pools(client, name=None):
    """All pools, or those named exactly ``name`` (the API's name filter may match substrings)."""
    params = {"name": name} if name else None
    return [p for p in client.iter_items(POOLS, params) if name is None or pool_name(p) == name]


def get_pool_by_name(client, name):
    matches = find_pools(client, name)
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise TintriLookupError("No VMstore pool named %r on %s." % (name, client.server_label), server=client.hostname)
    raise TintriLookupError("%d VMstore pools are named %r on %s (%s); give pool_uuid instead." % (
        len(matches), name, client.server_label, ", ".join(str(uuid_of(p)) for p in matches)), server=client.hostname)


def pool_summary(pool, recommendation=None):
    pool = _dict(pool)
    return dict(
        uuid=uuid_of(pool),
        name=pool.get("name"),
        description=pool.get("description"),
        members=[dict(uuid=uuid_of(m), hostname=_dict(m).get("hostname")) for m in _list(pool.get("members"))],
        issue_type_preference=_list(pool.get("issueTypePreference")),
        recommendation=recommendation,
    )


# -- recommendations ------------------------------------------------------------------------

def recommendation_path(pool_uuid, recommendation_id=None, action=None):
    path = "%s/%s/recommendation/%s" % (POOLS, pool_uuid, recommendation_id or "current")
    if action:
        path += "/" + action
    return path


def get_recommendation(client, pool_uuid, recommendation_id=None):
    """The pool's current recommendation, or the one with this id; a clear error when unknown."""
    try:
        return client.get(recommendation_path(pool_uuid, recommendation_id))
    except TintriApiError as exc:
        if exc.status != 404:
            raise
        if recommendation_id:
            text = "No recommendation %r in VMstore pool %s on %s." % (recommendation_id, pool_uuid, client.server_label)
        else:
            text = "No VMstore pool with id %r on %s." % (pool_uuid, client.server_label)
        raise TintriLookupError(text, server=client.hostname, status=404, code=exc.code) from exc


def _sub_object(source, issue_type, fields):
    out = dict(type=source.get("issueType") or issue_type, summary=source.get("summary"))
    for api_key, key in fields:
        out[key] = source.get(api_key)
    return out


def _issue(analysis):
    analysis = _dict(analysis)
    issue = dict(vmstore=analysis.get("vmStoreDisplayName") or analysis.get("vmStoreId"),
                 vmstore_id=analysis.get("vmStoreId"), summary=analysis.get("summary"),
                 selected=analysis.get("vmStoreIsSelected"), types=[])
    for api_key, (issue_type, key, fields) in _ISSUE_METRICS.items():
        source = analysis.get(api_key)
        if not isinstance(source, dict):
            issue[key] = None
            continue
        detail = _sub_object(source, issue_type, fields)
        detail.update(severity=source.get("severity"), selected=source.get("isSelected"),
                      disabled=source.get("isDisabled"))
        issue[key] = detail
        issue["types"].append(detail["type"])
    return issue


def _datastore(action, prefix):
    return (action.get(prefix + "DisplayName") or action.get(prefix) or action.get(prefix + "TintriUuid"))


def _action(action):
    action = _dict(action)
    result = _dict(action.get("result"))
    error = None
    if result.get("errorSummary") or result.get("errorDetail") or result.get("errorCategory"):
        error = dict(category=result.get("errorCategory"), summary=result.get("errorSummary"),
                     detail=result.get("errorDetail"))
    return dict(
        vm=action.get("targetVmDisplayName") or action.get("targetVmTintriUuid"),
        vm_uuid=action.get("targetVmTintriUuid"),
        source_datastore=_datastore(action, "sourceDatastore"),
        source_datastore_uuid=action.get("sourceDatastoreTintriUuid"),
        destination_datastore=_datastore(action, "destinationDatastore"),
        destination_datastore_uuid=action.get("destinationDatastoreTintriUuid"),
        issue_types=_unique(_list(action.get("issueTypes"))),
        state=result.get("state"),
        progress=result.get("progress"),
        error=error,
    )


def _outcome(outcome):
    outcome = _dict(outcome)
    out = dict(vmstore=outcome.get("vmStoreDisplayName") or outcome.get("vmStoreId"),
               vmstore_id=outcome.get("vmStoreId"), summary=outcome.get("summary"))
    for api_key, (issue_type, key, fields) in _OUTCOME_METRICS.items():
        source = outcome.get(api_key)
        out[key] = _sub_object(source, issue_type, fields) if isinstance(source, dict) else None
    protection = outcome.get("protectionInfo")
    if isinstance(protection, dict):
        out["protection"] = dict(type=protection.get("issueType") or PROTECTION, summary=protection.get("summary"),
                                 vm_uuids=_unique(_list(protection.get("vmTintriUuids"))))
    else:
        out["protection"] = None
    return out


def normalise_recommendation(reco, pool_uuid=None):
    """The compact, always-complete shape both TGC modules return (None for no recommendation)."""
    if not isinstance(reco, dict):
        return None
    issues = [_issue(i) for i in _list(reco.get("issues"))]
    groups = [dict(actions=[_action(a) for a in _list(_dict(g).get("actions"))])
              for g in _list(reco.get("actionGroups"))]
    outcomes = [_outcome(o) for o in _list(reco.get("expectedOutcomes"))]
    issue_types = sorted({t for issue in issues for t in issue["types"]})
    by_type = {}
    for issue in issues:
        for key in ("space", "iops", "flash"):
            detail = issue[key]
            if detail:
                entry = dict(detail, vmstore=issue["vmstore"], vmstore_id=issue["vmstore_id"])
                by_type.setdefault(detail["type"], []).append(entry)
    protected = [o["protection"] for o in outcomes if o["protection"]]
    return dict(
        id=reco.get("id"),
        pool_uuid=reco.get("vmstorePoolId") or pool_uuid,
        state=reco.get("state"),
        state_reason=reco.get("stateReason"),
        execution_state=reco.get("executionState"),
        creation_time=reco.get("creationTime"),
        acknowledged_time=reco.get("acknowledgedTime"),
        accepted_time=reco.get("acceptedTime"),
        completion_time=reco.get("completionTime"),
        expiration_time=reco.get("expirationTime"),
        last_updated_time=reco.get("lastUpdatedTime"),
        issue_types=issue_types,
        issues=issues,
        issues_by_type=by_type,
        action_groups=groups,
        vms_moved=sum(len(g["actions"]) for g in groups),
        expected_outcomes=outcomes,
        loses_protection=bool(protected),
        protection_loss_vms=_unique(u for p in protected for u in p["vm_uuids"]),
    )


def actions_of(norm):
    return [a for g in (norm or {}).get("action_groups") or [] for a in g["actions"]]


def addressed_issue_types(norm):
    """Issue types the recommendation works on: those of its issues and of its moves (PROTECTION aside)."""
    types = set(norm.get("issue_types") or [])
    for action in actions_of(norm):
        types.update(action["issue_types"])
    types.discard(PROTECTION)
    return sorted(types)


def evaluate_policy(norm, allowed_issue_types=ISSUE_TYPES, allow_protection_loss=False, max_vms_moved=None):
    """Whether an automatic accept may go ahead, and every reason it may not."""
    allowed = [t.upper() for t in (allowed_issue_types if allowed_issue_types is not None else ISSUE_TYPES)]
    types = addressed_issue_types(norm)
    violations = []
    disallowed = [t for t in types if t not in allowed]
    if disallowed:
        violations.append("It addresses issue type(s) %s, which allowed_issue_types (%s) does not include." % (
            ", ".join(disallowed), ", ".join(t.lower() for t in allowed) or "none"))
    if norm.get("loses_protection") and not allow_protection_loss:
        vms = norm.get("protection_loss_vms") or []
        violations.append("Accepting would stop the replication (protection) of %s; set allow_protection_loss=true "
                          "to accept that." % ("VM(s) %s" % ", ".join(vms) if vms else "some VMs"))
    moved = norm.get("vms_moved") or 0
    if max_vms_moved is not None and moved > max_vms_moved:
        violations.append("It moves %d VMs, more than max_vms_moved=%d." % (moved, max_vms_moved))
    return dict(passed=not violations, violations=violations, issue_types=types, vms_moved=moved,
                loses_protection=bool(norm.get("loses_protection")))


# -- state machine --------------------------------------------------------------------------

def describe(reco):
    reco = _dict(reco)
    text = "%s" % reco.get("state")
    if reco.get("stateReason"):
        text += " (%s)" % reco["stateReason"]
    return text


def plan_transition(desired, reco):
    """What to do to bring ``reco`` to the module state ``desired``.

    Returns a dict: ``action`` (the API action to POST, or None), ``to`` (the state afterwards),
    ``msg`` (why nothing is done, when ``action`` is None) and ``error`` (a user-facing reason the
    request cannot be met, the module fails with it).
    """
    reco = _dict(reco)
    state = reco.get("state")
    execution = reco.get("executionState")
    action, target = ACTIONS[desired]
    label = "Recommendation %s" % (reco.get("id") or "(no id)")
    plan = dict(action=None, to=state, msg=None, error=None)
    if state not in KNOWN_STATES:
        plan["error"] = "%s is in state %r, which this module does not know; nothing was changed." % (label, state)
        return plan
    if desired == "acknowledged":
        if state == AVAILABLE:
            plan.update(action=action, to=target)
        elif state in (AVAILABLE_ACKED, ACCEPTED):
            plan["msg"] = "%s is already %s." % (label, state)
        else:
            plan["msg"] = "Nothing to acknowledge: the recommendation is %s." % describe(reco)
    elif desired == "accepted":
        if state in (AVAILABLE, AVAILABLE_ACKED):
            plan.update(action=action, to=target)
        elif state == ACCEPTED:
            plan["msg"] = "%s is already accepted (execution %s)." % (label, execution)
        else:
            plan["msg"] = "Nothing to accept: the recommendation is %s." % describe(reco)
    elif desired == "cancelled":
        if state == ACCEPTED and execution in (COMPLETED_OK, COMPLETED_FAILED):
            plan["error"] = ("%s already finished executing (%s at %s); there is nothing left to cancel." % (
                label, execution, reco.get("completionTime")))
        elif state == ACCEPTED and execution in (CANCELLED_PENDING, COMPLETED_CANCELLED):
            plan["msg"] = "%s is already being cancelled (execution %s)." % (label, execution)
        elif state == ACCEPTED:
            plan.update(action=action, to=target)
        elif state == CANCELLED:
            plan["msg"] = "%s is already cancelled." % label
        elif state in (AVAILABLE, AVAILABLE_ACKED):
            plan["error"] = ("%s is %s, not accepted: nothing of it runs, so it cannot be cancelled. Use state=reset "
                             "to discard it." % (label, state))
        else:
            plan["msg"] = "Nothing to cancel: the recommendation is %s." % describe(reco)
    else:  # reset
        if state in (AVAILABLE, AVAILABLE_ACKED):
            plan.update(action=action, to=target)
        elif state == INVALIDATED:
            plan["msg"] = "%s is already reset (INVALIDATED)." % label
        elif state == ACCEPTED:
            plan["error"] = ("%s is already accepted (execution %s) and can no longer be reset; use state=cancelled "
                             "to stop its execution." % (label, execution))
        else:
            plan["msg"] = "Nothing to reset: the recommendation is %s." % describe(reco)
    return plan


def transition_done(action, reco):
    """True when ``reco`` shows that ``action`` has already taken effect."""
    reco = _dict(reco)
    state = reco.get("state")
    if action == "acknowledge":
        return state in (AVAILABLE_ACKED, ACCEPTED)
    if action == "accept":
        return state == ACCEPTED or (state == CANCELLED and reco.get("acceptedTime") is not None)
    if action == "cancel":
        return state == CANCELLED or reco.get("executionState") in (CANCELLED_PENDING, COMPLETED_CANCELLED)
    return state == INVALIDATED


def execution_finished(reco):
    """Nothing more will happen: execution completed, or the recommendation left ACCEPTED and is idle."""
    reco = _dict(reco)
    execution = reco.get("executionState")
    if execution in EXECUTION_COMPLETED:
        return True
    return reco.get("state") != ACCEPTED and execution not in EXECUTION_ACTIVE


def progress_text(norm):
    actions = actions_of(norm)
    done = sum(1 for a in actions if a["state"] in EXECUTION_COMPLETED)
    return "%d of %d VM move(s) finished" % (done, len(actions))


def failed_actions(norm):
    return [a for a in actions_of(norm) if a["state"] in (COMPLETED_FAILED, RUNNING_ERROR) or a["error"]]


def failure_text(norm):
    parts = []
    for action in failed_actions(norm):
        error = action["error"] or {}
        reason = ": ".join(x for x in (error.get("summary"), error.get("detail")) if x) or "no error details"
        parts.append("VM %s (%s -> %s) %s: %s" % (action["vm"], action["source_datastore"],
                                                  action["destination_datastore"], action["state"], reason))
    return "; ".join(parts) if parts else "no move reports an error"


def wait_for_execution(client, pool_uuid, reco, wait_timeout, poll_interval, clock=None):
    """Re-read the recommendation until its execution ends; raise on COMPLETED_FAILED and on timeout."""
    deadline, progress = Deadline(wait_timeout, clock=clock or _now), Progress()
    reco_id = reco.get("id")
    while not execution_finished(reco):
        if progress.enabled:
            progress.update("%s: recommendation %s of pool %s %s, %s, %s" % (
                client.server_label, reco_id, pool_uuid, reco.get("executionState"),
                progress_text(normalise_recommendation(reco, pool_uuid)), progress.elapsed()))
        if deadline.expired():
            norm = normalise_recommendation(reco, pool_uuid)
            raise RecommendationWaitError(
                "%s: recommendation %s of VMstore pool %s is still %s (%s) after %ss (wait_timeout). Its execution "
                "continues on the Tintri Global Center; run again later to wait for it (it is not accepted twice) or "
                "raise wait_timeout." % (client.server_label, reco_id, pool_uuid, reco.get("executionState"),
                                         progress_text(norm), int(deadline.elapsed)),
                reco, server=client.hostname, method="GET",
                path="/api" + recommendation_path(pool_uuid, reco_id))
        time.sleep(max(0.0, min(poll_interval, deadline.remaining)))
        reco = get_recommendation(client, pool_uuid, reco_id)
    if reco.get("executionState") == COMPLETED_FAILED:
        norm = normalise_recommendation(reco, pool_uuid)
        raise RecommendationWaitError(
            "%s: recommendation %s of VMstore pool %s ended COMPLETED_FAILED: %s. Failed: %s." % (
                client.server_label, reco_id, pool_uuid, progress_text(norm), failure_text(norm)),
            reco, server=client.hostname, method="GET", path="/api" + recommendation_path(pool_uuid, reco_id))
    return reco
