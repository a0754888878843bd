"""SCOM state: monitoring objects and their maintenance mode, persisted as JSON.

Monitoring objects are class instances with a GUID id and a display name: by default one
``Microsoft.Windows.Computer`` per VM guest and per Hyper-V host of the lab, plus a
``Microsoft.SystemCenter.HealthService`` per host with the same display name (as a real
management group has), so a query that ignores the class finds too much.

Maintenance mode follows the OperationsManager cmdlets: start (end time, reason, comment,
user), update (new end time; reason and comment kept unless given), stop now. An active window
whose end time has passed expires on its own. Every window that ends goes to the history with
how it ended (``stopped`` or ``expired``).

State lives in ``<state_dir>/scom.json``, rewritten atomically after every change; all access
goes through one lock.
"""

from __future__ import annotations

import copy
import json
import os
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from .vmm_model import NAMESPACE, iso, norm_id, seed_state

STATE_VERSION = 1
STATE_FILE = "scom.json"
COMPUTER_CLASS = "Microsoft.Windows.Computer"
HEALTH_SERVICE_CLASS = "Microsoft.SystemCenter.HealthService"
REASONS = (
    "PlannedOther", "UnplannedOther", "PlannedHardwareMaintenance", "UnplannedHardwareMaintenance",
    "PlannedHardwareInstallation", "UnplannedHardwareInstallation", "PlannedOperatingSystemReconfiguration",
    "UnplannedOperatingSystemReconfiguration", "PlannedApplicationMaintenance", "ApplicationInstallation",
    "ApplicationUnresponsive", "ApplicationUnstable", "SecurityIssue", "LossOfNetworkConnectivity",
)
DEFAULT_USER = "LAB\\svc-automation"
HISTORY_MAX = 10000

# Outcomes of a maintenance request for one object (handlers turn them into the scripts' texts).
NOT_FOUND = "not_found"
ALREADY = "already_in_maintenance"
NOT_IN = "not_in_maintenance"


class EndTimeNotFuture(ValueError):
    """The requested end time is not later than now."""


def parse_time(value) -> float:
    """An ISO-8601 time (or datetime, or epoch seconds) as epoch seconds; no offset means UTC."""
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        dt = value
    else:
        dt = datetime.fromisoformat(str(value).strip())
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def _fold(value) -> str:
    return str(value).casefold()


