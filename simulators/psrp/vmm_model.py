"""VMM state: clusters, hosts, VMs, checkpoints and jobs, persisted as JSON.

The model answers the collection's VMM operations the way the VirtualMachineManager cmdlets
would, as far as the documentation describes them:

* VMs have GUID ids and non-unique names; status Running, PowerOff, Saved or Paused; custom
  properties by name (the legacy Custom1..Custom10 slots are ordinary names here).
* Writes are jobs. A job runs for a configurable number of real seconds (per job type), shows
  its progress, and only then changes the state, re-checking it at that moment: a job that no
  longer fits fails with ``ErrorInfo`` (801 not found, 1730 invalid state). Failures and slow
  jobs can be injected per job type (and target).
* Maintenance mode is ``Disable-SCVMHost``'s: with ``move_within_cluster`` running highly
  available VMs live-migrate to another node of the same cluster that is not in maintenance,
  is available for placement and has the memory; every other running VM on the host is saved
  (also an HA VM that fits nowhere). Nothing is started on, or migrated to, a host in
  maintenance. ``Enable-SCVMHost`` only returns the host to service.
* ``Move-SCVirtualMachine`` live-migrates a highly available VM to another node of its cluster as a
  job; it refuses a host in maintenance, a host outside the VM's cluster, a VM that is not highly
  available, and a host without the memory (counting migrations to it under way), at the start and
  again when the job runs.
* Checkpoints keep a parent chain; restoring one keeps the later ones, and the next checkpoint
  of that VM becomes the restored one's child (Hyper-V's tree).
* Update baselines (name, updates with KB article and title, an assignment scope of clusters and
  hosts) and per-host update compliance. ``Start-SCComplianceScan`` is a job that records what is
  installed; ``Start-SCUpdateRemediation`` is a job that installs the missing updates one after
  the other (``update_remediate`` seconds), then restarts the host (``update_restart`` seconds,
  the host "Not Responding" meanwhile) unless the reboot is suspended, and only then reports the
  updates compliant. Faults per host: an update that fails to install (the job fails naming it,
  the update's state becomes Error) and a restart that never completes (the job keeps running).

State lives in ``<state_dir>/vmm.json``, rewritten atomically after every change; all access
goes through one lock. Time is the real wall clock (``clock``), so tests use small job times.
"""

from __future__ import annotations

import copy
import json
import os
import re
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

STATE_VERSION = 1
STATE_FILE = "vmm.json"
# Lab objects get stable ids (uuid5 under this namespace), so a re-seeded lab has the same ids.
NAMESPACE = uuid.UUID("6f1c2a0e-5b7d-4e43-9a1f-3c2d8e9b7a10")

STATUSES = ("Running", "PowerOff", "Saved", "Paused")
ROOT_HOST_GROUP = "All Hosts"  # VMM's root host group; every path starts with it
MAINTENANCE_STATE = "MaintenanceMode"  # the OverallState member name is not documented
NORMAL_STATE = "OK"
JOB_MAX = 20000  # completed jobs beyond this are forgotten, oldest first

DEFAULT_JOB_SECONDS = {
    "start": 2.0,
    "stop": 1.0,
    "shutdown": 3.0,
    "save": 2.0,
    "suspend": 0.5,
    "resume": 0.5,
    "checkpoint_new": 2.0,
    "checkpoint_remove": 1.0,
    "checkpoint_restore": 2.0,
    "host_disable": 3.0,
    "host_enable": 1.0,
    "vm_migrate": 2.0,
    "compliance_scan": 1.0,
    "update_remediate": 3.0,
    # Not a job of its own: the restart phase at the end of an update_remediate job.
    "update_restart": 2.0,
}
JOB_NAMES = {
    "start": "Start virtual machine",
    "stop": "Stop virtual machine",
    "shutdown": "Shut down virtual machine",
    "save": "Save state of virtual machine",
    "suspend": "Pause virtual machine",
    "resume": "Resume virtual machine",
    "checkpoint_new": "Create virtual machine checkpoint",
    "checkpoint_remove": "Remove virtual machine checkpoint",
    "checkpoint_restore": "Restore virtual machine checkpoint",
    "host_disable": "Put host in maintenance mode",
    "host_enable": "Take host out of maintenance mode",
    "vm_migrate": "Migrate virtual machine",
    "compliance_scan": "Scan for compliance",
    "update_remediate": "Remediate updates",
}
POWER_JOBS = ("start", "stop", "shutdown", "save", "suspend", "resume")

ERROR_NOT_FOUND = 801
ERROR_INVALID_STATE = 1730
ERROR_TRANSIENT = 1600
# Texts modelled on VMM's messages; the maintenance one is VMM's own wording. Its error id is
# not documented in our sources: 1730 ("not valid for the action") is what clients handle.
HOST_IN_MAINTENANCE = ("Virtual machine {vm} cannot be deployed or migrated to host {host} because the host is "
                       "in maintenance mode.")
# Move-SCVirtualMachine's other refusals. Their texts and ids are not in our sources: they say what
# VMM checks (cluster, memory, highly available) and carry 1730 like the maintenance refusal.
ERROR_PLACEMENT = ERROR_INVALID_STATE
OTHER_CLUSTER = ("Virtual machine {vm} cannot be migrated to host {host} because the host is not a node of "
                 "cluster {cluster}, which holds the highly available virtual machine.")
NOT_ENOUGH_MEMORY = ("Virtual machine {vm} cannot be migrated to host {host} because the host does not have enough "
                     "memory: {need} MB needed, {free} MB available.")
NOT_HIGHLY_AVAILABLE = ("Virtual machine {vm} is not highly available: it cannot be live-migrated within a cluster "
                        "without a storage destination (-Path).")
_PROBLEMS = {
    ERROR_NOT_FOUND: ("VMM cannot find the {kind} object.",
                      "Ensure the object is valid, and then try the operation again."),
    ERROR_INVALID_STATE: ("The requested operation cannot be completed because virtual machine {name} is in the "
                          "{status} state, which is not valid for this action.",
                          "Bring the virtual machine into a state in which the action is valid, and then try the "
                          "operation again."),
    ERROR_TRANSIENT: ("VMM could not complete the operation because of a transient error.",
                      "Try the operation again."),
}
_GENERIC = ("The job failed (injected fault).", "Try the operation again.")

# Update compliance. The states are ComplianceState's members as scripts compare them; the error ids
# of a failed installation and of a host that does not answer are not documented in our sources
# (see README.md).
COMPLIANT, NON_COMPLIANT, UNKNOWN, ERROR_STATE = "Compliant", "NonCompliant", "Unknown", "Error"
ERROR_UPDATE_FAILED = 24207
ERROR_NOT_RESPONDING = 2916
RESPONDING, NOT_RESPONDING = "Responding", "Not Responding"
PENDING_INSTALL, PENDING_RESTART, PENDING_REBOOT = "Installing updates", "Restarting", "Restart required"
UPDATE_FAILED = ("Update {kb} ({title}) could not be installed on {host}. The installation returned the Windows "
                 "Update error 0x80070643.")
