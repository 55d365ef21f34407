"""Parse and classify one bounce: the pure core behind `maildoctor bounce`."""

from __future__ import annotations

import re
from dataclasses import replace
from functools import cache

from maildoctor import kb
from maildoctor.bounce.agents import AgentResult, agents
from maildoctor.bounce.loglookup import parse_queue_id
from maildoctor.bounce.mime import Mail, parse_mail
from maildoctor.bounce.model import Bounce, RawRecipient, Recipient, Rule
from maildoctor.bounce.reason import Fact, classify, is_hard, status_reason
from maildoctor.bounce.text import (
    clean_address,
    find_addresses,
    find_all_status,
    find_command,
    find_reply_code,
    header_fields,
    split_original,
    squeeze,
)

_DIAG_PREFIX = re.compile(r"^(?:smtp|x-\w+|[a-z0-9-]+)\s*;\s*", re.I)


def _prefer_status(dsn_status: str, diagnostic: str) -> str:
    """The DSN's Status, unless it is generic (x.0.0) and the diagnostic names a precise one."""
    found = [s for s in find_all_status(diagnostic) if s[0] in "45"]
    if not dsn_status:
        return found[0] if found else ""
    if (dsn_status.endswith(".0.0") or dsn_status == "4.4.7") and found:
        for s in found:
            if s[0] == dsn_status[0] and not s.endswith(".0.0"):
                return s
    return dsn_status


_MULTILINE = re.compile(r"(?:^|\s)([245]\d\d)[- ](?:[245]\.\d{1,3}\.\d{1,3}\s)?")


def _join_multiline_reply(diagnostic: str) -> str:
    """'550-5.2.1 The user ... 550-5.2.1 prevents ...' -> '550-5.2.1 The user ... prevents ...'."""
    first = _MULTILINE.search(diagnostic)
    if not first:
        return diagnostic
    code = first.group(1)
    head, tail = diagnostic[: first.end()], diagnostic[first.end() :]
    if code not in tail:
        return diagnostic
    tail = re.sub(rf"(?:^|\s){code}[- ](?:[245]\.\d{{1,3}}\.\d{{1,3}}\s)?", " ", tail)
    return squeeze(head + tail)


_GROUP = re.compile(r"\((?:[^()\\]|\\.)*\)[?*+]?")
_LITERAL_RUN = re.compile(r"(?:[A-Za-z0-9 _,;:'#=/-]|\\[.()\[\]?*+|$^{}\\/])+")


def _required_text(pattern: str) -> str:
    """A lower-cased piece of text that every match of `pattern` contains ("" when unsure)."""
    if "|" in _GROUP.sub("", pattern):
        return ""  # a top-level alternation: no single piece is required
    top = pattern
    while True:
        stripped = _GROUP.sub("\0", top)
        if stripped == top:
            break
        top = stripped
    runs = [re.sub(r"\\(.)", r"\1", r).strip() for r in _LITERAL_RUN.findall(top.replace("\\b", "\0"))]
    # a run ends where a quantifier may apply to its last character: drop that character
    best = max((r[:-1] if len(r) > 1 else "" for r in runs), key=len, default="")
    return best.lower() if len(best) >= 4 else ""


_Message = tuple[str, str, str, bool, re.Pattern[str]]


@cache
def _messages() -> tuple[tuple[_Message, ...], tuple[tuple[str, int], ...], frozenset[int]]:
    """The known messages in file order; (text, entry) prefilters; entries that are always tried."""
    entries: list[_Message] = []
    prefilter: list[tuple[str, int]] = []
    always: set[int] = set()
    for i, e in enumerate(kb.load("bounce_messages")):
        required = [_required_text(p.pattern) for p in e.patterns]
        if all(required):
            prefilter.extend((req, i) for req in required)
        else:
            always.add(i)  # a pattern without a required text: cannot be prefiltered
        alternatives = "|".join(f"(?:{p.pattern})" for p in e.patterns)
        entries.append((e.id, str(e["reason"]), str(e.get("command", "")), bool(e.get("final", False)),
                        re.compile(alternatives, re.IGNORECASE)))  # fmt: skip
    return tuple(entries), tuple(prefilter), frozenset(always)


def _known_message(raw: RawRecipient, diagnostic: str) -> None:
    """Set the reason when the diagnostic is a message whose reason is known (kb/bounce_messages.toml)."""
    if raw.reason:
        return
    lower = diagnostic.lower()
    entries, prefilter, always = _messages()
    candidates = sorted(always.union(i for req, i in prefilter if req in lower))
    for rule_id, reason, command, final, pat in (entries[i] for i in candidates):
        m = pat.search(diagnostic)
        if m:
            raw.reason, raw.rule, raw.rule_text, raw.final = reason, rule_id, m.group(0), final
            if command and not raw.command:
                raw.command = command
            return


