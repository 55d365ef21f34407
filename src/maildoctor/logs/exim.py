"""Exim main, reject and panic log lines -> LogEvent.

A line is `DATE TIME[.fff] [+ZONE] [[PID]] [MESSAGE-ID] BODY`; every part after the time depends
on log_selector, so each is optional. Fields are `KEY=value` (value quoted for T= and C=), `H=`
is `name (helo) [ip]:port` with each part optional, and the first token ending in `:` starts the
free-text diagnostic. Unknown fields go to `extra`, so no log_selector setting breaks the parser.
Both message-id formats are accepted: 16 characters (`1tA2bC-0004Xy-Ab`) and Exim 4.97+'s 23
(`1tA2bC-00000001AbC-0Xy1`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from maildoctor.logs.events import EventKind, LogEvent
from maildoctor.logs.formats import register_format

ID_PATTERN = r"[0-9A-Za-z]{6}-(?:[0-9A-Za-z]{11}-[0-9A-Za-z]{4}|[0-9A-Za-z]{6}-[0-9A-Za-z]{2})"
ID_RE = re.compile(rf"^{ID_PATTERN}$")
ID_SEARCH = re.compile(rf"(?<![0-9A-Za-z-]){ID_PATTERN}(?![0-9A-Za-z-])")

PREFIX = re.compile(
    r"^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?"
    r"(?: ([+-])(\d\d)(\d\d))?"
    r"(?: \[(\d+)(?::\d+)?\])?"
    rf"(?: ({ID_PATTERN}))?"
    r"(?: |$)"
)
# Exim lines forwarded through syslog: "host exim[pid]: 2021-07-17 23:20:49 ..." or
# "2016-04-01 11:08:00 info exim[8001]: [8001] ...".
# Exim logging to syslog: "Nov 27 10:00:00 mx1 exim[1234]: 1tA2bC-0004Xy-Ab <= ..."
_SYSLOG = re.compile(
    r"^((?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d:\d\d) (\S+) exim\[(\d+)\]: "
)
_BODY_ID = re.compile(rf"({ID_PATTERN}) ")
_SYSLOG_WRAP = re.compile(r"^(?:(\S+) )?(?:\w+ )?exim\[(\d+)\]: (?:\[\d+\] )?")

_FLAGS = {
    "<=": EventKind.ARRIVAL,
    "=>": EventKind.DELIVERY,
    "->": EventKind.ADDITIONAL,
    ">>": EventKind.CUTTHROUGH,
    "*>": EventKind.SUPPRESSED,
    "==": EventKind.DEFERRAL,
    "**": EventKind.FAILURE,
}

_H = re.compile(
    r"(?:(?P<name>[^\s\[\]()]+)(?: |$))?(?:\((?P<helo>[^)]*)\)(?: |$))?"
    r"(?:\[(?P<ip>[0-9A-Fa-f:.]+)\](?::(?P<port>\w+))?)?"
)
_TOKEN = re.compile(r'([A-Za-z][A-Za-z0-9_-]*)=("(?:[^"\\]|\\.)*"|\S*)|(\((?:[^()]|\([^()]*\))*\)\S*)|(\S+)')
_CODE = re.compile(r"(?:^|: |\\n|\s)([245]\d\d)(?:[ -]([245]\.\d{1,3}\.\d{1,3}))?(?=[ -]|$)")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([wdhms])")
_DUR_UNITS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_BRACKET_IP = re.compile(r"\[([0-9A-Fa-f:.]*[.:][0-9A-Fa-f:.]*)\](?::(\d+))?")
_BARE_IP = re.compile(r"\bIP address ((?:\d{1,3}\.){3}\d{1,3}|[0-9a-fA-F:]*:[0-9a-fA-F:]+)\b")
_REJECTED = re.compile(r"\brejected (RCPT|MAIL|after DATA|DATA|EHLO|HELO|connection|VRFY|EXPN|\"[^\"]*\")")
_ANGLE = re.compile(r"<([^<>]*)>")
_CONT = re.compile(r"^(?:\s|Envelope-(?:from|to):|[A-Z*]? ?[\w-]+: |[A-Z][\w-]*:\s|\S+$)")
_RETRY_NOT_REACHED = re.compile(r"retry time not (?:yet )?reached", re.IGNORECASE)
_RETRY_TIMEOUT = re.compile(r"retry timeout exceeded", re.IGNORECASE)


def parse_duration(text: str) -> float | None:
    """Exim's QT=/DT= values: `3s`, `1m2s`, `0.125s`, `2d3h`."""
    total = 0.0
    found = False
    for num, unit in _DURATION.findall(text):
        total += float(num) * _DUR_UNITS[unit]
        found = True
    return total if found else None


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        value = value[1:-1]
        if "\\" in value:
            value = value.replace('\\"', '"').replace("\\\\", "\\")
    return value


