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

import base64
import datetime
import hashlib
import json
import random
import threading
import time
from pathlib import Path

import pytest

from simulators.s3 import FaultProxy

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


# A VM's directory: configuration (an empty .vmsd too), logs, a small disk and one disk above the 5 MiB part size
# (three parts), and names with spaces, '+', '%', '#' and non-ASCII characters.
VM_FILES = {
    "it-vm01.vmx": 3 * 1024,
    "it vm01 (copy) #2.vmx": 1000,
    "notes/ñandú+50%.txt": 10,
    "it-vm01.nvram": 8 * 1024 + 7,
    "it-vm01.vmsd": 0,
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


def flip_byte(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def put_manifest(client, prefix, tx, files, completed=None, vm="it-vm01"):
    """A manifest of this collection's format listing `files`, written directly (the objects are the caller's)."""
    completed = completed or datetime.datetime(2026, 1, 1, 0, 1, tzinfo=datetime.timezone.utc)
    manifest = dict(format="vmops.datacenter/s3-transaction/1", transaction_id=tx, bucket=BUCKET, prefix=prefix,
                    started=iso(completed - datetime.timedelta(minutes=1)), completed=iso(completed),
                    collection_version="0.1.0", source=dict(vm=vm), files=files, file_count=len(files),
                    total_bytes=sum(f["size"] for f in files))
    client.put_object(Bucket=BUCKET, Key="%s/%s/%s" % (prefix, tx, MANIFEST), Body=json.dumps(manifest).encode())


def entry(prefix, tx, path, data, key=None):
    return dict(path=path, key=key or "%s/%s/%s" % (prefix, tx, path), size=len(data),
                sha256=hashlib.sha256(data).hexdigest(), etag=hashlib.md5(data).hexdigest())


def test_download_detects_corruption_and_refuses_unsafe_transactions(s3_lab, ansible, tmp_path):
    """A changed local file is fetched again; damaged objects, incomplete and hostile transactions are refused."""
    src, dest = tmp_path / "src", tmp_path / "dest"
    files = make_files(src, VM_FILES, seed=2)
    prefix = "vmops/it-vm01"
    ansible(PLAYBOOKS / "upload_transactions.yml", dict(
        src=str(src), prefix=prefix, transactions=["tx-good", "tx-corrupt"], download_tx="tx-good",
        download_dest=str(dest))).assert_ok()
    assert tree(dest) == files

    server = s3_lab.s3_server
    client = server.client()
    # A file in dest changed behind the module's back (same size), and a temporary file of a killed run next to it.
    tampered = "logs/vmware.log"
    flip_byte(dest / tampered, 100)
    stale = dest / "logs" / ".vmware.log.vmops-0123456789ab.part"
    stale.write_bytes(b"left by a killed run")
    # One byte flipped in the file behind two objects: the big one (ranged GETs) and a small one (one GET).
    corrupted = [BIG, "it-vm01.vmx"]
    for rel in corrupted:
        flip_byte(server.object_path(BUCKET, "%s/tx-corrupt/%s" % (prefix, rel)), VM_FILES[rel] // 2)
    server.forget()
    # Objects without a manifest; hostile manifests written directly.
    client.put_object(Bucket=BUCKET, Key=prefix + "/tx-partial/disks/it-vm01-flat.vmdk", Body=b"half a disk")
    good = b"harmless content"
    client.put_object(Bucket=BUCKET, Key=prefix + "/tx-escape/a.vmx", Body=good)
    put_manifest(client, prefix, "tx-escape", [entry(prefix, "tx-escape", "a.vmx", good),
                                               entry(prefix, "tx-escape", "../escape", b"evil")])
    client.put_object(Bucket=BUCKET, Key=prefix + "/tx-foreign/a.vmx", Body=good)
    put_manifest(client, prefix, "tx-foreign", [
        entry(prefix, "tx-foreign", "a.vmx", good),
        entry(prefix, "tx-foreign", "b.vmx", (src / "it-vm01.vmx").read_bytes(),
              key=prefix + "/tx-good/it-vm01.vmx")])
    # dest with a link on the way: disks -> a directory outside dest.
    outside, dest_link = tmp_path / "outside", tmp_path / "dest-link"
    outside.mkdir()
    dest_link.mkdir()
    (dest_link / "disks").symlink_to(outside)
    # Sources the upload must refuse.
    (tmp_path / "empty").mkdir()
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "disk.vmdk").write_bytes(b"disk")
    (linked / "passwd").symlink_to("/etc/passwd")

    ansible(PLAYBOOKS / "download_refusals.yml", dict(
        prefix=prefix, tx_good="tx-good", tx_corrupt="tx-corrupt", tx_partial="tx-partial", tx_escape="tx-escape",
        tx_foreign_key="tx-foreign", dest=str(dest), dest_corrupt=str(tmp_path / "dest-corrupt"),
        dest_partial=str(tmp_path / "dest-partial"), dest_escape=str(tmp_path / "dest-escape" / "deep"),
        dest_link=str(dest_link), tampered=tampered, tampered_size=VM_FILES[tampered], corrupted=corrupted,
        intact=[rel for rel in VM_FILES if rel not in corrupted], src=str(src), file_count=len(VM_FILES),
        empty_src=str(tmp_path / "empty"), linked_src=str(linked))).assert_ok()

    assert tree(dest) == files, "the changed file was not repaired, or the stale temporary file is still there"
    # (The playbook checked that the failed download left only the intact files.) Repaired by the upload re-run:
    assert tree(tmp_path / "dest-corrupt") == files
    assert {f["path"]: f["sha256"] for f in manifest_of(client, prefix, "tx-corrupt")["files"]} == files
    assert not (tmp_path / "dest-partial").exists()
    assert not (tmp_path / "dest-escape").exists() and not (tmp_path / "escape").exists()
    assert tree(dest_link) == {} and list(outside.iterdir()) == []
    assert keys(client, prefix + "/tx-empty/") == {} and keys(client, prefix + "/tx-link-out/") == {}


class ArmWhenSent(threading.Thread):
    """Arms ``proxy.drop(count, 0)`` once ``threshold`` bytes went up through the proxy: from then on every
    connection is cut as soon as it sends anything (the one in flight, then every retry)."""

    def __init__(self, proxy, threshold, count=50):
        super().__init__(daemon=True)
        self.proxy, self.threshold, self.count = proxy, threshold, count
        self.stop = threading.Event()
        self.armed_at = None

    def run(self):
        while not self.stop.is_set():
            sent = self.proxy.stats["bytes_up"]
            if sent >= self.threshold:
                self.proxy.drop(count=self.count, after_bytes=0)
                self.armed_at = sent
                return
            time.sleep(0.001)


@pytest.mark.parametrize("store", ["rclone", "moto-kms"])
def test_interrupted_upload_resumes_from_its_parts(store, lab, ansible, tmp_path, request):
    """Cut for good in the big file's second part (retries exhausted), then resumed: finished parts are not sent
    (rclone). On moto with SSE-KMS the resumed upload keeps its encryption and unverifiable parts are sent again."""
    src = tmp_path / "src"
    sizes = {"a.vmx": 2048, "disks/big-flat.vmdk": 20 * MIB + 1}
    files = make_files(src, sizes, seed=3)
    prefix, tx, big = "vmops/it-vm02", "tx-resume", "disks/big-flat.vmdk"
    extra = dict(src=str(src), prefix=prefix, tx=tx, big_file=big, big_size=sizes[big], small_size=sizes["a.vmx"])
    if store == "rclone":
        client = request.getfixturevalue("s3_server").client()
        proxy = request.getfixturevalue("s3_proxy")
        extra.update(resume_chunk_size="8MiB")  # the resume must find the 5 MiB parts of the unfinished upload
    else:
        moto = request.getfixturevalue("moto_s3")
        client = moto.client()
        proxy = FaultProxy(moto).start()
        request.addfinalizer(proxy.stop)
        # With SSE-KMS, ETags are no MD5s: parts are verified by the SHA-256 checksum S3 lists with each part. moto's
        # ListParts leaves the checksums out (AWS lists them), so here no part can be verified and, rightly, every
        # part is sent again (moto's ETags happen to be MD5s; a module trusting them would reuse the parts).
        extra.update(encryption="aws:kms", kms_key_id=moto.endpoint["kms_key_id"], checksum_algorithm="sha256",
                     parts_verifiable=False)
    lab.attach_s3(proxy.endpoint)

    # One worker: the parts go one after another, so once 6 MiB went up, part 1 (5 MiB) has been answered.
    watcher = ArmWhenSent(proxy, 6 * MIB)
    watcher.start()
    try:
        ansible(PLAYBOOKS / "upload_resume.yml", dict(extra, phase="interrupt")).assert_ok()
    finally:
        watcher.stop.set()
        watcher.join()
    proxy.clear()
    assert watcher.armed_at is not None and proxy.stats["dropped"] >= 3, proxy.stats  # the cut and 2 retries
    stored = keys(client, prefix + "/")
    assert stored == {"%s/%s/a.vmx" % (prefix, tx): 2048}, "only the small file may be complete: %s" % stored
    uploads = client.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix + "/").get("Uploads", [])
    assert [u["Key"] for u in uploads] == ["%s/%s/%s" % (prefix, tx, big)]
    parts = client.list_parts(Bucket=BUCKET, Key=uploads[0]["Key"], UploadId=uploads[0]["UploadId"])["Parts"]
    assert parts and parts[0]["Size"] == 5 * MIB, parts

    # The resume rides out one more cut connection (default retries).
    proxy.drop(count=1, after_bytes=3 * MIB)
    dropped = proxy.stats["dropped"]
    ansible(PLAYBOOKS / "upload_resume.yml", dict(extra, phase="resume")).assert_ok()
    assert proxy.stats["dropped"] == dropped + 1, proxy.stats
    assert client.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix + "/").get("Uploads", []) == []
    manifest = manifest_of(client, prefix, tx)
    assert {f["path"]: f["sha256"] for f in manifest["files"]} == files
    body = client.get_object(Bucket=BUCKET, Key="%s/%s/%s" % (prefix, tx, big))["Body"].read()
    assert hashlib.sha256(body).hexdigest() == files[big], "the resumed object is not the file"
    if store == "moto-kms":
        for rel in list(sizes) + [MANIFEST]:
            head = client.head_object(Bucket=BUCKET, Key="%s/%s/%s" % (prefix, tx, rel))
            assert head["ServerSideEncryption"] == "aws:kms" and extra["kms_key_id"] in head["SSEKMSKeyId"], head


