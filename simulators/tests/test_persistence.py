"""Restart on the same state directory, discovery of directories in the export, scale, lab CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from simulators.tintri import TintriLab

from .conftest import Client
from .test_clone_sync import disk_files, sha, snapshot_sums, sync_body

ROOT = Path(__file__).resolve().parents[2]


def test_state_survives_restart_and_running_task_completes(tmp_path, pki, small_desc):
    state = tmp_path / "state"
    lab = TintriLab(state, small_desc, pki, task_seconds=3.0).start()
    try:
        c = Client(lab.endpoints["vmstore1"], pki.ca_path).login()
        prod, dev = c.vm_by_name("prod-sql01"), c.vm_by_name("dev-sql01")
        snap = prod["snapshot"]["latest"]["uuid"]["uuid"]
        new = c.ok("POST", "/v310/snapshot", json=[{"sourceVmTintriUUID": dev["uuid"]["uuid"],
                                                    "snapshotName": "before-restart"}])[0]
        t = c.ok("POST", "/v310/vm/sync", json=sync_body(snap, [dev["uuid"]["uuid"]], "FULL_VM"))
        tid = t["uuid"]["uuid"]
        while c.ok("GET", f"/v310/task/{tid}")["state"] != "RUNNING":
            time.sleep(0.05)
        time.sleep(0.5)  # safety snapshot taken and the VM powered off
        tg = Client(lab.endpoints["tgc1"], pki.ca_path).login()
        pool = tg.ok("GET", "/v310/vmstorePool", params={"name": "pool-prod"})["items"][0]["uuid"]["uuid"]
        rid = tg.ok("GET", f"/v310/vmstorePool/{pool}/recommendation/current")["id"]
        assert tg.req("POST", f"/v310/vmstorePool/{pool}/recommendation/{rid}/acknowledge").status_code == 204
        hostnames = {n: e["hostname"] for n, e in lab.endpoints.items()}
    finally:
        lab.stop()
    lab = TintriLab(state, small_desc, pki, task_seconds=3.0).start()
    try:
        assert {n: e["hostname"] for n, e in lab.endpoints.items()} == hostnames  # ports reused when free
        c = Client(lab.endpoints["vmstore1"], pki.ca_path).login()
        done = c.wait_task(tid, timeout=10)
        assert done["state"] == "SUCCESS"
        assert c.vm_by_name("dev-sql01")["vmware"]["isPowered"] is True
        assert {n: sha(p) for n, p in disk_files(lab, "vmstore1", "dev-sql01").items()} == \
            snapshot_sums(lab, "vmstore1", snap)
        assert c.ok("GET", f"/v310/snapshot/{new}")["description"] == "before-restart"
        tg = Client(lab.endpoints["tgc1"], pki.ca_path).login()
        assert tg.ok("GET", f"/v310/vmstorePool/{pool}/recommendation/current")["state"] == "AVAILABLE_ACKED"
    finally:
        lab.stop()


def test_directories_dropped_into_the_export_become_vms(lab, client):
    c = client()
    root = Path(lab.endpoints["vmstore1"]["datastore_dir"])
    shutil.copytree(root / "app", root / "restored-app")          # e.g. files brought back from S3
    (root / "s3restore").mkdir()
    shutil.copytree(root / "web-vm01", root / "s3restore" / "web-vm01")
    (root / "no-config").mkdir()
    (root / "no-config" / "data.bin").write_bytes(b"x")
    page = c.ok("GET", "/v310/vm", params={"name": "app", "live": "TRUE"})
    found = {v["vmware"]["subdir"]: v for v in page["items"]}
    assert set(found) == {"app", "app01", "restored-app"}
    r = found["restored-app"]["vmware"]
    assert r["name"] == "app" and r["vcenterName"] == "" and r["isPowered"] is False
    assert r["hypervisorType"] == "VMWARE"
    nested = c.ok("GET", "/v310/vm", params={"subdir": "s3restore/web-vm01"})["items"]
    assert [v["vmware"]["name"] for v in nested] == ["web-vm01"]
    disks = c.ok("GET", "/v310/virtualDisk", params={"vmUuid": found["restored-app"]["uuid"]["uuid"]})["items"]
    assert [d["name"] for d in disks] == ["scsi0:0", "scsi0:1"]
    assert disks[0]["path"].startswith("restored-app/")
    # a discovered VM can be snapshotted like any other
    assert c.ok("POST", "/v310/snapshot", json=[{"sourceVmTintriUUID": found["restored-app"]["uuid"]["uuid"]}])
    # removing a VM's directory retires it to a historical entry
    shutil.rmtree(root / "app01")
    gone = c.ok("GET", "/v310/vm", params={"name": "app01"})["items"]
    assert [v["isLive"] for v in gone] == [False] and gone[0]["isDeleted"] is True
    assert c.ok("GET", "/v310/vm", params={"live": "TRUE"})["filteredTotal"] == 7


def test_5000_vm_lab_lists_fast(tmp_path, pki):
    desc = {"vmstores": {"bench": {"generate": [
        {"count": 5000, "name": "bench-{i:05d}", "hypervisor": "VMWARE", "host": "esx01.lab.local",
         "manager": "vcenter01.lab.local", "disk_size": "64KiB"}]}},
        "tgcs": {"tgc": {"members": ["bench"]}}}
    # 15,000 files: on tmpfs when there is one, seeding takes a fraction of a second
    shm = Path("/dev/shm")
    base = Path(tempfile.mkdtemp(prefix="tintri-bench-", dir=shm)) if shm.is_dir() and os.access(shm, os.W_OK) else tmp_path
    lab = TintriLab(base / "bench", desc, pki).start()
    try:
        for name in ("bench", "tgc"):
            c = Client(lab.endpoints[name], pki.ca_path).login()
            t0 = time.time()
            page = c.ok("GET", "/v310/vm", params={"live": "TRUE", "limit": 2000})
            names, pages = [v["vmware"]["name"] for v in page["items"]], 1
            while "next" in page:
                page = c.ok("GET", "/v310/vm?" + page["next"])
                names += [v["vmware"]["name"] for v in page["items"]]
                pages += 1
            took = time.time() - t0
            assert pages == 3 and len(names) == len(set(names)) == 5000
            assert took < 5, f"listing 5000 VMs took {took:.1f}s"
            assert c.ok("GET", "/v310/vm", params={"name": "bench-04999"})["filteredTotal"] == 1
    finally:
        lab.stop()
        if base != tmp_path:
            shutil.rmtree(base, ignore_errors=True)


def test_lab_cli_start_status_stop(tmp_path):
    lab_dir = tmp_path / "cli-lab"
    desc = tmp_path / "tiny.yml"
    desc.write_text("vmstores:\n  vs1:\n    vms:\n      - {name: one, disks: [{size: 64KiB}]}\n"
                    "tgcs:\n  tg1: {members: [vs1]}\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    run = lambda *a: subprocess.run([sys.executable, "-m", "simulators.lab", *a, "--lab-dir", str(lab_dir)],  # noqa: E731
                                    cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    r = run("start", "--description", str(desc), "--task-seconds", "0.5")
    assert r.returncode == 0, r.stderr
    try:
        info = json.loads((lab_dir / "lab.json").read_text())
        assert set(info["tintri"]) == {"vs1", "tg1"} and info["ca_path"] == str(lab_dir / "pki" / "lab-ca.pem")
        assert "lab_tintri:" in (lab_dir / "lab_vars.yml").read_text()
        url = info["tintri"]["vs1"]["url"]
        assert requests.get(url + "/api/info", verify=info["ca_path"], timeout=10).status_code == 200
        assert run("status").returncode == 0
        assert "already running" in run("start").stdout
    finally:
        assert run("stop").returncode == 0
    assert not (lab_dir / "lab.pid").exists()
    assert run("status").returncode == 1
