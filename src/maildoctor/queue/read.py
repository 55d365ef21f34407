"""Finding and reading the queue of a server root: Exim's spool, or Postfix through postqueue -j."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from maildoctor.queue.exim_spool import find_exim_spool, read_exim_spool
from maildoctor.queue.model import QueueRead
from maildoctor.queue.postqueue import parse_postqueue_json


def read_queue(root: Path) -> QueueRead | None:
    """The queue under `root`: the Exim spool read directly; on a live Postfix server (root /)
    the output of `postqueue -j`. None when the root has no queue maildoctor can read."""
    spool = find_exim_spool(root)
    if spool is not None:
        return read_exim_spool(spool)
    if root.resolve() == Path("/") and (root / "etc/postfix/main.cf").is_file():
        exe = shutil.which("postqueue")
        if exe is None:
            return QueueRead((), ("postfix server but no postqueue command",), "postqueue", "postqueue -j")
        try:
            proc = subprocess.run([exe, "-j"], capture_output=True, text=True, timeout=120, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return QueueRead((), (f"postqueue -j failed: {exc}",), "postqueue", "postqueue -j")
        if proc.returncode != 0:
            return QueueRead((), (f"postqueue -j failed: {proc.stderr.strip()[:200]}",), "postqueue", "postqueue -j")
        return parse_postqueue_json(proc.stdout)
    return None


LOG_CANDIDATES = ("var/log/exim_mainlog", "var/log/exim4/mainlog", "var/log/exim/main.log", "var/log/exim/mainlog")


def find_main_log(root: Path) -> Path | None:
    """The Exim main log of a server root (cPanel, Debian, RHEL layouts)."""
    for rel in LOG_CANDIDATES:
        if (root / rel).is_file():
            return root / rel
    return None
