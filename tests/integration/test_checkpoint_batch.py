# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checkpoint_batch runbook against the WS-Man/PSRP simulator's VMM and SCOM lab (batch 7 of the default lab:
twelve VMs on hvc-prod, Custom1 = "7", every fifth powered off)."""

from __future__ import annotations

import json
import threading
import time

from .conftest import ROOT

PLAYBOOK = ROOT / "playbooks" / "checkpoint_batch.yml"
BATCH = "7"


def batch_vms(vmm):
    return vmm.list_vms(custom_name="Custom1", custom_value=BATCH)


def statuses(vmm):
    return {vm["name"]: vm["status"] for vm in batch_vms(vmm)}


def checkpoint_names(vmm):
    return {vm["name"]: [c["name"] for c in vmm.list_checkpoints(vm["id"])] for vm in batch_vms(vmm)}


def run_vars(vmm_lab, **more):
    endpoint = vmm_lab.endpoint
    connection = {key: endpoint[key] for key in ("server", "port", "ssl", "auth", "encryption", "username", "password",
                                                 "ca_path")}
    data = dict(checkpoint_batch_value=BATCH, checkpoint_batch_vmm_connection=connection,
                checkpoint_batch_poll_interval=0.2, checkpoint_batch_report_file=str(vmm_lab.lab.workdir / "report.json"))
    data.update(more)
    return data


def flat(output):
    """Playbook output with the callback's line wrapping undone."""
    return " ".join(output.split())


def recap_changed(output):
    recap = output[output.rindex("PLAY RECAP"):]
    return sum(int(part.split("=")[1]) for part in recap.split() if part.startswith("changed="))


def audit(vmm_lab):
    path = vmm_lab.lab.workdir / "audit" / "checkpoint_batch.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def report(vmm_lab):
    return json.loads((vmm_lab.lab.workdir / "report.json").read_text())


def test_check_mode_plans_then_the_run_checkpoints_every_vm_and_a_rerun_changes_nothing(vmm_lab, ansible):
    vmm, scom = vmm_lab.server.vmm, vmm_lab.server.scom
    before = statuses(vmm)
    running = sorted(name for name, status in before.items() if status == "Running")
    assert len(before) == 12 and 0 < len(running) < 12

    planned = ansible(PLAYBOOK, run_vars(vmm_lab, checkpoint_batch_checkpoint_name="nightly"), check=True).assert_ok()
    assert "12 VMs, 12 to checkpoint as" in flat(planned.output)
    assert "%d running VMs go into SCOM maintenance" % len(running) in flat(planned.output)
    assert statuses(vmm) == before
    assert all(names == [] for names in checkpoint_names(vmm).values())
    assert scom.history() == []
    assert not (vmm_lab.lab.workdir / "report.json").exists(), "check mode writes no report file"

    first = ansible(PLAYBOOK, run_vars(vmm_lab, checkpoint_batch_checkpoint_name="nightly")).assert_ok()
    assert statuses(vmm) == before, "only the VMs that were running are started again"
    assert all(names == ["nightly"] for names in checkpoint_names(vmm).values())
    # Every running VM was stopped before its checkpoint: the checkpoint records the state it was taken in.
    for vm in batch_vms(vmm):
        (checkpoint,) = vmm.list_checkpoints(vm["id"])
        assert vmm.get_checkpoint(checkpoint["id"])["vm_status"] == ("PowerOff" if vm["name"] in running else before[vm["name"]]), vm["name"]
    windows = scom.history()
    assert sorted(w["display_name"].split(".")[0] for w in windows) == running
    assert {w["ended"] for w in windows} == {"stopped"}
    assert not any(o["in_maintenance"] for o in scom.list_objects())
    data = report(vmm_lab)
    assert len(data["vms"]) == 12 and data["failures"] == []
    assert {vm["checkpoint"] for vm in data["vms"]} == {"created"}
    assert all(vm["checkpoint_id"] for vm in data["vms"])
    assert sorted(vm["name"] for vm in data["vms"] if vm["stopped"]) == running
    steps = [(r["step"], r["result"]) for r in audit(vmm_lab)]
    assert steps == [("plan", "ok"), ("maintenance_start", "changed"), ("stop", "changed"), ("checkpoint", "changed"),
                     ("start", "changed"), ("maintenance_end", "changed"), ("end", "ok")]
    assert "12 of 12 VMs have" in flat(first.output)

    pipelines = vmm_lab.server.stats()["pipelines_by_op"]
    second = ansible(PLAYBOOK, run_vars(vmm_lab, checkpoint_batch_checkpoint_name="nightly")).assert_ok()
    assert recap_changed(second.output) == 0, second.tail()
    after = vmm_lab.server.stats()["pipelines_by_op"]
    assert after.get("vmm.vm_power", 0) == pipelines.get("vmm.vm_power", 0)
    assert after.get("vmm.checkpoint_new", 0) == pipelines.get("vmm.checkpoint_new", 0)
    assert after.get("scom.maintenance_start", 0) == pipelines.get("scom.maintenance_start", 0)
    assert all(names == ["nightly"] for names in checkpoint_names(vmm).values())


