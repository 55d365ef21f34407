"""`forwarders` on the fixture roots: every planted problem found at its file and line, nothing on a clean root."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from maildoctor.forwarders.analyze import diagnose_forwarders
from maildoctor.forwarders.pipes import output_hints, read_pipe_facts
from maildoctor.model import Severity

V = "/etc/valiases/broken.example"
AS_ROOT = os.geteuid() == 0

# (finding id, file, line) for every problem planted in tests/fixtures/roots/broken
EXPECTED = {
    ("forwarders.fail_entry", V, 2),
    ("forwarders.blackhole_entry", V, 3),
    ("forwarders.pipe_interpreter_missing", V, 4),
    ("forwarders.pipe_script_missing", V, 5),
    ("forwarders.pipe_script_unreadable", V, 6),
    ("forwarders.pipe_not_executable", V, 7),
    ("forwarders.pipe_bad_shebang", V, 8),
    ("forwarders.pipe_crlf", V, 9),
    ("forwarders.pipe_output", V, 11),
    ("forwarders.loop", V, 12),
    ("forwarders.missing_local_target", V, 13),
    ("forwarders.external_no_srs", V, 14),
    ("forwarders.conflicting_entry", V, 15),
    ("forwarders.duplicate_entry", V, 17),
    ("forwarders.default_fail", V, 19),
    ("forwarders.default_blackhole", "/etc/valiases/discard.example", 1),
    ("forwarders.missing_local_target", "/home/alice/.forward", 1),
    ("forwarders.pipe_interpreter_missing", "/home/bob/.forward", 3),
    ("forwarders.pipe_script_missing", "/home/bob/.forward", 3),
}
if AS_ROOT:  # a script owned by another account needs chown
    EXPECTED.add(("forwarders.pipe_owner", V, 10))


def located(findings: list) -> set[tuple[str, str, int | None]]:
    return {(f.id, f.evidence[0].source, f.evidence[0].line) for f in findings}


def test_broken_root_every_problem_at_its_line(make_root: Callable[[str], Path]) -> None:
    findings, data = diagnose_forwarders(make_root("broken"))
    assert located(findings) == EXPECTED
    assert data["pipes"] == 9
    for f in findings:
        assert f.fix and f.evidence and f.title, f.id
        assert "{" not in f.title + f.explanation, f"unfilled template in {f.id}"


def test_clean_root_has_no_findings(make_root: Callable[[str], Path]) -> None:
    findings, data = diagnose_forwarders(make_root("clean"))
    assert findings == []
    assert data["entries"] == 6 and data["pipes"] == 1 and data["srs"]["configured"] is True


def test_texts_carry_the_specifics(make_root: Callable[[str], Path]) -> None:
    findings, _ = diagnose_forwarders(make_root("broken"))
    by = {(f.id, f.evidence[0].line): f for f in findings if f.evidence[0].source == V}
    assert '"This address was closed in 2023"' in by[("forwarders.fail_entry", 2)].title
    assert "No such person at this address" in by[("forwarders.default_fail", 19)].title
    interp = by[("forwarders.pipe_interpreter_missing", 4)]
    assert "/usr/local/bin/php" in interp.title and "/usr/bin/php" in " ".join(interp.fix)
    assert interp.severity is Severity.CRITICAL
    loop = by[("forwarders.loop", 12)]
    assert "loopa@broken.example -> loopb@other.example -> loopa@broken.example" in loop.title
    assert [e.location() for e in loop.evidence] == [f"{V}:12", "/etc/valiases/other.example:1", f"{V}:19"]
    assert "No such person" in loop.explanation
    conflict = by[("forwarders.conflicting_entry", 15)]
    assert [e.line for e in conflict.evidence] == [15, 16]
    dup = by[("forwarders.duplicate_entry", 17)]
    assert [e.line for e in dup.evidence] == [17, 18]
    shebang = by[("forwarders.pipe_bad_shebang", 8)]
    assert "/usr/local/bin/perl" in shebang.title and "#!/usr/bin/perl" in shebang.fix[0]
    output = by[("forwarders.pipe_output", 11)]
    assert any("echo" in e.text for e in output.evidence) and any("before '<?php'" in e.text for e in output.evidence)
    srs = by[("forwarders.external_no_srs", 14)]
    assert "someone@gmail.example" in srs.explanation


@pytest.mark.parametrize(
    ("repair", "gone"),
    [
        (lambda r: os.chmod(r / "home/alice/bin/noexec.sh", 0o755), ("forwarders.pipe_not_executable", 7)),
        (lambda r: (r / "etc/exim.conf.localopts").write_text("srs=1\n"), ("forwarders.external_no_srs", 14)),
        (
            lambda r: (r / "usr/local/bin").mkdir(parents=True) or (r / "usr/local/bin/php").write_text("x"),
            ("forwarders.pipe_interpreter_missing", 4),
        ),
        (lambda r: (r / "home/alice/crlf.php").write_bytes(b"<?php\nexit(0);\n"), ("forwarders.pipe_crlf", 9)),
        (lambda r: (r / "home/alice/noisy.php").write_text("<?php\n$x = 1;\n"), ("forwarders.pipe_output", 11)),
        (lambda r: os.chmod(r / "home/alice/secret.php", 0o640), ("forwarders.pipe_script_unreadable", 6)),
    ],
)
def test_repairing_a_problem_removes_its_finding(
    make_root: Callable[[str], Path], repair: Callable[[Path], object], gone: tuple[str, int]
) -> None:
    root = make_root("broken")
    before = {(f.id, f.evidence[0].line) for f in diagnose_forwarders(root)[0] if f.evidence[0].source == V}
    assert gone in before
    repair(root)
    after = {(f.id, f.evidence[0].line) for f in diagnose_forwarders(root)[0] if f.evidence[0].source == V}
    assert gone not in after
    assert len(before - after) == 1


def test_domain_filter(make_root: Callable[[str], Path]) -> None:
    findings, data = diagnose_forwarders(make_root("broken"), "discard.example")
    assert located(findings) == {("forwarders.default_blackhole", "/etc/valiases/discard.example", 1)}
    assert data["files"] == ["/etc/valiases/discard.example"]


def test_crlf_shebang_and_missing_shebang_break_direct_pipes(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin/sh").write_text("")
    for name, body in (
        ("crlf.sh", b"#!/bin/sh\r\nexit 0\r\n"),
        ("none.sh", b"exit 0\n"),
        ("bom.sh", b"\xef\xbb\xbf#!/bin/sh\n"),
    ):
        p = tmp_path / name
        p.write_bytes(body)
        p.chmod(0o755)
    (tmp_path / "etc/valiases").mkdir(parents=True)
    (tmp_path / "etc/valiases/d.example").write_text(
        "a@d.example: |/crlf.sh\nb@d.example: |/none.sh\nc@d.example: |/bom.sh\n"
    )
    findings, _ = diagnose_forwarders(tmp_path)
    shebang = {f.evidence[0].line: f.title for f in findings if f.id == "forwarders.pipe_bad_shebang"}
    assert "CR at the end" in shebang[1]
    assert "no #! line" in shebang[2]
    assert "byte-order mark" in shebang[3]


def test_output_hints_php_and_shell(tmp_path: Path) -> None:
    (tmp_path / "usr/bin").mkdir(parents=True)
    (tmp_path / "usr/bin/php").write_text("")
    (tmp_path / "quiet.php").write_text("<?php\n// echo 'not really'\n$a = 1;\n?>\n")
    (tmp_path / "tail.php").write_text("<?php\n$a = 1;\n?>\n\n")
    (tmp_path / "s.sh").write_text("#!/bin/sh\necho debug >/dev/null\necho done\nprintf 'x' >&2\n")
    assert output_hints(read_pipe_facts(tmp_path, "/usr/bin/php -q /quiet.php")) == []
    assert "after the closing" in output_hints(read_pipe_facts(tmp_path, "/usr/bin/php -q /tail.php"))[0][1]
    sh = output_hints(read_pipe_facts(tmp_path, "/s.sh"))
    assert [n for n, _ in sh] == [3, 4]  # stderr is output too: Exim joins it with stdout


def test_unreadable_alias_file_is_unknown_not_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import maildoctor.server.aliases as aliases

    d = tmp_path / "etc/valiases"
    d.mkdir(parents=True)
    (d / "x.example").write_text("a@x.example: b@y.example\n")
    real = aliases.read_text

    def denied(path: Path) -> str:
        if path.name == "x.example":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(aliases, "read_text", denied)
    findings, _ = diagnose_forwarders(tmp_path)
    assert [(f.id, f.severity) for f in findings] == [("forwarders.unreadable", Severity.UNKNOWN)]
    assert findings[0].evidence[0].source == "/etc/valiases/x.example"


ROUTERS = """begin routers
virtual_aliases_nostar:
  driver = redirect
  data = ${lookup{$local_part@$domain}lsearch{/etc/valiases/$domain}}
  %s
