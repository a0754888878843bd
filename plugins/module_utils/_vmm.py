# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Intention-level access to System Center VMM over the operation catalogue.

``VmmClient(runner)`` turns module intentions into catalogue operations: one pipeline per
batch, never one per VM. Writes start VMM jobs for all targets together and await them
together with ``vmm.job_wait``; each target's outcome carries its own error, so one bad VM
never hides the others. ``VmmJobError`` names the VMM error id and text (801 not found,
1730 invalid state).

Private to the collection: the interface may change between releases.
"""

from __future__ import annotations

import re

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.vmops.datacenter.plugins.module_utils._common import Deadline, apply_query
from ansible_collections.vmops.datacenter.plugins.module_utils._progress import Progress
from ansible_collections.vmops.datacenter.plugins.module_utils._psrp import (
    HAS_PYPSRP,
    PSRP_REQUIRED_TOGETHER,
    PYPSRP_IMPORT_ERROR,
    PsrpError,
    psrp_argument_spec,
    runner_from_params,
)
from ansible_collections.vmops.datacenter.plugins.module_utils._vmm_ops import (
    ERROR_INVALID_STATE,
    ERROR_NOT_FOUND,
    ERROR_TRANSIENT,
)

GUID = re.compile(r"^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$")
VM_STATUSES = ["Running", "PowerOff", "Saved", "Paused"]
JOB_FAILED = frozenset(["Failed", "Canceled", "NotFound"])
COMPLIANT = "Compliant"


class VmmJobError(Exception):
    """A VMM job (or the start of one) failed; ``str()`` is the message shown to the user."""

    def __init__(self, message, error_id=None, text=None, target=None, job=None):
        super().__init__(message)
        self.error_id = error_id
        self.text = text
        self.target = target
        self.job = job

    @property
    def not_found(self):
        return self.error_id == ERROR_NOT_FOUND

    @property
    def invalid_state(self):
        return self.error_id == ERROR_INVALID_STATE

    @property
    def transient(self):
        return self.error_id == ERROR_TRANSIENT

    def as_dict(self):
        return dict(error_id=self.error_id, message=self.text, target=self.target, job=self.job)


def _listed(value):
    """Catalogue parameters take lists; None stays unset so the script's default applies."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return list(value) or None
    return [value]


def _set(**params):
    return dict((k, v) for k, v in params.items() if v is not None)


def outcome_error(item):
    """The error of one write target: from starting its job, its job's failure, or a timeout."""
    if item.get("error"):
        return item["error"]
    job = item.get("job")
    if job is None:
        return None
    if job.get("status") in JOB_FAILED:
        return job.get("error") or dict(id=None, message="VMM job %s ended %s." % (job.get("id"), job.get("status")))
    if not job.get("is_completed"):
        return dict(id=None, message="VMM job %s did not finish in time (status %s, %s%%); it keeps running." % (
            job.get("id"), job.get("status"), job.get("progress")))
    return None


def raise_for_errors(items, key):
    """Raise VmmJobError for the first failed target, counting the others."""
    failed = [(item, outcome_error(item)) for item in items]
    failed = [(item, error) for item, error in failed if error]
    if not failed:
        return
    item, error = failed[0]
    others = " (and %d more failed)" % (len(failed) - 1) if len(failed) > 1 else ""
    error_id = error.get("id")
    label = "VMM error %s" % error_id if error_id is not None else "VMM"
    raise VmmJobError("%s %s: %s: %s%s" % (key, item.get(key), label, error.get("message"), others),
                      error_id=error_id, text=error.get("message"), target=item.get(key), job=item.get("job"))


def kb_number(value):
    """A KB article as its number ("KB5068787" and "5068787" are the same article)."""
    text = str(value or "").strip()
    return text[2:] if text[:2].upper() == "KB" else text


def compliance_entry(item):
    """One host's compliance for one baseline (a vmm.compliance_list item) as the modules return it."""
    updates = [dict(id=u.get("id"), kb=kb_number(u.get("kb")), title=u.get("title"), status=u.get("status"))
               for u in item.get("updates") or []]
    return dict(
        host=item.get("host_name") or item.get("host"), id=item.get("host_id"), baseline=item.get("baseline"),
        baseline_id=item.get("baseline_id"), assigned=bool(item.get("assigned")), compliance=item.get("compliance"),
        compliant=item.get("compliance") == COMPLIANT, overall_compliance=item.get("overall_compliance"),
        pending=item.get("pending") or None, communication_state=item.get("communication_state"), updates=updates,
        noncompliant=[u["kb"] for u in updates if u["status"] != COMPLIANT],
        failed=[u["kb"] for u in updates if u["status"] == "Error"])


