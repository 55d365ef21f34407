"""The containment plan: exact commands for each detected source, and `--apply` for the queue part.

The plan is printed by default and changes nothing. `apply_queue_action` only ever touches the
queue: it freezes (Exim -Mf / Postfix hold) by default; removal first copies every message's
spool files (Exim) or its postcat dump (Postfix) to a save directory, and stops if that fails.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from maildoctor.outbreak.report import SourceReport

MAX_INLINE_IDS = 20


@dataclass(frozen=True, slots=True)
class ServerInfo:
    mta: str  # exim | postfix
    cpanel: bool
    csf: bool
    spool: str | None
    domain_owner: dict[str, str] = field(default_factory=dict)  # domain -> cPanel user


def read_server_info(root: Path, mta: str, spool: str | None) -> ServerInfo:
    owners: dict[str, str] = {}
    path = root / "etc/userdomains"
    try:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            dom, sep, user = line.partition(":")
            if sep and user.strip() and user.strip() != "nobody":
                owners[dom.strip().lower()] = user.strip()
    except OSError:
        pass
    cpanel = bool(owners) or (root / "usr/local/cpanel").is_dir() or (root / "var/cpanel").is_dir()
    return ServerInfo(mta, cpanel, (root / "etc/csf/csf.conf").is_file(), spool, owners)


def _cpanel_user(rep: SourceReport, info: ServerInfo) -> str | None:
    if rep.kind in ("local_user",):
        return rep.value
    if rep.kind == "script" and rep.value.startswith("/home/"):
        return rep.value.split("/")[2] or None
    if "@" in rep.value:
        return info.domain_owner.get(rep.value.rsplit("@", 1)[1].lower())
    return None


def _selector(rep: SourceReport) -> str:
    q = shlex.quote
    if rep.kind == "sender":
        return f"exipick -i {q('$sender_address eq ' + rep.value)}"
    if rep.kind == "auth_login":
        return f"exipick -i {q('$authenticated_id eq ' + rep.value)}"
    if rep.kind == "client_ip":
        return f"exipick -i {q('$sender_host_address eq ' + rep.value)}"
    user = (
        rep.value if rep.kind == "local_user" else (rep.value.split("/")[2] if rep.value.startswith("/home/") else "")
    )
    return f"exipick -i {q('$originator_login eq ' + user)}"


def plan_commands(rep: SourceReport, ids: Sequence[str], info: ServerInfo) -> list[str]:
    """Exact commands, in the order an admin runs them: stop the queue, stop the source, clean up."""
    q = shlex.quote
    steps: list[str] = []
    if info.mta == "postfix":
        if ids:
            steps.append(f"hold its {len(ids)} queued messages: postsuper -h - <<< {q(chr(10).join(ids))}")
        steps.append(
            "save, then delete them: for id in $(postqueue -j | ...); do postcat -q $id > /root/saved-$id; done"
        )
    else:
        if ids and len(ids) <= MAX_INLINE_IDS:
            steps.append(f"freeze its {len(ids)} queued messages: exim -Mf {' '.join(ids)}")
        elif ids and rep.kind in ("script", "client_ip"):
            steps.append(
                f"freeze exactly its {len(ids)} queued messages: maildoctor outbreak --apply "
                f"(or all of the account's: {_selector(rep)} | xargs -r exim -Mf)"
            )
        else:
            steps.append(f"freeze its queued messages: {_selector(rep)} | xargs -r exim -Mf")
        steps.append(f"check one before removing: exim -Mvh {ids[0] if ids else 'MESSAGE-ID'}")
        spool = info.spool or "/var/spool/exim"
        steps.append(
            "save, then remove them: mkdir -p /root/maildoctor-saved && "
            f"{_selector(rep)} | while read id; do cp -p {spool}/input/$id-[HD] {spool}/input/?/$id-[HD] "
            "/root/maildoctor-saved/ 2>/dev/null; exim -Mrm $id; done"
        )
    user = _cpanel_user(rep, info)
    if rep.kind == "script":
        steps.append(f"lock the script's directory: chmod 000 {q(rep.value)}")
        steps.append(
            f"find the sending script: ls -la {q(rep.value)}; "
            f"grep -rlE 'mail\\(|fsockopen|base64_decode' {q(rep.value)}"
        )
    if rep.kind == "auth_login":
        if info.cpanel and user and "@" in rep.value:
            local, dom = rep.value.split("@", 1)
            steps.append(
                f"reset the mailbox password: uapi --user={q(user)} Email passwd_pop email={q(local)} "
                f"domain={q(dom)} password='NEW-LONG-RANDOM-PASSWORD'"
            )
        else:
            steps.append(f"reset the password of {rep.value} in the mailbox backend")
        steps.append(f"end its open sessions: doveadm kick {q(rep.value)}")
        if rep.sample_ips:
            block = "csf -d" if info.csf else "iptables -I INPUT -p tcp -m multiport --dports 25,465,587 -j DROP -s"
            steps.append(f"block the IPs that used it: for ip in {' '.join(rep.sample_ips)}; do {block} $ip; done")
    if rep.kind == "client_ip":
        if info.csf:
            steps.append(f"block the client: csf -d {q(rep.value)} 'maildoctor outbreak'")
        else:
            steps.append(
                f"block the client: iptables -I INPUT -s {q(rep.value)} -p tcp -m multiport --dports 25,465,587 -j DROP"
            )
    if info.cpanel and user and rep.kind in ("script", "local_user", "auth_login", "sender"):
        steps.append(f"suspend the cPanel account's outgoing mail: whmapi1 suspend_outgoing_email user={q(user)}")
    return steps


@dataclass(frozen=True, slots=True)
class ApplyResult:
    action: str  # freeze | remove
    done: tuple[str, ...]
    failed: tuple[str, ...]
    saved_to: str | None
    messages: tuple[str, ...]  # one line per step, for the report


def apply_queue_action(
    ids: Sequence[str],
    info: ServerInfo,
    remove: bool,
    save_dir: Path | None,
    exim_cmd: Sequence[str] = ("exim",),
) -> ApplyResult:
    """Freeze (default) or save-then-remove exactly these queued messages."""
    action = "remove" if remove else "freeze"
    if not ids:
        return ApplyResult(action, (), (), None, ("no queued messages to act on",))
    log: list[str] = []
    if remove:
        if save_dir is None:
            raise ValueError("removal needs a save directory")
        save_dir.mkdir(parents=True, exist_ok=True)
        _save_copies(ids, info, save_dir, log)
    done: list[str] = []
    failed: list[str] = []
    for i in range(0, len(ids), 100):
        batch = list(ids[i : i + 100])
        if info.mta == "postfix":
            argv = ["postsuper", "-d" if remove else "-h", "-"]
            proc = subprocess.run(argv, input="\n".join(batch) + "\n", capture_output=True, text=True, check=False)
        else:
            argv = [*exim_cmd, "-Mrm" if remove else "-Mf", *batch]
            proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        out = proc.stdout + proc.stderr
        for mid in batch:
            (failed if proc.returncode != 0 and mid not in out else done).append(mid)
        log.append(f"{shlex.join(argv[:4])} ... ({len(batch)} ids): exit {proc.returncode}")
    return ApplyResult(action, tuple(done), tuple(failed), str(save_dir) if remove else None, tuple(log))


def _save_copies(ids: Sequence[str], info: ServerInfo, save_dir: Path, log: list[str]) -> None:
    if info.mta == "postfix":
        for mid in ids:
            with (save_dir / f"{mid}.eml").open("wb") as fh:
                proc = subprocess.run(["postcat", "-q", mid], stdout=fh, check=False)
            if proc.returncode != 0:
                raise OSError(f"postcat -q {mid} failed; nothing was removed")
        log.append(f"saved {len(ids)} messages with postcat to {save_dir}")
        return
    if info.spool is None:
        raise OSError("spool directory unknown; cannot save copies, nothing was removed")
    base = Path(info.spool) / "input"
    for mid in ids:
        copied = 0
        for cand in (base, base / mid[5]):
            for suffix in ("-H", "-D"):
                src = cand / f"{mid}{suffix}"
                if src.is_file():
                    shutil.copy2(src, save_dir / src.name)
                    copied += 1
        if copied < 2:
            raise OSError(f"could not save both spool files of {mid}; nothing was removed")
    log.append(f"saved the spool files of {len(ids)} messages to {save_dir}")
