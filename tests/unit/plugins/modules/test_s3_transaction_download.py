# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""s3_transaction_download against moto's in-process S3: verification, atomic renames, refusals."""

from __future__ import annotations

import hashlib
import json
import os

import boto3
import botocore.loaders
import botocore.session
import pytest
from moto import mock_aws

from ansible.module_utils.testing import patch_module_args

from ansible_collections.vmops.datacenter.plugins.module_utils import _s3
from ansible_collections.vmops.datacenter.plugins.module_utils._s3_manifest import (
    finish_manifest,
    manifest_key,
    new_manifest,
    transaction_prefix,
)
from ansible_collections.vmops.datacenter.plugins.modules import s3_transaction_download

MIB = 1024 * 1024
BUCKET = "vm-backups"
PREFIX = "tintri/prod-sql01"
TID = "awx-4821"
TPREFIX = transaction_prefix(PREFIX, TID)
MANIFEST = manifest_key(PREFIX, TID)
SECRET = "unit/S3+secret-KEY-7f2d9c1e0b"
TOKEN = "unit-session-TOKEN-4a8b6c2d0e"
CONNECTION = dict(access_key="AKIAUNITTESTKEY", secret_key=SECRET, session_token=TOKEN, region="us-east-1", retries=0)
LOADER = botocore.loaders.create_loader()
AWS_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")
FILES = {
    "prod-sql01.vmx": b'displayName = "prod-sql01"\n',
    "empty.log": b"",
    "disks/prod-sql01-flat.vmdk": os.urandom(12 * MIB + 5),
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for variable in AWS_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(botocore.session, "create_loader", lambda *args, **kwargs: LOADER)


@pytest.fixture
def s3(monkeypatch):
    """moto's S3 with the bucket; the module's requests are recorded in s3.calls as (operation, params)."""
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
    def run_module(args, check_mode=False, diff=False):
        full = dict(CONNECTION, bucket=BUCKET, prefix=PREFIX, transaction_id=TID)
        full.update(args)
        full["_ansible_check_mode"] = check_mode
        full["_ansible_diff"] = diff
        with patch_module_args(full):
            with pytest.raises(SystemExit):
                s3_transaction_download.main()
        out = capsys.readouterr().out
        assert SECRET not in out and TOKEN not in out, "a secret leaked into the module output"
        return json.loads(out)

    return run_module


def put_transaction(client, files=None, manifest=True, entries=None):
    """A transaction as the upload module lays it out: the objects, then the manifest."""
    files = FILES if files is None else files
    listed = []
    for path, data in files.items():
        etag = client.put_object(Bucket=BUCKET, Key=TPREFIX + path, Body=data)["ETag"].strip('"')
        listed.append(dict(path=path, key=TPREFIX + path, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                           etag=etag, part_size=None, parts=1))
    if manifest:
        document = finish_manifest(new_manifest(BUCKET, PREFIX, TID, dict(vm="prod-sql01"), "2026-11-21T22:00:00Z"),
                                   listed if entries is None else entries)
        client.put_object(Bucket=BUCKET, Key=MANIFEST, Body=json.dumps(document).encode())
    return listed


def names(client):
    return [name for name, _params in client.calls]


def tree(root):
    """Every file under root, relative path -> bytes (temporary files included, so leftovers show)."""
    found = {}
    for directory, _dirnames, filenames in os.walk(root):
        for name in filenames:
            full = os.path.join(directory, name)
            with open(full, "rb") as handle:
                found[os.path.relpath(full, root).replace(os.sep, "/")] = handle.read()
    return found


def test_downloads_every_file_in_ranges_verified_and_renamed(s3, run, tmp_path):
    put_transaction(s3)
    dest = tmp_path / "restored" / "prod-sql01"
    result = run(dict(dest=str(dest), chunk_size="5MiB"), diff=True)
    assert result["changed"] is True, result
    assert tree(dest) == FILES                                       # no temporary file left behind
    assert result["downloaded"] == dict(count=3, bytes=sum(len(d) for d in FILES.values()))
    assert result["verified"] == 3 and result["unchanged"] == dict(count=0, bytes=0)
    assert result["manifest"]["source"] == dict(vm="prod-sql01") and "files" not in result["manifest"]
    assert result["diff"]["before"] == dict(files=0, bytes=0) and result["diff"]["after"]["files"] == 3
    gets = [p for n, p in s3.calls if n == "GetObject"]
    assert gets[0]["Key"] == MANIFEST
    ranges = sorted(p["Range"] for p in gets if p["Key"].endswith("flat.vmdk"))
    assert ranges == ["bytes=0-5242879", "bytes=10485760-12582916", "bytes=5242880-10485759"]
    assert [p for p in gets if p["Key"].endswith("empty.log")] == []   # nothing to fetch for an empty file
    assert result["throughput_mib_s"] > 0


def test_temporary_files_of_a_killed_run_are_removed(s3, run, tmp_path):
    put_transaction(s3)
    dest = tmp_path / "dest"
    (dest / "disks").mkdir(parents=True)
    (dest / "disks" / ".prod-sql01-flat.vmdk.vmops-0123456789ab.part").write_bytes(b"half")
    (dest / ".unrelated.part").write_bytes(b"mine")
    run(dict(dest=str(dest)))
    assert tree(dest) == dict(FILES, **{".unrelated.part": b"mine"})


def test_a_rerun_skips_present_verified_files_with_one_request(s3, run, tmp_path):
    put_transaction(s3)
    dest = tmp_path / "dest"
    run(dict(dest=str(dest)))
    s3.calls.clear()
    result = run(dict(dest=str(dest)), diff=True)
    assert result["changed"] is False
    assert names(s3) == ["GetObject"]
    assert result["unchanged"] == dict(count=3, bytes=sum(len(d) for d in FILES.values())) and result["verified"] == 3
    assert result["diff"]["before"] == result["diff"]["after"]


def test_a_present_file_with_other_content_is_replaced_and_force_downloads_all(s3, run, tmp_path):
    put_transaction(s3)
    dest = tmp_path / "dest"
    run(dict(dest=str(dest)))
    (dest / "prod-sql01.vmx").write_bytes(b"X" * len(FILES["prod-sql01.vmx"]))   # same size, other bytes
    result = run(dict(dest=str(dest)))
    assert [(f["path"], f["action"]) for f in result["files"] if f["action"] == "download"] == [
        ("prod-sql01.vmx", "download")]
    assert (dest / "prod-sql01.vmx").read_bytes() == FILES["prod-sql01.vmx"]
    assert run(dict(dest=str(dest), force=True))["downloaded"]["count"] == 3


def test_a_corrupt_object_is_named_and_never_lands_under_its_name(s3, run, tmp_path):
    listed = put_transaction(s3)
    disk = FILES["disks/prod-sql01-flat.vmdk"]
    # After the upload the objects were damaged: the disk has other bytes (same size), the config is shorter.
    s3.put_object(Bucket=BUCKET, Key=TPREFIX + "disks/prod-sql01-flat.vmdk", Body=disk[:-1] + b"\0")
    s3.put_object(Bucket=BUCKET, Key=TPREFIX + "prod-sql01.vmx", Body=b"short")
    dest = tmp_path / "dest"
    result = run(dict(dest=str(dest), chunk_size="5MiB"))
    assert result["failed"] is True
    expected = dict((e["path"], e["sha256"]) for e in listed)
    corrupt = dict((c["path"], c) for c in result["corrupt"])
    assert sorted(corrupt) == ["disks/prod-sql01-flat.vmdk", "prod-sql01.vmx"]
    assert corrupt["disks/prod-sql01-flat.vmdk"]["got"] == hashlib.sha256(disk[:-1] + b"\0").hexdigest()
    assert corrupt["prod-sql01.vmx"]["got"] == "the object has 5 bytes, the manifest says 27"
    for path, item in corrupt.items():
        assert item["key"] == TPREFIX + path and item["expected_sha256"] == expected[path]
        assert "%s (key %s): expected sha256 %s" % (path, TPREFIX + path, expected[path]) in result["msg"]
    assert tree(dest) == {"empty.log": b""}                        # the good file only, no temporary files
    assert result["downloaded"]["count"] == 1


def test_an_incomplete_transaction_is_refused_and_nothing_is_written(s3, run, tmp_path):
    put_transaction(s3, manifest=False)
    dest = tmp_path / "dest"
    result = run(dict(dest=str(dest)))
    assert result["failed"] is True
    assert "has no manifest (_vmops_manifest.json), so it is incomplete" in result["msg"]
    assert "Nothing was downloaded" in result["msg"]
    assert not dest.exists()


def test_an_unknown_transaction_is_refused_clearly(s3, run, tmp_path):
    result = run(dict(dest=str(tmp_path / "dest"), transaction_id="never-uploaded"))
    assert result["failed"] is True and "no such transaction" in result["msg"]


@pytest.mark.parametrize("path, key, message", [
    ("../../../etc/cron.d/evil", None, "'..' component"),
    ("/etc/cron.d/evil", None, "absolute"),
    ("disks/evil.vmdk", "tintri/other-vm/awx-1/disks/evil.vmdk", "is not"),
])
def test_a_manifest_path_that_would_escape_dest_is_refused_before_writing(s3, run, tmp_path, path, key, message):
    entries = put_transaction(s3, manifest=False)
    entries.append(dict(path=path, key=key or TPREFIX + path, size=1, sha256="0" * 64, etag="x"))
    document = finish_manifest(new_manifest(BUCKET, PREFIX, TID, {}, "2026-11-21T22:00:00Z"), entries)
    s3.put_object(Bucket=BUCKET, Key=MANIFEST, Body=json.dumps(document).encode())
    dest = tmp_path / "dest"
    result = run(dict(dest=str(dest)))
    assert result["failed"] is True and message in result["msg"], result["msg"]
    assert "refusing" in result["msg"].lower()
    assert not dest.exists() and not (tmp_path / "etc").exists()
    assert names(s3) == ["GetObject"]                               # the manifest only


def test_a_symlink_inside_dest_pointing_out_is_refused(s3, run, tmp_path):
    put_transaction(s3)
    dest = tmp_path / "dest"
    dest.mkdir()
    (tmp_path / "elsewhere").mkdir()
    os.symlink(str(tmp_path / "elsewhere"), dest / "disks")
    result = run(dict(dest=str(dest)))
    assert result["failed"] is True and "is a symbolic link" in result["msg"]
    assert os.listdir(tmp_path / "elsewhere") == [] and os.listdir(dest) == ["disks"]


def test_check_mode_returns_the_plan_and_writes_nothing(s3, run, tmp_path):
    put_transaction(s3)
    dest = tmp_path / "dest"
    result = run(dict(dest=str(dest)), check_mode=True)
    assert result["changed"] is True and result["downloaded"]["count"] == 3
    assert sorted(f["path"] for f in result["files"] if f["action"] == "download") == sorted(FILES)
    assert not dest.exists()
    assert names(s3) == ["GetObject"]


def test_without_verify_present_files_of_the_right_size_are_kept(s3, run, tmp_path):
    put_transaction(s3)
    dest = tmp_path / "dest"
    run(dict(dest=str(dest)))
    (dest / "prod-sql01.vmx").write_bytes(b"X" * len(FILES["prod-sql01.vmx"]))
    result = run(dict(dest=str(dest), verify=False))
    assert result["changed"] is False and result["verified"] == 0


def test_dest_that_is_a_file_is_refused(s3, run, tmp_path):
    put_transaction(s3)
    (tmp_path / "dest").write_bytes(b"")
    result = run(dict(dest=str(tmp_path / "dest")))
    assert result["failed"] is True and "is not a directory" in result["msg"]
    assert names(s3) == []


def test_bad_chunk_size_is_refused_before_any_request(s3, run, tmp_path):
    result = run(dict(dest=str(tmp_path / "dest"), chunk_size="1MiB"))
    assert result["failed"] is True and "chunk_size must be between 5 MiB and 5 GiB" in result["msg"]
    assert names(s3) == []


def test_bandwidth_limit_throttles_through_the_shared_bucket(s3, run, tmp_path, monkeypatch):
    import time
    put_transaction(s3)
    sleeps = []
    monkeypatch.setattr(time, "sleep", sleeps.append)
    result = run(dict(dest=str(tmp_path / "dest"), bandwidth_limit="1MiB"))
    assert result["changed"] is True
    # Sleeping is faked, so the debt only grows: the last reader owes what 12 MiB at 1 MiB/s with a 1 MiB burst
    # takes, about 11 s after the start (each worker sleeps its own share of the queue, concurrently).
    assert max(sleeps) == pytest.approx(11.0, abs=0.5)


def test_a_missing_bucket_names_the_call(s3, run, tmp_path):
    result = run(dict(dest=str(tmp_path / "dest"), bucket="no-such-bucket"))
    assert result["failed"] is True and "GetObject failed with HTTP 404 NoSuchBucket" in result["msg"]
    assert result["invocation"]["module_args"]["secret_key"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
