# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The transfer engine on its own: sizes, the token bucket, the buffer budget, digests, scanning, uploads to fakes."""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import time

import botocore.exceptions
import pytest

from ansible_collections.vmops.datacenter.plugins.module_utils import _s3_transfer as transfer
from ansible_collections.vmops.datacenter.plugins.module_utils._s3 import S3Error
from ansible_collections.vmops.datacenter.plugins.module_utils._s3_transfer import (
    MIB,
    BufferBudget,
    Digest,
    FileAction,
    LocalFile,
    Settings,
    TokenBucket,
    TransferError,
    Uploader,
    download_targets,
    etag_part_sizes,
    parse_size,
    resume_part_size,
    scan_directory,
)

TPREFIX = "vmops/vm1/t1/"
ONE_GIB_OF_ZEROS = "49bc20df15e412a64472421e13fe86ff1c5165e18b2afccf160d4dc19fe68a14"


# Sizes -----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("16MiB", 16 * MIB), ("16M", 16 * MIB), ("16MB", 16 * MIB), ("16 mib", 16 * MIB), (16777216, 16 * MIB),
    ("16777216", 16 * MIB), ("1.5GiB", 1536 * MIB), ("64KiB", 65536), ("512b", 512), ("1T", 1024 ** 4),
])
def test_sizes_in_powers_of_1024(value, expected):
    assert parse_size(value, "chunk_size") == expected


@pytest.mark.parametrize("value", ["16Mb/s", "sixteen", "", "-5MiB", "16 PiB", True])
def test_unreadable_sizes_name_the_option(value):
    with pytest.raises(TransferError, match="chunk_size: cannot read"):
        parse_size(value, "chunk_size")


@pytest.mark.parametrize("settings, message", [
    (dict(chunk_size=4 * MIB), "chunk_size must be between 5 MiB and 5 GiB"),
    (dict(chunk_size=6 * 1024 ** 3), "chunk_size must be between 5 MiB and 5 GiB"),
    (dict(multipart_threshold=1 * MIB), "multipart_threshold must be between"),
    (dict(concurrency=0), "concurrency must be between 1 and 64"),
    (dict(bandwidth_limit=1000), "bandwidth_limit must be at least 64 KiB/s"),
    (dict(kms_key_id="alias/x"), "kms_key_id needs encryption=aws:kms"),
    (dict(metadata={"SHA256": "x"}), "reserved"),
    (dict(metadata={"bad key": "x"}), "metadata 'bad key'"),
    (dict(metadata={"k": "caf\u00e9"}), "printable ASCII"),
])
def test_impossible_settings_are_refused(settings, message):
    with pytest.raises(TransferError, match=message):
        Settings(**settings).validate()


def test_crc32c_without_awscrt_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(transfer, "HAS_CRT", False)
    with pytest.raises(TransferError, match="awscrt"):
        Settings(checksum_algorithm="crc32c")


