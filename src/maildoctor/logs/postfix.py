"""Postfix syslog lines -> LogEvent.

Syslog prefix: classic `Mmm dd hh:mm:ss host prog[pid]: ` (no year: the caller may pass one,
otherwise the most recent past date is assumed) or RFC 3339 `2026-11-27T10:00:00.123+01:00 host
prog[pid]: `. The message after it is `QUEUEID: key=value, ...` for message lines (short hex or
long queue ids) or free text for session lines. Every key=value pair is kept in `extra`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Sequence

from maildoctor.logs.events import EventKind, LogEvent
from maildoctor.logs.formats import register_format

_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, 1)}
_CLASSIC = re.compile(
    r"^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ( ?\d|\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))? "
    r"(\S+) ([\w./-]+?)(?:\[(\d+)\])?: "
)
_RFC3339 = re.compile(
    r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:?\d\d)? "
    r"(\S+) ([\w./-]+?)(?:\[(\d+)\])?: "
)
QUEUE_ID_PATTERN = r"(?:[0-9A-F]{6,14}|[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{8,20})"
_QID = re.compile(rf"^({QUEUE_ID_PATTERN}|NOQUEUE): ")
_BARE_IP = re.compile(r"\baddress ((?:\d{1,3}\.){3}\d{1,3}|[0-9a-fA-F:]*:[0-9a-fA-F:]+)\b")
_KV = re.compile(r"(?:^|, |\s)([a-z][\w-]*)=(<[^>]*>|[^,\s]*)")
_HOSTIP = re.compile(r"([^\s\[\],=]*)\[([0-9A-Fa-f:.]+)\](?::(\d+))?")
_CODE = re.compile(r"(?:^|\s|said: )([245]\d\d)(?:[ -]([245]\.\d{1,3}\.\d{1,3}))?(?=[ -]|$)")
_EMBEDDED_QID = re.compile(rf" ({QUEUE_ID_PATTERN}): ")
_REJECT = re.compile(r"^(?:milter-)?reject: (\S+) from ")


def is_queue_id(text: str) -> bool:
    """Short ids are upper-case hex; long ids mix case and always contain a digit and a 'z'."""
    if re.fullmatch(r"[0-9A-F]{6,14}", text):
        return True
    return bool(re.fullmatch(r"[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10,20}", text)) and "z" in text and any(
        c.isdigit() for c in text
    )


def _year_for(month: int, day: int, year: int | None) -> int:
    if year is not None:
        return year
    now = dt.datetime.now()
    # A syslog date in the future belongs to last year (logs read in January show December).
    return now.year - 1 if (month, day) > (now.month, now.day + 1) else now.year


def parse_line(line: str, year: int | None = None, source: str = "", line_no: int = 0) -> LogEvent:
    """Parse one Postfix syslog line; never raises. Non-Postfix syslog lines come back OTHER."""
    line = line.rstrip("\r\n")
    m = _CLASSIC.match(line)
    if m is not None:
        month = _MONTHS[m.group(1)]
        day = int(m.group(2))
        frac = m.group(6)
        try:
            t: dt.datetime | None = dt.datetime(
                _year_for(month, day, year), month, day, int(m.group(3)), int(m.group(4)), int(m.group(5)),
                int(frac.ljust(6, "0")) if frac else 0,
            )
        except ValueError:
            t = None
        host, prog, pid = m.group(7), m.group(8), m.group(9)
    else:
        m = _RFC3339.match(line)
        if m is None:
            return LogEvent(EventKind.UNKNOWN, line, source, line_no, format="postfix")
        t = _rfc3339(m)
        host, prog, pid = m.group(9), m.group(10), m.group(11)
    base = {"raw": line, "source": source, "line_no": line_no, "time": t, "host": host,
            "pid": int(pid) if pid else None}
    return parse_message(prog, line[m.end():], base)


def syslog_time(text: str, year: int | None = None) -> dt.datetime | None:
    """`Nov 27 10:00:00` (classic syslog, no year) as a datetime; None if it is not a valid date."""
    try:
        month = _MONTHS[text[:3]]
        day = int(text[4:6])
        return dt.datetime(_year_for(month, day, year), month, day, int(text[7:9]), int(text[10:12]), int(text[13:15]))
    except (KeyError, ValueError):
        return None


def _rfc3339(m: re.Match[str]) -> dt.datetime | None:
    frac = (m.group(7) or "")[:6]
    tz = None
    z = m.group(8)
    if z:
        if z == "Z":
            tz = dt.UTC
        else:
            sign = -1 if z[0] == "-" else 1
            digits = z[1:].replace(":", "")
            tz = dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    try:
        return dt.datetime(
            int(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5)), int(m.group(6)),
            int(frac.ljust(6, "0")) if frac else 0, tz,
        )
    except ValueError:
        return None


def parse_message(program: str, text: str, base: dict[str, object] | None = None) -> LogEvent:
    """Parse the message part of a Postfix log line (after `prog[pid]: `); `base` holds the prefix fields."""
    f: dict[str, object] = {"program": program, "raw": text, **(base or {})}
    extra: dict[str, str] = {}
    daemon = program.rsplit("/", 1)[-1]
    is_postfix = program.startswith("postfix") or "/" in program
    q = _QID.match(text)
    if q is None and text.startswith("warning: "):
        q2 = _QID.match(text[9:])
        if q2 is not None and is_queue_id(q2.group(1)):
            f["message_id"] = q2.group(1)
            f["diagnostic"] = text[9 + q2.end():]
            return _event(EventKind.WARNING, text, f, extra)
    if q is not None and (is_queue_id(q.group(1)) or q.group(1) == "NOQUEUE"):
        if q.group(1) != "NOQUEUE":
            f["message_id"] = q.group(1)
        body = text[q.end():]
    else:
        body = text
    for k, v in _KV.findall(body):
        extra.setdefault(k, v.strip("<>") if v.startswith("<") else v)
    st = body.find("status=")
    if st >= 0:
        extra["status"] = body[st + 7:]
    kind = _classify(daemon, body, f, extra) if is_postfix or f.get("message_id") else EventKind.OTHER
    if not is_postfix and kind is EventKind.OTHER:
        f["diagnostic"] = body
    return _event(kind, text, f, extra)


def _event(kind: EventKind, text: str, f: dict[str, object], extra: dict[str, str]) -> LogEvent:
    return LogEvent(kind=kind, format="postfix", extra=extra, **f)  # type: ignore[arg-type]


def _hostip(text: str, f: dict[str, object]) -> None:
    h = _HOSTIP.search(text)
    if h is not None:
        if h.group(1):
            f["remote_host"] = h.group(1)
        f["remote_ip"] = h.group(2)
        if h.group(3):
            f["remote_port"] = int(h.group(3))


def _code(text: str, f: dict[str, object]) -> None:
    c = _CODE.search(text)
    if c is not None:
        f["smtp_code"] = int(c.group(1))
        if c.group(2):
            f["enhanced_status"] = c.group(2)


def _classify(daemon: str, body: str, f: dict[str, object], extra: dict[str, str]) -> EventKind:
    status = extra.get("status")
    if "to" in extra and status is not None:
        f["recipient"] = extra["to"]
        if "orig_to" in extra:
            f["original_recipient"] = extra["orig_to"]
        relay = extra.get("relay", "")
        _hostip(relay, f)
        if relay and "[" not in relay:
            f["remote_host"] = relay
        f["delays"] = extra.get("delays")
        if extra.get("delay"):
            with contextlib.suppress(ValueError):
                f["queue_seconds"] = float(extra["delay"])
        word, _, rest = status.partition(" ")
        diag = rest[1:-1] if rest.startswith("(") and rest.endswith(")") else rest
        f["diagnostic"] = diag or None
        _code(diag, f)
        if extra.get("dsn"):
            f["enhanced_status"] = extra["dsn"]
        fw = re.search(r"forwarded as (\S+?)\)?$", status)
        if fw:
            extra["forwarded_as"] = fw.group(1)
        return {
            "sent": EventKind.DELIVERY, "deferred": EventKind.DEFERRAL, "bounced": EventKind.FAILURE,
            "expired": EventKind.FAILURE, "undeliverable": EventKind.FAILURE, "deliverable": EventKind.OTHER,
        }.get(word.rstrip(","), EventKind.OTHER)
    if "from" in extra and status is not None and status.startswith("expired"):
        f["sender"] = extra["from"]
        f["diagnostic"] = status
        return EventKind.FAILURE
    if "from" in extra and "nrcpt" in extra:
        f["sender"] = extra["from"]
        if extra.get("size", "").isdigit():
            f["size"] = int(extra["size"])
        if extra["nrcpt"].isdigit():
            f["nrcpt"] = int(extra["nrcpt"])
        return EventKind.ARRIVAL
    if "uid" in extra and "from" in extra:
        f["sender"] = extra["from"]
        f["local_user"] = extra["uid"]
        return EventKind.LOCAL_SUBMISSION
    if body.startswith("client="):
        _hostip(body, f)
        if "sasl_username" in extra:
            f["auth_id"] = extra["sasl_username"]
        return EventKind.MESSAGE_INFO
    if body.startswith(("message-id=", "resent-message-id=")):
        key = body.split("=", 1)[0]
        f["header_message_id"] = extra.get(key) or None
        return EventKind.MESSAGE_INFO
    if "notification: " in body:
        bid = body.rsplit(": ", 1)[1].strip()
        extra["bounce_id"] = bid
        f["parent_id"] = bid
        return EventKind.MESSAGE_INFO
    if body == "removed" or body.startswith("removed"):
        return EventKind.COMPLETED
    r = _REJECT.match(body)
    if r is not None:
        _hostip(body[r.end():], f)
        _code(body[r.end():], f)
        if "from" in extra:
            f["sender"] = extra["from"]
        if "to" in extra:
            f["recipient"] = extra["to"]
        if "helo" in extra:
            f["helo"] = extra["helo"]
        d = body.find(": ", r.end())
        f["diagnostic"] = body[d + 2:] if d >= 0 else None
        stage = r.group(1)
        return {
            "RCPT": EventKind.REJECT_RCPT, "MAIL": EventKind.REJECT_MAIL, "CONNECT": EventKind.REJECT_CONNECTION,
            "HELO": EventKind.REJECT_HELO, "EHLO": EventKind.REJECT_HELO, "DATA": EventKind.REJECT_DATA,
            "BDAT": EventKind.REJECT_DATA, "END-OF-MESSAGE": EventKind.REJECT_DATA,
        }.get(stage, EventKind.REJECT)
    if body.startswith(("host ", "conversation with ", "lost connection with ", "connect to ")) and (
        f.get("message_id") or body.startswith("connect to ")
    ):
        _hostip(body, f)
        f["diagnostic"] = body
        _code(body, f)
        err = re.search(r"\]:\d+: (.*)$", body)
        if err is not None:
            extra["error"] = err.group(1)
        return EventKind.REMOTE_ERROR
    low = body.lower()
    if "authentication failed" in low:
        _hostip(body, f)
        if "sasl_username" in extra:
            f["auth_id"] = extra["sasl_username"]
        f["diagnostic"] = body
        return EventKind.AUTH_FAILURE
    if "tls library problem" in low or "ssl_accept error" in low or "ssl_connect error" in low or (
        "tls" in low and "handshake" in low and "fail" in low
    ):
        _hostip(body, f)
        f["diagnostic"] = body
        return EventKind.TLS_ERROR
    if daemon == "postscreen":
        return _postscreen(body, f)
    if body.startswith(("connect from ", "CONNECT from ")):
        _hostip(body, f)
        return EventKind.CONNECT
    if body.startswith("disconnect from "):
        _hostip(body, f)
        return EventKind.DISCONNECT
    if body.startswith(("lost connection after ", "timeout after ")):
        _hostip(body, f)
        return EventKind.LOST
    if body.startswith(("too many errors after ", "improper command pipelining", "warning: Connection rate limit")):
        _hostip(body, f)
        return EventKind.REJECT_CONNECTION if "rate limit" in body else EventKind.REJECT
    if body.startswith(("fatal:", "panic:")):
        f["diagnostic"] = body
        q = _EMBEDDED_QID.search(body)
        if q is not None and is_queue_id(q.group(1)) and not f.get("message_id"):
            f["message_id"] = q.group(1)
        return EventKind.PANIC
    if body.startswith("warning:"):
        _hostip(body, f)
        if f.get("remote_ip") is None and (b := _BARE_IP.search(body)) is not None:
            f["remote_ip"] = b.group(1)
        f["diagnostic"] = body[9:]
        return EventKind.WARNING
    if daemon in ("master", "postfix-script", "postfix") or body.startswith("daemon started"):
        return EventKind.DAEMON
    if body.startswith(("hold:", "discard:", "filter:", "redirect:", "info:", "replace:")):
        _hostip(body, f)
        f["diagnostic"] = body
        return EventKind.MESSAGE_INFO
    f["diagnostic"] = body
    return EventKind.MESSAGE_INFO if f.get("message_id") else EventKind.OTHER


def _postscreen(body: str, f: dict[str, object]) -> EventKind:
    _hostip(body, f)
    word = body.split(" ", 1)[0]
    if word == "CONNECT":
        return EventKind.CONNECT
    if word == "DISCONNECT":
        return EventKind.DISCONNECT
    if word in ("HANGUP",):
        return EventKind.LOST
    if word in ("PREGREET", "BARE", "NON-SMTP", "COMMAND", "DNSBL"):
        f["diagnostic"] = body
        return EventKind.REJECT if word != "DNSBL" else EventKind.OTHER
    return EventKind.OTHER


def sniff(lines: Sequence[str]) -> float:
    good = 0.0
    total = 0
    for line in lines:
        if not line.strip():
            continue
        total += 1
        m = _CLASSIC.match(line) or _RFC3339.match(line)
        if m is not None and "postfix" in line[: m.end()]:
            good += 1
        elif m is not None:
            good += 0.3  # another daemon in the same syslog file
    return good / total if total else 0.0


FORMAT = register_format("postfix", sniff, parse_line)
