# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""s3_transaction_prune: policy decisions and deletions against moto's in-process S3; exact request
sequences (manifest first, batches of 1000, per-key errors) with botocore's Stubber."""

from __future__ import annotations

import datetime
import hashlib
import io
import json

import boto3
import botocore.loaders
import botocore.session
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws

from ansible.module_utils.testing import patch_module_args

from ansible_collections.vmops.datacenter.plugins.module_utils import _s3
from ansible_collections.vmops.datacenter.plugins.module_utils._s3_manifest import (
    finish_manifest,
    manifest_key,
    new_manifest,
    transaction_prefix,
)
from ansible_collections.vmops.datacenter.plugins.modules import s3_transaction_prune

BUCKET = "vm-backups"
PREFIX = "tintri"
SECRET = "unit/S3+secret-KEY-7f2d9c1e0b"
TOKEN = "unit-session-TOKEN-4a8b6c2d0e"
CONNECTION = dict(access_key="AKIAUNITTESTKEY", secret_key=SECRET, session_token=TOKEN, region="us-east-1")
AWS_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")
LOADER = botocore.loaders.create_loader()
UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 12, 1, 0, 0, 0, tzinfo=UTC)
FILES = {"disk-flat.vmdk": b"disk data " * 10, "vm.vmx": b"config"}   # 106 bytes


def iso(moment):
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def ago(days, hours=0):
    return iso(NOW - datetime.timedelta(days=days, hours=hours))


@pytest.fixture(autouse=True)
def environment(monkeypatch):
    for variable in AWS_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    # Every module run builds a new session; sharing the loader's parsed service models saves ~80 ms per run.
    monkeypatch.setattr(botocore.session, "create_loader", lambda *args, **kwargs: LOADER)


@pytest.fixture
def s3(monkeypatch):
    """A moto S3 with the bucket; every request the module makes is recorded in s3.calls as (operation, params)."""
    calls = []
    real_new_client = _s3.new_client

    def recording_client(params, **kwargs):
        client = real_new_client(params, **kwargs)
        client.meta.events.register("before-parameter-build.s3",
                                    lambda model, params, **_: calls.append((model.name, dict(params))))
        return client

    monkeypatch.setattr(_s3, "new_client", recording_client)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="seed", aws_secret_access_key="seed")
        client.create_bucket(Bucket=BUCKET)
        client.calls = calls
        yield client


@pytest.fixture
def run(capsys):
    def run_module(args, check_mode=False, diff=False, connection=None):
        full = dict(CONNECTION if connection is None else connection, bucket=BUCKET, prefix=PREFIX)
        if "now" not in args:
            full["now"] = iso(NOW)
        full.update(args)
        full["_ansible_check_mode"] = check_mode
        full["_ansible_diff"] = diff
        with patch_module_args(full):
            with pytest.raises(SystemExit):
                s3_transaction_prune.main()
        out = capsys.readouterr().out
        assert SECRET not in out and TOKEN not in out, "a secret leaked into the module output"
        return json.loads(out)

    return run_module


def put_transaction(client, transaction_id, vm="prod-sql01", completed=None, complete=True, files=None,
                    prefix=PREFIX):
    """Write a transaction as the upload module lays it out: the files, then (complete) the manifest."""
    files = FILES if files is None else files
    entries = []
    for path, body in files.items():
        key = transaction_prefix(prefix, transaction_id) + path
        etag = client.put_object(Bucket=BUCKET, Key=key, Body=body)["ETag"]
        entries.append(dict(path=path, key=key, size=len(body), sha256=hashlib.sha256(body).hexdigest(), etag=etag,
                            part_size=None, parts=None))
    if complete:
        source = dict(vm=vm, snapshot="nightly") if vm is not None else dict(directory="/exports/misc")
        manifest = finish_manifest(new_manifest(BUCKET, prefix, transaction_id, source, completed), entries)
        manifest["completed"] = completed
        client.put_object(Bucket=BUCKET, Key=manifest_key(prefix, transaction_id), Body=json.dumps(manifest))


def keys(client, prefix=PREFIX + "/"):
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents") or [])


def transaction_ids(client):
    return sorted(set(key.split("/")[1] for key in keys(client)))


def five_nightlies(client, vm="prod-sql01"):
    """Transactions <vm>-n1 (newest, 1 day old), n2 (10 days), n3 (40), n4 (50), n5 (60)."""
    for number, days in enumerate((1, 10, 40, 50, 60), start=1):
        put_transaction(client, "%s-n%d" % (vm, number), vm=vm, completed=ago(days))


