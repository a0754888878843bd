"""Task engine: tasks progress over real time in a background thread, polled or not.

A task is QUEUED for the first 10% of its duration, then RUNNING; its plan's steps run as
progress passes each step's ``at`` fraction, ``final`` steps run at the end whether it
succeeded or failed. State is persisted after every tick that changed something, so a lab
stopped mid-task resumes the remaining steps on restart and completes them.
"""

from __future__ import annotations

import threading
import time

from . import recommendations
from .errors import error_body
from .operations import STEPS
from .util import now_ms

FAILURE_CODES = {
    "SYNC_VM": ("ERR-API-3701", "Failed SyncVM"),
    "CLONE": ("ERR-API-3213", "Clone workflow task failed."),
}
TERMINAL = ("SUCCESS", "FAILED", "CANCELLED")
TICK = 0.05


class Engine:
    def __init__(self, lab):
        self.lab = lab
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_janitor = 0.0
        self.done = threading.Condition(lab.lock)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="tintri-sim-tasks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(TICK):
            try:
                self.tick()
            except Exception:  # keep the engine alive; the failure is in the lab log
                self.lab.log.exception("task engine tick failed")

    # --- tasks -------------------------------------------------------------------------------
    def new_task(self, app, ttype: str, target_ids: list[str], plan: list[dict], user: str, description: str) -> dict:
        t = {
            "id": app.next_id("JOB"),
            "type": ttype,
            "state": "QUEUED",
            "progress": 0.0,
            "description": "Queued: " + description,
            "title": description,
            "created": now_ms(),
            "since": time.time(),
            "duration": max(0.05, float(self.lab.task_seconds)),
            "targetIds": list(target_ids),
            "plan": plan,
            "step": 0,
            "error": None,
            "createdBy": user,
            "fault": self.lab.take_task_fault(app, ttype),
        }
        app.state["tasks"][t["id"]] = t
        app.changed()
        return t

    def wait(self, app, task_id: str, timeout: float = 600) -> None:
        """Block (releasing the lock) until a task is done: synchronous SyncVM."""
        deadline = time.time() + timeout
        while (app.state["tasks"][task_id]["state"] not in TERMINAL and time.time() < deadline
               and not self._stop.is_set()):
            self.done.wait(timeout=TICK * 2)

    def _fail(self, app, t: dict, cause: str, code=None) -> None:
        c, msg = code or FAILURE_CODES.get(t["type"], ("ERR-API-0007", "An internal server error occured while processing the API call"))
        err = error_body(c, msg, cause, "Task failed")
        err["targetId"] = t["targetIds"][0] if t["targetIds"] else ""
        t["error"] = err
        self._run_finals(app, t, failed=True)
        t["state"] = "FAILED"
        t["description"] = f"Failed: {cause}"
        t["updated"] = now_ms()

    def _run_finals(self, app, t: dict, failed: bool) -> None:
        for step in t["plan"]:
            if step.get("final") and not step.get("done"):
                try:
                    STEPS[step["op"]](self.lab, app, t, step, failed)
                except Exception:
                    self.lab.log.exception("final step %s of %s failed", step["op"], t["id"])
                step["done"] = True

    def _advance(self, app, t: dict, now: float) -> bool:
        elapsed = now - t["since"]
        dur = t["duration"]
        fault = t.get("fault")
        if t["state"] == "QUEUED":
            if elapsed < 0.1 * dur:
                return False
            t["state"] = "RUNNING"
            t["started"] = now_ms()
            t["description"] = "Running: " + t.get("title", "")
            if fault and fault.get("when", "start") == "start":
                self._fail(app, t, fault.get("cause") or "injected failure at start",
                           (fault["code"], fault["message"]) if fault.get("code") else None)
                return True
        mutated = t["state"] == "RUNNING" and "started" in t and t.get("_justStarted", True)
        t["_justStarted"] = False
        frac = min(1.0, elapsed / dur)
        t["remaining"] = max(0.0, dur - elapsed)
        steps = t["plan"]
        while t["step"] < len(steps):
            step = steps[t["step"]]
            if step.get("final"):
                t["step"] += 1
                continue
            if step["at"] > frac:
                break
            if fault and fault.get("when") == "midway" and step["at"] > 0.5:
                break
            try:
                STEPS[step["op"]](self.lab, app, t, step, False)
            except Exception as exc:
                self.lab.log.exception("step %s of task %s failed", step["op"], t["id"])
                self._fail(app, t, f"{step['op']}: {exc}")
                return True
            step["done"] = True
            t["step"] += 1
            mutated = True
        if fault and fault.get("when") == "midway" and frac >= 0.5:
            self._fail(app, t, fault.get("cause") or "injected failure midway",
                       (fault["code"], fault["message"]) if fault.get("code") else None)
            return True
        t["progress"] = min(99.0, round(frac * 100, 1)) if frac < 1.0 else 100.0
        t["updated"] = now_ms()
        if frac >= 1.0 and t["step"] >= len(steps):
            self._run_finals(app, t, failed=False)
            t["state"] = "SUCCESS"
            t["progress"] = 100.0
            t["description"] = "Completed: " + t.get("title", "")
            mutated = True
        # progress alone is recomputed from the clock, so it is not worth a state write
        return mutated

    def tick(self) -> None:
        lab = self.lab
        with lab.lock:
            now = time.time()
            any_done = False
            for app in lab.appliances.values():
                changed = False
                for t in app.state["tasks"].values():
                    if t["state"] in TERMINAL:
                        continue
                    changed |= self._advance(app, t, now)
                    any_done |= t["state"] in TERMINAL
                if app.is_tgc:
                    recommendations.tick(lab, app)
                elif now - self._last_janitor >= 0.5:
                    changed |= self._janitor(app)
                if changed:
                    app.changed()
            if now - self._last_janitor >= 0.5:
                self._last_janitor = now
            if any_done:
                self.done.notify_all()

    def _janitor(self, app) -> bool:
        """Expired snapshots disappear (isDeleted); unreferenced cloning snapshots are removed."""
        now = now_ms()
        changed = False
        for s in app.snapshots.values():
            if s.get("deleted") or s.get("busy"):
                continue
            expired = 0 < s["expirationTime"] <= now
            orphan = s.get("deletionPolicy") == "DELETE_ON_ZERO_CLONE_REFERENCES"
            if (expired or orphan) and app.clone_reference_count(s["id"]) == 0:
                app.mark_snapshot_deleted(s)
                changed = True
        return changed
