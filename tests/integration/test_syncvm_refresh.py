# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The syncvm_refresh runbook end to end: real bytes on the simulated datastore, audit trail, faults."""

from __future__ import annotations

import json
import re

from .conftest import ROOT

PLAYBOOK = ROOT / "playbooks" / "syncvm_refresh.yml"
INVENTORY = ROOT / "inventories" / "lab"


def vms(state, name):
    return [v for v in state["vms"] if v["name"] == name and v["live"]]


def disk_sums(vm):
    return {d["name"]: d["sha256"] for d in vm["disks"]}


def latest_prod_snapshot(state):
    prod = [s for s in state["snapshots"] if s["vmName"] == "prod-sql01" and not s["deleted"]]
    return max(prod, key=lambda s: s["createTime"])


def audit(lab):
    path = lab.workdir / "audit" / "syncvm_refresh.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def recap_changed(output):
    recap = output.split("PLAY RECAP")[-1]
    return sum(int(n) for n in re.findall(r"changed=(\d+)", recap))


def run(ansible, **kwargs):
    return ansible(PLAYBOOK, inventory=INVENTORY, **kwargs)


def test_refresh_both_dev_vms_keeps_boot_disk_and_is_idempotent(lab, ansible):
    admin = lab.admin("vmstore1")
    before = admin.state(checksums=True)
    source = latest_prod_snapshot(before)
    source_sums = {d["name"]: d["sha256"] for d in source["disks"]}

    planned = run(ansible, check=True).assert_ok()
    assert "planned" in planned.output
    checked = admin.state(checksums=True)
    assert checked["vms"] == before["vms"] and checked["snapshots"] == before["snapshots"], "check mode changed the lab"

    first = run(ansible).assert_ok()
    after = admin.state(checksums=True)
    for name in ("dev-sql01", "dev-sql02"):
        old, new = disk_sums(vms(before, name)[0]), disk_sums(vms(after, name)[0])
        assert new["SCSI 0:0"] == old["SCSI 0:0"], "%s: boot disk was replaced" % name
        assert new["SCSI 0:1"] == source_sums["SCSI 0:1"] and new["SCSI 0:2"] == source_sums["SCSI 0:2"]
        assert vms(after, name)[0]["powered"] == vms(before, name)[0]["powered"]
    assert "changed=" in first.output and "2 ok, 0 failed" in first.output

    trail = audit(lab)
    steps = [(r["target"], r["step"], r["result"]) for r in trail]
    for name in ("dev-sql01", "dev-sql02"):
        assert (name, "sync", "changed") in steps and (name, "verify", "ok") in steps
    assert all(r["system"] == lab.endpoints["vmstore1"]["hostname"] and r["details"]["user"] == "admin" for r in trail)
    assert all(r["run_id"] == trail[0]["run_id"] for r in trail)

    second = run(ansible).assert_ok()
    assert recap_changed(second.output) == 0, second.tail()
    assert admin.state(checksums=True)["vms"] == after["vms"]


def test_failed_sync_rolls_back_reports_and_continues_with_the_next_vm(lab, ansible):
    admin = lab.admin("vmstore1")
    before = admin.state(checksums=True)
    # The first SyncVM fails halfway through replacing disks; the rollback (FULL_VM) succeeds.
    admin.add_fault({"type": "task", "task_type": "SYNC_VM", "when": "midway", "count": 1,
                     "code": "ERR-API-3701", "message": "Failed SyncVM"})
    result = run(ansible).assert_failed()
    assert "SyncVM refresh failed for dev-sql01" in result.output
    after = admin.state(checksums=True)
    dev1_before, dev1_after = vms(before, "dev-sql01")[0], vms(after, "dev-sql01")[0]
    assert disk_sums(dev1_after) == disk_sums(dev1_before), "dev-sql01 was left half-synced"
    assert dev1_after["powered"] == dev1_before["powered"]
    source = latest_prod_snapshot(before)
    assert disk_sums(vms(after, "dev-sql02")[0])["SCSI 0:1"] == {d["name"]: d["sha256"] for d in source["disks"]}["SCSI 0:1"]
    failures = [r for r in audit(lab) if r["result"] == "failed"]
    assert failures and failures[0]["target"] == "dev-sql01" and "rolled back" in failures[0]["summary"]
    assert failures[0]["details"]["rolled_back"] is True


def test_transient_faults_and_expired_sessions_are_ridden_out(lab, ansible):
    admin = lab.admin("vmstore1")
    for rule in ({"method": "GET", "path": "/api/v310/vm", "status": 503, "count": 3},
                 {"method": "GET", "path": "/api/v310/task/*", "action": "drop", "count": 2},
                 {"method": "GET", "path": "/api/v310/snapshot", "status": 401, "code": "ERR-API-0104", "count": 1}):
        admin.add_fault(rule)
    run(ansible, extra_vars={"syncvm_refresh_targets": "dev-sql02"}, args=["--limit", "localhost,dev-sql02"]).assert_ok()
    assert any(r["step"] == "sync" and r["result"] == "changed" for r in audit(lab))


def test_password_never_appears_even_at_vvvv(lab, ansible):
    result = run(ansible, verbosity=4, extra_vars={"syncvm_refresh_force": True},
                 args=["--limit", "localhost,dev-sql01"])
    result.assert_ok()
    assert "vmstore_vm_sync" in result.output  # the verbose output really was produced
    for path in (lab.workdir / "audit").iterdir():
        for password in lab.passwords:
            assert password not in path.read_text()


def test_unknown_dev_vm_is_reported_cleanly(lab, ansible):
    result = run(ansible, extra_vars={"syncvm_refresh_targets": ["dev-nope"]},
                 args=["--limit", "localhost,dev-nope"]).assert_failed()
    assert "dev-nope" in result.output and "Traceback" not in result.output
    assert lab.admin("vmstore1").state()["counts"]["running_tasks"] == 0
