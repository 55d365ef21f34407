"""The text `exim -bp` (or `mailq` on an Exim server) prints, parsed back into queued messages.

Each message is a block: `AGE SIZE ID <sender> [(login)] [*** frozen ***]`, then one line per
recipient (`D ` marks a delivered one), then a blank line. Ages are `NNm`, `NNh` or `NNd` and
sizes `295`, `2.9K`, `12K`, `1.2M`, so the arrival time and size are approximate.
"""

from __future__ import annotations

import re

from maildoctor.queue.model import QueuedMessage, QueueRead

_ID = r"[0-9A-Za-z]{6}-(?:[0-9A-Za-z]{11}-[0-9A-Za-z]{4}|[0-9A-Za-z]{6}-[0-9A-Za-z]{2})"
_HEAD = re.compile(
    rf"^\s*(?P<age>\d+)(?P<unit>[smhd])\s+(?P<size>[\d.]+[KMG]?)\s+(?P<id>{_ID})"
    r"(?:\s+<(?P<sender>[^>]*)>)?(?:\s+\((?P<login>[^)]*)\))?(?P<frozen>\s+\*\*\* frozen \*\*\*)?\s*$"
)
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SIZE_UNIT = {"K": 1024, "M": 1024 * 1024, "G": 1024 * 1024 * 1024}


def parse_size(text: str) -> int:
    """`2.9K` -> 2969; Exim's string_format_size() uses powers of 1024."""
    mult = _SIZE_UNIT.get(text[-1:], 1)
    number = text[:-1] if mult != 1 else text
    return int(float(number) * mult)


def parse_exim_bp(text: str, now: float, source: str = "exim -bp") -> QueueRead:
    """Parse `exim -bp` output; `now` is when it was taken (ages are relative to it)."""
    messages: list[QueuedMessage] = []
    errors: list[str] = []
    head: re.Match[str] | None = None
    rcpts: list[str] = []
    done: set[str] = set()

    def flush() -> None:
        if head is None:
            return
        sender = head.group("sender")
        messages.append(
            QueuedMessage(
                message_id=head.group("id"),
                sender=sender or "",
                recipients=tuple(rcpts),
                pending=tuple(r for r in rcpts if r not in done),
                arrival=now - int(head.group("age")) * _UNIT[head.group("unit")],
                size=parse_size(head.group("size")),
                frozen=head.group("frozen") is not None,
                local_user=head.group("login"),
                source=source,
            )
        )

    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            flush()
            head, rcpts, done = None, [], set()
            continue
        m = _HEAD.match(line)
        if m:
            flush()
            head, rcpts, done = m, [], set()
            continue
        stripped = line.strip()
        if stripped.startswith("***"):
            errors.append(f"{source}:{n}: {stripped}")
            continue
        if head is None:
            errors.append(f"{source}:{n}: not an exim -bp line: {stripped[:80]!r}")
            continue
        flag, _, addr = stripped.partition(" ")
        if flag in ("D", "+D") and addr:
            rcpts.append(addr.strip())
            done.add(addr.strip())
        else:
            rcpts.append(stripped)
    flush()
    return QueueRead(tuple(messages), tuple(errors), "exim-bp", source)
