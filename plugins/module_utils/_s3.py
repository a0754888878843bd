# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""S3 connection for the collection's modules: options, boto3 client, clear errors.

Options follow amazon.aws (access_key, secret_key, session_token, profile, region, endpoint_url,
validate_certs, ca_path) with the standard AWS_* environment fallbacks. ``s3_compatible`` selects
path-style addressing and checksums only where the protocol requires them, which MinIO, Ceph,
StorageGRID and rclone-style endpoints need.

Private to the collection: the interface may change between releases.
"""

from __future__ import annotations

import re

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

try:
    import boto3
    import botocore.config
    import botocore.exceptions
    HAS_BOTO3 = True
    BOTO3_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised by the sanity import test
    HAS_BOTO3 = False
    BOTO3_IMPORT_ERROR = exc

COLLECTION_VERSION = "0.1.0"
MANIFEST_NAME = "_vmops_manifest.json"
MANIFEST_FORMAT = "vmops.datacenter/s3-transaction/1"


class S3Error(Exception):
    """A failed S3 call, described for people: which store, which call, status, code, message."""

    def __init__(self, message, operation=None, bucket=None, key=None, status=None, code=None, request_id=None):
        super().__init__(message)
        self.operation = operation
        self.bucket = bucket
        self.key = key
        self.status = status
        self.code = code
        self.request_id = request_id

    def as_dict(self):
        return dict(operation=self.operation, bucket=self.bucket, key=self.key, status=self.status, code=self.code,
                    request_id=self.request_id)


def s3_argument_spec():
    """Connection options; documented by the vmops.datacenter.s3 doc fragment."""
    return dict(
        access_key=dict(type="str", aliases=["aws_access_key_id", "aws_access_key"], no_log=False,
                        fallback=(env_fallback, ["AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY"])),
        secret_key=dict(type="str", aliases=["aws_secret_access_key", "aws_secret_key"], no_log=True,
                        fallback=(env_fallback, ["AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY"])),
        session_token=dict(type="str", aliases=["aws_session_token"], no_log=True,
                           fallback=(env_fallback, ["AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"])),
        profile=dict(type="str", aliases=["aws_profile"], fallback=(env_fallback, ["AWS_PROFILE"])),
        region=dict(type="str", aliases=["aws_region"], fallback=(env_fallback, ["AWS_REGION", "AWS_DEFAULT_REGION"])),
        endpoint_url=dict(type="str", aliases=["aws_endpoint_url", "s3_url"],
                          fallback=(env_fallback, ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"])),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path", aliases=["aws_ca_bundle"], fallback=(env_fallback, ["AWS_CA_BUNDLE"])),
        s3_compatible=dict(type="bool", default=False),
        retries=dict(type="int", default=5),
    )


def new_client(params, max_pool_connections=10, user_agent_extra=""):
    """A boto3 S3 client from the connection options."""
    session = boto3.session.Session(
        aws_access_key_id=params.get("access_key"), aws_secret_access_key=params.get("secret_key"),
        aws_session_token=params.get("session_token"), profile_name=params.get("profile"),
        region_name=params.get("region") or None)
    options = dict(
        # total_max_attempts counts the first try too (max_attempts would count retries only).
        retries={"mode": "standard", "total_max_attempts": max(1, params.get("retries", 5) + 1)},
        max_pool_connections=max_pool_connections,
        connect_timeout=30,
        read_timeout=120,
        user_agent_extra=("vmops.datacenter/%s %s" % (COLLECTION_VERSION, user_agent_extra)).strip(),
    )
    s3_options = {}
    if params.get("s3_compatible"):
        s3_options["addressing_style"] = "path"
        options.update(request_checksum_calculation="when_required", response_checksum_validation="when_required")
    if not (params.get("endpoint_url") or "https://").lower().startswith("http://"):
        # Over TLS the bytes are already protected in transit, and each object's SHA-256 is in the manifest and
        # checked on download; a signed payload would cost one more SHA-256 pass per part on both ends whenever
        # no checksum header rides along (the S3-compatible profile). Plain HTTP keeps signed payloads.
        s3_options["payload_signing_enabled"] = False
    if s3_options:
        options["s3"] = s3_options
    # verify is passed to the client explicitly: AWS_CA_BUNDLE must not override a given ca_path.
    verify = (params.get("ca_path") or True) if params.get("validate_certs", True) else False
    return session.client("s3", endpoint_url=params.get("endpoint_url") or None, verify=verify,
                          config=botocore.config.Config(**options))


# What S3-compatible stores answer to aws-chunked uploads with trailing checksums (the default of botocore >= 1.36):
# no Content-Length on the part (seen from rclone serve s3; other stores may answer differently).
CHECKSUM_TRAILER_REFUSALS = frozenset(("MissingContentLength",))


def describe_error(exc, operation, bucket=None, key=None, endpoint=None):
    """Turn a botocore exception into an S3Error naming the call and what the store said."""
    where = "s3://%s/%s" % (bucket, key or "") if bucket else "S3"
    if endpoint:
        where += " at %s" % endpoint
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        meta = exc.response.get("ResponseMetadata", {})
        status = meta.get("HTTPStatusCode")
        code = error.get("Code")
        text = "%s: %s failed with HTTP %s %s: %s" % (where, operation, status, code, error.get("Message") or "")
        text = text.rstrip(": ")
        if code in CHECKSUM_TRAILER_REFUSALS:
            text += (". The store does not take the streamed checksums recent AWS SDKs send; for an S3-compatible "
                     "store (not AWS) set s3_compatible: true.")
        return S3Error(text, operation=operation, bucket=bucket, key=key, status=status, code=code,
                       request_id=meta.get("RequestId"))
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return S3Error("%s: %s needs credentials: set access_key/secret_key, a profile, or the AWS_* environment "
                       "variables." % (where, operation), operation=operation, bucket=bucket, key=key)
    if isinstance(exc, botocore.exceptions.SSLError) and re.search(r"certificate verify failed|hostname", str(exc), re.I):
        return S3Error("%s: %s failed TLS verification: give the CA that signed the endpoint's certificate in "
                       "ca_path. (%s)" % (where, operation, exc), operation=operation, bucket=bucket, key=key)
    return S3Error("%s: %s failed: %s" % (where, operation, exc), operation=operation, bucket=bucket, key=key)


S3_CALL_ERRORS = ()
if HAS_BOTO3:
    S3_CALL_ERRORS = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)


def error_code(exc):
    """The S3 error code of a ClientError (e.g. NoSuchKey), else None."""
    if HAS_BOTO3 and isinstance(exc, botocore.exceptions.ClientError):
        return exc.response.get("Error", {}).get("Code")
    return None


class S3Module:
    """AnsibleModule plus an S3 client factory and clean failures."""

    def __init__(self, argument_spec, **kwargs):
        spec = s3_argument_spec()
        spec.update(argument_spec)
        self.module = AnsibleModule(argument_spec=spec, **kwargs)
        self.params = self.module.params
        self.check_mode = self.module.check_mode
        self.result = dict(changed=False)
        if not HAS_BOTO3:
            self.module.fail_json(msg=missing_required_lib("boto3"), exception=str(BOTO3_IMPORT_ERROR))

    def client(self, max_pool_connections=10):
        return new_client(self.params, max_pool_connections=max_pool_connections)

    def run(self, work):
        try:
            work()
        except S3Error as exc:
            self.fail_from(exc)
        self.module.exit_json(**self.result)

    def fail(self, msg, **details):
        payload = dict(self.result)
        payload.update(details)
        payload.pop("msg", None)
        self.module.fail_json(msg=msg, **payload)

    def fail_from(self, exc):
        payload = dict(self.result)
        payload.pop("msg", None)
        payload["s3_error"] = exc.as_dict()
        self.module.fail_json(msg=str(exc), **payload)
