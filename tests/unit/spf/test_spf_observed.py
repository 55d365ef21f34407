"""Senders of a domain found in real-looking Exim and Postfix logs (read through the log engine)."""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path

import pytest

from maildoctor.errors import InputError
from maildoctor.spf import observed
from maildoctor.spf.observed import analyze_lines, read_observed_senders

EXIM = [
    # plain arrival from a remote server of the domain: counted
    "2026-11-28 09:00:00 1tA2bC-0004Xy-Ab <= news@shop.example H=mail.esp.example [203.0.113.7]:41234 "
    "I=[192.0.2.10]:25 P=esmtps X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no S=5120 id=a1@esp.example",
    # Exim 4.97+ 23-character id, a sub-domain sender: counted
    "2026-11-28 09:00:01.123 +0100 [4412] 1tA2bD-00000001AbC-0Xy1 <= bounces@mail.shop.example "
    "H=(helo.esp) [198.51.100.23]:5000 P=esmtp S=800",
    # authenticated submission (A= and esmtpsa): the laptop's IP is never a sender
    "2026-11-28 09:00:02 1tA2bE-0004Xy-Ad <= bob@shop.example H=(laptop) [203.0.113.99]:50000 P=esmtpsa "
    "A=dovecot_login:bob S=100",
    # esmtpa without A= logged: still an authenticated submission
    "2026-11-28 09:00:03 1tA2bF-0004Xy-Ae <= carol@shop.example H=(pc) [203.0.113.98]:50001 P=esmtpa S=100",
    # ...relayed out through this server's interface: the interface is the sender
    "2026-11-28 09:00:04 1tA2bE-0004Xy-Ad => friend@remote.test R=dnslookup T=remote_smtp "
    'H=mx.remote.test [192.0.2.20]:25 I=[192.0.2.10]:58151 X=TLS1.3 C="250 2.0.0 OK"',
    # private client, mail from the domain: set aside
    "2026-11-28 09:00:05 1tA2bG-0004Xy-Af <= app@shop.example H=app01 [10.1.2.3]:40000 P=esmtp S=10",
    # another domain: nothing
    "2026-11-28 09:00:06 1tA2bH-0004Xy-Ag <= eve@other.org H=x [203.0.113.66]:1 P=esmtp S=1",
    # a forgery refused at RCPT time: listed apart
    "2026-11-28 09:00:07 H=(forger) [203.0.113.5]:33333 F=<ceo@shop.example> rejected RCPT <pay@shop.example>: "
    "SPF check failed",
    # Exim logging through syslog
    "Nov 28 09:00:08 mx1 exim[1234]: 1tA2bJ-0004Xy-Ah <= info@shop.example H=relay.partner.example "
    "[198.51.100.40]:2525 P=esmtp S=300",
    # IPv6 outgoing interface on a deferral, the sender named on the line (arrival in an older log)
    "2026-11-28 09:00:09 1tA2bK-00000001AbC-0Xy2 == x@remote.test F=<sales@shop.example> R=dnslookup "
    "T=remote_smtp defer (-44) H=mx.remote.test [2001:db8::20]:25 I=[2001:db8::10]:40001: "
    "SMTP error from remote mail server after RCPT TO:<x@remote.test>: 451 4.7.1 greylisted",
]

POSTFIX = [
    "Nov 28 10:00:00 mx1 postfix/smtpd[100]: 4F2A1B2C3D: client=mail.partner.example[198.51.100.8]",
    "Nov 28 10:00:00 mx1 postfix/submission/smtpd[101]: 4F2A1B2C3E: client=laptop[203.0.113.97], "
    "sasl_method=PLAIN, sasl_username=bob@shop.example",
    "Nov 28 10:00:01 mx1 postfix/cleanup[102]: 4F2A1B2C3D: message-id=<x1@partner.example>",
    "Nov 28 10:00:01 mx1 postfix/qmgr[103]: 4F2A1B2C3D: from=<orders@shop.example>, size=1234, nrcpt=1 "
    "(queue active)",
    "Nov 28 10:00:01 mx1 postfix/qmgr[103]: 4F2A1B2C3E: from=<bob@shop.example>, size=99, nrcpt=1 (queue active)",
    "Nov 28 10:00:02 mx1 postfix/smtpd[100]: NOQUEUE: reject: RCPT from unknown[203.0.113.66]: 550 5.7.1 "
    "<x@dest.test>: Recipient address rejected: SPF fail; from=<ceo@shop.example> to=<x@dest.test> "
    "proto=ESMTP helo=<forger>",
    "2026-11-28T10:00:03.120+01:00 mx1 postfix/smtpd[104]: 4dP7Qz1bRnzJ9kM: client=mx.other.example[2001:db8:5::8]",
    "2026-11-28T10:00:03.220+01:00 mx1 postfix/qmgr[103]: 4dP7Qz1bRnzJ9kM: from=<list@shop.example>, size=1, nrcpt=2 "
    "(queue active)",
]

HEADER = ("Received-SPF: pass (mx.dest.test: domain of alerts@shop.example designates 203.0.113.44 as "
          "permitted sender) client-ip=203.0.113.44; envelope-from=<alerts@shop.example>; helo=out.example;")