def by_id(entries):
    return dict((e["transaction_id"], e) for e in entries)


# -- policies ---------------------------------------------------------------------------------

def test_keep_last_deletes_the_older_ones_then_a_second_run_changes_nothing(s3, run):
    five_nightlies(s3)
    result = run(dict(keep_last=2), diff=True)
    assert result["changed"] is True
    assert [d["transaction_id"] for d in result["deleted"]] == ["prod-sql01-n3", "prod-sql01-n4", "prod-sql01-n5"]
    assert dict(result["deleted"][0], bytes=None) == dict(transaction_id="prod-sql01-n3", complete=True, vm="prod-sql01",
                                                          completed=ago(40), objects=3, bytes=None, multipart_uploads=0,
                                                          reason="policy", detail="beyond the newest 2")
    assert result["deleted_objects"] == 9
    assert [(k["transaction_id"], k["reason"]) for k in result["kept"]] == [
        ("prod-sql01-n1", "keep_last"), ("prod-sql01-n2", "keep_last")]
    assert transaction_ids(s3) == ["prod-sql01-n1", "prod-sql01-n2"]
    assert result["diff"] == dict(before=dict(transactions=["prod-sql01-n%d" % n for n in range(1, 6)]),
                                  after=dict(transactions=["prod-sql01-n1", "prod-sql01-n2"]))
    assert result["now"] == "2026-12-01T00:00:00Z"
    again = run(dict(keep_last=2), diff=True)
    assert again["changed"] is False and again["deleted"] == [] and again["deleted_bytes"] == 0
    assert again["diff"]["before"] == again["diff"]["after"]


