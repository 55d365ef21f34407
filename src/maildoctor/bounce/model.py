"""Value types of the bounce engine: a parsed recipient line and a classified bounce."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KINDS = ("failure", "delay", "autoreply", "feedback", "not_bounce")


@dataclass(slots=True)
class RawRecipient:
    """What a reporting-agent parser found for one recipient, before classification (mutable)."""

    address: str
    action: str = ""
    status: str = ""
    diagnostic: str = ""
    diagnostic_type: str = ""
    remote_mta: str = ""
    reporting_mta: str = ""
    command: str = ""
    reason: str = ""  # set when the agent itself knows the reason (e.g. an Exim or qmail message table)
    rule: str = ""  # the agent rule that set `reason`
    rule_text: str = ""
    smtp_code: str = ""
    original_recipient: str = ""
    last_attempt: str = ""
    feedback_type: str = ""
    target: str = ""  # a pipe or file the address was delivered to (Exim "pipe to |...")
    final: bool = False  # `reason` is not to be second-guessed by the phrase rules


@dataclass(frozen=True, slots=True)
class Rule:
    """Why a reason was chosen: the rule id and the text it matched."""

    id: str
    matched: str = ""


@dataclass(frozen=True, slots=True)
class LocalCause:
    """The cause on this server of a failure, and the fix."""

    kind: str  # fail_forwarder | default_fail | missing_mailbox | spf | pipe | quota | blocklist | ...
    summary: str
    file: str = ""
    line: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    fix: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Recipient:
    address: str
    action: str
    status: str
    smtp_code: str
    reason: str
    hard: bool
    diagnostic: str
    remote_mta: str
    rule: Rule
    original_recipient: str = ""
    command: str = ""
    feedback_type: str = ""
    target: str = ""
    last_attempt: str = ""
    local_cause: LocalCause | None = None


@dataclass(frozen=True, slots=True)
class Bounce:
    file: str
    kind: str
    agent: str
    reporting_mta: str
    original_message_id: str
    original_from: str
    original_to: str
    original_subject: str
    recipients: tuple[Recipient, ...]
    notes: tuple[str, ...] = ()
    original_queue_id: str = ""  # the returned message's id on the server that bounced it
