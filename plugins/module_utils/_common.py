# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pieces shared by every client: backoff, redaction, JMESPath queries, deadlines.

Private to the collection (leading underscore): the interface may change between releases.
"""

from __future__ import annotations

import random
import time

try:
    import jmespath
    HAS_JMESPATH = True
    JMESPATH_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised by the sanity import test
    HAS_JMESPATH = False
    JMESPATH_IMPORT_ERROR = exc

try:
    import requests.exceptions
    import urllib3.exceptions
    HAS_REQUESTS = True
except ImportError:  # pragma: no cover - the clients that need it report the missing library
    HAS_REQUESTS = False

REDACTED = "********"


def backoff_delays(retries, base_delay=1.0, max_delay=20.0, rng=None):
    """Yield `retries` sleep times: exponential, capped, with "equal jitter".

    Half of each step is fixed and half random, so many workers that failed together
    do not come back together, yet no attempt waits for nearly nothing.
    """
    rng = rng or random.Random()
    for attempt in range(retries):
        step = min(max_delay, base_delay * (2 ** attempt))
        yield step / 2.0 + rng.uniform(0, step / 2.0)


def pause(delays, sleep):
    """Sleep the next delay of a backoff_delays() generator; False when the retries are used up."""
    delay = next(delays, None)
    if delay is None:
        return False
    sleep(delay)
    return True


def never_sent(exc):
    """True when a requests connection error happened before any byte of the request left
    (connection refused, connect timeout): then even a request that is not safe to repeat may be."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def redact(value, secrets):
    """Return `value` with every non-empty secret replaced, recursing into lists and dicts."""
    secrets = [s for s in secrets if s]
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return dict((k, redact(v, secrets)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [redact(v, secrets) for v in value]
    return value


def _need_jmespath(module):
    if not HAS_JMESPATH:
        from ansible.module_utils.basic import missing_required_lib

        module.fail_json(msg=missing_required_lib("jmespath"), exception=str(JMESPATH_IMPORT_ERROR))


def check_query(module, query):
    """Fail on a malformed JMESPath expression before any request is made.

    Only parsed: evaluating it over an empty result would reject valid queries such as length(vms).
    """
    if not query:
        return
    _need_jmespath(module)
    try:
        jmespath.compile(query)
    except jmespath.exceptions.JMESPathError as exc:
        module.fail_json(msg="Invalid query %r: %s" % (query, exc))


def apply_query(module, data, query):
    """Run an optional JMESPath expression over an info module's result."""
    if not query:
        return data
    _need_jmespath(module)
    try:
        return jmespath.search(query, data)
    except jmespath.exceptions.JMESPathError as exc:
        module.fail_json(msg="Invalid query %r: %s" % (query, exc))


class Deadline:
    """A wall-clock budget for waiting on a long operation."""

    def __init__(self, seconds, clock=None):
        self._clock = clock or time.monotonic
        self.seconds = seconds
        self.started = self._clock()

    @property
    def elapsed(self):
        return self._clock() - self.started

    @property
    def remaining(self):
        return self.seconds - self.elapsed

    def expired(self):
        return self.remaining <= 0
