# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Transactions in S3: key layout, the manifest, and finding transactions.

A transaction is ``s3://<bucket>/<prefix>/<transaction id>/<relative path>`` for every file, plus
the manifest ``<prefix>/<transaction id>/_vmops_manifest.json``, written last. A transaction
without a manifest is incomplete by definition. The manifest lists every file (relative path, key,
size, SHA-256, the ETag as the store lists it) and where the data came from.

Private to the collection: the interface may change between releases.
"""

from __future__ import annotations

import datetime
import json
import posixpath
import re
import unicodedata

from ansible_collections.vmops.datacenter.plugins.module_utils._s3 import (
    COLLECTION_VERSION,
    MANIFEST_FORMAT,
    MANIFEST_NAME,
    S3_CALL_ERRORS,
    S3Error,
    describe_error,
    error_code,
)

TRANSACTION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MISSING_CODES = frozenset(["NoSuchKey", "404", "NotFound"])


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def clean_prefix(prefix):
    """'backups/vm1/' -> 'backups/vm1'; '' stays ''."""
    return "/".join(part for part in (prefix or "").split("/") if part)


def check_transaction_id(transaction_id):
    if not TRANSACTION_ID.match(transaction_id or ""):
        raise ValueError("transaction id %r must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or "
                         "digit" % (transaction_id,))
    return transaction_id


def transaction_prefix(prefix, transaction_id):
    """Key prefix of a transaction, with a trailing slash."""
    head = clean_prefix(prefix)
    return "%s%s/" % (head + "/" if head else "", check_transaction_id(transaction_id))


def manifest_key(prefix, transaction_id):
    return transaction_prefix(prefix, transaction_id) + MANIFEST_NAME


def relative_path_problem(path):
    """Why a relative path from a manifest or key could escape its directory (None when safe)."""
    if not path:
        return "it is empty"
    if any(unicodedata.category(char) == "Cc" for char in path):
        return "it contains a control character"
    if "\\" in path:
        return "it contains a backslash"
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        return "it is absolute"
    parts = path.split("/")
    if "" in parts or "." in parts:
        return "it has an empty or '.' component"
    if ".." in parts:
        return "it has a '..' component"
    if posixpath.normpath(path) != path:
        return "it is not in normal form"
    return None


def new_manifest(bucket, prefix, transaction_id, source, started):
    return dict(
        format=MANIFEST_FORMAT,
        transaction_id=transaction_id,
        bucket=bucket,
        prefix=clean_prefix(prefix),
        started=started,
        completed=None,
        collection_version=COLLECTION_VERSION,
        source=source or {},
        files=[],
        file_count=0,
        total_bytes=0,
    )


def finish_manifest(manifest, files, extra=None):
    """files: dicts with path, key, size, sha256, etag (as listed), part_size, parts."""
    manifest = dict(manifest)
    manifest["files"] = sorted(files, key=lambda f: f["path"])
    manifest["file_count"] = len(files)
    manifest["total_bytes"] = sum(f["size"] for f in files)
    manifest["completed"] = now_iso()
    manifest.update(extra or {})
    return manifest


def parse_manifest(body, where):
    try:
        manifest = json.loads(body)
    except ValueError as exc:
        raise S3Error("%s: the manifest is not valid JSON (%s); the transaction cannot be trusted." % (where, exc)) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise S3Error("%s: not a vmops.datacenter transaction manifest (format %r)." % (
            where, manifest.get("format") if isinstance(manifest, dict) else None))
    for entry in manifest.get("files") or []:
        problem = relative_path_problem(entry.get("path"))
        if problem:
            raise S3Error("%s: refusing the manifest: file path %r %s." % (where, entry.get("path"), problem))
    return manifest


def load_manifest(client, bucket, prefix, transaction_id):
    """The transaction's manifest, or None when there is none (incomplete or absent)."""
    key = manifest_key(prefix, transaction_id)
    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except S3_CALL_ERRORS as exc:
        if error_code(exc) in MISSING_CODES:
            return None
        raise describe_error(exc, "GetObject", bucket, key) from exc
    return parse_manifest(body, "s3://%s/%s" % (bucket, key))


def list_transactions(client, bucket, prefix, with_manifests=True):
    """Transactions under a prefix, newest first: dicts with transaction_id, complete, manifest, last_modified.

    One delimited listing finds the transactions; the manifest of each is read when asked.
    """
    head = clean_prefix(prefix)
    list_prefix = head + "/" if head else ""
    found = []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=list_prefix, Delimiter="/"):
            for common in page.get("CommonPrefixes") or []:
                name = common["Prefix"][len(list_prefix):].rstrip("/")
                if TRANSACTION_ID.match(name):
                    found.append(name)
    except S3_CALL_ERRORS as exc:
        raise describe_error(exc, "ListObjectsV2", bucket, list_prefix) from exc
    transactions = []
    for transaction_id in found:
        manifest = load_manifest(client, bucket, prefix, transaction_id) if with_manifests else None
        transactions.append(dict(transaction_id=transaction_id, complete=manifest is not None, manifest=manifest,
                                 completed=(manifest or {}).get("completed"), started=(manifest or {}).get("started")))
    # Complete ones by completion time; incomplete ones (no time known) after them, by id.
    transactions.sort(key=lambda t: (t["completed"] or "", t["transaction_id"]), reverse=True)
    return transactions


def manifest_summary(manifest):
    """The manifest without its file list (for results that should stay small)."""
    return dict((k, v) for k, v in manifest.items() if k != "files")
