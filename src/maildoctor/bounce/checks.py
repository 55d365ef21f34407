"""Doctor check: classify the bounce samples and recent bounces found under a server root."""

from __future__ import annotations

from pathlib import Path

from maildoctor.bounce.core import parse_bounce
from maildoctor.bounce.local_cause import add_local_causes
from maildoctor.bounce.model import Bounce
from maildoctor.bounce.report import bounce_findings
from maildoctor.doctor import DoctorContext, doctor_check
from maildoctor.model import Evidence, Finding, Severity

MAX_PER_MAILDIR = 200  # newest messages looked at per mailbox
MAX_MAILDIRS = 500
_BOUNCE_HINTS = (b"mailer-daemon", b"mail delivery", b"delivery status notification", b"undeliver", b"postmaster")


def _looks_like_bounce(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            head = fh.read(4096).lower()
    except OSError:
        return False
    return any(h in head for h in _BOUNCE_HINTS)


def _candidate_files(root: Path) -> list[Path]:
    files = sorted((root / "demo-samples" / "bounces").glob("*.eml"))
    home = root / "home"
    if home.is_dir():
        dirs = sorted(home.glob("*/mail/*/*/new")) + sorted(home.glob("*/mail/*/*/cur"))
        for new_or_cur in dirs[:MAX_MAILDIRS]:
            msgs = sorted((p for p in new_or_cur.iterdir() if p.is_file()), key=lambda p: p.stat().st_mtime)
            files.extend(p for p in msgs[-MAX_PER_MAILDIR:] if _looks_like_bounce(p))
    return files


@doctor_check("bounce")
def check_bounces(ctx: DoctorContext) -> list[Finding]:
    files = _candidate_files(ctx.root)
    if not files:
        return []
    bounces: list[Bounce] = []
    unreadable: list[str] = []
    for f in files:
        try:
            raw = f.read_bytes()[: 4 * 1024 * 1024]
        except OSError as exc:
            unreadable.append(f"{f}: {exc.strerror or exc}")
            continue
        b = parse_bounce(raw, "/" + str(f.relative_to(ctx.root)))
        if b.kind != "not_bounce":
            bounces.append(add_local_causes(ctx.root, b))
    findings = [f for f in bounce_findings(bounces) if f.id != "bounce.summary"] if bounces else []
    if unreadable:
        findings.append(
            Finding(
                id="bounce.unreadable",
                severity=Severity.UNKNOWN,
                title=f"{len(unreadable)} bounce file(s) could not be read",
                evidence=tuple(Evidence("file", u) for u in unreadable[:10]),
            )
        )
    return findings
