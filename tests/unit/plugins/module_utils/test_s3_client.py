# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The S3 client factory: what goes on the wire for the connection options."""

from __future__ import annotations

import re

import botocore.awsrequest
import botocore.exceptions
import pytest

from ansible_collections.vmops.datacenter.plugins.module_utils._s3 import describe_error, new_client

BASE = dict(access_key="AKIAUNITTESTKEY", secret_key="unit-secret", region="us-east-1", retries=0)


class EmptyBody:
    def stream(self, *args, **kwargs):
        yield b""


def sent_headers(client, **call):
    """Headers of one UploadPart as it would leave the client (answered locally, nothing sent)."""
    seen = {}

    def answer(request, **kwargs):
        seen.update(request.headers)
        return botocore.awsrequest.AWSResponse(request.url, 200, {"ETag": '"e"'}, EmptyBody())

    client.meta.events.register("before-send.s3.UploadPart", answer)
    client.upload_part(Bucket="bkt", Key="k", UploadId="u", PartNumber=1, Body=b"x" * 1024, **call)
    return dict((k.lower(), v.decode() if isinstance(v, bytes) else v) for k, v in seen.items())


@pytest.mark.parametrize("endpoint", [None, "https://s3.lab.test:9000"])
def test_bodies_over_tls_are_not_signed_again(endpoint):
    for compatible in (False, True):
        client = new_client(dict(BASE, endpoint_url=endpoint, s3_compatible=compatible))
        # AWS profile: a CRC trailer rides along (STREAMING-UNSIGNED-PAYLOAD-TRAILER); compatible: plain.
        assert sent_headers(client)["x-amz-content-sha256"] == (
            "UNSIGNED-PAYLOAD" if compatible else "STREAMING-UNSIGNED-PAYLOAD-TRAILER")


def test_bodies_over_plain_http_are_signed():
    client = new_client(dict(BASE, endpoint_url="http://s3.lab.test:9000", s3_compatible=True))
    assert re.fullmatch(r"[0-9a-f]{64}", sent_headers(client)["x-amz-content-sha256"])


def test_the_compatible_profile_uses_path_style_and_no_unrequested_checksums():
    client = new_client(dict(BASE, endpoint_url="https://s3.lab.test:9000", s3_compatible=True))
    headers = sent_headers(client)
    assert not any(name.startswith("x-amz-checksum") or name == "x-amz-sdk-checksum-algorithm" for name in headers)
    assert client.meta.config.s3["addressing_style"] == "path"


def test_the_ca_path_is_what_the_client_verifies_with(tmp_path):
    ca = tmp_path / "lab-ca.pem"
    ca.write_text("placeholder")
    client = new_client(dict(BASE, endpoint_url="https://s3.lab.test:9000", ca_path=str(ca)))
    assert client._endpoint.http_session._verify == str(ca)  # pylint: disable=protected-access


def test_a_store_refusing_streamed_checksums_gets_the_compatible_profile_hint():
    refused = botocore.exceptions.ClientError(
        {"Error": {"Code": "MissingContentLength", "Message": ""}, "ResponseMetadata": {"HTTPStatusCode": 411}},
        "UploadPart")
    message = str(describe_error(refused, "UploadPart (part 1)", "bkt", "t/disk.vmdk"))
    assert message.startswith("s3://bkt/t/disk.vmdk: UploadPart (part 1) failed with HTTP 411 MissingContentLength.")
    assert message.endswith("set s3_compatible: true.")
    denied = botocore.exceptions.ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}, "ResponseMetadata": {"HTTPStatusCode": 403}},
        "UploadPart")
    assert "s3_compatible" not in str(describe_error(denied, "UploadPart (part 1)", "bkt", "t/disk.vmdk"))
