"""The queue's value types: one queued message as every reader produces it, and a read result."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """One message waiting in a queue.

    `recipients` are every envelope recipient, `pending` those not yet delivered. `arrival` is
    epoch seconds (from the spool header, or now minus the age `exim -bp` shows). `size` follows
    `exim -bp` (headers plus body) or Postfix's message_size. `script` is the PHP script a cPanel
    server names in X-PHP-Script / X-PHP-Originating-Script, when the spool has the headers.
    """

    message_id: str
    sender: str  # "" for the null sender <>
    recipients: tuple[str, ...] = ()
    pending: tuple[str, ...] = ()
    arrival: float | None = None
    size: int | None = None
    frozen: bool = False
    auth_id: str | None = None
    host_address: str | None = None  # client IP of an SMTP submission
    local_user: str | None = None  # the submitting login of a local submission (-ident)
    protocol: str | None = None
    script: str | None = None
    queue_name: str | None = None  # Postfix: active, deferred, hold, incoming
    source: str = ""  # the spool file, or the name of the text it was read from

    def age(self, now: float) -> float | None:
        return None if self.arrival is None else max(0.0, now - self.arrival)


@dataclass(frozen=True, slots=True)
class QueueRead:
    """What a reader found: the messages and one line per unreadable entry (never fatal)."""

    messages: tuple[QueuedMessage, ...]
    errors: tuple[str, ...] = ()
    kind: str = ""  # exim-spool | exim-bp | postqueue
    location: str = ""
    extra: dict[str, object] = field(default_factory=dict, hash=False, compare=False)


def domain_of(address: str) -> str:
    """The lower-cased domain of an address; '' for <> or an unqualified local part."""
    at = address.rfind("@")
    return address[at + 1 :].strip().rstrip(">").lower() if at >= 0 else ""
