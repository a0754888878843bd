# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""s3_transaction_upload against moto's in-process S3 (real multipart semantics) and botocore's Stubber (exact requests)."""

from __future__ import annotations

import builtins
import datetime
import hashlib
import io
import json
import os
import time

import boto3
import botocore.exceptions
import botocore.loaders
import botocore.session
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber
from moto import mock_aws

from ansible.module_utils.testing import patch_module_args

from ansible_collections.vmops.datacenter.plugins.module_utils import _s3, _s3_transfer
from ansible_collections.vmops.datacenter.plugins.module_utils._s3_manifest import (
    finish_manifest,
    manifest_key,
    new_manifest,
    transaction_prefix,
)
from ansible_collections.vmops.datacenter.plugins.modules import s3_transaction_upload

MIB = 1024 * 1024
BUCKET = "vm-backups"
PREFIX = "tintri/prod-sql01"
TID = "awx-4821"
TPREFIX = transaction_prefix(PREFIX, TID)
MANIFEST = manifest_key(PREFIX, TID)
SECRET = "unit/S3+secret-KEY-7f2d9c1e0b"
TOKEN = "unit-session-TOKEN-4a8b6c2d0e"
CONNECTION = dict(access_key="AKIAUNITTESTKEY", secret_key=SECRET, session_token=TOKEN, region="us-east-1", retries=0)
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
LOADER = botocore.loaders.create_loader()
AWS_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")
WRITES = ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "AbortMultipartUpload",
          "DeleteObject", "DeleteObjects")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for variable in AWS_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    # Every module run builds a new session; sharing the loader's parsed service models saves ~80 ms per run.
    monkeypatch.setattr(botocore.session, "create_loader", lambda *args, **kwargs: LOADER)


class Recorder(list):
    """(operation, params without the body) of every request the module's clients make."""

    def names(self, *only):
        return [name for name, _params in self if not only or name in only]

    def params(self, name):
        return [params for op, params in self if op == name]

    def writes(self):
        return self.names(*WRITES)


@pytest.fixture
def s3(monkeypatch):
    """moto's S3 with the bucket; the module's requests are recorded in s3.calls."""
    calls = Recorder()
    hooks = []
    real_new_client = _s3.new_client

    def recording_client(params, **kwargs):
        client = real_new_client(params, **kwargs)
        client.meta.events.register(
            "before-parameter-build.s3",
            lambda model, params, **_: calls.append((model.name, dict((k, v) for k, v in params.items() if k != "Body"))))
        for event, handler in hooks:
            client.meta.events.register_first(event, handler)
        return client

    monkeypatch.setattr(_s3, "new_client", recording_client)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="seed", aws_secret_access_key="seed")
        client.create_bucket(Bucket=BUCKET)
        client.calls = calls
        client.hooks = hooks
        yield client


@pytest.fixture
def run(capsys):
    def run_module(args, check_mode=False, diff=False):
        full = dict(CONNECTION, bucket=BUCKET, prefix=PREFIX, transaction_id=TID)
        full.update(args)
        full["_ansible_check_mode"] = check_mode
        full["_ansible_diff"] = diff
        with patch_module_args(full):
            with pytest.raises(SystemExit):
                s3_transaction_upload.main()
        out = capsys.readouterr().out
        assert SECRET not in out and TOKEN not in out, "a secret leaked into the module output"
        return json.loads(out)

    return run_module


@pytest.fixture
def opens(monkeypatch, tmp_path):
    """Paths under tmp_path opened with open() (which the engine's open_source uses), in order."""
    opened = []
    real_open = builtins.open

    def counting_open(file, *args, **kwargs):
        if str(file).startswith(str(tmp_path)):
            opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", counting_open)
    assert _s3_transfer.open_source.__globals__.get("open", builtins.open) is builtins.open
    return opened


def make_src(tmp_path, big=12 * MIB + 5):
    """A VM directory: a small config file, an empty file and a disk that needs multipart with 5 MiB parts."""
    src = tmp_path / "prod-sql01"
    (src / "disks").mkdir(parents=True)
    (src / "prod-sql01.vmx").write_bytes(b'displayName = "prod-sql01"\n')
    (src / "empty.log").write_bytes(b"")
    (src / "disks" / "prod-sql01-flat.vmdk").write_bytes(os.urandom(big))
    return src


def body(client, key):
    return client.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def stored_manifest(client):
    return json.loads(body(client, MANIFEST))


