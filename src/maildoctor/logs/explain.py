"""Plain-words meaning of a delivery response or log diagnostic, from `kb/log_meanings.toml`."""

from __future__ import annotations

from maildoctor.kb import load


def explain_response(text: str) -> dict[str, str] | None:
    """{"id", "meaning", "action"} for the first knowledge-base entry matching text, else None."""
    found = load("log_meanings").first_match(text)
    if found is None:
        return None
    entry, _ = found
    return {"id": entry.id, "meaning": str(entry.get("meaning", "")), "action": str(entry.get("action", ""))}
