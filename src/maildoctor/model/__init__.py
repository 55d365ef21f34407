"""Frozen value types shared by every engine and every output: findings and their evidence."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Severity(enum.Enum):
    OK = "ok"
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"
    UNKNOWN = "unknown"

    @property
    def rank(self) -> int:
        """Sort key: most urgent first (critical, warning, unknown, info, ok)."""
        return _RANK[self]

    @property
    def is_problem(self) -> bool:
        """A problem makes a command exit 1; unknown means 'could not check', never a problem."""
        return self in (Severity.WARNING, Severity.CRITICAL)


_RANK = {
    Severity.CRITICAL: 0,
    Severity.WARNING: 1,
    Severity.UNKNOWN: 2,
    Severity.INFO: 3,
    Severity.OK: 4,
}


@dataclass(frozen=True, slots=True)
class Evidence:
    """One piece of proof: a log line, a file excerpt, a DNS answer, a probe result.

    `kind` is one of: log, file, dns, header, probe, command, text.
    `source` names where it came from (a file path, a DNS name, host:port); `line` is 1-based.
    """

    kind: str
    text: str
    source: str = ""
    line: int | None = None

    def location(self) -> str:
        if self.source and self.line is not None:
            return f"{self.source}:{self.line}"
        return self.source


@dataclass(frozen=True, slots=True)
class Finding:
    """One diagnosis: what is wrong (or fine), why we think so, and what to do.

    `id` is stable across versions (dotted, e.g. ``forwarders.fail_default``) so monitors and
    scripts can key on it. `fix` holds concrete steps or commands, in order.
    """

    id: str
    severity: Severity
    title: str
    explanation: str = ""
    evidence: tuple[Evidence, ...] = ()
    fix: tuple[str, ...] = ()
    subject: str = ""
    data: dict[str, object] = field(default_factory=dict, hash=False, compare=False)


def rank_findings(findings: list[Finding] | tuple[Finding, ...]) -> list[Finding]:
    """Most urgent first; stable within one severity so engines keep their own order."""
    return sorted(findings, key=lambda f: f.severity.rank)


def exit_code_for(findings: list[Finding] | tuple[Finding, ...]) -> int:
    """0 when nothing is wrong, 1 when any finding is a problem (warning or critical)."""
    return 1 if any(f.severity.is_problem for f in findings) else 0