def _time(m: re.Match[str]) -> dt.datetime:
    frac = m.group(7)
    micro = int(frac.ljust(6, "0")) if frac else 0
    tz = None
    if m.group(8):
        offset = dt.timedelta(hours=int(m.group(9)), minutes=int(m.group(10)))
        tz = dt.timezone(-offset if m.group(8) == "-" else offset)
    return dt.datetime(
        int(m.group(1)), int(m.group(2)), int(m.group(3)),
        int(m.group(4)), int(m.group(5)), int(m.group(6)), micro, tz,
    )


def is_message_id(text: str) -> bool:
    return ID_RE.match(text) is not None


def parse_line(line: str, year: int | None = None, source: str = "", line_no: int = 0) -> LogEvent:
    """Parse one Exim log line (main, reject or panic log); never raises. `year` is unused (Exim logs it);
    `source` and `line_no` are stored in the event (cheaper than copying it afterwards)."""
    line = line.rstrip("\r\n")
    m = PREFIX.match(line)
    host = None
    if m is None:
        sl = _SYSLOG.match(line)
        if sl is not None:
            return _parse_syslog(line, sl, year, source, line_no)
        w = _SYSLOG_WRAP.match(line)
        if w is not None:
            inner = parse_line(line[w.end():], None, source, line_no)
            if inner.kind is not EventKind.UNKNOWN and inner.kind is not EventKind.CONTINUATION:
                return _replace(inner, raw=line, host=w.group(1), pid=int(w.group(2)))
        if line and _CONT.match(line):
            return LogEvent(EventKind.CONTINUATION, line, source, line_no, format="exim")
        return LogEvent(EventKind.UNKNOWN, line, source, line_no, format="exim")
    body = line[m.end():]
    w = _SYSLOG_WRAP.match(body)
    pid = int(m.group(11)) if m.group(11) else None
    if w is not None:
        host, pid, body = w.group(1), int(w.group(2)), body[w.end():]
    f: dict[str, object] = {"time": _time(m), "pid": pid, "host": host, "message_id": m.group(12)}
    extra: dict[str, str] = {}
    kind = _classify(body, f, extra)
    return LogEvent(kind, line, source, line_no, format="exim", program="exim", extra=extra, **f)  # type: ignore[arg-type]


def _parse_syslog(line: str, sl: re.Match[str], year: int | None, source: str, line_no: int) -> LogEvent:
    """Exim logging to syslog (log_file_path = syslog): `Mmm dd hh:mm:ss host exim[pid]: [ID] BODY`,
    the date from syslog (no year: as for Postfix) unless Exim added its own (syslog_timestamp)."""
    from maildoctor.logs.postfix import syslog_time

    rest = line[sl.end():]
    host, pid = sl.group(2), int(sl.group(3))
    if PREFIX.match(rest):
        inner = parse_line(rest, None, source, line_no)
        return _replace(inner, raw=line, host=host, pid=pid)
    idm = _BODY_ID.match(rest)
    f: dict[str, object] = {"time": syslog_time(sl.group(1), year), "pid": pid, "host": host,
                            "message_id": idm.group(1) if idm else None}
    extra: dict[str, str] = {}
    kind = _classify(rest[idm.end():] if idm else rest, f, extra)
    return LogEvent(kind, line, source, line_no, format="exim", program="exim", extra=extra, **f)  # type: ignore[arg-type]


def _replace(ev: LogEvent, **changes: object) -> LogEvent:
    import dataclasses

    return dataclasses.replace(ev, **changes)  # type: ignore[arg-type]


