"""What the server's own main log says about a bounced message (Exim), by queue id and address.

The returned message carries its queue id in the first Received header ("id 1xXEOL-00060F-2T");
the log's `**` (failed) and `==` (deferred) lines for that id and address say what our server
did: the pipe's exit status, "return message generated", the deferral reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

MAX_SCAN = 256 * 1024 * 1024  # read at most the last 256 MB of a log
LOGS = ("var/log/exim_mainlog", "var/log/exim4/mainlog")
_QUEUE_ID = re.compile(r"\bid\s+([0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4})\b")


@dataclass(frozen=True, slots=True)
class LogLine:
    file: str
    line: int  # 1-based; counted from the start of what was read when the file was cut
    text: str
    flag: str  # "**", "==", "=>", "->", "<=" or ""


def parse_queue_id(original_headers: str) -> str:
    """The Exim queue id of the returned message (its first Received header), or ""."""
    m = _QUEUE_ID.search(original_headers[:4000])
    return m.group(1) if m else ""


def read_log_lines(root: Path, queue_id: str) -> list[LogLine]:
    """Every main-log line of one message, in order (empty when there is no log)."""
    if not queue_id:
        return []
    needle = queue_id.encode()
    out: list[LogLine] = []
    for rel in LOGS:
        path = root / rel
        try:
            size = path.stat().st_size
            with path.open("rb") as fh:
                if size > MAX_SCAN:
                    fh.seek(size - MAX_SCAN)
                    fh.readline()
                for no, raw in enumerate(fh, 1):
                    if needle in raw:
                        text = raw.decode("utf-8", errors="replace").rstrip("\n")
                        fm = re.search(r" (\*\*|==|=>|->|<=) ", text)
                        out.append(LogLine("/" + rel, no, text, fm.group(1) if fm else ""))
        except OSError:
            continue
    return out


def lines_for(lines: list[LogLine], address: str, flags: tuple[str, ...]) -> list[LogLine]:
    a = address.lower()
    return [ln for ln in lines if ln.flag in flags and a in ln.text.lower()]