def multipart_etag(data, part_size):
    digests = [hashlib.md5(data[i:i + part_size]).digest() for i in range(0, len(data), part_size)]
    return "%s-%d" % (hashlib.md5(b"".join(digests)).hexdigest(), len(digests))


def put_multipart(client, key, data, part_size):
    upload = client.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    parts = []
    for number, start in enumerate(range(0, len(data), part_size), 1):
        etag = client.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=number,
                                  Body=data[start:start + part_size])["ETag"]
        parts.append(dict(PartNumber=number, ETag=etag))
    client.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload, MultipartUpload={"Parts": parts})


# Upload, manifest, no-op -----------------------------------------------------------------------------------------

def test_uploads_small_and_multipart_files_and_writes_the_manifest_last(s3, run, tmp_path):
    src = make_src(tmp_path)
    disk = (src / "disks" / "prod-sql01-flat.vmdk").read_bytes()
    source = dict(vm="prod-sql01", snapshot="nightly", snapshot_uuid="SST-1", vmstore="vmstore1.lab")
    result = run(dict(src=str(src), chunk_size="5MiB", source=source))
    assert result["changed"] is True, result
    assert result["transaction"] == dict(bucket=BUCKET, prefix=PREFIX, transaction_id=TID, manifest_key=MANIFEST)
    assert result["uploaded"] == dict(count=3, bytes=len(disk) + 27)
    assert result["unchanged"] == dict(count=0, bytes=0)
    assert [f["action"] for f in result["files"]] == ["upload"] * 3
    assert result["manifest"]["file_count"] == 3 and result["manifest"]["source"] == source
    assert "files" not in result["manifest"]
    assert result["throughput_mib_s"] > 0 and result["duration"] > 0

    assert body(s3, TPREFIX + "disks/prod-sql01-flat.vmdk") == disk
    assert body(s3, TPREFIX + "empty.log") == b""
    assert s3.calls.names("UploadPart").count("UploadPart") == 3
    # No listing and no HEAD after the upload: every object keeps the ETag its PutObject or
    # CompleteMultipartUpload answered.
    assert s3.calls.names().count("ListObjectsV2") == 1
    assert s3.calls.params("HeadObject") == []
    # The manifest is the last write.
    assert s3.calls.writes()[-1] == "PutObject" and s3.calls.params("PutObject")[-1]["Key"] == MANIFEST
    manifest = stored_manifest(s3)
    entries = dict((e["path"], e) for e in manifest["files"])
    assert entries["disks/prod-sql01-flat.vmdk"] == dict(
        path="disks/prod-sql01-flat.vmdk", key=TPREFIX + "disks/prod-sql01-flat.vmdk", size=len(disk),
        sha256=hashlib.sha256(disk).hexdigest(), etag=multipart_etag(disk, 5 * MIB), part_size=5 * MIB, parts=3)
    assert entries["empty.log"]["sha256"] == hashlib.sha256(b"").hexdigest() and entries["empty.log"]["parts"] == 1
    assert manifest["total_bytes"] == len(disk) + 27 and manifest["transaction_id"] == TID
    # Single-part objects carry their SHA-256 as metadata.
    head = s3.head_object(Bucket=BUCKET, Key=TPREFIX + "prod-sql01.vmx")
    assert head["Metadata"]["sha256"] == hashlib.sha256(b'displayName = "prod-sql01"\n').hexdigest()


def test_a_rerun_is_three_requests_and_reads_no_local_file(s3, run, tmp_path, opens):
    src = make_src(tmp_path)
    run(dict(src=str(src), chunk_size="5MiB"))
    s3.calls.clear()
    opens.clear()
    result = run(dict(src=str(src), chunk_size="5MiB"), diff=True)
    assert result["changed"] is False
    assert s3.calls.names() == ["ListObjectsV2", "ListMultipartUploads", "GetObject"]
    assert opens == [], "the no-op path read local files"
    assert result["uploaded"] == dict(count=0, bytes=0) and result["unchanged"]["count"] == 3
    assert result["diff"]["before"] == result["diff"]["after"]
    assert result["manifest"]["file_count"] == 3


