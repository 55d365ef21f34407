"""The alias-file readers: Exim redirection syntax, cPanel valiases, /etc/aliases, Postfix, DirectAdmin."""

from __future__ import annotations

from pathlib import Path

from maildoctor.server.aliases import (
    AliasTarget,
    parse_alias_file,
    parse_targets,
    read_all_aliases,
    read_directadmin_aliases,
    read_postfix_virtual,
    read_system_aliases,
    read_valiases,
    read_vdomainaliases,
)
from maildoctor.server.forward import parse_forward


def write(root: Path, rel: str, text: str) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def test_targets_split_at_commas_outside_quotes() -> None:
    got = parse_targets('bob@example.org, "|/usr/local/bin/php -q /home/u/a,b.php", /home/u/mbox, \\alice')
    assert got == (
        AliasTarget("address", "bob@example.org"),
        AliasTarget("pipe", "/usr/local/bin/php -q /home/u/a,b.php"),
        AliasTarget("file", "/home/u/mbox"),
        AliasTarget("local", "alice"),
    )


def test_fail_text_keeps_commas_and_blackhole_is_special() -> None:
    assert parse_targets(":fail: No such person at this address, sorry") == (
        AliasTarget("fail", "No such person at this address, sorry"),
    )
    assert parse_targets(":blackhole:") == (AliasTarget("blackhole", ""),)
    assert parse_targets('|"/usr/bin/php -q /home/u/p.php"') == (AliasTarget("pipe", "/usr/bin/php -q /home/u/p.php"),)
    assert parse_targets(":include:/etc/lists/staff") == (AliasTarget("include", "/etc/lists/staff"),)


def test_valiases_entries_keep_file_line_and_default(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "etc/valiases/example.com",
        "# cPanel forwarders\n"
        "info@example.com: bob@example.org\n"
        "sales@example.com: a@example.net,\n"
        "   b@example.net\n"
        "*: :fail: No such person at this address\n",
    )
    entries = read_valiases(tmp_path, "example.com")
    assert [(e.local_part, e.line) for e in entries] == [("info", 2), ("sales", 3), ("*", 5)]
    assert entries[0].file == path and entries[0].domain == "example.com"
    assert entries[1].targets == (AliasTarget("address", "a@example.net"), AliasTarget("address", "b@example.net"))
    assert entries[2].is_default and entries[2].targets == (AliasTarget("fail", "No such person at this address"),)
    assert read_valiases(tmp_path, "other.com") == []
    assert len(read_valiases(tmp_path)) == 3


def test_other_formats(tmp_path: Path) -> None:
    write(tmp_path, "etc/aliases", "postmaster: root\nroot: admin@example.org\n")
    write(tmp_path, "etc/vdomainaliases/old.com", "old.com: new.com\n")
    write(tmp_path, "etc/virtual/da.com/aliases", "sales: ann,bob@x.org\n*: :blackhole:\n")
    write(tmp_path, "etc/postfix/main.cf", "virtual_alias_maps = hash:/etc/postfix/virtual\n")
    write(tmp_path, "etc/postfix/virtual", "info@pf.com  joe@pf.net, kim@pf.net\n@pf.com  catchall@pf.net\n")
    assert [(e.local_part, e.targets[0].value) for e in read_system_aliases(tmp_path)] == [
        ("postmaster", "root"),
        ("root", "admin@example.org"),
    ]
    assert read_vdomainaliases(tmp_path)[0].targets == (AliasTarget("address", "new.com"),)
    da = read_directadmin_aliases(tmp_path)
    assert [(e.domain, e.local_part, e.targets[-1].kind) for e in da] == [
        ("da.com", "sales", "address"),
        ("da.com", "*", "blackhole"),
    ]
    pf = read_postfix_virtual(tmp_path)
    assert [(e.local_part, len(e.targets), e.line) for e in pf] == [("info", 2, 1), ("*", 1, 2)]
    assert len(read_all_aliases(tmp_path)) == 7


def test_garbage_lines_are_skipped_not_fatal() -> None:
    entries = parse_alias_file('\x00\x01 nonsense\n"unterminated: x\nok@d.com: x@y.z\n:::\n', Path("f"), "d.com")
    assert [e.address for e in entries] == ["ok@d.com"]


def test_forward_plain_and_exim_filter() -> None:
    plain = parse_forward("\\alice, bob@example.org\n", Path("f"), "alice")
    assert plain[0].targets == (AliasTarget("local", "alice"), AliasTarget("address", "bob@example.org"))
    filt = parse_forward(
        '# Exim filter\nif $h_subject: contains "x" then\n  unseen deliver joe@example.net\n'
        '  pipe "/usr/bin/procmail -f-"\nendif\nsave $home/mail/archive\n',
        Path("f"),
        "alice",
    )
    assert [(e.line, e.targets[0].kind, e.targets[0].value) for e in filt] == [
        (3, "address", "joe@example.net"),
        (4, "pipe", "/usr/bin/procmail -f-"),
        (6, "file", "$home/mail/archive"),
    ]
