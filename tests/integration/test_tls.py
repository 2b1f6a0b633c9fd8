"""TLS: the farm's own CA (`--tls`), the operator's certificate (`--tls-cert/--tls-key`), and plain
HTTP refused off the loopback unless asked for; clients verify the farm through their profile."""

from __future__ import annotations

import io
import ipaddress
import json
import os
import ssl
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError, SSLError
from cryptography import x509

from _sign_in_station import SignInStation
from _workstation import new_workstation
from farmhand._models import add_models_to
from farmhand.server.tls import local_tls
from farmhand.testing import ServerProcess

pytestmark = pytest.mark.timeout(240)
PASSWORD = "correct horse battery"


def san_of(pem: bytes) -> tuple[set[str], set[str]]:
    cert = x509.load_pem_x509_certificate(pem)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = set(names.get_values_for_type(x509.DNSName))
    ips = {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
    return dns, ips


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> ServerProcess:
    data_dir = tmp_path_factory.mktemp("tls-server")
    with ServerProcess(data_dir, extra_args=["--tls", "--tls-name", "farm.example.test"]) as proc:
        yield proc


def test_tls_serves_https_that_only_the_farms_ca_verifies(tls_server: ServerProcess) -> None:
    assert tls_server.url.startswith("https://127.0.0.1:")
    assert tls_server.client("deadline").list_farms()["farms"] is not None
    unverified = tls_server.boto3_session().client(
        "deadline",
        endpoint_url=tls_server.url,
        config=Config(inject_host_prefix=False, retries={"max_attempts": 1}),
    )
    with pytest.raises(SSLError):
        unverified.list_farms()
    assert "Clients verify the farm with the CA certificate" in "".join(tls_server.output)


def test_the_local_ca_and_certificate_are_private_and_name_the_server(tls_server: ServerProcess) -> None:
    tls_dir = tls_server.data_dir / "tls"
    assert stat.S_IMODE(tls_dir.stat().st_mode) == 0o700
    files = sorted(p.name for p in tls_dir.iterdir())
    assert files == ["ca-key.pem", "ca.pem", "server-key.pem", "server.pem"]
    assert {stat.S_IMODE((tls_dir / name).stat().st_mode) for name in files} == {0o600}
    dns, ips = san_of((tls_dir / "server.pem").read_bytes())
    assert {"localhost", "farm.example.test"} <= dns
    assert {"127.0.0.1", "::1"} <= ips
    ca = x509.load_pem_x509_certificate((tls_dir / "ca.pem").read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_restarts_keep_the_ca_and_renew_the_certificate_only_for_new_names(tmp_path: Path) -> None:
    first = local_tls(tmp_path, ["localhost", "127.0.0.1"])
    ca_before, cert_before = first.ca_bundle.read_bytes(), first.cert.read_bytes()  # type: ignore[union-attr]

    again = local_tls(tmp_path, ["localhost", "127.0.0.1"]).cert.read_bytes()
    grown = local_tls(tmp_path, ["localhost", "127.0.0.1", "render01.example.test", "10.1.2.3"])

    assert again == cert_before
    assert grown.ca_bundle.read_bytes() == ca_before  # type: ignore[union-attr]
    assert grown.cert.read_bytes() != cert_before
    dns, ips = san_of(grown.cert.read_bytes())
    assert "render01.example.test" in dns and "10.1.2.3" in ips
    context = ssl.create_default_context(cafile=str(grown.ca_bundle))
    context.load_cert_chain(grown.cert, grown.key)  # the key matches the certificate


def test_the_operators_certificate_is_served(tmp_path: Path) -> None:
    issued = local_tls(tmp_path / "operator-pki", ["localhost", "127.0.0.1"])  # stands for their own PKI

    with ServerProcess(
        tmp_path / "farm", extra_args=["--tls-cert", str(issued.cert), "--tls-key", str(issued.key)]
    ) as proc:
        deadline = proc.boto3_session().client(
            "deadline",
            endpoint_url=proc.url,
            verify=str(issued.ca_bundle),
            config=Config(inject_host_prefix=False),
        )
        assert proc.url.startswith("https://")
        assert deadline.list_farms()["farms"] == []
        assert not (tmp_path / "farm" / "tls").exists()


def _server(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "farmhand.server", "--data-dir", str(data_dir), "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_plain_http_off_the_loopback_needs_to_be_asked_for(tmp_path: Path) -> None:
    refused = _server(["--host", "0.0.0.0"], tmp_path / "refused")
    assert refused.returncode == 2
    assert "without TLS" in refused.stderr and "--insecure-http" in refused.stderr
    assert not (tmp_path / "refused" / "farmhand.db").exists()
    half = _server(["--tls-cert", __file__], tmp_path / "half")
    assert half.returncode == 2 and "--tls-cert and --tls-key go together" in half.stderr

    with ServerProcess(tmp_path / "insecure", extra_args=["--host", "0.0.0.0", "--insecure-http"]) as proc:
        assert proc.url.startswith("http://0.0.0.0:")
        assert any("cross the network in clear" in line for line in proc.output)


def test_the_embedded_farm_refuses_clear_text_off_the_loopback_too(tmp_path: Path) -> None:
    """`farmhand up` on a network address without TLS stops before it starts or writes anything."""
    env = {
        **os.environ,
        "AWS_CONFIG_FILE": str(tmp_path / "aws" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws" / "credentials"),
        "DEADLINE_CONFIG_FILE_PATH": str(tmp_path / "deadline" / "config"),
    }
    data_dir = tmp_path / "farm"
    farmhand = str(Path(sys.executable).with_name("farmhand"))
    up = [farmhand, "up", "--data-dir", str(data_dir), "--workers", "0", "--port", "0"]
    refused = subprocess.run(
        [*up, "--host", "0.0.0.0"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert refused.returncode == 2, refused.stderr
    assert "without TLS" in refused.stderr and "--insecure-http" in refused.stderr
    assert not (tmp_path / "aws").exists() and not (data_dir / "farmhand.db").exists()


def test_a_sign_in_profile_verifies_the_farm_with_its_ca_bundle(
    tls_server: ServerProcess, tmp_path: Path
) -> None:
    session = tls_server.boto3_session()
    add_models_to(session._session)
    user = f"tls-{uuid.uuid4().hex[:8]}"
    created = tls_server.client("farmhand-identity", session=session).create_user(
        userName=user, password=PASSWORD
    )
    station = SignInStation(tmp_path / "station")
    ca = str(tls_server.data_dir / "tls" / "ca.pem")

    added = station.farmhand(
        "profile", "add", "studio", "--url", tls_server.url, "--user", user, "--ca-bundle", ca
    )
    login = station.farmhand("login", "--profile", "studio", "--password-stdin", input=PASSWORD + "\n")
    device = station.run(
        "farmhand", "login", "--profile", "studio", "--device", env=station.browser_env(user, PASSWORD, ca)
    )

    assert added.returncode == 0, added.stderr
    assert f"ca_bundle = {ca}" in station.aws_config.read_text()
    assert login.returncode == 0, login.stderr
    assert device.returncode == 0, device.stdout + device.stderr
    assert "https://" in device.stderr
    with station.environment():
        who = boto3.Session(profile_name="studio").client("sts").get_caller_identity()
    assert who["UserId"] == created["principalId"]
    status = json.loads(station.run("deadline", "auth", "status", "--output", "json").stdout)
    assert status["status"] == "AUTHENTICATED"
    farms = station.run("deadline", "farm", "list")
    assert farms.returncode == 0, farms.stderr


def test_the_certificate_covers_the_listening_address(tmp_path: Path) -> None:
    address = "127.0.0.2"
    with ServerProcess(tmp_path / "farm", extra_args=["--host", address, "--tls"]) as proc:
        _, ips = san_of((tmp_path / "farm" / "tls" / "server.pem").read_bytes())
        assert address in ips and ipaddress.ip_address(address).is_loopback
        assert proc.client("deadline").list_farms()["farms"] == []


def test_an_embedded_farm_with_tls_runs_jobs_for_both_clis(tmp_path: Path) -> None:
    station = new_workstation(tmp_path)
    try:
        # Given `farmhand up --tls` listening on every address
        up = station.up("--host", "0.0.0.0", "--tls", "--workers", "1")
        assert up.returncode == 0, up.stdout + up.stderr
        status = station.status()
        ca = str(station.data_dir / "tls" / "ca.pem")

        # Then its profile verifies the farm, and workers, the farmhand CLI and the AWS CLI all reach it
        assert status["url"].startswith("https://0.0.0.0:") and status["ca_bundle"] == ca
        assert status["tasks"] is not None  # `farmhand status` reached the farm over TLS
        assert f"ca_bundle = {ca}" in station.aws_config.read_text()
        submitted = station.farmhand("bundle", "submit", "examples/hello", "--yes", "--wait", timeout=240)
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr
        listed = station.deadline("farm", "list")
        assert listed.returncode == 0 and "Local Farm" in listed.stdout, listed.stderr
    finally:
        station.down()


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def test_the_object_store_over_tls_takes_what_botocore_sends_there(tls_server: ServerProcess) -> None:
    """Over HTTPS botocore frames uploads as aws-chunked bodies with a checksum trailer: end to end."""
    s3 = tls_server.client("s3")
    sent: list[dict[str, str]] = []
    s3.meta.events.register("before-send.s3.*", lambda request, **_: sent.append(dict(request.headers)))
    bucket = f"tls-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    body = bytes(range(256)) * 9000  # > 2 MiB: several aws-chunks

    s3.put_object(Bucket=bucket, Key="Root/Data/one", Body=io.BytesIO(body))
    big = os.urandom(12 * 1024 * 1024)
    s3.upload_fileobj(
        io.BytesIO(big),
        bucket,
        "Root/Data/multipart",
        Config=TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024),
    )

    streamed = [
        h
        for h in sent
        if h.get("X-Amz-Content-SHA256")
        in ("STREAMING-UNSIGNED-PAYLOAD-TRAILER", b"STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    ]
    assert streamed, [h.get("X-Amz-Content-SHA256") for h in sent]
    assert s3.get_object(Bucket=bucket, Key="Root/Data/one")["Body"].read() == body
    assert s3.get_object(Bucket=bucket, Key="Root/Data/multipart")["Body"].read() == big
    # Ranged reads, HEAD from the index, listings and S3 errors, all over the same TLS listener
    ranged = s3.get_object(Bucket=bucket, Key="Root/Data/multipart", Range="bytes=100-199")
    assert ranged["ResponseMetadata"]["HTTPStatusCode"] == 206 and ranged["Body"].read() == big[100:200]
    assert s3.head_object(Bucket=bucket, Key="Root/Data/one")["ContentLength"] == len(body)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="Root/", Delimiter="/")
    assert [p["Prefix"] for p in listed["CommonPrefixes"]] == ["Root/Data/"]
    with pytest.raises(ClientError) as missing:
        s3.head_object(Bucket=bucket, Key="Root/Data/none")
    assert missing.value.response["Error"]["Code"] == "404"
    with pytest.raises(ClientError) as bad:
        s3.put_object(Bucket=bucket, Key="Root/Data/bad", Body=b"abc", ChecksumCRC32="AAAAAA==")
    assert bad.value.response["Error"]["Code"] == "BadDigest"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="Root/Data/bad")