class ScomModel:
    """One simulated management group. Public methods are thread-safe; they return copies."""

    def __init__(self, state_dir, description: dict | None = None, *, clock=time.time):
        self.state_dir = Path(state_dir)
        self.state_path = self.state_dir / STATE_FILE
        self.clock = clock
        self._lock = threading.RLock()
        self._dirty = False
        if self.state_path.exists():
            with open(self.state_path, encoding="utf-8") as fh:
                self.state = json.load(fh)
            if self.state.get("version") != STATE_VERSION:
                raise ValueError(f"{self.state_path}: state version {self.state.get('version')}")
        else:
            self.state = seed_scom_state(description or {})
            self._dirty = True
        self._commit()

    # --- persistence ---------------------------------------------------------------------------
    def _commit(self) -> None:
        if not self._dirty:
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_name(f"{self.state_path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(self.state, separators=(",", ":")))
        os.replace(tmp, self.state_path)
        self._dirty = False

    def _run(self, fn):
        with self._lock:
            self._expire()
            try:
                return fn()
            finally:
                self._commit()

    def _expire(self) -> None:
        now = self.clock()
        for oid, window in list(self.state["active"].items()):
            if window["end_time"] <= now:
                self._close(oid, window["end_time"], "expired")

    def _close(self, oid: str, at: float, how: str) -> None:
        window = self.state["active"].pop(oid)
        obj = self.state["objects"].get(oid, {})
        self.state["history"].append(dict(window, object_id=oid, display_name=obj.get("display_name"),
                                          scheduled_end_time=window["end_time"], end_time=at, ended=how))
        del self.state["history"][:-HISTORY_MAX]
        self._dirty = True

    # --- views ---------------------------------------------------------------------------------
    def _view(self, obj: dict) -> dict:
        window = self.state["active"].get(obj["id"])
        maintenance = None
        if window is not None:
            maintenance = {"start_time": iso(window["start_time"]), "end_time": iso(window["end_time"]),
                           "reason": window["reason"], "comment": window["comment"], "user": window["user"]}
        return {"id": obj["id"], "display_name": obj["display_name"], "in_maintenance": window is not None,
                "maintenance": maintenance}

    def _instances(self, class_name: str) -> dict[str, dict]:
        return {o["id"]: o for o in self.state["objects"].values() if _fold(o["class_name"]) == _fold(class_name)}

    # --- reads ---------------------------------------------------------------------------------
    @property
    def management_group(self) -> str:
        return self.state["management_group"]

    def list_objects(self, ids=None, display_names=None, class_name: str = COMPUTER_CLASS) -> list[dict]:
        """scom.object_list: instances of the class, filtered by display names and ids (AND)."""
        def run():
            wanted = {norm_id(i) for i in ids or () if i is not None}
            names = {_fold(n) for n in display_names or ()}
            out = []
            for obj in sorted(self._instances(class_name).values(), key=lambda o: (_fold(o["display_name"]), o["id"])):
                if names and _fold(obj["display_name"]) not in names:
                    continue
                if wanted and obj["id"] not in wanted:
                    continue
                out.append(self._view(obj))
            return out
        return self._run(run)

    def find(self, display_name: str, class_name: str = COMPUTER_CLASS) -> dict | None:
        hits = self.list_objects(display_names=[display_name], class_name=class_name)
        return hits[0] if hits else None

    def history(self, object_id=None) -> list[dict]:
        oid = norm_id(object_id) if object_id else None
        return self._run(lambda: [copy.deepcopy(h) for h in self.state["history"] if oid is None or h["object_id"] == oid])

    # --- maintenance ---------------------------------------------------------------------------
    def _each(self, ids, class_name, act) -> list[dict]:
        instances = self._instances(class_name)
        out = []
        for raw in ids:
            oid = norm_id(raw)
            obj = instances.get(oid)
            if obj is None:
                out.append({"id": oid or str(raw), "display_name": None, "in_maintenance": False, "maintenance": None,
                            "error": NOT_FOUND})
                continue
            error = act(obj)
            out.append(dict(self._view(obj), error=error))
        return out

    def _check_end(self, end_time) -> float:
        end = parse_time(end_time)
        if end <= self.clock():
            raise EndTimeNotFuture(end_time)
        return end

    def start(self, ids, end_time, reason: str = "PlannedOther", comment: str = "", user: str | None = None,
              class_name: str = COMPUTER_CLASS) -> list[dict]:
        """scom.maintenance_start for many objects; an object already in maintenance is refused."""
        if reason not in REASONS:
            raise ValueError(f"unknown reason {reason!r}")

        def run():
            end = self._check_end(end_time)

            def act(obj):
                if obj["id"] in self.state["active"]:
                    return ALREADY
                self.state["active"][obj["id"]] = {"start_time": self.clock(), "end_time": end, "reason": reason,
                                                   "comment": comment or "", "user": user or DEFAULT_USER}
                self._dirty = True
                return None
            return self._each(ids, class_name, act)
        return self._run(run)

    def update(self, ids, end_time, reason: str | None = None, comment: str | None = None,
               class_name: str = COMPUTER_CLASS) -> list[dict]:
        """scom.maintenance_update: a new end time (longer or shorter); reason/comment if given."""
        if reason is not None and reason not in REASONS:
            raise ValueError(f"unknown reason {reason!r}")

        def run():
            end = self._check_end(end_time)

            def act(obj):
                window = self.state["active"].get(obj["id"])
                if window is None:
                    return NOT_IN
                window["end_time"] = end
                if reason is not None:
                    window["reason"] = reason
                if comment is not None:
                    window["comment"] = comment
                self._dirty = True
                return None
            return self._each(ids, class_name, act)
        return self._run(run)

    def stop(self, ids, class_name: str = COMPUTER_CLASS) -> list[dict]:
        """scom.maintenance_stop: end now; an object not in maintenance is left alone."""
        def run():
            def act(obj):
                if obj["id"] in self.state["active"]:
                    self._close(obj["id"], self.clock(), "stopped")
                return None
            return self._each(ids, class_name, act)
        return self._run(run)

    def add_object(self, display_name: str, class_name: str = COMPUTER_CLASS, object_id: str | None = None) -> dict:
        def run():
            obj = _object(display_name, class_name, object_id)
            self.state["objects"][obj["id"]] = obj
            self._dirty = True
            return self._view(obj)
        return self._run(run)


def _object(display_name: str, class_name: str, object_id: str | None = None) -> dict:
    oid = norm_id(object_id) if object_id else str(uuid.uuid5(NAMESPACE, f"scom/{class_name}/{display_name.lower()}"))
    return {"id": oid, "display_name": display_name, "class_name": class_name}


def seed_scom_state(description: dict) -> dict:
    """Objects for the lab's VM guests and hosts, plus `scom.objects` from the description."""
    scom = description.get("scom") or {}
    state = {"version": STATE_VERSION, "management_group": scom.get("management_group", "LAB-MG"),
             "server": scom.get("server", "scom01.lab.local"), "objects": {}, "active": {}, "history": []}
    vmm = seed_state(description, 0.0) if description.get("vmm") else {"vms": {}, "hosts": {}}
    names = {vm["computer_name"] for vm in vmm["vms"].values()}
    hosts = {h["name"] for h in vmm["hosts"].values()}
    for name in sorted(names | hosts):
        obj = _object(name, COMPUTER_CLASS)
        state["objects"][obj["id"]] = obj
    for name in sorted(hosts):
        obj = _object(name, HEALTH_SERVICE_CLASS)
        state["objects"][obj["id"]] = obj
    for spec in scom.get("objects") or []:
        obj = _object(spec["display_name"], spec.get("class_name", COMPUTER_CLASS), spec.get("id"))
        state["objects"][obj["id"]] = obj
    return state
