"""Local causes read from a cPanel-like server root."""

from __future__ import annotations

from pathlib import Path

import pytest
from bounce_samples import EXIM_FAIL_FORWARDER, EXIM_MULTI, EXIM_PIPE

from maildoctor.bounce import parse_bounce
from maildoctor.bounce.local_cause import add_local_causes


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "etc" / "valiases").mkdir(parents=True)
    (tmp_path / "etc" / "localdomains").write_text("server1.hosting.example\nstore.example\nshop.example\n")
    (tmp_path / "etc" / "userdomains").write_text("store.example: storeacct\nshop.example: shopacct\n*: nobody\n")
    (tmp_path / "etc" / "passwd").write_text(
        "storeacct:x:1002:1002::/home/storeacct:/bin/bash\nshopacct:x:1003:1003::/home/shopacct:/bin/bash\n"
    )
    (tmp_path / "etc" / "valiases" / "store.example").write_text(
        "sales@store.example: anna@store.example\n"
        "old@store.example: :fail: No such person at this address\n"
        "support@store.example: |/home/storeacct/tickets/pipe.php\n"
        "*: :fail: No such person at this address\n"
    )
    (tmp_path / "etc" / "valiases" / "shop.example").write_text("info@shop.example: owner@shop.example\n")
    for box in ("anna", "carol"):
        for sub in ("cur", "new", "tmp"):
            (tmp_path / "home" / "storeacct" / "mail" / "store.example" / box / sub).mkdir(parents=True)
    (tmp_path / "home" / "storeacct" / "etc" / "store.example").mkdir(parents=True)
    (tmp_path / "home" / "storeacct" / "etc" / "store.example" / "passwd").write_text(
        "anna:x:1002:1002::/home/storeacct/mail/store.example/anna:/bin/false\n"
        "carol:x:1002:1002::/home/storeacct/mail/store.example/carol:/bin/false\n"
    )
    (tmp_path / "home" / "storeacct" / "etc" / "store.example" / "quota").write_text("anna:1048576\ncarol:52428800\n")
    (tmp_path / "home" / "storeacct" / "mail" / "store.example" / "carol" / "maildirsize").write_text(
        "52428800S\n52000000 4100\n500000 12\n"
    )
    return tmp_path


def _cause(root: Path, raw: bytes, address: str):  # type: ignore[no-untyped-def]
    b = add_local_causes(root, parse_bounce(raw))
    return next(r.local_cause for r in b.recipients if r.address == address)


def test_fail_forwarder_is_named_with_file_and_line(root: Path) -> None:
    c = _cause(root, EXIM_FAIL_FORWARDER, "old@store.example")
    assert c is not None
    assert c.kind == "fail_forwarder"
    assert (c.file, c.line) == ("/etc/valiases/store.example", 2)
    assert "No such person at this address" in c.summary


def test_default_fail_address_is_told_apart(root: Path) -> None:
    raw = EXIM_FAIL_FORWARDER.replace(b"old@store.example", b"nobody-here@store.example")
    c = _cause(root, raw, "nobody-here@store.example")
    assert c is not None
    assert c.kind == "default_fail"
    assert (c.file, c.line) == ("/etc/valiases/store.example", 4)


def test_missing_mailbox_without_default_address(root: Path) -> None:
    raw = EXIM_FAIL_FORWARDER.replace(b"old@store.example", b"ghost@shop.example")
    c = _cause(root, raw, "ghost@shop.example")
    assert c is not None
    assert c.kind == "missing_mailbox"


def test_pipe_exit_code_is_explained(root: Path) -> None:
    c = _cause(root, EXIM_PIPE, "support@store.example")
    assert c is not None
    assert c.kind == "pipe"
    assert c.detail["exit_code"] == 127
    assert c.detail["command"] == "/home/storeacct/tickets/pipe.php"
    assert (c.file, c.line) == ("/etc/valiases/store.example", 3)
    assert c.detail["meaning"]


def test_mailbox_full_reports_quota_and_usage(root: Path) -> None:
    raw = EXIM_MULTI.replace(b"carol@full.example", b"carol@store.example")
    c = _cause(root, raw, "carol@store.example")
    assert c is not None
    assert c.kind == "quota"
    assert c.detail["quota_bytes"] == 52428800
    assert c.detail["used_bytes"] == 52500000


def test_remote_failures_have_no_local_cause(root: Path) -> None:
    assert _cause(root, EXIM_MULTI, "bob@gone.example") is None


def test_spf_rejection_gives_the_check_command(root: Path) -> None:
    raw = EXIM_MULTI.replace(
        b"550 5.1.1 <bob@gone.example>: Recipient address rejected: User unknown in virtual mailbox table",
        b"550 5.7.23 SPF fail: 192.0.2.99 is not allowed to send mail for store.example",
    )
    c = _cause(root, raw, "bob@gone.example")
    assert c is not None
    assert c.kind == "spf"
    assert c.detail["ip"] == "192.0.2.99"
    assert c.fix[0] == "maildoctor spf check 192.0.2.99 anna@store.example"


def test_blocklist_rejection_names_the_list_and_ip(root: Path) -> None:
    raw = EXIM_MULTI.replace(
        b"550 5.1.1 <bob@gone.example>: Recipient address rejected: User unknown in virtual mailbox table",
        b"554 5.7.1 Service unavailable; Client host [203.0.113.9] blocked using zen.spamhaus.org",
    )
    c = _cause(root, raw, "bob@gone.example")
    assert c is not None
    assert c.kind == "blocklist"
    assert c.detail["lists"] == ["Spamhaus"]
    assert c.detail["ip"] == "203.0.113.9"


def test_local_mailbox_full_from_exim_appendfile(root: Path) -> None:
    raw = EXIM_FAIL_FORWARDER.replace(b"old@store.example", b"carol@store.example").replace(
        b"No such person at this address.",
        b"mailbox is full (MTA-imposed quota exceeded while writing to tmp/1700000000.H1P2.host)",
    )
    b = add_local_causes(root, parse_bounce(raw))
    (r,) = b.recipients
    assert r.reason == "mailboxfull"
    assert r.local_cause is not None and r.local_cause.kind == "quota"
