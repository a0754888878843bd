"""Fault injection and observability (the PSRP counterpart of the Tintri simulator's /_sim).

Faults are rules matched against WS-Man requests by action name (Create, Command, Send, Receive,
Signal, Delete, Get; None matches all) or against operations by marker name. Each rule fires
`count` times (None: until cleared). The journal counts requests and keeps one record per
pipeline, so a test or benchmark can assert what the client sent and how many round trips and
pipelines it took.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field

ACTION_NAMES = ("Create", "Command", "Send", "Receive", "Signal", "Delete", "Get")


@dataclass
class Rule:
    kind: str  # drop | delay | http_error | fail_op
    action: str | None = None
    op: str | None = None
    count: int | None = 1
    when: str = "before"  # drop: before the request is processed, or after (the answer is lost)
    seconds: float = 0.0
    status: int = 503
    error: object = None
    fired: int = 0


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Rule] = []

    def add(self, rule: Rule) -> Rule:
        if rule.action is not None and rule.action not in ACTION_NAMES:
            raise ValueError(f"unknown WS-Man action {rule.action!r}; one of {', '.join(ACTION_NAMES)} or None")
        if rule.count is not None and rule.count < 1:
            raise ValueError("count must be >= 1 or None")
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[dict]:
        with self._lock:
            return [asdict(r) | {"error": repr(r.error) if r.error else None} for r in self._rules]

    def _fire(self, rule: Rule) -> None:
        rule.fired += 1
        if rule.count is not None:
            rule.count -= 1
            if rule.count == 0:
                self._rules.remove(rule)

    def for_request(self, action: str) -> list[Rule]:
        """Request-level rules that fire for this request (each consumes one of its count)."""
        hits = []
        with self._lock:
            for rule in list(self._rules):
                if rule.kind in ("drop", "delay", "http_error") and rule.action in (None, action):
                    hits.append(rule)
                    self._fire(rule)
        return hits

    def failure_for(self, op: str | None):
        """The PowerShellError to raise instead of running `op`, if one is armed."""
        with self._lock:
            for rule in list(self._rules):
                if rule.kind == "fail_op" and rule.op == op:
                    self._fire(rule)
                    return rule.error
        return None


@dataclass
class PipelineRecord:
    op: str | None
    version: int | None
    params: dict
    command: str
    shell_id: str
    pipeline_id: str
    username: str
    state: str = "Running"
    error: str | None = None
    error_id: str | None = None
    errors: int = 0
    outputs: int = 0
    started: float = field(default_factory=time.time)
    finished: float | None = None

    @property
    def seconds(self) -> float | None:
        return None if self.finished is None else self.finished - self.started

    def to_dict(self) -> dict:
        d = asdict(self)
        d["params"] = {k: _jsonable(v) for k, v in self.params.items()}
        d["seconds"] = self.seconds
        return d


def _jsonable(value):
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


class Journal:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests: Counter[str] = Counter()
            self.unauthorized = 0
            self.dropped = 0
            self.shells_created = 0
            self.largest_response = 0
            self.pipelines: list[PipelineRecord] = []

    def request(self, action: str) -> None:
        with self._lock:
            self.requests[action] += 1

    def response(self, size: int) -> None:
        with self._lock:
            self.largest_response = max(self.largest_response, size)

    def count(self, what: str) -> None:
        with self._lock:
            setattr(self, what, getattr(self, what) + 1)

    def pipeline(self, record: PipelineRecord) -> PipelineRecord:
        with self._lock:
            self.pipelines.append(record)
        return record

    def snapshot(self) -> dict:
        with self._lock:
            by_op = Counter(p.op for p in self.pipelines)
            return {
                "requests": sum(self.requests.values()),
                "requests_by_action": dict(self.requests),
                "unauthorized": self.unauthorized,
                "dropped": self.dropped,
                "shells_created": self.shells_created,
                "largest_response": self.largest_response,
                "pipelines": len(self.pipelines),
                "pipelines_by_op": {str(k): v for k, v in by_op.items()},
            }

    def records(self) -> list[PipelineRecord]:
        with self._lock:
            return list(self.pipelines)
