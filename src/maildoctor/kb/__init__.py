"""Knowledge as data: `kb/*.toml` files, validated when loaded.

Each file has an optional ``[meta]`` table and a list of ``[[entry]]`` tables. Every entry has a
unique ``id``. An entry that classifies text has ``pattern`` (or ``patterns``, a list; Python
regular expressions, matched case-insensitively) and ``samples``: every pattern must match at
least one sample and every sample must be matched, so a pattern that drifts fails at load time.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from maildoctor.errors import MaildoctorError

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")


class KbError(MaildoctorError):
    """A knowledge-base file is malformed; the message names the file and entry."""


@dataclass(frozen=True, slots=True)
class KbEntry:
    id: str
    data: Mapping[str, Any]
    patterns: tuple[re.Pattern[str], ...]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def search(self, text: str) -> re.Match[str] | None:
        """The first pattern match in text, or None."""
        for pat in self.patterns:
            m = pat.search(text)
            if m:
                return m
        return None


@dataclass(frozen=True, slots=True)
class KbFile:
    name: str
    meta: Mapping[str, Any]
    entries: tuple[KbEntry, ...]

    def __iter__(self) -> Iterator[KbEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def by_id(self, entry_id: str) -> KbEntry:
        for e in self.entries:
            if e.id == entry_id:
                return e
        raise KeyError(entry_id)

    def first_match(self, text: str) -> tuple[KbEntry, re.Match[str]] | None:
        """The first entry (in file order) whose pattern matches text."""
        for e in self.entries:
            m = e.search(text)
            if m:
                return e, m
        return None


def _compile(name: str, entry_id: str, raw: object) -> tuple[re.Pattern[str], ...]:
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for p in items:
        if not isinstance(p, str) or not p:
            raise KbError(f"kb/{name}.toml: entry {entry_id!r}: pattern must be a non-empty string")
        try:
            out.append(re.compile(p, re.IGNORECASE))
        except re.error as exc:
            raise KbError(f"kb/{name}.toml: entry {entry_id!r}: bad pattern {p!r}: {exc}") from exc
    return tuple(out)


def parse_kb(name: str, text: str) -> KbFile:
    """Validate and build a knowledge-base file from its TOML text."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise KbError(f"kb/{name}.toml: {exc}") from exc
    raw_entries = doc.get("entry")
    if not isinstance(raw_entries, list) or not raw_entries:
        raise KbError(f"kb/{name}.toml: no [[entry]] tables")
    seen: set[str] = set()
    entries = []
    for i, raw in enumerate(raw_entries, 1):
        entry_id = raw.get("id")
        if not isinstance(entry_id, str) or not _ID.match(entry_id):
            raise KbError(f"kb/{name}.toml: entry #{i} has no valid id")
        if entry_id in seen:
            raise KbError(f"kb/{name}.toml: duplicate id {entry_id!r}")
        seen.add(entry_id)
        patterns: tuple[re.Pattern[str], ...] = ()
        pat_raw = raw.get("patterns", raw.get("pattern"))
        if pat_raw is not None:
            patterns = _compile(name, entry_id, pat_raw)
            samples = raw.get("samples")
            if not isinstance(samples, list) or not samples or not all(isinstance(s, str) for s in samples):
                raise KbError(f"kb/{name}.toml: entry {entry_id!r} has patterns but no samples")
            for pat in patterns:
                if not any(pat.search(s) for s in samples):
                    raise KbError(f"kb/{name}.toml: entry {entry_id!r}: pattern {pat.pattern!r} matches no sample")
            for s in samples:
                if not any(p.search(s) for p in patterns):
                    raise KbError(f"kb/{name}.toml: entry {entry_id!r}: sample {s!r} matches no pattern")
        entries.append(KbEntry(entry_id, raw, patterns))
    meta = doc.get("meta", {})
    return KbFile(name, meta if isinstance(meta, dict) else {}, tuple(entries))


@cache
def load(name: str) -> KbFile:
    """Load and validate `kb/NAME.toml` from the package (cached)."""
    res = resources.files("maildoctor.kb").joinpath(f"{name}.toml")
    if not res.is_file():
        raise KbError(f"kb/{name}.toml: no such knowledge-base file")
    return parse_kb(name, res.read_text(encoding="utf-8"))


def available() -> list[str]:
    """Names of every knowledge-base file in the package."""
    root = resources.files("maildoctor.kb")
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml"))