def test_part_size_grows_past_ten_thousand_parts():
    settings = Settings(chunk_size=5 * MIB)
    assert settings.part_size_for(10 * 1024 ** 3) == 5 * MIB
    big = 5 * MIB * 10000 + 1
    part = settings.part_size_for(big)
    assert part % MIB == 0 and -(-big // part) <= 10000


def test_object_arguments_keep_the_manifest_out_of_archive_classes():
    settings = Settings(encryption="aws:kms", kms_key_id="alias/k", storage_class="DEEP_ARCHIVE",
                        tags={"b": "2", "a": "x y"}, metadata={"owner": "ops"})
    args = settings.object_args()
    assert args == dict(ServerSideEncryption="aws:kms", SSEKMSKeyId="alias/k", StorageClass="DEEP_ARCHIVE",
                        Tagging="a=x+y&b=2", Metadata={"owner": "ops"})
    assert "StorageClass" not in settings.object_args(manifest=True)


# Token bucket ----------------------------------------------------------------------------------------------------

class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_token_bucket_lets_a_burst_through_then_holds_the_rate():
    clock = FakeClock()
    bucket = TokenBucket(1000, burst=1000, clock=clock, sleep=clock.sleep)
    assert bucket.consume(1000) == 0          # the burst
    assert bucket.consume(500) == pytest.approx(0.5)
    assert clock.now == pytest.approx(100.5)
    for _request in range(10):
        bucket.consume(1000)
    # 11,500 bytes with a 1,000-byte burst at 1,000 B/s: 10.5 s, whatever the request sizes.
    assert clock.now - 100 == pytest.approx(10.5)


def test_token_bucket_refills_while_idle_up_to_the_burst_only():
    clock = FakeClock()
    bucket = TokenBucket(1000, burst=2000, clock=clock, sleep=clock.sleep)
    bucket.consume(2000)
    clock.now += 60                            # a minute idle refills 2,000, not 60,000
    assert bucket.consume(2000) == 0
    assert bucket.consume(1000) == pytest.approx(1.0)


def test_token_bucket_shared_by_threads_keeps_the_long_run_rate():
    clock = FakeClock()
    lock = threading.Lock()

    def sleep(seconds):
        with lock:
            clock.sleeps.append(seconds)

    bucket = TokenBucket(1000, burst=1000, clock=clock, sleep=sleep)
    threads = [threading.Thread(target=lambda: [bucket.consume(100) for _request in range(50)]) for _thread in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # The clock never moved, so every request after the burst owes more: the debts add up to (20,000 - 1,000) / 1,000 s
    # of waiting for the last caller, and the sum of all waits is the arithmetic series of the queue.
    assert max(clock.sleeps) == pytest.approx(19.0)
    assert bucket.tokens == pytest.approx(1000 - 20000)


# Buffer budget and the memory bound -------------------------------------------------------------------------------

def test_budget_blocks_until_released_and_admits_an_oversized_request_alone():
    budget = BufferBudget(10)
    budget.acquire(6)
    got = threading.Event()
    thread = threading.Thread(target=lambda: (budget.acquire(6), got.set()))
    thread.start()
    assert not got.wait(0.05)
    budget.release(6)
    assert got.wait(2)
    thread.join()
    budget.release(6)
    budget.acquire(25)                         # larger than the capacity, alone: allowed, no deadlock
    assert budget.peak == 25
    budget.release(25)


class DiscardingClient:
    """An S3 client that keeps nothing: it measures how much part data is inside it at once."""

    def __init__(self, gate=None, fail_part=None):
        self.gate = gate
        self.fail_part = fail_part
        self.lock = threading.Lock()
        self.inside = 0
        self.peak_inside = 0
        self.calls = []
        self.parts = {}     # (key, upload id, part number) -> bytes stored
        self.objects = {}   # key -> size of the completed object

    def create_multipart_upload(self, **kwargs):
        self.calls.append(("CreateMultipartUpload", kwargs))
        return {"UploadId": "upload-1"}

    def upload_part(self, Body, **kwargs):
        with self.lock:
            self.inside += len(Body)
            self.peak_inside = max(self.peak_inside, self.inside)
            self.calls.append(("UploadPart", dict(kwargs, size=len(Body))))
        try:
            if self.gate is not None:
                assert self.gate.wait(30)
            if kwargs["PartNumber"] == self.fail_part:
                raise botocore.exceptions.ConnectionClosedError(endpoint_url="https://s3.test")
            with self.lock:
                self.parts[kwargs["Key"], kwargs["UploadId"], kwargs["PartNumber"]] = len(Body)
            return {"ETag": '"etag-of-part-%d"' % kwargs["PartNumber"]}
        finally:
            with self.lock:
                self.inside -= len(Body)

    def complete_multipart_upload(self, **kwargs):
        with self.lock:
            self.calls.append(("CompleteMultipartUpload", kwargs))
            numbers = [p["PartNumber"] for p in kwargs["MultipartUpload"]["Parts"]]
            self.objects[kwargs["Key"]] = sum(self.parts[kwargs["Key"], kwargs["UploadId"], n] for n in numbers)
        return {"ETag": '"multipart-etag-%d"' % len(numbers)}

    def head_object(self, **kwargs):
        with self.lock:
            self.calls.append(("HeadObject", kwargs))
            return {"ContentLength": self.objects[kwargs["Key"]], "ETag": '"listed-etag-of-%s"' % kwargs["Key"]}

    def put_object(self, Body, **kwargs):
        self.calls.append(("PutObject", dict(kwargs, size=len(Body))))
        return {"ETag": '"%s"' % hashlib.md5(Body).hexdigest()}

    def names(self):
        return [name for name, _params in self.calls]


class ZeroFile:
    """size zero bytes from /dev/zero, then end of file."""

    def __init__(self, size):
        self.left = size
        self.handle = open("/dev/zero", "rb")

    def read(self, count):
        data = self.handle.read(min(count, self.left))
        self.left -= len(data)
        return data

    def close(self):
        self.handle.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def sparse_file(path, size):
    with open(path, "wb") as handle:
        handle.truncate(size)
    return LocalFile(os.path.basename(path), str(path), size)


def action_for(local, action="upload"):
    return FileAction(local, TPREFIX + local.path, action, "test")


def test_one_gib_upload_never_holds_more_than_concurrency_plus_one_chunks(tmp_path):
    size = 1024 * MIB
    local = sparse_file(tmp_path / "disk-flat.vmdk", size)
    settings = Settings()                                         # defaults: 10 workers, 8 MiB parts
    bound = (settings.concurrency + 1) * settings.chunk_size
    assert settings.buffer_capacity == bound == 88 * MIB
    gate = threading.Event()
    client = DiscardingClient(gate=gate)                          # the store stalls until the gate opens
    # The sparse file's bytes, read from /dev/zero: the same data without filling 1 GiB of page cache first.
    uploader = Uploader(client, "bkt", settings, opener=lambda path: ZeroFile(size))
    outcome = {}
    runner = threading.Thread(target=lambda: outcome.update(results=uploader.run([action_for(local)])))
    runner.start()
    # With every worker stuck in a request, the reader fills the budget and then waits: 10 parts sent, 1 read ahead.
    deadline = time.monotonic() + 20
    while uploader.budget.held < bound and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.1)
    assert uploader.budget.held == bound and client.inside == settings.concurrency * settings.chunk_size
    gate.set()
    runner.join(60)
    results = outcome["results"]
    assert uploader.budget.peak == bound and uploader.budget.held == 0
    assert client.peak_inside <= settings.concurrency * settings.chunk_size
    parts = [c for n, c in client.calls if n == "UploadPart"]
    assert sorted(c["PartNumber"] for c in parts) == list(range(1, 129)) and {c["size"] for c in parts} == {8 * MIB}
    # The ETag CompleteMultipartUpload answers is recorded; no HeadObject waits for the store afterwards.
    assert client.names()[-1] == "CompleteMultipartUpload" and "HeadObject" not in client.names()
    complete = client.calls[-1][1]
    assert [p["PartNumber"] for p in complete["MultipartUpload"]["Parts"]] == list(range(1, 129))
    assert results == [dict(path="disk-flat.vmdk", key=TPREFIX + "disk-flat.vmdk", size=size, sha256=ONE_GIB_OF_ZEROS,
                            etag="multipart-etag-128", part_size=8 * MIB, parts=128, parts_reused=0, bytes_reused=0, bytes_sent=size,
                            action="upload")]
    assert uploader.bytes_sent == size


def test_large_files_are_read_in_turns_each_once_and_in_order(tmp_path):
    """Several uploads progress together (stores that ingest one upload serially need that), each file read once."""
    locals_ = []
    for name in ("a.vmdk", "b.vmdk"):
        path = tmp_path / name
        path.write_bytes(os.urandom(5 * MIB * 3))
        locals_.append(LocalFile(name, str(path), 5 * MIB * 3))
    opened = []

    def opener(path):
        opened.append(os.path.basename(path))
        return open(path, "rb")

    client = DiscardingClient()
    Uploader(client, "bkt", Settings(concurrency=1, chunk_size=5 * MIB), opener=opener, streams=2).run(
        [action_for(f) for f in locals_])
    sent = [(c["Key"].rsplit("/", 1)[1], c["PartNumber"]) for n, c in client.calls if n == "UploadPart"]
    assert sent == [("a.vmdk", 1), ("b.vmdk", 1), ("a.vmdk", 2), ("b.vmdk", 2), ("a.vmdk", 3), ("b.vmdk", 3)]
    assert opened == ["a.vmdk", "b.vmdk"]
    assert client.names().count("CompleteMultipartUpload") == 2


def test_many_small_files_share_the_same_budget(tmp_path):
    files = []
    for n in range(40):
        path = tmp_path / ("f%02d" % n)
        path.write_bytes(os.urandom(1000 + n))
        files.append(LocalFile(path.name, str(path), 1000 + n))
    settings = Settings(concurrency=4, chunk_size=5 * MIB)
    uploader = Uploader(DiscardingClient(), "bkt", settings, budget=BufferBudget(3000))
    results = uploader.run([action_for(f) for f in files])
    assert uploader.budget.peak <= 3000
    assert sorted(r["path"] for r in results) == [f.path for f in files]
    by_path = dict((r["path"], r) for r in results)
    assert by_path["f07"]["sha256"] == hashlib.sha256((tmp_path / "f07").read_bytes()).hexdigest()


def test_a_part_that_keeps_failing_stops_the_file_and_leaves_the_upload_resumable(tmp_path):
    local = tmp_path / "disk.bin"
    local.write_bytes(os.urandom(5 * MIB * 4 + 10))
    client = DiscardingClient(fail_part=3)
    uploader = Uploader(client, "bkt", Settings(concurrency=2, chunk_size=5 * MIB))
    with pytest.raises(S3Error) as caught:
        uploader.run([action_for(LocalFile("disk.bin", str(local), local.stat().st_size))])
    assert "UploadPart (part 3) failed" in str(caught.value) and TPREFIX + "disk.bin" in str(caught.value)
    assert "CompleteMultipartUpload" not in client.names()
    assert "AbortMultipartUpload" not in client.names()
    assert uploader.budget.held == 0


def test_additional_checksums_are_computed_locally_and_completed_with(tmp_path):
    data = os.urandom(5 * MIB + 7)
    local = tmp_path / "disk.bin"
    local.write_bytes(data)
    client = DiscardingClient()
    Uploader(client, "bkt", Settings(chunk_size=5 * MIB, checksum_algorithm="sha256")).run(
        [action_for(LocalFile("disk.bin", str(local), len(data)))])
    create = dict(client.calls)["CreateMultipartUpload"]
    assert create["ChecksumAlgorithm"] == "SHA256"
    parts = sorted((c for n, c in client.calls if n == "UploadPart"), key=lambda c: c["PartNumber"])
    expected = [base64.b64encode(hashlib.sha256(piece).digest()).decode() for piece in (data[:5 * MIB], data[5 * MIB:])]
    assert [p["ChecksumSHA256"] for p in parts] == expected
    completed = dict(client.calls)["CompleteMultipartUpload"]["MultipartUpload"]["Parts"]
    assert [p["ChecksumSHA256"] for p in completed] == expected


def test_crc32_checksum_is_the_big_endian_base64_of_zlib_crc32():
    import zlib
    assert transfer.checksum_of(transfer.checksum_factory("crc32"), b"hello") == base64.b64encode(
        zlib.crc32(b"hello").to_bytes(4, "big")).decode()


class RefusingClient(DiscardingClient):
    """Like rclone serve s3: a stored part cannot be replaced with other content (NotImplemented)."""

    def __init__(self, stored):
        super().__init__()
        self.stored = stored

    def upload_part(self, Body, **kwargs):
        if kwargs["UploadId"] == "old" and kwargs["PartNumber"] in self.stored:
            self.calls.append(("UploadPart", dict(kwargs, size=len(Body))))
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "NotImplemented", "Message": "part exists"}, "ResponseMetadata": {"HTTPStatusCode": 501}},
                "UploadPart")
        return super().upload_part(Body, **kwargs)

    def abort_multipart_upload(self, **kwargs):
        self.calls.append(("AbortMultipartUpload", kwargs))


