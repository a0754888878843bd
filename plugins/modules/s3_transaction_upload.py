#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: s3_transaction_upload
short_description: Upload a directory to S3 as one transaction, resumable, with a manifest written last
version_added: 0.1.0
description:
  - Uploads every regular file under O(src) to C(s3://<bucket>/<prefix>/<transaction id>/<relative path>), then
    writes the transaction's manifest C(<prefix>/<transaction id>/_vmops_manifest.json) listing every file with its
    size, SHA-256 and ETag, and where the data came from (O(source)). A transaction without a manifest is incomplete.
  - Runs on the host that can read O(src), in practice the data mover that mounts the VMstore export
    (C(delegate_to)). Each file is read once, sequentially, and sent in parallel parts by O(concurrency) threads;
    large files are read a few at a time, one part of each in turn, so that several objects progress together. The
    memory used for data stays about (O(concurrency) + 1) x O(chunk_size) whatever the file sizes.
  - "Idempotent: a re-run with the same transaction id sends nothing that is already there and verified. With a
    manifest (and the same O(source)), an object is verified when its listed size and ETag are those in the
    manifest and the local file has that size: no local file is read. Without one (an interrupted run), a listed
    object of the right size is verified against the local file: its ETag must be the file's MD5 or its multipart
    ETag; with O(encryption=aws:kms), whose ETags are no MD5, the SHA-256 recorded in the object's metadata must
    match."
  - An interrupted multipart upload (a dropped connection after the retries, a killed process) is resumed. Its
    parts are listed once, the file is read again with that upload's part size, and only parts that are missing or
    differ are sent.
  - A re-run over a complete transaction makes three requests, one paginated listing of the transaction, one paginated listing
    of unfinished multipart uploads, and one GET of the manifest. No HEAD per file.
author:
  - vmops.datacenter maintainers (@vmops)
options:
  bucket:
    description:
      - Name of the bucket. It must exist.
    type: str
    required: true
  prefix:
    description:
      - Key prefix of the transactions, without the transaction id, for example C(vmops/prod-sql01). Leading, trailing
        and repeated slashes do not matter.
    type: str
    default: ""
  transaction_id:
    description:
      - Id of the transaction, the key component after O(prefix). 1 to 128 letters, digits, C(.), C(_) or C(-),
        starting with a letter or digit. Use the same id to resume or re-check an upload.
    type: str
    required: true
  src:
    description:
      - Directory to upload, on the host that runs the module. Every regular file below it is uploaded under its
        relative path. It must hold at least one file (after O(include) and O(exclude)).
      - Symbolic links to files inside O(src) are uploaded as files; links that lead outside O(src) make the module
        fail before anything is sent; links to directories are not followed. A file named C(_vmops_manifest.json) at
        the top is refused.
    type: path
    required: true
  source:
    description:
      - Where the data comes from, recorded as C(source) in the manifest, for example C(vm), C(vm_uuid),
        C(snapshot), C(snapshot_uuid), C(snapshot_time), C(vmstore) and C(directory). Free-form.
      - When the transaction already has a manifest with another O(source), every file is verified by its content
        (read and hashed) instead of trusting the manifest, and the manifest is written again.
    type: dict
  include:
    description:
      - Only files whose relative path matches one of these glob patterns (C(*) also matches C(/), so C(*.vmdk)
        matches C(disks/a.vmdk)). All files when unset.
    type: list
    elements: str
  exclude:
    description:
      - Leave out files whose relative path matches one of these glob patterns. O(exclude) wins over O(include).
    type: list
    elements: str
  concurrency:
    description:
      - Parallel requests (worker threads). Between 1 and 64. Stores that hold back the answer to one part of each
        upload until the others are in (rclone serve s3 does) keep a worker busy per large file, so leave room.
    type: int
    default: 10
  chunk_size:
    description:
      - Part size of multipart uploads, in bytes or with a unit (C(16MiB), C(64M); units are powers of 1024).
        Between 5 MiB and 5 GiB. Raised for a file that would otherwise need more than 10,000 parts.
    type: raw
    default: 8MiB
  multipart_threshold:
    description:
      - Files of at least this size are uploaded in parts; smaller ones with one PUT each (also in parallel).
        Between 5 MiB and 5 GiB. Defaults to O(chunk_size).
    type: raw
  bandwidth_limit:
    description:
      - Upper limit of the upload rate in bytes per second, shared by all workers (a token bucket), for example
        C(50MiB). At least 64 KiB. Unlimited when unset.
    type: raw
  checksum_algorithm:
    description:
      - S3 additional checksum computed locally and sent with every PUT and part; stores that support it verify it
        and keep it (some S3-compatible stores keep it unverified). V(none) sends none (botocore still adds its
        default integrity checksum where the store supports it, unless O(s3_compatible=true)). V(crc32c) needs the
        C(awscrt) Python package.
      - Stores that do not support additional checksums reject the requests; leave V(none) for them.
    type: str
    choices: [none, sha256, sha1, crc32, crc32c]
    default: none
  encryption:
    description:
      - Server-side encryption of every object, the manifest included. V(AES256) is SSE-S3; V(aws:kms) is SSE-KMS
        with O(kms_key_id) or the bucket's default key.
    type: str
    choices: [none, AES256, "aws:kms"]
    default: none
  kms_key_id:
    description:
      - KMS key id or ARN for O(encryption=aws:kms).
    type: str
  storage_class:
    description:
      - Storage class of every object, for example C(STANDARD_IA), C(INTELLIGENT_TIERING), C(GLACIER_IR). The store
        decides which classes it knows. With C(GLACIER) or C(DEEP_ARCHIVE) the manifest stays in the default class so
        that transactions can still be listed and checked.
    type: str
  tags:
    description:
      - Object tags set on every object, the manifest included (multipart uploads get them when they are created).
        Some S3-compatible stores ignore tags sent with uploads.
    type: dict
  metadata:
    description:
      - User metadata (C(x-amz-meta-*)) set on every object, the manifest included. The key C(sha256) is reserved, as
        the module records each single-part object's SHA-256 under it.
    type: dict
  force:
    description:
      - Upload every file again, even when it is present and verified; unfinished uploads of those files are aborted
        rather than resumed. The manifest is written again.
    type: bool
    default: false
extends_documentation_fragment:
  - vmops.datacenter.s3
  - vmops.datacenter.attributes
  - vmops.datacenter.attributes.ACTIONGROUP_S3
attributes:
  check_mode:
    support: full
    details: Lists and reads what a real run would (the store, and local files where their content must be verified)
      and returns the plan; writes nothing.
  diff_mode:
    support: full
    details: Counts of files and bytes in the transaction before and after, not the file list.
  platform:
    description: Runs on the host that reads O(src), usually the data mover that mounts the VMstore export.
    support: full
    platforms: posix
notes:
  - Before an object of a complete transaction is replaced, its manifest is deleted, so the transaction reads as
    incomplete until the new manifest is written.
  - The manifest records each object's ETag as the store answered the upload (PutObject or CompleteMultipartUpload).
    A store that lists a multipart object with another ETag form (the MD5 of the whole object, as C(rclone serve s3)
    does) makes a re-run read that local file once and compare it; nothing is sent or rewritten when it matches.
  - A resumed upload keeps the encryption, tags, metadata and storage class it was started with. An unfinished upload
    whose checksum algorithm or storage class differs from the options is aborted and started again.
  - With O(encryption=aws:kms) the store's ETags are no MD5, so parts of an interrupted upload can only be reused when
    O(checksum_algorithm) is set (the part checksums are compared instead); otherwise they are sent again.
  - Needs C(s3:ListBucket), C(s3:ListBucketMultipartUploads), C(s3:GetObject), C(s3:PutObject),
    C(s3:ListMultipartUploadParts), C(s3:AbortMultipartUpload) and C(s3:DeleteObject) (to replace a manifest);
    C(s3:PutObjectTagging) with O(tags); C(kms:GenerateDataKey) and C(kms:Decrypt) with SSE-KMS.
seealso:
  - module: vmops.datacenter.s3_transaction_download
  - module: vmops.datacenter.s3_transaction_info
"""

EXAMPLES = r"""
- name: Upload a VM's cloned directory from the data mover
  vmops.datacenter.s3_transaction_upload:
    bucket: vm-backups
    prefix: tintri/prod-sql01
    transaction_id: "{{ awx_job_id | default('adhoc-' ~ now(utc=true, fmt='%Y%m%dT%H%M%S')) }}"
    src: /mnt/vmstore1/vmops-protect/prod-sql01
    source:
      vm: prod-sql01
      snapshot: nightly
      vmstore: vmstore1.example.com
    encryption: aws:kms
    kms_key_id: alias/vm-backups
    storage_class: STANDARD_IA
    tags:
      owner: platform-team
  delegate_to: datamover1
  register: upload

- name: An S3-compatible store on site, gently
  module_defaults:
    group/vmops.datacenter.s3:
      endpoint_url: https://s3.lab.example.com:9000
      s3_compatible: true
      ca_path: /etc/pki/tls/certs/lab-ca.pem
      access_key: "{{ s3_access_key }}"
      secret_key: "{{ s3_secret_key }}"
  vmops.datacenter.s3_transaction_upload:
    bucket: vm-backups
    prefix: lab
    transaction_id: lab-20261121
    src: /mnt/vmstore1/export/lab-vm1
    concurrency: 4
    chunk_size: 64MiB
    bandwidth_limit: 50MiB
    exclude:
      - "*.log"
      - "*.lck"
  delegate_to: datamover1
"""

RETURN = r"""
transaction:
  description: Where the transaction is.
  returned: always
  type: dict
  contains:
    bucket:
      description: Bucket.
      type: str
      sample: vm-backups
    prefix:
      description: Prefix, normalised (no leading or trailing slash).
      type: str
      sample: tintri/prod-sql01
    transaction_id:
      description: Transaction id.
      type: str
      sample: awx-48213
    manifest_key:
      description: Key of the manifest.
      type: str
      sample: tintri/prod-sql01/awx-48213/_vmops_manifest.json
uploaded:
  description: Files written (fresh and resumed) and the bytes sent; planned values in check mode.
  returned: always
  type: dict
  contains:
    count:
      description: Files uploaded or resumed.
      type: int
      sample: 3
    bytes:
      description: Bytes sent (parts reused by a resume are not counted).
      type: int
      sample: 42949672960
resumed:
  description: Interrupted multipart uploads that were resumed; in check mode the parts that would be reused.
  returned: always
  type: dict
  contains:
    files:
      description: Files whose unfinished upload was resumed.
      type: int
      sample: 1
    parts_reused:
      description: Parts already in the store that were verified and not sent again.
      type: int
      sample: 611
    bytes_reused:
      description: Bytes of those parts.
      type: int
      sample: 10250878976
unchanged:
  description: Files already present and verified, not sent.
  returned: always
  type: dict
  contains:
    count:
      description: Files left as they were.
      type: int
      sample: 12
    bytes:
      description: Their bytes.
      type: int
      sample: 1073741824
aborted_uploads:
  description: Stale unfinished multipart uploads of these files that were (or in check mode would be) aborted.
  returned: always
  type: int
  sample: 0
files:
  description: What happened to each file (to be), at most the first 100 in path order, to keep job output small.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: Relative path.
      type: str
      sample: prod-sql01-flat.vmdk
    action:
      description: V(upload), V(resume) or V(skip).
      type: str
      sample: upload
    size:
      description: Size in bytes.
      type: int
      sample: 42949672960
    parts_reused:
      description: For V(resume), the parts reused.
      type: int
      returned: for resumed files
      sample: 611
file_count:
  description: Files in O(src) after O(include) and O(exclude) (RV(files) shows at most 100 of them).
  returned: always
  type: int
  sample: 14
duration:
  description: Seconds the module spent (scanning O(src), listing, sending, writing the manifest).
  returned: always
  type: float
  sample: 312.4
throughput_mib_s:
  description: Bytes sent per second of RV(duration), in MiB/s.
  returned: always
  type: float
  sample: 131.1
manifest:
  description:
    - The manifest without its file list (format, transaction_id, bucket, prefix, started, completed,
      collection_version, source, file_count, total_bytes, upload settings).
    - In check mode, the manifest that would be written (with C(completed) null).
  returned: always
  type: dict
  sample:
    format: vmops.datacenter/s3-transaction/1
    transaction_id: awx-48213
    file_count: 14
    total_bytes: 44023414784
    completed: "2026-11-21T22:14:51Z"
"""

import json
import time

from ansible_collections.vmops.datacenter.plugins.module_utils._progress import Progress
from ansible_collections.vmops.datacenter.plugins.module_utils._s3 import S3Error, S3Module
from ansible_collections.vmops.datacenter.plugins.module_utils._s3_manifest import (
    clean_prefix,
    finish_manifest,
    load_manifest,
    manifest_key,
    manifest_summary,
    new_manifest,
    now_iso,
    transaction_prefix,
)
from ansible_collections.vmops.datacenter.plugins.module_utils._s3_transfer import (
    CheckCounter,
    Settings,
    TransferError,
    Uploader,
    abort_upload,
    count_reusable_parts,
    delete_object,
    mib_per_s,
    parallel_map,
    parse_size,
    plan_upload,
    transfer_status,
    put_manifest,
    scan_directory,
)

MAX_LISTED_FILES = 100
ENTRY_FIELDS = ("key", "size", "sha256", "etag")


class UploadModule(S3Module):
    def __init__(self):
        spec = dict(
            bucket=dict(type="str", required=True),
            prefix=dict(type="str", default=""),
            transaction_id=dict(type="str", required=True),
            src=dict(type="path", required=True),
            source=dict(type="dict"),
            include=dict(type="list", elements="str"),
            exclude=dict(type="list", elements="str"),
            concurrency=dict(type="int", default=10),
            chunk_size=dict(type="raw", default="8MiB"),
            multipart_threshold=dict(type="raw"),
            bandwidth_limit=dict(type="raw"),
            checksum_algorithm=dict(type="str", choices=["none", "sha256", "sha1", "crc32", "crc32c"], default="none"),
            encryption=dict(type="str", choices=["none", "AES256", "aws:kms"], default="none"),
            kms_key_id=dict(type="str"),
            storage_class=dict(type="str"),
            tags=dict(type="dict"),
            metadata=dict(type="dict"),
            force=dict(type="bool", default=False),
        )
        super().__init__(spec, supports_check_mode=True)
        self.started = time.monotonic()

    def settings(self):
        params = self.params
        chunk_size = parse_size(params["chunk_size"], "chunk_size")
        threshold = params["multipart_threshold"]
        limit = params["bandwidth_limit"]
        settings = Settings(
            concurrency=params["concurrency"], chunk_size=chunk_size,
            multipart_threshold=parse_size(threshold, "multipart_threshold") if threshold not in (None, "") else None,
            bandwidth_limit=parse_size(limit, "bandwidth_limit") if limit not in (None, "") else None,
            checksum_algorithm=params["checksum_algorithm"], encryption=params["encryption"],
            kms_key_id=params["kms_key_id"], storage_class=params["storage_class"] or None,
            tags=self.strings(params["tags"], "tags"), metadata=self.strings(params["metadata"], "metadata"))
        settings.validate()
        return settings

    @staticmethod
    def strings(values, name):
        """Tags and metadata as strings (YAML may give numbers or booleans)."""
        result = {}
        for key, value in (values or {}).items():
            if isinstance(value, (dict, list)) or value is None:
                raise TransferError("%s %r: values must be strings, got %r." % (name, key, value))
            result[str(key)] = str(value).lower() if isinstance(value, bool) else str(value)
        return result

    def work(self):
        try:
            self.transfer()
        except TransferError as exc:
            self.fail(str(exc))
        except ValueError as exc:
            self.fail(str(exc))

    def transfer(self):
        params = self.params
        bucket, transaction_id = params["bucket"], params["transaction_id"]
        tprefix = transaction_prefix(params["prefix"], transaction_id)
        settings = self.settings()
        self.result["transaction"] = dict(bucket=bucket, prefix=clean_prefix(params["prefix"]),
                                          transaction_id=transaction_id,
                                          manifest_key=manifest_key(params["prefix"], transaction_id))
        files, warnings = scan_directory(params["src"], params["include"], params["exclude"])
        for warning in warnings:
            self.module.warn(warning)
        if not files:
            # Most likely a wrong path or an export that is not mounted: an empty "complete" backup would hide that.
            raise TransferError("src %s has no files to upload%s; nothing was sent. Check the path (is the export "
                                "mounted on this host?)." % (params["src"], " that match include/exclude"
                                                             if params["include"] or params["exclude"] else ""))
        started_iso = now_iso()
        client = self.client(max_pool_connections=settings.concurrency + 2)

        checked, checking = CheckCounter(), Progress()
        with checking.watch(lambda: checked.status("upload %s" % transaction_id, checking.clock() - checking.started)):
            plan = plan_upload(client, bucket, tprefix, files, settings, force=params["force"], source=params["source"],
                               load_manifest=lambda: load_manifest(client, bucket, params["prefix"], transaction_id),
                               counter=checked)
        for warning in plan.warnings:
            self.module.warn(warning)
        sending = plan.of("upload") + plan.of("resume")
        if self.check_mode:
            counts = parallel_map(lambda a: count_reusable_parts(a, settings), plan.of("resume"), settings.concurrency)
            for action, (parts, count) in zip(plan.of("resume"), counts, strict=True):
                action.parts_reused, action.bytes_reused = parts, count
        self.report(plan, files)

        skipped_entries = dict((a.local.path, a.entry) for a in plan.of("skip"))
        rewrite = self.manifest_outdated(plan, skipped_entries, files)
        self.result["changed"] = bool(sending or plan.aborts or rewrite)
        if not self.result["changed"]:
            self.result["manifest"] = manifest_summary(plan.manifest)
            self.finish_timing()
            return
        if self.check_mode:
            planned = finish_manifest(self.new_manifest(plan, started_iso, settings),
                                      [a.entry or self.planned_entry(a) for a in plan.actions])
            self.result["manifest"] = dict(manifest_summary(planned), completed=None)
            self.finish_timing()
            return

        if plan.manifest is not None and sending:
            # The old manifest would describe objects about to change: the transaction is incomplete until the end.
            delete_object(client, bucket, manifest_key(params["prefix"], transaction_id), "DeleteObject (old manifest)")
        for key, upload_id in plan.aborts:
            abort_upload(client, bucket, key, upload_id)
        uploader = Uploader(client, bucket, settings)
        progress = Progress()
        total_bytes = sum(a.local.size for a in sending)

        def status():
            return transfer_status("upload %s" % transaction_id, len(uploader.results), len(sending),
                                   uploader.bytes_sent, total_bytes, progress.clock() - progress.started)

        try:
            with progress.watch(status):
                results = uploader.run(sending)
        except (S3Error, TransferError) as exc:
            self.result["uploaded"]["bytes"] = uploader.bytes_sent
            self.finish_timing(uploader.bytes_sent)
            exc.args = ("%s The transaction stays incomplete; run the task again with transaction_id %s to resume "
                        "from what was stored." % (exc, transaction_id),)
            raise
        self.record(plan, results, uploader)

        entries = []
        by_path = dict((r["path"], r) for r in results)
        for action in plan.actions:
            if action.action == "skip":
                entries.append(action.entry)
                continue
            done = by_path[action.local.path]
            entries.append(dict(path=action.local.path, key=action.key, size=action.local.size, sha256=done["sha256"],
                                etag=done["etag"], part_size=done["part_size"], parts=done["parts"]))
        manifest = finish_manifest(self.new_manifest(plan, started_iso, settings), entries)
        body = json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8")
        put_manifest(client, bucket, manifest_key(params["prefix"], transaction_id), body, settings)
        self.result["manifest"] = manifest_summary(manifest)
        self.finish_timing(uploader.bytes_sent)

    def new_manifest(self, plan, started_iso, settings):
        params = self.params
        source = params["source"] if params["source"] is not None else (plan.manifest or {}).get("source")
        manifest = new_manifest(params["bucket"], params["prefix"], params["transaction_id"], source, started_iso)
        manifest["upload"] = dict(chunk_size=settings.chunk_size, checksum_algorithm=settings.checksum_algorithm,
                                  encryption=settings.encryption, storage_class=settings.storage_class)
        return manifest

    @staticmethod
    def planned_entry(action):
        return dict(path=action.local.path, key=action.key, size=action.local.size, sha256=None, etag=None)

    def manifest_outdated(self, plan, skipped_entries, files):
        """Whether the manifest must be (re)written though no data moves: none yet, other files, other source."""
        if plan.manifest is None:
            return True
        if len(skipped_entries) != len(files):
            return True
        if self.params["source"] is not None and plan.manifest.get("source") != self.params["source"]:
            return True
        old = dict((e["path"], e) for e in plan.manifest.get("files") or [])
        if set(old) != set(skipped_entries):
            return True
        # Not the ETag: a file whose content was verified against the store keeps its entry even when the store
        # lists another form of the ETag than CompleteMultipartUpload answered (rclone serve s3 lists a whole-file
        # MD5); the next run verifies that file again by reading it, and nothing is written.
        return any(any(old[p].get(f) != e.get(f) for f in ENTRY_FIELDS if f != "etag") for p, e in skipped_entries.items())

    def report(self, plan, files):
        uploads, resumes, skips = plan.of("upload"), plan.of("resume"), plan.of("skip")
        sending = uploads + resumes
        self.result.update(
            uploaded=dict(count=len(sending),
                          bytes=sum(a.local.size for a in sending) - sum(a.bytes_reused for a in resumes)),
            resumed=dict(files=len(resumes), parts_reused=sum(a.parts_reused for a in resumes),
                         bytes_reused=sum(a.bytes_reused for a in resumes)),
            unchanged=dict(count=len(skips), bytes=sum(a.local.size for a in skips)),
            aborted_uploads=len(plan.aborts),
            files=[a.summary() for a in plan.actions[:MAX_LISTED_FILES]],
            file_count=len(files),
        )
        if self.module._diff:
            before = [a for a in plan.actions if a.action == "skip"]
            self.result["diff"] = dict(
                before=dict(files=len(before), bytes=sum(a.local.size for a in before),
                            manifest="present" if plan.manifest is not None else "absent"),
                after=dict(files=len(files), bytes=sum(f.size for f in files), manifest="present"))

    def record(self, plan, results, uploader):
        by_path = dict((r["path"], r) for r in results)
        for action in plan.of("resume"):
            done = by_path.get(action.local.path, {})
            action.parts_reused = done.get("parts_reused", 0)
            action.bytes_reused = done.get("bytes_reused", 0)
        self.report(plan, [a.local for a in plan.actions])
        self.result["uploaded"]["bytes"] = uploader.bytes_sent

    def finish_timing(self, sent=None):
        duration = time.monotonic() - self.started
        self.result["duration"] = round(duration, 3)
        self.result["throughput_mib_s"] = mib_per_s(sent or 0, duration) if sent is not None else 0.0


def main():
    module = UploadModule()
    module.run(module.work)


if __name__ == "__main__":
    main()
