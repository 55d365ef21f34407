"""`doctor`: run every registered check over a server root and rank the findings.

Each engine contributes checks in its own ``maildoctor.<engine>.checks`` module with the
``@doctor_check`` decorator, so adding a check never touches this file. A check that cannot
run on this root reports ``unknown`` with the reason; it is never a problem.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from maildoctor.errors import MaildoctorError
from maildoctor.model import Evidence, Finding, Severity, rank_findings


@dataclass(frozen=True, slots=True)
class DoctorContext:
    root: Path
    dns_server: str | None = None
    offline: bool = False  # no DNS or network probes (the demo runs offline)


CheckFn = Callable[[DoctorContext], list[Finding]]
_CHECKS: dict[str, CheckFn] = {}


def doctor_check(name: str) -> Callable[[CheckFn], CheckFn]:
    """Register a doctor check under a stable name (also the prefix of its 'unknown' finding)."""

    def register(fn: CheckFn) -> CheckFn:
        if name in _CHECKS and _CHECKS[name] is not fn:
            raise ValueError(f"doctor check {name!r} registered twice")
        _CHECKS[name] = fn
        return fn

    return register


def discover_checks() -> dict[str, CheckFn]:
    """Import every ``maildoctor.<pkg>.checks`` module; returns the registry."""
    import maildoctor

    for info in pkgutil.iter_modules(maildoctor.__path__):
        if info.ispkg:
            try:
                importlib.import_module(f"maildoctor.{info.name}.checks")
            except ModuleNotFoundError as exc:
                if exc.name != f"maildoctor.{info.name}.checks":
                    raise
    return dict(_CHECKS)


def run_checks(ctx: DoctorContext) -> list[Finding]:
    """Run each check; a check that fails to run becomes one 'unknown' finding saying why."""
    findings: list[Finding] = []
    for name, check in sorted(discover_checks().items()):
        try:
            findings.extend(check(ctx))
        except (MaildoctorError, OSError) as exc:
            findings.append(
                Finding(
                    id=f"{name}.could_not_run",
                    severity=Severity.UNKNOWN,
                    title=f"Check '{name}' could not run on {ctx.root}",
                    explanation=str(exc),
                    evidence=(Evidence("text", str(exc)),),
                )
            )
    return rank_findings(findings)
