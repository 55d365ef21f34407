"""Registry of log formats: each format module registers a name, a cheap `sniff` and `parse_line`.

`sniff(lines)` gets the first few decoded lines of a file and returns a confidence (0 = not this
format). The reader asks every registered format and keeps the most confident one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from maildoctor.logs.events import LogEvent

ParseFn = Callable[..., LogEvent]  # (line: str, year: int | None = None) -> LogEvent
SniffFn = Callable[[Sequence[str]], float]


@dataclass(frozen=True, slots=True)
class LogFormat:
    name: str
    sniff: SniffFn
    parse_line: ParseFn


_FORMATS: dict[str, LogFormat] = {}


def register_format(name: str, sniff: SniffFn, parse_line: ParseFn) -> LogFormat:
    fmt = LogFormat(name, sniff, parse_line)
    _FORMATS[name] = fmt
    return fmt


def _load_builtin() -> None:
    # Importing the modules registers them; done lazily to avoid an import cycle.
    from maildoctor.logs import exim, postfix  # noqa: F401


def formats() -> list[LogFormat]:
    _load_builtin()  # idempotent; importing one format module alone must not hide the others
    return list(_FORMATS.values())


def get_format(name: str) -> LogFormat:
    _load_builtin()
    return _FORMATS[name]


def sniff_format(lines: Sequence[str]) -> LogFormat | None:
    """The most confident registered format for these sample lines, or None."""
    best: tuple[float, LogFormat] | None = None
    for fmt in formats():
        score = fmt.sniff(lines)
        if score > 0 and (best is None or score > best[0]):
            best = (score, fmt)
    return best[1] if best else None