def _classify(body: str, f: dict[str, object], extra: dict[str, str]) -> EventKind:
    flag = body[:3]
    kind = _FLAGS.get(flag[:2]) if flag[2:3] == " " else None
    if kind is not None:
        _parse_fields(body[3:], f, extra, kind)
        diag = f.get("diagnostic")
        if kind is EventKind.DEFERRAL and isinstance(diag, str) and _RETRY_NOT_REACHED.search(diag):
            return EventKind.RETRY_NOT_REACHED
        if kind is EventKind.FAILURE and isinstance(diag, str) and _RETRY_TIMEOUT.search(diag):
            extra["retry_timeout"] = "yes"
        return kind
    if body.startswith("Completed"):
        if len(body) > 9:
            _parse_fields(body[9:], f, extra, EventKind.COMPLETED)
        return EventKind.COMPLETED
    if body.startswith("cwd="):
        return _local_submission(body, f, extra)
    low = body.lower()
    if body.startswith(("Frozen", "Message is frozen", "frozen")):
        f["diagnostic"] = body
        return EventKind.FROZEN
    if body.startswith("Unfrozen"):
        f["diagnostic"] = body
        return EventKind.UNFROZEN
    if _RETRY_NOT_REACHED.search(body) and "rejected" not in low:
        if f.get("message_id") and not body.lower().startswith("retry"):
            _parse_fields(body, f, extra, EventKind.DEFERRAL)  # "ADDR R=... T=...: retry time not reached"
        f.setdefault("diagnostic", body)
        return EventKind.RETRY_NOT_REACHED
    if _RETRY_TIMEOUT.search(body):
        f["diagnostic"] = body
        return EventKind.RETRY_TIMEOUT
    if f.get("message_id") and "SMTP error from remote" in body:
        _parse_fields(body, f, extra, EventKind.REMOTE_ERROR)
        return EventKind.REMOTE_ERROR
    kind = _session_kind(body, low)
    if kind is not None:
        _parse_fields(body, f, extra, kind)
        if f.get("remote_ip") is None:
            b = _BRACKET_IP.search(body)
            if b is not None:
                f["remote_ip"] = b.group(1)
                if b.group(2):
                    f["remote_port"] = int(b.group(2))
        r = _REJECTED.search(body)
        if r is not None:
            a = _ANGLE.search(body, r.end())
            if r.group(1) == "RCPT":
                rcpt = a.group(1) if a else body[r.end():].split(":")[0].strip()
                f["recipient"] = rcpt or None
            elif r.group(1) == "MAIL" and a:
                f["sender"] = a.group(1)
            d = body.find(": ", r.end())
            if d >= 0:
                f["diagnostic"] = body[d + 2:]
        return kind
    # Anything else with a valid prefix: ACL logwrite text, DKIM/TLS notes, daemon messages...
    if "Warning:" in body or low.startswith("warning"):
        _parse_fields(body, f, extra, EventKind.WARNING)
        return EventKind.WARNING
    f["diagnostic"] = body or None
    b = _BRACKET_IP.search(body) or _BARE_IP.search(body)
    if b is not None:
        f["remote_ip"] = b.group(1)
    return EventKind.OTHER


def _session_kind(body: str, low: str) -> EventKind | None:
    if "authenticator failed" in low:
        return EventKind.AUTH_FAILURE
    if "tls error" in low or ("tls session" in low and "fail" in low):
        return EventKind.TLS_ERROR
    if "rejected" in low or "refused" in low:
        r = _REJECTED.search(body)
        which = r.group(1) if r else ""
        if which == "RCPT":
            return EventKind.REJECT_RCPT
        if which == "MAIL":
            return EventKind.REJECT_MAIL
        if which in ("DATA", "after DATA"):
            return EventKind.REJECT_DATA
        if which in ("EHLO", "HELO"):
            return EventKind.REJECT_HELO
        if which == "connection" or ("connection" in low and "refused" in low):
            return EventKind.REJECT_CONNECTION
        return EventKind.REJECT
    if low.startswith("no mail in smtp connection") or "no mail in smtp" in low:
        return EventKind.NO_MAIL
    if "smtp connection from" in low or "smtp call from" in low:
        if "lost" in low or "timed out" in low or "dropped" in low or "timeout" in low:
            return EventKind.LOST
        if "closed" in low:
            return EventKind.DISCONNECT
        return EventKind.CONNECT
    if low.startswith(("unexpected disconnection", "smtp command timeout", "smtp data timeout")):
        return EventKind.LOST
    if low.startswith(("smtp protocol", "smtp syntax error", "smtp call from")):
        return EventKind.REJECT
    if low.startswith(("start queue run", "end queue run")):
        return EventKind.QUEUE_RUN
    if (low.startswith("exim ") and "daemon" in low) or (low.startswith("pid ") and "daemon" in low):
        return EventKind.DAEMON
    if body.startswith("H=") or " F=<" in body:
        return EventKind.OTHER
    return None