def test_a_store_that_refuses_to_replace_a_part_gets_the_file_as_a_new_upload(tmp_path):
    data = os.urandom(5 * MIB * 3)
    path = tmp_path / "disk.bin"
    path.write_bytes(data)
    action = action_for(LocalFile("disk.bin", str(path), len(data)), "resume")
    good = hashlib.md5(data[5 * MIB:10 * MIB]).hexdigest()
    action.upload = dict(upload_id="old", part_size=5 * MIB, parts={
        1: dict(size=5 * MIB, etag="0" * 32, checksums={}),          # other content: must be sent again, is refused
        2: dict(size=5 * MIB, etag=good, checksums={})})
    client = RefusingClient(stored={1, 2})
    results = Uploader(client, "bkt", Settings(concurrency=1, chunk_size=5 * MIB)).run([action])
    assert ("AbortMultipartUpload", dict(Bucket="bkt", Key=action.key, UploadId="old")) in client.calls
    completed = [c for n, c in client.calls if n == "CompleteMultipartUpload"]
    assert len(completed) == 1 and completed[0]["UploadId"] == "upload-1"
    assert results[0]["action"] == "upload" and results[0]["parts_reused"] == 0 and results[0]["parts"] == 3
    assert action.action == "upload"


def test_no_such_upload_from_the_uploads_listing_means_none_and_unsupported_warns():
    class Lister:
        def __init__(self, code):
            self.code = code

        def get_paginator(self, name):
            return self

        def paginate(self, **kwargs):
            raise botocore.exceptions.ClientError({"Error": {"Code": self.code}, "ResponseMetadata": {"HTTPStatusCode": 404}},
                                                  "ListMultipartUploads")

    assert transfer.list_uploads(Lister("NoSuchUpload"), "bkt", TPREFIX) == ({}, None)
    assert transfer.list_uploads(Lister("NotImplemented"), "bkt", TPREFIX) == ({}, "NotImplemented")
    with pytest.raises(S3Error, match="ListMultipartUploads failed with HTTP 404 AccessDenied"):
        transfer.list_uploads(Lister("AccessDenied"), "bkt", TPREFIX)


