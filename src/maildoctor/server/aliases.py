"""Alias and forwarder files under a server root: cPanel valiases/vdomainaliases, /etc/aliases,
DirectAdmin /etc/virtual/DOMAIN/aliases, Postfix virtual and aliases maps.

`parse_*` functions are pure (text in, entries out); `read_*` functions read files under `root`
and never execute anything. Every entry keeps its file and 1-based line so findings can point at
it. Target syntax follows Exim's redirect router ("Redirection data" in the Exim spec):
comma-separated items, double quotes protect commas and spaces, and the special items
``:fail:``, ``:defer:``, ``:blackhole:``, ``:unknown:`` and ``:include:``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from maildoctor.server.routing import Route

TARGET_KINDS = ("address", "pipe", "file", "fail", "defer", "blackhole", "unknown", "include", "local")


@dataclass(frozen=True, slots=True)
class AliasTarget:
    """One item of a redirection list.

    kind: address | pipe | file | fail | defer | blackhole | unknown | include | local
    value: the address, the pipe command (without the leading ``|``), the file path, the
    ``:fail:``/``:defer:`` message text, the ``:include:`` path, or the user name of a ``\\user``
    (deliver to the user's own mailbox, .forward only).
    """

    kind: str
    value: str = ""

    def render(self) -> str:
        if self.kind == "pipe":
            return f"|{self.value}"
        if self.kind in ("fail", "defer"):
            return f":{self.kind}: {self.value}".rstrip()
        if self.kind in ("blackhole", "unknown"):
            return f":{self.kind}:"
        if self.kind == "include":
            return f":include:{self.value}"
        if self.kind == "local":
            return f"\\{self.value}"
        return self.value


@dataclass(frozen=True, slots=True)
class AliasEntry:
    """One alias line: ``local_part@domain`` (``*`` is the domain's default address) -> targets.

    `file` is the path that was read (under the root), `line` is 1-based, `raw` the logical
    line as written (continuation lines joined with a space). `source` names the format.
    """

    domain: str  # "" for system-wide aliases (/etc/aliases, Postfix aliases)
    local_part: str
    targets: tuple[AliasTarget, ...]
    file: Path
    line: int
    raw: str
    source: str = "valiases"

    @property
    def address(self) -> str:
        return f"{self.local_part}@{self.domain}" if self.domain else self.local_part

    @property
    def is_default(self) -> bool:
        return self.local_part == "*"


# --- redirection list syntax -------------------------------------------------------------------

_SPECIAL = re.compile(r"^:(fail|defer|blackhole|unknown|include):", re.IGNORECASE)


def _split_items(text: str) -> Iterator[str]:
    """Split a redirection list at commas outside double quotes; :fail:/:defer: take the rest."""
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t\r\n,":
            i += 1
        if i >= n:
            return
        rest = text[i:]
        m = _SPECIAL.match(rest)
        if m and m.group(1).lower() in ("fail", "defer"):
            # The message of :fail:/:defer: is the whole rest of the list, commas included.
            yield rest.strip()
            return
        buf: list[str] = []
        quoted = False
        while i < n:
            c = text[i]
            if c == '"':
                quoted = not quoted
                buf.append(c)
            elif c == "\\" and quoted and i + 1 < n:
                buf.append(text[i + 1])
                i += 1
            elif c in ",\n" and not quoted:
                break
            else:
                buf.append(c)
            i += 1
        item = "".join(buf).strip()
        if item:
            yield item


def _unquote(item: str) -> str:
    if len(item) >= 2 and item[0] == '"' and item[-1] == '"':
        return item[1:-1]
    return item


def parse_target(item: str) -> AliasTarget:
    """Classify one redirection item (already split off its list)."""
    s = item.strip()
    m = _SPECIAL.match(s)
    if m:
        kind = m.group(1).lower()
        rest = _unquote(s[m.end() :].strip())
        return AliasTarget(kind, rest)
    # cPanel writes pipes both as "|cmd args" and |"cmd args"; Exim accepts both.
    s = _unquote(s)
    if s.startswith("|"):
        return AliasTarget("pipe", _unquote(s[1:].strip()))
    if s.startswith("/"):
        return AliasTarget("file", s)
    if s.startswith("\\"):
        return AliasTarget("local", s[1:])
    return AliasTarget("address", s)


def parse_targets(text: str) -> tuple[AliasTarget, ...]:
    """Parse a whole redirection list (the data of an alias line, or a plain .forward)."""
    return tuple(parse_target(item) for item in _split_items(text))


# --- line formats ----------------------------------------------------------------------------


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Yield (first line number, joined text) with lsearch/aliases continuation lines folded in.

    A line starting with white space continues the previous one; ``#`` lines and blank lines
    are skipped (a comment between continuation lines does not break the entry, as in Exim).
    """
    start, parts = 0, list[str]()
    for no, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if line[:1] in (" ", "\t") and parts:
            parts.append(stripped)
            continue
        if parts:
            yield start, " ".join(parts)
        start, parts = no, [line.rstrip()]
    if parts:
        yield start, " ".join(parts)


def _split_key(line: str, colon: bool) -> tuple[str, str] | None:
    """Split an lsearch/aliases line into key and data. Keys may be double-quoted."""
    s = line.strip()
    if s.startswith('"'):
        end = s.find('"', 1)
        if end < 0:
            return None
        key, rest = s[1:end], s[end + 1 :]
    else:
        m = re.match(r"[^\s:]+" if colon else r"\S+", s)
        if not m:
            return None
        key, rest = m.group(0), s[m.end() :]
    if not key or any(ord(c) < 32 or ord(c) == 127 for c in key):
        return None
    rest = rest.lstrip()
    if colon and rest.startswith(":"):
        rest = rest[1:]
    elif colon and not rest:
        return None
    return key, rest.strip()


def parse_alias_file(
    text: str, file: Path, domain: str = "", source: str = "valiases", colon: bool = True
) -> list[AliasEntry]:
    """Parse an alias file: ``key: targets`` (colon=True) or ``key targets`` (Postfix virtual).

    For valiases the key is ``local@domain`` (or ``*``); the entry's domain comes from the key
    when it has one, else from `domain`. Lines that are not ``key: data`` are skipped.
    """
    entries: list[AliasEntry] = []
    for no, line in _logical_lines(text):
        kv = _split_key(line, colon)
        if kv is None:
            continue
        key, data = kv
        local, dom = key, domain
        if "@" in key:
            local, _, dom = key.rpartition("@")
            if not local:  # Postfix virtual "@domain" catch-all
                local = "*"
        entries.append(
            AliasEntry(
                domain=dom.lower(),
                local_part=local if local == "*" else local.lower(),
                targets=parse_targets(data),
                file=file,
                line=no,
                raw=line.strip(),
                source=source,
            )
        )
    return entries


# --- readers under a root --------------------------------------------------------------------


def under(root: Path, server_path: str) -> Path:
    """The file a server path names inside `root` (``/etc/x`` -> ``ROOT/etc/x``)."""
    return root / server_path.lstrip("/")


def read_text(path: Path) -> str:
    """Read a configuration file as text; undecodable bytes are replaced, never fatal."""
    return path.read_bytes().decode("utf-8", errors="replace")


@lru_cache(maxsize=2048)
def _parse_cached(
    path: str, _mtime_ns: int, _size: int, domain: str, source: str, colon: bool
) -> tuple[AliasEntry, ...]:
    return tuple(parse_alias_file(read_text(Path(path)), Path(path), domain, source, colon))


def read_alias_file(path: Path, domain: str = "", source: str = "valiases", colon: bool = True) -> list[AliasEntry]:
    """parse_alias_file on a file, cached while the file's mtime and size stay the same.

    Routing a whole server looks the same files up thousands of times; this keeps it linear.
    """
    st = path.stat()
    return list(_parse_cached(str(path), st.st_mtime_ns, st.st_size, domain, source, colon))


def _domain_files(directory: Path, domain: str | None) -> list[Path]:
    if domain is not None:
        p = directory / domain.lower()
        return [p] if p.is_file() else []
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))


