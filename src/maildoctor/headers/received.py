"""Parse one Received header into its clauses (RFC 5321 4.4 and what MTAs really write).

The header is tokenised once, left to right: words, comments ``(...)`` (nested), ``[...]``
literals and ``<...>`` addresses. Keywords (from, by, with, id, for, via; any case) count only
as bare words outside comments, so ``(Postfix, from userid 1001)`` stays part of the ``by``
clause. Each clause keeps its raw text (whitespace collapsed), as Microsoft's Message Header
Analyzer and mail-parser show it; structured fields (hosts, IP, HELO, TLS, auth, MTA) are derived
from those clauses. The date is the text after the last ``;`` outside comments, or when there
is none, a trailing date with a time of day (SendGrid and Go write no ``;``).

Work is linear in the header length and the header is capped, so hostile text cannot hang it.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from maildoctor.headers.dates import ParsedDate, find_trailing_date, parse_date

MAX_RECEIVED_CHARS = 16_384  # a real Received header is < 1 KB; the rest is not looked at
KEYWORDS = ("from", "by", "via", "with", "id", "for")
_PREFIX = re.compile(r"^\s*received\s*:", re.IGNORECASE)

_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6 = re.compile(r"(?<![0-9A-Za-z:])(?:IPv6:)?([0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7})(?![0-9A-Za-z:])")
_HELO = re.compile(r"\b(?:helo|ehlo|lhlo)[=\s]\s*([^\s()]{1,255})?", re.IGNORECASE)
_ENV_FROM = re.compile(r"envelope-from\s*<([^<>\s]{0,320})>", re.IGNORECASE)
_ENV_SENDER = re.compile(r"envelope-sender\s*<([^<>\s]{0,320})>", re.IGNORECASE)
# Postfix "(Authenticated sender: u)", others "(authenticated as u)", Courier "(AUTH: LOGIN u, TLS: ...)"
_AUTH_SENDER = re.compile(
    r"\((?:authenticated sender:|authenticated as|authenticated user)\s*([^\s()]{1,320})\s*\)"
    r"|\(AUTH: [A-Z0-9-]{1,20} ([^\s,()]{1,320})",
    re.IGNORECASE,
)
_AUTH_FLAG = re.compile(r"\(authenticated bits=\d{1,4}\)", re.IGNORECASE)  # Sendmail: no user name
_TLS_VERSION = re.compile(
    r"\b(TLSv?1(?:[._]\d)?|SSLv[23]|TLS1_\d|TLS1\.\d)\b|\bversion=(TLS[\w.]{1,12}|SSL[\w.]{1,12})", re.IGNORECASE
)
_CIPHER = re.compile(r"\bcipher[=\s]\s*([A-Za-z0-9_-]{3,80})|\btls\s+(TLS_[A-Z0-9_]{3,80})", re.IGNORECASE)
_TLS_PROTOCOLS = re.compile(r"^(SMTPS|ESMTPS|ESMTPSA|UTF8SMTPS|UTF8SMTPSA|LMTPS|LMTPSA)$", re.IGNORECASE)
_TLS_NOTES = re.compile(r"\(Google Transport Security\)|\(using TLS|\bwith TLS\b", re.IGNORECASE)
_AUTH_PROTOCOLS = re.compile(r"^(ESMTPA|ESMTPSA|UTF8SMTPA|UTF8SMTPSA|LMTPA|LMTPSA)$", re.IGNORECASE)

# Which MTA wrote the header; first match wins (order matters: Exchange before generic SMTP).
_MTA_SIGNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("exim", re.compile(r"\(Exim [\d.]", re.IGNORECASE)),
    ("postfix", re.compile(r"\(Postfix\b|\bPostfix\b", re.IGNORECASE)),
    ("exchange", re.compile(r"Microsoft SMTP Server|Microsoft SMTPSVC|\bwith mapi\b|protection\.outlook\.com")),
    ("gmail", re.compile(r"\bby mx\.google\.com\b|\bby smtp\.gmail\.com\b|\bwith SMTP id \w+\.\d+\.\d{4}\.", re.I)),
    ("amazon_ses", re.compile(r"amazonses\.com|inbound-smtp\.[\w-]+\.amazonaws\.com", re.IGNORECASE)),
    ("yahoo", re.compile(r"\(VZM Hermes SMTP Server\)|\byahoo\.com\b.{0,80}\bwith HTTP\b|\.yahoo\.com\b", re.I)),
    ("zimbra", re.compile(r"\bZimbra\b", re.IGNORECASE)),
    ("qmail", re.compile(r"\bqmail\b", re.IGNORECASE)),
    ("sendgrid", re.compile(r"\(SG\)|\bsendgrid\.net\b", re.IGNORECASE)),
    ("powermta", re.compile(r"PowerMTA", re.IGNORECASE)),
    ("sendmail", re.compile(r"\(\d+\.\d+\.\d+(?:\.\d+)?/\d+\.\d+\.\d+")),
    ("ibm", re.compile(r"IBM ESMTP SMTP Gateway|collabserv\.com", re.IGNORECASE)),
)


@dataclass(frozen=True, slots=True)
class Received:
    """One parsed Received header. Raw clause text is kept as written (whitespace collapsed)."""

    raw: str  # unfolded header value, without the "Received:" name
    from_: str | None = None  # raw 'from' clause
    by: str | None = None
    with_: str | None = None
    id: str | None = None
    for_: str | None = None
    via: str | None = None
    date_text: str | None = None  # the text the date came from
    date: ParsedDate | None = None
    from_host: str | None = None  # the name (or [literal]) right after 'from'
    helo: str | None = None  # the HELO/EHLO name the client gave
    rdns: str | None = None  # reverse DNS the receiver looked up, where it says so
    ip: str | None = None  # the client IP address (from the 'from' clause)
    by_host: str | None = None
    by_ip: str | None = None
    protocol: str | None = None  # first word of 'with': SMTP, ESMTPS, esmtpa, HTTPS, ...
    tls: bool = False
    tls_version: str | None = None
    tls_cipher: str | None = None
    authenticated: bool = False
    auth_user: str | None = None
    envelope_from: str | None = None
    envelope_sender: str | None = None
    for_address: str | None = None
    mta: str | None = None
    comments: tuple[str, ...] = ()  # comments not inside any clause (e.g. "(qmail 123 invoked from network)")
    problems: tuple[str, ...] = field(default=())  # what could not be parsed

    def to_fields(self) -> dict[str, str | None]:
        """The clause dictionary with plain key names (from, by, with, id, for, via, date)."""
        return {
            "from": self.from_,
            "by": self.by,
            "with": self.with_,
            "id": self.id,
            "for": self.for_,
            "via": self.via,
            "date": self.date_text,
        }


def unfold(text: str) -> str:
    """Undo header folding and collapse every run of whitespace to one space."""
    return " ".join(text.split())


_OPEN_CLOSE = {"(": ")", "[": "]", "<": ">"}


def _matches(text: str) -> dict[int, int]:
    """Position of each bracket opener -> its closer; unclosed openers are left out (linear)."""
    out: dict[int, int] = {}
    stacks: dict[str, list[int]] = {c: [] for c in _OPEN_CLOSE}
    closers = {v: k for k, v in _OPEN_CLOSE.items()}
    for i, c in enumerate(text):
        if c in _OPEN_CLOSE:
            stacks[c].append(i)
        elif c in closers and stacks[closers[c]]:
            out[stacks[closers[c]].pop()] = i
    return out


def _tokens(text: str) -> list[str]:
    """Split into words, (comments), [literals] and <addresses>. An opener that is never closed
    (a cut header) is an ordinary character, so the rest of the header still splits into words."""
    out: list[str] = []
    match = _matches(text)
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c in _OPEN_CLOSE and i in match:
            out.append(text[i : match[i] + 1])
            i = match[i] + 1
            continue
        start = i
        i += 1
        while i < n and not text[i].isspace() and not (text[i] in _OPEN_CLOSE and i in match):
            i += 1
        out.append(text[start:i])
    return out


def _mask_comments(text: str) -> str:
    """Same-length text with closed comments blanked, so positions of ';' and dates stay true.

    A difference array keeps this linear even for deeply nested parentheses.
    """
    diff = [0] * (len(text) + 1)
    for start, end in _matches(text).items():
        if text[start] == "(":
            diff[start] += 1
            diff[end + 1] -= 1
    chars = list(text)
    depth = 0
    for i in range(len(chars)):
        depth += diff[i]
        if depth > 0:
            chars[i] = " "
    return "".join(chars)


def _split_date(text: str) -> tuple[str, str | None, ParsedDate | None]:
    """(clauses, date text, date). The date is after the last ';' outside comments, else trailing."""
    masked = _mask_comments(text)
    semi = masked.rfind(";")
    if semi >= 0:
        tail = text[semi + 1 :].strip()
        parsed = parse_date(tail)
        if parsed is not None or not tail:
            return text[:semi], tail or None, parsed
    found = find_trailing_date(masked)
    if found is not None:
        start = found
        return text[:start], text[start:].strip(), parse_date(text[start:])
    if semi >= 0:
        return text[:semi], text[semi + 1 :].strip() or None, None
    return text, None, None


def _valid_ip(candidate: str) -> str | None:
    cand = candidate.strip("[]")
    if cand.lower().startswith("ipv6:"):
        cand = cand[5:]
    try:
        return str(ipaddress.ip_address(cand))
    except ValueError:
        return None


def find_ips(text: str) -> list[str]:
    """Every valid IPv4/IPv6 address in text, in order (invalid dotted quads like 256.1.1.1 are skipped)."""
    found: list[tuple[int, str]] = []
    for m in _IPV4.finditer(text):
        ip = _valid_ip(m.group(0))
        if ip:
            found.append((m.start(), ip))
    for m in _IPV6.finditer(text):
        if m.group(1).count(":") >= 2:
            ip = _valid_ip(m.group(1))
            if ip and ":" in ip:
                found.append((m.start(), ip))
    return [ip for _, ip in sorted(found)]


def _client_ip(clause: str) -> str | None:
    """The connecting client's IP: a [literal] first (the receiver's own lookup), then any address."""
    for lit in re.findall(r"\[([^\[\]]{1,60})\]", clause):
        ip = _valid_ip(lit)
        if ip:
            return ip
    ips = find_ips(clause)
    return ips[0] if ips else None


def _join(old: str | None, new: str) -> str:
    # A repeated keyword ("by me by you") keeps both values, as MHA shows them.
    return new if old is None else f"{old}; {new}"


def _from_details(clause: str) -> tuple[str | None, str | None, str | None]:
    """(from_host, helo, rdns) from a 'from' clause in any of the common shapes.

    Exim and qmail say the HELO name explicitly (``helo=x``, ``HELO x``) and put the verified
    reverse name first; Postfix, Sendmail and Exchange put the HELO name first and the reverse
    name in the comment, ``(rdns [ip])``, where ``unknown`` means the IP has no PTR.
    """
    words = _tokens(clause)
    first = words[0] if words and not words[0].startswith("(") else None
    helo_m = _HELO.search(clause)
    explicit_helo = helo_m.group(1) if helo_m else None
    if explicit_helo is not None or (helo_m and first and first.startswith("[")):
        rdns = first if first and not first.startswith("[") and first.lower() != "unknown" else None
        return first, explicit_helo, rdns
    rdns = None
    for w in words[1:]:
        if w.startswith("(") and "[" in w:
            name = w[1:].split("[", 1)[0].strip().rstrip(".")
            if name and " " not in name and name.lower() != "unknown":
                rdns = name
            break
    helo = first if first and not first.startswith("[") else None
    return first, helo, rdns


_PROTOCOL_WORD = re.compile(
    r"^(?:(?:UTF8)?(?:E?SMTP|LMTP)S?A?|HTTPS?|mapi|local(?:-e?smtp)?|[ab]smtp|IMAPS?|POP3S?|FQDP)$", re.IGNORECASE
)


def _protocol(with_clause: str) -> str | None:
    """The protocol named in a 'with' clause: the first known protocol word (IBM writes
    'IBM ESMTP SMTP Gateway', Domino 'host ESMTP'), else its first word."""
    if with_clause.startswith("Microsoft SMTP"):
        return "Microsoft SMTP Server"
    words = [w.split("/", 1)[0].rstrip(";,") for w in with_clause.split()[:8]]
    for w in words:
        if _PROTOCOL_WORD.match(w):
            return w
    return words[0] if words else None


def _mta(text: str) -> str | None:
    for name, pat in _MTA_SIGNS:
        if pat.search(text):
            return name
    return None


def _clauses(text: str) -> tuple[dict[str, str | None], list[str], str | None]:
    """(clause values by keyword, loose tokens outside any clause, IBM-style trailing sender)."""
    values: dict[str, str | None] = dict.fromkeys(KEYWORDS)
    loose: list[str] = []
    trailing_sender: str | None = None
    current: str | None = None
    buf: list[str] = []

    def flush() -> None:
        nonlocal trailing_sender
        if current is None:
            loose.extend(buf)
        elif current in ("id", "for"):
            # id and for hold one token; the rest are comments (Gmail's TLS note after 'for <x>')
            head = buf[0].rstrip(";") if buf else ""
            loose.extend(buf[1:])
            if head:
                values[current] = _join(values[current], head)
        else:
            val = " ".join(buf).strip(" ;")
            if current == "from" and values["from"] is not None and val.startswith("<"):
                trailing_sender = val.strip("<>")  # IBM: "... for <rcpt> from <sender>"
            else:
                values[current] = _join(values[current], val)

    for tok in _tokens(text):
        low = tok.lower()
        if low in KEYWORDS:
            flush()
            current, buf = low, []
        else:
            buf.append(tok)
    flush()
    return values, loose, trailing_sender


def _security(text: str, protocol: str | None, with_clause: str) -> tuple[bool, str | None, str | None]:
    """(tls used, TLS version, cipher) from the protocol name (RFC 3848 ESMTPS...) and the notes
    MTAs add: Postfix '(using TLSv1.3 with cipher ...)', Exim '(TLS1.3) tls CIPHER', Sendmail and
    Microsoft 'version=... cipher=...', qmail-style 'ESMTP/TLS/CIPHER'."""
    tls_m = _TLS_VERSION.search(text)
    cipher_m = _CIPHER.search(text)
    version = (tls_m.group(1) or tls_m.group(2)) if tls_m else None
    cipher = (cipher_m.group(1) or cipher_m.group(2)) if cipher_m else None
    first = with_clause.split()[0].upper() if with_clause.split() else ""
    tls = bool(
        version or cipher or (protocol and _TLS_PROTOCOLS.match(protocol)) or _TLS_NOTES.search(text) or "/TLS" in first
    )
    return tls, version, cipher


def parse_received(value: str | None) -> Received:
    """Parse a Received header value (with or without the 'Received:' name); never raises."""
    if value is None:
        return Received(raw="", problems=("empty header",))
    text = unfold(_PREFIX.sub("", value[:MAX_RECEIVED_CHARS], count=1))
    problems: list[str] = []
    if len(value) > MAX_RECEIVED_CHARS:
        problems.append(f"header longer than {MAX_RECEIVED_CHARS} characters, truncated")
    clauses_text, date_text, date = _split_date(text)
    if date is None:
        problems.append("no date" if not date_text else f"unreadable date: {date_text[:80]}")
    values, loose, trailing_sender = _clauses(clauses_text)

    by_words = _tokens(values["by"] or "")
    by_host = by_words[0].rstrip(".;") if by_words and not by_words[0].startswith("(") else None
    if values["by"] is None and loose and loose[0].startswith("(") and values["from"] is None:
        # qmail writes "(qmail 123 invoked from network)": the comment names the agent that added it
        values["by"] = loose.pop(0)[1:-1].strip()
    from_clause = values["from"] or ""
    from_host, helo, rdns = _from_details(from_clause) if from_clause else (None, None, None)
    by_ips = find_ips(values["by"] or "")
    protocol = _protocol(values["with"] or "")
    tls, tls_version, tls_cipher = _security(text, protocol, values["with"] or "")
    auth_m = _AUTH_SENDER.search(text)
    env_from = _ENV_FROM.search(text)
    env_sender = _ENV_SENDER.search(text)

    return Received(
        raw=text,
        from_=values["from"],
        by=values["by"],
        with_=values["with"],
        id=values["id"],
        for_=values["for"],
        via=values["via"],
        date_text=date_text,
        date=date,
        from_host=from_host,
        helo=helo,
        rdns=rdns,
        ip=_client_ip(from_clause) if from_clause else None,
        by_host=by_host or None,
        by_ip=by_ips[0] if by_ips else None,
        protocol=protocol,
        tls=tls,
        tls_version=tls_version,
        tls_cipher=tls_cipher,
        authenticated=bool(auth_m or _AUTH_FLAG.search(text) or (protocol and _AUTH_PROTOCOLS.match(protocol))),
        auth_user=(auth_m.group(1) or auth_m.group(2)) if auth_m else None,
        envelope_from=env_from.group(1) if env_from else trailing_sender,
        envelope_sender=env_sender.group(1) if env_sender else None,
        for_address=(values["for"] or "").strip("<>") or None,
        mta=_mta(text),
        comments=tuple(loose),
        problems=tuple(problems),
    )