def test_sha256_metadata_is_found_whatever_the_case_of_its_key():
    class Header:
        def head_object(self, **kwargs):
            return {"Metadata": {"Sha256": "abc"}}

    assert transfer._head_sha256(Header(), "bkt", "k") == "abc"


def test_a_file_that_shrinks_while_read_is_an_error_naming_it(tmp_path):
    local = tmp_path / "disk.bin"
    local.write_bytes(b"x" * 100)
    with pytest.raises(TransferError, match="changed while it was read"):
        Uploader(DiscardingClient(), "bkt", Settings()).run([action_for(LocalFile("disk.bin", str(local), 200))])


# Digests, ETags, resume ------------------------------------------------------------------------------------------

def multipart_etag(data, part_size):
    digests = [hashlib.md5(data[i:i + part_size]).digest() for i in range(0, len(data), part_size)]
    return "%s-%d" % (hashlib.md5(b"".join(digests)).hexdigest(), len(digests))


def test_digest_computes_md5_sha256_and_multipart_etags_in_one_pass_across_block_boundaries():
    data = os.urandom(10000)
    digest = Digest(part_sizes=[1000, 3333])
    for start in range(0, len(data), 777):                       # blocks that do not line up with the parts
        digest.update(data[start:start + 777])
    assert digest.sha256.hexdigest() == hashlib.sha256(data).hexdigest()
    assert digest.multipart_etag(1000) == multipart_etag(data, 1000)
    assert digest.multipart_etag(3333) == multipart_etag(data, 3333)
    assert digest.etag_matches('"%s"' % hashlib.md5(data).hexdigest())      # whole-object MD5 (rclone style)
    assert digest.etag_matches(multipart_etag(data, 3333))                   # multipart form (AWS style)
    assert not digest.etag_matches(multipart_etag(data, 2000))
    assert not digest.etag_matches(hashlib.md5(b"other").hexdigest())