def test_a_thousand_file_noop_is_exactly_four_requests_and_fast(monkeypatch, run, tmp_path, opens):
    """Stubber: strict registry of requests; two listing pages, the uploads listing, the manifest."""
    src = tmp_path / "many"
    src.mkdir()
    entries = []
    for n in range(1000):
        name = "f%04d.dat" % n
        data = b"%d" % n
        (src / name).write_bytes(data)
        entries.append(dict(path=name, key=TPREFIX + name, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                            etag=hashlib.md5(data).hexdigest(), part_size=None, parts=1))
    manifest = json.dumps(finish_manifest(new_manifest(BUCKET, PREFIX, TID, {}, "2026-11-21T22:00:00Z"),
                                          entries)).encode()
    listed = [dict(Key=e["key"], Size=e["size"], ETag='"%s"' % e["etag"]) for e in entries]
    listed.append(dict(Key=MANIFEST, Size=len(manifest), ETag='"%s"' % hashlib.md5(manifest).hexdigest()))
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    stubber = Stubber(client)
    stubber.add_response("list_objects_v2", dict(Contents=listed[:1000], IsTruncated=True, NextContinuationToken="n2",
                                                 KeyCount=1000), dict(Bucket=BUCKET, Prefix=TPREFIX))
    stubber.add_response("list_objects_v2", dict(Contents=listed[1000:], IsTruncated=False, KeyCount=1),
                         dict(Bucket=BUCKET, Prefix=TPREFIX, ContinuationToken="n2"))
    stubber.add_response("list_multipart_uploads", dict(Bucket=BUCKET, IsTruncated=False), dict(Bucket=BUCKET, Prefix=TPREFIX))
    stubber.add_response("get_object", dict(Body=StreamingBody(io.BytesIO(manifest), len(manifest)),
                                            ContentLength=len(manifest)), dict(Bucket=BUCKET, Key=MANIFEST))
    monkeypatch.setattr(_s3, "new_client", lambda params, **kwargs: client)
    opens.clear()
    with stubber:
        started = time.monotonic()
        result = run(dict(src=str(src)))
        elapsed = time.monotonic() - started
        stubber.assert_no_pending_responses()
    assert result["changed"] is False and result["unchanged"]["count"] == 1000
    assert len(result["files"]) == 100 and result["file_count"] == 1000
    assert opens == []
    assert result["duration"] < 2.0 and elapsed < 2.0, (result["duration"], elapsed)


# Resume ----------------------------------------------------------------------------------------------------------

def test_an_interrupted_multipart_upload_is_resumed_without_resending_good_parts(s3, run, tmp_path):
    src = make_src(tmp_path, big=15 * MIB + 1000)          # 4 parts of 5 MiB
    disk = (src / "disks" / "prod-sql01-flat.vmdk").read_bytes()
    key = TPREFIX + "disks/prod-sql01-flat.vmdk"
    # What a killed run leaves: parts 1 and 2 stored, part 3 damaged (same size, other bytes), part 4 never sent;
    # plus an older attempt with nothing in it.
    stale = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    for number, data in ((1, disk[:5 * MIB]), (2, disk[5 * MIB:10 * MIB]), (3, os.urandom(5 * MIB))):
        s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=number, Body=data)
    # The task now asks for 8 MiB parts: the upload's own part size (5 MiB) is used.
    result = run(dict(src=str(src), chunk_size="8MiB"))
    assert result["changed"] is True
    sent = [(p["Key"], p["PartNumber"]) for p in s3.calls.params("UploadPart")]
    assert sorted(sent) == [(key, 3), (key, 4)]
    assert all(p["UploadId"] == upload for p in s3.calls.params("UploadPart"))
    assert [p["UploadId"] for p in s3.calls.params("AbortMultipartUpload")] == [stale]
    assert result["resumed"] == dict(files=1, parts_reused=2, bytes_reused=10 * MIB)
    assert result["uploaded"]["bytes"] == len(disk) - 10 * MIB + 27
    assert [f for f in result["files"] if f["action"] == "resume"] == [
        dict(path="disks/prod-sql01-flat.vmdk", action="resume", size=len(disk), parts_reused=2)]
    assert body(s3, key) == disk
    entry = [e for e in stored_manifest(s3)["files"] if e["key"] == key][0]
    assert entry["part_size"] == 5 * MIB and entry["parts"] == 4 and entry["sha256"] == hashlib.sha256(disk).hexdigest()
    assert s3.list_multipart_uploads(Bucket=BUCKET, Prefix=TPREFIX).get("Uploads", []) == []


