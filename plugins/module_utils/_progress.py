# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vmops.datacenter maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Status lines of a long module run, for the collection's action plugins to show while it runs.

The action plugin of a long module (plugins/plugin_utils/_progress_action.py) starts the module as an
async job and names a file in ``VMOPS_PROGRESS_FILE``; the module keeps one JSON line there
(``{"text": ..., "time": ...}``) that the plugin prints as the job goes on. Without that variable
(a plain run, check mode, a task with its own ``async``) everything here does nothing.
"""

from __future__ import annotations

import json
import os
import threading
import time

PROGRESS_FILE_ENV = "VMOPS_PROGRESS_FILE"
PROGRESS_INTERVAL_ENV = "VMOPS_PROGRESS_INTERVAL"
DEFAULT_INTERVAL = 10.0


def human_duration(seconds):
    seconds = int(max(0, seconds))
    if seconds < 60:
        return "%d s" % seconds
    if seconds < 3600:
        return "%d m %02d s" % divmod(seconds, 60)
    hours, rest = divmod(seconds, 3600)
    return "%d h %02d m" % (hours, rest // 60)


class Progress:
    """Writes the current status line; ``watch(status)`` samples a status function in a thread."""

    def __init__(self, environ=None, clock=time.monotonic):
        environ = os.environ if environ is None else environ
        path = environ.get(PROGRESS_FILE_ENV)
        self.path = os.path.expanduser(path) if path else None
        try:
            self.interval = max(0.2, float(environ.get(PROGRESS_INTERVAL_ENV) or DEFAULT_INTERVAL))
        except ValueError:
            self.interval = DEFAULT_INTERVAL
        self.clock = clock
        self.started = clock()

    @property
    def enabled(self):
        return self.path is not None

    def elapsed(self):
        return human_duration(self.clock() - self.started)

    def update(self, text):
        """Replace the status line (atomically: the reader never sees half a line)."""
        if not self.path:
            return
        temp = "%s.%d.tmp" % (self.path, os.getpid())
        try:
            with open(temp, "w") as handle:
                json.dump(dict(text=str(text), time=time.time()), handle)
            os.replace(temp, self.path)
        except OSError:
            # Progress is a courtesy; a full disk or a vanished directory must not fail the operation.
            pass

    def watch(self, status):
        """Context manager: ``status()`` (a string, or None for no news) is written every interval."""
        return _Watch(self, status)


class _Watch:
    def __init__(self, progress, status):
        self.progress = progress
        self.status = status
        self.stop = threading.Event()
        self.thread = None

    def _loop(self):
        while not self.stop.wait(self.progress.interval):
            self._write()

    def _write(self):
        try:
            text = self.status()
        except Exception:  # pylint: disable=broad-except
            # A status function reads counters other threads change; a bad sample is skipped, not fatal.
            return
        if text:
            self.progress.update(text)

    def __enter__(self):
        if self.progress.enabled:
            self._write()
            self.thread = threading.Thread(target=self._loop, name="vmops-progress", daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc_info):
        if self.thread:
            self.stop.set()
            self.thread.join()
        return False
