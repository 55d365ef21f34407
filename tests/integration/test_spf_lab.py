"""maildoctor's SPF verdict against the lab's unbound equals what the lab's Exim (libspf2) decided
for the same client IP and sender: the Received-SPF header of delivered mail, or the ACL's log line."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from maildoctor.doctor import DoctorContext
from maildoctor.spf.checks import check_spf
from mdlab import LabRun

pytestmark = pytest.mark.integration

SCENARIOS = ["spf_pass", "spf_fail_rejected", "spf_softfail_logged", "spf_neutral", "spf_permerror", "spf_temperror"]
_RECEIVED_SPF = re.compile(r"^Received-SPF: (\w+)", re.M)
_LOG_RESULT = {"SPF check failed": "fail", "SPF temperror": "temperror", "SPF softfail": "softfail",
               "SPF permerror": "permerror"}
HELO = "client.spf-pass.test"


def exim_verdict(lab: LabRun, name: str) -> tuple[str, str]:
    """(result, where it was read) for one scenario, from Exim's own output."""
    sc = lab.scenarios[name]
    for path in sc.files:
        m = _RECEIVED_SPF.search(Path(path).read_text(errors="replace"))
        if m:
            return m.group(1).lower(), f"Received-SPF in {Path(path).name}"
    domain = sc.sender.rpartition("@")[2]
    for line in lab.mainlog.read_text().splitlines():
        if f"F=<{sc.sender}>" in line or f"for {domain}:" in line:
            for text, result in _LOG_RESULT.items():
                if text in line:
                    return result, line
    raise AssertionError(f"{name}: Exim logged no SPF result")


def maildoctor(lab: LabRun, *args: str) -> dict[str, Any]:
    exe = shutil.which("maildoctor")
    assert exe, "maildoctor is not installed"
    res = lab.run([exe, *args, "--dns-server", lab.dns_server, "--format", "json"], capture_output=True, text=True)
    assert res.returncode in (0, 1), res.stderr
    doc: dict[str, Any] = json.loads(res.stdout)
    return doc


@pytest.mark.parametrize("name", SCENARIOS)
def test_check_matches_exim(lab: LabRun, name: str) -> None:
    sc = lab.scenarios[name]
    want, where = exim_verdict(lab, name)
    doc = maildoctor(lab, "spf", "check", sc.client_ip, sc.sender, "--helo", HELO)
    assert doc["result"] == want, f"Exim: {want} ({where}); maildoctor: {doc['result']} ({doc['reason']})"
    assert doc["received_spf"].startswith(f"Received-SPF: {want} ")
    assert any(step["action"] == "query" and step["query"].startswith(sc.sender.rpartition("@")[2])
               for step in doc["trace"])


def test_permerror_names_the_lookup_limit(lab: LabRun) -> None:
    doc = maildoctor(lab, "spf", "check", lab.client_ip, "news@spf-permerror.test")
    assert doc["result"] == "permerror" and doc["lookups"] == 11
    assert "more than 10 DNS-querying terms" in doc["problem"]


def test_check_from_the_real_reject_log_line(lab: LabRun) -> None:
    line = next(line for line in lab.rejectlog.read_text().splitlines() if "SPF check failed" in line)
    doc = maildoctor(lab, "spf", "check", "--from-line", line)
    assert (doc["ip"], doc["sender"], doc["result"]) == (lab.client_ip, "billing@spf-fail.test", "fail")


def test_lint_against_unbound(lab: LabRun) -> None:
    perm = maildoctor(lab, "spf", "lint", "spf-permerror.test")
    ids = {f["id"] for f in perm["findings"]}
    assert "spf.lint.lookup_limit" in ids and perm["lookups"] == 11
    temp = maildoctor(lab, "spf", "lint", "spf-temperror.test")
    assert "spf.lint.include_error" in {f["id"] for f in temp["findings"]}
    good = maildoctor(lab, "spf", "lint", "spf-pass.test")
    assert [f["id"] for f in good["findings"]] == ["spf.lint.ok"]


def test_doctor_check_reads_the_real_rejection(lab: LabRun) -> None:
    findings = check_spf(DoctorContext(root=lab.root, offline=True))
    incoming = [f for f in findings if f.id == "spf.log.incoming_rejected"]
    assert incoming and "spf-fail.test" in incoming[0].explanation


def test_build_from_the_real_main_log(lab: LabRun) -> None:
    doc = maildoctor(lab, "spf", "build", "alice-shop.test", "--from-log", str(lab.mainlog))
    # the server's own outgoing interface sent alice-shop.test's mail; the remote MX it talked to did not
    assert f"ip4:{lab.local_ip}" in doc["record"].split()
    assert f"ip4:{lab.remote_mx_ip}" not in doc["record"].split()
    assert doc["verification"] and all(v["result"] == "pass" for v in doc["verification"])
    assert doc["lookups"] <= 10