def test_exim_senders() -> None:
    seen = analyze_lines(EXIM, "shop.example")
    assert dict(seen.senders) == {
        "203.0.113.7": 1, "198.51.100.23": 1, "192.0.2.10": 1, "198.51.100.40": 1, "2001:db8::10": 1}
    assert dict(seen.rejected) == {"203.0.113.5": 1}
    assert dict(seen.ignored) == {"10.1.2.3": 1}
    assert seen.lines == len(EXIM)
    src, line, text = seen.evidence["198.51.100.40"]
    assert (src, line) == ("-", 9) and text.startswith("Nov 28 09:00:08 mx1 exim[1234]:")


def test_postfix_client_joined_with_qmgr_from() -> None:
    seen = analyze_lines(POSTFIX, "shop.example")
    assert dict(seen.senders) == {"198.51.100.8": 1, "2001:db8:5::8": 1}  # not the sasl-authenticated laptop
    assert dict(seen.rejected) == {"203.0.113.66": 1}
    assert seen.evidence["198.51.100.8"][1] == 1  # the client= line is the evidence


def test_received_spf_header_line() -> None:
    seen = analyze_lines([HEADER, HEADER.replace("shop.example", "other.org")], "shop.example")
    assert dict(seen.senders) == {"203.0.113.44": 1}


def test_compressed_log_read_through_the_engine(tmp_path: Path) -> None:
    log = tmp_path / "mainlog.1.gz"
    with gzip.open(log, "wt") as fh:
        fh.write("\n".join([*EXIM, HEADER]) + "\n")
    pf = tmp_path / "mail.log.2.bz2"
    pf.write_bytes(bz2.compress(("\n".join(POSTFIX) + "\n").encode()))
    seen = read_observed_senders([log, pf], "shop.example")
    assert seen.senders == analyze_lines([*EXIM, HEADER, *POSTFIX], "shop.example").senders
    assert dict(seen.rejected) == {"203.0.113.5": 1, "203.0.113.66": 1}
    assert seen.lines == len(EXIM) + 1 + len(POSTFIX)
    assert seen.evidence["203.0.113.7"][:2] == (str(log), 1)


def _domains(lines: list[str]) -> set[str]:
    found = set()
    for ln in lines:
        for key in ("from=<", "F=<", " <= "):
            if key in ln:
                found.add((ln.split(key, 1)[1].split(">")[0].split() or [""])[0].rpartition("@")[2].lower())
    return found - {""}


def test_the_reader_prefilter_keeps_every_sender(corpora: Path) -> None:
    # the reader parses only lines holding one of the needles: the answer must equal parsing every line
    paths = sorted((corpora / "postfix-logs-lightmeter" / "individual_files").iterdir())
    paths += sorted((corpora / "fail2ban-mail-logs" / "logs").glob("[ep]*"))
    paths += sorted((corpora / "exim-testsuite-logs" / "log").iterdir())[::10]
    compared = found = 0
    for path in paths:
        lines = path.read_text(errors="replace").splitlines()
        for domain in _domains(lines):
            full = analyze_lines(lines, domain)
            read = read_observed_senders([path], domain)
            assert (read.senders, read.rejected, read.ignored) == (full.senders, full.rejected, full.ignored), (
                path, domain)
            compared += 1
            found += bool(full.senders or full.rejected or full.ignored)
    assert compared > 100 and found > 50, (compared, found)


@pytest.mark.parametrize("content, message", [
    (b"\x00\x01binary\x00" * 100, "binary data"),
    (b"hello\nthis is not a mail log\n", "not a recognised mail log"),
])
def test_non_log_input_is_an_input_error(tmp_path: Path, content: bytes, message: str) -> None:
    good = tmp_path / "mainlog"
    good.write_text(EXIM[0] + "\n")
    bad = tmp_path / "notes.txt"
    bad.write_bytes(content)
    with pytest.raises(InputError, match=f"^{bad}: {message}"):
        read_observed_senders([good, bad], "shop.example")


def test_missing_and_truncated_files_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.log: No such file"):
        read_observed_senders([tmp_path / "nope.log"], "shop.example")
    cut = tmp_path / "mainlog.gz"
    cut.write_bytes(gzip.compress(("\n".join(EXIM) + "\n").encode() * 50)[:-40])
    with pytest.raises(InputError, match=r"mainlog\.gz: compressed file is truncated"):
        read_observed_senders([cut], "shop.example")
    empty = tmp_path / "mainlog.empty"
    empty.touch()
    assert read_observed_senders([empty], "shop.example").lines == 0  # nothing logged yet is no error


def test_pending_queue_ids_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(observed, "_MAX_PENDING", 3)
    clients = [f"Nov 28 10:00:00 mx1 postfix/smtpd[1]: 4F2A1B2C{i:02X}: client=m[198.51.100.{i}]" for i in range(10)]
    froms = [f"Nov 28 10:00:01 mx1 postfix/qmgr[2]: 4F2A1B2C{i:02X}: from=<a@shop.example>, size=1, nrcpt=1"
             for i in (0, 9)]
    seen = analyze_lines(clients + froms, "shop.example")
    assert dict(seen.senders) == {"198.51.100.9": 1}  # the oldest pending client was dropped, not kept forever