def test_deleted_bytes_are_the_listed_object_sizes(s3, run):
    five_nightlies(s3)
    sizes = dict((key, s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"]) for key in keys(s3))
    result = run(dict(keep_last=4))
    (deleted,) = result["deleted"]
    expected = sum(size for key, size in sizes.items() if key.startswith("tintri/prod-sql01-n5/"))
    assert deleted["bytes"] == expected and result["deleted_bytes"] == expected
    assert deleted["objects"] == 3 and result["deleted_objects"] == 3


def test_older_than_days(s3, run):
    five_nightlies(s3)
    result = run(dict(older_than_days=30))
    assert [d["transaction_id"] for d in result["deleted"]] == ["prod-sql01-n3", "prod-sql01-n4", "prod-sql01-n5"]
    assert result["deleted"][0]["detail"] == "completed more than 30 days ago"
    kept = by_id(result["kept"])
    assert kept["prod-sql01-n2"]["reason"] == "newer_than_days"
    assert kept["prod-sql01-n2"]["detail"] == "completed %s, within 30 days" % ago(10)
    assert run(dict(older_than_days=30))["changed"] is False


def test_age_boundary_is_exact(s3, run):
    put_transaction(s3, "t-new", completed=ago(0))
    put_transaction(s3, "t-edge", completed=ago(30))                  # exactly 30 days: not more than 30
    put_transaction(s3, "t-old", completed=ago(30, hours=1))
    result = run(dict(older_than_days=30))
    assert [d["transaction_id"] for d in result["deleted"]] == ["t-old"]


def test_both_options_keep_what_either_keeps(s3, run):
    five_nightlies(s3)
    # keep the newest 3 (n1..n3, although n3 is 40 days old) and anything within 30 days (n1, n2)
    result = run(dict(keep_last=3, older_than_days=30))
    assert [d["transaction_id"] for d in result["deleted"]] == ["prod-sql01-n4", "prod-sql01-n5"]
    assert result["deleted"][0]["detail"] == "beyond the newest 3 and completed more than 30 days ago"
    assert by_id(result["kept"])["prod-sql01-n3"]["reason"] == "keep_last"


def test_both_options_with_a_longer_age(s3, run):
    five_nightlies(s3)
    # keep the newest 1 and anything within 45 days: n1 (keep_last), n2 and n3 (age)
    result = run(dict(keep_last=1, older_than_days=45))
    assert [d["transaction_id"] for d in result["deleted"]] == ["prod-sql01-n4", "prod-sql01-n5"]
    assert [k["reason"] for k in result["kept"]] == ["keep_last", "newer_than_days", "newer_than_days"]


def test_never_the_only_complete_copy_even_when_all_are_older(s3, run):
    five_nightlies(s3)
    result = run(dict(older_than_days=0))
    assert [d["transaction_id"] for d in result["deleted"]] == [
        "prod-sql01-n2", "prod-sql01-n3", "prod-sql01-n4", "prod-sql01-n5"]
    assert result["kept"] == [dict(transaction_id="prod-sql01-n1", complete=True, vm="prod-sql01",
                                   completed=ago(1), reason="newest_complete_copy",
                                   detail="the policy would delete it, but it is the newest complete transaction of "
                                          "prod-sql01")]
    assert "Keeping transaction prod-sql01-n1 although the policy would delete it" in json.dumps(result["warnings"])
    assert transaction_ids(s3) == ["prod-sql01-n1"]
    again = run(dict(older_than_days=0))
    assert again["changed"] is False and again["kept"][0]["reason"] == "newest_complete_copy"


def test_a_single_old_complete_transaction_is_kept(s3, run):
    put_transaction(s3, "only", completed=ago(400))
    result = run(dict(older_than_days=30))
    assert result["changed"] is False and result["deleted"] == []
    assert result["kept"][0]["reason"] == "newest_complete_copy"
    assert transaction_ids(s3) == ["only"]


def test_policy_applies_per_vm_and_the_newest_of_each_vm_is_kept(s3, run):
    five_nightlies(s3, vm="prod-sql01")
    put_transaction(s3, "web-1", vm="prod-web01", completed=ago(90))
    put_transaction(s3, "web-2", vm="prod-web01", completed=ago(100))
    put_transaction(s3, "misc-1", vm=None, completed=ago(95))       # no VM in the manifest: a group of its own
    put_transaction(s3, "misc-2", vm=None, completed=ago(96))
    result = run(dict(keep_last=2))
    assert [d["transaction_id"] for d in result["deleted"]] == ["prod-sql01-n3", "prod-sql01-n4", "prod-sql01-n5"]
    assert set(by_id(result["kept"])) == {"prod-sql01-n1", "prod-sql01-n2", "web-1", "web-2", "misc-1", "misc-2"}
    assert by_id(result["kept"])["misc-1"]["vm"] is None
    result = run(dict(older_than_days=30))
    assert [d["transaction_id"] for d in result["deleted"]] == ["misc-2", "web-2"]     # newest first
    kept = by_id(result["kept"])
    assert kept["web-1"]["reason"] == kept["misc-1"]["reason"] == "newest_complete_copy"
    assert "transactions without a VM" in kept["misc-1"]["detail"]
    assert transaction_ids(s3) == ["misc-1", "prod-sql01-n1", "prod-sql01-n2", "web-1"]


def test_vm_limits_the_scope(s3, run):
    five_nightlies(s3, vm="prod-sql01")
    put_transaction(s3, "web-1", vm="prod-web01", completed=ago(90))
    put_transaction(s3, "web-2", vm="prod-web01", completed=ago(100))
    put_transaction(s3, "partial", complete=False)
    result = run(dict(vm="prod-web01", older_than_days=30), diff=True)
    assert [d["transaction_id"] for d in result["deleted"]] == ["web-2"]
    assert [k["transaction_id"] for k in result["kept"]] == ["web-1"]
    assert result["diff"] == dict(before=dict(transactions=["web-1", "web-2"]), after=dict(transactions=["web-1"]))
    assert len(transaction_ids(s3)) == 7


def test_leftover_and_nested_objects_of_a_transaction_are_deleted_too(s3, run):
    put_transaction(s3, "t2", completed=ago(1))
    put_transaction(s3, "t1", completed=ago(2), files={"vm/disk-flat.vmdk": b"d" * 50, "vm/nested/deep/x.log": b"l"})
    s3.put_object(Bucket=BUCKET, Key="tintri/t1/not-in-manifest.tmp", Body=b"left over")
    s3.put_object(Bucket=BUCKET, Key="tintri/t10/other.vmx", Body=b"another transaction")
    result = run(dict(keep_last=1))
    t1 = by_id(result["deleted"])["t1"]
    assert t1["objects"] == 4
    assert [k for k in keys(s3) if k.startswith("tintri/t1/")] == []
    assert "tintri/t10/other.vmx" in keys(s3)


def test_transactions_at_the_bucket_root(s3, run):
    put_transaction(s3, "r2", completed=ago(1), prefix="")
    put_transaction(s3, "r1", completed=ago(2), prefix="")
    s3.put_object(Bucket=BUCKET, Key="README", Body=b"not a transaction")
    result = run(dict(prefix="/", keep_last=1))
    assert [d["transaction_id"] for d in result["deleted"]] == ["r1"]
    assert keys(s3, "") == ["README", "r2/_vmops_manifest.json", "r2/disk-flat.vmdk", "r2/vm.vmx"]


def test_an_empty_prefix_is_a_noop(s3, run):
    result = run(dict(keep_last=3, prune_incomplete=True), diff=True)
    assert result["changed"] is False and result["deleted"] == [] and result["kept"] == []
    assert result["diff"] == dict(before=dict(transactions=[]), after=dict(transactions=[]))


def test_an_unreadable_completion_time_is_kept_and_does_not_count(s3, run):
    put_transaction(s3, "t3", completed=ago(100))
    put_transaction(s3, "t2", completed="yesterday-ish")
    put_transaction(s3, "t1", completed=ago(200))
    result = run(dict(older_than_days=30))
    assert [d["transaction_id"] for d in result["deleted"]] == ["t1"]
    kept = by_id(result["kept"])
    assert kept["t2"]["reason"] == "completed_time_unknown"
    assert kept["t3"]["reason"] == "newest_complete_copy"
    result = run(dict(keep_last=1))
    assert result["changed"] is False and by_id(result["kept"])["t3"]["reason"] == "keep_last"


def test_completion_times_in_other_zones_are_compared_as_times(s3, run):
    put_transaction(s3, "t-a", completed="2026-11-30T01:00:00+02:00")    # 23:00Z on the 29th
    put_transaction(s3, "t-b", completed="2026-11-29T23:30:00Z")
    result = run(dict(keep_last=1))
    assert [d["transaction_id"] for d in result["deleted"]] == ["t-a"]


# -- incomplete transactions ------------------------------------------------------------------

def real_now(hours=0):
    """moto stamps objects and parts with the real time, so the grace tests measure from it."""
    return iso(datetime.datetime.now(UTC) + datetime.timedelta(hours=hours))


def test_incomplete_transactions_are_kept_unless_asked(s3, run):
    put_transaction(s3, "done", completed=ago(1))
    put_transaction(s3, "partial", complete=False)
    result = run(dict(keep_last=1, now=real_now(hours=100)))
    assert result["changed"] is False
    assert by_id(result["kept"])["partial"] == dict(transaction_id="partial", complete=False, vm=None, completed=None,
                                                    reason="incomplete_not_pruned",
                                                    detail="no manifest; prune_incomplete is off")
    assert [call[0] for call in s3.calls] == ["ListObjectsV2", "GetObject", "GetObject", "ListObjectsV2"]


def test_incomplete_within_grace_is_kept_then_deleted_when_idle(s3, run):
    put_transaction(s3, "partial", complete=False)
    args = dict(keep_last=1, prune_incomplete=True)
    result = run(dict(args, now=real_now(hours=23)))
    assert result["changed"] is False
    assert result["kept"][0]["reason"] == "incomplete_within_grace"
    result = run(dict(args, now=real_now(hours=6), incomplete_grace_hours=2))
    assert [d["transaction_id"] for d in result["deleted"]] == ["partial"]
    assert result["deleted"][0]["reason"] == "incomplete_idle" and result["deleted"][0]["objects"] == 2
    assert "idle for more than 2 hours" in result["deleted"][0]["detail"]
    assert keys(s3) == []


def test_an_upload_in_progress_is_never_removed(s3, run):
    """Only a multipart upload (no object yet), started long ago (moto dates it 2010) with a fresh part."""
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="tintri/inflight/disk-flat.vmdk")
    s3.upload_part(Bucket=BUCKET, Key="tintri/inflight/disk-flat.vmdk", UploadId=upload["UploadId"], PartNumber=1,
                   Body=b"p" * 100)
    result = run(dict(keep_last=1, prune_incomplete=True, now=real_now(hours=1)))
    assert result["changed"] is False
    assert result["kept"][0]["transaction_id"] == "inflight"
    assert result["kept"][0]["reason"] == "incomplete_within_grace"
    assert [call[0] for call in s3.calls] == ["ListObjectsV2", "ListMultipartUploads", "ListObjectsV2", "ListParts"]
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads")
    # Two days later nothing has been written: the upload is aborted.
    result = run(dict(keep_last=1, prune_incomplete=True, now=real_now(hours=48)), diff=True)
    assert result["deleted"] == [dict(transaction_id="inflight", complete=False, vm=None, completed=None, objects=0,
                                      bytes=0, multipart_uploads=1, reason="incomplete_idle",
                                      detail=result["deleted"][0]["detail"])]
    assert result["changed"] is True
    assert not s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads")
    assert result["diff"] == dict(before=dict(transactions=["inflight"]), after=dict(transactions=[]))
    assert run(dict(keep_last=1, prune_incomplete=True, now=real_now(hours=48)))["changed"] is False


def test_deleting_a_transaction_aborts_its_unfinished_uploads_and_no_other(s3, run):
    put_transaction(s3, "t2", completed=ago(1))
    put_transaction(s3, "t1", completed=ago(2))
    mine = s3.create_multipart_upload(Bucket=BUCKET, Key="tintri/t1/extra.vmdk")
    other = s3.create_multipart_upload(Bucket=BUCKET, Key="tintri/t2/extra.vmdk")
    result = run(dict(keep_last=1))
    assert by_id(result["deleted"])["t1"]["multipart_uploads"] == 1
    left = [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads") or []]
    assert left == [other["UploadId"]] and mine["UploadId"] not in left


def test_prune_incomplete_with_vm_is_refused(s3, run):
    result = run(dict(vm="prod-sql01", keep_last=2, prune_incomplete=True))
    assert result["failed"] and "prune_incomplete cannot be combined with vm" in result["msg"]
    assert s3.calls == []


# -- order of deletion, check mode -------------------------------------------------------------

def test_the_manifest_is_deleted_first_and_oldest_transactions_go_first(s3, run):
    five_nightlies(s3)
    s3.create_multipart_upload(Bucket=BUCKET, Key="tintri/prod-sql01-n4/late.vmdk")
    run(dict(keep_last=3))
    writes = [(name, params.get("Key") or [o["Key"] for o in params["Delete"]["Objects"]])
              for name, params in s3.calls if name in ("DeleteObject", "DeleteObjects", "AbortMultipartUpload")]
    assert writes == [
        ("DeleteObject", "tintri/prod-sql01-n5/_vmops_manifest.json"),
        ("DeleteObjects", ["tintri/prod-sql01-n5/disk-flat.vmdk", "tintri/prod-sql01-n5/vm.vmx"]),
        ("DeleteObject", "tintri/prod-sql01-n4/_vmops_manifest.json"),
        ("DeleteObjects", ["tintri/prod-sql01-n4/disk-flat.vmdk", "tintri/prod-sql01-n4/vm.vmx"]),
        ("AbortMultipartUpload", "tintri/prod-sql01-n4/late.vmdk"),
    ]
    # Everything was decided (listing, manifests, object listings) before the first deletion.
    first_write = [call[0] for call in s3.calls].index("DeleteObject")
    assert {call[0] for call in s3.calls[first_write:]} == {"DeleteObject", "DeleteObjects", "AbortMultipartUpload"}


def test_check_mode_returns_the_plan_and_deletes_nothing(s3, run):
    five_nightlies(s3)
    put_transaction(s3, "partial", complete=False)
    before = keys(s3)
    args = dict(keep_last=2, prune_incomplete=True, now=real_now(hours=30))
    plan = run(args, check_mode=True, diff=True)
    assert plan["changed"] is True
    assert [d["transaction_id"] for d in plan["deleted"]] == ["prod-sql01-n3", "prod-sql01-n4", "prod-sql01-n5",
                                                              "partial"]
    assert plan["deleted_objects"] == 11
    assert plan["diff"]["after"] == dict(transactions=["prod-sql01-n1", "prod-sql01-n2"])
    assert keys(s3) == before
    assert not {call[0] for call in s3.calls} & {"DeleteObject", "DeleteObjects", "AbortMultipartUpload"}
    done = run(args, diff=True)
    assert done["deleted"] == plan["deleted"] and done["kept"] == plan["kept"] and done["diff"] == plan["diff"]
    assert done["deleted_bytes"] == plan["deleted_bytes"]
    assert run(args, check_mode=True)["changed"] is False


# -- bad input --------------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (dict(), "one of the following is required: keep_last, older_than_days"),
    (dict(keep_last=0), "keep_last must be at least 1, got 0"),
    (dict(keep_last=-3), "keep_last must be at least 1, got -3"),
    (dict(older_than_days=-1), "older_than_days must be 0 or more, got -1"),
    (dict(keep_last=2, prune_incomplete=True, incomplete_grace_hours=0), "incomplete_grace_hours must be at least 1"),
    (dict(keep_last=2, now="last tuesday"), "now must be an ISO 8601 time"),
    (dict(keep_last="two"), "keep_last"),
])
def test_bad_input_is_refused_before_any_request(s3, run, args, message):
    five_nightlies(s3)
    result = run(args)
    assert result["failed"] and message in result["msg"]
    assert "Traceback" not in json.dumps(result)
    assert s3.calls == []
    assert len(transaction_ids(s3)) == 5


