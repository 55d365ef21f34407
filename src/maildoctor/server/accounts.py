"""Accounts, local domains and mailboxes under a server root.

cPanel: /etc/localdomains (domains delivered here), /etc/userdomains (``domain: user``),
mailboxes listed in /home/USER/etc/DOMAIN/passwd with maildirs in /home/USER/mail/DOMAIN/LOCAL/,
the account's own mailbox in /home/USER/mail/. DirectAdmin: /etc/virtual/domainowners and
/etc/virtual/DOMAIN/passwd. Plain Exim/Postfix: system users from /etc/passwd.
Nothing here executes anything; only files under `root` are read.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from maildoctor.server.aliases import _logical_lines, _split_key, read_text, under


@dataclass(frozen=True, slots=True)
class Account:
    """A Unix account as the server sees it (from ROOT/etc/passwd, else from its home directory)."""

    name: str
    uid: int | None
    gid: int | None
    home: str  # server path, e.g. /home/alice


@dataclass(frozen=True, slots=True)
class Mailbox:
    address: str
    path: Path  # maildir under the root
    exists: bool  # the maildir (or mbox) is present
    listed_in: Path | None = None  # the passwd file that declares it (cPanel/DirectAdmin)
    line: int | None = None


@lru_cache(maxsize=4096)
def _lines_cached(path: str, _mtime_ns: int, _size: int) -> tuple[tuple[int, str], ...]:
    return tuple(_logical_lines(read_text(Path(path))))


def _lines(path: Path) -> tuple[tuple[int, str], ...]:
    """Logical lines of a small config file, cached while its mtime and size stay the same."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return ()
    if not path.is_file():
        return ()
    return _lines_cached(str(path), st.st_mtime_ns, st.st_size)


def read_localdomains(root: Path) -> frozenset[str]:
    """Domains this server delivers locally (cPanel localdomains, DirectAdmin domains list)."""
    out: set[str] = set()
    for name in ("/etc/localdomains", "/etc/virtualdomains", "/etc/virtual/domains"):
        for _no, line in _lines(under(root, name)):
            out.add(line.strip().split()[0].rstrip(":").lower())
    return frozenset(out)


def read_userdomains(root: Path) -> dict[str, str]:
    """Domain -> owning account (cPanel /etc/userdomains, DirectAdmin /etc/virtual/domainowners)."""
    out: dict[str, str] = {}
    for name in ("/etc/userdomains", "/etc/virtual/domainowners"):
        for _no, line in _lines(under(root, name)):
            kv = _split_key(line, True)
            if kv and kv[1] and kv[0] != "*":
                out.setdefault(kv[0].lower(), kv[1].split()[0])
    return out


def read_passwd(root: Path) -> dict[str, Account]:
    """System accounts from ROOT/etc/passwd."""
    out: dict[str, Account] = {}
    for _no, line in _lines(under(root, "/etc/passwd")):
        parts = line.split(":")
        if len(parts) >= 6 and parts[2].isdigit() and parts[3].isdigit():
            out[parts[0]] = Account(parts[0], int(parts[2]), int(parts[3]), parts[5])
    return out


def find_account(root: Path, user: str) -> Account | None:
    """The account `user`: from ROOT/etc/passwd if listed, else /home/USER and its owner."""
    acct = read_passwd(root).get(user)
    if acct:
        return acct
    home = under(root, f"/home/{user}")
    if home.is_dir():
        st = home.stat()
        return Account(user, st.st_uid, st.st_gid, f"/home/{user}")
    return None


def account_for_domain(root: Path, domain: str) -> Account | None:
    user = read_userdomains(root).get(domain.lower())
    return find_account(root, user) if user else None


def is_local_domain(root: Path, domain: str) -> bool:
    d = domain.lower()
    return d in read_localdomains(root) or d in read_userdomains(root)


_PASSWD_LOCAL = re.compile(r"^([^:\s]+):")


def find_mailbox(root: Path, address: str) -> Mailbox | None:
    """The mailbox that receives `address` on this server, or None when there is none.

    cPanel: LOCAL listed in /home/USER/etc/DOMAIN/passwd or a maildir /home/USER/mail/DOMAIN/LOCAL;
    the account's own address (USER@DOMAIN of its own domain) goes to /home/USER/mail.
    DirectAdmin: /etc/virtual/DOMAIN/passwd. Otherwise a system user with a home directory.
    """
    local, _, domain = address.lower().rpartition("@")
    acct = account_for_domain(root, domain) if domain else None
    if acct:
        home = under(root, acct.home)
        listing = home / "etc" / domain / "passwd"
        maildir = home / "mail" / domain / local
        for no, line in _lines(listing):
            m = _PASSWD_LOCAL.match(line)
            if m and m.group(1).lower() == local:
                return Mailbox(address, maildir, maildir.is_dir(), listing, no)
        if maildir.is_dir():
            return Mailbox(address, maildir, True)
        if local == acct.name.lower():
            own = home / "mail"
            return Mailbox(address, own, own.is_dir())
    da_listing = under(root, f"/etc/virtual/{domain}/passwd")
    for no, line in _lines(da_listing):
        m = _PASSWD_LOCAL.match(line)
        if m and m.group(1).lower() == local and acct:
            path = under(root, f"{acct.home}/imap/{domain}/{local}/Maildir")
            return Mailbox(address, path, path.is_dir(), da_listing, no)
    if not acct:
        return system_mailbox(root, local)
    return None


def system_mailbox(root: Path, user: str) -> Mailbox | None:
    """A system user's mailbox (Debian localuser router: the user must exist in passwd)."""
    acct = read_passwd(root).get(user)
    if acct is None:
        return None
    path = under(root, f"/var/mail/{user}")
    return Mailbox(user, path, path.exists() or under(root, acct.home).is_dir())


def owner_uid(path: Path) -> int | None:
    try:
        return os.stat(path).st_uid
    except OSError:
        return None


def qualify_domain(root: Path) -> str:
    """The domain Exim adds to a bare local part: /etc/mailname, else /etc/hostname, else ""."""
    for name in ("/etc/mailname", "/etc/hostname"):
        for _no, line in _lines(under(root, name)):
            value = line.strip().lower()
            if "." in value:
                return value
    return ""
