"""Robustness over real bounces (Sisimai and flufl.bounce corpora, plus mail-parser's mails).

A bounce that carries the original message (or its headers) must yield the original's hops, and
every Received header that has a date must have it read. Documented exceptions: the two headers
in these corpora that really carry no date (listed in UNDATED with the reason).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from maildoctor.headers.analyze import analyze_headers
from maildoctor.headers.message import parse_header_text

pytestmark = pytest.mark.conformance

UNDATED = {
    "newmailru_01.txt": "the copy of the original is cut ('Message truncated') right after this Received line",
    "yahoo_01.txt": "an X-Yahoo-Forwarded header sits inside the folded Received header; its date went with it",
}


def _files(corpora: Path) -> list[Path]:
    files = sorted(p for p in (corpora / "sisimai-set-of-emails" / "data" / "maildir").rglob("*") if p.is_file())
    files += sorted((corpora / "flufl-bounce" / "data").glob("*.txt"))
    files += sorted((corpora / "headers-mail-parser" / "mails").iterdir())
    return files


def test_bounce_corpora(corpora: Path) -> None:
    files = _files(corpora)
    assert len(files) > 900
    hops = dated = embedded = 0
    undated: dict[str, str] = {}
    for path in files:
        report = analyze_headers(parse_header_text(path.read_bytes()))
        if report.headers.origin != "message":
            embedded += 1
        for hop in report.chain.hops:
            hops += 1
            if hop.time is not None:
                dated += 1
            else:
                undated[path.name] = hop.received.raw
    assert set(undated) == set(UNDATED), undated
    assert embedded >= 690  # bounces whose original header we found inside
    print(
        f"bounce corpora: {len(files)} files, {embedded} with the original found inside, "
        f"{dated}/{hops} hops dated, {len(UNDATED)} documented exceptions"
    )
