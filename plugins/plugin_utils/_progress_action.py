# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vmops.datacenter maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Action plugin base for long modules: run them as an async job and print their status while they run.

A 40-minute upload or a host drain otherwise shows nothing in a terminal or an AWX job until it ends.
Here the module runs through Ansible's own async wrapper; the plugin polls the job's result file and
the status file the module keeps (module_utils/_progress.py) and prints a line whenever the status
changes, then returns the module's result exactly as a plain run would.

Left to the plain path: check mode (plans are quick), a task that sets ``async`` itself, connections
with native async, calls the module itself says are short (``long_run``), and ``vmops_progress: false``.
``vmops_progress_interval`` (seconds, default 10) sets how often the status is sampled.
"""

from __future__ import annotations

import json
import time
import uuid

from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible.utils.vars import merge_hash

from ansible_collections.vmops.datacenter.plugins.module_utils._progress import (
    DEFAULT_INTERVAL, PROGRESS_FILE_ENV, PROGRESS_INTERVAL_ENV)

display = Display()

# The module enforces its own wait_timeout; this only bounds a job whose module died without a word.
ASYNC_LIMIT = 7 * 24 * 3600
FIRST_POLL = 0.25
MISSING_JOB_GRACE = 60
JOB_KEYS = ("ansible_job_id", "started", "finished", "results_file")
_SEPARATOR = "--vmops-progress--"


class ProgressActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = True

    def long_run(self, args):
        """Whether these module arguments make a run worth watching (e.g. ``wait`` is true)."""
        return True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        if not self._watch_wanted(task_vars):
            wrap_async = self._task.async_val and not self._connection.has_native_async
            result = merge_hash(result, self._execute_module(task_vars=task_vars, wrap_async=wrap_async))
            if not wrap_async:
                self._remove_tmp_path(self._connection._shell.tmpdir)
            return result
        return merge_hash(result, self._run_watched(task_vars))

    def _watch_wanted(self, task_vars):
        try:
            wanted = boolean(task_vars.get("vmops_progress", True), strict=False)
        except TypeError:
            wanted = True
        return (wanted and not self._task.async_val and not self._play_context.check_mode
                and not self._connection.has_native_async and self.long_run(self._task.args))

    def _interval(self, task_vars):
        try:
            return max(0.2, float(task_vars.get("vmops_progress_interval", DEFAULT_INTERVAL)))
        except (TypeError, ValueError):
            return DEFAULT_INTERVAL

    def _run_watched(self, task_vars):
        interval = self._interval(task_vars)
        async_dir = self._remote_expand_user(self.get_shell_option("async_dir", default="~/.ansible_async"))
        progress_path = self._connection._shell.join_path(async_dir, "vmops-progress-%s" % uuid.uuid4().hex)
        environment = list(self._task.environment or [])
        self._task.environment = environment + [{PROGRESS_FILE_ENV: progress_path,
                                                 PROGRESS_INTERVAL_ENV: str(interval)}]
        self._task.async_val = ASYNC_LIMIT
        try:
            started = self._execute_module(task_vars=task_vars, wrap_async=True)
        finally:
            self._task.async_val = 0
            self._task.environment = environment
        jid = started.get("ansible_job_id")
        if started.get("failed") or not jid:
            return started
        job_path = self._connection._shell.join_path(async_dir, jid)
        try:
            self._follow(job_path, progress_path, interval, task_vars)
            final = self._execute_module(module_name="ansible.legacy.async_status",
                                         module_args=dict(jid=jid, _async_dir=async_dir), task_vars=task_vars)
            self._remove_tmp_path(self._connection._shell.tmpdir)
        finally:
            self._remove_files(job_path, progress_path)
        for key in JOB_KEYS:
            final.pop(key, None)
        return final

    def _follow(self, job_path, progress_path, interval, task_vars):
        """Poll until the job has ended, printing each new status line."""
        host = task_vars.get("inventory_hostname", "localhost")
        delegated = self._task.delegate_to
        label = "%s -> %s" % (host, delegated) if delegated and delegated != host else host
        delay, shown, begun = min(FIRST_POLL, interval), None, time.monotonic()
        while True:
            time.sleep(delay)
            delay = min(delay * 2, interval)
            job, status = self._read(job_path, progress_path)
            if status and status != shown:
                display.display("[%s] %s" % (label, status))
                shown = status
            if job is not None and (job.get("finished") or "started" not in job):
                return
            if job is None and time.monotonic() - begun > MISSING_JOB_GRACE:
                return  # async_status then reports the missing job

    def _read(self, job_path, progress_path):
        """The job file (None while it is being written) and the status text, in one remote command."""
        quote = self._connection._shell.quote
        command = "cat %s 2>/dev/null; echo %s; cat %s 2>/dev/null" % (quote(job_path), _SEPARATOR,
                                                                       quote(progress_path))
        out = self._low_level_execute_command(command).get("stdout", "")
        job_text, _sep, status_text = out.partition(_SEPARATOR)
        return _json(job_text), (_json(status_text) or {}).get("text")

    def _remove_files(self, *paths):
        quote = self._connection._shell.quote
        self._low_level_execute_command("rm -f %s" % " ".join(quote(p) for p in paths))


def _json(text):
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class WaitingProgressActionModule(ProgressActionModule):
    """For modules with a ``wait`` option (default true): watched only when they wait."""

    def long_run(self, args):
        try:
            return boolean(args.get("wait", True), strict=False)
        except TypeError:
            return True