def resolve_vms(client, wanted, allow_duplicates):
    """Look every entry of ``wanted`` up (one pipeline for ids, one for names); VMs in request order, no repeats."""
    ids = [w.strip("{}").lower() for w in wanted if GUID.match(w)]
    names = [w for w in wanted if not GUID.match(w)]
    by_id = dict((vm["id"].lower(), vm) for vm in client.find_vms(ids=ids)) if ids else {}
    named = client.find_vms(names=names) if names else []
    unknown, ambiguous, found = [], [], []
    for entry in wanted:
        if GUID.match(entry):
            vm = by_id.get(entry.strip("{}").lower())
            matches = [vm] if vm else []
        else:
            matches = [vm for vm in named if vm["name"].lower() == entry.lower()]
        if not matches:
            unknown.append(entry)
        elif len(matches) > 1 and not allow_duplicates:
            ambiguous.append("%s (ids %s)" % (entry, ", ".join(vm["id"] for vm in matches)))
        found.extend(matches)
    if unknown:
        raise VmmJobError("VMM error %s: no VM with the name or id %s; nothing was changed." % (
            ERROR_NOT_FOUND, ", ".join(unknown)), error_id=ERROR_NOT_FOUND, text="VM not found", target=unknown[0])
    if ambiguous:
        raise VmmJobError("Several VMs carry the name %s; give their ids or set allow_duplicates=true. Nothing was "
                          "changed." % "; ".join(ambiguous), target=ambiguous[0])
    seen, vms = set(), []
    for vm in found:
        if vm["id"] not in seen:
            seen.add(vm["id"])
            vms.append(vm)
    return vms


def jobs_status(jobs):
    """E.g. "VMM job 'Disable host' 40 %" or "3 of 5 VMM jobs done; 'Shut down VM' 60 %"."""
    pending = [job for job in jobs if not job.get("is_completed")]
    first = pending[0] if pending else jobs[0]
    running = "'%s' %d %%" % (first.get("name") or first.get("id"), first.get("progress") or 0)
    if len(jobs) == 1:
        return "VMM job %s" % running
    return "%d of %d VMM jobs done; %s" % (len(jobs) - len(pending), len(jobs), running)


class VmmClient:
    """VMM operations for one module run; ``runner`` is a PsrpRunner (or a fake in unit tests).

    Writes take ``wait_timeout`` and ``poll_interval`` from the module (its options), never defaults here.
    """

    def __init__(self, runner, progress=None):
        self.runner = runner
        self.progress = progress or Progress(environ={})

    # -- VMs --------------------------------------------------------------------------------

    def find_vms(self, ids=None, names=None, hosts=None, clusters=None, statuses=None,
                 custom_property=None, custom_value=None):
        """VMs matching every given filter (lists match any of their values)."""
        params = _set(VMId=_listed(ids), Name=_listed(names), HostName=_listed(hosts),
                      ClusterName=_listed(clusters), Status=_listed(statuses),
                      CustomPropertyName=custom_property or None, CustomPropertyValue=custom_value or None)
        return self.runner.run("vmm.vm_list", **params)

    def power(self, vm_ids, action, *, wait_timeout, poll_interval, wait=True):
        """Start one power action on every VM at once, then await all jobs together."""
        return self._jobs("vmm.vm_power", dict(VMId=list(vm_ids), Action=action), wait, wait_timeout, poll_interval)

    def migrate(self, vm_ids, host, *, wait_timeout, poll_interval, wait=True):
        """Live-migrate VMs to ``host``: their jobs start in one pipeline and are awaited in one more."""
        return self._jobs("vmm.vm_migrate", dict(VMId=list(vm_ids), HostName=host), wait, wait_timeout, poll_interval)

    # -- checkpoints ------------------------------------------------------------------------

    def list_checkpoints(self, vm_ids):
        return self.runner.run("vmm.checkpoint_list", VMId=list(vm_ids))

    def create_checkpoints(self, vm_ids, name, description=None, *, wait_timeout, poll_interval, wait=True):
        params = _set(VMId=list(vm_ids), Name=name, Description=description)
        return self._jobs("vmm.checkpoint_new", params, wait, wait_timeout, poll_interval)

    def remove_checkpoints(self, checkpoint_ids, *, wait_timeout, poll_interval, wait=True):
        return self._jobs("vmm.checkpoint_remove", dict(CheckpointId=list(checkpoint_ids)), wait, wait_timeout,
                          poll_interval)

    def restore_checkpoints(self, checkpoint_ids, *, wait_timeout, poll_interval, wait=True):
        return self._jobs("vmm.checkpoint_restore", dict(CheckpointId=list(checkpoint_ids)), wait, wait_timeout,
                          poll_interval)

    # -- hosts ------------------------------------------------------------------------------

    def list_hosts(self, names=None, clusters=None):
        return self.runner.run("vmm.host_list", **_set(ComputerName=_listed(names), ClusterName=_listed(clusters)))

    def host_maintenance(self, names, enable, move_within_cluster=False, *, wait_timeout, poll_interval, wait=True):
        """Put hosts into maintenance mode (``enable=True``) or take them out of it."""
        params = dict(ComputerName=list(names), Action="disable" if enable else "enable")
        if enable and move_within_cluster:
            params["MoveWithinCluster"] = True
        return self._jobs("vmm.host_maintenance", params, wait, wait_timeout, poll_interval)

    # -- update compliance ------------------------------------------------------------------

    def compliance(self, names, baseline):
        """Each host's compliance for one baseline, per update, as VMM last recorded it."""
        return self.runner.run("vmm.compliance_list", ComputerName=list(names), BaselineName=baseline)

    def scan_compliance(self, names, baseline, *, wait_timeout, poll_interval, wait=True):
        """Start a compliance scan of every host at once, then await all scans together."""
        return self._jobs("vmm.compliance_scan", dict(ComputerName=list(names), BaselineName=baseline), wait,
                          wait_timeout, poll_interval)

    def remediate_updates(self, names, baseline, suspend_reboot=False, *, wait_timeout, poll_interval, wait=True):
        """Start update remediation of every host at once (the hosts restart unless ``suspend_reboot``)."""
        params = dict(ComputerName=list(names), BaselineName=baseline)
        if suspend_reboot:
            params["SuspendReboot"] = True
        return self._jobs("vmm.update_remediate", params, wait, wait_timeout, poll_interval)

    # -- jobs -------------------------------------------------------------------------------

    def list_jobs(self, ids=None, newest=None):
        return self.runner.run("vmm.job_list", **_set(JobId=_listed(ids), Newest=newest or None))

    def wait_jobs(self, job_ids, wait_timeout, poll_interval):
        """Await jobs in one pipeline; unfinished ones come back with ``is_completed`` false.

        While progress is watched (module_utils/_progress.py), the wait runs in slices of the progress
        interval and the jobs' state is reported between them.
        """
        if not self.progress.enabled:
            return self.runner.run("vmm.job_wait", JobId=list(job_ids), TimeoutSeconds=float(wait_timeout),
                                   PollSeconds=float(poll_interval))
        deadline = Deadline(float(wait_timeout))
        step = 0.0  # the first answer is immediate, so the status shows from the start
        while True:
            jobs = self.runner.run("vmm.job_wait", JobId=list(job_ids), TimeoutSeconds=step,
                                   PollSeconds=float(min(poll_interval, max(step, 0.1))))
            if all(job.get("is_completed") for job in jobs) or deadline.expired():
                return jobs
            self.progress.update("%s, %s" % (jobs_status(jobs), self.progress.elapsed()))
            step = max(0.0, min(self.progress.interval, deadline.remaining))

    def _jobs(self, op, params, wait, wait_timeout, poll_interval):
        items = [dict(item, job=None) for item in self.runner.run(op, **params)]
        job_ids = [item["job_id"] for item in items if item.get("job_id")]
        if wait and job_ids:
            jobs = dict((job["id"], job) for job in self.wait_jobs(job_ids, wait_timeout, poll_interval))
            for item in items:
                item["job"] = jobs.get(item.get("job_id"))
        return items