def test_connection_drops_past_the_retries_leave_a_resumable_upload(s3, run, tmp_path, monkeypatch):
    """Part 3 keeps failing (every attempt, retries included): the run fails; the next one sends only what is missing."""
    sleeps = []
    monkeypatch.setattr(time, "sleep", sleeps.append)               # botocore's retry backoff, without waiting
    src = make_src(tmp_path, big=20 * MIB)
    disk = (src / "disks" / "prod-sql01-flat.vmdk").read_bytes()
    key = TPREFIX + "disks/prod-sql01-flat.vmdk"
    attempts = []

    def drop_part_3(request, **_):
        if "partNumber=3&" in request.url + "&":
            attempts.append(request.url)
            raise botocore.exceptions.ConnectionClosedError(endpoint_url=request.url)

    s3.hooks.append(("before-send.s3.UploadPart", drop_part_3))
    failed = run(dict(src=str(src), chunk_size="5MiB", concurrency=2, retries=2))
    assert failed["failed"] is True
    assert "UploadPart (part 3) failed" in failed["msg"] and key in failed["msg"]
    assert "run the task again with transaction_id %s to resume" % TID in failed["msg"]
    assert len(attempts) >= 3 and len(sleeps) >= 2                 # botocore retried before giving up
    assert "CompleteMultipartUpload" not in s3.calls.names() and "AbortMultipartUpload" not in s3.calls.names()
    assert MANIFEST not in [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=TPREFIX).get("Contents", [])]
    uploads = s3.list_multipart_uploads(Bucket=BUCKET, Prefix=TPREFIX)["Uploads"]
    stored = set(p["PartNumber"] for p in s3.list_parts(Bucket=BUCKET, Key=key, UploadId=uploads[0]["UploadId"])["Parts"])
    assert {1, 2} <= stored and 3 not in stored

    s3.hooks.clear()
    s3.calls.clear()
    result = run(dict(src=str(src), chunk_size="5MiB", concurrency=2))
    assert result["changed"] is True and result["resumed"]["parts_reused"] == len(stored)
    assert sorted(p["PartNumber"] for p in s3.calls.params("UploadPart")) == sorted({1, 2, 3, 4} - stored)
    assert body(s3, key) == disk and stored_manifest(s3)["file_count"] == 3


def test_check_mode_on_an_interrupted_upload_counts_the_parts_it_would_keep(s3, run, tmp_path):
    src = make_src(tmp_path, big=15 * MIB)
    disk = (src / "disks" / "prod-sql01-flat.vmdk").read_bytes()
    key = TPREFIX + "disks/prod-sql01-flat.vmdk"
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=2, Body=disk[5 * MIB:10 * MIB])
    result = run(dict(src=str(src), chunk_size="5MiB"), check_mode=True)
    assert result["changed"] is True
    assert result["resumed"] == dict(files=1, parts_reused=1, bytes_reused=5 * MIB)
    assert result["uploaded"] == dict(count=3, bytes=len(disk) - 5 * MIB + 27)
    assert s3.calls.writes() == []
    assert s3.calls.names("ListParts") == ["ListParts"]


# ETag verification without a manifest ----------------------------------------------------------------------------

def test_objects_of_an_interrupted_run_are_verified_by_md5_or_multipart_etag(s3, run, tmp_path, opens):
    src = make_src(tmp_path, big=12 * MIB)
    disk = (src / "disks" / "prod-sql01-flat.vmdk").read_bytes()
    s3.put_object(Bucket=BUCKET, Key=TPREFIX + "prod-sql01.vmx", Body=(src / "prod-sql01.vmx").read_bytes())
    # Stored with 5 MiB parts while the task now says 8 MiB: the part count in the ETag finds the part size.
    put_multipart(s3, TPREFIX + "disks/prod-sql01-flat.vmdk", disk, 5 * MIB)
    s3.put_object(Bucket=BUCKET, Key=TPREFIX + "empty.log", Body=b"")
    result = run(dict(src=str(src), chunk_size="8MiB"))
    assert result["changed"] is True                               # the manifest was missing
    assert result["unchanged"]["count"] == 3 and result["uploaded"]["count"] == 0
    assert s3.calls.writes() == ["PutObject"] and s3.calls.params("PutObject")[0]["Key"] == MANIFEST
    assert len([p for p in opens if p.endswith("flat.vmdk")]) == 1   # one read computes every digest
    entry = [e for e in stored_manifest(s3)["files"] if e["path"] == "disks/prod-sql01-flat.vmdk"][0]
    assert entry["etag"] == multipart_etag(disk, 5 * MIB) and entry["part_size"] == 5 * MIB and entry["parts"] == 3
    assert entry["sha256"] == hashlib.sha256(disk).hexdigest()