def test_now_without_a_zone_is_utc(s3, run):
    put_transaction(s3, "t2", completed="2026-11-01T00:00:00Z")
    put_transaction(s3, "t1", completed="2026-10-01T00:00:00Z")
    result = run(dict(older_than_days=30, now="2026-11-01T00:00:00"))
    assert result["now"] == "2026-11-01T00:00:00Z"
    assert [d["transaction_id"] for d in result["deleted"]] == ["t1"]
    assert run(dict(older_than_days=30, now="2026-11-01T02:00:00+02:00"))["now"] == "2026-11-01T00:00:00Z"


def test_missing_bucket_names_the_call_and_code(s3, run):
    result = run(dict(bucket="no-such-bucket", keep_last=1))
    assert result["failed"] and result["changed"] is False
    assert "ListObjectsV2" in result["msg"] and "404 NoSuchBucket" in result["msg"]
    assert result["s3_error"]["code"] == "NoSuchBucket"


def test_a_corrupt_manifest_stops_everything_before_deleting(s3, run):
    five_nightlies(s3)
    s3.put_object(Bucket=BUCKET, Key="tintri/prod-sql01-n9/_vmops_manifest.json", Body=b"[]")
    result = run(dict(keep_last=1))
    assert result["failed"] and "not a vmops.datacenter transaction manifest" in result["msg"]
    assert len(transaction_ids(s3)) == 6


