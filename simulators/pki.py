"""Lab certificate authority: one CA and one localhost server certificate, created once per lab.

Clients verify TLS against ``ca_path``; nothing in the lab disables verification.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_FILE = "lab-ca.pem"
CA_KEY_FILE = "lab-ca.key"
CERT_FILE = "server.pem"
KEY_FILE = "server.key"
VALIDITY = _dt.timedelta(days=3650)


@dataclass(frozen=True)
class LabPKI:
    ca_path: str
    cert_path: str
    key_path: str


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _make_ca(now):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "vmops lab"),
        x509.NameAttribute(NameOID.COMMON_NAME, "vmops lab CA"),
    ])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(days=1))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _make_leaf(now, ca_key, ca_cert):
    key = ec.generate_private_key(ec.SECP256R1())
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "vmops lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
        ]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(days=1))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=True, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.IPAddress(ipaddress.ip_address("::1")),
            ]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def ensure_lab_ca(directory) -> LabPKI:
    """Create (once) the lab CA and a server certificate for localhost/127.0.0.1/::1 in ``directory``."""
    d = Path(directory).resolve()
    d.mkdir(parents=True, exist_ok=True)
    paths = LabPKI(str(d / CA_FILE), str(d / CERT_FILE), str(d / KEY_FILE))
    if all(Path(p).exists() for p in (paths.ca_path, paths.cert_path, paths.key_path)):
        return paths
    now = _dt.datetime.now(_dt.timezone.utc)
    ca_key_path = d / CA_KEY_FILE
    if Path(paths.ca_path).exists() and ca_key_path.exists():
        ca_cert = x509.load_pem_x509_certificate(Path(paths.ca_path).read_bytes())
        ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), None)
    else:
        ca_key, ca_cert = _make_ca(now)
        _write_private(ca_key_path, _key_pem(ca_key))
        _write_public(Path(paths.ca_path), ca_cert.public_bytes(serialization.Encoding.PEM))
    key, cert = _make_leaf(now, ca_key, ca_cert)
    _write_private(Path(paths.key_path), _key_pem(key))
    _write_public(Path(paths.cert_path), cert.public_bytes(serialization.Encoding.PEM))
    return paths
