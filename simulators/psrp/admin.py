"""The /_sim control API: JSON over HTTP on the simulator's own port (loopback, unauthenticated)."""

from __future__ import annotations

import json

from .dispatch import PowerShellError
from .records import RUNTIME_EXCEPTION


def handle(sim, h, path: str, body: bytes) -> None:
    """GET /_sim/stats, /_sim/pipelines, /_sim/faults; POST /_sim/faults (JSON rule), /_sim/reset;
    DELETE /_sim/faults. Loopback only and unauthenticated, like the Tintri simulator's."""
    try:
        route = (h.command, path.rstrip("/"))
        if route == ("GET", "/_sim/stats"):
            result = sim.stats()
        elif route == ("GET", "/_sim/pipelines"):
            result = [p.to_dict() for p in sim.pipelines]
        elif route == ("GET", "/_sim/faults"):
            result = sim.faults.rules()
        elif route == ("DELETE", "/_sim/faults"):
            sim.clear_faults()
            result = {"cleared": True}
        elif route == ("POST", "/_sim/reset"):
            sim.reset_stats()
            result = {"reset": True}
        elif route == ("POST", "/_sim/faults"):
            result = _fault(sim, json.loads(body or b"{}"))
        else:
            h.reply(404, b'{"error": "no such control path"}', "application/json")
            return
        h.reply(200, json.dumps(result, default=str).encode(), "application/json")
    except (ValueError, TypeError, KeyError) as exc:
        h.reply(400, json.dumps({"error": str(exc)}).encode(), "application/json")


def _fault(sim, spec: dict) -> dict:
    kind = spec.get("kind")
    count = spec.get("count", 1)
    action = spec.get("action")
    if kind == "drop":
        rule = sim.drop(count, action, spec.get("when", "before"))
    elif kind == "delay":
        rule = sim.delay(float(spec["seconds"]), spec.get("count"), action)
    elif kind == "http_error":
        rule = sim.http_error(int(spec.get("status", 503)), count, action)
    elif kind == "fail_op":
        error = PowerShellError(spec.get("message", "vmops simulator: injected failure"),
                                spec.get("error_id", "VmopsSimulator.Injected"), spec.get("category", "NotSpecified"),
                                spec.get("exception_type", RUNTIME_EXCEPTION))
        rule = sim.fail_next(spec["op"], error, count)
    else:
        raise ValueError("kind must be drop, delay, http_error or fail_op")
    return {"kind": rule.kind, "count": rule.count, "action": rule.action, "op": rule.op}
