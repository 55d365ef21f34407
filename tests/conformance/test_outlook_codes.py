"""Every code of the public 0x800CCCxx table is in kb/outlook_codes.toml with the same IXP_E_ name."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from maildoctor import kb
from maildoctor.codes.outlook import describe, lookup_code, normalize_code

pytestmark = pytest.mark.conformance

RANGES = {"generic", "socket", "tls", "smtp", "pop3", "imap"}


def rows(corpora: Path) -> list[dict[str, str]]:
    path = corpora / "outlook-ixp-error-codes" / "outlook_0x800CCCxx_codes.tsv"
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def test_every_corpus_code_is_known(corpora: Path) -> None:
    table = rows(corpora)
    assert len(table) == 74
    for row in table:
        code = normalize_code(row["hresult"])
        assert code is not None, row["hresult"]
        facts = describe(lookup_code(code))
        assert facts["name"] == row["symbolic_name"], code
        assert facts["meaning"] and facts["range"] in RANGES, code


def test_every_range_is_covered() -> None:
    ranges = {describe(e)["range"] for e in kb.load("outlook_codes")}
    assert ranges == RANGES


def test_five_common_codes_have_causes() -> None:
    for code in ("0x800CCC78", "0x800CCC0D", "0x800CCC0E", "0x800CCC69", "0x800CCC67"):
        entry = lookup_code(code)
        assert len(entry["detail"]) > 300
        causes = entry["cause"]
        assert len(causes) >= 3 and all(c["text"] and c["fix"] for c in causes)
