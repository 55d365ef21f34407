"""Doctor check: analyse the header samples an admin saved under <root>/demo-samples/headers/.

Each ``*.eml`` or ``*.txt`` there is analysed like ``maildoctor headers FILE --root ROOT``: the
findings of every sample are returned with the sample's name as their subject. A root without
samples contributes nothing.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from maildoctor.doctor import DoctorContext, doctor_check
from maildoctor.errors import MaildoctorError
from maildoctor.headers.analyze import analyze_headers
from maildoctor.headers.hops import analyze_chain
from maildoctor.headers.message import MAX_INPUT_BYTES, parse_header_text
from maildoctor.headers.verdict import LocalJoin, read_local
from maildoctor.model import Evidence, Finding, Severity

SAMPLES_DIR = Path("demo-samples") / "headers"
MAX_SAMPLES = 50


def _samples(root: Path) -> list[Path]:
    folder = root / SAMPLES_DIR
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".eml", ".txt") and p.is_file())[:MAX_SAMPLES]


def _log_paths(root: Path) -> list[Path]:
    from maildoctor.logs.read import default_log_paths

    return default_log_paths(root)


def _analyse(sample: Path, logs: list[Path]) -> list[Finding]:
    with sample.open("rb") as fh:
        headers = parse_header_text(fh.read(MAX_INPUT_BYTES))
    local: LocalJoin | None = None
    if logs:
        chain = analyze_chain(headers.get_all("Received"), headers.first("Date"))
        local, _problems = read_local(chain, headers.first("Message-ID"), logs)
    report = analyze_headers(headers, local)
    out = []
    for f in report.findings:
        if not _worth_showing(f, local is not None):
            continue
        title = f"{f.title} ({sample.name})"
        out.append(dataclasses.replace(f, title=title, subject=str(sample)))
    return out


def _worth_showing(f: Finding, joined: bool) -> bool:
    """In a whole-server triage: the verdict (or the slow hop when our log has nothing), and problems."""
    if f.id == "headers.verdict":
        return joined or f.severity.is_problem
    if f.id == "headers.slow_hop":
        return not joined
    return f.severity.is_problem


@doctor_check("headers")
def check_header_samples(ctx: DoctorContext) -> list[Finding]:
    samples = _samples(ctx.root)
    if not samples:
        return []
    logs = _log_paths(ctx.root)
    findings: list[Finding] = []
    for sample in samples:
        try:
            findings.extend(_analyse(sample, logs))
        except (OSError, MaildoctorError) as exc:
            findings.append(
                Finding(
                    "headers.sample_unreadable",
                    Severity.UNKNOWN,
                    f"Header sample {sample.name} could not be read",
                    str(exc),
                    evidence=(Evidence("file", str(exc), source=str(sample)),),
                    subject=str(sample),
                )
            )
    return findings