def test_a_failed_checkpoint_still_starts_every_stopped_vm_and_ends_maintenance(vmm_lab, ansible):
    vmm, scom = vmm_lab.server.vmm, vmm_lab.server.scom
    before = statuses(vmm)
    victim = next(vm for vm in batch_vms(vmm) if vm["status"] == "Running")
    vmm.inject_fault("checkpoint_new", 2912, target=victim["id"], message="The checkpoint operation failed.")

    result = ansible(PLAYBOOK, run_vars(vmm_lab, checkpoint_batch_checkpoint_name="nightly")).assert_failed()
    assert "failed at checkpoint" in flat(result.output), result.tail()
    assert statuses(vmm) == before
    assert not any(o["in_maintenance"] for o in scom.list_objects())
    data = report(vmm_lab)
    entry = next(vm for vm in data["vms"] if vm["id"] == victim["id"])
    assert entry["checkpoint"] == "not created" and entry["after"] == "Running"
    assert any("2912" in error for error in entry["errors"]), data
    steps = [(r["step"], r["result"]) for r in audit(vmm_lab)]
    assert ("checkpoint", "failed") in steps and ("start", "changed") in steps and ("end", "failed") in steps

    # The next run checkpoints only the VM that lacks the checkpoint, and stops only that one.
    ansible(PLAYBOOK, run_vars(vmm_lab, checkpoint_batch_checkpoint_name="nightly")).assert_ok()
    assert all(names == ["nightly"] for names in checkpoint_names(vmm).values())
    assert [vm["name"] for vm in report(vmm_lab)["vms"] if vm["stopped"]] == [victim["name"]]


def test_a_guest_that_ignores_shutdown_is_forced_off_after_the_timeout(vmm_lab, ansible):
    vmm = vmm_lab.server.vmm
    hung = next(vm for vm in batch_vms(vmm) if vm["status"] == "Running")
    vmm.update_vm(hung["id"], shutdown="hang")

    ansible(PLAYBOOK, run_vars(vmm_lab, checkpoint_batch_force_after=2)).assert_ok()
    entry = next(vm for vm in report(vmm_lab)["vms"] if vm["id"] == hung["id"])
    assert entry["forced"] is True and entry["after"] == "Running" and entry["checkpoint"] == "created"
    assert sum(vm["forced"] for vm in report(vmm_lab)["vms"]) == 1


def test_without_force_a_hung_guest_fails_the_run_and_the_others_are_started_again(vmm_lab, ansible):
    vmm = vmm_lab.server.vmm
    before = statuses(vmm)
    hung = next(vm for vm in batch_vms(vmm) if vm["status"] == "Running")
    vmm.update_vm(hung["id"], shutdown="hang")

    result = ansible(PLAYBOOK, run_vars(vmm_lab, checkpoint_batch_stop_timeout=2)).assert_failed()
    assert "failed at stop" in flat(result.output), result.tail()
    assert statuses(vmm) == before
    assert all(names == [] for names in checkpoint_names(vmm).values()), "no checkpoint without every VM stopped"


def test_a_window_someone_else_opened_is_left_open(vmm_lab, ansible):
    vmm, scom = vmm_lab.server.vmm, vmm_lab.server.scom
    running = next(vm for vm in batch_vms(vmm) if vm["status"] == "Running")
    (obj,) = scom.list_objects(display_names=[running["computer_name"]])
    scom.start([obj["id"]], time.time() + 6 * 3600, reason="PlannedHardwareMaintenance", comment="rack move")

    ansible(PLAYBOOK, run_vars(vmm_lab)).assert_ok()
    (obj,) = scom.list_objects(ids=[obj["id"]])
    assert obj["in_maintenance"] and obj["maintenance"]["comment"] == "rack move"
    entry = next(vm for vm in report(vmm_lab)["vms"] if vm["id"] == running["id"])
    assert entry["maintenance"] == "none" and entry["stopped"] is True


def test_windows_that_expire_during_the_run_are_reported(vmm_lab, ansible):
    vmm, scom = vmm_lab.server.vmm, vmm_lab.server.scom
    # Once the windows are open, SCOM's clock jumps two minutes ahead, past their one-minute end, while the
    # checkpoints still run.
    vmm.set_job_seconds("checkpoint_new", 2.0)
    jump = {"seconds": 0.0}
    scom.clock = lambda: time.time() + jump["seconds"]

    def advance_once_open():
        deadline = time.time() + 120
        while time.time() < deadline and not scom.state["active"]:
            time.sleep(0.05)
        jump["seconds"] = 120.0

    watcher = threading.Thread(target=advance_once_open, daemon=True)
    watcher.start()
    ansible(PLAYBOOK, run_vars(vmm_lab, checkpoint_batch_scom_duration=1)).assert_ok()
    watcher.join(5)
    data = report(vmm_lab)
    running = [vm["computer_name"] for vm in data["vms"] if vm["stopped"]]
    assert sorted(data["maintenance_expired"], key=str.lower) == sorted(running, key=str.lower)
    assert {w["ended"] for w in scom.history()} == {"expired"}
    assert any("windows had expired before the run ended" in (r.get("summary") or "") for r in audit(vmm_lab))


def test_unknown_batch_changes_nothing_and_says_why(vmm_lab, ansible):
    vmm = vmm_lab.server.vmm
    before = {vm["id"]: vm["status"] for vm in vmm.list_vms()}
    result = ansible(PLAYBOOK, run_vars(vmm_lab, checkpoint_batch_value="no-such-batch; Stop-VM *")).assert_failed()
    assert "No VM on vmm01.lab.local has Custom1 = no-such-batch; Stop-VM *" in flat(result.output), result.tail()
    assert {vm["id"]: vm["status"] for vm in vmm.list_vms()} == before
    assert vmm_lab.server.stats()["pipelines_by_op"].get("vmm.vm_power", 0) == 0


def test_password_never_appears_at_vvvv(vmm_lab, ansible):
    result = ansible(PLAYBOOK, run_vars(vmm_lab, checkpoint_batch_checkpoint_name="quiet"), verbosity=4).assert_ok()
    assert vmm_lab.server.password not in result.output
    assert "checkpoint_batch" in result.output
