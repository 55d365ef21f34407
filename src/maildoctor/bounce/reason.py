"""Bounce reason classifier: enhanced status code, SMTP command and diagnostic phrases.

The rules follow Sisimai's decision order so that results compare with Sisimai one to one:
first the reasons that a status code or a phrase states outright (in `_ORDER_FIRST`), then a
fallback over the remaining phrase lists, then the status class, then 'onhold'/'undefined'.
The phrases and the status table are data: kb/bounce_reasons.toml and kb/bounce_status.toml.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from maildoctor import kb
from maildoctor.bounce.model import Rule

RETRY = frozenset({"undefined", "onhold", "systemerror", "securityerror", "expired", "networkerror",
                   "hostunknown", "userunknown", ""})  # fmt: skip
EXCEPT_DATA = frozenset({"CONN", "EHLO", "HELO", "STARTTLS", "AUTH", "MAIL", "RCPT"})
_ORDER_FIRST = (
    "mailboxfull", "mesgtoobig", "exceedlimit", "suspend", "hasmoved", "norelaying", "authfailure",
    "userunknown", "filtered", "requireptr", "notcompliantrfc", "badreputation", "contenterror",
    "rejected", "hostunknown", "spamdetected", "speeding", "toomanyconn", "blocked",
)  # fmt: skip
_ORDER_FALLBACK = (
    "mailboxfull", "authfailure", "badreputation", "speeding", "spamdetected", "virusdetected",
    "policyviolation", "norelaying", "systemerror", "networkerror", "suspend", "contenterror",
    "systemfull", "notaccept", "expired", "failedstarttls", "securityerror", "mailererror",
)  # fmt: skip


_UNESCAPE = re.compile(r"\\(.)")


def _literal(pattern: str) -> str | None:
    """The plain text a pattern stands for when it is an escaped literal, else None."""
    text = _UNESCAPE.sub(r"\1", pattern)
    return text.lower() if re.escape(text) == pattern else None


@dataclass(frozen=True, slots=True)
class _Phrases:
    """One reason's phrases, split for speed: literals and ordered fragments use str.find."""

    rule_id: str
    literals: tuple[str, ...]
    aligned: tuple[tuple[str, ...], ...]  # "a.*?b" patterns: fragments that must appear in order
    regex: re.Pattern[str] | None  # everything else
    unless: tuple[str, ...]

    def search(self, text: str) -> tuple[int, int] | None:
        """(start, end) of the first phrase found in lower-cased text."""
        for u in self.unless:
            if u in text:
                return None
        for lit in self.literals:
            i = text.find(lit)
            if i >= 0:
                return i, i + len(lit)
        for frags in self.aligned:
            pos = start = text.find(frags[0])
            if pos < 0:
                continue
            pos += len(frags[0])
            for frag in frags[1:]:
                pos = text.find(frag, pos)
                if pos < 0:
                    break
                pos += len(frag)
            else:
                return start, pos
        if self.regex is not None:
            m = self.regex.search(text)
            if m:
                return m.start(), m.end()
        return None


@cache
def _phrases() -> dict[str, _Phrases]:
    out: dict[str, _Phrases] = {}
    for entry in kb.load("bounce_reasons"):
        literals: list[str] = []
        aligned: list[tuple[str, ...]] = []
        other: list[str] = []
        for p in entry.patterns:
            lit = _literal(p.pattern)
            frags = [_literal(f) for f in p.pattern.split(".*?")]
            if lit is not None:
                literals.append(lit)
            elif len(frags) > 1 and all(f for f in frags):
                aligned.append(tuple(f for f in frags if f is not None))
            else:
                other.append(p.pattern)
        regex = re.compile("|".join(f"(?:{p})" for p in other), re.IGNORECASE) if other else None
        unless = tuple(_literal(u) or u.lower() for u in entry.get("unless", ()))
        out[str(entry["reason"])] = _Phrases(entry.id, tuple(literals), tuple(aligned), regex, unless)
    return out


@cache
def _status_table() -> dict[str, str]:
    return {str(e["status"]): str(e["reason"]) for e in kb.load("bounce_status") if "status" in e.data}


