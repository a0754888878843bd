"""checkpoint_batch against a per-VM task loop over the same modules, on a simulated 500-VM batch.

The VMM/SCOM lab is the WS-Man/PSRP simulator (HTTPS with the lab CA, Basic authentication) with
``batch_lab``: a four-node cluster holding batch 42 (500 VMs, four in five running) and batch 43
(50 VMs) for the pipeline comparison. Every VMM job takes the same simulated time (JOB_SECONDS) in
both runs. Both playbooks run through ansible-playbook as a user would, so module start-up,
session set-up and job waits all count. The PowerShell pipelines come from the simulator's counters.

The per-VM loop costs about a second per module run, over half an hour for 500 VMs, so by default
it runs over the first SAMPLE VMs of the 500-VM batch and once over none (its fixed part: finding
the batch); its time for 500 VMs is the fixed part plus 500 times the measured per-VM part. Every
VM is handled by the same sequence of tasks, one after the other, so the loop's time is linear in
the number of VMs. VMOPS_BENCH_FULL=1 runs the loop over all 500 VMs instead.

Targets: checkpoint_batch at least 10 times faster than the per-VM loop on the 500-VM batch, and
the same number of pipelines for 50 and for 500 VMs (up to job polls, which follow time, not size).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulators.pki import ensure_lab_ca  # noqa: E402
from simulators.psrp import Dispatcher, PsrpServer, handlers, scom_model, vmm_model  # noqa: E402

COLLECTIONS = ROOT / ".tmp" / "collections"
PLAYBOOK = ROOT / "playbooks" / "checkpoint_batch.yml"
JOB_SECONDS = 0.2
POLL = 0.5
SPEED_TARGET = 10.0
SAMPLE = 50
# Polls of job waits are the only pipelines that may differ between batch sizes.
POLL_OPS = {"vmm.job_wait", "vmm.job_get"}

NAIVE = """
- name: Checkpoint a batch, one task per VM
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/vmops.datacenter.vmm: "{{ connection }}"
    group/vmops.datacenter.scom: "{{ connection }}"
  tasks:
    - name: Find the batch
      vmops.datacenter.vmm_vm_info:
        custom_property_name: Custom1
        custom_property_value: "{{ batch }}"
      register: found
    - name: Remember the VMs (the first `sample` of the batch) and the running ones among them
      ansible.builtin.set_fact:
        vms: "{{ found.vms[:sample | int] }}"
        running: "{{ found.vms[:sample | int] | selectattr('status', 'equalto', 'Running') | list }}"
    - name: Maintenance mode, one VM at a time
      vmops.datacenter.scom_maintenance:
        objects: ["{{ item.computer_name }}"]
        duration: 240
      loop: "{{ running }}"
    - name: Stop, one VM at a time
      vmops.datacenter.vmm_vm_power:
        vms: ["{{ item.id }}"]
        state: stopped
        poll_interval: "{{ poll }}"
      loop: "{{ running }}"
    - name: Checkpoint, one VM at a time
      vmops.datacenter.vmm_checkpoint:
        vms: ["{{ item.id }}"]
        name: "{{ checkpoint }}"
        poll_interval: "{{ poll }}"
      loop: "{{ vms }}"
    - name: Start, one VM at a time
      vmops.datacenter.vmm_vm_power:
        vms: ["{{ item.id }}"]
        state: running
        poll_interval: "{{ poll }}"
      loop: "{{ running }}"
    - name: End maintenance mode, one VM at a time
      vmops.datacenter.scom_maintenance:
        objects: ["{{ item.computer_name }}"]
        state: absent
      loop: "{{ running }}"
