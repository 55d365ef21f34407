"""Findings built from the templates in kb/forwarders.toml (the texts live in the knowledge base)."""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from typing import Any

from maildoctor import kb
from maildoctor.model import Evidence, Finding, Severity


class _Fields(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _fill(template: str, fields: Mapping[str, Any]) -> str:
    return string.Formatter().vformat(template, (), _Fields(fields))


def make_finding(
    finding_id: str,
    evidence: Sequence[Evidence],
    subject: str = "",
    severity: Severity | None = None,
    **fields: Any,
) -> Finding:
    """A Finding whose title, explanation and fix come from the kb entry `finding_id`."""
    entry = kb.load("forwarders").by_id(finding_id)
    sev = severity or Severity(entry.get("severity", "warning"))
    fixes = tuple(_fill(f, fields) for f in entry.get("fix", []))
    data: dict[str, object] = {}
    for k, v in fields.items():
        data[k] = v if isinstance(v, int | float | bool | list | tuple | None) else str(v)
    return Finding(
        id=finding_id,
        severity=sev,
        title=_fill(entry["title"], fields),
        explanation=_fill(entry.get("explanation", ""), fields),
        evidence=tuple(evidence),
        fix=fixes,
        subject=subject,
        data=data,
    )


def exit_code_info(code: int) -> dict[str, str]:
    """What Exim's pipe transport says and does for an exit code (defaults: temp_errors 75:73)."""
    kbf = kb.load("forwarders")
    try:
        e = kbf.by_id(f"exit.{code}")
        return {
            "name": str(e.get("name", "")),
            "exim_text": str(e.get("exim_text", "")),
            "action": str(e.get("action", "bounced")),
            "meaning": str(e.get("meaning", "")),
        }
    except KeyError:
        if code > 128:
            return {
                "name": f"signal {code - 128}",
                "exim_text": f"(could mean shell command ended by signal {code - 128})",
                "action": "bounced",
                "meaning": f"A shell reported that the command was killed by signal {code - 128}.",
            }
        return {"name": "", "exim_text": "", "action": "bounced", "meaning": "An application-specific failure code."}
