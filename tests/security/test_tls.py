"""``pushgate serve`` speaks HTTPS itself with a certificate and key file."""

from __future__ import annotations

import datetime
import ipaddress
import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import create_database, drop_database
from tests.support.server import free_port


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_serve_over_https_with_hsts(admin_database_url: str, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    port = free_port()
    # Its own database: serve points the site's application at its own URL.
    url = create_database(admin_database_url)
    env = {
        **os.environ,
        "PUSHGATE_DATABASE_URL": url,
        "PUSHGATE_DATA_DIR": str(tmp_path),
        "PUSHGATE_SECRET_KEY": "tls-test-secret-" + "x" * 16,
        "PUSHGATE_LOG_LEVEL": "WARNING",
        "PUSHGATE_EVENT_BACKEND": "memory",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pushgate",
            "serve",
            "--port",
            str(port),
            "--certfile",
            str(cert),
            "--keyfile",
            str(key),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    context = ssl.create_default_context(cafile=str(cert))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(
                    f"https://127.0.0.1:{port}/healthz", verify=context, timeout=2
                )
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "serve did not answer over HTTPS"
                time.sleep(0.2)
        assert response.status_code == 200
        assert response.headers["strict-transport-security"].startswith("max-age=")
        login = httpx.get(f"https://127.0.0.1:{port}/login", verify=context, timeout=5)
        assert "secure" in login.headers["set-cookie"].lower()
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        # Plain HTTP on the same port is not served.
        try:
            plain = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            assert plain.status_code >= 400
        except httpx.TransportError:
            pass
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
        drop_database(admin_database_url, url)
    assert f"https://127.0.0.1:{port}" in output
