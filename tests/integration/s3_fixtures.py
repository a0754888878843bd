# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""S3 fixtures for the integration suite (wire them from conftest.py):

    from .s3_fixtures import moto_s3, s3_proxy, s3_server  # noqa: F401  (pytest fixtures)

* ``s3_server`` — a fresh ``rclone serve s3`` per test: https://localhost:PORT, the lab certificate
  (``lab_pki``), its own access keys, bucket ``vmops-backups`` as the directory
  ``tmp_path/s3/vmops-backups``. ``s3_server.endpoint`` is the dict to hand to playbooks (as
  ``lab_s3``): endpoint_url, port, access_key, secret_key, region, buckets, data_dir, ca_path.
  ``s3_server.client()`` is a boto3 client that verifies the lab CA; ``object_path(bucket, key)``
  is the file behind an object; call ``s3_server.forget()`` after changing files there directly.
* ``s3_proxy`` — a ``FaultProxy`` in front of ``s3_server``: give ``s3_proxy.endpoint`` (the
  server's endpoint with the proxy's URL and port) to the code under test, then
  ``s3_proxy.drop(count, after_bytes)``, ``latency(seconds)``, ``refuse(seconds)``, ``cut_all()``,
  ``clear()``; ``s3_proxy.stats`` counts what happened.
* ``moto_s3`` — moto's server (plain HTTP on 127.0.0.1) with bucket ``vmops-backups`` and a KMS key:
  ``moto_s3.endpoint`` adds kms_key_id and kms_key_arn; ``moto_s3.client("s3" | "kms")``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from simulators.s3 import FaultProxy, MotoServer, S3Server  # noqa: E402  (needs the repository root on sys.path)

__all__ = ["moto_s3", "s3_proxy", "s3_server"]

BUCKET = "vmops-backups"


@pytest.fixture
def s3_server(lab_pki, tmp_path):
    server = S3Server(tmp_path / "s3", lab_pki, buckets=(BUCKET,))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_proxy(s3_server):
    proxy = FaultProxy(s3_server)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def moto_s3():
    server = MotoServer()
    server.start()
    try:
        server.create_bucket(BUCKET)
        server.create_kms_key(description="vmops integration tests", alias="alias/vmops-backups")
        yield server
    finally:
        server.stop()
