#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: s3_transaction_prune
short_description: Delete old S3 transactions by policy, never the last complete copy
version_added: 0.1.0
description:
  - Deletes transactions under C(s3://<bucket>/<prefix>/) by a retention policy. A transaction is
    C(<prefix>/<transaction id>/<relative path>) for every file plus the manifest
    C(<prefix>/<transaction id>/_vmops_manifest.json); one with a manifest is complete, one without is incomplete.
  - The policy is O(keep_last), O(older_than_days) or both. Each option names transactions to keep; a complete
    transaction is deleted only when no given option keeps it. With both, a transaction is deleted when it is
    beyond the newest O(keep_last) B(and) completed more than O(older_than_days) days ago.
  - The policy applies per VM (C(source.vm) in the manifest); complete transactions whose manifest names no VM
    form one group of their own. With O(vm) only that VM's transactions are considered.
  - Whatever the policy says, the newest complete transaction of each VM is never deleted. When the policy wanted
    it gone it is kept with the reason C(newest_complete_copy) and a warning.
  - Deleting a transaction deletes its manifest first, so that a transaction deleted halfway reads as incomplete,
    never as complete; then every other object under its key prefix (batches of 1000 keys) and its unfinished
    multipart uploads.
  - Running again with the same policy (and the same O(now)) deletes nothing and reports no change.
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
  vm:
    description:
      - Only the complete transactions whose manifest names this VM as its source (C(source.vm)), matched exactly.
      - Cannot be combined with O(prune_incomplete=true) since incomplete transactions have no manifest and so no
        known VM; give each VM its own O(prefix) to clean up incomplete transactions per VM.
    type: str
  keep_last:
    description:
      - Keep the newest O(keep_last) complete transactions of each VM; at least V(1).
      - At least one of O(keep_last) and O(older_than_days) is required.
    type: int
  older_than_days:
    description:
      - Delete complete transactions completed more than O(older_than_days) days (of 24 hours) before O(now).
        V(0) means any time before O(now).
    type: int
  prune_incomplete:
    description:
      - Also delete incomplete transactions (no manifest) in which nothing was written for O(incomplete_grace_hours).
        The newest object, the start of every unfinished multipart upload and its newest part all count, so an upload
        in progress is never removed.
      - Incomplete transactions made only of unfinished multipart uploads (no object yet) are found as well.
    type: bool
    default: false
  incomplete_grace_hours:
    description:
      - How long an incomplete transaction must have been idle before O(prune_incomplete) deletes it; at least V(1).
    type: int
    default: 24
  now:
    description:
      - The time the policy is measured from, ISO 8601 (for example V(2026-11-22T03:00:00Z); without a time zone
        UTC is meant). Default is the current time. Set it for reproducible runs.
    type: str
extends_documentation_fragment:
  - vmops.datacenter.s3
  - vmops.datacenter.attributes
  - vmops.datacenter.attributes.ACTIONGROUP_S3
  - vmops.datacenter.attributes.PLATFORM_CONTROLLER
attributes:
  check_mode:
    support: full
    details: Returns the plan (transactions, objects, bytes, multipart uploads) in RV(deleted) and deletes nothing.
  diff_mode:
    support: full
    details: Shows the ids of the transactions in scope before and after.
notes:
  - The policy is decided from the manifests before anything is deleted; a manifest that cannot be read fails the
    module before any deletion.
  - Incomplete transactions are listed (one request each) to tell them from the empty directories that some
    S3-compatible stores keep listing after every object is gone; those are ignored.
  - Per-key errors of C(DeleteObjects) fail the module with the keys and codes in RV(errors). By then the
    transaction's manifest is gone, so it reads as incomplete; once the cause is fixed, a run with
    O(prune_incomplete=true) removes the rest.
  - On a bucket with versioning, deleting leaves delete markers and noncurrent versions; a lifecycle rule expiring
    noncurrent versions reclaims the space.
  - Needs C(s3:ListBucket), C(s3:ListBucketMultipartUploads), C(s3:GetObject), C(s3:DeleteObject),
    C(s3:ListMultipartUploadParts) and C(s3:AbortMultipartUpload). A store that does not list multipart uploads gives
    a warning; unfinished uploads are then neither looked at nor aborted.
seealso:
  - module: vmops.datacenter.s3_transaction_info
"""

EXAMPLES = r"""
- name: Keep the last 7 backups of every VM, and anything from the last 30 days
  vmops.datacenter.s3_transaction_prune:
    bucket: vm-backups
    prefix: tintri
    keep_last: 7
    older_than_days: 30
  delegate_to: localhost
  register: pruned

- name: Show what a 14-day retention would delete for one VM, without deleting
  vmops.datacenter.s3_transaction_prune:
    bucket: vm-backups
    prefix: tintri
    vm: prod-sql01
    older_than_days: 14
  check_mode: true
  delegate_to: localhost
  register: plan

- name: Weekly clean-up on an S3-compatible store, including failed uploads idle for two days
  module_defaults:
    group/vmops.datacenter.s3:
      endpoint_url: https://s3.lab.example.com:9000
      s3_compatible: true
      access_key: "{{ s3_access_key }}"
      secret_key: "{{ s3_secret_key }}"
  vmops.datacenter.s3_transaction_prune:
    bucket: vm-backups
    prefix: tintri
    keep_last: 4
    prune_incomplete: true
    incomplete_grace_hours: 48
  delegate_to: localhost
"""

RETURN = r"""
deleted:
  description:
    - Transactions deleted, newest first; in check mode the transactions that would be deleted.
  returned: always
  type: list
  elements: dict
  contains:
    transaction_id:
      description: Id of the transaction.
      type: str
      sample: awx-47001
    complete:
      description: Whether it was complete (had a manifest).
      type: bool
    vm:
      description: VM named in its manifest (null when incomplete or not named).
      type: str
      sample: prod-sql01
    completed:
      description: Completion time from its manifest (ISO 8601, UTC); null when incomplete.
      type: str
    objects:
      description: Number of objects deleted, manifest included.
      type: int
      sample: 5
    bytes:
      description: Bytes in those objects.
      type: int
      sample: 42949673421
    multipart_uploads:
      description: Number of unfinished multipart uploads aborted.
      type: int
      sample: 0
    reason:
      description: Why it was deleted, C(policy) (complete) or C(incomplete_idle).
      type: str
      sample: policy
    detail:
      description: The reason in words.
      type: str
      sample: beyond the newest 7 and completed more than 30 days ago
kept:
  description: Transactions in scope that are kept, newest first, each with the reason.
  returned: always
  type: list
  elements: dict
  contains:
    transaction_id:
      description: Id of the transaction.
      type: str
    complete:
      description: Whether it is complete.
      type: bool
    vm:
      description: VM named in its manifest (null when incomplete or not named).
      type: str
    completed:
      description: Completion time from its manifest; null when incomplete.
      type: str
    reason:
      description:
        - C(keep_last) (one of the newest O(keep_last)), C(newer_than_days) (completed within O(older_than_days)),
          C(newest_complete_copy) (the policy wanted it gone but it is the newest complete transaction of its VM),
          C(completed_time_unknown) (its manifest has no readable completion time),
          C(incomplete_not_pruned) (O(prune_incomplete=false)), C(incomplete_within_grace) (written to within
          O(incomplete_grace_hours), an upload may be in progress) or C(became_complete) (its manifest appeared
          while the module ran).
      type: str
      sample: keep_last
    detail:
      description: The reason in words.
      type: str
      sample: one of the newest 7 complete transactions of prod-sql01
deleted_objects:
  description: Total of RV(deleted[].objects).
  returned: always
  type: int
  sample: 10
deleted_bytes:
  description: Total of RV(deleted[].bytes).
  returned: always
  type: int
  sample: 85899346842
now:
  description: The time the policy was measured from (ISO 8601, UTC).
  returned: always
  type: str
  sample: "2026-11-22T03:00:00Z"
errors:
  description: Keys that C(DeleteObjects) refused (at most 100), with the store's code and message.
  returned: on failure to delete some keys
  type: list
  elements: dict
  sample: [{"key": "tintri/awx-47001/prod-sql01-flat.vmdk", "code": "AccessDenied", "message": "Access Denied"}]
error_count:
  description: Number of keys that C(DeleteObjects) refused.
  returned: on failure to delete some keys
  type: int
  sample: 4
"""

import datetime

from ansible_collections.vmops.datacenter.plugins.module_utils._s3 import (
    MANIFEST_NAME,
    S3_CALL_ERRORS,
    S3Module,
    describe_error,
    error_code,
)
from ansible_collections.vmops.datacenter.plugins.module_utils._s3_transfer import list_uploads
from ansible_collections.vmops.datacenter.plugins.module_utils._s3_manifest import (
    TRANSACTION_ID,
    clean_prefix,
    list_transactions,
    transaction_prefix,
)

DELETE_BATCH = 1000
MAX_REPORTED_ERRORS = 100
UTC = datetime.timezone.utc
LATEST = datetime.datetime.max.replace(tzinfo=UTC)


def parse_time(value):
    """An aware datetime from an ISO 8601 string or a datetime; None when unreadable."""
    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def iso(moment):
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def source_vm(manifest):
    source = (manifest or {}).get("source")
    return source.get("vm") if isinstance(source, dict) else None


class TransactionPruneModule(S3Module):
    def __init__(self):
        spec = dict(
            bucket=dict(type="str", required=True),
            prefix=dict(type="str", default=""),
            vm=dict(type="str"),
            keep_last=dict(type="int"),
            older_than_days=dict(type="int"),
            prune_incomplete=dict(type="bool", default=False),
            incomplete_grace_hours=dict(type="int", default=24),
            now=dict(type="str"),
        )
        super().__init__(spec, supports_check_mode=True, required_one_of=[("keep_last", "older_than_days")])
        params = self.params
        self.result.update(deleted=[], kept=[], deleted_objects=0, deleted_bytes=0)
        if params["keep_last"] is not None and params["keep_last"] < 1:
            self.fail("keep_last must be at least 1, got %d (the newest complete transaction of a VM is always kept; "
                      "use older_than_days alone to delete by age only)." % params["keep_last"])
        if params["older_than_days"] is not None and params["older_than_days"] < 0:
            self.fail("older_than_days must be 0 or more, got %d." % params["older_than_days"])
        if params["incomplete_grace_hours"] < 1:
            self.fail("incomplete_grace_hours must be at least 1, got %d: an upload in progress must never be "
                      "deleted." % params["incomplete_grace_hours"])
        if params["vm"] is not None and params["prune_incomplete"]:
            self.fail("prune_incomplete cannot be combined with vm: incomplete transactions have no manifest, so "
                      "their VM is unknown. Run without vm (give each VM its own prefix to limit the scope).")
        if params["now"] is None:
            self.now = datetime.datetime.now(UTC)
        else:
            self.now = parse_time(params["now"])
            if self.now is None:
                self.fail("now must be an ISO 8601 time such as 2026-11-22T03:00:00Z, got %r." % params["now"])
        self.result["now"] = iso(self.now)
        self.bucket = params["bucket"]
        self.prefix = clean_prefix(params["prefix"])
        self._uploads = None

    # -- reading ------------------------------------------------------------------------------

    def list_objects(self, client, key_prefix):
        """Every object under key_prefix (paginated): dicts with Key, Size, LastModified."""
        objects = []
        try:
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=key_prefix):
                for item in page.get("Contents") or []:
                    objects.append(dict(Key=item["Key"], Size=item.get("Size") or 0,
                                        LastModified=item.get("LastModified")))
        except S3_CALL_ERRORS as exc:
            raise describe_error(exc, "ListObjectsV2", self.bucket, key_prefix) from exc
        return objects

    def uploads(self, client):
        """Unfinished multipart uploads under the prefix by transaction id, from one paginated listing."""
        if self._uploads is not None:
            return self._uploads
        list_prefix = self.prefix + "/" if self.prefix else ""
        listed, unsupported = list_uploads(client, self.bucket, list_prefix)
        if unsupported:
            self.module.warn("s3://%s/%s: the store does not list multipart uploads (%s); unfinished uploads are "
                             "neither taken into account nor aborted." % (self.bucket, list_prefix, unsupported))
        found = {}
        for key, uploads in listed.items():
            rest = key[len(list_prefix):]
            transaction_id = rest.split("/", 1)[0]
            if "/" in rest and TRANSACTION_ID.match(transaction_id):
                found.setdefault(transaction_id, []).extend(
                    dict(Key=u["key"], UploadId=u["upload_id"], Initiated=u["initiated"]) for u in uploads)
        self._uploads = found
        return found

    def newest_part(self, client, upload):
        """Time of the newest uploaded part of a multipart upload (None when it has none or is gone)."""
        newest = None
        try:
            pages = client.get_paginator("list_parts").paginate(Bucket=self.bucket, Key=upload["Key"],
                                                                UploadId=upload["UploadId"])
            for page in pages:
                for part in page.get("Parts") or []:
                    moment = parse_time(part.get("LastModified"))
                    if moment and (newest is None or moment > newest):
                        newest = moment
        except S3_CALL_ERRORS as exc:
            if error_code(exc) == "NoSuchUpload":
                return None
            raise describe_error(exc, "ListParts", self.bucket, upload["Key"]) from exc
        return newest

    # -- deciding -----------------------------------------------------------------------------

    def decide_complete(self, group, vm_name):
        """(transaction, keep reason or None, detail) for one VM's complete transactions."""
        keep_last, days = self.params["keep_last"], self.params["older_than_days"]
        cutoff = self.now - datetime.timedelta(days=days) if days is not None else None
        owner = vm_name if vm_name is not None else "transactions without a VM"
        decisions = []
        dated = []
        for transaction in group:
            completed = parse_time(transaction["completed"])
            if completed is None:
                # Never delete what cannot be dated; it does not count towards keep_last either.
                decisions.append((transaction, "completed_time_unknown", "its manifest has no readable completion "
                                  "time (%r)" % (transaction["completed"],)))
            else:
                dated.append((completed, transaction))
        dated.sort(key=lambda pair: pair[0], reverse=True)
        for index, (completed, transaction) in enumerate(dated):
            if keep_last is not None and index < keep_last:
                decisions.append((transaction, "keep_last", "one of the newest %d complete transactions of %s" % (
                    keep_last, owner)))
            elif cutoff is not None and completed >= cutoff:
                decisions.append((transaction, "newer_than_days", "completed %s, within %d days" % (
                    transaction["completed"], days)))
            elif index == 0:
                decisions.append((transaction, "newest_complete_copy", "the policy would delete it, but it is the "
                                  "newest complete transaction of %s" % owner))
                self.module.warn("Keeping transaction %s although the policy would delete it: it is the newest "
                                 "complete transaction of %s in s3://%s/%s." % (
                                     transaction["transaction_id"], owner, self.bucket, self.prefix))
            else:
                why = []
                if keep_last is not None:
                    why.append("beyond the newest %d" % keep_last)
                if cutoff is not None:
                    why.append("completed more than %d days ago" % days)
                decisions.append((transaction, None, " and ".join(why)))
        return decisions

    def decide_incomplete(self, client, transaction):
        """(keep reason or None, detail, objects) for an incomplete transaction; all None when nothing is stored."""
        key_prefix = transaction_prefix(self.prefix, transaction["transaction_id"])
        objects = self.list_objects(client, key_prefix)
        if any(item["Key"] == key_prefix + MANIFEST_NAME for item in objects):
            return "became_complete", "its manifest was written while this module ran", None
        uploads = self.uploads(client).get(transaction["transaction_id"], []) if self.params["prune_incomplete"] else []
        if not objects and not uploads:
            # Nothing stored: an empty directory that some stores (rclone's local backend) still list.
            return None, None, None
        if not self.params["prune_incomplete"]:
            return "incomplete_not_pruned", "no manifest; prune_incomplete is off", None
        hours = self.params["incomplete_grace_hours"]
        grace_start = self.now - datetime.timedelta(hours=hours)
        moments = [parse_time(item["LastModified"]) for item in objects]
        moments += [parse_time(upload.get("Initiated")) for upload in uploads]
        newest = max([m for m in moments if m is not None], default=None)
        if newest is None or newest < grace_start:
            for upload in uploads:
                part = self.newest_part(client, upload)
                if part is not None and (newest is None or part > newest):
                    newest = part
                if newest is not None and newest >= grace_start:
                    break
        if newest is None:
            return "incomplete_within_grace", "no manifest, and the store gives no write time; kept to be safe", None
        if newest >= grace_start:
            return "incomplete_within_grace", "no manifest, but written to at %s, within %d hours" % (
                iso(newest), hours), None
        return None, "no manifest and idle for more than %d hours (last written to at %s)" % (hours, iso(newest)), objects

    # -- deleting -----------------------------------------------------------------------------

    def delete_transaction(self, client, plan):
        """Manifest first, then the other objects in batches, then unfinished multipart uploads."""
        key_prefix = transaction_prefix(self.prefix, plan["transaction_id"])
        manifest = key_prefix + MANIFEST_NAME
        keys = [item["Key"] for item in plan["_objects"]]
        if plan["complete"]:
            try:
                client.delete_object(Bucket=self.bucket, Key=manifest)
            except S3_CALL_ERRORS as exc:
                raise describe_error(exc, "DeleteObject", self.bucket, manifest) from exc
            self.result["changed"] = True
            keys = [key for key in keys if key != manifest]
        errors = []
        self.result["changed"] = self.result["changed"] or bool(keys)
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start:start + DELETE_BATCH]
            try:
                answer = client.delete_objects(Bucket=self.bucket, Delete=dict(
                    Objects=[dict(Key=key) for key in batch], Quiet=True))
            except S3_CALL_ERRORS as exc:
                raise describe_error(exc, "DeleteObjects", self.bucket, key_prefix) from exc
            errors.extend(dict(key=e.get("Key"), code=e.get("Code"), message=e.get("Message"))
                          for e in answer.get("Errors") or [])
        if errors:
            return errors
        for upload in plan["_uploads"]:
            self.result["changed"] = True
            try:
                client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
            except S3_CALL_ERRORS as exc:
                if error_code(exc) != "NoSuchUpload":  # finished or aborted meanwhile: gone either way
                    raise describe_error(exc, "AbortMultipartUpload", self.bucket, upload["Key"]) from exc
        return []

    # -- the run ------------------------------------------------------------------------------

    def work(self):
        params = self.params
        client = self.client()
        listed = list_transactions(client, self.bucket, self.prefix)
        complete = [t for t in listed if t["manifest"] is not None]
        if params["vm"] is not None:
            complete = [t for t in complete if source_vm(t["manifest"]) == params["vm"]]
            incomplete = []
        else:
            incomplete = [t for t in listed if t["manifest"] is None]
            if params["prune_incomplete"]:
                known = set(t["transaction_id"] for t in listed)
                incomplete += [dict(transaction_id=transaction_id, complete=False, manifest=None, completed=None)
                               for transaction_id in sorted(self.uploads(client), reverse=True)
                               if transaction_id not in known]

        groups = {}
        for transaction in complete:
            groups.setdefault(source_vm(transaction["manifest"]), []).append(transaction)
        entries = []
        for vm_name, group in groups.items():
            for transaction, reason, detail in self.decide_complete(group, vm_name):
                entry = dict(transaction_id=transaction["transaction_id"], complete=True, vm=vm_name,
                             completed=transaction["completed"], reason=reason, detail=detail, _objects=None)
                if reason is None:
                    entry.update(reason="policy", _delete=True)
                entries.append(entry)
        # Newest first across VMs; undatable ones (always kept) first, as the listing puts them.
        entries.sort(key=lambda e: (parse_time(e["completed"]) or LATEST, e["transaction_id"]), reverse=True)
        for transaction in incomplete:
            reason, detail, objects = self.decide_incomplete(client, transaction)
            if detail is None:
                continue
            entry = dict(transaction_id=transaction["transaction_id"], complete=False, vm=None, completed=None,
                         reason=reason or "incomplete_idle", detail=detail, _objects=objects)
            if reason is None:
                entry["_delete"] = True
            entries.append(entry)

        doomed = [e for e in entries if e.get("_delete")]
        for entry in doomed:
            if entry["_objects"] is None:
                entry["_objects"] = self.list_objects(client, transaction_prefix(self.prefix, entry["transaction_id"]))
            entry["_uploads"] = self.uploads(client).get(entry["transaction_id"], [])
            entry.update(objects=len(entry["_objects"]), bytes=sum(item["Size"] for item in entry["_objects"]),
                         multipart_uploads=len(entry["_uploads"]))

        public = ("transaction_id", "complete", "vm", "completed", "reason", "detail")
        self.result["kept"] = [dict((k, e[k]) for k in public) for e in entries if not e.get("_delete")]
        if self.module._diff:
            self.result["diff"] = dict(
                before=dict(transactions=[e["transaction_id"] for e in entries]),
                after=dict(transactions=[e["transaction_id"] for e in entries if not e.get("_delete")]))
        if self.check_mode:
            self.report(doomed)
            self.result["changed"] = bool(doomed)
            return
        done = []
        # Oldest first: a run that stops halfway leaves the newer transactions.
        for entry in reversed(doomed):
            try:
                errors = self.delete_transaction(client, entry)
            finally:
                self.report(done[::-1])
            if errors:
                first = errors[0]
                if entry["complete"]:
                    after = ("Its manifest is already deleted, so it now reads as incomplete; once the cause is fixed, "
                             "run again with prune_incomplete=true to remove the rest.")
                else:
                    after = "Once the cause is fixed, run again to remove the rest."
                msg = "s3://%s/%s: DeleteObjects refused %d key(s) of transaction %s (first: %s: %s %s). %s" % (
                    self.bucket, transaction_prefix(self.prefix, entry["transaction_id"]), len(errors),
                    entry["transaction_id"], first["key"], first["code"], first["message"], after)
                self.fail(msg, errors=errors[:MAX_REPORTED_ERRORS], error_count=len(errors))
            done.append(entry)
        self.report(doomed)

    def report(self, entries):
        """Set deleted and the totals from these (planned or deleted) transactions."""
        summary = ("transaction_id", "complete", "vm", "completed", "objects", "bytes", "multipart_uploads", "reason",
                   "detail")
        self.result["deleted"] = [dict((k, e[k]) for k in summary) for e in entries]
        self.result["deleted_objects"] = sum(e["objects"] for e in entries)
        self.result["deleted_bytes"] = sum(e["bytes"] for e in entries)


def main():
    module = TransactionPruneModule()
    module.run(module.work)


if __name__ == "__main__":
    main()
