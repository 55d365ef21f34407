"""~/.forward files: a plain redirection list, or an Exim filter (first line ``# Exim filter``).

Each delivering line becomes an AliasEntry (local_part = the account, domain ""), so the same
analysis applies to forwards, aliases and valiases. The filter reader understands the delivery
commands (deliver, pipe, save, fail, freeze is ignored); conditions are not evaluated: every
command is a possible delivery, which is what an administrator wants to check.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from maildoctor.server.aliases import AliasEntry, AliasTarget, parse_targets, read_text, under

_FILTER_MAGIC = re.compile(r"^#\s*(exim|sieve)\s+filter", re.IGNORECASE)
_COMMAND = re.compile(r"\b(unseen\s+|seen\s+)?(deliver|pipe|save|fail)\b(.*)$", re.IGNORECASE)


def forward_kind(text: str) -> str:
    """'exim-filter', 'sieve-filter' or 'plain'."""
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    m = _FILTER_MAGIC.match(first.strip())
    return f"{m.group(1).lower()}-filter" if m else "plain"


def _first_word(rest: str) -> str:
    try:
        words = shlex.split(rest, comments=False, posix=True)
    except ValueError:
        words = rest.split()
    return words[0] if words else ""


def parse_exim_filter(text: str, file: Path, user: str) -> list[AliasEntry]:
    """Delivery commands of an Exim filter file, one entry per command line."""
    out: list[AliasEntry] = []
    for no, line in enumerate(text.splitlines(), 1):
        code = line.split("#", 1)[0] if not line.lstrip().startswith("#") else ""
        m = _COMMAND.search(code)
        if not m:
            continue
        verb, rest = m.group(2).lower(), m.group(3).strip()
        if verb == "deliver":
            target = AliasTarget("address", _first_word(rest))
        elif verb == "pipe":
            target = AliasTarget("pipe", _first_word(rest).lstrip("|").strip())
        elif verb == "save":
            target = AliasTarget("file", _first_word(rest))
        else:
            tm = re.search(r'text\s+"((?:[^"\\]|\\.)*)"', rest)
            target = AliasTarget("fail", tm.group(1) if tm else "")
        if target.value or verb == "fail":
            out.append(AliasEntry("", user, (target,), file, no, line.strip(), "forward-filter"))
    return out


def parse_forward(text: str, file: Path, user: str) -> list[AliasEntry]:
    """A .forward of either kind; a plain one gives one entry per non-comment line."""
    kind = forward_kind(text)
    if kind == "exim-filter":
        return parse_exim_filter(text, file, user)
    if kind == "sieve-filter":
        return []  # Sieve is not analysed; the file is still reported as present by the caller.
    out: list[AliasEntry] = []
    for no, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        targets = parse_targets(s)
        if targets:
            out.append(AliasEntry("", user, targets, file, no, s, "forward"))
    return out


def read_forward(root: Path, user: str, home: str) -> list[AliasEntry]:
    """The account's ~/.forward under root (home is the server path), or [] when there is none."""
    path = under(root, home) / ".forward"
    if not path.is_file():
        return []
    return parse_forward(read_text(path), path, user)
