# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""s3_transaction_info against moto's in-process S3: listing, filters, the newest complete transaction."""

from __future__ import annotations

import hashlib
import json

import boto3
import botocore.loaders
import botocore.session
import pytest
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
from ansible_collections.vmops.datacenter.plugins.modules import s3_transaction_info

BUCKET = "vm-backups"
PREFIX = "tintri"
SECRET = "unit/S3+secret-KEY-7f2d9c1e0b"
TOKEN = "unit-session-TOKEN-4a8b6c2d0e"
CONNECTION = dict(access_key="AKIAUNITTESTKEY", secret_key=SECRET, session_token=TOKEN, region="us-east-1")
LOADER = botocore.loaders.create_loader()
AWS_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")


@pytest.fixture
def s3(monkeypatch):
    """A moto S3 with the bucket; every request the module makes is recorded in s3.calls as (operation, params)."""
    for variable in AWS_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    calls = []
    real_new_client = _s3.new_client

    def recording_client(params, **kwargs):
        client = real_new_client(params, **kwargs)
        client.meta.events.register("before-parameter-build.s3", lambda model, params, **_: calls.append((model.name, dict(params))))
        return client

    monkeypatch.setattr(_s3, "new_client", recording_client)
    # Every module run builds a new session; sharing the loader's parsed service models saves ~80 ms per run.
    monkeypatch.setattr(botocore.session, "create_loader", lambda *args, **kwargs: LOADER)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="seed", aws_secret_access_key="seed")
        client.create_bucket(Bucket=BUCKET)
        client.calls = calls
        yield client


@pytest.fixture
def run(capsys):
    def run_module(args, check_mode=False, connection=None):
        full = dict(CONNECTION if connection is None else connection, bucket=BUCKET, prefix=PREFIX)
        full.update(args)
        full["_ansible_check_mode"] = check_mode
        with patch_module_args(full):
            with pytest.raises(SystemExit):
                s3_transaction_info.main()
        out = capsys.readouterr().out
        assert SECRET not in out and TOKEN not in out, "a secret leaked into the module output"
        return json.loads(out)

    return run_module


def put_transaction(client, transaction_id, vm="prod-sql01", completed="2026-11-20T22:00:00Z", complete=True,
                    files=None, prefix=PREFIX):
    """Write a transaction as the upload module lays it out: the files, then (complete) the manifest."""
    files = files or {"disk-flat.vmdk": b"disk data " * 10, "vm.vmx": b"config"}
    entries = []
    for path, body in files.items():
        key = transaction_prefix(prefix, transaction_id) + path
        etag = client.put_object(Bucket=BUCKET, Key=key, Body=body)["ETag"]
        entries.append(dict(path=path, key=key, size=len(body), sha256=hashlib.sha256(body).hexdigest(), etag=etag,
                            part_size=None, parts=None))
    if complete:
        manifest = new_manifest(BUCKET, prefix, transaction_id, dict(vm=vm, snapshot="nightly",
                                                                     vmstore="vmstore1.test"), "2026-11-20T21:50:00Z")
        manifest = finish_manifest(manifest, entries)
        manifest["completed"] = completed
        client.put_object(Bucket=BUCKET, Key=manifest_key(prefix, transaction_id), Body=json.dumps(manifest))
    return entries


def lab(client):
    put_transaction(client, "awx-100", completed="2026-11-18T22:00:00Z")
    put_transaction(client, "awx-102", completed="2026-11-20T22:00:00Z")
    put_transaction(client, "awx-101", completed="2026-11-19T22:00:00Z", vm="prod-web01")
    put_transaction(client, "awx-103", complete=False)      # an upload in progress or one that failed
    put_transaction(client, "awx-099", complete=False)
    client.put_object(Bucket=BUCKET, Key="elsewhere/awx-200/vm.vmx", Body=b"x")   # another prefix
    client.put_object(Bucket=BUCKET, Key="tintri/README", Body=b"not a transaction")


