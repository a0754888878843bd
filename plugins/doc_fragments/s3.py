# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Connection options shared by the S3 modules (amazon.aws conventions).
    DOCUMENTATION = r"""
options:
  access_key:
    description:
      - AWS access key id. If not set, E(AWS_ACCESS_KEY_ID) or E(AWS_ACCESS_KEY) is used, else the profile or the
        instance's role.
    type: str
    aliases: [aws_access_key_id, aws_access_key]
  secret_key:
    description:
      - AWS secret access key. Never shown in output. If not set, E(AWS_SECRET_ACCESS_KEY) or E(AWS_SECRET_KEY) is used.
    type: str
    aliases: [aws_secret_access_key, aws_secret_key]
  session_token:
    description:
      - Session token for temporary credentials. Never shown in output.
      - If not set, E(AWS_SESSION_TOKEN) is used, else E(AWS_SECURITY_TOKEN) (the variable the AWX Amazon Web Services
        credential sets).
    type: str
    aliases: [aws_session_token]
  profile:
    description:
      - Named profile from the AWS configuration files. If not set, E(AWS_PROFILE) is used.
    type: str
    aliases: [aws_profile]
  region:
    description:
      - AWS region. If not set, E(AWS_REGION) or E(AWS_DEFAULT_REGION) is used.
    type: str
    aliases: [aws_region]
  endpoint_url:
    description:
      - URL of an S3-compatible endpoint (MinIO, Ceph RGW, StorageGRID, ...) instead of AWS.
        If not set, E(AWS_ENDPOINT_URL_S3) or E(AWS_ENDPOINT_URL) is used.
    type: str
    aliases: [aws_endpoint_url, s3_url]
  validate_certs:
    description:
      - Verify the endpoint's TLS certificate. Keep this on; use O(ca_path) to trust a private CA.
    type: bool
    default: true
  ca_path:
    description:
      - PEM bundle of the CA that signed the endpoint's certificate. If not set, E(AWS_CA_BUNDLE) is used, else the
        trust store that botocore uses.
    type: path
    aliases: [aws_ca_bundle]
  s3_compatible:
    description:
      - Profile for S3-compatible stores. Uses path-style addressing and computes request checksums only where the
        protocol requires them (recent botocore versions otherwise send checksums that many such stores reject).
      - A store that answers uploads with HTTP 411 C(MissingContentLength) needs this profile.
    type: bool
    default: false
  retries:
    description:
      - How often botocore retries a request after a connection error, throttling or an HTTP 5xx answer (standard
        retry mode, capped exponential backoff with jitter). S3 writes address one key or part, so repeating them is safe.
    type: int
    default: 5
notes:
  - All connection options can be set once for a play with C(module_defaults) and the action group
    C(group/vmops.datacenter.s3).
  - Over HTTPS, request bodies are sent as C(UNSIGNED-PAYLOAD) since TLS protects them in transit and every object's
    SHA-256 is recorded in the transaction manifest and checked on download; a signature over each body would only
    add a SHA-256 pass on both ends. Over plain C(http://) endpoints bodies are signed.
"""
