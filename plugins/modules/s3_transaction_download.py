#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: s3_transaction_download
short_description: Download a complete S3 transaction into a directory, verified file by file
version_added: 0.1.0
description:
  - Downloads every file of a transaction written by M(vmops.datacenter.s3_transaction_upload) into O(dest), under
    its relative path. The file list, sizes and SHA-256 checksums come from the transaction's manifest; a transaction
    without a manifest is incomplete and is refused.
  - Every path in the manifest is checked before anything is written. Paths that could leave O(dest) (absolute,
    C(..), backslashes, control characters), keys outside the transaction, and symbolic links on the way inside
    O(dest) make the module fail without writing anything.
  - Each file is written to a temporary name in its directory (large files by parallel ranged GETs at their offsets)
    and renamed to its real name only after its SHA-256 matches the manifest. A file that does not match is deleted
    and the module fails naming every such file, its key and both checksums; no corrupt file ever has its real name.
  - Idempotent. Files already present with the manifest's size and SHA-256 are not downloaded again; reading the
    manifest is then the only request.
  - Runs on the host that writes O(dest), usually the data mover that mounts the target VMstore's export.
author:
  - vmops.datacenter maintainers (@vmops)
options:
  bucket:
    description:
      - Name of the bucket.
    type: str
    required: true
  prefix:
    description:
      - Key prefix of the transactions, without the transaction id. Leading, trailing and repeated slashes do not
        matter.
    type: str
    default: ""
  transaction_id:
    description:
      - Id of the transaction to download, for example the C(transaction_id) of
        RV(vmops.datacenter.s3_transaction_info#module:latest_complete).
    type: str
    required: true
  dest:
    description:
      - Directory to download into, created when missing. Files already in it that are not in the transaction are
        left alone.
    type: path
    required: true
  concurrency:
    description:
      - Parallel requests (worker threads). Between 1 and 64.
    type: int
    default: 10
  chunk_size:
    description:
      - Files larger than this are fetched in ranged GETs of this size, in parallel, in bytes or with a unit
        (C(16MiB); units are powers of 1024). Between 5 MiB and 5 GiB.
    type: raw
    default: 8MiB
  bandwidth_limit:
    description:
      - Upper limit of the download rate in bytes per second, shared by all workers, for example C(100MiB).
        At least 64 KiB. Unlimited when unset.
    type: raw
  force:
    description:
      - Download every file, even those already present and verified.
    type: bool
    default: false
  verify:
    description:
      - Check the SHA-256 of every downloaded and every present file against the manifest.
      - With V(false), files present with the right size are taken as they are and downloads are only checked for
        their size. Faster, and unsafe; for tests of throughput.
    type: bool
    default: true
extends_documentation_fragment:
  - vmops.datacenter.s3
  - vmops.datacenter.attributes
  - vmops.datacenter.attributes.ACTIONGROUP_S3
attributes:
  check_mode:
    support: full
    details: Reads the manifest and hashes the files already present, and returns the plan; writes nothing.
  diff_mode:
    support: full
    details: Counts of verified files and bytes in O(dest) before and after, not the file list.
  platform:
    description: Runs on the host that writes O(dest), usually the data mover that mounts the target VMstore export.
    support: full
    platforms: posix
notes:
  - A response that breaks off while it is read is asked for again from where it stopped, up to O(retries) times
    (botocore retries failed requests, but not a body cut short).
  - Downloads are not resumed across runs. After a failure the temporary files are removed (those of a killed run on
    the next run); files that were complete and verified keep their real names and are skipped by the next run.
  - Objects in an archive storage class (C(GLACIER), C(DEEP_ARCHIVE)) must be restored in S3 first; the store refuses
    the GET and the module names the key.
  - Needs C(s3:GetObject) on the transaction (and C(s3:ListBucket) to tell an incomplete transaction from a missing
    one); C(kms:Decrypt) for SSE-KMS objects.
seealso:
  - module: vmops.datacenter.s3_transaction_upload
  - module: vmops.datacenter.s3_transaction_info
"""

EXAMPLES = r"""
- name: Newest complete backup of the VM
  vmops.datacenter.s3_transaction_info:
    bucket: vm-backups
    prefix: tintri/prod-sql01
    vm: prod-sql01
    complete_only: true
  delegate_to: localhost
  register: backups

- name: Restore it into a new directory of the target VMstore export
  vmops.datacenter.s3_transaction_download:
    bucket: vm-backups
    prefix: tintri/prod-sql01
    transaction_id: "{{ backups.latest_complete.transaction_id }}"
    dest: /mnt/vmstore2/restored/prod-sql01
    concurrency: 16
    chunk_size: 64MiB
  delegate_to: datamover1
  register: restored
"""

RETURN = r"""
transaction:
  description: The transaction downloaded.
  returned: always
  type: dict
  contains:
    bucket:
      description: Bucket.
      type: str
      sample: vm-backups
    prefix:
      description: Prefix, normalised.
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
downloaded:
  description: Files downloaded (planned in check mode).
  returned: always
  type: dict
  contains:
    count:
      description: Files downloaded.
      type: int
      sample: 14
    bytes:
      description: Their bytes.
      type: int
      sample: 44023414784
unchanged:
  description: Files already present with the right size (and SHA-256, with O(verify)), not downloaded.
  returned: always
  type: dict
  contains:
    count:
      description: Files left as they were.
      type: int
      sample: 0
    bytes:
      description: Their bytes.
      type: int
      sample: 0
verified:
  description: Files whose SHA-256 was checked against the manifest (downloaded and present ones); 0 without O(verify).
  returned: always
  type: int
  sample: 14
corrupt:
  description: Files whose content did not match the manifest (the module then fails). Their temporary files are deleted.
  returned: on failure, when files did not match
  type: list
  elements: dict
  contains:
    path:
      description: Relative path.
      type: str
    key:
      description: Object key.
      type: str
    expected_sha256:
      description: SHA-256 in the manifest.
      type: str
    got:
      description: SHA-256 of what was downloaded, or what was wrong with its size.
      type: str
files:
  description: What happened to each file (to be), at most the first 100 in path order.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: Relative path.
      type: str
      sample: prod-sql01-flat.vmdk
    action:
      description: V(download) or V(skip).
      type: str
      sample: download
    size:
      description: Size in bytes.
      type: int
      sample: 42949672960
file_count:
  description: Files in the transaction.
  returned: always
  type: int
  sample: 14
duration:
  description: Seconds the module spent.
  returned: always
  type: float
  sample: 201.7
throughput_mib_s:
  description: Bytes downloaded per second of RV(duration), in MiB/s.
  returned: always
  type: float
  sample: 208.1
manifest:
  description: The manifest without its file list (source, times, file count, total bytes, ...).
  returned: when the transaction has a manifest
  type: dict
  sample:
    transaction_id: awx-48213
    source:
      vm: prod-sql01
    file_count: 14
    total_bytes: 44023414784
"""

import os
import time

from ansible_collections.vmops.datacenter.plugins.module_utils._progress import Progress
from ansible_collections.vmops.datacenter.plugins.module_utils._s3 import (
    MANIFEST_NAME,
    S3_CALL_ERRORS,
    S3Module,
    describe_error,
)
from ansible_collections.vmops.datacenter.plugins.module_utils._s3_manifest import (
    clean_prefix,
    load_manifest,
    manifest_key,
    manifest_summary,
    transaction_prefix,
)
from ansible_collections.vmops.datacenter.plugins.module_utils._s3_transfer import (
    CheckCounter,
    Downloader,
    Settings,
    TransferError,
    download_targets,
    mib_per_s,
    parse_size,
    plan_download,
    transfer_status,
)

MAX_LISTED_FILES = 100


class DownloadModule(S3Module):
    def __init__(self):
        spec = dict(
            bucket=dict(type="str", required=True),
            prefix=dict(type="str", default=""),
            transaction_id=dict(type="str", required=True),
            dest=dict(type="path", required=True),
            concurrency=dict(type="int", default=10),
            chunk_size=dict(type="raw", default="8MiB"),
            bandwidth_limit=dict(type="raw"),
            force=dict(type="bool", default=False),
            verify=dict(type="bool", default=True),
        )
        super().__init__(spec, supports_check_mode=True)
        self.started = time.monotonic()

    def work(self):
        try:
            self.transfer()
        except (TransferError, ValueError) as exc:
            self.fail(str(exc))

    def settings(self):
        limit = self.params["bandwidth_limit"]
        settings = Settings(concurrency=self.params["concurrency"],
                            chunk_size=parse_size(self.params["chunk_size"], "chunk_size"),
                            bandwidth_limit=parse_size(limit, "bandwidth_limit") if limit not in (None, "") else None)
        settings.validate()
        return settings

    def transfer(self):
        params = self.params
        bucket, prefix, transaction_id, dest = params["bucket"], params["prefix"], params["transaction_id"], params["dest"]
        tprefix = transaction_prefix(prefix, transaction_id)
        settings = self.settings()
        key = manifest_key(prefix, transaction_id)
        self.result["transaction"] = dict(bucket=bucket, prefix=clean_prefix(prefix), transaction_id=transaction_id,
                                          manifest_key=key)
        if os.path.lexists(dest) and not os.path.isdir(dest):
            raise TransferError("dest %s exists and is not a directory." % dest)
        client = self.client(max_pool_connections=settings.concurrency + 2)
        manifest = load_manifest(client, bucket, prefix, transaction_id)
        if manifest is None:
            raise TransferError(self.missing_manifest(client, bucket, tprefix, key))
        self.result["manifest"] = manifest_summary(manifest)
        items = download_targets(manifest, dest, tprefix)
        checked, checking = CheckCounter(), Progress()
        with checking.watch(lambda: checked.status("download %s" % transaction_id, checking.clock() - checking.started)):
            wanted = plan_download(items, params["force"], params["verify"], settings.concurrency, counter=checked)
        skipped = [i for i in items if i.action == "skip"]
        self.result.update(
            downloaded=dict(count=len(wanted), bytes=sum(i.size for i in wanted)),
            unchanged=dict(count=len(skipped), bytes=sum(i.size for i in skipped)),
            verified=len(skipped) if params["verify"] else 0,
            files=[i.summary() for i in items[:MAX_LISTED_FILES]],
            file_count=len(items),
            changed=bool(wanted),
        )
        if self.module._diff:
            self.result["diff"] = dict(
                before=dict(files=len(skipped), bytes=sum(i.size for i in skipped)),
                after=dict(files=len(items), bytes=sum(i.size for i in items)))
        if self.check_mode or not wanted:
            self.finish_timing(0)
            return
        downloader = Downloader(client, bucket, settings, verify=params["verify"], retries=params["retries"])
        progress = Progress()
        total_bytes = sum(i.size for i in wanted)

        def status():
            return transfer_status("download %s" % params["transaction_id"], len(downloader.results), len(wanted),
                                   downloader.bytes_received, total_bytes, progress.clock() - progress.started)

        try:
            with progress.watch(status):
                downloader.run(wanted)
        finally:
            self.result["downloaded"] = dict(count=len(downloader.results),
                                             bytes=sum(r["size"] for r in downloader.results))
            if params["verify"]:
                self.result["verified"] = len(skipped) + len(downloader.results)
            self.finish_timing(downloader.bytes_received)
        if downloader.corrupt:
            corrupt = sorted(downloader.corrupt, key=lambda c: c["path"])
            self.result["corrupt"] = corrupt
            self.fail("%d file(s) of transaction %s do not match the manifest and were not written (their temporary "
                      "files are deleted): %s. The objects in s3://%s/%s changed or were damaged after the upload."
                      % (len(corrupt), transaction_id, "; ".join(
                          "%s (key %s): expected sha256 %s, got %s" % (c["path"], c["key"], c["expected_sha256"],
                                                                       c["got"]) for c in corrupt),
                         bucket, tprefix))

    @staticmethod
    def missing_manifest(client, bucket, tprefix, key):
        """Tell an incomplete transaction from one that does not exist (one listing, only on this error path)."""
        try:
            listed = client.list_objects_v2(Bucket=bucket, Prefix=tprefix, MaxKeys=1).get("KeyCount", 0)
        except S3_CALL_ERRORS as exc:
            raise describe_error(exc, "ListObjectsV2", bucket, tprefix) from exc
        if listed:
            return ("s3://%s/%s: the transaction has no manifest (%s), so it is incomplete: its upload was interrupted "
                    "or is still running. Nothing was downloaded; run the upload again to complete it, or choose a "
                    "complete transaction." % (bucket, tprefix, MANIFEST_NAME))
        return "s3://%s/%s: no such transaction (no manifest %s, no objects). Nothing was downloaded." % (
            bucket, tprefix, key)

    def finish_timing(self, received):
        duration = time.monotonic() - self.started
        self.result["duration"] = round(duration, 3)
        self.result["throughput_mib_s"] = mib_per_s(received, duration)


def main():
    module = DownloadModule()
    module.run(module.work)


if __name__ == "__main__":
    main()