def test_newest_complete_first_then_incomplete_in_one_listing_and_one_get_each(s3, run):
    lab(s3)
    result = run({})
    assert result["changed"] is False
    assert [t["transaction_id"] for t in result["transactions"]] == [
        "awx-102", "awx-101", "awx-100", "awx-103", "awx-099"]
    assert [t["complete"] for t in result["transactions"]] == [True, True, True, False, False]
    assert result["count"] == 5
    newest = result["transactions"][0]
    assert newest == dict(transaction_id="awx-102", complete=True, started="2026-11-20T21:50:00Z",
                          completed="2026-11-20T22:00:00Z", file_count=2, total_bytes=106,
                          source=dict(vm="prod-sql01", snapshot="nightly", vmstore="vmstore1.test"),
                          manifest_key="tintri/awx-102/_vmops_manifest.json", collection_version="0.1.0")
    assert result["transactions"][3] == dict(transaction_id="awx-103", complete=False, started=None, completed=None,
                                             file_count=None, total_bytes=None, source=None, manifest_key=None,
                                             collection_version=None)
    assert result["latest_complete"] == newest
    # one listing, one GET per manifest, one single-key listing per incomplete transaction
    assert [call[0] for call in s3.calls] == ["ListObjectsV2"] + ["GetObject"] * 5 + ["ListObjectsV2"] * 2
    assert s3.calls[0][1]["Prefix"] == "tintri/" and s3.calls[0][1]["Delimiter"] == "/"


def test_vm_filter_leaves_out_other_vms_and_incomplete_transactions(s3, run):
    lab(s3)
    result = run(dict(vm="prod-sql01"))
    assert [t["transaction_id"] for t in result["transactions"]] == ["awx-102", "awx-100"]
    assert result["latest_complete"]["transaction_id"] == "awx-102"
    result = run(dict(vm="prod-web01"))
    assert [t["transaction_id"] for t in result["transactions"]] == ["awx-101"]
    assert result["latest_complete"]["transaction_id"] == "awx-101"
    result = run(dict(vm="prod-sql0"))     # exact match only
    assert result["transactions"] == [] and result["count"] == 0 and result["latest_complete"] is None


def test_complete_only(s3, run):
    lab(s3)
    result = run(dict(complete_only=True))
    assert [t["transaction_id"] for t in result["transactions"]] == ["awx-102", "awx-101", "awx-100"]
    assert result["latest_complete"]["transaction_id"] == "awx-102"


def test_only_incomplete_transactions_have_no_latest_complete(s3, run):
    put_transaction(s3, "awx-5", complete=False)
    result = run({})
    assert [t["transaction_id"] for t in result["transactions"]] == ["awx-5"]
    assert result["latest_complete"] is None
    assert run(dict(complete_only=True))["transactions"] == []


def test_files_only_when_asked(s3, run):
    entries = put_transaction(s3, "awx-7", files={"vm/disk-flat.vmdk": b"a" * 300, "vm/vm.vmx": b"b"})
    put_transaction(s3, "awx-8", complete=False)
    result = run({})
    assert "files" not in result["transactions"][0] and "files" not in result["latest_complete"]
    result = run(dict(include_files=True))
    assert result["transactions"][0]["files"] == sorted(entries, key=lambda f: f["path"])
    assert [f["path"] for f in result["transactions"][0]["files"]] == ["vm/disk-flat.vmdk", "vm/vm.vmx"]
    assert result["transactions"][1]["files"] is None
    assert result["latest_complete"]["files"] == result["transactions"][0]["files"]


def test_query_over_transactions_count_and_latest(s3, run):
    lab(s3)
    result = run(dict(query="transactions[?!complete].transaction_id"))
    assert result["query_result"] == ["awx-103", "awx-099"]
    assert result["count"] == 5
    assert run(dict(vm="prod-sql01", query="latest_complete.manifest_key"))["query_result"] == \
        "tintri/awx-102/_vmops_manifest.json"


def test_a_malformed_query_fails_before_any_request(s3, run):
    result = run(dict(query="transactions[?"))
    assert result["failed"] and "Invalid query" in result["msg"]
    assert s3.calls == []


def test_one_transaction_is_a_single_get(s3, run):
    lab(s3)
    result = run(dict(transaction_id="awx-101"))
    assert [t["transaction_id"] for t in result["transactions"]] == ["awx-101"]
    assert result["latest_complete"]["source"]["vm"] == "prod-web01"
    assert [call[0] for call in s3.calls] == ["GetObject"]
    assert s3.calls[0][1]["Key"] == "tintri/awx-101/_vmops_manifest.json"


def test_one_incomplete_or_unknown_transaction(s3, run):
    lab(s3)
    result = run(dict(transaction_id="awx-103"))
    assert result["transactions"] == [dict(transaction_id="awx-103", complete=False, started=None, completed=None,
                                           file_count=None, total_bytes=None, source=None, manifest_key=None,
                                           collection_version=None)]
    assert result["latest_complete"] is None
    assert [call[0] for call in s3.calls] == ["GetObject", "ListObjectsV2"]
    result = run(dict(transaction_id="awx-104"))
    assert result["transactions"] == [] and result["count"] == 0 and result["latest_complete"] is None
    # A transaction id that is a prefix of another is not mistaken for it.
    assert run(dict(transaction_id="awx-10"))["transactions"] == []


