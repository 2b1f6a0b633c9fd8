"""TLS for the farm server: certificate files the operator gives, or a local CA of the farm's own,
and the command-line options (`farmhand server`, `farmhand up`) that choose between them.

`--tls` keeps a CA (ten years) and a server certificate signed by it (about a year, renewed a month
before it expires or when the server's names change) in `<data dir>/tls`: files 0600 in a 0700
directory, like everything in the data directory. Clients trust the farm through the CA's `ca.pem`
(the `ca_bundle` of their profile).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "CA_CERT_FILE",
    "TLS_DIR",
    "TlsFiles",
    "is_loopback",
    "local_tls",
    "resolve_tls",
    "server_names",
    "tls_options",
]

TLS_DIR = "tls"
CA_CERT_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
SERVER_CERT_FILE = "server.pem"
SERVER_KEY_FILE = "server-key.pem"
CA_LIFETIME = dt.timedelta(days=3650)
SERVER_LIFETIME = dt.timedelta(days=397)  # what browsers accept for a server certificate
RENEW_BEFORE = dt.timedelta(days=30)
_WILDCARDS = ("0.0.0.0", "::", "")


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    ca_bundle: Path | None = None  # the CA clients must trust (None: a publicly trusted certificate)


def is_loopback(host: str) -> bool:
    """Whether listening on `host` keeps traffic on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def server_names(host: str, extra: Iterable[str] = ()) -> list[str]:
    """The names and addresses the server certificate covers: loopback, this machine's names, the
    listening address (unless it is a wildcard) and any the operator adds."""
    names = ["localhost", "127.0.0.1", "::1", socket.gethostname(), socket.getfqdn()]
    if host not in _WILDCARDS:
        names.append(host)
    names += list(extra)
    unique: list[str] = []
    for name in names:
        if name and name not in unique:
            unique.append(name)
    return unique


def _write_private(path: Path, data: bytes) -> None:
    descriptor, temp_name = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.chmod(temp_name, 0o600)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path} is not an EC private key")
    return key


def _ensure_ca(directory: Path, now: dt.datetime) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    cert_path, key_path = directory / CA_CERT_FILE, directory / CA_KEY_FILE
    if cert_path.exists() and key_path.exists():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        if cert.not_valid_after_utc - now > RENEW_BEFORE:
            return _load_key(key_path), cert
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "farmhand"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"farmhand local CA ({socket.gethostname()})"[:64]),
        ]
    )
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(key_path, _key_pem(key))
    _write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    # A new CA invalidates the old server certificate.
    (directory / SERVER_CERT_FILE).unlink(missing_ok=True)
    return key, cert


def _alt_names(names: Sequence[str]) -> list[x509.GeneralName]:
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return entries


def _server_cert_fits(path: Path, ca: x509.Certificate, names: Sequence[str], now: dt.datetime) -> bool:
    if not path.exists():
        return False
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    if cert.issuer != ca.subject or cert.not_valid_after_utc - now < RENEW_BEFORE:
        return False
    try:
        covered = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    return set(_alt_names(names)) <= set(covered)


def local_tls(data_dir: Path, names: Sequence[str], now: dt.datetime | None = None) -> TlsFiles:
    """The farm's own CA and a server certificate for `names`, created or renewed as needed."""
    now = now or dt.datetime.now(dt.UTC)
    directory = data_dir / TLS_DIR
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory, 0o700)
    ca_key, ca_cert = _ensure_ca(directory, now)
    cert_path, key_path = directory / SERVER_CERT_FILE, directory / SERVER_KEY_FILE
    if not (_server_cert_fits(cert_path, ca_cert, names, now) and key_path.exists()):
        key = ec.generate_private_key(ec.SECP256R1())
        public = key.public_key()
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0][:64])]))
            .issuer_name(ca_cert.subject)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(min(now + SERVER_LIFETIME, ca_cert.not_valid_after_utc))
            .add_extension(x509.SubjectAlternativeName(_alt_names(names)), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        _write_private(key_path, _key_pem(key))
        _write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return TlsFiles(cert_path, key_path, directory / CA_CERT_FILE)


F = TypeVar("F", bound=Callable[..., Any])


def tls_options(function: F) -> F:
    """`--tls`, `--tls-cert/--tls-key`, `--tls-name`, `--insecure-http` (shared by `farmhand up`)."""
    options = [
        click.option(
            "--tls",
            is_flag=True,
            help="Serve HTTPS with a certificate of the farm's own CA (kept in <data dir>/tls; clients "
            "trust its ca.pem).",
        ),
        click.option(
            "--tls-cert",
            type=click.Path(path_type=Path, dir_okay=False, exists=True),
            help="Serve HTTPS with this certificate (PEM, with its chain)...",
        ),
        click.option(
            "--tls-key", type=click.Path(path_type=Path, dir_okay=False, exists=True), help="...and this key."
        ),
        click.option(
            "--tls-name",
            "tls_names",
            multiple=True,
            help="Another host name or address the --tls certificate covers (repeatable).",
        ),
        click.option(
            "--insecure-http",
            is_flag=True,
            help="Allow plain HTTP on a non-loopback address (credentials would cross the network in clear).",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def resolve_tls(
    data_dir: Path,
    host: str,
    tls: bool,
    tls_cert: Path | None,
    tls_key: Path | None,
    tls_names: tuple[str, ...],
    insecure_http: bool,
) -> TlsFiles | None:
    """The certificate to serve with, or None for plain HTTP (refused off the loopback unless asked)."""
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together.")
    if tls_cert is not None and tls_key is not None:
        if tls:
            raise click.UsageError("Give either --tls (the farm's own CA) or --tls-cert/--tls-key, not both.")
        return TlsFiles(tls_cert.resolve(), tls_key.resolve())
    if tls:
        return local_tls(data_dir, server_names(host, tls_names))
    if not is_loopback(host):
        if not insecure_http:
            raise click.UsageError(
                f"Listening on {host} without TLS would send credentials and session tokens across the "
                "network in clear: add --tls (a certificate of the farm's own CA), --tls-cert/--tls-key, "
                "or --insecure-http to accept that."
            )
        click.echo(
            f"Warning: serving plain HTTP on {host}: credentials and session tokens cross the network "
            "in clear (use --tls).",
            err=True,
        )
    return None
