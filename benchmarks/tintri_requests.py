"""HTTP requests and wall time per Tintri module run, against the simulated lab.

Each module is run the way Ansible runs it (a Python process given its arguments as JSON), so
interpreter start-up and imports count. The request counts come from the simulator's request
log. Targets: a no-op run of a VMstore module makes at most 4 requests including /api/info,
login and logout; vmstore_vm_info lists 5,000 VMs in a few requests (pages of 2,000).
A per-VM loop (one GET per VM, as a script without paging would) is measured for comparison.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulators.pki import ensure_lab_ca  # noqa: E402
from simulators.tintri import TintriLab  # noqa: E402

COLLECTIONS = ROOT / ".tmp" / "collections"
MODULES = COLLECTIONS / "ansible_collections" / "vmops" / "datacenter" / "plugins" / "modules"
NOOP_LIMIT = 4
BIG_LAB = {
    "vmstores": {"vmstore1": {
        "credentials": {"username": "admin", "password": "Bench-Pa55!"},
        "vms": [{"name": "anchor-vm", "hypervisor": "VMWARE", "disks": [{"name": "scsi0:0", "size": "64KiB"}]}],
        "generate": [{"count": 5000, "name": "gen-vm-{i:05d}", "hypervisor": "VMWARE", "disks": 2,
                      "disk_size": "64KiB", "sparse": True, "host": "esx01", "manager": "vcenter01"}],
    }},
}


def run_module(name, args, endpoint, ca_path, check_mode=False):
    full = dict(hostname=endpoint["hostname"], username=endpoint["username"], password=endpoint["password"],
                ca_path=str(ca_path), _ansible_check_mode=check_mode)
    full.update(args)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": full}, handle)
    env = dict(os.environ, PYTHONPATH=str(COLLECTIONS))
    started = time.monotonic()
    completed = subprocess.run([sys.executable, str(MODULES / (name + ".py")), handle.name], env=env,
                               capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    os.unlink(handle.name)
    try:
        result = json.loads(completed.stdout)
    except ValueError:
        result = {"failed": True, "msg": (completed.stdout + completed.stderr)[-500:]}
    return result, elapsed


class Bench:
    def __init__(self, lab, ca_path):
        self.lab = lab
        self.ca_path = ca_path
        self.rows = []
        self.failures = 0

    def measure(self, label, module, args, appliance="vmstore1", limit=None, check_mode=False):
        admin = self.lab.admin(appliance)
        admin.clear_requests()
        result, elapsed = run_module(module, args, self.lab.endpoints[appliance], self.ca_path, check_mode)
        requests = len(admin.requests())
        ok = not result.get("failed") and (limit is None or requests <= limit)
        self.failures += 0 if ok else 1
        self.rows.append((module, label, requests, "<= %d" % limit if limit else "", elapsed,
                          result.get("changed"), "ok" if ok else "FAIL: %s" % result.get("msg", "too many requests")))
        return result

    def per_vm_loop(self, appliance, count):
        """What a script without paging does: one GET per VM id."""
        import requests

        endpoint = self.lab.endpoints[appliance]
        session = requests.Session()
        base = endpoint["url"] + "/api"
        admin = self.lab.admin(appliance)
        admin.clear_requests()
        started = time.monotonic()
        session.post(base + "/v310/session/login", json={"username": endpoint["username"],
                     "password": endpoint["password"]}, verify=str(self.ca_path))
        ids = [v["id"] for v in admin.state()["vms"] if v["live"]][:count]
        for vm_id in ids:
            session.get(base + "/v310/vm/" + vm_id, verify=str(self.ca_path))
        elapsed = time.monotonic() - started
        self.rows.append(("(per-VM GET loop)", "%d VMs, one request each" % len(ids), len(admin.requests()), "",
                          elapsed, None, "reference"))
        return elapsed

    def table(self, title):
        print("\n" + title)
        header = ("module", "scenario", "requests", "target", "wall s", "changed", "result")
        widths = [max(len(str(r[i]) if not isinstance(r[i], float) else "%.2f" % r[i]) for r in self.rows + [header])
                  for i in range(len(header))]
        line = "  ".join("%-*s" % (w, h) for w, h in zip(widths, header, strict=True))
        print(line + "\n" + "-" * len(line))
        for row in self.rows:
            cells = [("%.2f" % c) if isinstance(c, float) else ("" if c is None else str(c)) for c in row]
            print("  ".join("%-*s" % (w, c) for w, c in zip(widths, cells, strict=True)))


def default_lab_scenarios(bench):
    m = bench.measure
    m("one VM by name", "vmstore_vm_info", {"name": "prod-sql01"}, limit=NOOP_LIMIT)
    m("latest snapshot of a VM", "vmstore_snapshot_info", {"vm": "prod-sql01", "latest": True}, limit=NOOP_LIMIT)
    m("take a snapshot", "vmstore_snapshot", {"vm": "web-vm01", "name": "bench-snap"})
    m("no-op (snapshot exists)", "vmstore_snapshot", {"vm": "web-vm01", "name": "bench-snap"}, limit=NOOP_LIMIT)
    m("clone to a new VM", "vmstore_clone", {"vm": "web-vm01", "clone_name": "bench-clone", "poll_interval": 0.2})
    m("no-op (clone exists)", "vmstore_clone", {"vm": "web-vm01", "clone_name": "bench-clone"}, limit=NOOP_LIMIT)
    m("restore into a directory", "vmstore_clone", {"vm": "web-vm01", "snapshot": "bench-snap",
                                                   "restore_directory": "bench/restore", "poll_interval": 0.2})
    m("no-op (directory exists)", "vmstore_clone", {"vm": "web-vm01", "snapshot": "bench-snap",
                                                   "restore_directory": "bench/restore"}, limit=NOOP_LIMIT)
    sync = {"vm": "dev-sql01", "source_vm": "prod-sql01", "poll_interval": 0.2}
    m("SyncVM data disks (plan, check mode)", "vmstore_vm_sync", sync, check_mode=True)
    m("SyncVM data disks", "vmstore_vm_sync", sync)
    m("no-op (marker present)", "vmstore_vm_sync", sync, limit=NOOP_LIMIT)
    m("all pools with recommendations", "tgc_pool_info", {}, appliance="tgc1")
    m("acknowledge", "tgc_recommendation", {"pool": "pool-prod", "state": "acknowledged"}, appliance="tgc1")
    m("no-op (already acknowledged)", "tgc_recommendation", {"pool": "pool-prod", "state": "acknowledged"},
      appliance="tgc1")


def main():
    with tempfile.TemporaryDirectory(prefix="vmops-bench-") as tmp:
        subprocess.run([sys.executable, str(ROOT / "tests" / "harness" / "stage_collection.py"), "link"],
                       check=True, capture_output=True)
        pki = ensure_lab_ca(Path(tmp) / "pki")
        failures = 0
        with TintriLab(Path(tmp) / "default", pki=pki, task_seconds=0.3) as lab:
            bench = Bench(lab, pki.ca_path)
            default_lab_scenarios(bench)
            bench.table("Tintri modules against the default lab (requests include /api/info, login and logout)")
            failures += bench.failures
        with TintriLab(Path(tmp) / "big", description=BIG_LAB, pki=pki, task_seconds=0.3) as lab:
            bench = Bench(lab, pki.ca_path)
            result = bench.measure("list all 5,001 VMs", "vmstore_vm_info", {}, limit=6)
            if result.get("count") != 5001:
                bench.failures += 1
                print("vmstore_vm_info returned %s VMs, expected 5001" % result.get("count"))
            bench.measure("one VM by name among 5,001", "vmstore_vm_info", {"name": "gen-vm-04999"}, limit=NOOP_LIMIT)
            loop = bench.per_vm_loop("vmstore1", 5001)
            listed = bench.rows[0][4]
            bench.table("vmstore_vm_info over a 5,000-VM VMstore, against a per-VM request loop")
            print("\nListing 5,001 VMs: module %.2f s in %d requests; per-VM loop %.2f s in %d requests (%.0fx slower)."
                  % (listed, bench.rows[0][2], loop, bench.rows[-1][2], loop / listed if listed else 0))
            failures += bench.failures
        return failures


if __name__ == "__main__":
    sys.exit(1 if main() else 0)