def test_one_transaction_with_filters(s3, run):
    lab(s3)
    assert run(dict(transaction_id="awx-101", vm="prod-sql01"))["transactions"] == []
    assert run(dict(transaction_id="awx-103", complete_only=True))["transactions"] == []


@pytest.mark.parametrize("transaction_id", ["../etc", "a/b", "", "-x", "x" * 129])
def test_bad_transaction_id_is_refused_before_any_request(s3, run, transaction_id):
    result = run(dict(transaction_id=transaction_id))
    assert result["failed"] and "Invalid transaction_id" in result["msg"]
    assert s3.calls == []


def test_prefix_spelling_does_not_matter(s3, run):
    lab(s3)
    for prefix in ("/tintri/", "tintri//", "tintri"):
        assert run(dict(prefix=prefix))["count"] == 5


def test_transactions_at_the_bucket_root(s3, run):
    put_transaction(s3, "t1", prefix="")
    result = run(dict(prefix=""))
    assert result["transactions"][0]["manifest_key"] == "t1/_vmops_manifest.json"
    assert s3.calls[0][1]["Prefix"] == ""


def test_empty_prefix_gives_an_empty_list(s3, run):
    result = run({})
    assert result == dict(result, changed=False, transactions=[], count=0, latest_complete=None)


def test_missing_bucket_names_the_call_and_code(s3, run):
    result = run(dict(bucket="no-such-bucket"))
    assert result["failed"]
    assert "s3://no-such-bucket/tintri/" in result["msg"] and "ListObjectsV2" in result["msg"]
    assert "404 NoSuchBucket" in result["msg"]
    assert result["s3_error"]["code"] == "NoSuchBucket"
    assert "Traceback" not in json.dumps(result)


def test_a_corrupt_manifest_fails_naming_its_key(s3, run):
    put_transaction(s3, "awx-1")
    s3.put_object(Bucket=BUCKET, Key="tintri/awx-2/_vmops_manifest.json", Body=b"{not json")
    result = run({})
    assert result["failed"]
    assert "s3://vm-backups/tintri/awx-2/_vmops_manifest.json" in result["msg"] and "not valid JSON" in result["msg"]


def test_check_mode_gives_the_same_result(s3, run):
    lab(s3)
    normal = run({})
    checked = run({}, check_mode=True)
    assert checked["transactions"] == normal["transactions"] and checked["changed"] is False


def test_credentials_from_the_environment_stay_out_of_the_output(s3, run, monkeypatch):
    lab(s3)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUNITTESTKEY")
    result = run({}, connection=dict(region="us-east-1"))
    assert result["count"] == 5    # the run helper asserts that neither secret is in the output


def test_an_empty_directory_listed_as_a_prefix_is_not_a_transaction(monkeypatch, run):
    """Stores that keep directories (rclone's local backend) list a prefix whose objects are all gone."""
    for variable in AWS_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    monkeypatch.setattr(_s3, "new_client", lambda params, **kwargs: client)
    with Stubber(client) as stubber:
        stubber.add_response("list_objects_v2", dict(CommonPrefixes=[dict(Prefix="tintri/t-gone/"),
                                                                     dict(Prefix="tintri/t-partial/")]),
                             dict(Bucket=BUCKET, Prefix="tintri/", Delimiter="/"))
        for name in ("t-gone", "t-partial"):
            stubber.add_client_error("get_object", service_error_code="NoSuchKey", http_status_code=404,
                                     expected_params=dict(Bucket=BUCKET, Key="tintri/%s/_vmops_manifest.json" % name))
        # incomplete transactions come newest id first
        stubber.add_response("list_objects_v2", dict(KeyCount=1, Contents=[dict(Key="tintri/t-partial/a", Size=1)]),
                             dict(Bucket=BUCKET, Prefix="tintri/t-partial/", MaxKeys=1))
        stubber.add_response("list_objects_v2", dict(KeyCount=0), dict(Bucket=BUCKET, Prefix="tintri/t-gone/",
                                                                       MaxKeys=1))
        result = run({})
        stubber.assert_no_pending_responses()
    assert [t["transaction_id"] for t in result["transactions"]] == ["t-partial"]
