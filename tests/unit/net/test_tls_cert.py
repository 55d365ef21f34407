"""Certificate analysis: self-signed, names, expiry (with a moved clock), and the findings it yields."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import ssl
from pathlib import Path

import pytest

from maildoctor.net.portfindings import analyze_ports
from maildoctor.net.probe import PortResult, Resolution
from maildoctor.net.tlsinfo import TlsInfo, analyze_cert
from tests.unit.net.netns import make_cert


@pytest.fixture(scope="module")
def der(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    if not shutil.which("openssl"):
        pytest.skip("openssl not installed")
    cert, _key = make_cert(tmp_path_factory.mktemp("cert"), "mail.example.test", days=30)
    return ssl.PEM_cert_to_DER_cert(Path(cert).read_text())


def test_self_signed_certificate(der: bytes) -> None:
    info = analyze_cert(der)
    assert info is not None
    assert info.self_signed and info.names == ("mail.example.test",)
    assert info.subject == "commonName=mail.example.test" and 28 <= (info.days_left or 0) <= 30


def test_expired_with_moved_clock(der: bytes) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=45)
    info = analyze_cert(der, now=later)
    assert info is not None and info.days_left is not None and info.days_left < 0
    tls = TlsInfo("starttls", True, "TLSv1.3", "TLS_AES_256_GCM_SHA384", cert=info, chain=(info,),
                  chain_verified=False, verify_error="self-signed certificate", hostname_match=True)
    r = PortResult(25, "192.0.2.1", "open", 0.01, "smtp", "mail ESMTP", 220, tls=tls)
    ids = {f.id for f in analyze_ports(Resolution("mail.example.test", ("192.0.2.1",)), [r])}
    assert {"ports.tls_expired", "ports.tls_self_signed", "ports.open"} <= ids
    assert "ports.tls_name_mismatch" not in ids


def test_garbage_certificate() -> None:
    assert analyze_cert(b"not a certificate") is None
    assert analyze_cert(b"") is None


def test_leaf_without_intermediate(der: bytes) -> None:
    info = analyze_cert(der)
    assert info is not None
    leaf = dataclasses.replace(info, issuer="commonName=Example Intermediate CA", self_signed=False)
    tls = TlsInfo("implicit", True, "TLSv1.3", "x", cert=leaf, chain=(leaf,), chain_verified=False,
                  verify_error="unable to get local issuer certificate", hostname_match=True)
    r = PortResult(465, "192.0.2.1", "open", 0.01, "smtp", "mail ESMTP", 220, tls=tls)
    found = {f.id: f for f in analyze_ports(Resolution("192.0.2.1", ("192.0.2.1",)), [r])}
    assert "intermediate certificate is missing" in found["ports.tls_untrusted"].explanation
    assert "only its own certificate" in found["ports.tls_untrusted"].explanation
