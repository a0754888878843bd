"""The /_sim admin API of the ConfigMgr simulator (JSON, loopback, unauthenticated).

GET  /_sim/state                      the site's state document
GET  /_sim/requests, DELETE ...       the request log (method, path, query, status, duration)
GET  /_sim/auth                       successful authentications by scheme, and failures
GET  /_sim/faults, POST, DELETE       HTTP fault rules (same format as the Tintri simulator's:
                                      action error|latency|drop, method, path glob or path_regex, count,
                                      status, code, message, latency_ms)
POST /_sim/clock                      {"advance": seconds}: move the simulated clock forward
POST /_sim/devices/<name>/reboot      the host restarts: client offline for reboot_seconds, a pending
                                      restart clears when it is back (unless stuck_reboot)
POST /_sim/devices/<name>/faults      {"install_error": code | null, "stuck_reboot": bool}
POST /_sim/collections/<id>/evaluate  finish the collection's evaluation now
GET  /_sim/config, POST               {"page_size": n, "timings": {...}}
"""

from __future__ import annotations

import json
from urllib.parse import unquote

from .model import DEFAULT_TIMINGS
from .odata import bad_request, not_found

STATUS_CODES = {500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable", 504: "GatewayTimeout",
                429: "TooManyRequests", 400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound"}


def handle(server, method: str, path: str, raw_query: str, body: bytes):
    from .server import Reply

    data = json.loads(body) if body.strip() else {}
    parts = [unquote(p) for p in path.split("/") if p][1:]
    model = server.model
    if (method, parts) == ("GET", ["state"]):
        model.settle()
        with model.lock:
            return Reply(200, json.loads(json.dumps(model.state)))
    if (method, parts) == ("GET", ["requests"]):
        return Reply(200, server.requests.list())
    if (method, parts) == ("DELETE", ["requests"]):
        return Reply(200, {"cleared": server.requests.clear()})
    if (method, parts) == ("GET", ["auth"]):
        return Reply(200, dict(server.auth_counts))
    if (method, parts) == ("GET", ["faults"]):
        return Reply(200, server.faults.list())
    if (method, parts) == ("POST", ["faults"]):
        rules = data if isinstance(data, list) else [data]
        for rule in rules:
            if isinstance(rule, dict) and rule.get("action", "error") == "error" and "code" not in rule:
                rule["code"] = STATUS_CODES.get(int(rule.get("status", 503)), "Error")
        return Reply(201, server.faults.add(rules))
    if (method, parts) == ("DELETE", ["faults"]):
        return Reply(200, {"cleared": server.faults.clear()})
    if (method, parts) == ("POST", ["clock"]):
        return Reply(200, {"now": model.advance(float(data.get("advance", 0)))})
    if method == "POST" and len(parts) == 3 and parts[0] == "devices" and parts[2] == "reboot":
        dev = model.reboot(parts[1])
        return Reply(200, {"Name": dev["Name"], "offline_until": dev["offline_until"]})
    if method == "POST" and len(parts) == 3 and parts[0] == "devices" and parts[2] == "faults":
        dev = model.set_device_faults(parts[1], data)
        return Reply(200, {"Name": dev["Name"], "faults": dev["faults"]})
    if method == "POST" and len(parts) == 3 and parts[0] == "collections" and parts[2] == "evaluate":
        coll = model.evaluate_now(parts[1])
        return Reply(200, {"CollectionID": coll["CollectionID"], "members": coll["members"]})
    if (method, parts) == ("GET", ["config"]):
        return Reply(200, {"page_size": server.page_size, "timings": dict(model.timings)})
    if (method, parts) == ("POST", ["config"]):
        unknown = set(data) - {"page_size", "timings"}
        unknown |= set(data.get("timings") or {}) - set(DEFAULT_TIMINGS)
        if unknown:
            raise bad_request(f"unknown settings: {sorted(unknown)}")
        if "page_size" in data:
            server.page_size = max(1, int(data["page_size"]))
        with model.lock:
            model.timings.update({k: float(v) for k, v in (data.get("timings") or {}).items()})
            model.save()
        return Reply(200, {"page_size": server.page_size, "timings": dict(model.timings)})
    raise not_found(f"no such admin path: {method} {path}")
