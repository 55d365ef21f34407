"""Parse an SPF record (RFC 7208 §4.6, §12 ABNF) into terms, with the position of every syntax error.

`parse_record` never raises: it returns every term it understood and every problem it saw, so the
evaluator can stop at the first error (permerror) and lint can list them all.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache

MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
LOOKUP_MECHANISMS = frozenset({"include", "a", "mx", "ptr", "exists"})  # plus redirect (RFC 7208 §4.6.4)
QUALIFIER_RESULTS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}

_VERSION = re.compile(r"^v=spf1(?: |$)", re.IGNORECASE)
_MODIFIER = re.compile(r"^([A-Za-z][A-Za-z0-9_.\-]*)=(.*)$", re.DOTALL)
_MECHANISM = re.compile(r"^([+\-~?]?)([A-Za-z0-9]*)(.*)$", re.DOTALL)
_A_MX_ARGS = re.compile(r"^(?::(?P<dom>.*?))?(?:/(?P<c4>[0-9]+))?(?://(?P<c6>[0-9]+))?$", re.DOTALL)
_IP_ARGS = re.compile(r"^:(?P<net>[^/]*)(?:/(?P<len>[0-9]+))?$", re.DOTALL)
_CIDR = re.compile(r"^(?:0|[1-9][0-9]{0,2})$")
_QNUM = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"  # no leading zeros (RFC 7208 §12 qnum)
_IP4 = re.compile(rf"^{_QNUM}(?:\.{_QNUM}){{3}}$")
_TOPLABEL = re.compile(r"^(?:[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]+-[A-Za-z0-9-]*[A-Za-z0-9])$")
_MACRO = re.compile(r"%(?:\{([A-Za-z])([0-9]*)(r?)([.\-+,/_=]*)\}|[%_-])", re.IGNORECASE)
_NOT_PRINTABLE = re.compile(r"[^\x20-\x7e]")
MACRO_LETTERS = frozenset("slodiphcrtv")
EXP_ONLY_LETTERS = frozenset("crt")


def is_spf_record(text: str) -> bool:
    """True when TEXT starts with the version section "v=spf1" (RFC 7208 §4.5)."""
    return bool(_VERSION.match(text))


@dataclass(frozen=True, slots=True)
class Term:
    text: str
    position: int  # 0-based offset of the term in the record
    kind: str  # "mechanism" | "modifier"
    name: str  # lower-case mechanism or modifier name
    qualifier: str = "+"
    argument: str | None = None  # domain-spec, network text or modifier value; None when absent
    cidr4: int | None = None
    cidr6: int | None = None
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None  # ip4/ip6

    @property
    def result(self) -> str:
        return QUALIFIER_RESULTS[self.qualifier]

    @property
    def counts_lookup(self) -> bool:
        return self.name in LOOKUP_MECHANISMS or (self.kind == "modifier" and self.name == "redirect")


@dataclass(frozen=True, slots=True)
class SyntaxProblem:
    position: int
    message: str
    term: str = ""

    def __str__(self) -> str:
        where = f" in '{self.term}'" if self.term else ""
        return f"{self.message}{where} at position {self.position + 1}"


@dataclass(frozen=True, slots=True)
class ParsedRecord:
    text: str
    terms: tuple[Term, ...]
    problems: tuple[SyntaxProblem, ...]
    mechanisms: tuple[Term, ...] = ()  # the directives, in order (filled by parse_record)

    def modifier(self, name: str) -> Term | None:
        for t in self.terms:
            if t.kind == "modifier" and t.name == name:
                return t
        return None

    @property
    def ok(self) -> bool:
        return not self.problems


Problem = tuple[int, str]  # (offset into the checked text, message)


def check_macro_string(text: str, *, exp: bool = False) -> Problem | None:
    """Where and why TEXT is not a valid macro-string (RFC 7208 §7.1), or None."""
    pos = 0
    while pos < len(text):
        ch = text[pos]
        if ch == "%":
            m = _MACRO.match(text, pos)
            if not m:
                return pos, f"invalid macro '{text[pos:pos + 6]}'"
            letter = (m.group(1) or "").lower()
            if letter:
                if letter not in MACRO_LETTERS:
                    return pos, f"unknown macro letter '{m.group(1)}'"
                if letter in EXP_ONLY_LETTERS and not exp:
                    return pos, f"macro %{{{m.group(1)}}} is allowed only in exp= text (RFC 7208 §7.2)"
                if m.group(2) and int(m.group(2)) == 0:
                    return pos, f"macro '{m.group(0)}' keeps zero labels (RFC 7208 §7.3)"
            pos = m.end()
            continue
        if not (0x21 <= ord(ch) <= 0x7E) and not (exp and ch == " "):
            return pos, f"character {ch!r} not allowed"
        pos += 1
    return None


def check_domain_spec(text: str) -> Problem | None:
    """Where and why TEXT is not a valid domain-spec (macro-string domain-end), or None."""
    if not text:
        return 0, "empty domain"
    problem = check_macro_string(text)
    if problem:
        return problem
    last = None
    for m in _MACRO.finditer(text):
        last = m
    if last is not None and last.end() == len(text):
        return None  # domain-end = macro-expand
    body = text[:-1] if text.endswith(".") else text
    if "." not in body:
        return 0, f"'{text}' is not a fully qualified domain (needs a dot and a top-level label)"
    top = body.rsplit(".", 1)[1]
    if not _TOPLABEL.match(top):
        return len(body) - len(top), f"invalid top-level label '{top}'"
    return None


def _arg_problem(problems: list[SyntaxProblem], term_pos: int, arg_offset: int, why: Problem | None,
                 raw: str) -> None:
    if why is not None:
        problems.append(SyntaxProblem(term_pos + arg_offset + why[0], why[1], raw))


def _cidr(value: str | None, limit: int, term: str, pos: int, problems: list[SyntaxProblem]) -> int | None:
    if value is None:
        return None
    if not _CIDR.match(value) or int(value) > limit:
        problems.append(SyntaxProblem(pos, f"invalid CIDR length /{value} (0-{limit}, no leading zeros)", term))
        return None
    return int(value)


def _parse_mechanism(raw: str, pos: int, problems: list[SyntaxProblem]) -> Term | None:
    m = _MECHANISM.match(raw)
    assert m is not None  # the pattern accepts any string
    qual, name, rest = m.group(1) or "+", m.group(2).lower(), m.group(3)
    if name not in MECHANISMS:
        problems.append(SyntaxProblem(pos, f"unknown mechanism '{m.group(2) or raw}'", raw))
        return None
    n_before = len(problems)
    arg: str | None = None
    c4 = c6 = None
    net: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    if name == "all":
        if rest:
            problems.append(SyntaxProblem(pos, "'all' takes no argument", raw))
    elif name in ("include", "exists"):
        if not rest.startswith(":"):
            problems.append(SyntaxProblem(pos, f"'{name}' needs ':domain'", raw))
        else:
            arg = rest[1:]
            _arg_problem(problems, pos, len(raw) - len(rest) + 1, check_domain_spec(arg), raw)
    elif name in ("a", "mx"):
        am = _A_MX_ARGS.match(rest)
        if not am:
            problems.append(SyntaxProblem(pos, f"bad argument to '{name}'", raw))
        else:
            arg = am.group("dom")
            if arg is not None:
                _arg_problem(problems, pos, len(raw) - len(rest) + am.start("dom"), check_domain_spec(arg), raw)
            base = pos + len(raw) - len(rest)
            c4 = _cidr(am.group("c4"), 32, raw, base + am.start("c4") - 1, problems)
            c6 = _cidr(am.group("c6"), 128, raw, base + am.start("c6") - 2, problems)
    elif name == "ptr":
        if rest:
            if not rest.startswith(":"):
                problems.append(SyntaxProblem(pos, "bad argument to 'ptr'", raw))
            else:
                arg = rest[1:]
                _arg_problem(problems, pos, len(raw) - len(rest) + 1, check_domain_spec(arg), raw)
    else:  # ip4 / ip6
        im = _IP_ARGS.match(rest)
        if not im:
            problems.append(SyntaxProblem(pos, f"'{name}' needs ':address[/length]'", raw))
        else:
            arg = im.group("net")
            limit = 32 if name == "ip4" else 128
            base = pos + len(raw) - len(rest)
            length = _cidr(im.group("len"), limit, raw, base + im.start("len") - 1, problems)
            net = _network(name, arg, length, raw, base + 1, problems)
            if name == "ip4":
                c4 = length
            else:
                c6 = length
    if len(problems) > n_before:
        return None
    return Term(raw, pos, "mechanism", name, qual, arg, c4, c6, net)


def _network(
    name: str, text: str, length: int | None, raw: str, pos: int, problems: list[SyntaxProblem]
) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        if name == "ip4":
            if not _IP4.match(text):
                raise ValueError(text)
            return ipaddress.IPv4Network(f"{text}/{32 if length is None else length}", strict=False)
        if not text or not all(c in "0123456789abcdefABCDEF:." for c in text):
            raise ValueError(text)
        return ipaddress.IPv6Network(f"{text}/{128 if length is None else length}", strict=False)
    except ValueError:
        kind = "IPv4" if name == "ip4" else "IPv6"
        problems.append(SyntaxProblem(pos, f"invalid {kind} address '{text}'", raw))
        return None


def _parse_modifier(raw: str, pos: int, name: str, value: str, problems: list[SyntaxProblem]) -> Term | None:
    lname = name.lower()
    why = check_domain_spec(value) if lname in ("redirect", "exp") else check_macro_string(value)
    if why:
        _arg_problem(problems, pos, len(name) + 1, why, raw)
        return None
    return Term(raw, pos, "modifier", lname, "+", value)


@lru_cache(maxsize=2048)  # pure; the same includes come back in every evaluation
def parse_record(text: str) -> ParsedRecord:
    """Parse a full record ("v=spf1 ..."); terms are separated by one or more spaces (RFC 7208 §4.6.1)."""
    problems: list[SyntaxProblem] = []
    terms: list[Term] = []
    bad = _NOT_PRINTABLE.search(text)
    if bad:
        ch = bad.group(0)
        problems.append(SyntaxProblem(bad.start(), f"character {ch!r} is not printable 7-bit ASCII (RFC 7208 §3.1)"))
    if not is_spf_record(text):
        problems.append(SyntaxProblem(0, "record does not start with 'v=spf1'"))
        return ParsedRecord(text, (), tuple(problems))
    seen: dict[str, int] = {}
    for m in re.finditer(r"[^ ]+", text[6:]):
        raw, start = m.group(0), m.start() + 6
        mod = _MODIFIER.match(raw)
        term = (
            _parse_modifier(raw, start, mod.group(1), mod.group(2), problems)
            if mod
            else _parse_mechanism(raw, start, problems)
        )
        if term is None:
            continue
        if term.kind == "modifier" and term.name in ("redirect", "exp"):
            if term.name in seen:
                problems.append(SyntaxProblem(start, f"'{term.name}' given more than once (RFC 7208 §6)", raw))
                continue
            seen[term.name] = start
        terms.append(term)
    seen_at: set[int] = set()
    unique = []
    for p in sorted(problems, key=lambda p: (p.position, not p.term)):
        if p.position not in seen_at:
            unique.append(p)
            seen_at.add(p.position)
    problems = unique
    return ParsedRecord(text, tuple(terms), tuple(problems), tuple(t for t in terms if t.kind == "mechanism"))


def split_strings(record: str, size: int = 255) -> list[str]:
    """Character-strings of at most SIZE octets, cut after a space when one is near (receivers join them
    without a separator, so the space stays at the end of a chunk)."""
    chunks: list[str] = []
    rest = record
    while len(rest) > size:
        cut = rest.rfind(" ", 0, size) + 1
        if cut <= size // 2:
            cut = size
        chunks.append(rest[:cut])
        rest = rest[cut:]
    return [*chunks, rest]