def test_an_object_with_the_right_size_and_other_content_is_uploaded_again(s3, run, tmp_path):
    src = make_src(tmp_path)
    s3.put_object(Bucket=BUCKET, Key=TPREFIX + "prod-sql01.vmx", Body=b"X" * 27)
    result = run(dict(src=str(src), chunk_size="5MiB"))
    assert dict((f["path"], f["action"]) for f in result["files"])["prod-sql01.vmx"] == "upload"
    assert body(s3, TPREFIX + "prod-sql01.vmx") == (src / "prod-sql01.vmx").read_bytes()


def test_a_whole_object_md5_etag_after_multipart_is_verified_too(monkeypatch, run, tmp_path):
    """Stores like rclone list a multipart object with the MD5 of the whole object; that verifies as well."""
    src = tmp_path / "src"
    src.mkdir()
    data = os.urandom(6 * MIB)
    (src / "disk.vmdk").write_bytes(data)
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    stubber = Stubber(client)
    stubber.add_response("list_objects_v2", dict(Contents=[dict(Key=TPREFIX + "disk.vmdk", Size=len(data),
                                                                ETag='"%s"' % hashlib.md5(data).hexdigest())],
                                                 IsTruncated=False, KeyCount=1), dict(Bucket=BUCKET, Prefix=TPREFIX))
    stubber.add_response("list_multipart_uploads", dict(Bucket=BUCKET, IsTruncated=False), dict(Bucket=BUCKET, Prefix=TPREFIX))
    stubber.add_response("put_object", dict(ETag='"m"'), dict(
        Bucket=BUCKET, Key=MANIFEST, Body=ANY, ContentType="application/json", Metadata=ANY))
    monkeypatch.setattr(_s3, "new_client", lambda params, **kwargs: client)
    with stubber:
        result = run(dict(src=str(src), chunk_size="5MiB"))
        stubber.assert_no_pending_responses()
    assert result["changed"] is True and result["unchanged"] == dict(count=1, bytes=len(data))


def test_a_store_that_lists_another_etag_form_is_verified_by_reading_and_nothing_changes(monkeypatch, run, tmp_path):
    """rclone serve s3 answers CompleteMultipartUpload with a multipart ETag but lists the object by its whole MD5:
    the manifest keeps the answered ETag, and a re-run verifies the file by reading it and writes nothing."""
    src = tmp_path / "src"
    src.mkdir()
    data = os.urandom(6 * MIB)
    (src / "disk.vmdk").write_bytes(data)
    key, whole_md5, answered = TPREFIX + "disk.vmdk", hashlib.md5(data).hexdigest(), "%s-2" % ("0" * 32)
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    stubber = Stubber(client)
    stubber.add_response("list_objects_v2", dict(IsTruncated=False, KeyCount=0), dict(Bucket=BUCKET, Prefix=TPREFIX))
    stubber.add_response("list_multipart_uploads", dict(Bucket=BUCKET, IsTruncated=False), dict(Bucket=BUCKET, Prefix=TPREFIX))
    stubber.add_response("create_multipart_upload", dict(UploadId="u1"), dict(Bucket=BUCKET, Key=key))
    for number in (1, 2):
        stubber.add_response("upload_part", dict(ETag='"p%d"' % number), dict(
            Bucket=BUCKET, Key=key, UploadId="u1", PartNumber=number, Body=ANY))
    stubber.add_response("complete_multipart_upload", dict(ETag='"%s"' % answered), dict(
        Bucket=BUCKET, Key=key, UploadId="u1", MultipartUpload=ANY))
    stubber.add_response("put_object", dict(ETag='"m"'), dict(
        Bucket=BUCKET, Key=MANIFEST, Body=ANY, ContentType="application/json", Metadata=ANY))
    written = {}
    client.meta.events.register("before-parameter-build.s3.PutObject",
                                lambda params, **kwargs: written.update(manifest=params["Body"]))
    monkeypatch.setattr(_s3, "new_client", lambda params, **kwargs: client)
    with stubber:
        result = run(dict(src=str(src), chunk_size="5MiB", concurrency=1))
        stubber.assert_no_pending_responses()
    assert result["changed"] is True
    manifest = json.loads(written["manifest"])
    assert [(e["path"], e["etag"], e["parts"]) for e in manifest["files"]] == [("disk.vmdk", answered, 2)]

    # The re-run: the listing shows the whole-file MD5; the file is read once, found equal, nothing is written.
    listed = [dict(Key=key, Size=len(data), ETag='"%s"' % whole_md5),
              dict(Key=MANIFEST, Size=len(written["manifest"]), ETag='"m"')]
    stubber = Stubber(client)
    stubber.add_response("list_objects_v2", dict(IsTruncated=False, KeyCount=2, Contents=listed),
                         dict(Bucket=BUCKET, Prefix=TPREFIX))
    stubber.add_response("list_multipart_uploads", dict(Bucket=BUCKET, IsTruncated=False), dict(Bucket=BUCKET, Prefix=TPREFIX))
    stubber.add_response("get_object", dict(Body=StreamingBody(io.BytesIO(written["manifest"]), len(written["manifest"]))),
                         dict(Bucket=BUCKET, Key=MANIFEST))
    with stubber:
        again = run(dict(src=str(src), chunk_size="5MiB", concurrency=1))
        stubber.assert_no_pending_responses()
    assert again["changed"] is False and again["uploaded"]["count"] == 0
    assert [(f["path"], f["action"]) for f in again["files"]] == [("disk.vmdk", "skip")]


