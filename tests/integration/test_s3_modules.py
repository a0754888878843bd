# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The S3 transaction modules run for real through ansible-playbook.

The playbooks are in tests/integration/s3/ (assertions on the module results live there); the tests
make the files to upload, change what is stored behind the modules' back (a flipped byte, a
hostile manifest, a dropped connection) and check the bucket and the local files with boto3 and
hashlib. Stores: the lab's rclone serve s3 over TLS (``s3_lab``), a FaultProxy in front of it
(``s3_proxy``) and moto's server for SSE-KMS, storage classes and tags (``moto_s3``).
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

from .conftest import INTEGRATION

PLAYBOOKS = INTEGRATION / "s3"
BUCKET = "vmops-backups"
MANIFEST = "_vmops_manifest.json"
MIB = 1 << 20


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tree(directory):
    """relative path -> sha256 of every file below directory, hidden ones included."""
    root = Path(directory)
    return {str(p.relative_to(root)): sha256(p) for p in sorted(root.rglob("*")) if p.is_file()}


def make_files(root, sizes, seed=1):
    """Files of pseudo-random bytes; returns relative path -> sha256."""
    rng = random.Random(seed)
    for rel, size in sizes.items():
        path = Path(root) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(size))
    return tree(root)


def keys(client, prefix):
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return {item["Key"]: item["Size"] for item in listed.get("Contents", [])}


def manifest_of(client, prefix, tx):
    return json.loads(client.get_object(Bucket=BUCKET, Key="%s/%s/%s" % (prefix, tx, MANIFEST))["Body"].read())


# A VM's directory: configuration, logs, a small disk and one disk above the 5 MiB part size (three parts).
VM_FILES = {
    "it-vm01.vmx": 3 * 1024,
    "it-vm01.nvram": 8 * 1024 + 7,
    "logs/vmware.log": 64 * 1024,
    "disks/it-vm01.vmdk": 600,
    "disks/it-vm01-flat.vmdk": 12 * MIB + 12345,
    "disks/it-vm01_1-flat.vmdk": 3 * MIB,
}
BIG = "disks/it-vm01-flat.vmdk"


def test_upload_download_round_trip(s3_lab, ansible, tmp_path):
    """Check mode, upload, idempotent re-run, download and its re-run, info; a wrong CA; all at -vvvv."""
    src, dest = tmp_path / "src", tmp_path / "dest"
    files = make_files(src, VM_FILES)
    prefix, tx = "vmops/it-vm01", "tx-round-1"
    result = ansible(PLAYBOOKS / "upload_roundtrip.yml", dict(
        src=str(src), dest=str(dest), dest_planned=str(tmp_path / "dest-planned"), tx=tx, prefix=prefix,
        file_count=len(VM_FILES), total_bytes=sum(VM_FILES.values()), big_file=BIG, big_size=VM_FILES[BIG]),
        verbosity=4).assert_ok()
    assert "secret_key" in result.output, "-vvvv should show the module arguments (masked)"

    client = s3_lab.s3_server.client()
    stored = keys(client, prefix + "/")
    assert stored == dict({"%s/%s/%s" % (prefix, tx, rel): size for rel, size in VM_FILES.items()},
                          **{"%s/%s/%s" % (prefix, tx, MANIFEST): stored.get("%s/%s/%s" % (prefix, tx, MANIFEST))})
    manifest = manifest_of(client, prefix, tx)
    assert {f["path"]: f["sha256"] for f in manifest["files"]} == files
    big = next(f for f in manifest["files"] if f["path"] == BIG)
    assert big["parts"] == 3 and big["part_size"] == 5 * MIB, big
    for entry in manifest["files"]:
        body = client.get_object(Bucket=BUCKET, Key=entry["key"])["Body"].read()
        assert hashlib.sha256(body).hexdigest() == files[entry["path"]], entry["path"]
    assert tree(dest) == files, "downloaded files differ from the source, or temporary files were left"
    assert not (tmp_path / "dest-planned").exists(), "check mode created the destination"
    assert not (tmp_path / "dest-wrong-ca").exists()
