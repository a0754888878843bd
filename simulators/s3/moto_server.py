"""MotoServer: moto's S3 and KMS in server mode on a loopback port, for AWS-only features.

moto's server speaks plain HTTP only (no TLS), so its endpoint_url is ``http://127.0.0.1:PORT``
and there is no CA. moto keeps its state per Python process, not per server: every MotoServer of
one process sees the same buckets and keys, and start() resets that state.
"""

from __future__ import annotations

import logging
import secrets

REGION = "us-east-1"


class MotoServer:
    def __init__(self, port: int = 0, region: str = REGION, reset: bool = True):
        self.requested_port = int(port or 0)
        self.region = region
        self.reset_on_start = reset
        self.access_key = "AKIAMOTO" + secrets.token_hex(6).upper()
        self.secret_key = secrets.token_urlsafe(30)
        self.buckets: list[str] = []
        self.kms_keys: list[dict] = []
        self.port: int | None = None
        self._server = None

    def start(self) -> MotoServer:
        if self._server is not None:
            return self
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log on stderr
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.requested_port, verbose=False)
        server.start()
        self._server = server
        self.port = server.get_host_and_port()[1]
        if self.reset_on_start:
            self.reset()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    def reset(self) -> None:
        """Forget every bucket, object and key (moto's /moto-api/reset; process-wide)."""
        import requests

        requests.post(f"{self.endpoint_url}/moto-api/reset", timeout=10).raise_for_status()
        self.buckets, self.kms_keys = [], []

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def endpoint(self) -> dict:
        data = {
            "endpoint_url": self.endpoint_url,
            "port": self.port,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "region": self.region,
            "buckets": list(self.buckets),
            "data_dir": None,
            "ca_path": None,
        }
        if self.kms_keys:
            data.update(kms_key_id=self.kms_keys[0]["key_id"], kms_key_arn=self.kms_keys[0]["arn"])
        return data

    endpoints = endpoint

    def client(self, service: str = "s3", **config):
        import boto3
        from botocore.config import Config

        config.setdefault("retries", {"total_max_attempts": 1, "mode": "standard"})
        if service == "s3":
            config.setdefault("s3", {"addressing_style": "path"})
        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=self.region,
                            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
                            config=Config(**config))

    def create_bucket(self, name: str = "vmops-backups") -> str:
        self.client().create_bucket(Bucket=name)
        self.buckets.append(name)
        return name

    def create_kms_key(self, description: str = "vmops lab key", alias: str | None = None) -> dict:
        """A symmetric KMS key: {"key_id", "arn", "alias"}; the first one is also in .endpoint
        (kms_key_id, kms_key_arn)."""
        kms = self.client("kms")
        meta = kms.create_key(Description=description)["KeyMetadata"]
        if alias:
            kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
        key = {"key_id": meta["KeyId"], "arn": meta["Arn"], "alias": alias}
        self.kms_keys.append(key)
        return key