# Encryption, tags, metadata, storage class ----------------------------------------------------------------------

def test_sse_kms_tags_metadata_and_storage_class_go_on_every_object_and_the_manifest(s3, run, tmp_path):
    src = make_src(tmp_path)
    result = run(dict(src=str(src), chunk_size="5MiB", encryption="aws:kms", kms_key_id=KMS_KEY,
                      storage_class="STANDARD_IA", tags=dict(owner="platform", retention=30),
                      metadata=dict(job="awx-4821")))
    assert result["changed"] is True, result
    writes = s3.calls.params("PutObject") + s3.calls.params("CreateMultipartUpload")
    assert sorted(w["Key"] for w in writes) == sorted([MANIFEST, TPREFIX + "disks/prod-sql01-flat.vmdk",
                                                       TPREFIX + "empty.log", TPREFIX + "prod-sql01.vmx"])
    for params in writes:
        assert params["ServerSideEncryption"] == "aws:kms" and params["SSEKMSKeyId"] == KMS_KEY, params
        assert params["StorageClass"] == "STANDARD_IA" and params["Tagging"] == "owner=platform&retention=30"
        assert params["Metadata"]["job"] == "awx-4821"
    for params in s3.calls.params("UploadPart"):
        assert "ServerSideEncryption" not in params            # parts inherit the upload's encryption
    for key in [w["Key"] for w in writes]:
        head = s3.head_object(Bucket=BUCKET, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == KMS_KEY
        assert head["StorageClass"] == "STANDARD_IA" and head["Metadata"]["job"] == "awx-4821"
        tags = s3.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]
        assert sorted((t["Key"], t["Value"]) for t in tags) == [("owner", "platform"), ("retention", "30")]


def test_with_sse_kms_and_no_manifest_objects_are_verified_by_their_sha256_metadata(s3, run, tmp_path):
    src = make_src(tmp_path)
    args = dict(src=str(src), chunk_size="5MiB", encryption="aws:kms", kms_key_id=KMS_KEY)
    run(args)
    s3.delete_object(Bucket=BUCKET, Key=MANIFEST)
    s3.calls.clear()
    result = run(args)
    # KMS ETags are no MD5: single-part objects are checked by a HEAD for their sha256 metadata; the multipart
    # object has none and is sent again.
    assert sorted(p["Key"] for p in s3.calls.params("HeadObject")) == sorted(
        [TPREFIX + "disks/prod-sql01-flat.vmdk", TPREFIX + "empty.log", TPREFIX + "prod-sql01.vmx"])
    actions = dict((f["path"], f["action"]) for f in result["files"])
    assert actions == {"disks/prod-sql01-flat.vmdk": "upload", "empty.log": "skip", "prod-sql01.vmx": "skip"}
    assert s3.calls.params("CreateMultipartUpload")[0]["ServerSideEncryption"] == "aws:kms"