def test_part_sizes_to_try_for_a_multipart_etag():
    size = 100 * MIB + 3
    assert etag_part_sizes("0" * 32 + "-7", size, 16 * MIB) == [16 * MIB, 15 * MIB, 16 * MIB]
    assert 8 * MIB in etag_part_sizes("0" * 32 + "-13", size, 16 * MIB)
    assert etag_part_sizes("0" * 32, size, 16 * MIB) == []


@pytest.mark.parametrize("parts, size, preferred, expected", [
    ({1: 8 * MIB, 2: 8 * MIB}, 20 * MIB, 16 * MIB, 8 * MIB),      # first parts, whatever is configured now
    ({3: 4 * MIB}, 20 * MIB, 8 * MIB, 8 * MIB),                   # only the last part, (20 - 4) / 2 as configured
    ({3: 1 * MIB}, 17 * MIB, None, 8 * MIB),                      # a 1 MiB part can only be the last: (17 - 1) / 2
    ({2: 5 * MIB}, 15 * MIB, 5 * MIB, 5 * MIB),                   # 5 MiB (a full part) or 10 MiB (the last): configured
    ({2: 5 * MIB}, 15 * MIB, None, 5 * MIB),                      # ... or else the largest listed part
    ({2: 8 * MIB, 3: 4 * MIB}, 20 * MIB, None, 8 * MIB),
    ({1: 20 * MIB}, 20 * MIB, 8 * MIB, 20 * MIB),                 # one part that was the whole file
    ({1: 8 * MIB, 2: 7 * MIB}, 20 * MIB, None, None),             # inconsistent: the file changed
    ({1: 8 * MIB}, 5 * MIB, None, None),                          # file smaller than a part now
    ({1: 1 * MIB}, 20 * MIB, None, None),                         # parts below the S3 minimum
    ({}, 20 * MIB, None, None),
])
def test_resume_part_size_from_listed_parts(parts, size, preferred, expected):
    listed = dict((n, dict(size=s, etag="x", checksums={})) for n, s in parts.items())
    assert resume_part_size(listed, size, preferred) == expected