virtual_user:
  driver = accept
begin transports
"""


@pytest.mark.parametrize(
    ("config", "severity", "kinds"),
    [
        (None, Severity.INFO, ["remote"]),
        (ROUTERS % "retry_use_local_part", Severity.WARNING, ["remote"]),
        (ROUTERS % "unseen", None, ["remote", "mailbox"]),
    ],
)
def test_forwarder_over_a_mailbox_depends_on_unseen(
    tmp_path: Path, config: str | None, severity: Severity | None, kinds: list[str]
) -> None:
    from maildoctor.server.routing import route_address

    (tmp_path / "etc/valiases").mkdir(parents=True)
    (tmp_path / "etc/localdomains").write_text("d.example\n")
    (tmp_path / "etc/userdomains").write_text("d.example: ann\n")
    (tmp_path / "home/ann/mail/d.example/sales").mkdir(parents=True)
    (tmp_path / "etc/valiases/d.example").write_text("sales@d.example: boss@elsewhere.test\n")
    (tmp_path / "etc/exim.conf.localopts").write_text("srs=1\n")
    if config:
        (tmp_path / "etc/exim.conf").write_text(config)
    findings, _ = diagnose_forwarders(tmp_path)
    shadow = [f for f in findings if f.id == "forwarders.conflicting_entry"]
    assert [f.severity for f in shadow] == ([severity] if severity else [])
    if shadow:
        assert "mailbox receives nothing" in shadow[0].explanation
    assert [d.kind for d in route_address(tmp_path, "sales@d.example").deliveries] == kinds
