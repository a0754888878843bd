"""Upload throughput and memory: s3_transaction_upload against `aws s3 cp --recursive` and `rclone copy`.

Same machine, same S3 server (the lab's `rclone serve s3` over TLS on loopback), same data: the
files of a simulated VMstore VM with 2 GiB of disks, read from the VMstore's export directory.
The server keeps its objects in memory-backed storage (/dev/shm when there is room), and the
source files are read once beforehand, so the table measures the transfer tools, not this
machine's disk write-back (which otherwise stalls whichever tool happens to be running).
Our module runs the way Ansible runs it (a Python process given its arguments), so start-up and
imports count. Each tool runs twice, alternating; the better run counts. Peak RSS comes from
/usr/bin/time. Then a no-op re-run of the module over 1,000 small files that were already uploaded.
Targets: throughput at least that of the faster peer, peak RSS under 256 MiB, no-op under 2 s.

What the module does beyond `aws s3 cp`: a SHA-256 of every byte and a manifest written last (with
each object's ETag as the upload's answer gave it). It asks nothing of the store after an upload:
rclone serve s3 would answer a HEAD for the listed ETag by hashing the whole object first (about
0.8 s per GiB), so a re-run verifies such objects by reading the local file instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulators.pki import ensure_lab_ca  # noqa: E402
from simulators.s3 import S3Server  # noqa: E402
from simulators.tintri import TintriLab  # noqa: E402

BIN = Path(sys.executable).parent
COLLECTIONS = ROOT / ".tmp" / "collections"
MODULE = COLLECTIONS / "ansible_collections" / "vmops" / "datacenter" / "plugins" / "modules" / "s3_transaction_upload.py"
BUCKET = "bench"
MIB = 1024 * 1024
RSS_LIMIT_MIB = 256
NOOP_LIMIT_S = 2.0
VM = {"vmstores": {"vmstore1": {
    "credentials": {"username": "admin", "password": "Bench-Pa55!"},
    "vms": [{"name": "bench-vm", "hypervisor": "HYPERV", "disks": [
        {"name": "SCSI 0:0", "size": "1GiB", "boot": True}, {"name": "SCSI 0:1", "size": "1GiB"}]}]}}}


def timed(cmd, env=None):
    """(seconds, peak RSS in MiB, completed process) for one command under /usr/bin/time."""
    started = time.monotonic()
    completed = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    rss_kib = int(completed.stderr.strip().splitlines()[-1])
    if completed.returncode:
        raise RuntimeError("%s failed: %s" % (cmd[0], (completed.stdout + completed.stderr)[-800:]))
    return elapsed, rss_kib / 1024.0, completed


class Tools:
    def __init__(self, server, workdir):
        self.endpoint = server.endpoint
        self.workdir = workdir
        aws_config = workdir / "aws-config"
        # What a user configures for an S3-compatible store: path-style, checksums only when required.
        aws_config.write_text("[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n"
                              "request_checksum_calculation = when_required\n"
                              "response_checksum_validation = when_required\n")
        self.aws_env = dict(os.environ, AWS_ACCESS_KEY_ID=self.endpoint["access_key"],
                            AWS_SECRET_ACCESS_KEY=self.endpoint["secret_key"], AWS_CONFIG_FILE=str(aws_config),
                            AWS_SHARED_CREDENTIALS_FILE=str(workdir / "none"))
        self.rclone_env = dict(os.environ, RCLONE_CONFIG=str(workdir / "rclone.conf"),
                               RCLONE_CONFIG_LAB_TYPE="s3", RCLONE_CONFIG_LAB_PROVIDER="Other",
                               RCLONE_CONFIG_LAB_ACCESS_KEY_ID=self.endpoint["access_key"],
                               RCLONE_CONFIG_LAB_SECRET_ACCESS_KEY=self.endpoint["secret_key"],
                               RCLONE_CONFIG_LAB_ENDPOINT=self.endpoint["endpoint_url"],
                               RCLONE_CONFIG_LAB_FORCE_PATH_STYLE="true")

    def ours(self, src, transaction):
        # The module's defaults (10 workers, 8 MiB parts), as aws s3 cp runs with its own.
        args = {"ANSIBLE_MODULE_ARGS": dict(
            endpoint_url=self.endpoint["endpoint_url"], access_key=self.endpoint["access_key"],
            secret_key=self.endpoint["secret_key"], region="us-east-1", ca_path=str(self.endpoint["ca_path"]),
            s3_compatible=True, bucket=BUCKET, prefix="vmops", transaction_id=transaction, src=str(src))}
        path = self.workdir / ("args-%s.json" % transaction)
        path.write_text(json.dumps(args))
        elapsed, rss, completed = timed([sys.executable, str(MODULE), str(path)],
                                        env=dict(os.environ, PYTHONPATH=str(COLLECTIONS)))
        return elapsed, rss, json.loads(completed.stdout)

    def aws(self, src, prefix):
        return timed([str(BIN / "aws"), "s3", "cp", "--recursive", "--only-show-errors", str(src),
                      "s3://%s/%s/" % (BUCKET, prefix), "--endpoint-url", self.endpoint["endpoint_url"],
                      "--ca-bundle", str(self.endpoint["ca_path"])], env=self.aws_env)[:2]

    def rclone(self, src, prefix):
        return timed([str(BIN / "rclone"), "copy", str(src), "lab:%s/%s" % (BUCKET, prefix),
                      "--ca-cert", str(self.endpoint["ca_path"])], env=self.rclone_env)[:2]


def clear_bucket(server):
    bucket_dir = Path(server.endpoint["data_dir"]) / BUCKET
    shutil.rmtree(bucket_dir, ignore_errors=True)
    bucket_dir.mkdir()
    server.forget()


@contextlib.contextmanager
def object_store(tmp):
    """Where the S3 server keeps objects: memory-backed /dev/shm when it has room, else the temp dir."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and shutil.disk_usage(shm).free > 6 * 1024 * MIB):
        yield tmp / "s3"
        return
    store = Path(tempfile.mkdtemp(prefix="vmops-s3-bench-", dir=shm))
    try:
        yield store
    finally:
        shutil.rmtree(store, ignore_errors=True)