def test_credentials_from_the_environment_stay_out_of_the_output(s3, run, monkeypatch):
    five_nightlies(s3)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUNITTESTKEY")
    result = run(dict(keep_last=2), connection=dict(region="us-east-1"), check_mode=True)
    assert len(result["deleted"]) == 3    # the run helper asserts that neither secret is in the output


# -- exact request sequences with the Stubber -------------------------------------------------

def manifest_body(transaction_id, completed, files):
    entries = [dict(path=path, key="tintri/%s/%s" % (transaction_id, path), size=1, sha256="0" * 64, etag='"e"',
                    part_size=None, parts=None) for path in files]
    manifest = finish_manifest(new_manifest(BUCKET, PREFIX, transaction_id, dict(vm="prod-sql01"), completed), entries)
    manifest["completed"] = completed
    data = json.dumps(manifest).encode()
    return dict(Body=StreamingBody(io.BytesIO(data), len(data)), ContentLength=len(data))


@pytest.fixture
def stubbed(monkeypatch):
    """A client whose every request must be expected, in order; nothing reaches the network."""
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    stubber = Stubber(client)
    monkeypatch.setattr(_s3, "new_client", lambda params, **kwargs: client)
    with stubber:
        yield stubber
    stubber.assert_no_pending_responses()


def expect_two_transactions(stubber, old_files):
    """t-new (1 day) and t-old (40 days, with old_files) under tintri/."""
    stubber.add_response("list_objects_v2", dict(CommonPrefixes=[dict(Prefix="tintri/t-new/"),
                                                                 dict(Prefix="tintri/t-old/")], IsTruncated=False),
                         dict(Bucket=BUCKET, Prefix="tintri/", Delimiter="/"))
    stubber.add_response("get_object", manifest_body("t-new", ago(1), ["a"]),
                         dict(Bucket=BUCKET, Key="tintri/t-new/_vmops_manifest.json"))
    stubber.add_response("get_object", manifest_body("t-old", ago(40), old_files),
                         dict(Bucket=BUCKET, Key="tintri/t-old/_vmops_manifest.json"))


