# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""docs/iam/s3-bucket-policy.json grants every S3 (and KMS) action the collection's code needs, and no other."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import botocore.session
import pytest
from botocore import xform_name

COLLECTION = Path(__file__).resolve().parents[2]
POLICY = COLLECTION / "docs" / "iam" / "s3-bucket-policy.json"
PAGE = COLLECTION / "docs" / "real_systems.rst"

# S3 API operation -> the IAM actions it needs (AWS service authorization reference for Amazon S3).
IAM_ACTIONS = {
    "ListObjectsV2": {"s3:ListBucket"},
    "ListObjects": {"s3:ListBucket"},
    "HeadBucket": {"s3:ListBucket"},
    "ListMultipartUploads": {"s3:ListBucketMultipartUploads"},
    "ListParts": {"s3:ListMultipartUploadParts"},
    "PutObject": {"s3:PutObject"},
    "CreateMultipartUpload": {"s3:PutObject"},
    "UploadPart": {"s3:PutObject"},
    "CompleteMultipartUpload": {"s3:PutObject"},
    "AbortMultipartUpload": {"s3:AbortMultipartUpload"},
    "GetObject": {"s3:GetObject"},
    "HeadObject": {"s3:GetObject"},
    "DeleteObject": {"s3:DeleteObject"},
    "DeleteObjects": {"s3:DeleteObject"},
    "PutObjectTagging": {"s3:PutObjectTagging"},
    "GetObjectTagging": {"s3:GetObjectTagging"},
    "CopyObject": {"s3:GetObject", "s3:PutObject"},
    "UploadPartCopy": {"s3:GetObject", "s3:PutObject"},
}
# Request parameters that need an action of their own on top of the operation's.
PARAMETER_ACTIONS = {
    "Tagging": {"s3:PutObjectTagging"},  # tags sent with PutObject / CreateMultipartUpload
    "SSEKMSKeyId": {"kms:GenerateDataKey", "kms:Decrypt"},  # SSE-KMS writes; multipart and reads decrypt
}
# boto3's transfer helpers call several operations each; the collection has its own engine and must not use them.
TRANSFER_HELPERS = {"upload_file", "upload_fileobj", "download_file", "download_fileobj", "copy"}


def s3_operations():
    model = botocore.session.get_session().get_service_model("s3")
    return {xform_name(name): name for name in model.operation_names}


def code_files():
    return sorted(p for p in (COLLECTION / "plugins").rglob("*.py") if "boto" in p.read_text() or "_s3" in p.name
                  or p.name.startswith("s3_"))


def calls_in_code():
    """(operation, file) for every S3 client method called or paginated, and the keyword arguments used."""
    operations = s3_operations()
    found, keywords, helpers = {}, set(), set()
    for path in code_files():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            # self.<name>(...) is the collection's own method (s3_transaction_prune has a list_objects), not boto3.
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and ast.unparse(node.func.value) != "self":
                attr = node.func.attr
                if attr in operations:
                    found.setdefault(operations[attr], set()).add(path.name)
                elif attr == "get_paginator" and node.args and isinstance(node.args[0], ast.Constant):
                    found.setdefault(operations[node.args[0].value], set()).add(path.name)
                elif attr in TRANSFER_HELPERS and "client" in ast.unparse(node.func.value):
                    helpers.add("%s in %s" % (attr, path.name))
                keywords.update(k.arg for k in node.keywords if k.arg)
            elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
                keywords.add(node.slice.value)  # args["Tagging"] = ...
    return found, keywords, helpers


def policy_actions():
    policy = json.loads(POLICY.read_text())
    actions = set()
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        assert "*" not in "".join(statement["Action"]), "no wildcard actions in a least-privilege policy"
        actions.update(statement["Action"])
    return actions


def needed_actions():
    found, keywords, _helpers = calls_in_code()
    needed = set()
    for operation in found:
        needed |= IAM_ACTIONS[operation]
    for parameter, actions in PARAMETER_ACTIONS.items():
        if parameter in keywords:
            needed |= actions
    return needed


def test_the_scan_finds_the_calls_the_transfer_engine_makes():
    found, keywords, _helpers = calls_in_code()
    # A scan that finds nothing would make the other tests pass vacuously.
    assert {"ListObjectsV2", "ListMultipartUploads", "ListParts", "PutObject", "CreateMultipartUpload", "UploadPart",
            "CompleteMultipartUpload", "AbortMultipartUpload", "GetObject", "HeadObject", "DeleteObjects"} <= set(found)
    assert {"Tagging", "SSEKMSKeyId"} <= keywords


def test_every_s3_operation_in_the_code_has_known_iam_actions():
    found, _keywords, helpers = calls_in_code()
    unknown = {op: sorted(files) for op, files in found.items() if op not in IAM_ACTIONS}
    assert not unknown, "S3 operations without IAM actions (add them to IAM_ACTIONS and the policy): %s" % unknown
    assert not helpers, "boto3 transfer helpers call operations the scan cannot see: %s" % sorted(helpers)


def test_the_policy_covers_every_call():
    missing = needed_actions() - policy_actions()
    assert not missing, "docs/iam/s3-bucket-policy.json lacks %s" % sorted(missing)


def test_the_policy_grants_nothing_the_code_does_not_use():
    extra = policy_actions() - needed_actions()
    assert not extra, "docs/iam/s3-bucket-policy.json grants unused %s" % sorted(extra)


@pytest.mark.parametrize("sid", ["ListTransactions", "ListUnfinishedUploads", "ReadWriteTransactions",
                                 "PruneTransactions", "SseKmsKey"])
def test_the_real_systems_page_shows_and_explains_the_policy(sid):
    page = PAGE.read_text()
    assert ".. literalinclude:: iam/s3-bucket-policy.json" in page
    assert sid in page
