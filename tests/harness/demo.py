"""make demo: start the simulated lab, run every runbook against it, summarise, stop the lab.

Full playbook logs go to <lab dir>/logs/; the terminal gets a short account of what happened,
checked against the simulated appliances themselves (files on the datastore, pool state).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def lab_cli(lab_dir, *args):
    subprocess.run([sys.executable, "-m", "simulators.lab", *args, "--lab-dir", str(lab_dir)], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)


class Demo:
    def __init__(self, lab_dir):
        self.lab_dir = lab_dir
        self.logs = lab_dir / "logs"
        self.lab = json.loads((lab_dir / "lab.json").read_text())
        self.tls = ssl.create_default_context(cafile=self.lab["ca_path"])
        self.failures = 0
        self.runs = 0

    def admin(self, appliance, path):
        url = "%s/_sim/%s" % (self.lab["tintri"][appliance]["url"], path)
        with urllib.request.urlopen(url, context=self.tls, timeout=30) as response:
            return json.loads(response.read())

    def playbook(self, title, playbook, *extra):
        self.logs.mkdir(exist_ok=True)
        self.runs += 1
        log = self.logs / ("%02d-%s.log" % (self.runs, re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")))
        env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0",
                   ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".tmp" / "collections"),
                   VMOPS_AUDIT_DIR=str(self.lab_dir / "audit"), VMOPS_REPORT_DIR=str(self.lab_dir / "reports"))
        started = time.monotonic()
        cmd = [str(BIN / "ansible-playbook"), str(ROOT / "playbooks" / playbook), "-e", "@%s" % (self.lab_dir / "lab_vars.yml")]
        completed = subprocess.run(cmd + list(extra), cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        log.write_text(completed.stdout + completed.stderr)
        recap = completed.stdout.split("PLAY RECAP")[-1]
        changed = sum(int(n) for n in re.findall(r"changed=(\d+)", recap))
        failed = sum(int(n) for n in re.findall(r"failed=(\d+)", recap))
        status = "ok" if completed.returncode == 0 else "FAILED"
        print("  %-58s %-6s %2d changed  %5.1fs" % (title, status, changed, time.monotonic() - started))
        if completed.returncode != 0:
            self.failures += 1
            print("    %d failed task(s); log: %s" % (failed, log.relative_to(ROOT)))
            for line in (completed.stdout + completed.stderr).splitlines()[-25:]:
                print("    | " + line)
        return completed

    def protect_and_restore(self):
        tx = "demo-" + time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        bucket = self.lab["s3"]["buckets"][0]
        print("\n3. Protect prod-sql01 to S3 (s3://%s/vmops/prod-sql01/%s) and restore it on vmstore2" % (bucket, tx))
        protect = ("-e", "protect_to_s3_transaction_id=%s" % tx)
        self.playbook("plan (check mode)", "protect_to_s3.yml", "--check", *protect)
        self.playbook("protect: snapshot, temporary clone, upload, manifest", "protect_to_s3.yml", *protect)
        self.playbook("run again: nothing to do", "protect_to_s3.yml", *protect)
        self.playbook("restore the newest complete transaction to vmstore2", "restore_from_s3.yml")
        self.playbook("run again: nothing to do", "restore_from_s3.yml")
        source = next(s for s in self.admin("vmstore1", "state?checksums=true")["snapshots"]
                      if s["description"] == "vmops-protect-" + tx)
        wanted = {d["name"]: d["sha256"] for d in source["disks"]}
        restored = [v for v in self.admin("vmstore2", "state?checksums=true")["vms"]
                    if v["live"] and v["subdir"] == "restored/prod-sql01-%s" % tx]
        got = {d["name"]: d.get("sha256") for d in restored[0]["disks"]} if restored else {}
        same = bool(got) and got == wanted
        self.failures += 0 if same else 1
        print("     restored VM %s on vmstore2: %d disk(s), checksums %s the protected snapshot's" % (
            restored[0]["name"] if restored else "MISSING", len(got), "match" if same else "DO NOT match"))
        leftovers = list((Path(self.lab["tintri"]["vmstore1"]["datastore_dir"]) / "vmops-protect").glob("*"))
        print("     temporary clones left on vmstore1: %s" % (len(leftovers) or "none"))
        self.failures += 1 if leftovers else 0

    def vmm_state(self):
        """The simulated VMM and SCOM state, as the PSRP simulator persists it."""
        state_dir = self.lab_dir / "psrp"
        return (json.loads((state_dir / "vmm.json").read_text()), json.loads((state_dir / "scom.json").read_text()))

    def checkpoint_batch(self):
        vmm, _scom = self.vmm_state()
        batch = [vm for vm in vmm["vms"].values() if vm.get("custom", {}).get("Custom1") == "7"]
        before = {vm["id"]: vm["status"] for vm in batch}
        running = sum(1 for status in before.values() if status == "Running")
        print("\n4. Checkpoint batch 7 in VMM (%d VMs, %d running) with SCOM maintenance mode" % (len(batch), running))
        name = ("-e", json.dumps({"checkpoint_batch_checkpoint_name": "demo nightly"}))
        self.playbook("plan (check mode)", "checkpoint_batch.yml", "--check", *name)
        self.playbook("stop the running VMs, checkpoint all, start them again", "checkpoint_batch.yml", *name)
        self.playbook("run again: nothing to do", "checkpoint_batch.yml", *name)
        vmm, scom = self.vmm_state()
        after = {vm["id"]: vm["status"] for vm in vmm["vms"].values() if vm["id"] in before}
        checkpointed = {c["vm_id"] for c in vmm["checkpoints"].values() if c["name"] == "demo nightly"}
        same = after == before
        complete = checkpointed == set(before)
        windows = [w for w in scom["history"] if w.get("ended") == "stopped"]
        print("     %d of %d VMs have the checkpoint 'demo nightly'; power states %s" % (
            len(checkpointed & set(before)), len(before), "as before" if same else "CHANGED"))
        print("     SCOM maintenance windows opened and closed: %d; still open: %d" % (len(windows), len(scom["active"])))
        self.failures += 0 if same and complete and len(windows) == running and not scom["active"] else 1

    def cluster_patch(self):
        print("\n5. Rolling patch of the Hyper-V hosts in the ConfigMgr collection 'Hyper-V hosts to patch' "
              "(clusters hvc-prod and hvc-test, stand-alone hv-dev-01) through VMM and ConfigMgr")
        report_file = self.lab_dir / "reports" / "cluster-patch.json"
        report_file.parent.mkdir(exist_ok=True)
        report = ("-e", json.dumps({"cluster_patch_report_file": str(report_file)}))
        self.playbook("plan (check mode): rounds of one node per cluster", "cluster_patch.yml", "--check")
        self.playbook("drain, patch, restart, verify, return, node by node", "cluster_patch.yml", *report)
        patched = json.loads(report_file.read_text())
        self.playbook("run again: nothing to do", "cluster_patch.yml", *report)
        again = json.loads(report_file.read_text())
        vmm, _scom = self.vmm_state()
        site = json.loads((self.lab_dir / "configmgr" / "configmgr.json").read_text())
        held = sorted(site["devices"][str(r["ResourceID"])]["Name"] for c in site["collections"].values()
                      if c["Name"] == "Hyper-V holding" for r in c["rules"])
        out = sorted(h["name"] for h in vmm["hosts"].values() if h["in_maintenance"])
        results = sorted({h["result"] for h in patched["hosts"]})
        moved = sum(len(h.get("migrated", [])) for h in patched["hosts"])
        print("     %d hosts patched (%s), %d VMs live-migrated on the way; hosts still in maintenance: %s" % (
            len(patched["hosts"]), ", ".join(results), moved, ", ".join(out) or "none"))
        print("     holding collection: %s; second run: %s" % (
            ", ".join(held) or "empty", ", ".join(sorted({h["result"] for h in again["hosts"]}))))
        self.failures += 0 if results == ["patched"] and not out and "HV-DEV-01" in held else 1

    def disks(self, appliance):
        state = self.admin(appliance, "state?checksums=true")
        return state, {v["name"]: {d["name"]: d.get("sha256") for d in v["disks"]} for v in state["vms"] if v["live"]}

    def run(self):
        print("\nvmops.datacenter demo against the simulated lab (%s)" % ", ".join(
            "%s %s" % (name, e["hostname"]) for name, e in self.lab["tintri"].items()))
        state, before = self.disks("vmstore1")
        prod = max((s for s in state["snapshots"] if s["vmName"] == "prod-sql01" and not s["deleted"]),
                   key=lambda s: s["createTime"])
        source = {d["name"]: d.get("sha256") for d in prod["disks"]}

        print("\n1. SyncVM refresh: dev-sql01 and dev-sql02 from the latest prod-sql01 snapshot (%s)" % prod["description"])
        self.playbook("plan (check mode)", "syncvm_refresh.yml", "--check")
        self.playbook("refresh, one dev VM at a time", "syncvm_refresh.yml")
        self.playbook("run again: nothing to do", "syncvm_refresh.yml")
        _state, after = self.disks("vmstore1")
        for vm in ("dev-sql01", "dev-sql02"):
            data = [d for d in after[vm] if d != "SCSI 0:0"]
            same = all(after[vm][d] == source.get(d) for d in data)
            kept = after[vm]["SCSI 0:0"] == before[vm]["SCSI 0:0"]
            print("     %s: data disks %s %s production snapshot; boot disk %s" % (
                vm, ", ".join(data), "now match the" if same else "DO NOT match the", "kept" if kept else "REPLACED"))
            self.failures += 0 if same and kept else 1

        print("\n2. VMstore pool recommendations from Tintri Global Center")
        self.playbook("report only", "pool_recommendations.yml")
        self.playbook("accept by the default policy", "pool_recommendations.yml", "-e", "pool_recommendations_accept=true")
        self.playbook("accept, replication-protection loss allowed", "pool_recommendations.yml",
                      "-e", "pool_recommendations_accept=true", "-e", "pool_recommendations_allow_protection_loss=true")
        tgc = self.admin("tgc1", "state")
        for pool in tgc["pools"]:
            reco = next((r for r in tgc["recommendations"] if r["id"] == pool["current"]), {})
            execution = ", execution %s" % reco["executionState"] if reco.get("executionState") else ""
            print("     pool %s: %s%s" % (pool["name"], reco.get("state"), execution))
        moved = sorted(v["name"] for v in self.admin("vmstore2", "state")["vms"] if v["live"] and v["name"] != "dr-util01")
        print("     VMs now on vmstore2: %s" % (", ".join(moved) or "none"))

        self.protect_and_restore()
        self.checkpoint_batch()
        self.cluster_patch()

        reports = sorted((self.lab_dir / "reports").glob("*.md"))
        print("\nAudit trails: %s" % ", ".join(str(p.relative_to(ROOT)) for p in sorted((self.lab_dir / "audit").glob("*.jsonl"))))
        if reports:
            print("Latest report: %s" % reports[-1].relative_to(ROOT))
        print("Playbook logs: %s/" % self.logs.relative_to(ROOT))
        print("\n%s\n" % ("Demo finished: every runbook did what it should." if not self.failures
                          else "Demo finished with %d problem(s); see above." % self.failures))
        return 1 if self.failures else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab-dir", default=".lab")
    parser.add_argument("--task-seconds", default="1.0")
    args = parser.parse_args()
    lab_dir = (ROOT / args.lab_dir).resolve()
    if (lab_dir / "lab.pid").exists():
        lab_cli(lab_dir, "stop")
    # A fresh lab every time, so the demo tells the same story on every run.
    shutil.rmtree(lab_dir, ignore_errors=True)
    subprocess.run([sys.executable, str(ROOT / "tests" / "harness" / "stage_collection.py"), "link"], check=True,
                   stdout=subprocess.DEVNULL)
    print("Starting the simulated lab in %s ..." % lab_dir.relative_to(ROOT))
    lab_cli(lab_dir, "start", "--task-seconds", args.task_seconds)
    try:
        return Demo(lab_dir).run()
    finally:
        lab_cli(lab_dir, "stop")
        print("Lab stopped.")


if __name__ == "__main__":
    sys.exit(main())