def listing(object_keys):
    return [dict(Key=key, Size=10, LastModified=NOW, ETag='"e"') for key in object_keys]


def test_thousands_of_keys_go_in_batches_of_1000_after_the_manifest(stubbed, run):
    files = ["disk%04d.vmdk" % n for n in range(2500)]
    old_keys = sorted(["tintri/t-old/%s" % f for f in files] + ["tintri/t-old/_vmops_manifest.json"])
    expect_two_transactions(stubbed, files)
    stubbed.add_response("list_objects_v2", dict(Contents=listing(old_keys[:1000]), IsTruncated=True,
                                                 NextContinuationToken="page-2"),
                         dict(Bucket=BUCKET, Prefix="tintri/t-old/"))
    stubbed.add_response("list_objects_v2", dict(Contents=listing(old_keys[1000:2000]), IsTruncated=True,
                                                 NextContinuationToken="page-3"),
                         dict(Bucket=BUCKET, Prefix="tintri/t-old/", ContinuationToken="page-2"))
    stubbed.add_response("list_objects_v2", dict(Contents=listing(old_keys[2000:]), IsTruncated=False),
                         dict(Bucket=BUCKET, Prefix="tintri/t-old/", ContinuationToken="page-3"))
    stubbed.add_response("list_multipart_uploads", dict(Uploads=[dict(Key="tintri/t-old/disk9999.vmdk",
                                                                      UploadId="up-1", Initiated=NOW)],
                                                        IsTruncated=False),
                         dict(Bucket=BUCKET, Prefix="tintri/"))
    stubbed.add_response("delete_object", {}, dict(Bucket=BUCKET, Key="tintri/t-old/_vmops_manifest.json"))
    rest = [key for key in old_keys if not key.endswith("_vmops_manifest.json")]
    for start in (0, 1000, 2000):
        stubbed.add_response("delete_objects", dict(Deleted=[]), dict(Bucket=BUCKET, Delete=dict(
            Objects=[dict(Key=key) for key in rest[start:start + 1000]], Quiet=True)))
    stubbed.add_response("abort_multipart_upload", {}, dict(Bucket=BUCKET, Key="tintri/t-old/disk9999.vmdk",
                                                            UploadId="up-1"))
    result = run(dict(older_than_days=30))
    assert result["changed"] is True
    assert result["deleted"] == [dict(transaction_id="t-old", complete=True, vm="prod-sql01", completed=ago(40),
                                      objects=2501, bytes=25010, multipart_uploads=1, reason="policy",
                                      detail="completed more than 30 days ago")]