def _local_submission(body: str, f: dict[str, object], extra: dict[str, str]) -> EventKind:
    # cwd=/home/shop/public_html/wp-content 3 args: /usr/sbin/sendmail -t -i
    head, _, args = body.partition(" args: ")
    cwd = head[4:].rsplit(" ", 1)[0] if " " in head else head[4:]
    f["script_path"] = cwd
    if args:
        extra["args"] = args
    return EventKind.LOCAL_SUBMISSION


def _set_host(value_and_rest: str, f: dict[str, object], extra: dict[str, str], key: str) -> int:
    """Parse `H=` (or `I=`) text starting right after `=`; return how many characters it used."""
    m = _H.match(value_and_rest)
    if m is None or m.end() == 0:
        return 0
    if key == "I":
        if m.group("ip"):
            extra["interface"] = m.group("ip") + (f":{m.group('port')}" if m.group("port") else "")
            extra["interface_ip"] = m.group("ip")  # alone: "ip:port" is ambiguous for IPv6
        return m.end()
    if m.group("name"):
        f["remote_host"] = m.group("name")
    if m.group("helo") is not None:
        f["helo"] = m.group("helo")
    if m.group("ip"):
        f["remote_ip"] = m.group("ip")
        port = m.group("port")
        if port and port.isdigit():
            f["remote_port"] = int(port)
    end = m.end()
    return end


def _parse_fields(text: str, f: dict[str, object], extra: dict[str, str], kind: EventKind) -> None:
    pos = 0
    n = len(text)
    first_address = kind in (
        EventKind.ARRIVAL, EventKind.DELIVERY, EventKind.ADDITIONAL, EventKind.CUTTHROUGH,
        EventKind.SUPPRESSED, EventKind.DEFERRAL, EventKind.FAILURE,
    )
    recipients: list[str] | None = None
    while pos < n:
        while pos < n and text[pos] == " ":
            pos += 1
        if pos >= n:
            break
        if recipients is not None:
            recipients.extend(text[pos:].split())
            break
        if text.startswith(("H=", "I="), pos) and kind is not EventKind.COMPLETED:
            used = _set_host(text[pos + 2:], f, extra, text[pos])
            if used:
                pos += 2 + used
                if text.startswith(": ", pos) or (text.startswith(":", pos) and pos + 1 == n):
                    f["diagnostic"] = text[pos + 2:]
                    break
                continue
        m = _TOKEN.match(text, pos)
        if m is None:  # pragma: no cover - the pattern matches any non-space run
            break
        pos = m.end()
        key, value, paren, bare = m.group(1), m.group(2), m.group(3), m.group(4)
        if key is not None:
            colon_end = value.endswith(":") and not value.startswith('"')
            if colon_end:
                value = value[:-1]
            _set_field(key, _unquote(value), f, extra, kind)
            if colon_end:
                f["diagnostic"] = text[pos:].lstrip(" ") or None
                break
            continue
        tok = paren if paren is not None else bare
        if tok == ":" or (tok.endswith(":") and (pos >= n or text[pos] == " ")):
            word = tok[:-1]
            if word and first_address:
                f["sender" if kind is EventKind.ARRIVAL else "recipient"] = word
            elif word:
                _bare(word, f, extra, kind, False)
            f["diagnostic"] = text[pos:].lstrip(" ") or None
            break
        if first_address:
            first_address = False
            if kind is EventKind.ARRIVAL:
                f["sender"] = "" if tok == "<>" else tok
            else:
                f["recipient"] = tok
            continue
        if bare == "for" and kind is EventKind.ARRIVAL:
            recipients = []
            continue
        _bare(tok, f, extra, kind, False)
    if recipients:
        extra["recipients"] = " ".join(recipients)
        f.setdefault("recipient", recipients[0])
    diag = f.get("diagnostic")
    if isinstance(diag, str) and f.get("remote_ip") is None and " H=" in diag:
        # connection errors put the host last: "defer (110): Connection timed out H=mx.example [192.0.2.1]"
        cut = diag.rfind(" H=")
        if _set_host(diag[cut + 3:], f, extra, "H") and f.get("remote_ip"):
            f["diagnostic"] = diag = diag[:cut]
    if isinstance(diag, str):
        c = _CODE.search(diag)
        if c is not None:
            f["smtp_code"] = int(c.group(1))
            if c.group(2):
                f["enhanced_status"] = c.group(2)


