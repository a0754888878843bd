# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""protect_to_s3 and restore_from_s3 end to end: real bytes from a VMstore export, through S3, onto another."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from .conftest import ROOT

PROTECT = ROOT / "playbooks" / "protect_to_s3.yml"
RESTORE = ROOT / "playbooks" / "restore_from_s3.yml"
INVENTORY = ROOT / "inventories" / "lab"
BUCKET = "vmops-backups"


def recap_changed(output):
    return sum(int(n) for n in re.findall(r"changed=(\d+)", output.split("PLAY RECAP")[-1]))


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tree(directory):
    """relative path -> sha256 of every regular file (the restore marker aside)."""
    root = Path(directory)
    return {str(p.relative_to(root)): sha256(p) for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != ".vmops-restore.json"}


def snapshot_disks(lab, name):
    state = lab.admin("vmstore1").state(checksums=True)
    snap = next(s for s in state["snapshots"] if s["description"] == name and not s["deleted"])
    return {d["name"]: d["sha256"] for d in snap["disks"]}


def audit(lab, runbook):
    path = lab.workdir / "audit" / ("%s.jsonl" % runbook)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def protect(ansible, **kwargs):
    return ansible(PROTECT, inventory=INVENTORY, **kwargs)


def restore(ansible, **kwargs):
    return ansible(RESTORE, inventory=INVENTORY, **kwargs)


def test_protect_then_restore_to_another_vmstore_with_matching_checksums(s3_lab, ansible):
    lab = s3_lab
    tx = {"protect_to_s3_transaction_id": "tx-e2e-1"}
    export1 = Path(lab.endpoints["vmstore1"]["datastore_dir"])

    planned = protect(ansible, extra_vars=tx, check=True).assert_ok()
    assert "planned" in planned.output
    assert not list(lab.s3_server.client().list_objects_v2(Bucket=BUCKET).get("Contents", []))

    protect(ansible, extra_vars=tx).assert_ok()
    manifest = json.loads(lab.s3_server.client().get_object(
        Bucket=BUCKET, Key="vmops/prod-sql01/tx-e2e-1/_vmops_manifest.json")["Body"].read())
    assert manifest["source"]["vm"] == "prod-sql01" and manifest["source"]["snapshot"] == "vmops-protect-tx-e2e-1"
    assert not (export1 / "vmops-protect" / "tx-e2e-1-prod-sql01").exists(), "temporary clone left behind"
    record = audit(lab, "protect_to_s3")[-1]
    assert record["result"] == "changed" and record["details"]["bytes"] > 0 and record["details"]["transaction_id"] == "tx-e2e-1"
    disks = snapshot_disks(lab, "vmops-protect-tx-e2e-1")
    stored = {f["path"]: f["sha256"] for f in manifest["files"]}
    assert set(disks.values()) <= set(stored.values()), "the uploaded disks are not the snapshot's disks"

    again = protect(ansible, extra_vars=tx).assert_ok()
    assert recap_changed(again.output) == 0 and "already protected" in again.output

    restore(ansible, check=True).assert_ok()
    export2 = Path(lab.endpoints["vmstore2"]["datastore_dir"])
    assert not (export2 / "restored").exists(), "check mode restored files"

    restored = restore(ansible).assert_ok()
    target = export2 / "restored" / "prod-sql01-tx-e2e-1"
    assert tree(target) == stored, "restored files differ from what was protected"
    assert "visible on the VMstore as prod-sql01" in restored.output
    live = [v for v in lab.admin("vmstore2").state()["vms"] if v["live"] and v["subdir"] == "restored/prod-sql01-tx-e2e-1"]
    assert len(live) == 1 and live[0]["name"] == "prod-sql01"

    again = restore(ansible).assert_ok()
    assert recap_changed(again.output) == 0


def test_restore_refuses_incomplete_transactions_and_never_overwrites(s3_lab, ansible):
    lab = s3_lab
    client = lab.s3_server.client()
    client.put_object(Bucket=BUCKET, Key="vmops/prod-sql01/tx-partial/disk.vhdx", Body=b"half")
    refused = restore(ansible, extra_vars={"restore_from_s3_transaction_id": "tx-partial"}).assert_failed()
    assert "No complete transaction tx-partial" in refused.output

    protect(ansible, extra_vars={"protect_to_s3_transaction_id": "tx-2"}).assert_ok()
    occupied = Path(lab.endpoints["vmstore2"]["datastore_dir"]) / "restored" / "prod-sql01-tx-2"
    occupied.mkdir(parents=True)
    (occupied / "someone-elses.vhdx").write_bytes(b"keep me")
    refused = restore(ansible).assert_failed()
    assert "already exists" in refused.output and (occupied / "someone-elses.vhdx").read_bytes() == b"keep me"

    escaping = restore(ansible, extra_vars={"restore_from_s3_directory": "../../etc"}).assert_failed()
    assert "must be a relative path" in escaping.output


def test_corrupted_object_is_detected_and_nothing_half_restored_is_left(s3_lab, ansible):
    lab = s3_lab
    protect(ansible, extra_vars={"protect_to_s3_transaction_id": "tx-3"}).assert_ok()
    client = lab.s3_server.client()
    manifest = json.loads(client.get_object(Bucket=BUCKET, Key="vmops/prod-sql01/tx-3/_vmops_manifest.json")["Body"].read())
    victim = max(manifest["files"], key=lambda f: f["size"])
    path = lab.s3_server.object_path(BUCKET, victim["key"])
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    lab.s3_server.forget()
    result = restore(ansible).assert_failed()
    assert victim["path"] in result.output and "sha256" in result.output.lower()
    assert not (Path(lab.endpoints["vmstore2"]["datastore_dir"]) / "restored" / "prod-sql01-tx-3").exists()
    assert audit(lab, "restore_from_s3")[-1]["result"] == "failed"


def test_failed_upload_still_removes_the_temporary_clone_and_credentials_stay_hidden(s3_lab, ansible):
    lab = s3_lab
    # An impossible transfer setting makes the upload step fail after the clone was made.
    result = protect(ansible, extra_vars={"protect_to_s3_transaction_id": "tx-4", "protect_to_s3_concurrency": 0},
                     verbosity=4).assert_failed()
    assert "Upload the clone" in result.output
    assert "Protect to S3 failed for prod-sql01" in result.output
    assert not (Path(lab.endpoints["vmstore1"]["datastore_dir"]) / "vmops-protect" / "tx-4-prod-sql01").exists()
    record = audit(lab, "protect_to_s3")[-1]
    assert record["result"] == "failed" and record["details"]["temporary_clone_removed"] is True