def _finish(raw: RawRecipient) -> Recipient:
    diagnostic = _join_multiline_reply(squeeze(raw.diagnostic))
    _known_message(raw, diagnostic)
    status = _prefer_status(raw.status.strip(), diagnostic)
    smtp_code = raw.smtp_code or find_reply_code(diagnostic)
    if smtp_code and status and smtp_code[0] != status[0] and status[0] in "45":
        smtp_code = ""  # a 250 quoted in a 5xx diagnostic is not this recipient's reply
    command = raw.command or find_command(diagnostic)
    addr, lower = f"<{raw.address.lower()}>", diagnostic.lower()
    if not command and addr in lower and (diagnostic[:1] in "45" or f"<<< 550 {addr}" in lower):
        command = "RCPT"  # the remote server's reply names the recipient: it answered RCPT TO
    action = raw.action
    if not action:
        action = "failed" if status.startswith("5") or smtp_code.startswith("5") else ""
    dtype = raw.diagnostic_type.upper()
    if dtype not in ("", "SMTP", "X-UNIX") and smtp_code:
        dtype = "SMTP"  # e.g. X-Postfix text that quotes the remote server's SMTP reply
    fact = Fact(
        status=status,
        diagnostic=diagnostic,
        diagnostic_type=dtype,
        command=command,
        action=action,
        smtp_code=smtp_code,
        reason=raw.reason,
        rule=Rule(raw.rule or "agent", raw.rule_text) if raw.reason else None,
        final=raw.final,
    )
    reason, rule = classify(fact)
    return Recipient(
        address=raw.address,
        action=action,
        status=status,
        smtp_code=smtp_code,
        reason=reason,
        hard=is_hard(reason),
        diagnostic=diagnostic,
        remote_mta=raw.remote_mta,
        rule=rule,
        original_recipient=raw.original_recipient,
        command=command,
        feedback_type=raw.feedback_type,
        target=raw.target,
        last_attempt=raw.last_attempt,
    )


def _kind(result: AgentResult, recipients: list[Recipient]) -> str:
    if result.kind in ("feedback", "autoreply", "not_bounce"):
        return result.kind
    if result.kind == "delay":
        return "delay"
    if recipients and all(r.reason == "delivered" for r in recipients):
        return "not_bounce"
    if recipients and all(r.action == "delayed" for r in recipients):
        return "delay"
    return "failure"


_EXIM_WARNING_ID = re.compile(r"The message identifier is:\s+(\S+)|^Warning: message (\S+) delayed", re.M)


def _original(mail: Mail) -> dict[str, str]:
    text = mail.original or split_original(mail.body)[1]
    fields = header_fields(text, ("message-id", "from", "to", "subject")) if text else {}
    fields["queue-id"] = parse_queue_id(text) if text else ""
    if not fields["queue-id"]:
        # Exim delay warnings name the message instead of returning it
        m = _EXIM_WARNING_ID.search(mail.body[:3000]) or _EXIM_WARNING_ID.search(mail.header("subject"))
        if m:
            fields["queue-id"] = m.group(1) or m.group(2)
    return fields


def analyze_mail(mail: Mail, file: str = "", _nested: bool = False) -> Bounce:
    result: AgentResult | None = None
    agent_name = ""
    agent_errors: list[str] = []
    for agent in agents():
        if not agent.sniff(mail):
            continue
        try:
            got = agent.parse(mail)
        except (ValueError, IndexError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            # one agent's bug must not lose the bounce: note it and let the next agent try
            agent_errors.append(f"agent {agent.name} failed: {type(exc).__name__}")
            continue
        if got is not None and got.recipients:
            result, agent_name = got, agent.name
            break
    if result is None and mail.attached and not _nested:
        # a bounce forwarded inside another message (a gateway that adds a disclaimer, a user's forward)
        inner = analyze_mail(parse_mail(mail.attached), file, _nested=True)
        if inner.kind != "not_bounce":
            return replace(inner, notes=(*inner.notes, "the bounce was attached to another message"))
    orig = _original(mail)
    if result is None and ("message/delivery-status" in mail.part_types or mail.report_type == "delivery-status"):
        # a delivery report that names no recipient: the returned message's To is the best guess
        guess = [clean_address(a) for a in find_addresses(orig.get("to", ""))[:1]]
        if guess:
            note = "no recipient in the report; taken from the returned message's To"
            result = AgentResult([RawRecipient(address=guess[0], action="failed")], kind="failure", notes=[note])
            agent_name = "RFC3464"
    notes = (["input truncated for parsing"] if mail.truncated else []) + agent_errors
    if result is None:
        return Bounce(file, "not_bounce", "", "", orig.get("message-id", ""), orig.get("from", ""),
                      orig.get("to", ""), orig.get("subject", ""), (), tuple(notes))  # fmt: skip
    recipients = [_finish(r) for r in result.recipients]
    return Bounce(
        file=file,
        kind=_kind(result, recipients),
        agent=agent_name,
        reporting_mta=result.reporting_mta.split(";")[-1].strip(),
        original_message_id=orig.get("message-id", "").strip(),
        original_from=orig.get("from", ""),
        original_to=orig.get("to", ""),
        original_subject=orig.get("subject", ""),
        recipients=tuple(recipients),
        notes=tuple(notes + result.notes),
        original_queue_id=orig.get("queue-id", ""),
    )


def parse_bounce(raw: bytes, file: str = "") -> Bounce:
    """Parse and classify one message given as raw bytes."""
    return analyze_mail(parse_mail(raw), file)


__all__ = ["analyze_mail", "parse_bounce", "status_reason"]
