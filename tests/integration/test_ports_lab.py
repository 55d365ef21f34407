"""`maildoctor ports` against the real Exim of the shared lab (cPanel-like: STARTTLS on 25/587,
implicit TLS on 465, a self-signed certificate, AUTH offered only after TLS)."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from mdlab import LabRun

pytestmark = pytest.mark.integration

HOST = "host.lab-hosting.test"
RUN = "import sys; from maildoctor.cli.main import run; sys.exit(run(sys.argv[1:]))"


def test_real_exim_ports(lab: LabRun) -> None:
    res = lab.run([sys.executable, "-c", RUN, "ports", HOST, "--dns-server", lab.dns_server,
                   "--ports", "25,465,587,2525", "--timeout", "3", "--format", "json"])
    assert res.returncode == 1, res.stderr  # a self-signed certificate is a problem worth exit 1
    doc: dict[str, Any] = json.loads(res.stdout)
    assert doc["addresses"] == [lab.local_ip]
    ports = {p["port"]: p for p in doc["ports"]}
    assert {p: ports[p]["state"] for p in ports} == {25: "open", 465: "open", 587: "open", 2525: "refused"}
    p25 = ports[25]
    assert p25["banner"].startswith(f"{HOST} ESMTP Exim")
    assert p25["tls"]["mode"] == "starttls" and p25["tls"]["ok"]
    assert p25["tls"]["cert"]["self_signed"] and "self-signed" in p25["tls"]["verify_error"]
    assert p25["tls"]["hostname_match"] is True  # the certificate names the host probed
    assert p25["auth"]["before_tls"] == [] and p25["auth"]["after_tls"]  # auth_advertise_hosts: TLS only
    assert ports[465]["tls"]["mode"] == "implicit" and ports[465]["auth"]["after_tls"]
    ids = {(f["id"], f["subject"]) for f in doc["findings"]}
    assert ("ports.tls_self_signed", f"{lab.local_ip}:25") in ids
    assert ("ports.auth_after_tls_only", f"{lab.local_ip}:587") in ids


def test_real_exim_outlook_wrong_port(lab: LabRun) -> None:
    text = (f"The connection to the server has failed. Account: '{HOST}', Server: '{HOST}', Protocol: SMTP, "
            "Port: 2525, Secure(SSL): No, Socket Error: 10061, Error Number: 0x800CCC0E")
    res = lab.run([sys.executable, "-c", RUN, "outlook", text, "--server", HOST, "--dns-server", lab.dns_server,
                   "--timeout", "3", "--format", "json"])
    doc: dict[str, Any] = json.loads(res.stdout)
    assert doc["diagnosis"] == "wrong_port", res.stderr
    verdicts = {c["cause"]: c["verdict"] for c in doc["causes"]}
    assert verdicts["server_down"] == "ruled_out" and verdicts["client_side"] == "ruled_out"
