#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: s3_transaction_info
short_description: List the transactions stored in S3, newest first
version_added: 0.1.0
description:
  - Lists the transactions under C(s3://<bucket>/<prefix>/), newest first, as uploaded by
    M(vmops.datacenter.s3_transaction_upload). A transaction is C(<prefix>/<transaction id>/<relative path>)
    for every file plus the manifest C(<prefix>/<transaction id>/_vmops_manifest.json), which is written last.
  - A transaction with a manifest is complete; one without is incomplete (an upload in progress or one that
    failed) and must not be restored.
  - Finding the transactions takes one delimited listing of the prefix; every transaction's manifest is then read
    with one request, and every incomplete transaction is checked for at least one object with one more (stores
    that keep empty directories list their prefixes after the objects are gone). With O(transaction_id) only that
    transaction is read.
  - RV(latest_complete) is the newest complete transaction among those matching O(vm) (and O(transaction_id)),
    which is what a restore of "the newest backup of a VM" needs.
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
      - Key prefix under which the transactions are stored, without the transaction id. Leading, trailing and
        repeated slashes do not matter.
    type: str
    default: ""
  transaction_id:
    description:
      - Only this transaction. It is read directly (one request, or two when it has no manifest) instead of listing
        the prefix. An unknown id gives an empty list.
    type: str
  vm:
    description:
      - Only transactions whose manifest names this VM as its source (C(source.vm) in the manifest), matched exactly.
      - Incomplete transactions have no manifest and so no known VM; they are left out when O(vm) is set.
    type: str
  complete_only:
    description:
      - Only complete transactions (those with a manifest).
    type: bool
    default: false
  include_files:
    description:
      - Add the file list of each complete transaction (relative path, key, size, SHA-256, ETag). Off by default
        to keep the result small; a VM's transaction lists every disk and configuration file.
    type: bool
    default: false
  query:
    description:
      - JMESPath expression run over the result (keys C(transactions), C(count) and C(latest_complete)); its value
        is returned in RV(query_result). Needs the C(jmespath) Python library on the host that runs the module.
    type: str
extends_documentation_fragment:
  - vmops.datacenter.s3
  - vmops.datacenter.attributes
  - vmops.datacenter.attributes.INFO_MODULE
  - vmops.datacenter.attributes.ACTIONGROUP_S3
  - vmops.datacenter.attributes.PLATFORM_CONTROLLER
notes:
  - Complete transactions are ordered by the completion time in their manifest, newest first; incomplete ones
    follow, by transaction id (descending).
  - A manifest that is not valid JSON or not a transaction manifest of this collection fails the module and names
    the key, rather than being listed as if the transaction were complete.
  - Needs C(s3:ListBucket) on the bucket and C(s3:GetObject) on the manifests.
seealso:
  - module: vmops.datacenter.s3_transaction_prune
  - module: vmops.datacenter.s3_transaction_upload
  - module: vmops.datacenter.s3_transaction_download
"""

EXAMPLES = r"""
- name: Newest complete backup of a VM, to restore it
  vmops.datacenter.s3_transaction_info:
    bucket: vm-backups
    prefix: tintri
    vm: prod-sql01
    complete_only: true
  delegate_to: localhost
  register: backups

- name: Fail when there is nothing to restore
  ansible.builtin.assert:
    that: backups.latest_complete is not none
    fail_msg: No complete backup of prod-sql01 in s3://vm-backups/tintri/

- name: One transaction with its file list, from an S3-compatible store
  vmops.datacenter.s3_transaction_info:
    endpoint_url: https://s3.lab.example.com:9000
    s3_compatible: true
    access_key: "{{ s3_access_key }}"
    secret_key: "{{ s3_secret_key }}"
    bucket: vm-backups
    prefix: tintri
    transaction_id: "{{ backups.latest_complete.transaction_id }}"
    include_files: true
  delegate_to: localhost
  register: chosen

- name: Ids of the incomplete transactions (uploads in progress or failed)
  vmops.datacenter.s3_transaction_info:
    bucket: vm-backups
    prefix: tintri
    query: "transactions[?!complete].transaction_id"
  delegate_to: localhost
  register: incomplete
"""

RETURN = r"""
transactions:
  description: The matching transactions, newest first (see the notes for the order).
  returned: always
  type: list
  elements: dict
  contains:
    transaction_id:
      description: Id of the transaction (the key component after the prefix).
      type: str
      sample: awx-48213
    complete:
      description: Whether the transaction has its manifest.
      type: bool
      sample: true
    started:
      description: When the upload started (ISO 8601, UTC), from the manifest; null when incomplete.
      type: str
      sample: "2026-11-21T22:00:04Z"
    completed:
      description: When the upload completed (ISO 8601, UTC), from the manifest; null when incomplete.
      type: str
      sample: "2026-11-21T22:14:51Z"
    file_count:
      description: Number of files in the transaction; null when incomplete.
      type: int
      sample: 4
    total_bytes:
      description: Total size of the files in bytes; null when incomplete.
      type: int
      sample: 42949672960
    source:
      description: Where the data came from, as the manifest records it (for example the VM, snapshot and VMstore);
        null when incomplete.
      type: dict
      sample: {"vm": "prod-sql01", "snapshot": "before-patch", "vmstore": "vmstore1.example.com"}
    manifest_key:
      description: Key of the manifest; null when incomplete.
      type: str
      sample: tintri/awx-48213/_vmops_manifest.json
    collection_version:
      description: Version of the collection that wrote the manifest; null when incomplete.
      type: str
      sample: 0.1.0
    files:
      description:
        - Files of the transaction, sorted by relative path; null when incomplete.
        - Only with O(include_files=true).
      returned: when O(include_files=true)
      type: list
      elements: dict
      contains:
        path:
          description: Path relative to the transaction (and to the directory it was uploaded from).
          type: str
          sample: prod-sql01/prod-sql01-flat.vmdk
        key:
          description: Key of the object.
          type: str
        size:
          description: Size in bytes.
          type: int
        sha256:
          description: SHA-256 of the content (hex).
          type: str
        etag:
          description: ETag of the object as the store listed it after the upload.
          type: str
count:
  description: Number of entries in RV(transactions).
  returned: always
  type: int
  sample: 3
latest_complete:
  description:
    - The newest complete transaction among the matching ones (same fields as an entry of RV(transactions)),
      null when there is none.
    - O(complete_only) does not change it.
  returned: always
  type: dict
query_result:
  description: Value of O(query) over the result.
  returned: when O(query) is set
  type: raw
"""

from ansible_collections.vmops.datacenter.plugins.module_utils._common import apply_query, check_query
from ansible_collections.vmops.datacenter.plugins.module_utils._s3 import S3_CALL_ERRORS, S3Module, describe_error
from ansible_collections.vmops.datacenter.plugins.module_utils._s3_manifest import (
    check_transaction_id,
    list_transactions,
    load_manifest,
    manifest_key,
    transaction_prefix,
)


def source_vm(manifest):
    source = (manifest or {}).get("source")
    return source.get("vm") if isinstance(source, dict) else None


class TransactionInfoModule(S3Module):
    def __init__(self):
        spec = dict(
            bucket=dict(type="str", required=True),
            prefix=dict(type="str", default=""),
            transaction_id=dict(type="str"),
            vm=dict(type="str"),
            complete_only=dict(type="bool", default=False),
            include_files=dict(type="bool", default=False),
            query=dict(type="str"),
        )
        super().__init__(spec, supports_check_mode=True)
        self.result.update(transactions=[], count=0, latest_complete=None)
        if self.params["transaction_id"] is not None:
            try:
                check_transaction_id(self.params["transaction_id"])
            except ValueError as exc:
                self.fail("Invalid transaction_id: %s." % exc)
        check_query(self.module, self.params["query"])  # a malformed expression fails before any request

    def has_objects(self, client, transaction_id):
        """Whether anything is stored under the transaction's prefix (one request for at most one key)."""
        key_prefix = transaction_prefix(self.params["prefix"], transaction_id)
        try:
            listed = client.list_objects_v2(Bucket=self.params["bucket"], Prefix=key_prefix, MaxKeys=1)
        except S3_CALL_ERRORS as exc:
            raise describe_error(exc, "ListObjectsV2", self.params["bucket"], key_prefix) from exc
        return bool(listed.get("KeyCount") or listed.get("Contents"))

    def one_transaction(self, client):
        """The transaction named by transaction_id, read directly: [] when it does not exist."""
        bucket, prefix, transaction_id = self.params["bucket"], self.params["prefix"], self.params["transaction_id"]
        manifest = load_manifest(client, bucket, prefix, transaction_id)
        if manifest is None and not self.has_objects(client, transaction_id):
            return []
        return [dict(transaction_id=transaction_id, complete=manifest is not None, manifest=manifest)]

    def entry(self, transaction):
        manifest = transaction["manifest"]
        complete = manifest is not None
        manifest = manifest or {}
        entry = dict(
            transaction_id=transaction["transaction_id"],
            complete=complete,
            started=manifest.get("started"),
            completed=manifest.get("completed"),
            file_count=manifest.get("file_count"),
            total_bytes=manifest.get("total_bytes"),
            source=manifest.get("source") if complete else None,
            manifest_key=manifest_key(self.params["prefix"], transaction["transaction_id"]) if complete else None,
            collection_version=manifest.get("collection_version"),
        )
        if self.params["include_files"]:
            entry["files"] = (manifest.get("files") or []) if complete else None
        return entry

    def work(self):
        params = self.params
        client = self.client()
        if params["transaction_id"] is not None:
            found = self.one_transaction(client)
        else:
            found = list_transactions(client, params["bucket"], params["prefix"])
        if params["vm"] is not None:
            found = [t for t in found if t["manifest"] is not None and source_vm(t["manifest"]) == params["vm"]]
        if params["complete_only"]:
            found = [t for t in found if t["manifest"] is not None]
        elif params["transaction_id"] is None:
            # Stores that keep directories (rclone's local backend, for one) still list the prefix of a
            # transaction whose objects are all gone; only incomplete transactions with an object are real.
            found = [t for t in found if t["manifest"] is not None or self.has_objects(client, t["transaction_id"])]
        transactions = [self.entry(t) for t in found]
        latest_entry = next((e for e in transactions if e["complete"]), None)
        self.result.update(transactions=transactions, count=len(transactions), latest_complete=latest_entry)
        if params["query"]:
            self.result["query_result"] = apply_query(
                self.module, dict(transactions=transactions, count=len(transactions), latest_complete=latest_entry),
                params["query"])


def main():
    module = TransactionInfoModule()
    module.run(module.work)


if __name__ == "__main__":
    main()