def test_keys_refused_by_delete_objects_are_reported(stubbed, run):
    expect_two_transactions(stubbed, ["a", "b"])
    old_keys = ["tintri/t-old/_vmops_manifest.json", "tintri/t-old/a", "tintri/t-old/b"]
    stubbed.add_response("list_objects_v2", dict(Contents=listing(old_keys), IsTruncated=False),
                         dict(Bucket=BUCKET, Prefix="tintri/t-old/"))
    stubbed.add_response("list_multipart_uploads", dict(IsTruncated=False),
                         dict(Bucket=BUCKET, Prefix="tintri/"))
    stubbed.add_response("delete_object", {}, dict(Bucket=BUCKET, Key="tintri/t-old/_vmops_manifest.json"))
    stubbed.add_response("delete_objects", dict(Deleted=[dict(Key="tintri/t-old/a")], Errors=[
        dict(Key="tintri/t-old/b", Code="AccessDenied", Message="Access Denied")]), dict(Bucket=BUCKET, Delete=dict(
            Objects=[dict(Key="tintri/t-old/a"), dict(Key="tintri/t-old/b")], Quiet=True)))
    result = run(dict(older_than_days=30))
    assert result["failed"] and result["changed"] is True
    assert "DeleteObjects refused 1 key(s) of transaction t-old" in result["msg"]
    assert "tintri/t-old/b: AccessDenied Access Denied" in result["msg"]
    assert "prune_incomplete=true" in result["msg"]
    assert result["errors"] == [dict(key="tintri/t-old/b", code="AccessDenied", message="Access Denied")]
    assert result["error_count"] == 1
    assert result["deleted"] == [] and result["deleted_objects"] == 0