# Scanning ------------------------------------------------------------------------------------------------------

def test_scan_reads_regular_files_and_links_inside_and_warns_about_the_rest(tmp_path):
    (tmp_path / "disks").mkdir()
    (tmp_path / "disks" / "a-flat.vmdk").write_bytes(b"a" * 10)
    (tmp_path / "vm.vmx").write_bytes(b"cfg")
    (tmp_path / "vm.log").write_bytes(b"log")
    os.symlink("disks/a-flat.vmdk", tmp_path / "alias.vmdk")
    os.symlink("disks", tmp_path / "disk-dir")
    os.symlink("nowhere", tmp_path / "dangling")
    os.mkfifo(tmp_path / "pipe")
    files, warnings = scan_directory(str(tmp_path), exclude=["*.log"])
    assert [(f.path, f.size) for f in files] == [("alias.vmdk", 10), ("disks/a-flat.vmdk", 10), ("vm.vmx", 3)]
    assert any("disk-dir" in w and "directory" in w for w in warnings)
    assert any("dangling" in w for w in warnings)
    assert any("pipe" in w and "not a regular file" in w for w in warnings)
    files, _warnings = scan_directory(str(tmp_path), include=["*.vmdk"], exclude=["alias*"])
    assert [f.path for f in files] == ["disks/a-flat.vmdk"]


def test_scan_refuses_links_out_of_src_and_a_manifest_lookalike_naming_each(tmp_path):
    outside = tmp_path / "outside"
    outside.write_bytes(b"secret")
    src = tmp_path / "src"
    src.mkdir()
    os.symlink(str(outside), src / "escape")
    (src / "_vmops_manifest.json").write_bytes(b"{}")
    (src / "back\\slash").write_bytes(b"x")
    with pytest.raises(TransferError) as caught:
        scan_directory(str(src))
    message = str(caught.value)
    assert "escape is a symbolic link" in message and "outside src" in message
    assert "_vmops_manifest.json has the name of the transaction manifest" in message
    assert "backslash" in message
    # An excluded link is not a problem.
    (src / "_vmops_manifest.json").unlink()
    (src / "back\\slash").unlink()
    files, _warnings = scan_directory(str(src), exclude=["escape"])
    assert files == []


def test_scan_of_a_missing_directory_is_clear(tmp_path):
    with pytest.raises(TransferError, match="is not a directory"):
        scan_directory(str(tmp_path / "missing"))


# Downloads -------------------------------------------------------------------------------------------------------

class BreakingBody:
    """A GET body that breaks off after ``cut`` bytes, as a dropped connection does."""

    def __init__(self, data, cut=None):
        self.data = data
        self.cut = cut
        self.position = 0

    def read(self, count):
        if self.cut is not None and self.position >= self.cut:
            raise botocore.exceptions.ResponseStreamingError(error="Connection broken: IncompleteRead")
        end = len(self.data) if self.cut is None else self.cut
        chunk = self.data[self.position:min(self.position + count, end)]
        self.position += len(chunk)
        return chunk

    def close(self):
        pass


class RangeClient:
    def __init__(self, data, cuts):
        self.data = data
        self.cuts = list(cuts)
        self.ranges = []

    def get_object(self, Bucket, Key, Range=None):
        self.ranges.append(Range)
        start, end = 0, len(self.data) - 1
        if Range:
            start, end = (int(v) for v in Range[len("bytes="):].split("-"))
        piece = self.data[start:end + 1]
        cut = self.cuts.pop(0) if self.cuts else None
        answer = dict(Body=BreakingBody(piece, cut), ContentLength=len(piece))
        if Range:
            answer["ContentRange"] = "bytes %d-%d/%d" % (start, end, len(self.data))
        return answer


