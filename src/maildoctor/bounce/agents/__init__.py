"""Reporting-agent registry: one module per MTA or provider, each registering itself.

An agent has a cheap `sniff(mail)` (headers, a marker in the text) and a `parse(mail)` that
returns what it found per recipient. Agents are tried in `order` (lower first); the first
agent whose parse returns recipients wins. Adding an agent is one module in this package.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from maildoctor.bounce.mime import Mail
from maildoctor.bounce.model import RawRecipient


@dataclass(slots=True)
class AgentResult:
    recipients: list[RawRecipient]
    kind: str = ""  # "", "failure", "delay", "autoreply", "feedback"
    reporting_mta: str = ""
    notes: list[str] = field(default_factory=list)


SniffFn = Callable[[Mail], bool]
ParseFn = Callable[[Mail], "AgentResult | None"]


@dataclass(frozen=True, slots=True)
class Agent:
    name: str
    order: int
    sniff: SniffFn
    parse: ParseFn


_AGENTS: dict[str, Agent] = {}


def register(name: str, order: int, sniff: SniffFn) -> Callable[[ParseFn], ParseFn]:
    """Decorator for an agent's parse function."""

    def deco(parse: ParseFn) -> ParseFn:
        if name in _AGENTS:
            raise ValueError(f"bounce agent {name!r} registered twice")
        _AGENTS[name] = Agent(name, order, sniff, parse)
        return parse

    return deco


@cache
def agents() -> tuple[Agent, ...]:
    """Every agent of this package, in trial order."""
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    return tuple(sorted(_AGENTS.values(), key=lambda a: (a.order, a.name)))