def test_a_refused_manifest_deletion_stops_before_any_other_key(stubbed, run):
    expect_two_transactions(stubbed, ["a"])
    stubbed.add_response("list_objects_v2", dict(Contents=listing(["tintri/t-old/_vmops_manifest.json",
                                                                   "tintri/t-old/a"]), IsTruncated=False),
                         dict(Bucket=BUCKET, Prefix="tintri/t-old/"))
    stubbed.add_response("list_multipart_uploads", dict(IsTruncated=False),
                         dict(Bucket=BUCKET, Prefix="tintri/"))
    stubbed.add_client_error("delete_object", service_error_code="AccessDenied", service_message="Access Denied",
                             http_status_code=403,
                             expected_params=dict(Bucket=BUCKET, Key="tintri/t-old/_vmops_manifest.json"))
    result = run(dict(older_than_days=30))
    assert result["failed"] and result["changed"] is False
    assert result["msg"] == ("s3://vm-backups/tintri/t-old/_vmops_manifest.json: DeleteObject failed with HTTP 403 "
                             "AccessDenied: Access Denied")
    assert result["s3_error"]["operation"] == "DeleteObject"


def test_a_store_without_multipart_listing_gives_a_warning(stubbed, run):
    expect_two_transactions(stubbed, ["a"])
    stubbed.add_response("list_objects_v2", dict(Contents=listing(["tintri/t-old/_vmops_manifest.json",
                                                                   "tintri/t-old/a"]), IsTruncated=False),
                         dict(Bucket=BUCKET, Prefix="tintri/t-old/"))
    stubbed.add_client_error("list_multipart_uploads", service_error_code="NotImplemented",
                             service_message="not implemented", http_status_code=501,
                             expected_params=dict(Bucket=BUCKET, Prefix="tintri/"))
    stubbed.add_response("delete_object", {}, dict(Bucket=BUCKET, Key="tintri/t-old/_vmops_manifest.json"))
    stubbed.add_response("delete_objects", dict(Deleted=[dict(Key="tintri/t-old/a")]),
                         dict(Bucket=BUCKET, Delete=dict(Objects=[dict(Key="tintri/t-old/a")], Quiet=True)))
    result = run(dict(older_than_days=30, retries=0))
    assert result["changed"] is True and [d["transaction_id"] for d in result["deleted"]] == ["t-old"]
    assert "does not list multipart uploads (NotImplemented)" in json.dumps(result["warnings"])


def test_a_manifest_that_appears_during_the_run_is_not_pruned(stubbed, run):
    stubbed.add_response("list_objects_v2", dict(CommonPrefixes=[dict(Prefix="tintri/t-up/")], IsTruncated=False),
                         dict(Bucket=BUCKET, Prefix="tintri/", Delimiter="/"))
    stubbed.add_client_error("get_object", service_error_code="NoSuchKey", http_status_code=404,
                             expected_params=dict(Bucket=BUCKET, Key="tintri/t-up/_vmops_manifest.json"))
    stubbed.add_response("list_multipart_uploads", dict(IsTruncated=False), dict(Bucket=BUCKET, Prefix="tintri/"))
    stubbed.add_response("list_objects_v2", dict(Contents=listing(["tintri/t-up/_vmops_manifest.json",
                                                                   "tintri/t-up/a"]), IsTruncated=False),
                         dict(Bucket=BUCKET, Prefix="tintri/t-up/"))
    result = run(dict(keep_last=1, prune_incomplete=True))
    assert result["changed"] is False and result["deleted"] == []
    assert result["kept"][0]["reason"] == "became_complete"


def test_an_empty_directory_listed_as_a_prefix_is_ignored(stubbed, run):
    """Stores that keep directories (rclone's local backend) list a prefix whose objects are all gone."""
    stubbed.add_response("list_objects_v2", dict(CommonPrefixes=[dict(Prefix="tintri/t-gone/")], IsTruncated=False),
                         dict(Bucket=BUCKET, Prefix="tintri/", Delimiter="/"))
    stubbed.add_client_error("get_object", service_error_code="NoSuchKey", http_status_code=404,
                             expected_params=dict(Bucket=BUCKET, Key="tintri/t-gone/_vmops_manifest.json"))
    stubbed.add_response("list_multipart_uploads", dict(IsTruncated=False), dict(Bucket=BUCKET, Prefix="tintri/"))
    stubbed.add_response("list_objects_v2", dict(IsTruncated=False), dict(Bucket=BUCKET, Prefix="tintri/t-gone/"))
    result = run(dict(keep_last=1, prune_incomplete=True), diff=True)
    assert result["changed"] is False and result["deleted"] == [] and result["kept"] == []
    assert result["diff"] == dict(before=dict(transactions=[]), after=dict(transactions=[]))