def read_valiases(root: Path, domain: str | None = None) -> list[AliasEntry]:
    """cPanel forwarders: ``ROOT/etc/valiases/DOMAIN`` (one file per domain)."""
    out: list[AliasEntry] = []
    for path in _domain_files(under(root, "/etc/valiases"), domain):
        out.extend(read_alias_file(path, domain=path.name.lower(), source="valiases"))
    return out


def read_vdomainaliases(root: Path, domain: str | None = None) -> list[AliasEntry]:
    """cPanel domain forwarders: ``ROOT/etc/vdomainaliases/DOMAIN`` maps the domain to another.

    Entries come back with local_part ``*`` and one address target: the destination domain.
    """
    out: list[AliasEntry] = []
    for path in _domain_files(under(root, "/etc/vdomainaliases"), domain):
        dom = path.name.lower()
        for no, line in _logical_lines(read_text(path)):
            kv = _split_key(line, True)
            target = kv[1] if kv else line.strip()
            target = target.strip().strip('"').lower()
            if target:
                entry = AliasEntry(
                    dom, "*", (AliasTarget("address", target),), path, no, line.strip(), "vdomainaliases"
                )
                out.append(entry)
    return out


def read_system_aliases(root: Path) -> list[AliasEntry]:
    """``ROOT/etc/aliases`` (Exim system_aliases router and Postfix alias_maps default)."""
    path = under(root, "/etc/aliases")
    if not path.is_file():
        return []
    return read_alias_file(path, source="aliases")


