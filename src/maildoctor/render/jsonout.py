"""The single JSON encoder: every command's document goes through `render_json`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import ipaddress
import json
from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import Any

from maildoctor.model import Finding

SCHEMA_VERSION = "1"


def to_jsonable(value: Any) -> Any:
    """Turn dataclasses, enums, dates, paths and IP addresses into plain JSON values."""
    t = type(value)
    if t is str or t is int or value is None or t is bool or t is float:  # exact types first: the common case
        return value
    if t is dict:
        return {k if type(k) is str else str(k): to_jsonable(v) for k, v in value.items()}
    if t is list:
        return [to_jsonable(v) for v in value]
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (PurePath, ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(value)
    if isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (Sequence, set, frozenset)):
        return [to_jsonable(v) for v in value]
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def build_document(command: str, findings: Sequence[Finding], data: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The output contract: schema_version, command, findings, then the command's own data."""
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "command": command,
        "findings": [to_jsonable(f) for f in findings],
    }
    for key, value in (data or {}).items():
        doc[key] = to_jsonable(value)
    return doc


def render_json(
    command: str, findings: Sequence[Finding], data: Mapping[str, Any] | None = None, pretty: bool = True
) -> str:
    """The document as text; `pretty=False` is one line, from json's C encoder (several times faster on big
    documents, which matters when a program reads the output)."""
    doc = build_document(command, findings, data)
    if pretty:
        return json.dumps(doc, indent=2, ensure_ascii=False)
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
