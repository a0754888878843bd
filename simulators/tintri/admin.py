"""Lab administration: fault rules, forced session expiry, request log, state summary.

Served over HTTP at /_sim/... on each appliance's own port (JSON, no authentication: the lab
listens on loopback only) and offered in process by ``TintriLab.admin(name)``.
"""

from __future__ import annotations

import hashlib
import json
from urllib.parse import parse_qs

from .errors import ApiError, invalid_input
from .routing import Reply


class Admin:
    def __init__(self, lab, app):
        self.lab = lab
        self.app = app

    # faults
    def add_fault(self, rule) -> list[dict]:
        return self.lab.faults[self.app.name].add(rule)

    def faults(self) -> list[dict]:
        return self.lab.faults[self.app.name].list()

    def clear_faults(self, rule_id: str | None = None) -> int:
        return self.lab.faults[self.app.name].clear(rule_id)

    # sessions
    def expire_sessions(self) -> int:
        return self.app.sessions.expire_all()

    def sessions(self) -> list[dict]:
        return [{k: s[k] for k in ("id", "userName", "role", "clientIp", "loginTime", "lastAccess")}
                for s in self.app.sessions.active()]

    # request log
    def requests(self) -> list[dict]:
        return self.lab.requests[self.app.name].list()

    def clear_requests(self) -> int:
        return self.lab.requests[self.app.name].clear()

    # configuration that may change at run time
    def config(self) -> dict:
        return {
            "task_seconds": self.lab.task_seconds,
            "session_idle_seconds": self.app.sessions.idle_seconds,
            "syncvm_licensed": self.app.cfg["licenses"]["syncvm"],
        }

    def set_config(self, **kw) -> dict:
        unknown = set(kw) - {"task_seconds", "session_idle_seconds", "syncvm_licensed"}
        if unknown:
            raise invalid_input(f"unknown settings: {sorted(unknown)}")
        if "task_seconds" in kw:
            self.lab.task_seconds = float(kw["task_seconds"])
        if "session_idle_seconds" in kw:
            self.app.sessions.idle_seconds = float(kw["session_idle_seconds"])
        if "syncvm_licensed" in kw:
            self.app.cfg["licenses"]["syncvm"] = bool(kw["syncvm_licensed"])
        return self.config()

    def discover(self) -> bool:
        with self.lab.lock:
            return self.app.discover()

    # state
    def state(self, checksums: bool = False, summary: bool = False) -> dict:
        app = self.app
        with self.lab.lock:
            if not app.is_tgc:
                app.discover()
            st = app.state
            out = {
                "appliance": app.name, "personality": app.personality, "hostname": app.hostname,
                "counts": {
                    "vms": len(st["vms"]), "live_vms": sum(1 for v in st["vms"].values() if v["live"]),
                    "snapshots": sum(1 for s in st["snapshots"].values() if not s.get("deleted")),
                    "tasks": len(st["tasks"]),
                    "running_tasks": sum(1 for t in st["tasks"].values() if t["state"] in ("QUEUED", "RUNNING")),
                    "sessions": len(app.sessions.active()),
                },
            }
            if summary:
                return out
            out["vms"] = [{
                "id": v["id"], "name": v["name"], "live": v["live"], "deleted": v.get("deleted", False),
                "powered": v.get("powered", False), "hypervisorType": v["hypervisorType"],
                "vcenterName": v.get("vcenterName", ""), "host": v.get("host", ""), "subdir": v.get("subdir", ""),
                "disks": [dict({"name": d["name"], "file": d["file"], "size": d["size"]},
                               **({"sha256": self._sha(app.vm_path(d["file"]))} if checksums and v["live"] else {}))
                          for d in v["disks"]],
                "cloneFromSnapshots": [c["snapshotId"] for c in v.get("cloneFromSnapshots") or []],
            } for v in st["vms"].values()]
            out["snapshots"] = [{
                "id": s["id"], "vmId": s["vmId"], "vmName": s["vmName"], "description": s["description"],
                "type": s["type"], "createTime": s["createTime"], "expirationTime": s["expirationTime"],
                "deleted": s.get("deleted", False),
                "disks": [dict({"name": d["name"], "path": d["path"], "size": d["size"]},
                               **({"sha256": self._sha(app.snapshot_file(s, d))} if checksums and not s.get("deleted") else {}))
                          for d in s["disks"]],
            } for s in st["snapshots"].values()]
            out["tasks"] = [{
                "id": t["id"], "type": t["type"], "state": t["state"], "targetIds": t["targetIds"],
                "error": t.get("error"), "properties": t.get("properties", {}),
            } for t in st["tasks"].values()]
            if app.is_tgc:
                out["pools"] = [{"id": p["id"], "name": p["name"], "members": p["members"], "current": p["current"]}
                                for p in st["pools"].values()]
                out["recommendations"] = [{"id": r["id"], "poolId": r["poolId"], "state": r["state"],
                                           "executionState": r.get("executionState")}
                                          for r in st["recommendations"].values()]
            return out

    @staticmethod
    def _sha(path) -> str | None:
        h = hashlib.sha256()
        try:
            with open(path, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
        except OSError:
            return None
        return h.hexdigest()


def handle(lab, app, method: str, path: str, raw_query: str, body: bytes) -> Reply:
    adm = Admin(lab, app)
    q = {k: v[-1] for k, v in parse_qs(raw_query).items()}
    parts = [p for p in path.split("/") if p][1:]  # drop "_sim"
    data = None
    if body.strip():
        try:
            data = json.loads(body)
        except ValueError:
            raise invalid_input("admin request body is not valid JSON") from None
    flag = lambda k: q.get(k, "").lower() in ("1", "true", "yes")  # noqa: E731
    route = (method, "/".join(parts[:1]), len(parts))
    if route == ("GET", "health", 1):
        return Reply(200, {"ok": True, "appliance": app.name, "personality": app.personality})
    if route == ("GET", "faults", 1):
        return Reply(200, adm.faults())
    if route == ("POST", "faults", 1):
        return Reply(201, adm.add_fault(data))
    if route == ("DELETE", "faults", 1):
        return Reply(200, {"cleared": adm.clear_faults()})
    if route == ("DELETE", "faults", 2):
        return Reply(200, {"cleared": adm.clear_faults(parts[1])})
    if route == ("GET", "sessions", 1):
        return Reply(200, adm.sessions())
    if method == "POST" and parts == ["sessions", "expire"]:
        return Reply(200, {"expired": adm.expire_sessions()})
    if route == ("GET", "requests", 1):
        return Reply(200, adm.requests())
    if route == ("DELETE", "requests", 1):
        return Reply(200, {"cleared": adm.clear_requests()})
    if route == ("GET", "state", 1):
        return Reply(200, adm.state(checksums=flag("checksums"), summary=flag("summary")))
    if route == ("GET", "config", 1):
        return Reply(200, adm.config())
    if route in (("PUT", "config", 1), ("POST", "config", 1)):
        if not isinstance(data, dict):
            raise invalid_input("config body must be an object")
        return Reply(200, adm.set_config(**data))
    if route == ("POST", "discover", 1):
        return Reply(200, {"changed": adm.discover()})
    raise ApiError(404, "ERR-API-8001", "Resource not found", f"no such admin path: {method} {path}")