class VmmModule:
    """AnsibleModule plus a VMM session; ``run(work)`` is the whole life of a module."""

    def __init__(self, argument_spec, **kwargs):
        spec = psrp_argument_spec()
        spec.update(argument_spec)
        kwargs["required_together"] = list(kwargs.get("required_together") or []) + PSRP_REQUIRED_TOGETHER
        self.module = AnsibleModule(argument_spec=spec, **kwargs)
        self.params = self.module.params
        self.result = dict(changed=False)
        if not HAS_PYPSRP:
            self.module.fail_json(msg=missing_required_lib("pypsrp"), exception=str(PYPSRP_IMPORT_ERROR))
        for name in ("operation_timeout", "connection_timeout", "wait_timeout", "poll_interval"):
            if self.params.get(name) is not None and self.params[name] <= 0:
                self.module.fail_json(msg="%s must be greater than zero, got %s." % (name, self.params[name]))
        if self.params["retries"] < 0:
            self.module.fail_json(msg="retries must not be negative, got %s." % self.params["retries"])

    def run(self, work):
        """Open the session, call ``work(client)``, close the session (always), exit with ``self.result``."""
        runner = runner_from_params(self.params, "vmm")
        try:
            with runner:
                work(VmmClient(runner, Progress()))
        except PsrpError as exc:
            self.fail(str(exc), psrp_error=exc.as_dict())
        except VmmJobError as exc:
            self.fail(str(exc), vmm_error=exc.as_dict())
        for warning in runner.warnings:
            self.module.warn(warning)
        self.module.exit_json(**self.result)

    def info_result(self, client, key, items, **extra):
        """An info module's result: ``items`` under ``key``, their count, ``extra`` keys, the server that answered,
        and query_result (the query sees all of them)."""
        connected = client.runner.connected or {}
        server = dict(hostname=self.params["server"], vmm_server=connected.get("server"),
                      version=connected.get("version"))
        data = {key: items, "count": len(items), "server": server}
        data.update(extra)
        self.result.update(data)
        if self.params.get("query"):
            self.result["query_result"] = apply_query(self.module, data, self.params["query"])

    def fail(self, msg, **details):
        payload = dict(self.result)
        payload.update(details)
        payload.pop("msg", None)
        self.module.fail_json(msg=msg, **payload)