def _bare(tok: str, f: dict[str, object], extra: dict[str, str], kind: EventKind, first: bool) -> None:
    if tok.startswith("<") and tok.endswith(">"):
        if kind is EventKind.ARRIVAL:
            extra["from"] = tok[1:-1]
        elif f.get("recipient") is not None and f.get("original_recipient") is None:
            f["original_recipient"] = tok[1:-1]
        else:
            extra.setdefault("address", tok[1:-1])
    elif tok.startswith("(") and tok.endswith(")"):
        inner = tok[1:-1]
        if kind in (EventKind.DEFERRAL, EventKind.FAILURE) and inner.lstrip("-").isdigit():
            extra["errno"] = inner
        elif f.get("recipient") is not None and "parent" not in extra:
            extra["parent"] = inner
        else:
            extra.setdefault("note", inner)
    elif tok.startswith("[") and (b := _BRACKET_IP.fullmatch(tok.rstrip(":"))) is not None:
        f["remote_ip"] = b.group(1)
        if b.group(2):
            f["remote_port"] = int(b.group(2))
    elif tok in ("defer", "routing", "K", "PRDR", "CHUNKING", "*"):
        extra[tok] = "yes"
    else:
        prev = extra.get("words")
        extra["words"] = f"{prev} {tok}" if prev else tok


def _set_field(key: str, value: str, f: dict[str, object], extra: dict[str, str], kind: EventKind) -> None:
    message_line = kind is not EventKind.ARRIVAL
    if key == "U":
        f["local_user"] = value
    elif key == "P":
        if kind is EventKind.ARRIVAL:
            f["protocol"] = value
        else:
            extra["return_path"] = value.strip("<>")
    elif key == "A":
        method, sep, user = value.partition(":")
        f["auth_id"] = user if sep else value
        extra["auth"] = value
        if sep:
            extra["auth_method"] = method
    elif key == "S":
        if value.isdigit():
            f["size"] = int(value)
        else:
            extra["S"] = value
    elif key == "id":
        f["header_message_id"] = value.strip("<>")
    elif key == "T":
        if message_line:
            f["transport"] = value
        else:
            f["subject"] = value
    elif key == "R":
        if kind is EventKind.ARRIVAL:
            f["parent_id"] = value
        else:
            f["router"] = value
    elif key == "F":
        f["sender"] = value.strip("<>")
    elif key == "X":
        f["tls"] = value
    elif key == "QT":
        f["queue_seconds"] = parse_duration(value)
        extra["QT"] = value
    elif key == "DT":
        f["delivery_seconds"] = parse_duration(value)
        extra["DT"] = value
    elif key == "C":
        if kind is EventKind.COMPLETED or kind in (EventKind.NO_MAIL, EventKind.LOST, EventKind.CONNECT):
            extra["C"] = value
        else:
            f["confirmation"] = value
            c = _CODE.search(value)
            if c is not None:
                f["smtp_code"] = int(c.group(1))
                if c.group(2):
                    f["enhanced_status"] = c.group(2)
    else:
        extra[key] = value


def sniff(lines: Sequence[str]) -> float:
    good = total = 0
    for line in lines:
        if not line.strip():
            continue
        total += 1
        if PREFIX.match(line) or _SYSLOG_WRAP.match(line) or _SYSLOG.match(line):
            good += 1
    return good / total if total else 0.0


FORMAT = register_format("exim", sniff, parse_line)

