"""Fault injection rules and the request log.

HTTP rules match method + path (glob or regex) and then answer with an error, add latency or
drop the connection, for the next ``count`` matching calls or a ``percent`` of them. Task rules
make the next ``count`` tasks of a type fail at start or midway.
"""

from __future__ import annotations

import collections
import fnmatch
import itertools
import random
import re
import threading
import time

from .errors import invalid_input

HTTP_ACTIONS = {"error", "latency", "drop"}
_ids = itertools.count(1)


def normalize_rule(raw: dict) -> dict:
    """Validate an admin-supplied rule; returns the stored form (raises ApiError 400)."""
    if not isinstance(raw, dict):
        raise invalid_input("a fault rule must be an object")
    kind = raw.get("type", "task" if "task_type" in raw else "http")
    rule = {"id": str(raw.get("id") or f"fault-{next(_ids)}"), "type": kind}
    count = raw.get("count")
    rule["count"] = None if count is None else int(count)
    rule["percent"] = float(raw.get("percent", 100))
    if kind == "task":
        rule["task_type"] = str(raw.get("task_type", "*")).upper()
        rule["when"] = str(raw.get("when", "start")).lower()
        if rule["when"] not in ("start", "midway"):
            raise invalid_input("task fault 'when' must be start or midway")
        for key in ("code", "message", "cause"):
            if raw.get(key):
                rule[key] = str(raw[key])
        if "code" in rule and "message" not in rule:
            rule["message"] = "Injected task failure"
        return rule
    if kind != "http":
        raise invalid_input(f"unknown fault type {kind!r}")
    action = str(raw.get("action", "error")).lower()
    if action not in HTTP_ACTIONS:
        raise invalid_input(f"fault action must be one of {sorted(HTTP_ACTIONS)}")
    rule["action"] = action
    rule["method"] = str(raw.get("method", "*")).upper()
    if raw.get("path_regex"):
        try:
            re.compile(raw["path_regex"])
        except re.error as exc:
            raise invalid_input(f"bad path_regex: {exc}") from None
        rule["path_regex"] = str(raw["path_regex"])
    else:
        rule["path"] = str(raw.get("path", "*"))
    if raw.get("appliance"):
        rule["appliance"] = str(raw["appliance"])
    rule["latency_ms"] = float(raw.get("latency_ms", 0))
    if action == "error":
        rule["status"] = int(raw.get("status", 503))
        rule["code"] = str(raw.get("code", "ERR-API-9013" if rule["status"] == 503 else "ERR-API-0007"))
        rule["message"] = str(raw.get("message", "Injected fault"))
        rule["cause"] = str(raw.get("cause", raw.get("causeDetails", "")))
    return rule


class FaultBook:
    def __init__(self):
        self._rules: list[dict] = []
        self._lock = threading.Lock()
        self._rng = random.Random(0x7117)

    def add(self, raw) -> list[dict]:
        rules = [normalize_rule(r) for r in (raw if isinstance(raw, list) else [raw])]
        with self._lock:
            self._rules.extend(rules)
        return [dict(r) for r in rules]

    def list(self) -> list[dict]:
        with self._lock:
            return [dict(r) for r in self._rules]

    def clear(self, rule_id: str | None = None) -> int:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if rule_id is not None and r["id"] != rule_id]
            return before - len(self._rules)

    def _consume(self, rule: dict) -> bool:
        if rule["percent"] < 100 and self._rng.random() * 100 >= rule["percent"]:
            return False
        if rule["count"] is not None:
            if rule["count"] <= 0:
                return False
            rule["count"] -= 1
        return True

    def match_http(self, appliance: str, method: str, path: str) -> list[dict]:
        hits = []
        with self._lock:
            for r in self._rules:
                if r["type"] != "http":
                    continue
                if r.get("appliance") and r["appliance"] != appliance:
                    continue
                if r["method"] not in ("*", method):
                    continue
                if "path_regex" in r:
                    if not re.search(r["path_regex"], path):
                        continue
                elif not fnmatch.fnmatchcase(path, r["path"]):
                    continue
                if self._consume(r):
                    hits.append(dict(r))
            self._rules = [r for r in self._rules if r["count"] is None or r["count"] > 0]
        return hits

    def take_task(self, task_type: str) -> dict | None:
        with self._lock:
            for r in self._rules:
                if r["type"] == "task" and r["task_type"] in ("*", task_type) and self._consume(r):
                    self._rules = [x for x in self._rules if x["count"] is None or x["count"] > 0]
                    return {k: r[k] for k in ("when", "code", "message", "cause") if k in r}
        return None


class RequestLog:
    """Method, path, query, status and duration of every API call; never bodies."""

    def __init__(self, maxlen: int = 200_000):
        self._entries: collections.deque = collections.deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def add(self, appliance: str, method: str, path: str, query: str, status: int, duration_ms: float) -> None:
        with self._lock:
            self._entries.append({
                "appliance": appliance, "method": method, "path": path, "query": query,
                "status": status, "duration_ms": round(duration_ms, 3), "time": time.time(),
            })

    def list(self) -> list[dict]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> int:
        with self._lock:
            n = len(self._entries)
            self._entries.clear()
            return n
