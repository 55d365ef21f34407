"""Summarise what the receivers said about authentication and spam.

Reads Authentication-Results (RFC 8601), ARC-Seal / ARC-Authentication-Results (RFC 8617),
Received-SPF (RFC 7208 9.1), DKIM-Signature (domain and selector) and the spam-filter verdict
headers listed in kb/headers.toml. Pure: header values in, a summary out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from maildoctor import kb

_MAX_VALUE = 8192
_METHOD_RESULT = re.compile(r"^\s*([a-z][a-z0-9_-]{0,30})\s*=\s*([a-z]{1,20})\b(.*)$", re.IGNORECASE | re.DOTALL)
_PROP = re.compile(r"\b([a-z]{1,20}\.[a-z][a-z0-9_-]{0,40})\s*=\s*(\"[^\"]{0,300}\"|[^\s;()]{1,300})", re.IGNORECASE)
_REASON = re.compile(r"\breason\s*=\s*(\"[^\"]{0,300}\"|[^\s;]{1,300})", re.IGNORECASE)
_TAG = re.compile(r"^\s*([a-z][a-z0-9_]{0,20})\s*=\s*(.*?)\s*$", re.IGNORECASE | re.DOTALL)
_COMMENT = re.compile(r"\([^()]{0,500}\)")
_SPF_KV = re.compile(r"\b(client-ip|envelope-from|helo|identity|receiver|mechanism)\s*=\s*([^;\s]{1,300})", re.I)


@dataclass(frozen=True, slots=True)
class AuthResult:
    method: str  # spf, dkim, dmarc, arc, iprev, auth, bimi, ...
    result: str  # pass, fail, softfail, neutral, none, temperror, permerror, policy, ...
    props: dict[str, str] = field(default_factory=dict)  # smtp.mailfrom, header.d, header.s, ...
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class AuthResultsHeader:
    authserv_id: str
    results: tuple[AuthResult, ...]
    source: str  # Authentication-Results | ARC-Authentication-Results i=N


@dataclass(frozen=True, slots=True)
class SpamVerdict:
    header: str
    value: str
    filter: str
    verdict: str  # spam | clean | info


@dataclass(frozen=True, slots=True)
class AuthSummary:
    results: tuple[AuthResultsHeader, ...] = ()
    received_spf: tuple[dict[str, str], ...] = ()
    dkim_signatures: tuple[dict[str, str], ...] = ()  # d, s, a, i
    arc: tuple[dict[str, str], ...] = ()  # per ARC-Seal: i, cv, d, s
    spam: tuple[SpamVerdict, ...] = ()

    def final(self, method: str) -> AuthResult | None:
        """The verdict of the receiver closest to the reader (the topmost header that has it)."""
        for header in self.results:
            if header.source != "Authentication-Results":
                continue
            for res in header.results:
                if res.method == method:
                    return res
        return None

    def to_json(self) -> dict[str, object]:
        return {
            "results": [
                {
                    "authserv_id": h.authserv_id,
                    "source": h.source,
                    "results": [
                        {"method": r.method, "result": r.result, "props": r.props, "reason": r.reason}
                        for r in h.results
                    ],
                }
                for h in self.results
            ],
            "spf": self.final_result("spf"),
            "dkim": self.final_result("dkim"),
            "dmarc": self.final_result("dmarc"),
            "received_spf": list(self.received_spf),
            "dkim_signatures": list(self.dkim_signatures),
            "arc": list(self.arc),
            "spam": [
                {"header": s.header, "value": s.value, "filter": s.filter, "verdict": s.verdict} for s in self.spam
            ],
        }

    def final_result(self, method: str) -> str | None:
        res = self.final(method)
        return res.result if res else None


def _split_outside(value: str, sep: str = ";") -> list[str]:
    """Split on sep outside comments and quoted strings."""
    parts: list[str] = []
    buf: list[str] = []
    depth, quoted = 0, False
    for c in value[:_MAX_VALUE]:
        if c == '"' and depth == 0:
            quoted = not quoted
        elif not quoted and c == "(":
            depth += 1
        elif not quoted and c == ")" and depth:
            depth -= 1
        if c == sep and depth == 0 and not quoted:
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(c)
    parts.append("".join(buf))
    return [" ".join(p.split()) for p in parts]


def parse_authentication_results(value: str, source: str = "Authentication-Results") -> AuthResultsHeader:
    parts = _split_outside(value)
    authserv = _COMMENT.sub("", parts[0]).split()
    results = []
    for part in parts[1:]:
        m = _METHOD_RESULT.match(part)
        if not m:
            continue
        rest = m.group(3)
        props = {k.lower(): v.strip('"') for k, v in _PROP.findall(rest)}
        reason = _REASON.search(rest)
        results.append(
            AuthResult(m.group(1).lower(), m.group(2).lower(), props, reason.group(1).strip('"') if reason else None)
        )
    return AuthResultsHeader(authserv[0] if authserv else "", tuple(results), source)


def parse_tag_list(value: str) -> dict[str, str]:
    """DKIM-style tag=value; list (RFC 6376 3.2); whitespace inside values removed for b= and bh=."""
    tags: dict[str, str] = {}
    for part in value[:_MAX_VALUE].split(";"):
        m = _TAG.match(part)
        if m:
            tags[m.group(1).lower()] = " ".join(m.group(2).split())
    return tags


def parse_received_spf(value: str) -> dict[str, str]:
    text = " ".join(value[:_MAX_VALUE].split())
    words = text.split()
    out = {"result": words[0].lower().rstrip(";") if words else ""}
    for k, v in _SPF_KV.findall(text):
        out[k.lower()] = v.rstrip(";")
    comment = _COMMENT.search(text)
    if comment:
        out["comment"] = comment.group(0)[1:-1]
    return out


@cache
def _spam_rules() -> list[tuple[str, str, re.Pattern[str] | None, re.Pattern[str] | None]]:
    rules = []
    for entry in kb.load("headers"):
        if entry.get("kind") != "spam_header":
            continue
        clean = entry.get("clean_pattern")
        rules.append(
            (
                str(entry["header"]).lower(),
                str(entry["filter"]),
                entry.patterns[0] if entry.patterns else None,
                re.compile(clean, re.IGNORECASE) if clean else None,
            )
        )
    return rules


def classify_spam_header(name: str, value: str) -> SpamVerdict | None:
    """The verdict of one spam-filter header, or None when the header is not a known verdict header."""
    low = name.lower()
    text = " ".join(value[:_MAX_VALUE].split())
    for header, filt, spam_pat, clean_pat in _spam_rules():
        if header != low:
            continue
        if spam_pat is not None and spam_pat.search(text):
            verdict = "spam"
        elif clean_pat is not None and clean_pat.search(text):
            verdict = "clean"
        else:
            verdict = "info"
        return SpamVerdict(name, text[:300], filt, verdict)
    return None


def analyze_auth(fields: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> AuthSummary:
    results: list[AuthResultsHeader] = []
    spf: list[dict[str, str]] = []
    dkim: list[dict[str, str]] = []
    arc: list[dict[str, str]] = []
    spam: list[SpamVerdict] = []
    for name, value in fields:
        low = name.lower()
        if low == "authentication-results":
            results.append(parse_authentication_results(value))
        elif low == "arc-authentication-results":
            pieces = _split_outside(value)
            inst = pieces[0].strip() if pieces else ""
            parsed = parse_authentication_results(";".join(pieces[1:]))
            results.append(AuthResultsHeader(parsed.authserv_id, parsed.results, f"ARC-Authentication-Results {inst}"))
        elif low == "arc-seal":
            tags = parse_tag_list(value)
            arc.append({k: tags[k] for k in ("i", "cv", "d", "s") if k in tags})
        elif low == "received-spf":
            spf.append(parse_received_spf(value))
        elif low == "dkim-signature":
            tags = parse_tag_list(value)
            dkim.append({k: tags[k] for k in ("d", "s", "a", "i") if k in tags})
        else:
            verdict = classify_spam_header(name, value)
            if verdict is not None:
                spam.append(verdict)
    return AuthSummary(tuple(results), tuple(spf), tuple(dkim), tuple(arc), tuple(spam))
