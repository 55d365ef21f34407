"""After the scenarios: a stable server-root snapshot and the classified messages in the maildirs."""

from __future__ import annotations

import email
import email.policy
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from . import topology as t


def snapshot(live: Path, dest: Path) -> Path:
    """Copy the live tree (overlay upper layers) to `dest`, leaving out overlay whiteouts and sockets."""

    def ignore(directory: str, names: list[str]) -> list[str]:
        skipped = []
        for name in names:
            mode = Path(directory, name).lstat().st_mode
            if stat.S_ISCHR(mode) or stat.S_ISSOCK(mode) or stat.S_ISFIFO(mode):
                skipped.append(name)
        return skipped

    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(live, dest, symlinks=True, ignore=ignore)
    return dest


@dataclass(frozen=True)
class MailFile:
    path: Path
    kind: str  # bounce | delay | message
    reporting_mta: str  # exim | postfix | "" for ordinary messages


def classify(path: Path) -> MailFile:
    """A DSN is multipart/report; delivery-status Action says failed or delayed; the MTA from its text."""
    raw = path.read_bytes()
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    if msg.get_content_type() != "multipart/report":
        return MailFile(path, "message", "")
    action = "failed"
    for part in msg.walk():
        if part.get_content_type() == "message/delivery-status":
            text = part.as_string().lower()
            if "action: delayed" in text and "action: failed" not in text:
                action = "delayed"
    mta = "postfix" if b"Postfix" in raw or b"MAILER-DAEMON@" + t.POSTFIX_HOST.encode() in raw else "exim"
    return MailFile(path, "bounce" if action == "failed" else "delay", mta)


def maildir_messages(base: Path) -> list[Path]:
    """Every message file under new/ and cur/ of every maildir below base, oldest first."""
    found = [p for p in base.rglob("*") if p.is_file() and p.parent.name in ("new", "cur")]
    return sorted(found, key=lambda p: (p.stat().st_mtime, p.name))
