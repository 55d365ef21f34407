"""Exim's spool read directly: `input/<id>-H` header files and the size of `<id>-D` data files.

Format (Exim spec, "Format of spool files"): line 1 `<id>-H`, line 2 `login uid gid`, line 3
`<sender>`, line 4 `time delay-warnings`, then `-option [value]` lines (an `-acl*` variable is
followed by its value of the stated length), the non-recipients tree (`XX` when empty, else
`YN address` nodes in preorder), the recipient count and the recipients, a blank line and the
headers, each prefixed with its length and a flag character. With split_spool_directory the files
live in `input/<6th character of the id>/`. Both id formats (16 and 23 characters) are handled.
Corrupt or half-written files (a message being received, a crash) are reported and skipped.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from maildoctor.queue.model import QueuedMessage, QueueRead

ID_RE = re.compile(r"^[0-9A-Za-z]{6}-(?:[0-9A-Za-z]{11}-[0-9A-Za-z]{4}|[0-9A-Za-z]{6}-[0-9A-Za-z]{2})$")
_HEADER_START = re.compile(rb"(\d{3,})(.) ")
_ACL = re.compile(r"^--?acl[cm]?\s+\S+\s+(\d+)$")
_SCRIPT_HEADERS = (b"x-php-script:", b"x-php-originating-script:")

# Where Exim keeps its spool on the systems maildoctor meets (cPanel/DirectAdmin, Debian/Ubuntu, RHEL).
SPOOL_CANDIDATES = ("var/spool/exim", "var/spool/exim4")


class SpoolFormatError(ValueError):
    """A header file that does not follow the spool format (the message says where)."""


def find_exim_spool(root: Path) -> Path | None:
    """The spool directory (the one holding input/) under a server root, or None."""
    for rel in SPOOL_CANDIDATES:
        cand = root / rel
        if (cand / "input").is_dir():
            return cand
    return None


def data_start_offset(message_id: str) -> int:
    """Bytes before the body in a -D file: the id, '-D' and a newline (Exim's SPOOL_DATA_START_OFFSET)."""
    return len(message_id) + 3


def parse_spool_header(data: bytes, source: str = "", data_size: int | None = None) -> QueuedMessage:
    """Parse one -H file. `data_size` is the -D file's size in bytes (for the message size)."""
    if not data.endswith(b"\n"):
        raise SpoolFormatError("truncated (no final newline): half-written or damaged")
    text_end = data.find(b"\n\n")
    if text_end < 0:
        raise SpoolFormatError("no blank line before the headers")
    lines = data[:text_end].decode("utf-8", "surrogateescape").split("\n")
    if len(lines) < 5:
        raise SpoolFormatError("too short")
    first = lines[0]
    if not first.endswith("-H") or not ID_RE.match(first[:-2]):
        raise SpoolFormatError(f"line 1 is not '<message-id>-H': {first[:60]!r}")
    message_id = first[:-2]
    login = lines[1].split(" ")[0] if lines[1] else None
    sender = lines[2].strip()
    if not (sender.startswith("<") and sender.endswith(">")):
        raise SpoolFormatError(f"line 3 is not '<sender>': {sender[:60]!r}")
    sender = sender[1:-1]
    try:
        arrival = float(lines[3].split(" ")[0])
    except (ValueError, IndexError) as exc:
        raise SpoolFormatError(f"line 4 is not 'time warnings': {lines[3][:60]!r}") from exc
    opts: dict[str, str] = {}
    i = 4
    while i < len(lines) and lines[i].startswith("-"):
        line = lines[i]
        m = _ACL.match(line)
        if m:
            # The value may itself span lines: skip its stated length.
            remaining = int(m.group(1))
            i += 1
            while i < len(lines) and remaining > len(lines[i]):
                remaining -= len(lines[i]) + 1
                i += 1
            i += 1
            continue
        # Exim 4.94+ writes tainted values with a second dash: "--auth_id user@dom".
        key, _, value = line.lstrip("-").partition(" ")
        opts[key] = value
        i += 1
    delivered, i = _read_tree(lines, i)
    if i >= len(lines) or not lines[i].strip().isdigit():
        raise SpoolFormatError("no recipient count after the non-recipients tree")
    count = int(lines[i])
    rcpt_lines = lines[i + 1 : i + 1 + count]
    if len(rcpt_lines) != count:
        raise SpoolFormatError(f"recipient count {count} but {len(rcpt_lines)} recipient lines")
    recipients = tuple(_recipient(r) for r in rcpt_lines)
    header_bytes, script = _scan_headers(data, text_end + 2)
    size = None
    if data_size is not None:
        size = header_bytes + max(0, data_size - data_start_offset(message_id)) + 1
    host = _strip_port(opts.get("host_address", ""))
    return QueuedMessage(
        message_id=message_id,
        sender=sender,
        recipients=recipients,
        pending=tuple(r for r in recipients if r not in delivered),
        arrival=arrival,
        size=size,
        frozen="frozen" in opts,
        auth_id=opts.get("auth_id") or None,
        host_address=host or None,
        local_user=(opts.get("ident") or login) if "host_address" not in opts else None,
        protocol=opts.get("received_protocol") or None,
        script=script,
        source=source,
    )


def _strip_port(value: str) -> str:
    """host_address is "[IP]:port" (Exim 4.95+) or "IP.port" (older: 127.0.0.1.43210, ::1.43210)."""
    if value.startswith("["):
        end = value.find("]")
        return value[1:end] if end > 0 else value
    head, dot, tail = value.rpartition(".")
    if dot and tail.isdigit() and (":" in head or head.count(".") == 3):
        return head
    return value


def _read_tree(lines: list[str], i: int) -> tuple[set[str], int]:
    """The non-recipients (already delivered) tree: 'XX' or preorder nodes 'LR address'."""
    if i >= len(lines):
        raise SpoolFormatError("ends before the non-recipients tree")
    if lines[i] == "XX":
        return set(), i + 1
    done: set[str] = set()
    pending = 1
    while pending:
        if i >= len(lines) or len(lines[i]) < 3 or lines[i][0] not in "YN" or lines[i][1] not in "YN":
            raise SpoolFormatError("damaged non-recipients tree")
        line = lines[i]
        done.add(line[3:])
        pending += (line[0] == "Y") + (line[1] == "Y") - 1
        i += 1
    return done, i


def _recipient(line: str) -> str:
    # DSN-era lines: "address errors_to len,pno orcpt len,flags#3"; plain lines are the address.
    if "#" in line and " " in line and line.rsplit("#", 1)[-1].isdigit():
        return line.split(" ", 1)[0]
    return line


def _scan_headers(data: bytes, pos: int) -> tuple[int, str | None]:
    """Total header length (as Exim counts it) and the PHP script a cPanel server names, if any."""
    total = 0
    script = None
    end = len(data)
    while pos < end:
        m = _HEADER_START.match(data, pos)
        if not m:
            break
        length = int(m.group(1))
        start = m.end()
        if m.group(2) != b"*":
            total += length
        if script is None:
            head = data[start : start + 40].lower()
            for name in _SCRIPT_HEADERS:
                if head.startswith(name):
                    value = data[start + len(name) : start + length].decode("utf-8", "replace").strip()
                    script = value.split(" for ", 1)[0].strip() or None
        pos = start + length
    return total, script


def iter_header_files(spool: Path) -> Iterator[Path]:
    """Every `*-H` file of input/ and of its split subdirectories (input/X/)."""
    base = spool / "input"
    try:
        entries = list(os.scandir(base))
    except OSError:
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False) and len(entry.name) == 1:
            try:
                sub = list(os.scandir(entry.path))
            except OSError:
                continue
            for e in sub:
                if e.name.endswith("-H"):
                    yield Path(e.path)
        elif entry.name.endswith("-H"):
            yield Path(entry.path)