def read_directadmin_aliases(root: Path, domain: str | None = None) -> list[AliasEntry]:
    """DirectAdmin forwarders: ``ROOT/etc/virtual/DOMAIN/aliases``."""
    base = under(root, "/etc/virtual")
    if not base.is_dir():
        return []
    dirs = [base / domain.lower()] if domain else sorted(p for p in base.iterdir() if p.is_dir())
    out: list[AliasEntry] = []
    for d in dirs:
        path = d / "aliases"
        if path.is_file():
            out.extend(read_alias_file(path, domain=d.name.lower(), source="directadmin"))
    return out


_MAP_LINE = re.compile(r"^\s*(virtual_alias_maps|alias_maps)\s*=\s*(.*)$")


def postfix_map_files(root: Path) -> dict[str, list[str]]:
    """Server paths of Postfix ``virtual_alias_maps`` and ``alias_maps`` from main.cf.

    Only file-backed maps (hash, lmdb, btree, texthash, regexp is skipped) are returned; with no
    main.cf setting, Postfix's defaults apply when the files exist.
    """
    result: dict[str, list[str]] = {"virtual_alias_maps": [], "alias_maps": []}
    main_cf = under(root, "/etc/postfix/main.cf")
    if main_cf.is_file():
        for _no, line in _logical_lines(read_text(main_cf)):
            m = _MAP_LINE.match(line)
            if not m:
                continue
            for item in re.split(r"[\s,]+", m.group(2).strip()):
                kind, _, path = item.partition(":")
                if path.startswith("/") and kind in ("hash", "lmdb", "btree", "texthash", "dbm", "cdb"):
                    result[m.group(1)].append(path)
    if not result["virtual_alias_maps"] and under(root, "/etc/postfix/virtual").is_file():
        result["virtual_alias_maps"].append("/etc/postfix/virtual")
    if not result["alias_maps"] and main_cf.is_file() and under(root, "/etc/aliases").is_file():
        result["alias_maps"].append("/etc/aliases")
    return result


def read_postfix_virtual(root: Path) -> list[AliasEntry]:
    """Postfix ``virtual_alias_maps`` source files (``user@domain target, target``; ``@domain`` default)."""
    out: list[AliasEntry] = []
    for server_path in postfix_map_files(root)["virtual_alias_maps"]:
        path = under(root, server_path)
        if path.is_file():
            for e in read_alias_file(path, source="postfix-virtual", colon=False):
                # A key without @ in virtual(5) is a domain line for virtual alias domains: skip.
                if e.domain:
                    out.append(e)
    return out


def read_postfix_aliases(root: Path) -> list[AliasEntry]:
    """Postfix ``alias_maps`` source files other than /etc/aliases (read by read_system_aliases)."""
    out: list[AliasEntry] = []
    for server_path in postfix_map_files(root)["alias_maps"]:
        if server_path == "/etc/aliases":
            continue
        path = under(root, server_path)
        if path.is_file():
            out.extend(read_alias_file(path, source="postfix-aliases"))
    return out


def read_domain_aliases(root: Path, domain: str | None = None) -> list[AliasEntry]:
    """Every per-domain alias entry: cPanel valiases, DirectAdmin and Postfix virtual, in that order."""
    out = read_valiases(root, domain) + read_directadmin_aliases(root, domain)
    virtual = read_postfix_virtual(root)
    out.extend(e for e in virtual if domain is None or e.domain == domain.lower())
    return out


def read_all_aliases(root: Path, domain: str | None = None) -> list[AliasEntry]:
    """Every alias entry maildoctor knows how to read under `root` (system ones only without --domain)."""
    out = read_domain_aliases(root, domain) + read_vdomainaliases(root, domain)
    if domain is None:
        out.extend(read_system_aliases(root))
        out.extend(read_postfix_aliases(root))
    return out


def lookup_address(root: Path, address: str) -> Route:
    """How this server routes `address`: see :func:`maildoctor.server.routing.route_address`."""
    from maildoctor.server.routing import route_address

    return route_address(root, address)