UPDATE_FAILED_ACTION = "Check the Windows Update log on the host, fix the cause, and then run the remediation again."
NOT_RESPONDING_PROBLEM = "VMM cannot contact the host {host}: the host is not responding."
NOT_RESPONDING_ACTION = "Ensure that the host is running and reachable, and then try the operation again."
NOT_ASSIGNED = "The baseline {baseline} is not assigned to {host}."
NOT_ASSIGNED_ACTION = "Add the host, its cluster or its host group to the assignment scope of the baseline."


def iso(ts: float | None) -> str | None:
    """Epoch seconds as .NET's round-trip UTC format ('o'): 2026-01-02T03:04:05.1234560Z."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def norm_id(value) -> str | None:
    """A GUID in VMM's string form (lower case, dashes), or None when it is not one."""
    try:
        return str(uuid.UUID(str(value).strip()))
    except (ValueError, AttributeError, TypeError):
        return None


def _fold(value) -> str:
    return str(value).casefold()


class VmmModel:
    """One simulated VMM server. Public methods are thread-safe; they return copies."""

    def __init__(self, state_dir, description: dict | None = None, *, job_seconds: dict | None = None,
                 clock=time.time):
        self.state_dir = Path(state_dir)
        self.state_path = self.state_dir / STATE_FILE
        self.clock = clock
        self._lock = threading.RLock()
        self._dirty = False
        self.state: dict = {}
        if self.state_path.exists():
            self._load()
        else:
            self.state = seed_state(description or {}, clock())
            self._dirty = True
        if job_seconds:
            self.state["job_seconds"].update({k: float(v) for k, v in job_seconds.items()})
            self._dirty = True
        self._reindex()
        self._commit()

    # --- persistence -----------------------------------------------------------------------
    def _load(self) -> None:
        with open(self.state_path, encoding="utf-8") as fh:
            state = json.load(fh)
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"{self.state_path}: state version {state.get('version')} (expected {STATE_VERSION})")
        for key in ("baselines", "updates", "compliance", "update_faults"):
            state.setdefault(key, {})  # states saved before update compliance was modelled
        self.state = state

    def _commit(self) -> None:
        if not self._dirty:
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_name(f"{self.state_path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(self.state, separators=(",", ":")))
        os.replace(tmp, self.state_path)
        self._dirty = False

    def _reindex(self) -> None:
        self._running = {j["id"] for j in self.state["jobs"].values() if j["status"] == "Running"}
        self._host_by_name = {}
        for h in self.state["hosts"].values():
            self._host_by_name[_fold(h["name"])] = h["id"]
            self._host_by_name.setdefault(_fold(h["computer_name"]), h["id"])

    # --- time ------------------------------------------------------------------------------
    def _advance(self) -> None:
        """Finish every job whose time has come, in the order they finish."""
        now = self.clock()
        while self._running:
            running = [self.state["jobs"][i] for i in self._running]
            due = [j for j in running if j["end"] is not None and j["end"] <= now]
            hung = [j for j in running if j["end"] is None and self._hang_released(j)]
            if not due and not hung:
                return
            for j in hung:
                j["end"] = now
                self._finish(j, now)
            for j in sorted(due, key=lambda j: (j["end"], j["seq"])):
                self._finish(j, j["end"])

    def _hang_released(self, job: dict) -> bool:
        if job["type"] == "update_remediate":  # a restart that never completes, until the fault is cleared
            return not self.state["update_faults"].get(job["target_id"], {}).get("stuck_restart")
        # A guest that ignores the shutdown request keeps its job running until the VM is off
        # by other means (a forced stop, a save by maintenance mode...).
        vm = self.state["vms"].get(job["target_id"])
        return vm is None or vm["status"] != "Running"

    # --- jobs --------------------------------------------------------------------------------
    def _new_job(self, job_type: str, target_kind: str, target_id: str, target_name: str, args: dict | None = None,
                 hang: bool = False, seconds: float | None = None) -> dict:
        now = self.clock()
        if seconds is None:
            seconds = float(self.state["job_seconds"].get(job_type, 1.0))
        fault = self._take_fault(job_type, target_id, target_name)
        if fault and fault.get("seconds") is not None:
            seconds = float(fault["seconds"])
        self.state["seq"] += 1
        job = {
            "id": str(uuid.uuid4()),
            "seq": self.state["seq"],
            "type": job_type,
            "name": JOB_NAMES[job_type],
            "target_kind": target_kind,
            "target_id": target_id,
            "result_name": target_name,
            "args": args or {},
            "status": "Running",
            "start": now,
            "duration": seconds,
            "end": None if hang else now + seconds,
            "progress": 0,
            "error": None,
            "fault": fault if fault and fault.get("error_id") is not None else None,
            "result": None,
        }
        self.state["jobs"][job["id"]] = job
        self._running.add(job["id"])
        self._prune_jobs()
        self._dirty = True
        return job

    def _prune_jobs(self) -> None:
        jobs = self.state["jobs"]
        if len(jobs) <= JOB_MAX:
            return
        done = sorted((j for j in jobs.values() if j["status"] != "Running"), key=lambda j: j["seq"])
        for j in done[:len(jobs) - JOB_MAX]:
            del jobs[j["id"]]

    def _fail(self, job: dict, error_id: int, problem: str | None = None, action: str | None = None, **fmt) -> None:
        default_problem, default_action = _PROBLEMS.get(error_id, _GENERIC)
        job["status"] = "Failed"
        job["error"] = {"id": int(error_id), "problem": problem or default_problem.format(**fmt),
                        "recommended_action": action or default_action}

    def _finish(self, job: dict, at: float) -> None:
        self._dirty = True
        self._running.discard(job["id"])
        job["progress"] = 100
        job["finished"] = at
        fault = job.pop("fault", None)
        if fault:
            job["progress"] = 99
            kind = "virtual machine" if job["target_kind"] == "vm" else job["target_kind"]
            vm = self.state["vms"].get(job["target_id"]) or {}
            self._fail(job, fault["error_id"], fault.get("message"), kind=kind, name=job["result_name"],
                       status=vm.get("status", "unknown"))
            return
        job["status"] = "Completed"
        getattr(self, "_do_" + job["type"])(job, at)

    def _vm_or_fail(self, job: dict) -> dict | None:
        vm = self.state["vms"].get(job["target_id"])
        if vm is None:
            self._fail(job, ERROR_NOT_FOUND, kind="virtual machine")
        return vm

    def _invalid(self, job: dict, vm: dict) -> None:
        self._fail(job, ERROR_INVALID_STATE, name=vm["name"], status=vm["status"])

    # Power transitions: (from-statuses that change, to-status, statuses that are already done)
    _POWER = {
        "start": (("PowerOff", "Saved"), "Running", ("Running",)),
        "stop": (("Running", "Paused"), "PowerOff", ("PowerOff",)),
        "shutdown": (("Running",), "PowerOff", ("PowerOff",)),
        "save": (("Running", "Paused"), "Saved", ("Saved",)),
        "suspend": (("Running",), "Paused", ("Paused",)),
        "resume": (("Paused",), "Running", ("Running",)),
    }

    def _do_power(self, job: dict, at: float) -> None:
        vm = self._vm_or_fail(job)
        if vm is None:
            return
        changes, target, done = self._POWER[job["type"]]
        if vm["status"] in done:
            return  # e.g. Start-SCVirtualMachine on a running VM changes nothing
        if vm["status"] not in changes:
            self._invalid(job, vm)
            return
        if target == "Running" and vm["status"] in ("PowerOff", "Saved"):
            host = self.state["hosts"].get(vm["host"])
            if host is not None and host["in_maintenance"]:
                self._fail(job, ERROR_INVALID_STATE, HOST_IN_MAINTENANCE.format(vm=vm["name"], host=host["name"]))
                return
        vm["status"] = target

    _do_start = _do_stop = _do_shutdown = _do_save = _do_suspend = _do_resume = _do_power

    def _do_checkpoint_new(self, job: dict, at: float) -> None:
        vm = self._vm_or_fail(job)
        if vm is None:
            return
        cp = {
            "id": str(uuid.uuid4()),
            "vm_id": vm["id"],
            "name": job["args"]["name"],
            "description": job["args"].get("description") or "",
            "parent_id": vm["current_checkpoint_id"],
            "added_time": at,
            "vm_status": vm["status"],
        }
        self.state["checkpoints"][cp["id"]] = cp
        vm["current_checkpoint_id"] = cp["id"]
        job["result"] = {"checkpoint_id": cp["id"]}

    def _do_checkpoint_remove(self, job: dict, at: float) -> None:
        cp = self.state["checkpoints"].get(job["target_id"])
        if cp is None:
            self._fail(job, ERROR_NOT_FOUND, kind="checkpoint")
            return
        # Hyper-V merges a removed checkpoint: its children hang off its parent from now on.
        for other in self.state["checkpoints"].values():
            if other["parent_id"] == cp["id"]:
                other["parent_id"] = cp["parent_id"]
        vm = self.state["vms"].get(cp["vm_id"])
        if vm is not None and vm["current_checkpoint_id"] == cp["id"]:
            vm["current_checkpoint_id"] = cp["parent_id"]
        del self.state["checkpoints"][cp["id"]]

    def _do_checkpoint_restore(self, job: dict, at: float) -> None:
        cp = self.state["checkpoints"].get(job["target_id"])
        if cp is None:
            self._fail(job, ERROR_NOT_FOUND, kind="checkpoint")
            return
        vm = self.state["vms"].get(cp["vm_id"])
        if vm is None:
            self._fail(job, ERROR_NOT_FOUND, kind="virtual machine")
            return
        # A checkpoint of a running (or paused) VM holds its memory: the VM comes back saved.
        vm["status"] = "Saved" if cp["vm_status"] in ("Running", "Paused", "Saved") else "PowerOff"
        vm["current_checkpoint_id"] = cp["id"]
        vm["last_restored_checkpoint_id"] = cp["id"]

    def _do_host_disable(self, job: dict, at: float) -> None:
        host = self.state["hosts"].get(job["target_id"])
        if host is None:
            self._fail(job, ERROR_NOT_FOUND, kind="host")
            return
        result = {"migrated": [], "saved": []}
        job["result"] = result
        if host["in_maintenance"]:
            return
        host["in_maintenance"] = True
        move = bool(job["args"].get("move_within_cluster"))
        running = sorted((v for v in self.state["vms"].values() if v["host"] == host["id"] and v["status"] == "Running"),
                         key=lambda v: (_fold(v["name"]), v["id"]))
        for vm in running:
            target = self._placement(vm, host) if move and host["cluster"] and vm["ha"] else None
            if target is not None:
                vm["host"] = target["id"]
                result["migrated"].append({"vm_id": vm["id"], "from": host["name"], "to": target["name"]})
            else:
                vm["status"] = "Saved"
                result["saved"].append({"vm_id": vm["id"], "host": host["name"]})

    def _do_host_enable(self, job: dict, at: float) -> None:
        host = self.state["hosts"].get(job["target_id"])
        if host is None:
            self._fail(job, ERROR_NOT_FOUND, kind="host")
            return
        host["in_maintenance"] = False  # saved or migrated VMs stay where they are

    def _do_vm_migrate(self, job: dict, at: float) -> None:
        vm = self._vm_or_fail(job)
        if vm is None:
            return
        target = self.state["hosts"].get(job["args"]["host_id"])
        if target is None:
            self._fail(job, ERROR_NOT_FOUND, kind="host")
            return
        # The placement is checked again when the job runs: the host may have entered maintenance meanwhile.
        refusal = self._migration_refusal(vm, target, exclude_job=job["id"])
        if refusal:
            self._fail(job, ERROR_PLACEMENT, refusal)
            return
        source = self.state["hosts"].get(vm["host"])
        vm["host"] = target["id"]
        job["result"] = {"from": source["name"] if source else None, "to": target["name"]}

    # --- update compliance ----------------------------------------------------------------------
    def _host_updates(self, host_id: str) -> dict:
        return self.state["compliance"].setdefault(host_id, {"installed": [], "status": {}, "restart_pending": False})

    def _remediation(self, host_id: str) -> dict | None:
        """The running remediation job of a host, if any."""
        for jid in self._running:
            job = self.state["jobs"][jid]
            if job["type"] == "update_remediate" and job["target_id"] == host_id:
                return job
        return None

    def _phase(self, host_id: str) -> str | None:
        job = self._remediation(host_id)
        if job is None:
            return None
        return PENDING_INSTALL if self.clock() < job["args"]["install_end"] else PENDING_RESTART

    def _assigned(self, baseline: dict, host: dict) -> bool:
        return host["id"] in baseline["hosts"] or (host["cluster"] or "") in baseline["clusters"]

    def _missing(self, baseline: dict, host_id: str) -> list[str]:
        installed = set(self._host_updates(host_id)["installed"])
        return [u for u in baseline["updates"] if u not in installed]

    def _do_compliance_scan(self, job: dict, at: float) -> None:
        host = self.state["hosts"].get(job["target_id"])
        baseline = self.state["baselines"].get(job["args"]["baseline_id"])
        if host is None or baseline is None:
            self._fail(job, ERROR_NOT_FOUND, kind="host" if host is None else "baseline")
            return
        if self._phase(host["id"]) == PENDING_RESTART:
            self._fail(job, ERROR_NOT_RESPONDING, NOT_RESPONDING_PROBLEM.format(host=host["name"]),
                       NOT_RESPONDING_ACTION)
            return
        record = self._host_updates(host["id"])
        for uid in baseline["updates"]:
            record["status"][uid] = COMPLIANT if uid in record["installed"] else NON_COMPLIANT

    def _do_update_remediate(self, job: dict, at: float) -> None:
        host = self.state["hosts"].get(job["target_id"])
        baseline = self.state["baselines"].get(job["args"]["baseline_id"])
        if host is None or baseline is None:
            self._fail(job, ERROR_NOT_FOUND, kind="host" if host is None else "baseline")
            return
        if not self._assigned(baseline, host):
            self._fail(job, ERROR_INVALID_STATE, NOT_ASSIGNED.format(baseline=baseline["name"], host=host["name"]),
                       NOT_ASSIGNED_ACTION)
            return
        record = self._host_updates(host["id"])
        result = {"installed": [], "failed": None, "restarted": False}
        job["result"] = result
        for uid in job["args"]["updates"]:
            update = self.state["updates"][uid]
            if uid == job["args"].get("fails"):
                record["status"][uid] = ERROR_STATE
                result["failed"] = update["kb"]
                self._fail(job, ERROR_UPDATE_FAILED, UPDATE_FAILED.format(kb="KB" + update["kb"], title=update["title"],
                                                                          host=host["name"]), UPDATE_FAILED_ACTION)
                return
            if uid not in record["installed"]:
                record["installed"].append(uid)
            record["status"][uid] = COMPLIANT
            result["installed"].append(update["kb"])
        if job["args"]["restart"]:
            record["restart_pending"] = False
            result["restarted"] = True
        elif job["args"]["updates"] and any(self.state["updates"][u]["reboot"] for u in job["args"]["updates"]):
            record["restart_pending"] = True

    # --- placement ---------------------------------------------------------------------------
    def _used_mb(self, host_id: str) -> int:
        return sum(v["memory_mb"] for v in self.state["vms"].values()
                   if v["host"] == host_id and v["status"] in ("Running", "Paused"))

    def _available_mb(self, host: dict) -> int:
        return max(0, host["total_memory_mb"] - host["reserve_mb"] - self._used_mb(host["id"]))

    def _placement(self, vm: dict, source: dict) -> dict | None:
        """The node a live migration would pick: same cluster, in service, most free memory."""
        best, best_free = None, -1
        for h in self.state["hosts"].values():
            if h["id"] == source["id"] or h["cluster"] != source["cluster"]:
                continue
            if h["in_maintenance"] or not h["available_for_placement"]:
                continue
            free = self._available_mb(h)
            if free >= vm["memory_mb"] and (free > best_free or (free == best_free and _fold(h["name"]) < _fold(best["name"]))):
                best, best_free = h, free
        return best

    def _incoming_mb(self, host_id: str, exclude_job: str | None = None) -> int:
        """Memory of running VMs whose migration to the host is under way (VMM reserves it at the start)."""
        total = 0
        for jid in self._running:
            job = self.state["jobs"][jid]
            if job["type"] != "vm_migrate" or jid == exclude_job or job["args"].get("host_id") != host_id:
                continue
            vm = self.state["vms"].get(job["target_id"])
            if vm is not None and vm["host"] != host_id and vm["status"] in ("Running", "Paused"):
                total += vm["memory_mb"]
        return total

    def _migration_refusal(self, vm: dict, target: dict, exclude_job: str | None = None) -> str | None:
        """Why Move-SCVirtualMachine refuses to move `vm` to `target`, or None."""
        if vm["host"] == target["id"]:
            return None  # nothing to move
        source = self.state["hosts"].get(vm["host"]) or {}
        if target["in_maintenance"]:
            return HOST_IN_MAINTENANCE.format(vm=vm["name"], host=target["name"])
        if not vm["ha"]:
            return NOT_HIGHLY_AVAILABLE.format(vm=vm["name"])
        if source.get("cluster") != target["cluster"]:
            return OTHER_CLUSTER.format(vm=vm["name"], host=target["name"], cluster=source.get("cluster"))
        if vm["status"] in ("Running", "Paused"):
            free = self._available_mb(target) - self._incoming_mb(target["id"], exclude_job)
            if free < vm["memory_mb"]:
                return NOT_ENOUGH_MEMORY.format(vm=vm["name"], host=target["name"], need=vm["memory_mb"],
                                                free=max(0, free))
        return None

    # --- faults and timing ---------------------------------------------------------------------
    def _take_fault(self, job_type: str, target_id: str, target_name: str) -> dict | None:
        for fault in self.state["faults"]:
            if fault["job_type"] != job_type:
                continue
            if fault.get("target") and fault["target"] not in (target_id, _fold(target_name)):
                continue
            fault["count"] -= 1
            if fault["count"] <= 0:
                self.state["faults"].remove(fault)
            return dict(fault)
        return None

    def inject_fault(self, job_type: str, error_id: int | None = None, *, count: int = 1, target: str | None = None,
                     seconds: float | None = None, message: str | None = None) -> None:
        """The next `count` jobs of `job_type` (for `target`, a VM/host/checkpoint id or name)
        fail with `error_id` at their end, and/or run `seconds` long."""
        if job_type not in DEFAULT_JOB_SECONDS:
            raise ValueError(f"unknown job type {job_type!r}")
        if error_id is None and seconds is None:
            raise ValueError("a fault needs an error_id, seconds or both")
        with self._lock:
            self.state["faults"].append({
                "job_type": job_type, "error_id": None if error_id is None else int(error_id), "count": int(count),
                "target": (norm_id(target) or _fold(target)) if target else None,
                "seconds": None if seconds is None else float(seconds), "message": message,
            })
            self._dirty = True
            self._commit()

    def set_update_faults(self, host, *, fail_update: str | None = None, stuck_restart: bool | None = None) -> None:
        """Faults of the next remediations of `host` (name or id): the update with KB article
        `fail_update` fails to install (None clears it), the restart never completes
        (`stuck_restart`; clearing it lets a hung restart finish)."""
        with self._lock:
            hid = self._host_by_name.get(_fold(host)) or norm_id(host)
            if hid not in self.state["hosts"]:
                raise ValueError(f"unknown host {host!r}")
            faults = self.state["update_faults"].setdefault(hid, {})
            if fail_update is not None or "fail_update" in faults:
                faults["fail_update"] = str(fail_update).upper().removeprefix("KB") if fail_update else None
            if stuck_restart is not None:
                faults["stuck_restart"] = bool(stuck_restart)
            self._dirty = True
            self._advance()
            self._commit()

    def configure_jump_box(self, username: str | None = None, password: str | None = None) -> None:
        """Make the endpoint a jump box: no VMM service on it (connecting to localhost fails), and the
        VMM server reachable only with an explicit credential (the double hop), checked against
        `username`/`password` when given. None turns the jump box off again."""
        with self._lock:
            self.state["jump_box"] = {"credentials": {"username": username, "password": password}
                                      if username else None}
            self._dirty = True
            self._commit()

    def clear_faults(self) -> None:
        with self._lock:
            self.state["faults"] = []
            self._dirty = True
            self._commit()

    def set_job_seconds(self, job_type: str, seconds: float) -> None:
        if job_type not in DEFAULT_JOB_SECONDS:
            raise ValueError(f"unknown job type {job_type!r}")
        with self._lock:
            self.state["job_seconds"][job_type] = float(seconds)
            self._dirty = True
            self._commit()

    # --- views (the JSON contract of the catalogue) ----------------------------------------------
    def _host_view(self, h: dict) -> dict:
        on_host = [v for v in self.state["vms"].values() if v["host"] == h["id"]]
        running = sum(1 for v in on_host if v["status"] == "Running")
        return {
            "id": h["id"],
            "name": h["name"],
            "computer_name": h["computer_name"],
            "cluster": h["cluster"],
            # States saved before host groups were modelled have none: the root, as on a fresh VMM.
            "host_group": h.get("host_group") or ROOT_HOST_GROUP,
            "overall_state": MAINTENANCE_STATE if h["in_maintenance"] else NORMAL_STATE,
            "in_maintenance": h["in_maintenance"],
            "available_for_placement": h["available_for_placement"],
            "total_memory_mb": h["total_memory_mb"],
            "available_memory_mb": self._available_mb(h),
            "running_vm_count": running,
            "vm_count": len(on_host),
        }

    def _vm_view(self, vm: dict) -> dict:
        host = self.state["hosts"].get(vm["host"])
        custom = vm["custom"]
        legacy = [f"Custom{i}" for i in range(1, 11)]
        props = {k: custom[k] for k in legacy if custom.get(k) not in (None, "")}
        props.update({k: custom[k] for k in sorted(custom, key=_fold) if k not in props and custom[k] not in (None, "")})
        return {
            "id": vm["id"],
            "name": vm["name"],
            "computer_name": vm["computer_name"],
            "status": vm["status"],
            "host": host["name"] if host else None,
            "cluster": host["cluster"] if host else None,
            "is_highly_available": vm["ha"],
            "memory_mb": vm["memory_mb"],
            "custom_properties": {k: str(v) for k, v in props.items()},
            "last_restored_checkpoint_id": vm["last_restored_checkpoint_id"],
        }

    @staticmethod
    def _checkpoint_view(cp: dict) -> dict:
        return {"id": cp["id"], "name": cp["name"], "description": cp["description"],
                "parent_id": cp["parent_id"], "added_time": iso(cp["added_time"])}

    def _job_view(self, job: dict) -> dict:
        now = self.clock()
        if job["status"] == "Running":
            if job["end"] is None or job["duration"] <= 0:
                progress = 0 if job["end"] is None else 99
            else:
                progress = min(99, int(100 * (now - job["start"]) / job["duration"]))
        else:
            progress = job["progress"]
        error = None
        if job["status"] == "Failed":
            error = {"id": job["error"]["id"], "message": job["error"]["problem"],
                     "recommended_action": job["error"]["recommended_action"]}
        return {
            "id": job["id"],
            "name": job["name"],
            "status": job["status"],
            "is_completed": job["status"] != "Running",
            "progress": max(0, progress),
            "result_name": job["result_name"],
            "start_time": iso(job["start"]),
            "end_time": iso(job.get("finished")),
            "error": error,
        }

    def _compliance_view(self, target: str, baseline_name: str) -> dict:
        """vmm.compliance_list for one host: Get-SCComplianceStatus narrowed to one baseline."""
        view = {"host": target, "host_name": None, "host_id": None, "baseline": baseline_name, "baseline_id": None,
                "assigned": False, "compliance": None, "overall_compliance": None, "pending": None,
                "communication_state": None, "updates": [], "error": None}
        hid = self._host_by_name.get(_fold(target))
        baseline = self._baseline(baseline_name)
        if hid is None or baseline is None:
            view["error"] = "not_found" if hid is None else "baseline_not_found"
            return view
        host = self.state["hosts"][hid]
        record = self._host_updates(hid)
        phase = self._phase(hid)
        pending = phase or (PENDING_REBOOT if record["restart_pending"] else "")
        view.update(host_name=host["name"], host_id=hid, baseline_id=baseline["id"], pending=pending,
                    communication_state=NOT_RESPONDING if phase == PENDING_RESTART else RESPONDING)
        levels = {}
        for other in self.state["baselines"].values():
            if self._assigned(other, host):
                states = [record["status"].get(u, UNKNOWN) for u in other["updates"]]
                levels[other["id"]] = (states, _level(states))
        view["overall_compliance"] = _level([lv for _, lv in levels.values()]) if levels else UNKNOWN
        if baseline["id"] in levels:
            states, level = levels[baseline["id"]]
            view["assigned"] = True
            view["compliance"] = level
            view["updates"] = [{"id": uid, "kb": self.state["updates"][uid]["kb"],
                                "title": self.state["updates"][uid]["title"], "status": st}
                               for uid, st in zip(baseline["updates"], states, strict=True)]
        return view

    def _baseline(self, name: str) -> dict | None:
        for b in sorted(self.state["baselines"].values(), key=lambda b: b["id"]):
            if _fold(b["name"]) == _fold(name):
                return b
        return None

    # --- reads --------------------------------------------------------------------------------
    def _read(self, fn):
        with self._lock:
            self._advance()
            try:
                return fn()
            finally:
                self._commit()

    def server_name(self) -> str:
        return self.state["server"]

    def list_vms(self, ids=None, names=None, hosts=None, clusters=None, statuses=None,
                 custom_name: str | None = None, custom_value: str | None = None) -> list[dict]:
        """vmm.vm_list: by ids (in the order asked, unknown ids skipped) or all VMs, then every
        given filter (AND; strings compare case-insensitively)."""
        def run():
            vms = self.state["vms"]
            if ids:
                chosen = [vms[i] for i in (norm_id(x) for x in ids) if i in vms]
            else:
                chosen = sorted(vms.values(), key=lambda v: (_fold(v["name"]), v["id"]))
            name_set = {_fold(n) for n in names or ()}
            host_set = {_fold(n) for n in hosts or ()}
            cluster_set = {_fold(n) for n in clusters or ()}
            status_set = {_fold(n) for n in statuses or ()}
            out = []
            for vm in chosen:
                view = self._vm_view(vm)
                host = self.state["hosts"].get(vm["host"])
                if name_set and _fold(vm["name"]) not in name_set:
                    continue
                if host_set and not (host and (_fold(host["name"]) in host_set or _fold(host["computer_name"]) in host_set)):
                    continue
                if cluster_set and not (host and host["cluster"] and _fold(host["cluster"]) in cluster_set):
                    continue
                if status_set and _fold(vm["status"]) not in status_set:
                    continue
                if custom_name:
                    found = {_fold(k): v for k, v in view["custom_properties"].items()}.get(_fold(custom_name))
                    if found is None or (custom_value and _fold(found) != _fold(custom_value)):
                        continue
                out.append(view)
            return out
        return self._read(run)

    def get_vm(self, vm_id) -> dict | None:
        """The stored record (a copy), including simulator-only fields."""
        return self._read(lambda: copy.deepcopy(self.state["vms"].get(norm_id(vm_id))))

    def vms_named(self, name: str) -> list[dict]:
        return self._read(lambda: [copy.deepcopy(v) for v in self.state["vms"].values() if _fold(v["name"]) == _fold(name)])

    def list_hosts(self, names=None, clusters=None) -> list[dict]:
        """vmm.host_list: a host matches by name (FQDN) or computer name."""
        def run():
            name_set = {_fold(n) for n in names or ()}
            cluster_set = {_fold(n) for n in clusters or ()}
            out = []
            for h in sorted(self.state["hosts"].values(), key=lambda h: _fold(h["name"])):
                if name_set and _fold(h["name"]) not in name_set and _fold(h["computer_name"]) not in name_set:
                    continue
                if cluster_set and not (h["cluster"] and _fold(h["cluster"]) in cluster_set):
                    continue
                out.append(self._host_view(h))
            return out
        return self._read(run)

    def list_checkpoints(self, vm_id) -> list[dict] | None:
        """Checkpoints of one VM, oldest first; None when the VM does not exist."""
        def run():
            vid = norm_id(vm_id)
            if vid not in self.state["vms"]:
                return None
            cps = [c for c in self.state["checkpoints"].values() if c["vm_id"] == vid]
            return [self._checkpoint_view(c) for c in sorted(cps, key=lambda c: (c["added_time"], c["id"]))]
        return self._read(run)

    def get_checkpoint(self, checkpoint_id) -> dict | None:
        return self._read(lambda: copy.deepcopy(self.state["checkpoints"].get(norm_id(checkpoint_id))))

    def get_job(self, job_id) -> dict | None:
        """The job's view, or None when VMM does not know it."""
        def run():
            job = self.state["jobs"].get(norm_id(job_id))
            return None if job is None else self._job_view(job)
        return self._read(run)

    def get_jobs(self, ids) -> list[dict | None]:
        """get_job for many ids under one lock."""
        def run():
            out = []
            for i in ids:
                job = self.state["jobs"].get(norm_id(i))
                out.append(None if job is None else self._job_view(job))
            return out
        return self._read(run)

    def job_record(self, job_id) -> dict | None:
        """The stored job (a copy) with simulator details such as a maintenance job's result."""
        return self._read(lambda: copy.deepcopy(self.state["jobs"].get(norm_id(job_id))))

    def list_jobs(self, newest: int = 0) -> list[dict]:
        """The newest `newest` jobs (newest first), or the running ones when newest is 0."""
        def run():
            jobs = sorted(self.state["jobs"].values(), key=lambda j: j["seq"], reverse=True)
            if newest > 0:
                return [self._job_view(j) for j in jobs[:newest]]
            return [self._job_view(j) for j in jobs if j["status"] == "Running"]
        return self._read(run)

    def wait_jobs(self, ids, timeout: float, poll: float, sleep=None) -> list[dict | None]:
        """Poll like vmm.job_wait: until every known job is completed or `timeout` passes.
        `sleep(seconds)` returning False stops early (a stopped pipeline)."""
        if sleep is None:
            def sleep(seconds):
                time.sleep(seconds)
                return True
        deadline = time.monotonic() + max(0.0, float(timeout))
        while True:
            views = self.get_jobs(ids)
            left = deadline - time.monotonic()
            if all(v is None or v["is_completed"] for v in views) or left <= 0:
                return views
            if sleep(max(0.0, min(float(poll), left))) is False:
                return views

    # --- writes -------------------------------------------------------------------------------
    def _write(self, fn):
        with self._lock:
            self._advance()
            try:
                return fn()
            finally:
                self._commit()

    def vm_action(self, vm_ids, action: str) -> list[dict]:
        """vmm.vm_power: one job per VM; unknown VMs are reported (801), not started."""
        action = action.lower()
        if action not in POWER_JOBS:
            raise ValueError(f"unknown action {action!r}")

        def run():
            out = []
            for raw in vm_ids:
                vid = norm_id(raw)
                vm = self.state["vms"].get(vid)
                if vm is None:
                    out.append({"vm_id": vid or str(raw), "job_id": None, "error": "not_found"})
                    continue
                hang = action == "shutdown" and vm.get("shutdown") == "hang" and vm["status"] == "Running"
                job = self._new_job(action, "vm", vid, vm["name"], hang=hang)
                out.append({"vm_id": vid, "job_id": job["id"], "error": None})
            return out
        return self._write(run)

    def checkpoint_new(self, vm_ids, name: str, description: str = "") -> list[dict]:
        def run():
            out = []
            for raw in vm_ids:
                vid = norm_id(raw)
                vm = self.state["vms"].get(vid)
                if vm is None:
                    out.append({"vm_id": vid or str(raw), "job_id": None, "error": "not_found"})
                    continue
                job = self._new_job("checkpoint_new", "vm", vid, vm["name"], {"name": name, "description": description})
                out.append({"vm_id": vid, "job_id": job["id"], "error": None})
            return out
        return self._write(run)

    def _checkpoint_jobs(self, job_type: str, checkpoint_ids) -> list[dict]:
        def run():
            out = []
            for raw in checkpoint_ids:
                cid = norm_id(raw)
                cp = self.state["checkpoints"].get(cid)
                if cp is None:
                    out.append({"checkpoint_id": cid or str(raw), "vm_id": None, "job_id": None, "error": "not_found"})
                    continue
                job = self._new_job(job_type, "checkpoint", cid, cp["name"])
                out.append({"checkpoint_id": cid, "vm_id": cp["vm_id"], "job_id": job["id"], "error": None})
            return out
        return self._write(run)

    def checkpoint_remove(self, checkpoint_ids) -> list[dict]:
        return self._checkpoint_jobs("checkpoint_remove", checkpoint_ids)

    def checkpoint_restore(self, checkpoint_ids) -> list[dict]:
        return self._checkpoint_jobs("checkpoint_restore", checkpoint_ids)

    def host_maintenance(self, names, action: str, move_within_cluster: bool = False) -> list[dict]:
        """vmm.host_maintenance: Disable-SCVMHost / Enable-SCVMHost as jobs."""
        action = action.lower()
        if action not in ("disable", "enable"):
            raise ValueError(f"unknown action {action!r}")

        def run():
            out = []
            for name in names:
                hid = self._host_by_name.get(_fold(name))
                if hid is None:
                    out.append({"host": name, "host_id": None, "job_id": None, "error": "not_found"})
                    continue
                host = self.state["hosts"][hid]
                job = self._new_job("host_" + action, "host", hid, host["name"],
                                    {"move_within_cluster": bool(move_within_cluster)})
                out.append({"host": name, "host_id": hid, "job_id": job["id"], "error": None})
            return out
        return self._write(run)

    def vm_migrate(self, vm_ids, host_name: str) -> list[dict]:
        """vmm.vm_migrate: Move-SCVirtualMachine of each VM to one host, a job per VM. Unknown VMs and hosts
        are reported (801); a placement the cmdlet refuses is reported with its text, no job started."""
        def run():
            hid = self._host_by_name.get(_fold(host_name))
            target = self.state["hosts"].get(hid) if hid else None
            out = []
            for raw in vm_ids:
                vid = norm_id(raw)
                vm = self.state["vms"].get(vid)
                item = {"vm_id": vid or str(raw), "from": None, "job_id": None, "error": None}
                out.append(item)
                if target is None:
                    item["error"] = "host_not_found"
                    continue
                if vm is None:
                    item["error"] = "not_found"
                    continue
                source = self.state["hosts"].get(vm["host"])
                item["from"] = source["name"] if source else None
                refusal = self._migration_refusal(vm, target)
                if refusal:
                    item["error"] = {"id": ERROR_PLACEMENT, "message": refusal}
                    continue
                job = self._new_job("vm_migrate", "vm", vid, vm["name"], {"host_id": target["id"]})
                item["job_id"] = job["id"]
            return out
        return self._write(run)

    def compliance(self, names, baseline_name: str) -> list[dict]:
        """vmm.compliance_list: one entry per name, in the order asked; errors per entry."""
        return self._read(lambda: [self._compliance_view(n, baseline_name) for n in names])

    def _baseline_jobs(self, names, baseline_name: str, start) -> list[dict]:
        def run():
            out = []
            baseline = self._baseline(baseline_name)
            for name in names:
                hid = self._host_by_name.get(_fold(name))
                if hid is None or baseline is None:
                    error = "not_found" if hid is None else "baseline_not_found"
                    out.append({"host": name, "host_id": None, "job_id": None, "error": error})
                    continue
                job = start(self.state["hosts"][hid], baseline)
                out.append({"host": name, "host_id": hid, "job_id": job["id"], "error": None})
            return out
        return self._write(run)

    def compliance_scan(self, names, baseline_name: str) -> list[dict]:
        """vmm.compliance_scan: Start-SCComplianceScan per host, as jobs."""
        return self._baseline_jobs(names, baseline_name, lambda host, baseline: self._new_job(
            "compliance_scan", "host", host["id"], host["name"], {"baseline_id": baseline["id"]}))

    def update_remediate(self, names, baseline_name: str, suspend_reboot: bool = False) -> list[dict]:
        """vmm.update_remediate: Start-SCUpdateRemediation per host, as jobs. The job installs what
        the host misses now (one update per `update_remediate` seconds), then restarts the host."""
        def start(host, baseline):
            updates = self._missing(baseline, host["id"]) if self._assigned(baseline, host) else []
            faults = self.state["update_faults"].get(host["id"], {})
            fails = next((u for u in updates if self.state["updates"][u]["kb"] == faults.get("fail_update")), None)
            if fails is not None:
                updates = updates[:updates.index(fails) + 1]
            restart = bool(updates) and fails is None and not suspend_reboot and any(
                self.state["updates"][u]["reboot"] for u in updates)
            per_update = float(self.state["job_seconds"].get("update_remediate", 1.0))
            install = per_update * max(1, len(updates))
            total = install + (float(self.state["job_seconds"].get("update_restart", 1.0)) if restart else 0.0)
            args = {"baseline_id": baseline["id"], "suspend_reboot": bool(suspend_reboot), "updates": updates,
                    "fails": fails, "restart": restart, "install_end": self.clock() + install}
            return self._new_job("update_remediate", "host", host["id"], host["name"], args, seconds=total,
                                 hang=restart and bool(faults.get("stuck_restart")))
        return self._baseline_jobs(names, baseline_name, start)

    # --- direct changes for tests and labs (no job) ---------------------------------------------
    def update_vm(self, vm_id, **changes) -> dict:
        """Set stored VM fields directly (status, host, custom, shutdown...)."""
        def run():
            vm = self.state["vms"][norm_id(vm_id)]
            if "status" in changes and changes["status"] not in STATUSES:
                raise ValueError(f"unknown status {changes['status']!r}")
            if "host" in changes:
                changes["host"] = self._host_by_name.get(_fold(changes["host"]), changes["host"])
            vm.update(changes)
            self._dirty = True
            return copy.deepcopy(vm)
        return self._write(run)


def _level(states: list[str]) -> str:
    """A baseline's (or a computer's overall) state from its parts: compliant when every part is,
    Error when one failed, NonCompliant when one is missing, else Unknown (never scanned)."""
    if states and all(s == COMPLIANT for s in states):
        return COMPLIANT
    for worst in (ERROR_STATE, NON_COMPLIANT):
        if worst in states:
            return worst
    return UNKNOWN


# --- lab description -> state ----------------------------------------------------------------

_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


def _age_seconds(value) -> float:
    if value is None:
        return 0.0
    m = _AGE.match(str(value))
    if not m:
        raise ValueError(f"bad age {value!r} (use e.g. 30m, 6h, 2d)")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def _fqdn(name: str, domain: str) -> str:
    name = str(name)
    return name if "." in name or not domain else f"{name}.{domain}"


def host_group_path(value) -> str:
    """A host group path under the root: "Production" and "All Hosts\\Production" name the same group."""
    parts = [p.strip() for p in re.split(r"[\\/]", str(value or "")) if p.strip()]
    if parts and parts[0].casefold() == ROOT_HOST_GROUP.casefold():
        parts = parts[1:]
    return "\\".join([ROOT_HOST_GROUP] + parts)


def _memory_mb(spec: dict, default_mb: int) -> int:
    if "memory_gb" in spec:
        return int(float(spec["memory_gb"]) * 1024)
    return int(spec.get("memory_mb", default_mb))


def generate_batch(count: int, batch, *, prefix: str | None = None, cluster: str | None = None,
                   hosts: list[str] | None = None, prop: str = "Custom1", running_every: int = 5,
                   non_ha_every: int = 7, memory_mb: int = 2048, start: int = 1) -> list[dict]:
    """`count` VM specs tagged `prop=batch` (Custom1 by default), spread round-robin over the
    nodes of `cluster` (or `hosts`). Every `running_every`-th VM is powered off and every
    `non_ha_every`-th is not highly available (0 turns either off), so a batch has both kinds."""
    prefix = prefix if prefix is not None else f"batch{batch}-vm"
    out = []
    for n in range(start, start + count):
        off = running_every and n % running_every == 0
        non_ha = non_ha_every and n % non_ha_every == 0
        spec = {"name": f"{prefix}{n:04d}", "status": "PowerOff" if off else "Running", "memory_mb": memory_mb,
                "ha": not non_ha, "custom": {prop: str(batch)}}
        if cluster:
            spec["cluster"] = cluster
        if hosts:
            spec["host"] = hosts[(n - start) % len(hosts)]
        out.append(spec)
    return out


def batch_lab(count: int = 500, batch="42", *, nodes: int = 4, node_memory_gb: int = 1024, **kwargs) -> dict:
    """A lab description for benchmarks: one cluster of `nodes` nodes, one stand-alone host and
    a batch of `count` VMs (plus a few VMs of another batch)."""
    return {
        "vmm": {
            "server": "vmm01.lab.local",
            "domain": "lab.local",
            "clusters": {"hvc-bench": {"nodes": {f"hv-bench-{i:02d}": {"memory_gb": node_memory_gb}
                                                 for i in range(1, nodes + 1)}}},
            "hosts": {"hv-bench-sa01": {"memory_gb": 256}},
            "vms": [],
            "batches": [dict(kwargs, count=count, batch=batch, cluster="hvc-bench"),
                        {"count": 5, "batch": "other", "host": "hv-bench-sa01", "non_ha_every": 1}],
        },
        "scom": {"management_group": "LAB-MG"},
    }


def seed_state(description: dict, now: float) -> dict:
    """A fresh VMM state from a lab description (see labs/default.yml for the schema)."""
    d = description.get("vmm", description) or {}
    domain = d.get("domain", "lab.local")
    state = {
        "version": STATE_VERSION,
        "server": _fqdn(d.get("server", "vmm01"), domain),
        "aliases": [str(a) for a in d.get("aliases") or []],
        # The endpoint is a jump box, not the VMM server: see VmmModel.configure_jump_box.
        "jump_box": d.get("jump_box"),
        "job_seconds": dict(DEFAULT_JOB_SECONDS, **{k: float(v) for k, v in (d.get("job_seconds") or {}).items()}),
        "clusters": {},
        "hosts": {},
        "vms": {},
        "checkpoints": {},
        "jobs": {},
        "faults": [],
        "seq": 0,
        "baselines": {},
        "updates": {},
        "compliance": {},
        "update_faults": {},
    }
    by_name: dict[str, dict] = {}

    def add_host(name: str, spec: dict | None, cluster: str | None, host_group: str | None) -> None:
        spec = spec or {}
        fqdn = _fqdn(name, domain)
        host = {
            "id": str(uuid.uuid5(NAMESPACE, f"host/{fqdn.lower()}")),
            "name": fqdn,
            "computer_name": fqdn.split(".")[0],
            "cluster": cluster,
            # A cluster's nodes sit in the cluster's host group.
            "host_group": host_group_path(host_group if cluster else spec.get("host_group")),
            "total_memory_mb": _memory_mb(spec, 262144),
            "reserve_mb": int(spec.get("reserve_mb", 2048)),
            "available_for_placement": bool(spec.get("available_for_placement", True)),
            "in_maintenance": bool(spec.get("in_maintenance", False)),
        }
        if _fold(fqdn) in by_name:
            raise ValueError(f"host {fqdn} is described twice")
        state["hosts"][host["id"]] = host
        by_name[_fold(fqdn)] = by_name[_fold(host["computer_name"])] = host

    for cname, cspec in (d.get("clusters") or {}).items():
        cfqdn = _fqdn(cname, domain)
        nodes = (cspec or {}).get("nodes") or {}
        if isinstance(nodes, list):
            nodes = {n: {} for n in nodes}
        state["clusters"][cfqdn] = {"name": cfqdn, "nodes": [_fqdn(n, domain) for n in nodes]}
        for nname, nspec in nodes.items():
            add_host(nname, nspec, cfqdn, (cspec or {}).get("host_group"))
    for hname, hspec in (d.get("hosts") or {}).items():
        add_host(hname, hspec, None, None)

    _seed_baselines(state, d.get("baselines") or [], by_name, domain)

    specs = list(d.get("vms") or [])
    for b in d.get("batches") or []:
        b = dict(b)
        count, batch = int(b.pop("count")), b.pop("batch")
        if "property" in b:
            b["prop"] = b.pop("property")
        if "host" in b:
            b["hosts"] = [b.pop("host")]
        specs += generate_batch(count, batch, **b)

    cluster_rr: dict[str, int] = {}
    for index, spec in enumerate(specs):
        name = str(spec["name"])
        if spec.get("host"):
            host = by_name.get(_fold(_fqdn(spec["host"], domain))) or by_name.get(_fold(spec["host"]))
            if host is None:
                raise ValueError(f"VM {name}: unknown host {spec['host']!r}")
        elif spec.get("cluster"):
            cfqdn = _fqdn(spec["cluster"], domain)
            nodes = state["clusters"].get(cfqdn, {}).get("nodes")
            if not nodes:
                raise ValueError(f"VM {name}: unknown cluster {spec['cluster']!r}")
            i = cluster_rr.get(cfqdn, 0)
            cluster_rr[cfqdn] = i + 1
            host = by_name[_fold(nodes[i % len(nodes)])]
        else:
            raise ValueError(f"VM {name}: give a host or a cluster")
        ha = bool(spec.get("ha", spec.get("highly_available", host["cluster"] is not None)))
        if ha and host["cluster"] is None:
            raise ValueError(f"VM {name}: highly available VMs live on cluster nodes")
        status = spec.get("status", "Running")
        if status not in STATUSES:
            raise ValueError(f"VM {name}: unknown status {status!r}")
        vid = norm_id(spec["id"]) if spec.get("id") else str(uuid.uuid5(NAMESPACE, f"vm/{index}/{name}"))
        vm = {
            "id": vid,
            "name": name,
            "computer_name": spec.get("computer_name") or _fqdn(name.lower(), domain),
            "status": status,
            "host": host["id"],
            "ha": ha,
            "memory_mb": _memory_mb(spec, 4096),
            "custom": {str(k): str(v) for k, v in (spec.get("custom") or {}).items()},
            "current_checkpoint_id": None,
            "last_restored_checkpoint_id": None,
            "shutdown": spec.get("shutdown", "ok"),
        }
        state["vms"][vid] = vm
        for n, cps in enumerate(spec.get("checkpoints") or []):
            cp = {
                "id": str(uuid.uuid5(NAMESPACE, f"checkpoint/{vid}/{n}")),
                "vm_id": vid,
                "name": str(cps["name"]),
                "description": str(cps.get("description", "")),
                "parent_id": vm["current_checkpoint_id"],
                "added_time": now - _age_seconds(cps.get("age")),
                "vm_status": cps.get("vm_status", "PowerOff"),
            }
            state["checkpoints"][cp["id"]] = cp
            vm["current_checkpoint_id"] = cp["id"]
    return state


def _seed_baselines(state: dict, baselines: list, by_name: dict, domain: str) -> None:
    """Baselines with their updates and assignment scope; every host in scope has been scanned, and
    has the updates of `compliant` hosts installed (the others miss them all)."""
    def host_id(name):
        host = by_name.get(_fold(_fqdn(name, domain))) or by_name.get(_fold(name))
        if host is None:
            raise ValueError(f"baseline: unknown host {name!r}")
        return host["id"]

    for spec in baselines:
        name = str(spec["name"])
        bid = str(uuid.uuid5(NAMESPACE, f"baseline/{name.lower()}"))
        updates = []
        for u in spec.get("updates") or []:
            kb = str(u["kb"]).upper().removeprefix("KB")
            uid = str(uuid.uuid5(NAMESPACE, f"update/{kb}"))
            state["updates"][uid] = {"id": uid, "kb": kb, "title": str(u.get("title") or f"KB{kb}"),
                                     "reboot": bool(u.get("reboot", True))}
            updates.append(uid)
        clusters, hosts = [], []
        for target in spec.get("scope") or []:
            cfqdn = _fqdn(target, domain)
            if cfqdn in state["clusters"]:
                clusters.append(cfqdn)
            else:
                hosts.append(host_id(target))
        baseline = {"id": bid, "name": name, "description": str(spec.get("description", "")), "updates": updates,
                    "clusters": clusters, "hosts": hosts}
        state["baselines"][bid] = baseline
        compliant = {host_id(h) for h in spec.get("compliant") or []}
        for host in state["hosts"].values():
            if host["id"] not in hosts and host["cluster"] not in clusters:
                continue
            record = state["compliance"].setdefault(host["id"], {"installed": [], "status": {},
                                                                 "restart_pending": False})
            for uid in updates:
                if host["id"] in compliant and uid not in record["installed"]:
                    record["installed"].append(uid)
                record["status"][uid] = COMPLIANT if uid in record["installed"] else NON_COMPLIANT


def load_description(path_or_dict=None) -> dict:
    """A lab description from a dict, a YAML file, or the default lab."""
    if isinstance(path_or_dict, dict):
        return path_or_dict
    import yaml

    path = Path(path_or_dict) if path_or_dict else Path(__file__).parent / "labs" / "default.yml"
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh) or {}