def test_sse_kms_storage_class_tags_on_moto(lab, moto_s3, ansible, tmp_path):
    """Request shape on moto: every object and the manifest carry SSE-KMS with the key, the class, tags, metadata."""
    src, dest = tmp_path / "src", tmp_path / "dest"
    sizes = {"it-vm03.vmx": 1500, "disks/it-vm03-flat.vmdk": 12 * MIB}
    files = make_files(src, sizes, seed=4)
    prefix = "vmops/it-vm03"
    lab.attach_s3(moto_s3.endpoint)
    ansible(PLAYBOOKS / "aws_features.yml", dict(src=str(src), dest=str(dest), prefix=prefix, file_count=len(sizes),
                                                 total_bytes=sum(sizes.values()))).assert_ok()
    assert tree(dest) == files

    client = moto_s3.client()
    key_id = moto_s3.endpoint["kms_key_id"]
    expected_tags = {"owner": "platform-team", "retention-days": "30"}
    kms_keys = ["%s/tx-kms/%s" % (prefix, rel) for rel in sizes] + ["%s/tx-kms/%s" % (prefix, MANIFEST)]
    for key in kms_keys:
        head = client.head_object(Bucket=BUCKET, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms", (key, head)
        assert key_id in head["SSEKMSKeyId"], (key, head["SSEKMSKeyId"])
        assert head.get("StorageClass") == "STANDARD_IA", (key, head.get("StorageClass"))
        metadata = {k.lower(): v for k, v in head["Metadata"].items()}
        assert metadata["project"] == "vmops" and metadata["change"] == "CHG-1234", (key, metadata)
        tags = {t["Key"]: t["Value"] for t in client.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]}
        assert tags == expected_tags, (key, tags)
    small = client.head_object(Bucket=BUCKET, Key="%s/tx-kms/it-vm03.vmx" % prefix)
    assert {k.lower(): v for k, v in small["Metadata"].items()}["sha256"] == files["it-vm03.vmx"]
    manifest = manifest_of(client, prefix, "tx-kms")
    assert manifest["upload"]["encryption"] == "aws:kms" and {f["path"]: f["sha256"] for f in manifest["files"]} == files

    glacier = client.head_object(Bucket=BUCKET, Key="%s/tx-glacier/it-vm03.vmx" % prefix)
    assert glacier["StorageClass"] == "GLACIER", glacier
    glacier_manifest = client.head_object(Bucket=BUCKET, Key="%s/tx-glacier/%s" % (prefix, MANIFEST))
    assert glacier_manifest.get("StorageClass", "STANDARD") == "STANDARD", glacier_manifest

    for rel in sizes:
        head = client.head_object(Bucket=BUCKET, Key="%s/tx-sha256/%s" % (prefix, rel), ChecksumMode="ENABLED")
        assert head["ServerSideEncryption"] == "AES256", head
    # Every part went with its SHA-256: the object's checksum is the composite of the parts' digests. (moto keeps an
    # additional checksum only when the request names its algorithm, as CreateMultipartUpload does; a precomputed
    # x-amz-checksum-sha256 on a single PUT, which AWS keeps, moto drops, so the small object is not checked here.)
    data = (src / "disks/it-vm03-flat.vmdk").read_bytes()
    digests = b"".join(hashlib.sha256(data[i:i + 5 * MIB]).digest() for i in range(0, len(data), 5 * MIB))
    head = client.head_object(Bucket=BUCKET, Key="%s/tx-sha256/disks/it-vm03-flat.vmdk" % prefix, ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"].split("-")[0] == base64.b64encode(hashlib.sha256(digests).digest()).decode(), head


def test_info_and_prune(s3_lab, ansible, tmp_path):
    """Info: newest first, per VM, latest complete, incomplete listed. Prune: keep_last, older_than_days with now,
    both, never the newest complete copy, check mode, second runs unchanged, idle incomplete transactions."""
    client = s3_lab.s3_server.client()
    prefix = "vmops/protect"
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    ages = {"a-1": 40, "a-2": 30, "a-3": 20, "b-1": 60, "c-1": 50, "c-2": 45}
    for tx, days in ages.items():
        data = ("disk of %s" % tx).encode()
        client.put_object(Bucket=BUCKET, Key="%s/%s/disk.vmdk" % (prefix, tx), Body=data)
        put_manifest(client, prefix, tx, [entry(prefix, tx, "disk.vmdk", data)],
                     completed=now - datetime.timedelta(days=days), vm="vm-" + tx[0])
    client.put_object(Bucket=BUCKET, Key=prefix + "/x-partial/disk.vmdk", Body=b"half a disk")
    # An upload in progress with no object yet: only an unfinished multipart upload with one part.
    mpu_key = prefix + "/y-mpu/disk.vmdk"
    upload_id = client.create_multipart_upload(Bucket=BUCKET, Key=mpu_key)["UploadId"]
    client.upload_part(Bucket=BUCKET, Key=mpu_key, UploadId=upload_id, PartNumber=1, Body=b"first part")
    src = tmp_path / "src"
    make_files(src, {"vm-a.vmx": 900, "vm-a-flat.vmdk": 256 * 1024}, seed=5)
    expected = ["a-4", "a-3", "a-2", "a-1", "c-2", "c-1", "b-1", "x-partial"]

    result = ansible(PLAYBOOKS / "info_prune.yml", dict(
        src=str(src), prefix=prefix, expected_order=expected, now_1d=iso(now + datetime.timedelta(days=1)),
        now_2d=iso(now + datetime.timedelta(days=2)))).assert_ok()
    assert "Keeping transaction c-2 although the policy would delete it" in result.output
    assert "Keeping transaction b-1 although the policy would delete it" in result.output
    left = {key.split("/")[2] for key in keys(client, prefix + "/")}
    assert left == {"a-4", "b-1", "c-2"}, left
    assert len(keys(client, prefix + "/a-4/")) == 3
    assert client.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix + "/").get("Uploads", []) == []


def test_prune_on_a_store_without_multipart_uploads(s3_lab, ansible):
    """Any prune that deletes something lists unfinished uploads, and rclone answers NoSuchUpload when it has had none
    since it started (a lab restart, small files only): that means none (regression test; fixed in 34027dd)."""
    client = s3_lab.s3_server.client()
    prefix = "vmops/fresh"
    for tx, completed in (("old", datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)),
                          ("new", datetime.datetime(2026, 2, 1, tzinfo=datetime.timezone.utc))):
        data = b"disk of " + tx.encode()
        client.put_object(Bucket=BUCKET, Key="%s/%s/disk.vmdk" % (prefix, tx), Body=data)
        put_manifest(client, prefix, tx, [entry(prefix, tx, "disk.vmdk", data)], completed=completed)
    result = ansible(PLAYBOOKS / "prune_fresh_store.yml", dict(prefix=prefix))
    assert result.rc == 0, result.tail(30)
    assert set(k.split("/")[2] for k in keys(client, prefix + "/")) == {"new"}