def read_exim_spool(spool: Path) -> QueueRead:
    """Read every message of an Exim spool directory (the one that holds input/)."""
    messages: list[QueuedMessage] = []
    errors: list[str] = []
    if not (spool / "input").is_dir():
        return QueueRead((), (f"{spool}: no input/ directory (not an Exim spool)",), "exim-spool", str(spool))
    for hpath in iter_header_files(spool):
        try:
            data = hpath.read_bytes()
        except OSError as exc:
            if not hpath.exists():
                continue  # delivered and removed while we were reading
            errors.append(f"{hpath}: cannot read: {exc.strerror or exc}")
            continue
        dpath = hpath.with_name(hpath.name[:-2] + "-D")
        try:
            dsize: int | None = dpath.stat().st_size
        except OSError:
            dsize = None
        try:
            msg = parse_spool_header(data, str(hpath), dsize)
        except SpoolFormatError as exc:
            errors.append(f"{hpath}: skipped: {exc}")
            continue
        if msg.message_id != hpath.name[:-2]:
            errors.append(f"{hpath}: skipped: file name and id {msg.message_id} differ")
            continue
        if dsize is None:
            errors.append(f"{hpath}: data file {dpath.name} missing (message size unknown)")
        messages.append(msg)
    messages.sort(key=lambda m: (m.arrival or 0.0, m.message_id))
    return QueueRead(tuple(messages), tuple(errors), "exim-spool", str(spool))
