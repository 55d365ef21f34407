"""Authentication and spam-verdict summary."""

from __future__ import annotations

import re

from maildoctor import kb
from maildoctor.headers.analyze import analyze_headers
from maildoctor.headers.auth import analyze_auth, classify_spam_header, parse_authentication_results
from maildoctor.headers.message import parse_header_text

GMAIL = """\
ARC-Seal: i=1; a=rsa-sha256; t=1705312200; cv=none; d=google.com; s=arc-20160816;
        b=abc
ARC-Authentication-Results: i=1; mx.google.com;
       dkim=pass header.i=@example.org header.s=sel1 header.b=AbCd;
       spf=pass (google.com: domain of alice@example.org designates 203.0.113.9 as permitted sender)
 smtp.mailfrom=alice@example.org;
       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.org
Authentication-Results: mx.google.com;
       dkim=pass header.i=@example.org header.s=sel1 header.b=AbCd;
       spf=softfail (google.com: domain of transitioning alice@example.org does not designate 198.51.100.1 as
 permitted sender) smtp.mailfrom=alice@example.org;
       dmarc=fail (p=REJECT sp=REJECT dis=QUARANTINE) header.from=example.org
Received-SPF: softfail (google.com: domain of transitioning alice@example.org does not designate 198.51.100.1 as
 permitted sender) client-ip=198.51.100.1;
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=sel1;
 h=from:to:subject; bh=xyz; b=abc
X-Spam-Status: Yes, score=7.3 required=5.0 tests=BAYES_99
Received: from mail.example.org (mail.example.org [198.51.100.1]) by mx.google.com with ESMTPS id x1;
 Mon, 15 Jan 2024 10:00:00 +0000

"""


def test_summary() -> None:
    hs = parse_header_text(GMAIL)
    auth = analyze_auth(hs.fields)
    assert auth.final("dmarc") is not None and auth.final("dmarc").result == "fail"  # type: ignore[union-attr]
    spf = auth.final("spf")
    assert spf is not None and spf.result == "softfail" and spf.props["smtp.mailfrom"] == "alice@example.org"
    assert auth.dkim_signatures == ({"d": "example.org", "s": "sel1", "a": "rsa-sha256"},)
    assert auth.arc == ({"i": "1", "cv": "none", "d": "google.com", "s": "arc-20160816"},)
    assert auth.received_spf[0]["result"] == "softfail" and auth.received_spf[0]["client-ip"] == "198.51.100.1"
    arc_ar = [h for h in auth.results if h.source.startswith("ARC")]
    assert arc_ar and arc_ar[0].authserv_id == "mx.google.com" and arc_ar[0].source.endswith("i=1")
    doc = auth.to_json()
    assert (doc["spf"], doc["dkim"], doc["dmarc"]) == ("softfail", "pass", "fail")
    assert [s["verdict"] for s in doc["spam"]] == ["spam"]  # type: ignore[index]


def test_findings() -> None:
    report = analyze_headers(parse_header_text(GMAIL))
    by_id = {f.id: f for f in report.findings}
    assert by_id["headers.authentication"].severity.value == "warning"
    assert "dmarc=fail" in by_id["headers.authentication"].title
    assert "SpamAssassin" in by_id["headers.spam_verdict"].title


def test_ar_with_version_and_reason() -> None:
    h = parse_authentication_results('mx.example.net 1; spf=fail reason="SPF fail - not authorized" smtp.mailfrom=a@b')
    assert h.authserv_id == "mx.example.net"
    (r,) = h.results
    assert (r.method, r.result, r.reason, r.props) == (
        "spf",
        "fail",
        "SPF fail - not authorized",
        {"smtp.mailfrom": "a@b"},
    )


def test_ar_none_and_garbage() -> None:
    assert parse_authentication_results("mx.example.net; none").results == ()
    assert parse_authentication_results(";;;(((").results == ()


def test_spam_headers_clean_and_unknown() -> None:
    clean = classify_spam_header("X-Spam-Status", "No, score=-0.1 required=5.0")
    assert clean is not None and clean.verdict == "clean"
    ms = classify_spam_header("X-Forefront-Antispam-Report", "CIP:1.2.3.4;SCL:1;SFV:NSPM;")
    assert ms is not None and ms.verdict == "clean"
    score = classify_spam_header("X-Spam-Score", "4.2")
    assert score is not None and score.verdict == "info"
    assert classify_spam_header("X-Mailer", "Outlook") is None


def test_kb_clean_patterns_match_their_samples() -> None:
    """kb.load checks pattern/samples; the clean_pattern/clean_samples pairs are checked here."""
    for entry in kb.load("headers"):
        pat = entry.get("clean_pattern")
        if pat is None:
            continue
        samples = entry.get("clean_samples")
        assert samples, entry.id
        for s in samples:
            assert re.search(pat, s, re.IGNORECASE), (entry.id, s)
            assert not entry.search(s), (entry.id, s)  # a clean sample must not read as spam
