"""The knowledge-base loader rejects malformed entries and every packaged kb file loads."""

from __future__ import annotations

import pytest

from maildoctor import kb
from maildoctor.kb import KbError, parse_kb

GOOD = """
[meta]
description = "test"

[[entry]]
id = "retry_timeout"
pattern = 'retry timeout exceeded'
samples = ["** a@b.example R=x T=y: retry timeout exceeded"]
meaning = "gave up"

[[entry]]
id = "plain"
meaning = "an entry without patterns needs no samples"
"""


def test_good_file_parses_and_matches() -> None:
    f = parse_kb("t", GOOD)
    assert len(f) == 2
    hit = f.first_match("x: Retry Timeout Exceeded")
    assert hit is not None and hit[0].id == "retry_timeout"
    assert f.by_id("plain")["meaning"].startswith("an entry")
    assert f.first_match("delivered") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[entry]]\nid='a'\n[[entry]]\nid='a'\n", "duplicate id"),
        ("[[entry]]\nmeaning='x'\n", "no valid id"),
        ("[[entry]]\nid='a'\npattern='('\nsamples=['x']\n", "bad pattern"),
        ("[[entry]]\nid='a'\npattern='abc'\n", "no samples"),
        ("[[entry]]\nid='a'\npattern='abc'\nsamples=['xyz']\n", "matches no sample"),
        ("[[entry]]\nid='a'\npatterns=['abc','xyz']\nsamples=['abc', 'nothing']\n", "matches no"),
        ("[meta]\n", "no [[entry]]"),
        ("not toml = = =", "kb/t.toml"),
    ],
)
def test_malformed_files_are_rejected(text: str, message: str) -> None:
    with pytest.raises(KbError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_kb("t", text)


def test_every_packaged_kb_file_loads() -> None:
    for name in kb.available():
        assert len(kb.load(name)) > 0, name