def main():
    with tempfile.TemporaryDirectory(prefix="vmops-s3-bench-") as tmp:
        tmp = Path(tmp)
        subprocess.run([sys.executable, str(ROOT / "tests" / "harness" / "stage_collection.py"), "link"],
                       check=True, capture_output=True)
        pki = ensure_lab_ca(tmp / "pki")
        print("\nS3 upload: building a lab VM with 2 GiB of disks ...", flush=True)
        with object_store(tmp) as store, TintriLab(tmp / "lab", description=VM, pki=pki) as lab, \
                S3Server(store, pki, buckets=(BUCKET,)) as server:
            src = Path(lab.endpoints["vmstore1"]["datastore_dir"]) / "bench-vm"
            size = 0
            for path in (p for p in src.rglob("*") if p.is_file()):
                size += path.stat().st_size
                with open(path, "rb") as handle:  # into the page cache, as for every tool after the first
                    while handle.read(8 * MIB):
                        pass
            tools = Tools(server, tmp)
            best = {}
            for round_no in (1, 2):
                for name in ("ours", "aws s3 cp --recursive", "rclone copy"):
                    clear_bucket(server)
                    if name == "ours":
                        elapsed, rss, result = tools.ours(src, "tx-%d" % round_no)
                        assert result.get("changed") and not result.get("failed"), result.get("msg")
                    elif name.startswith("aws"):
                        elapsed, rss = tools.aws(src, "aws-%d" % round_no)
                    else:
                        elapsed, rss = tools.rclone(src, "rclone-%d" % round_no)
                    previous = best.get(name)
                    if previous is None or elapsed < previous[0]:
                        best[name] = (elapsed, max(rss, previous[1] if previous else 0))
                    else:
                        best[name] = (previous[0], max(rss, previous[1]))
            clear_bucket(server)

            small = tmp / "small"
            small.mkdir()
            for index in range(1000):
                (small / ("file-%04d.dat" % index)).write_bytes(os.urandom(1024))
            tools.ours(small, "small")
            noop_elapsed, noop_rss, noop = tools.ours(small, "small")

        faster_peer = min(best["aws s3 cp --recursive"][0], best["rclone copy"][0])
        print("\nUpload of %.0f MiB (a VM's files from the VMstore export) to rclone serve s3 over TLS%s, best of 2 runs"
              % (size / MIB, " (objects in memory)" if str(store).startswith("/dev/shm") else ""))
        print("%-24s %8s %10s %14s %14s" % ("tool", "wall s", "MiB/s", "peak RSS MiB", "vs faster peer"))
        print("-" * 74)
        for name, (elapsed, rss) in best.items():
            print("%-24s %8.2f %10.1f %14.0f %13.2fx" % (name, elapsed, size / MIB / elapsed, rss, faster_peer / elapsed))
        print("\nNo-op re-run over 1,000 small files (already uploaded): %.2f s wall, %.0f MiB peak RSS, "
              "changed=%s, %s bytes sent" % (noop_elapsed, noop_rss, noop.get("changed"), noop.get("uploaded", {}).get("bytes")))
        failures = []
        if best["ours"][0] > faster_peer:
            failures.append("throughput below the faster peer (%.1f vs %.1f MiB/s)" % (
                size / MIB / best["ours"][0], size / MIB / faster_peer))
        if best["ours"][1] >= RSS_LIMIT_MIB:
            failures.append("peak RSS %.0f MiB >= %d MiB" % (best["ours"][1], RSS_LIMIT_MIB))
        if noop_elapsed >= NOOP_LIMIT_S or noop.get("changed"):
            failures.append("no-op re-run took %.2f s (changed=%s)" % (noop_elapsed, noop.get("changed")))
        print("Targets: " + ("all met" if not failures else "; ".join(failures)))
        return len(failures)


if __name__ == "__main__":
    sys.exit(1 if main() else 0)