def test_a_body_that_breaks_off_is_fetched_again_from_where_it_stopped(tmp_path):
    data = os.urandom(3 * MIB + 11)
    dest = tmp_path / "dest"
    items = download_targets(dict(files=[entry("disk.vmdk", size=len(data), sha256=hashlib.sha256(data).hexdigest())]),
                             str(dest), TPREFIX)
    client = RangeClient(data, cuts=[MIB + 5, None])
    downloader = transfer.Downloader(client, "bkt", Settings(chunk_size=5 * MIB), block=64 * 1024)
    assert downloader.run(items) == [dict(path="disk.vmdk", size=len(data), verified=True)]
    assert (dest / "disk.vmdk").read_bytes() == data
    assert client.ranges == [None, "bytes=%d-%d" % (MIB + 5, len(data) - 1)]
    assert os.listdir(dest) == ["disk.vmdk"]


def test_a_body_that_keeps_breaking_fails_after_the_retries_and_leaves_no_temporary_file(tmp_path):
    data = os.urandom(12 * MIB)
    dest = tmp_path / "dest"
    items = download_targets(dict(files=[entry("disk.vmdk", size=len(data), sha256=hashlib.sha256(data).hexdigest())]),
                             str(dest), TPREFIX)
    client = RangeClient(data, cuts=[10] * 100)
    with pytest.raises(S3Error, match="GetObject bytes=.* failed"):
        transfer.Downloader(client, "bkt", Settings(chunk_size=5 * MIB, concurrency=2), retries=2).run(items)
    assert os.listdir(dest) == []


# Download targets ------------------------------------------------------------------------------------------------

def entry(path, key=None, size=1, sha256="0" * 64):
    return dict(path=path, key=TPREFIX + path if key is None else key, size=size, sha256=sha256)


@pytest.mark.parametrize("bad, reason", [
    (entry("../escape"), "'..' component"),
    (entry("/etc/passwd"), "absolute"),
    (entry("a/./b"), "'.' component"),
    (entry("a\\b"), "backslash"),
    (entry("a\nb"), "control character"),
    (entry("ok", key="vmops/other/ok"), "is not 'vmops/vm1/t1/ok'"),
    (entry("ok", size=-1), "not a byte count"),
    (entry("ok", sha256="abc"), "not a SHA-256"),
    (entry("_vmops_manifest.json"), "manifest's name"),
])
def test_download_targets_refuse_entries_that_could_escape(tmp_path, bad, reason):
    with pytest.raises(TransferError) as caught:
        download_targets(dict(files=[entry("fine"), bad]), str(tmp_path / "dest"), TPREFIX)
    assert reason in str(caught.value) and "nothing was written" in str(caught.value)
    assert not (tmp_path / "dest").exists()


def test_download_targets_refuse_symlinks_inside_dest_duplicates_and_file_dir_clashes(tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    (tmp_path / "elsewhere").mkdir()
    os.symlink(str(tmp_path / "elsewhere"), dest / "sub")
    with pytest.raises(TransferError, match="is a symbolic link"):
        download_targets(dict(files=[entry("sub/disk.vmdk")]), str(dest), TPREFIX)
    with pytest.raises(TransferError, match="listed twice"):
        download_targets(dict(files=[entry("a"), entry("a")]), str(dest), TPREFIX)
    with pytest.raises(TransferError, match="also a file in the manifest"):
        download_targets(dict(files=[entry("a"), entry("a/b")]), str(dest), TPREFIX)
    items = download_targets(dict(files=[entry("x/y.vmdk")]), str(dest), TPREFIX)
    assert items[0].target == os.path.join(str(dest), "x", "y.vmdk")


def test_a_failed_completion_fails_the_file_names_it_and_keeps_the_parts(tmp_path):
    class RefusingStore(DiscardingClient):
        def complete_multipart_upload(self, **kwargs):
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "InvalidPart", "Message": "One or more parts could not be found."},
                 "ResponseMetadata": {"HTTPStatusCode": 400}}, "CompleteMultipartUpload")

    data = os.urandom(5 * MIB + 1)
    path = tmp_path / "disk.bin"
    path.write_bytes(data)
    store = RefusingStore()
    uploader = Uploader(store, "bkt", Settings(chunk_size=5 * MIB))
    with pytest.raises(S3Error, match=r"CompleteMultipartUpload.*InvalidPart"):
        uploader.run([action_for(LocalFile("disk.bin", str(path), len(data)))])
    assert uploader.results == []
    assert "AbortMultipartUpload" not in store.names()  # the next run resumes from the parts