def test_archive_storage_class_keeps_the_manifest_readable(s3, run, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a").write_bytes(b"a")
    run(dict(src=str(src), storage_class="DEEP_ARCHIVE"))
    classes = dict((p["Key"], p.get("StorageClass")) for p in s3.calls.params("PutObject"))
    assert classes == {TPREFIX + "a": "DEEP_ARCHIVE", MANIFEST: None}


# Check mode, diff, force, changes --------------------------------------------------------------------------------

def test_check_mode_returns_the_plan_and_writes_nothing(s3, run, tmp_path):
    src = make_src(tmp_path)
    result = run(dict(src=str(src), chunk_size="5MiB"), check_mode=True, diff=True)
    assert result["changed"] is True
    assert result["uploaded"] == dict(count=3, bytes=12 * MIB + 5 + 27)
    assert sorted((f["path"], f["action"]) for f in result["files"]) == [
        ("disks/prod-sql01-flat.vmdk", "upload"), ("empty.log", "upload"), ("prod-sql01.vmx", "upload")]
    assert result["manifest"]["completed"] is None and result["manifest"]["file_count"] == 3
    assert result["diff"] == dict(before=dict(files=0, bytes=0, manifest="absent"),
                                  after=dict(files=3, bytes=12 * MIB + 32, manifest="present"))
    assert s3.calls.names() == ["ListObjectsV2", "ListMultipartUploads"]
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_force_sends_everything_again(s3, run, tmp_path):
    src = make_src(tmp_path)
    run(dict(src=str(src), chunk_size="5MiB"))
    s3.calls.clear()
    result = run(dict(src=str(src), chunk_size="5MiB", force=True))
    assert result["changed"] is True and result["uploaded"]["count"] == 3 and result["unchanged"]["count"] == 0
    assert s3.calls.names("UploadPart").count("UploadPart") == 3
    # No listing and no HEAD after the upload: every object keeps the ETag its PutObject or
    # CompleteMultipartUpload answered.
    assert s3.calls.names().count("ListObjectsV2") == 1
    assert s3.calls.params("HeadObject") == []


def test_a_changed_file_drops_the_old_manifest_first_and_writes_a_new_one(s3, run, tmp_path):
    src = make_src(tmp_path)
    run(dict(src=str(src), chunk_size="5MiB"))
    (src / "prod-sql01.vmx").write_bytes(b'displayName = "prod-sql01-renamed"\n')
    s3.calls.clear()
    result = run(dict(src=str(src), chunk_size="5MiB"))
    assert result["changed"] is True and result["uploaded"]["count"] == 1 and result["unchanged"]["count"] == 2
    writes = [(name, params.get("Key")) for name, params in s3.calls if name in WRITES]
    assert writes == [("DeleteObject", MANIFEST), ("PutObject", TPREFIX + "prod-sql01.vmx"), ("PutObject", MANIFEST)]
    entry = [e for e in stored_manifest(s3)["files"] if e["path"] == "prod-sql01.vmx"][0]
    assert entry["sha256"] == hashlib.sha256(b'displayName = "prod-sql01-renamed"\n').hexdigest()


def test_another_source_verifies_content_and_rewrites_only_the_manifest(s3, run, tmp_path, opens, monkeypatch):
    src = make_src(tmp_path)
    run(dict(src=str(src), chunk_size="5MiB", source=dict(snapshot_uuid="SST-1")))
    s3.calls.clear()
    opens.clear()
    counters = []

    class Counted(s3_transaction_upload.CheckCounter):
        def __init__(self):
            super().__init__()
            counters.append(self)

    monkeypatch.setattr(s3_transaction_upload, "CheckCounter", Counted)
    result = run(dict(src=str(src), chunk_size="5MiB", source=dict(snapshot_uuid="SST-2")))
    assert result["changed"] is True and result["uploaded"]["count"] == 0 and result["unchanged"]["count"] == 3
    assert len(opens) == 3                                          # every file read once to verify it
    # ...and counted for the progress line of the check.
    assert (counters[0].files_done, counters[0].files_total) == (3, 3)
    assert counters[0].bytes_done == counters[0].bytes_total == sum(f.stat().st_size for f in src.rglob("*") if f.is_file())
    assert s3.calls.writes() == ["PutObject"]
    assert stored_manifest(s3)["source"] == dict(snapshot_uuid="SST-2")


def test_stale_uploads_of_a_complete_file_are_aborted(s3, run, tmp_path):
    src = make_src(tmp_path)
    run(dict(src=str(src), chunk_size="5MiB"))
    stale = s3.create_multipart_upload(Bucket=BUCKET, Key=TPREFIX + "disks/prod-sql01-flat.vmdk")["UploadId"]
    s3.calls.clear()
    result = run(dict(src=str(src), chunk_size="5MiB"))
    assert result["changed"] is True and result["aborted_uploads"] == 1 and result["uploaded"]["count"] == 0
    assert [p["UploadId"] for p in s3.calls.params("AbortMultipartUpload")] == [stale]
    assert run(dict(src=str(src), chunk_size="5MiB"))["changed"] is False


def test_include_and_exclude_choose_the_files(s3, run, tmp_path):
    src = make_src(tmp_path)
    result = run(dict(src=str(src), chunk_size="5MiB", include=["*.vmx", "*.log"], exclude=["*.log"]))
    assert [f["path"] for f in result["files"]] == ["prod-sql01.vmx"]
    assert [e["path"] for e in stored_manifest(s3)["files"]] == ["prod-sql01.vmx"]


# Bad input and errors --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (dict(chunk_size="4MiB"), "chunk_size must be between 5 MiB and 5 GiB"),
    (dict(chunk_size="lots"), "chunk_size: cannot read 'lots' as a size"),
    (dict(kms_key_id="alias/backups"), "kms_key_id needs encryption=aws:kms"),
    (dict(transaction_id="../etc"), "transaction id '../etc' must be"),
    (dict(metadata=dict(sha256="x")), "reserved"),
    (dict(tags=dict(owner=dict(a=1))), "values must be strings"),
    (dict(concurrency=0), "concurrency must be between 1 and 64"),
    (dict(bandwidth_limit="1KiB"), "bandwidth_limit must be at least 64 KiB/s"),
])
def test_bad_input_is_refused_before_any_request(s3, run, tmp_path, args, message):
    src = make_src(tmp_path)
    result = run(dict(dict(src=str(src)), **args))
    assert result["failed"] is True and message in result["msg"], result["msg"]
    assert s3.calls == []


