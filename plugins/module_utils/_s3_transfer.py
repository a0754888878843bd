# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Moving a directory to an S3 transaction and back: planning, parallel transfers, verification.

Uploads read every file once, sequentially, in the calling thread (computing its SHA-256 as they
go; a few large files in turns, one part of each) and hand parts to a pool of worker threads. A
byte budget bounds what is held in memory: at most about (concurrency + 1) parts, whatever the
file sizes. An interrupted multipart upload is
left in place, so the next run lists its parts and sends only what is missing or different.

Downloads stream ranged GETs straight to their offsets in a temporary file, check the SHA-256
recorded in the manifest and only then rename the file to its real name.

Private to the collection: the interface may change between releases.
"""

from __future__ import annotations

import base64
import fnmatch
import glob
import hashlib
import os
import re
import stat
import threading
import time
import urllib.parse
import uuid
import zlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor, wait

from ansible_collections.vmops.datacenter.plugins.module_utils._s3 import (
    MANIFEST_NAME,
    S3_CALL_ERRORS,
    S3Error,
    describe_error,
    error_code,
)
from ansible_collections.vmops.datacenter.plugins.module_utils._progress import human_duration
from ansible_collections.vmops.datacenter.plugins.module_utils._s3_manifest import relative_path_problem

try:
    from botocore.exceptions import ConnectionClosedError, IncompleteReadError, ReadTimeoutError, ResponseStreamingError
    # A response body that breaks off while it is read: botocore does not retry those itself.
    STREAM_ERRORS = (ResponseStreamingError, ReadTimeoutError, ConnectionClosedError, IncompleteReadError)
except ImportError:  # pragma: no cover - boto3 is checked by S3Module
    STREAM_ERRORS = ()

try:
    from awscrt import checksums as crt_checksums
    HAS_CRT = True
except ImportError:
    crt_checksums = None
    HAS_CRT = False

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
TIB = 1024 * GIB
MIN_PART_SIZE = 5 * MIB
MAX_PART_SIZE = 5 * GIB
MAX_PARTS = 10000
MAX_SINGLE_PUT = 5 * GIB
READ_BLOCK = 1 * MIB
DEFAULT_CHUNK_SIZE = 8 * MIB
SHA256_METADATA = "sha256"
UNSUPPORTED_CODES = frozenset(["NotImplemented", "MethodNotAllowed", "501", "405"])
ARCHIVE_CLASSES = frozenset(["GLACIER", "DEEP_ARCHIVE"])
# Part sizes that other tools commonly use; tried when an object's multipart ETag shows a part count
# that the configured chunk size does not explain.
COMMON_PART_SIZES = tuple(n * MIB for n in (5, 8, 10, 15, 16, 25, 32, 50, 64, 100, 128, 256, 512, 1024))
MD5_ETAG = re.compile(r"^[0-9a-f]{32}(-[0-9]+)?$")
SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$")
UNITS = {"": 1, "b": 1, "k": KIB, "kb": KIB, "kib": KIB, "m": MIB, "mb": MIB, "mib": MIB, "g": GIB, "gb": GIB,
         "gib": GIB, "t": TIB, "tb": TIB, "tib": TIB}

# checksum_algorithm option -> (S3 algorithm name, request/response member)
CHECKSUMS = {
    "sha256": ("SHA256", "ChecksumSHA256"),
    "sha1": ("SHA1", "ChecksumSHA1"),
    "crc32": ("CRC32", "ChecksumCRC32"),
    "crc32c": ("CRC32C", "ChecksumCRC32C"),
}


class TransferError(Exception):
    """A local problem (a file, a directory, an option) that stops a transfer; the message names it."""


def worker_error(exc, what):
    """What a worker thread reports: our own errors as they are, anything else named by what it was doing."""
    if isinstance(exc, (S3Error, TransferError)):
        return exc
    return TransferError("%s failed: %r" % (what, exc))


def parse_size(value, name):
    """'16MiB', '16M', '16MB' or 16777216 -> bytes. Units are powers of 1024, as in the AWS CLI."""
    if isinstance(value, int) and not isinstance(value, bool):
        number, unit = value, ""
    else:
        match = SIZE.match(str(value))
        if not match or match.group(2).lower() not in UNITS:
            raise TransferError("%s: cannot read %r as a size; give bytes or a number with B, KiB, MiB, GiB or TiB "
                                "(KB, MB, GB mean the same powers of 1024)." % (name, value))
        number, unit = float(match.group(1)), match.group(2).lower()
    return int(number * UNITS[unit])


def human_bytes(count):
    for unit, size in (("TiB", TIB), ("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if count >= size:
            return "%.1f %s" % (count / size, unit)
    return "%d B" % count


def strip_etag(etag):
    return (etag or "").strip().strip('"')


def b64(digest):
    return base64.b64encode(digest).decode("ascii")


class _Crc32:
    def __init__(self):
        self.value = 0

    def update(self, data):
        self.value = zlib.crc32(data, self.value)

    def digest(self):
        return self.value.to_bytes(4, "big")


class _Crc32c(_Crc32):
    def update(self, data):
        self.value = crt_checksums.crc32c(data, self.value)


def checksum_factory(algorithm):
    """A callable making a hash-like object for an S3 additional checksum, or None for none."""
    if not algorithm or algorithm == "none":
        return None
    if algorithm == "sha256":
        return hashlib.sha256
    if algorithm == "sha1":
        return hashlib.sha1
    if algorithm == "crc32":
        return _Crc32
    if algorithm == "crc32c":
        if not HAS_CRT:
            raise TransferError("checksum_algorithm=crc32c needs the awscrt Python package (pip install "
                                "'botocore[crt]') on the host that runs the module; or choose crc32, sha1 or sha256.")
        return _Crc32c
    raise TransferError("unknown checksum_algorithm %r" % (algorithm,))


def checksum_of(factory, data):
    hasher = factory()
    hasher.update(data)
    return b64(hasher.digest())


class TokenBucket:
    """Shared bandwidth limit for all worker threads: ``rate`` bytes per second on average.

    A request takes its bytes up front; when that leaves the bucket in debt the caller sleeps until
    the debt is paid back, so concurrent callers queue behind each other in arrival order and the
    long-run rate is exact. ``burst`` bytes may go out without waiting (default: one second's worth).
    """

    def __init__(self, rate, burst=None, clock=None, sleep=None):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else rate)
        self.clock = clock or time.monotonic
        self.sleep = sleep or time.sleep
        self.tokens = self.burst
        self.stamp = self.clock()
        self.lock = threading.Lock()
        self.waited = 0.0

    def consume(self, count):
        with self.lock:
            now = self.clock()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            self.tokens -= count
            wait = -self.tokens / self.rate if self.tokens < 0 else 0.0
            self.waited += wait
        if wait > 0:
            self.sleep(wait)
        return wait


class BufferBudget:
    """Bytes of file data held in memory at once, across the reader and all workers.

    ``acquire(n)`` blocks until n bytes fit under the capacity. A request larger than the capacity
    (a part size set by an earlier run) waits until nothing else is held, so it cannot deadlock.
    ``peak`` records the most ever held, for tests and for the result.
    """

    def __init__(self, capacity):
        self.capacity = capacity
        self.held = 0
        self.peak = 0
        self.condition = threading.Condition()

    def acquire(self, count):
        with self.condition:
            while self.held and self.held + count > self.capacity:
                self.condition.wait()
            self.held += count
            self.peak = max(self.peak, self.held)

    def release(self, count):
        with self.condition:
            self.held -= count
            self.condition.notify_all()


class Settings:
    """Transfer knobs and the object options applied to every object written."""

    def __init__(self, concurrency=10, chunk_size=DEFAULT_CHUNK_SIZE, multipart_threshold=None, bandwidth_limit=None,
                 checksum_algorithm=None, encryption=None, kms_key_id=None, storage_class=None, tags=None,
                 metadata=None):
        self.concurrency = concurrency
        self.chunk_size = chunk_size
        self.multipart_threshold = multipart_threshold or chunk_size
        self.bandwidth_limit = bandwidth_limit
        self.checksum_algorithm = None if checksum_algorithm in (None, "none") else checksum_algorithm
        self.checksum = checksum_factory(self.checksum_algorithm)
        self.encryption = None if encryption in (None, "none") else encryption
        self.kms_key_id = kms_key_id
        self.storage_class = storage_class
        self.tags = tags or {}
        self.metadata = metadata or {}

    @property
    def buffer_capacity(self):
        return (self.concurrency + 1) * max(self.chunk_size, self.multipart_threshold)

    @property
    def checksum_member(self):
        return CHECKSUMS[self.checksum_algorithm][1] if self.checksum_algorithm else None

    @property
    def etags_are_md5(self):
        """With SSE-KMS the store's ETag is not an MD5 of the data."""
        return self.encryption != "aws:kms"

    def part_size_for(self, size):
        """The configured chunk size, raised (to a whole MiB) when a file would need more than 10,000 parts."""
        part = self.chunk_size
        if size > part * MAX_PARTS:
            part = -(-size // MAX_PARTS)
            part = -(-part // MIB) * MIB
        return part

    def object_args(self, manifest=False):
        """Encryption, storage class, tags and metadata for put_object/create_multipart_upload."""
        args = {}
        if self.encryption:
            args["ServerSideEncryption"] = self.encryption
            if self.kms_key_id:
                args["SSEKMSKeyId"] = self.kms_key_id
        if self.storage_class and not (manifest and self.storage_class in ARCHIVE_CLASSES):
            args["StorageClass"] = self.storage_class
        if self.tags:
            args["Tagging"] = urllib.parse.urlencode(sorted(self.tags.items()))
        if self.metadata:
            args["Metadata"] = dict(self.metadata)
        return args

    def validate(self):
        """Refuse impossible combinations before anything is read or sent."""
        if not 1 <= self.concurrency <= 64:
            raise TransferError("concurrency must be between 1 and 64, got %s." % self.concurrency)
        if not MIN_PART_SIZE <= self.chunk_size <= MAX_PART_SIZE:
            raise TransferError("chunk_size must be between 5 MiB and 5 GiB (S3 part size limits), got %s."
                                % human_bytes(self.chunk_size))
        if not MIN_PART_SIZE <= self.multipart_threshold <= MAX_SINGLE_PUT:
            raise TransferError("multipart_threshold must be between 5 MiB and 5 GiB, got %s."
                                % human_bytes(self.multipart_threshold))
        if self.bandwidth_limit is not None and self.bandwidth_limit < 64 * KIB:
            raise TransferError("bandwidth_limit must be at least 64 KiB/s, got %s bytes/s." % self.bandwidth_limit)
        if self.kms_key_id and self.encryption != "aws:kms":
            raise TransferError("kms_key_id needs encryption=aws:kms.")
        for name, values in (("tags", self.tags), ("metadata", self.metadata)):
            for key, value in values.items():
                if not isinstance(key, str) or not key or not isinstance(value, str):
                    raise TransferError("%s must map non-empty strings to strings; %r: %r is not." % (name, key, value))
        for key, value in self.metadata.items():
            if key.lower() == SHA256_METADATA:
                raise TransferError("metadata key %r is reserved: the module records each file's SHA-256 under it."
                                    % key)
            if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", key) or not all(32 <= ord(c) < 127 for c in value):
                raise TransferError("metadata %r: keys must be letters, digits, '-', '_' or '.', values printable "
                                    "ASCII (S3 sends them as HTTP headers)." % key)


def matches(path, include, exclude):
    """Glob patterns against the relative path ('*' also crosses '/'); exclude wins over include."""
    if include and not any(fnmatch.fnmatchcase(path, pattern) for pattern in include):
        return False
    return not any(fnmatch.fnmatchcase(path, pattern) for pattern in exclude or ())


class LocalFile:
    __slots__ = ("path", "full", "size", "mtime")

    def __init__(self, path, full, size, mtime=None):
        self.path = path
        self.full = full
        self.size = size
        self.mtime = mtime

    def __repr__(self):
        return "LocalFile(%r, %d)" % (self.path, self.size)


def _inside(real, root):
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def scan_directory(src, include=None, exclude=None):
    """Regular files under src, sorted by relative path. Returns (files, warnings).

    Symbolic links to files inside src are read as files; links that leave src are refused; links
    to directories are not followed (their content is found through the real directory). Anything
    that is not a regular file (FIFO, socket, device) is skipped with a warning.
    """
    if not os.path.isdir(src):
        raise TransferError("src %s is not a directory (or cannot be read) on this host." % src)
    root = os.path.realpath(src)
    files, warnings, problems = [], [], []

    def refuse(why):
        problems.append(why)

    def walk_error(exc):
        refuse("cannot read %s: %s" % (exc.filename, exc.strerror))

    for directory, dirnames, filenames in os.walk(src, onerror=walk_error):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            full = os.path.join(directory, name)
            rel = os.path.relpath(full, src).replace(os.sep, "/")
            try:
                lstat = os.lstat(full)
            except OSError as exc:
                refuse("cannot read %s: %s" % (full, exc.strerror))
                continue
            if stat.S_ISDIR(lstat.st_mode) or not matches(rel, include, exclude):
                continue
            if stat.S_ISLNK(lstat.st_mode):
                real = os.path.realpath(full)
                if not _inside(real, root):
                    refuse("%s is a symbolic link to %s, outside src" % (rel, os.readlink(full)))
                    continue
                if not os.path.exists(real):
                    warnings.append("Skipped %s: a symbolic link to nothing (%s)." % (rel, os.readlink(full)))
                    continue
                if os.path.isdir(real):
                    if name in dirnames:
                        warnings.append("Skipped %s: a symbolic link to a directory inside src (not followed)." % rel)
                    continue
            try:
                info = os.stat(full)
            except OSError as exc:
                refuse("cannot read %s: %s" % (full, exc.strerror))
                continue
            if not stat.S_ISREG(info.st_mode):
                warnings.append("Skipped %s: not a regular file." % rel)
                continue
            problem = relative_path_problem(rel)
            if not problem:
                try:
                    rel.encode("utf-8")
                except UnicodeEncodeError:
                    problem = "its name is not valid UTF-8"
            if problem:
                refuse("%r cannot be an S3 key: %s" % (rel, problem))
                continue
            if rel == MANIFEST_NAME:
                refuse("%s has the name of the transaction manifest, which the module writes itself" % rel)
                continue
            files.append(LocalFile(rel, full, info.st_size, info.st_mtime))
    if problems:
        shown = problems[:20]
        more = " (and %d more)" % (len(problems) - len(shown)) if len(problems) > len(shown) else ""
        raise TransferError("Refusing to upload %s: %s%s." % (src, "; ".join(shown), more))
    files.sort(key=lambda f: f.path)
    return files, warnings


def open_source(path):
    """Every read of a local source file goes through here (tests count the calls)."""
    return open(path, "rb")


def read_exactly(handle, count, local):
    data = handle.read(count)
    if len(data) != count:
        raise TransferError("%s changed while it was read (expected %d more bytes, got %d); nothing of it was "
                            "completed. Upload from a snapshot or clone that does not change." % (
                                local.full, count, len(data)))
    return data


# ---------------------------------------------------------------------------------------------------------------
# What the store holds


def list_objects(client, bucket, tprefix):
    """Every object under the transaction prefix: relative path -> dict(key, size, etag), one paginated listing."""
    found = {}
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=tprefix):
            for item in page.get("Contents") or []:
                found[item["Key"][len(tprefix):]] = dict(key=item["Key"], size=item["Size"],
                                                         etag=strip_etag(item.get("ETag")))
    except S3_CALL_ERRORS as exc:
        raise describe_error(exc, "ListObjectsV2", bucket, tprefix) from exc
    return found


def list_uploads(client, bucket, tprefix):
    """Unfinished multipart uploads under the prefix: (key -> [dict(upload_id, initiated, ...)] newest first,
    the error code when the store does not implement the call, else None).

    Some stores answer NoSuchUpload instead of an empty list when there are none (rclone serve s3),
    others do not implement the call; both count as none.
    """
    found = {}
    try:
        for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=tprefix):
            for item in page.get("Uploads") or []:
                found.setdefault(item["Key"], []).append(dict(
                    key=item["Key"], upload_id=item["UploadId"], initiated=item.get("Initiated"),
                    storage_class=item.get("StorageClass"), checksum_algorithm=item.get("ChecksumAlgorithm")))
    except S3_CALL_ERRORS as exc:
        code = error_code(exc)
        if code == "NoSuchUpload":
            return {}, None
        if code in UNSUPPORTED_CODES:
            return {}, code
        raise describe_error(exc, "ListMultipartUploads", bucket, tprefix) from exc
    for uploads in found.values():
        uploads.sort(key=lambda u: (u["initiated"] is not None, u["initiated"] or 0), reverse=True)
    return found, None


def list_parts(client, bucket, key, upload_id):
    """Parts already in an upload: number -> dict(size, etag, checksums)."""
    parts = {}
    try:
        for page in client.get_paginator("list_parts").paginate(Bucket=bucket, Key=key, UploadId=upload_id):
            for item in page.get("Parts") or []:
                parts[item["PartNumber"]] = dict(
                    size=item["Size"], etag=strip_etag(item.get("ETag")),
                    checksums=dict((member, item[member]) for _algorithm, member in CHECKSUMS.values() if item.get(member)))
    except S3_CALL_ERRORS as exc:
        raise describe_error(exc, "ListParts", bucket, key) from exc
    return parts


def abort_upload(client, bucket, key, upload_id):
    try:
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except S3_CALL_ERRORS as exc:
        if not _is_missing_upload(exc):
            raise describe_error(exc, "AbortMultipartUpload", bucket, key) from exc


def _is_missing_upload(exc):
    response = getattr(exc, "response", None) or {}
    return response.get("Error", {}).get("Code") in ("NoSuchUpload", "404")


def resume_part_size(parts, size, preferred=None):
    """The part size an unfinished upload used, from its listed parts and the file size; None when they disagree.

    Every part but the last has the part size; the last is the remainder. So the part size is the
    largest listed part, or, when only the last part is listed, (size - last) / (number - 1). When
    the parts fit several sizes, the preferred one (the configured size) wins, then the largest
    listed part. A wrong guess costs only resending: parts are reused only when their MD5 matches.
    """
    if not parts:
        return None
    candidates = [preferred, max(p["size"] for p in parts.values())]
    for number, part in sorted(parts.items()):
        if number > 1 and (size - part["size"]) % (number - 1) == 0:
            candidates.append((size - part["size"]) // (number - 1))
    for part_size in candidates:
        if part_size is None:
            continue
        if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
            continue
        count = -(-size // part_size)
        if count > MAX_PARTS or max(parts) > count:
            continue
        if all(p["size"] == min(part_size, size - (n - 1) * part_size) for n, p in parts.items()):
            return part_size
    return None


# ---------------------------------------------------------------------------------------------------------------
# Local digests


class Digest:
    """SHA-256 and MD5 of a whole file plus multipart ETags for some part sizes, from one read."""

    def __init__(self, part_sizes=()):
        self.sha256 = hashlib.sha256()
        self.md5 = hashlib.md5()
        self.size = 0
        self.parts = dict((p, dict(done=[], current=hashlib.md5(), filled=0)) for p in set(part_sizes))

    def update(self, data):
        self.sha256.update(data)
        self.md5.update(data)
        self.size += len(data)
        view = memoryview(data)
        for part_size, state in self.parts.items():
            offset = 0
            while offset < len(view):
                take = min(part_size - state["filled"], len(view) - offset)
                state["current"].update(view[offset:offset + take])
                state["filled"] += take
                offset += take
                if state["filled"] == part_size:
                    state["done"].append(state["current"].digest())
                    state["current"] = hashlib.md5()
                    state["filled"] = 0

    def multipart_etag(self, part_size):
        state = self.parts[part_size]
        digests = state["done"] + ([state["current"].digest()] if state["filled"] else [])
        return "%s-%d" % (hashlib.md5(b"".join(digests)).hexdigest(), len(digests))

    def etag_matches(self, etag):
        """True when the ETag is this data's MD5 or its multipart ETag for one of the part sizes."""
        etag = strip_etag(etag)
        if etag == self.md5.hexdigest():
            return True
        return any(etag == self.multipart_etag(p) for p in self.parts)


def etag_part_sizes(etag, size, chunk_size):
    """Part sizes worth trying for a multipart ETag ('...-N'): the configured one and common ones giving N parts."""
    match = re.match(r"^[0-9a-f]{32}-([0-9]+)$", strip_etag(etag))
    if not match:
        return []
    count = int(match.group(1))
    return [p for p in (chunk_size,) + COMMON_PART_SIZES if -(-size // p) == count]


def digest_file(local, part_sizes=(), opener=None, on_read=None):
    """Digest of a local file; ``on_read(n)`` is called after each block so a progress line can move within big
    files."""
    digest = Digest(part_sizes)
    try:
        with (opener or open_source)(local.full) as handle:
            while True:
                block = handle.read(READ_BLOCK)
                if not block:
                    break
                digest.update(block)
                if on_read:
                    on_read(len(block))
    except OSError as exc:
        raise TransferError("cannot read %s: %s" % (local.full, exc.strerror or exc)) from exc
    if digest.size != local.size:
        raise TransferError("%s changed while it was read (%d bytes listed, %d read)." % (
            local.full, local.size, digest.size))
    return digest


def sha256_file(path, block=READ_BLOCK, on_read=None):
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        while True:
            data = handle.read(block)
            if not data:
                break
            hasher.update(data)
            if on_read:
                on_read(len(data))
    return hasher.hexdigest()


def parallel_map(function, items, concurrency):
    """function(item) for every item on a thread pool, results in order; the first exception is raised."""
    if not items:
        return []
    if concurrency <= 1 or len(items) == 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(concurrency, len(items)), thread_name_prefix="vmops-s3-check") as pool:
        return list(pool.map(function, items))


# ---------------------------------------------------------------------------------------------------------------
# Upload plan


class CheckCounter:
    """Files (and bytes) a planning phase has checked against what is already there; worker threads count, a
    progress status line (module_utils/_progress.py) reads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.files_total = self.bytes_total = self.files_done = self.bytes_done = 0

    def expect(self, sizes):
        with self.lock:
            self.files_total, self.bytes_total = len(sizes), sum(sizes)

    def read(self, size):
        """Bytes read so far, counted per block so the line moves within a big file."""
        with self.lock:
            self.bytes_done += size

    def done(self):
        with self.lock:
            self.files_done += 1

    def status(self, what, seconds):
        """``what: checking N of M files already there, X of Y read (P %), T``; None before there is anything to
        check (listing) or when nothing needs reading."""
        with self.lock:
            if not self.files_total:
                return None
            share = 100.0 * self.bytes_done / self.bytes_total if self.bytes_total else 100.0
            return "%s: checking %d of %d files already there, %s of %s read (%d %%), %s" % (
                what, self.files_done, self.files_total, human_bytes(self.bytes_done), human_bytes(self.bytes_total),
                share, human_duration(seconds))


class FileAction:
    """What to do with one local file. action: skip, upload or resume."""

    def __init__(self, local, key, action, reason, entry=None):
        self.local = local
        self.key = key
        self.action = action
        self.reason = reason
        self.entry = entry          # manifest entry when skipped
        self.upload = None          # resume: dict(upload_id, part_size, parts)
        self.abort = []             # upload ids of this key to abort
        self.parts_reused = 0
        self.bytes_reused = 0

    def summary(self):
        item = dict(path=self.local.path, action=self.action, size=self.local.size)
        if self.action == "resume":
            item.update(parts_reused=self.parts_reused)
        return item


class UploadPlan:
    def __init__(self, tprefix, objects, uploads, manifest):
        self.tprefix = tprefix
        self.objects = objects
        self.uploads = uploads
        self.manifest = manifest
        self.actions = []
        self.warnings = []

    def of(self, action):
        return [a for a in self.actions if a.action == action]

    @property
    def aborts(self):
        return [(a.key, upload_id) for a in self.actions for upload_id in a.abort]


def _fast_match(entry, listed, local):
    return (entry is not None and listed is not None and entry.get("size") == local.size == listed["size"]
            and strip_etag(entry.get("etag")) == listed["etag"] and entry.get("key") == listed["key"]
            and entry.get("sha256"))


def plan_upload(client, bucket, tprefix, files, settings, force=False, source=None, load_manifest=None,
                counter=None):
    """Decide per file: skip (present and verified), resume (unfinished multipart upload) or upload.

    Requests: one paginated listing of the prefix, one paginated listing of unfinished uploads, the
    manifest when the listing shows one, and a ListParts per upload to resume. With a manifest whose
    entries match the listing and the local sizes, no local file is read at all. ``counter`` (a
    CheckCounter) counts the local files read to verify stored objects.
    """
    counter = counter or CheckCounter()
    objects = list_objects(client, bucket, tprefix)
    uploads, unsupported = list_uploads(client, bucket, tprefix)
    manifest = load_manifest() if MANIFEST_NAME in objects and load_manifest else None
    plan = UploadPlan(tprefix, objects, uploads, manifest)
    if unsupported:
        plan.warnings.append("s3://%s/%s: the store does not list multipart uploads (%s); interrupted uploads cannot be "
                             "resumed and are sent again." % (bucket, tprefix, unsupported))
    entries = dict((e["path"], e) for e in (manifest or {}).get("files") or [])
    same_source = manifest is not None and (source is None or manifest.get("source") == source)
    to_verify = []
    for local in files:
        key = tprefix + local.path
        listed = objects.get(local.path)
        pending = uploads.get(key, [])
        if force:
            action = FileAction(local, key, "upload", "force")
            action.abort = [u["upload_id"] for u in pending]
        elif same_source and _fast_match(entries.get(local.path), listed, local):
            action = FileAction(local, key, "skip", "manifest", entries[local.path])
            action.abort = [u["upload_id"] for u in pending]
        elif listed is not None and listed["size"] == local.size:
            action = FileAction(local, key, "verify", "listed")
            to_verify.append(action)
        else:
            action = FileAction(local, key, "upload", "absent" if listed is None else "size")
        plan.actions.append(action)
    counter.expect([a.local.size for a in to_verify])

    def verify(action):
        listed = objects[action.local.path]
        digest = digest_file(action.local, etag_part_sizes(listed["etag"], action.local.size, settings.chunk_size),
                             on_read=counter.read)
        counter.done()
        entry = entries.get(action.local.path)
        if (entry and entry.get("sha256") == digest.sha256.hexdigest() and entry.get("size") == listed["size"]
                and strip_etag(entry.get("etag")) == listed["etag"]):
            verified = True
        elif settings.etags_are_md5 and MD5_ETAG.match(listed["etag"]):
            verified = digest.etag_matches(listed["etag"])
        else:
            verified = _head_sha256(client, bucket, action.key) == digest.sha256.hexdigest()
        return verified, digest

    for action, (verified, digest) in zip(to_verify, parallel_map(verify, to_verify, settings.concurrency), strict=True):
        listed = objects[action.local.path]
        if verified:
            action.action, action.reason = "skip", "verified"
            action.entry = _entry(action.local, action.key, digest.sha256.hexdigest(), listed["etag"],
                                  *_parts_of(listed["etag"], digest))
            action.abort = [u["upload_id"] for u in uploads.get(action.key, [])]
        else:
            action.action, action.reason = "upload", "content"

    for action in plan.of("upload"):
        if action.reason == "force":
            continue
        pending = uploads.get(action.key, [])
        if not pending:
            continue
        # Several unfinished uploads of one key (runs killed more than once): resume the one holding the most data
        # that fits the file (the newest on a tie), abort the others.
        wanted = CHECKSUMS[settings.checksum_algorithm][0] if settings.checksum_algorithm else None
        best = None
        for upload in pending:
            usable = ((upload.get("checksum_algorithm") or None) == wanted
                      and (upload.get("storage_class") or "STANDARD") == (settings.storage_class or "STANDARD"))
            parts = list_parts(client, bucket, action.key, upload["upload_id"]) if usable else {}
            part_size = resume_part_size(parts, action.local.size, settings.part_size_for(action.local.size))
            held = sum(p["size"] for p in parts.values()) if part_size else -1
            if part_size and (best is None or held > best[0]):
                best = (held, upload["upload_id"], part_size, parts)
        action.abort = [u["upload_id"] for u in pending if best is None or u["upload_id"] != best[1]]
        if best is None:
            continue
        action.action, action.reason = "resume", "unfinished upload"
        action.upload = dict(upload_id=best[1], part_size=best[2], parts=best[3])
    return plan


def _head_sha256(client, bucket, key):
    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except S3_CALL_ERRORS as exc:
        raise describe_error(exc, "HeadObject", bucket, key) from exc
    # Some stores give metadata keys back capitalised (Sha256).
    return dict((k.lower(), v) for k, v in (head.get("Metadata") or {}).items()).get(SHA256_METADATA)


def _parts_of(etag, digest):
    """(part_size, parts) of an object verified by its ETag; the part size is unknown for whole-file ETags."""
    match = re.match(r"^[0-9a-f]{32}-([0-9]+)$", strip_etag(etag))
    if not match:
        return None, 1
    for part_size in digest.parts:
        if digest.multipart_etag(part_size) == strip_etag(etag):
            return part_size, int(match.group(1))
    return None, int(match.group(1))


def _entry(local, key, sha256, etag, part_size, parts):
    return dict(path=local.path, key=key, size=local.size, sha256=sha256, etag=strip_etag(etag),
                part_size=part_size, parts=parts)


def count_reusable_parts(action, settings, opener=None):
    """Check mode for a resume: read the file and count the listed parts that would be kept (sends nothing)."""
    upload = action.upload
    part_size = upload["part_size"]
    reused = reused_bytes = 0
    try:
        with (opener or open_source)(action.local.full) as handle:
            for number in range(1, -(-action.local.size // part_size) + 1):
                count = min(part_size, action.local.size - (number - 1) * part_size)
                data = read_exactly(handle, count, action.local)
                listed = upload["parts"].get(number)
                if listed and _part_reusable(listed, data, settings):
                    reused += 1
                    reused_bytes += count
    except OSError as exc:
        raise TransferError("cannot read %s: %s" % (action.local.full, exc.strerror or exc)) from exc
    return reused, reused_bytes


def _part_reusable(listed, data, settings):
    if listed["size"] != len(data):
        return False
    if settings.checksum and listed["checksums"].get(settings.checksum_member):
        return listed["checksums"][settings.checksum_member] == checksum_of(settings.checksum, data)
    return settings.etags_are_md5 and listed["etag"] == hashlib.md5(data).hexdigest()


# ---------------------------------------------------------------------------------------------------------------
# Upload engine


class _Multipart:
    """One file's multipart upload in flight."""

    def __init__(self, action, upload_id, part_size, listed):
        self.action = action
        self.upload_id = upload_id
        self.part_size = part_size
        self.count = -(-action.local.size // part_size)
        self.listed = listed or {}
        self.restart = False        # the store refused to replace a listed part: start this file afresh
        self.done_parts = {}
        self.submitted = 0
        self.finished = 0
        self.closed = False
        self.completing = False
        self.sha256 = None
        self.lock = threading.Lock()


class _Stream:
    """A multipart file being read: its upload, its open file, the next part number, its running SHA-256."""

    def __init__(self, state, handle):
        self.state = state
        self.handle = handle
        self.next = 1
        self.sha256 = hashlib.sha256()


class Uploader:
    """Uploads planned files with a pool of ``concurrency`` workers and bounded memory.

    ``run(actions)`` returns one result dict per completed file (path, key, size, sha256, part_size,
    parts, parts_reused, bytes_sent). On the first failure no new reads start, parts in flight are
    let finish, unfinished multipart uploads are left in place for a later resume, and the failure
    is raised naming the file and the call.
    """

    def __init__(self, client, bucket, settings, budget=None, limiter=None, opener=None, streams=None):
        self.client = client
        self.bucket = bucket
        self.settings = settings
        self.budget = budget or BufferBudget(settings.buffer_capacity)
        self.limiter = limiter
        if self.limiter is None and settings.bandwidth_limit:
            self.limiter = TokenBucket(settings.bandwidth_limit, burst=max(settings.bandwidth_limit, READ_BLOCK))
        self.opener = opener or open_source
        self.streams = streams or max(1, min(4, settings.concurrency // 2))
        self.lock = threading.Lock()
        self.errors = []
        self.results = []
        self.bytes_sent = 0
        self.pool = None
        self.futures = []
        self.restarts = []

    @property
    def failed(self):
        return bool(self.errors)

    def _fail(self, exc):
        with self.lock:
            self.errors.append(exc)

    def _sent(self, count):
        with self.lock:
            self.bytes_sent += count

    def _throttle(self, count):
        if self.limiter:
            self.limiter.consume(count)

    def run(self, actions):
        with ThreadPoolExecutor(max_workers=self.settings.concurrency, thread_name_prefix="vmops-s3-up") as pool:
            self.pool = pool
            self._pass(actions)
            wait(self.futures)
            # Stores that refuse to replace a stored part (rclone serve s3 answers NotImplemented) get those
            # files again from the start, as new uploads.
            restarts, self.restarts = self.restarts, []
            for state in restarts if not self.failed else ():
                try:
                    abort_upload(self.client, self.bucket, state.action.key, state.upload_id)
                except S3Error as exc:
                    self._fail(exc)
            for state in restarts:
                state.action.action, state.action.upload, state.action.reason = "upload", None, "part refused"
            if not self.failed:
                self._pass([s.action for s in restarts])
        self.pool = None
        if self.errors:
            first = self.errors[0]
            if len(self.errors) > 1:
                more = "; ".join(str(e) for e in self.errors[1:4])
                first.args = ("%s (also: %s%s)" % (first, more, ", ..." if len(self.errors) > 4 else ""),)
            raise first
        return self.results

    def _pass(self, actions):
        """Read the files in the calling thread and hand their parts to the workers.

        Up to ``streams`` multipart files are read at once, one part of each in turn: every file is
        still read sequentially and once, and several objects progress together (stores that write
        the parts of one upload one after another are only fast with several uploads at a time).
        """
        queue = deque(actions)
        streams = deque()
        try:
            while (queue or streams) and not self.failed:
                while queue and len(streams) < self.streams and not self.failed:
                    action = queue.popleft()
                    if action.action == "resume":
                        streams.append(self._open_stream(action, action.upload))
                    elif action.local.size >= self.settings.multipart_threshold:
                        streams.append(self._open_stream(action, None))
                    else:
                        self._put(action)
                if not streams or self.failed:
                    continue
                stream = streams.popleft()
                if self._read_part(stream):
                    self._close_stream(stream)
                elif not stream.state.restart:
                    streams.append(stream)
                else:
                    stream.handle.close()
        except (TransferError, S3Error) as exc:
            self._fail(exc)
        except OSError as exc:
            self._fail(TransferError("cannot read %s: %s" % (getattr(exc, "filename", None) or "a file",
                                                             exc.strerror or exc)))
        finally:
            for stream in streams:
                stream.handle.close()

    def _submit(self, function, *args):
        self.futures.append(self.pool.submit(function, *args))

    # Single PUT ------------------------------------------------------------------------------------------------

    def _put(self, action):
        size = action.local.size
        self.budget.acquire(size)
        try:
            with self.opener(action.local.full) as handle:
                data = read_exactly(handle, size, action.local)
                if handle.read(1):
                    raise TransferError("%s grew while it was read; upload from a snapshot or clone that does not "
                                        "change." % action.local.full)
        except BaseException:
            self.budget.release(size)
            raise
        holder = [data]
        del data
        self._submit(self._put_task, action, holder)

    def _put_task(self, action, holder):
        size = action.local.size
        try:
            if self.failed:
                return
            data = holder[0]
            sha256 = hashlib.sha256(data).hexdigest()
            args = self.settings.object_args()
            args["Metadata"] = dict(args.get("Metadata") or {}, **{SHA256_METADATA: sha256})
            if self.settings.checksum:
                args[self.settings.checksum_member] = checksum_of(self.settings.checksum, data)
            self._throttle(size)
            try:
                response = self.client.put_object(Bucket=self.bucket, Key=action.key, Body=data, **args)
            except S3_CALL_ERRORS as exc:
                raise describe_error(exc, "PutObject", self.bucket, action.key) from exc
            data = None
            self._sent(size)
            with self.lock:
                self.results.append(dict(path=action.local.path, key=action.key, size=size, sha256=sha256,
                                         etag=strip_etag(response.get("ETag")), part_size=None, parts=1,
                                         parts_reused=0, bytes_sent=size, action="upload"))
        except Exception as exc:  # pylint: disable=broad-except  # a worker must report, never swallow
            self._fail(worker_error(exc, "uploading %s" % action.local.full))
        finally:
            data = None
            holder.clear()
            self.budget.release(size)

    # Multipart -------------------------------------------------------------------------------------------------

    def _create(self, action):
        args = self.settings.object_args()
        if self.settings.checksum_algorithm:
            args["ChecksumAlgorithm"] = CHECKSUMS[self.settings.checksum_algorithm][0]
        try:
            return self.client.create_multipart_upload(Bucket=self.bucket, Key=action.key, **args)["UploadId"]
        except S3_CALL_ERRORS as exc:
            raise describe_error(exc, "CreateMultipartUpload", self.bucket, action.key) from exc

    def _open_stream(self, action, resume):
        local = action.local
        if resume:
            state = _Multipart(action, resume["upload_id"], resume["part_size"], resume["parts"])
        else:
            state = _Multipart(action, self._create(action), self.settings.part_size_for(local.size), None)
        try:
            handle = self.opener(local.full)
        except OSError as exc:
            raise TransferError("cannot read %s: %s" % (local.full, exc.strerror or exc)) from exc
        return _Stream(state, handle)

    def _read_part(self, stream):
        """Read and submit the stream's next part; True when the file has been read to its end."""
        state, local = stream.state, stream.state.action.local
        number = stream.next
        count = min(state.part_size, local.size - (number - 1) * state.part_size)
        self.budget.acquire(count)
        try:
            data = read_exactly(stream.handle, count, local)
        except BaseException:
            self.budget.release(count)
            raise
        stream.sha256.update(data)
        holder = [data]
        del data
        with state.lock:
            state.submitted += 1
        self._submit(self._part_task, state, number, holder, count)
        stream.next += 1
        return stream.next > state.count

    def _close_stream(self, stream):
        state = stream.state
        try:
            if stream.handle.read(1):
                raise TransferError("%s grew while it was read; upload from a snapshot or clone that does not "
                                    "change." % state.action.local.full)
        finally:
            stream.handle.close()
        state.sha256 = stream.sha256.hexdigest()
        with state.lock:
            state.closed = True
            ready = state.finished == state.submitted and not state.completing
            state.completing = state.completing or ready
        if ready:
            self._complete(state)

    def _part_task(self, state, number, holder, count):
        try:
            if self.failed or state.restart:
                return
            data = holder[0]
            listed = state.listed.get(number)
            if listed and _part_reusable(listed, data, self.settings):
                record = dict(PartNumber=number, ETag='"%s"' % listed["etag"])
                if self.settings.checksum_member and listed["checksums"].get(self.settings.checksum_member):
                    record[self.settings.checksum_member] = listed["checksums"][self.settings.checksum_member]
                reused = True
            else:
                args = {}
                if self.settings.checksum:
                    args[self.settings.checksum_member] = checksum_of(self.settings.checksum, data)
                self._throttle(count)
                try:
                    response = self.client.upload_part(Bucket=self.bucket, Key=state.action.key,
                                                       UploadId=state.upload_id, PartNumber=number, Body=data, **args)
                except S3_CALL_ERRORS as exc:
                    if listed and error_code(exc) in UNSUPPORTED_CODES:
                        with state.lock:
                            if not state.restart:
                                state.restart = True
                                self.restarts.append(state)
                        return
                    raise describe_error(exc, "UploadPart (part %d)" % number, self.bucket, state.action.key) from exc
                data = None
                self._sent(count)
                record = dict(PartNumber=number, ETag=response["ETag"])
                if self.settings.checksum_member:
                    record[self.settings.checksum_member] = (response.get(self.settings.checksum_member)
                                                             or args[self.settings.checksum_member])
                reused = False
            with state.lock:
                state.done_parts[number] = (record, reused, count)
        except Exception as exc:  # pylint: disable=broad-except  # a worker must report, never swallow
            self._fail(worker_error(exc, "uploading part %d of %s" % (number, state.action.local.full)))
        finally:
            data = None
            holder.clear()
            self.budget.release(count)
            with state.lock:
                state.finished += 1
                ready = state.closed and state.finished == state.submitted and not state.completing
                state.completing = state.completing or ready
            if ready:
                self._complete(state)

    def _complete(self, state):
        """Called once, by whichever thread sees the last part done after the file was read to its end."""
        try:
            self._complete_upload(state)
        except Exception as exc:  # pylint: disable=broad-except  # runs in a worker's finally: report, never lose
            self._fail(worker_error(exc, "completing the upload of %s" % state.action.local.full))

    def _complete_upload(self, state):
        if self.failed or state.restart or len(state.done_parts) != state.count:
            return  # left in place: the next run resumes from the parts that made it
        action = state.action
        parts = [state.done_parts[n][0] for n in sorted(state.done_parts)]
        try:
            completed = self.client.complete_multipart_upload(Bucket=self.bucket, Key=action.key,
                                                              UploadId=state.upload_id, MultipartUpload={"Parts": parts})
        except S3_CALL_ERRORS as exc:
            self._fail(describe_error(exc, "CompleteMultipartUpload", self.bucket, action.key))
            return
        # The object is exactly the listed parts (S3's contract), so its size is known; its ETag is the one the
        # store answered. A store that lists another form (rclone serve s3 lists a whole-file MD5) makes the next
        # run verify that object by reading the local file once, instead of every upload paying a HEAD that
        # waits for the store to hash the whole object.
        etag = strip_etag(completed.get("ETag"))
        reused = [v for v in state.done_parts.values() if v[1]]
        with self.lock:
            self.results.append(dict(
                path=action.local.path, key=action.key, size=action.local.size, sha256=state.sha256, etag=etag,
                part_size=state.part_size, parts=state.count, parts_reused=len(reused),
                bytes_reused=sum(v[2] for v in reused), bytes_sent=action.local.size - sum(v[2] for v in reused),
                action=action.action))


def put_manifest(client, bucket, key, body, settings):
    args = settings.object_args(manifest=True)
    args["Metadata"] = dict(args.get("Metadata") or {}, **{SHA256_METADATA: hashlib.sha256(body).hexdigest()})
    try:
        client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json", **args)
    except S3_CALL_ERRORS as exc:
        raise describe_error(exc, "PutObject (manifest)", bucket, key) from exc


def delete_object(client, bucket, key, what="DeleteObject"):
    try:
        client.delete_object(Bucket=bucket, Key=key)
    except S3_CALL_ERRORS as exc:
        raise describe_error(exc, what, bucket, key) from exc


# ---------------------------------------------------------------------------------------------------------------
# Download


class DownloadItem:
    """One manifest entry to fetch into dest."""

    def __init__(self, entry, target):
        self.entry = entry
        self.target = target
        self.path = entry["path"]
        self.key = entry["key"]
        self.size = entry["size"]
        self.sha256 = entry.get("sha256")
        self.action = "download"
        self.reason = None

    def summary(self):
        return dict(path=self.path, action=self.action, size=self.size)


def download_targets(manifest, dest, tprefix):
    """Where each manifest file goes under dest, checked before anything is written.

    Refuses paths that could leave dest (absolute, '..', backslashes, control characters), keys
    outside the transaction, duplicates, and existing symbolic links on the way (a link inside dest
    pointing elsewhere would otherwise redirect the write).
    """
    root = os.path.realpath(dest)
    items, problems, seen = [], [], set()
    for entry in manifest.get("files") or []:
        path = entry.get("path")
        problem = relative_path_problem(path) if isinstance(path, str) else "it is not a string"
        if not problem and entry.get("key") != tprefix + path:
            problem = "its key %r is not %r" % (entry.get("key"), tprefix + path)
        if not problem and (not isinstance(entry.get("size"), int) or entry["size"] < 0):
            problem = "its size %r is not a byte count" % (entry.get("size"),)
        if not problem and not re.match(r"^[0-9a-f]{64}$", str(entry.get("sha256"))):
            problem = "its sha256 %r is not a SHA-256 digest" % (entry.get("sha256"),)
        if not problem and path in seen:
            problem = "it is listed twice"
        if not problem and path == MANIFEST_NAME:
            problem = "it has the manifest's name"
        if problem:
            problems.append("%r: %s" % (path, problem))
            continue
        seen.add(path)
        target = os.path.join(dest, *path.split("/"))
        walked = dest
        for component in path.split("/"):
            walked = os.path.join(walked, component)
            if os.path.islink(walked):
                problem = "%s is a symbolic link" % walked
                break
        if not problem:
            real_parent = os.path.realpath(os.path.dirname(target))
            if not _inside(real_parent, root):
                problem = "it would be written to %s, outside dest" % real_parent
        if not problem and os.path.lexists(target) and not os.path.isfile(target):
            problem = "%s exists and is not a regular file" % target
        if problem:
            problems.append("%r: %s" % (path, problem))
            continue
        items.append(DownloadItem(entry, target))
    for item in items:
        parent = item.path.rsplit("/", 1)[0] if "/" in item.path else None
        while parent:
            if parent in seen:
                problems.append("%r: its directory %r is also a file in the manifest" % (item.path, parent))
                break
            parent = parent.rsplit("/", 1)[0] if "/" in parent else None
    if problems:
        shown = problems[:20]
        more = " (and %d more)" % (len(problems) - len(shown)) if len(problems) > len(shown) else ""
        raise TransferError("Refusing the manifest, nothing was written: %s%s." % ("; ".join(shown), more))
    return items


def plan_download(items, force, verify, concurrency, counter=None):
    """Mark items already present (right size, and right SHA-256 when verify) as skip; hashing runs in parallel
    and ``counter`` (a CheckCounter) counts the files read."""
    candidates = [i for i in items if not force and os.path.isfile(i.target) and os.path.getsize(i.target) == i.size]
    counter = counter or CheckCounter()
    if verify:
        counter.expect([i.size for i in candidates])

    def check(item):
        if not verify:
            return True
        try:
            return sha256_file(item.target, on_read=counter.read) == item.sha256
        except OSError:
            return False
        finally:
            counter.done()

    for item, present in zip(candidates, parallel_map(check, candidates, concurrency), strict=True):
        if present:
            item.action = "skip"
            item.reason = "present" if verify else "size"
    return [i for i in items if i.action == "download"]


def _object_size(response):
    """Total size of the object from a GET response (Content-Range for ranged GETs), None when not given."""
    content_range = response.get("ContentRange")
    if content_range:
        match = re.match(r"^bytes [0-9]+-[0-9]+/([0-9]+)$", content_range.strip())
        return int(match.group(1)) if match else None
    return response.get("ContentLength")


class _Fetch:
    """One file being downloaded: its temporary file and the ranges still to come."""

    def __init__(self, item, temp, fd, ranges):
        self.item = item
        self.temp = temp
        self.fd = fd
        self.ranges = ranges
        self.remaining = len(ranges)
        self.lock = threading.Lock()
        # A single GET is hashed as it streams; ranged files are hashed from the finished temporary file.
        self.sha256 = hashlib.sha256() if len(ranges) == 1 else None
        self.bad_size = None
        self.done = False


class Downloader:
    """Fetches items with ``concurrency`` workers: ranged GETs written at their offsets into a temporary file.

    A file is renamed to its real name only after its size and SHA-256 match the manifest. Corrupt
    files are collected in ``corrupt`` (their temporary files deleted) and the others go on. On a
    failure (an S3 call, the disk) every temporary file is removed and the failure is raised.
    """

    def __init__(self, client, bucket, settings, verify=True, limiter=None, block=READ_BLOCK, retries=5):
        self.client = client
        self.retries = retries
        self.bucket = bucket
        self.settings = settings
        self.verify = verify
        self.block = block
        self.limiter = limiter
        if self.limiter is None and settings.bandwidth_limit:
            self.limiter = TokenBucket(settings.bandwidth_limit, burst=max(settings.bandwidth_limit, block))
        self.lock = threading.Lock()
        self.errors = []
        self.corrupt = []
        self.results = []
        self.bytes_received = 0
        self.fetches = []

    @property
    def failed(self):
        return bool(self.errors)

    def _fail(self, exc):
        with self.lock:
            self.errors.append(exc)

    def run(self, items):
        try:
            with ThreadPoolExecutor(max_workers=self.settings.concurrency, thread_name_prefix="vmops-s3-down") as pool:
                for item in items:
                    if self.failed:
                        break
                    try:
                        fetch = self._open(item)
                    except OSError as exc:
                        self._fail(TransferError("cannot write %s: %s" % (item.target, exc.strerror or exc)))
                        break
                    for start, end in fetch.ranges:
                        pool.submit(self._range_task, fetch, start, end)
        finally:
            for fetch in self.fetches:
                if not fetch.done:
                    self._discard(fetch)
        if self.errors:
            raise self.errors[0]
        return self.results

    def _open(self, item):
        directory = os.path.dirname(item.target)
        os.makedirs(directory, exist_ok=True)
        # Temporary files of this file left by a run that was killed.
        for stale in glob.glob(os.path.join(glob.escape(directory), ".%s.vmops-*.part" % glob.escape(
                os.path.basename(item.target)[:180]))):
            os.unlink(stale)
        temp = os.path.join(directory, ".%s.vmops-%s.part" % (os.path.basename(item.target)[:180], uuid.uuid4().hex[:12]))
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        chunk = self.settings.chunk_size
        if item.size > chunk:
            os.ftruncate(fd, item.size)
            ranges = [(start, min(start + chunk, item.size) - 1) for start in range(0, item.size, chunk)]
        else:
            ranges = [(0, item.size - 1)]
        fetch = _Fetch(item, temp, fd, ranges)
        self.fetches.append(fetch)
        return fetch

    def _range_task(self, fetch, start, end):
        item = fetch.item
        try:
            if self.failed:
                return
            problem = self._fetch_range(fetch, start, end) if item.size else None
            if problem:
                with fetch.lock:
                    fetch.bad_size = problem
        except OSError as exc:
            self._fail(TransferError("cannot write %s: %s" % (fetch.temp, exc.strerror or exc)))
        except Exception as exc:  # pylint: disable=broad-except  # a worker must report, never swallow
            self._fail(worker_error(exc, "downloading %s" % item.key))
        finally:
            with fetch.lock:
                fetch.remaining -= 1
                last = fetch.remaining == 0
            if last and not self.failed:
                try:
                    self._finish(fetch)
                except OSError as exc:
                    self._fail(TransferError("cannot write %s: %s" % (item.target, exc.strerror or exc)))

    def _fetch_range(self, fetch, start, end):
        """GET bytes start..end into the temporary file; what is wrong with the object's size, or None.

        botocore retries failed requests but not a body that breaks off while it is read: then the
        rest of the range is asked for again, up to ``retries`` times.
        """
        item = fetch.item
        offset, broken = start, 0
        while True:
            args = dict(Bucket=self.bucket, Key=item.key)
            if fetch.sha256 is None or offset > start:
                args["Range"] = "bytes=%d-%d" % (offset, end)
            operation = "GetObject" + (" %s" % args["Range"] if "Range" in args else "")
            try:
                response = self.client.get_object(**args)
                total = _object_size(response)
                if total is not None and total != item.size:
                    response["Body"].close()
                    return "the object has %d bytes, the manifest says %d" % (total, item.size)
                body = response["Body"]
                while True:
                    data = body.read(self.block)
                    if not data:
                        break
                    if offset + len(data) > end + 1:
                        body.close()
                        return "the object has more bytes than the manifest's %d" % item.size
                    if self.limiter:
                        self.limiter.consume(len(data))
                    os.pwrite(fetch.fd, data, offset)
                    if fetch.sha256 is not None:
                        fetch.sha256.update(data)
                    offset += len(data)
                    with self.lock:
                        self.bytes_received += len(data)
                body.close()
            except STREAM_ERRORS as exc:
                broken += 1
                if broken > self.retries:
                    raise describe_error(exc, operation, self.bucket, item.key) from exc
                continue
            except S3_CALL_ERRORS as exc:
                raise describe_error(exc, operation, self.bucket, item.key) from exc
            if offset != end + 1:
                return "the object has fewer bytes than the manifest's %d" % item.size
            return None

    def _finish(self, fetch):
        item = fetch.item
        os.fsync(fetch.fd)
        os.close(fetch.fd)
        fetch.fd = None
        got = None
        if fetch.bad_size:
            got = fetch.bad_size
        elif self.verify or item.size <= self.settings.chunk_size:
            digest = fetch.sha256.hexdigest() if fetch.sha256 is not None else sha256_file(fetch.temp)
            if self.verify and digest != item.sha256:
                got = digest
        if got is not None:
            os.unlink(fetch.temp)
            fetch.done = True
            with self.lock:
                self.corrupt.append(dict(path=item.path, key=item.key, expected_sha256=item.sha256, got=got))
            return
        os.replace(fetch.temp, item.target)
        fetch.done = True
        with self.lock:
            self.results.append(dict(path=item.path, size=item.size, verified=self.verify))

    def _discard(self, fetch):
        try:
            if fetch.fd is not None:
                os.close(fetch.fd)
                fetch.fd = None
        except OSError:
            pass
        try:
            os.unlink(fetch.temp)
        except OSError:
            pass
        fetch.done = True


def mib_per_s(count, seconds):
    return round(count / MIB / seconds, 2) if seconds > 0 else 0.0


def transfer_status(what, files_done, files_total, bytes_done, bytes_total, seconds):
    """The status line of a running transfer, e.g. for module_utils/_progress.py; None when there is nothing to
    transfer (a run that only rewrites the manifest)."""
    if not files_total:
        return None
    share = 100.0 * bytes_done / bytes_total if bytes_total else 100.0
    return "%s: %d of %d files, %s of %s (%d %%), %.0f MiB/s, %s" % (
        what, files_done, files_total, human_bytes(bytes_done), human_bytes(bytes_total), share,
        mib_per_s(bytes_done, seconds), human_duration(seconds))