"""


def lab_description():
    description = vmm_model.batch_lab(500, "42")
    description["vmm"]["batches"].append({"count": 50, "batch": "43", "cluster": "hvc-bench", "prefix": "b43-vm"})
    description["vmm"]["job_seconds"] = {kind: JOB_SECONDS for kind in vmm_model.DEFAULT_JOB_SECONDS}
    return description


class Lab:
    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.pki = ensure_lab_ca(workdir / "pki")
        description = lab_description()
        self.vmm = vmm_model.VmmModel(workdir / "psrp", description)
        self.scom = scom_model.ScomModel(workdir / "psrp", description)
        dispatcher = Dispatcher()
        handlers.register_all(dispatcher, self.vmm, self.scom)
        self.server = PsrpServer(dispatcher=dispatcher, pki=self.pki)
        self.connection = dict(server="localhost", port=None, ssl=True, auth="basic", encryption="auto",
                               username=self.server.username, password=self.server.password,
                               ca_path=str(self.pki.ca_path))

    def __enter__(self):
        self.server.start()
        self.connection["port"] = self.server.port
        return self

    def __exit__(self, *exc):
        self.server.stop()

    def playbook(self, path, extra):
        vars_file = self.workdir / ("vars-%d.yml" % time.monotonic_ns())
        # Both runs without progress lines: the per-VM loop would otherwise pay an async start per task.
        vars_file.write_text(yaml.safe_dump(dict(extra, vmops_progress=False)))
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS), ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
                   VMOPS_AUDIT_DIR=str(self.workdir / "audit"), ANSIBLE_LOCAL_TEMP=str(self.workdir / "tmp"))
        before = self.server.stats()["pipelines_by_op"]
        started = time.monotonic()
        completed = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), str(path), "-e",
                                    "@%s" % vars_file], env=env, capture_output=True, text=True, check=False)
        elapsed = time.monotonic() - started
        after = self.server.stats()["pipelines_by_op"]
        pipelines = {op: after.get(op, 0) - before.get(op, 0) for op in after if after.get(op, 0) != before.get(op, 0)}
        if completed.returncode != 0:
            print((completed.stdout + completed.stderr)[-3000:])
        return completed.returncode == 0, elapsed, pipelines

    def checkpoints_named(self, batch, name):
        vms = self.vmm.list_vms(custom_name="Custom1", custom_value=batch)
        return sum(1 for vm in vms if any(c["name"] == name for c in self.vmm.list_checkpoints(vm["id"]))), len(vms)


def main():
    subprocess.run([sys.executable, str(ROOT / "tests" / "harness" / "stage_collection.py"), "link"], check=True,
                   capture_output=True)
    failures = 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="vmops-bench-vmm-") as tmp, Lab(Path(tmp)) as lab:
        runbook = dict(checkpoint_batch_vmm_connection=lab.connection, checkpoint_batch_poll_interval=POLL)
        results = {}
        for batch, label in (("43", "checkpoint_batch, 50 VMs"), ("42", "checkpoint_batch, 500 VMs")):
            ok, elapsed, pipelines = lab.playbook(PLAYBOOK, dict(runbook, checkpoint_batch_value=batch,
                                                                 checkpoint_batch_checkpoint_name="bench"))
            done, total = lab.checkpoints_named(batch, "bench")
            failures += 0 if ok and done == total else 1
            results[batch] = (elapsed, pipelines)
            rows.append((label, total, done, elapsed, sum(pipelines.values())))
        naive_file = Path(tmp) / "naive.yml"
        naive_file.write_text(NAIVE)
        full = os.environ.get("VMOPS_BENCH_FULL") == "1"
        runs = [("per-VM task loop, 500 VMs", 500)] if full else [
            ("per-VM loop, fixed part", 0), ("per-VM loop, %d of the 500" % SAMPLE, SAMPLE)]
        loop_times = {}
        for label, sample in runs:
            ok, elapsed, pipelines = lab.playbook(naive_file, dict(connection=lab.connection, batch="42",
                                                                   checkpoint="naive-%d" % sample, poll=POLL,
                                                                   sample=sample))
            done, _total = lab.checkpoints_named("42", "naive-%d" % sample)
            failures += 0 if ok and done == sample else 1
            loop_times[sample] = elapsed
            rows.append((label, sample, done, elapsed, sum(pipelines.values())))
        if full:
            naive_elapsed = loop_times[500]
        else:
            per_vm = (loop_times[SAMPLE] - loop_times[0]) / SAMPLE
            naive_elapsed = loop_times[0] + 500 * per_vm
            rows.append(("per-VM loop, 500 (linear)", 500, None, naive_elapsed, None))

    print("\ncheckpoint_batch against a per-VM task loop (PSRP simulator, every VMM job %.1f s, polls every %.1f s)"
          % (JOB_SECONDS, POLL))
    print("%-28s %6s %13s %10s %10s" % ("run", "VMs", "checkpointed", "wall s", "pipelines"))
    for label, total, done, elapsed, pipelines in rows:
        print("%-28s %6d %13s %10.1f %10s" % (label, total, "-" if done is None else done, elapsed,
                                             "-" if pipelines is None else pipelines))
    fast = results["42"][0]
    ratio = naive_elapsed / fast if fast else 0.0
    small = {op: n for op, n in results["43"][1].items() if op not in POLL_OPS}
    large = {op: n for op, n in results["42"][1].items() if op not in POLL_OPS}
    flat = small == large
    print("\n500 VMs: checkpoint_batch %.1f s, per-VM loop %.1f s: %.1fx faster (target >= %.0fx): %s"
          % (fast, naive_elapsed, ratio, SPEED_TARGET, "met" if ratio >= SPEED_TARGET else "MISSED"))
    print("Pipelines other than job polls, 50 VMs %s, 500 VMs %s: %s"
          % (sum(small.values()), sum(large.values()), "the same" if flat else "DIFFERENT %s / %s" % (small, large)))
    failures += 0 if ratio >= SPEED_TARGET else 1
    failures += 0 if flat else 1
    return failures


if __name__ == "__main__":
    sys.exit(1 if main() else 0)