def test_a_link_out_of_src_is_refused_before_any_request(s3, run, tmp_path):
    src = make_src(tmp_path)
    (tmp_path / "secret.txt").write_bytes(b"not for S3")
    os.symlink(str(tmp_path / "secret.txt"), src / "notes.txt")
    result = run(dict(src=str(src)))
    assert result["failed"] is True and "notes.txt is a symbolic link" in result["msg"] and "outside src" in result["msg"]
    assert s3.calls == []


def test_an_empty_src_is_refused_rather_than_a_complete_empty_backup(s3, run, tmp_path):
    (tmp_path / "empty").mkdir()
    result = run(dict(src=str(tmp_path / "empty")))
    assert result["failed"] is True and "has no files to upload" in result["msg"]
    assert s3.calls == []
    src = make_src(tmp_path)
    result = run(dict(src=str(src), include=["*.iso"]))
    assert result["failed"] is True and "that match include/exclude" in result["msg"]


def test_a_missing_src_is_clear(s3, run, tmp_path):
    result = run(dict(src=str(tmp_path / "nope")))
    assert result["failed"] is True and "is not a directory" in result["msg"]


def test_a_missing_bucket_names_the_call_status_and_code(s3, run, tmp_path):
    src = make_src(tmp_path)
    result = run(dict(src=str(src), bucket="no-such-bucket"))
    assert result["failed"] is True
    assert "s3://no-such-bucket/%s: ListObjectsV2 failed with HTTP 404 NoSuchBucket" % TPREFIX in result["msg"]
    assert result["s3_error"]["code"] == "NoSuchBucket" and result["s3_error"]["status"] == 404
    assert "Traceback" not in json.dumps(result)


def test_secrets_never_appear_even_in_failures(s3, run, tmp_path):
    src = make_src(tmp_path)
    # The run fixture checks every output for the secret key and the session token; also a failing run.
    result = run(dict(src=str(src), bucket="no-such-bucket"))
    assert result["failed"] is True
    assert result["invocation"]["module_args"]["secret_key"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def test_started_time_is_a_utc_timestamp(s3, run, tmp_path):
    src = make_src(tmp_path)
    result = run(dict(src=str(src)))
    started = datetime.datetime.fromisoformat(result["manifest"]["started"].replace("Z", "+00:00"))
    assert started.tzinfo is not None