def status_reason(status: str) -> str:
    """The reason an enhanced status code names on its own ("" when it says too little)."""
    return _status_table().get(status, "")


def match_phrase(reason: str, text: str) -> tuple[int, int] | None:
    """(start, end) of the phrase of `reason` found in lower-cased text, or None."""
    ph = _phrases().get(reason)
    if ph is None or not text:
        return None
    return ph.search(text)


@dataclass(slots=True)
class Fact:
    """The classifier's input for one recipient."""

    status: str = ""
    diagnostic: str = ""
    diagnostic_type: str = ""
    command: str = ""
    action: str = ""
    smtp_code: str = ""
    reason: str = ""  # already decided by the reporting agent
    rule: Rule | None = None
    final: bool = False  # the agent's reason stands


class _Classifier:
    def __init__(self, fact: Fact) -> None:
        self.f = fact
        self.diag = fact.diagnostic.lower()
        self.sname = status_reason(fact.status)
        self.rule: Rule | None = None
        self._spans: dict[str, tuple[int, int] | None] = {}

    def found(self, reason: str) -> tuple[int, int] | None:
        """The phrase of `reason` in this diagnostic (each reason is searched once per recipient)."""
        if reason not in self._spans:
            self._spans[reason] = match_phrase(reason, self.diag)
        return self._spans[reason]

    def inc(self, reason: str) -> bool:
        span = self.found(reason)
        if span:
            self.rule = Rule(_phrases()[reason].rule_id, self.f.diagnostic[span[0] : span[1]])
            return True
        return False

    def by_status(self, reason: str) -> bool:
        if self.sname == reason:
            self.rule = Rule(f"status.{self.f.status}", self.f.status)
            return True
        return False

    # One probe per reason of the first pass; True when the reason applies.
    def p_mailboxfull(self) -> bool:
        return self.by_status("mailboxfull") or self.inc("mailboxfull")

    def p_mesgtoobig(self) -> bool:
        if self.by_status("mesgtoobig"):
            return True
        if self.sname == "exceedlimit" or self.f.status == "5.2.3":
            return False
        return self.inc("mesgtoobig")

    def p_exceedlimit(self) -> bool:
        return self.by_status("exceedlimit") or self.inc("exceedlimit")

    def p_suspend(self) -> bool:
        if self.f.smtp_code == "525":
            self.rule = Rule("reply.525", "525")
            return True
        return self.inc("suspend")

    def p_hasmoved(self) -> bool:
        return self.inc("hasmoved")

    def p_norelaying(self) -> bool:
        if self.f.command in ("CONN", "EHLO", "HELO"):
            return False
        return self.inc("norelaying")

    def p_authfailure(self) -> bool:
        return self.by_status("authfailure") or self.inc("authfailure")

    def p_userunknown(self) -> bool:
        if self.sname == "userunknown":
            for other in ("norelaying", "blocked", "mailboxfull", "hasmoved", "rejected", "notaccept"):
                if self.found(other):
                    return False
            if self.inc("userunknown"):
                return True
            return self.by_status("userunknown")
        return self.f.command == "RCPT" and self.inc("userunknown")

    def p_filtered(self) -> bool:
        if self.sname == "filtered":
            return self.inc("userunknown") or self.inc("filtered")
        if self.f.command in EXCEPT_DATA:
            return False
        return self.inc("filtered") or self.inc("userunknown")

    def p_requireptr(self) -> bool:
        return self.by_status("requireptr") or self.inc("requireptr")

    def p_notcompliantrfc(self) -> bool:
        return self.inc("notcompliantrfc")

    def p_badreputation(self) -> bool:
        return self.inc("badreputation")

    def p_contenterror(self) -> bool:
        saved = self.rule
        if self.p_spamdetected():
            self.rule = saved
            return False
        return self.by_status("contenterror") or self.inc("contenterror")

    def p_rejected(self) -> bool:
        if self.by_status("rejected"):
            return True
        temp = self.sname or "undefined"
        if self.f.command == "MAIL":
            return self.inc("rejected")
        if self.f.command == "DATA":
            return temp != "userunknown" and self.inc("rejected")
        if temp in ("undefined", "onhold", "securityerror", "systemerror"):
            return self.inc("rejected")
        return False

    def p_hostunknown(self) -> bool:
        if self.sname == "hostunknown":
            if self.found("networkerror"):
                return False
            return self.inc("hostunknown") or self.by_status("hostunknown")
        return self.inc("hostunknown")

    def p_spamdetected(self) -> bool:
        if not self.f.status:
            return False
        if self.by_status("spamdetected"):
            return True
        if self.f.command in EXCEPT_DATA:
            return False
        return self.inc("spamdetected")

    def p_speeding(self) -> bool:
        return self.inc("speeding")

    def p_toomanyconn(self) -> bool:
        return self.by_status("toomanyconn") or self.inc("toomanyconn")

    def p_blocked(self) -> bool:
        return self.by_status("blocked") or self.inc("blocked")

    def anotherone(self) -> str:
        reason = self.sname
        if reason in RETRY or self.f.diagnostic_type != "SMTP":
            for e in _ORDER_FALLBACK:
                if self.inc(e):
                    return e
            if reason:
                self.rule = Rule(f"status.{self.f.status}", self.f.status)
                return reason
            cls = self.f.status[:3]
            if cls in ("5.6", "4.6"):
                self.rule = Rule("status.x.6", self.f.status)
                return "contenterror"
            if cls in ("5.7", "4.7"):
                self.rule = Rule("status.x.7", self.f.status)
                return "securityerror"
            if self.f.diagnostic_type.startswith("X-UNIX"):
                self.rule = Rule("diagnostic-type.x-unix", self.f.diagnostic_type)
                return "mailererror"
            code = int(self.f.smtp_code) if self.f.smtp_code.isdigit() else 0
            if 400 < code < 408 or 500 < code < 508:
                self.rule = Rule("reply.syntax", self.f.smtp_code)
                return "syntaxerror"
            if self.f.action in ("delayed", "expired"):
                self.rule = Rule("action.delayed", self.f.action)
                return "expired"
            if self.f.command in ("EHLO", "HELO"):
                self.rule = Rule("command.ehlo", self.f.command)
                return "blocked"
        elif reason:
            self.rule = Rule(f"status.{self.f.status}", self.f.status)
        return reason

    def run(self) -> tuple[str, Rule]:
        f = self.f
        if f.reason and (f.final or f.reason not in RETRY):
            return f.reason, f.rule or Rule("agent", f.reason)
        if f.status.startswith("2."):
            return "delivered", Rule(f"status.{f.status}", f.status)
        reason = ""
        agent_rule = f.rule or Rule("agent", f.reason)
        if f.diagnostic_type in ("SMTP", ""):
            for name in _ORDER_FIRST:
                if f.reason == name:
                    return name, agent_rule
                probe: Callable[[], bool] = getattr(self, "p_" + name)
                self.rule = None
                if probe():
                    reason = name
                    break
        if not reason:
            if f.reason and f.reason not in ("undefined", "onhold"):
                return f.reason, agent_rule
            self.rule = None
            reason = self.anotherone()
            if reason == "undefined":
                reason = ""
            if not reason and f.action == "delayed":
                return "expired", Rule("action.delayed", "delayed")
            if reason:
                return reason, self.rule or Rule("fallback", "")
            if self.inc("vacation"):
                return "vacation", self.rule or Rule("reason.vacation")
            if f.diagnostic:
                return "onhold", Rule("no-rule-matched", "")
            return "undefined", Rule("no-information", "")
        return reason, self.rule or Rule("probe." + reason)


def classify(fact: Fact) -> tuple[str, Rule]:
    """(reason, rule) for one failed recipient."""
    return _Classifier(fact).run()


@cache
def taxonomy() -> dict[str, dict[str, object]]:
    """Every reason name (Sisimai's) with its meaning, kind and hard flag, from kb/bounce_taxonomy.toml."""
    return {e.id: dict(e.data) for e in kb.load("bounce_taxonomy")}


def is_hard(reason: str) -> bool:
    """Hard bounce: retrying the same address will not help (userunknown, hostunknown, hasmoved, notaccept)."""
    entry = taxonomy().get(reason)
    return bool(entry and entry.get("hard"))
