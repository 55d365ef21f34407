"""The cause on this server of a failed recipient, read from the files under a server root.

What Sisimai cannot say: that "No such person at this address" came from a ``:fail:`` forwarder
(file and line), or from the domain's default address ``*: :fail:``, as opposed to a mailbox
that really does not exist; which pipe returned which exit code and what that code means;
the quota of a full mailbox; which blocklist a rejection names; the SPF check to run.
Aliases and routing come from ``maildoctor.server`` (the one valiases reader).
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from maildoctor import kb
from maildoctor.bounce.loglookup import LogLine, lines_for, read_log_lines
from maildoctor.bounce.model import Bounce, LocalCause, Recipient
from maildoctor.server.accounts import account_for_domain, find_mailbox, is_local_domain
from maildoctor.server.aliases import under
from maildoctor.server.routing import Delivery, route_address

_PIPE = re.compile(r"Child process of (\S+) transport returned (\d+)(?: \(([^)]*)\))?(?: from command: (\S+))?", re.I)
_FAIL_TEXT = re.compile(r"No such person at this address|:fail:", re.I)
_IPV4 = re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])")
_SPF = re.compile(r"\bSPF\b|sender policy framework", re.I)
_SPF_DOMAIN = re.compile(
    r"(?:domain of|domain|identity|sender|mfrom=|mailfrom=|send for)\s*<?[\w.+-]*@?([A-Za-z0-9.-]+\.[A-Za-z]{2,})", re.I
)
_BLOCKLISTS = (
    ("Spamhaus", re.compile(r"spamhaus|\bzen\.|sbl-xbl|\bxbl\b|\bpbl\b", re.I)),
    ("SpamCop", re.compile(r"spamcop", re.I)),
    ("Barracuda", re.compile(r"barracuda", re.I)),
    ("SORBS", re.compile(r"\bsorbs\b", re.I)),
    ("UCEPROTECT", re.compile(r"uceprotect", re.I)),
    ("Abusix", re.compile(r"abusix", re.I)),
    ("CBL/abuseat", re.compile(r"abuseat|\bcbl\b", re.I)),
    ("PSBL", re.compile(r"\bpsbl\b|surriel", re.I)),
    ("Mailspike", re.compile(r"mailspike", re.I)),
    ("Invaluement", re.compile(r"invaluement", re.I)),
    ("Cloudmark", re.compile(r"cloudmark", re.I)),
    ("Proofpoint", re.compile(r"proofpoint", re.I)),
    ("Microsoft (S3150/banned sending IP)", re.compile(r"S3150|banned sending ip", re.I)),
)


def _exit_meaning(code: int) -> tuple[str, str]:
    try:
        entry = kb.load("forwarders").by_id(f"exit.{code}")
    except KeyError:
        return "", ""
    return str(entry.get("name", "")), str(entry.get("meaning", ""))


def _fail_cause(d: Delivery) -> LocalCause:
    hop = d.hops[-1] if d.hops else None
    file = str(hop.file) if hop and hop.file else ""
    line = hop.line if hop else None
    where = f"{file}:{line}" if file else "the alias files"
    text = d.value or "(no message)"
    if hop is not None and hop.via == "valiases-default":
        return LocalCause(
            kind="default_fail",
            summary=f"{d.chain[0]} has no mailbox and no forwarder; the domain's default address fails it "
            f"('*: :fail: {text}') at {where}",
            file=file, line=line, detail={"fail_text": text, "raw": hop.raw if hop else ""},
            fix=(f"If {d.chain[0]} should receive mail, create the mailbox or a forwarder for it.",
                 f"To accept unknown addresses instead, change the default address at {where} "
                 "(cPanel: Email > Default Address)."),
        )  # fmt: skip
    return LocalCause(
        kind="fail_forwarder",
        summary=f"{d.chain[0]} is a :fail: forwarder ('{text}') at {where}: the server rejects it on purpose",
        file=file, line=line, detail={"fail_text": text, "raw": hop.raw if hop else "", "chain": list(d.chain)},
        fix=(f"Remove or change the :fail: entry at {where} if {d.chain[0]} should receive mail "
             "(cPanel: Email > Forwarders).",),
    )  # fmt: skip


def _route_cause(root: Path, address: str) -> LocalCause | None:
    route = route_address(root, address)
    for d in route.deliveries:
        if d.kind == "fail":
            return _fail_cause(d)
    for d in route.deliveries:
        if d.kind == "unrouteable":
            return LocalCause(
                kind="missing_mailbox",
                summary=f"{address} has no mailbox, no forwarder and no default address on this server",
                detail={"domain": address.rpartition("@")[2]},
                fix=(f"Create the mailbox or a forwarder for {address}, or tell the sender the address is wrong.",),
            )
        if d.kind == "mailbox" and d.exists is False:
            return LocalCause(
                kind="missing_mailbox",
                summary=f"{address} is listed but its maildir {d.value} does not exist",
                file=d.value, fix=(f"Recreate the mailbox of {address} (its directory is missing).",),
            )
    return None


def _pipe_cause(root: Path, r: Recipient, log: list[LogLine]) -> LocalCause | None:
    failed = lines_for(log, r.address, ("**",))
    m = _PIPE.search(r.diagnostic)
    log_line = None
    if not m:
        for ln in failed:
            m = _PIPE.search(ln.text)
            if m:
                log_line = ln
                break
    is_pipe = r.target.startswith(("pipe to |", "|")) or any(" ** |" in ln.text for ln in failed)
    if not m and is_pipe:
        return _pipe_output_cause(r, failed)
    if not m:
        return None
    code = int(m.group(2))
    name, meaning = _exit_meaning(code)
    command = r.target.removeprefix("pipe to ").lstrip("|") or m.group(4) or ""
    file, line = "", None
    if r.address and "@" in r.address:
        for d in route_address(root, r.address).deliveries:
            if d.kind == "pipe" and d.hops:
                hop = d.hops[-1]
                file, line = (str(hop.file) if hop.file else ""), hop.line
                command = command or d.value
                break
    where = f" (set at {file}:{line})" if file else ""
    output = _pipe_output(r)
    return LocalCause(
        kind="pipe",
        summary=f"the pipe {command or '(unknown command)'}{where} exited with status {code}"
        + (f" ({name})" if name else "") + (f": {meaning}" if meaning else "")
        + (f" It printed: {output!r}" if output else ""),
        file=file, line=line,
        detail={"exit_code": code, "exit_name": name, "meaning": meaning, "command": command,
                "transport": m.group(1), "exim_text": m.group(3) or "", "output": output,
                "log": f"{log_line.file}:{log_line.line}: {log_line.text}" if log_line else ""},
        fix=(f"maildoctor pipe-test '|{command or 'COMMAND'}' runs it safely as Exim would and shows its output",
             "Check the interpreter in its first line and that the script prints nothing."),
    )  # fmt: skip


def _pipe_output(r: Recipient) -> str:
    """What the pipe printed (Exim quotes it after the target in the bounce)."""
    text = r.diagnostic
    if r.target and text.startswith(r.target):
        text = text[len(r.target) :]
    text = text.replace("local delivery failed", "").strip()
    return "" if _PIPE.search(text) else text[:300]


def _pipe_output_cause(r: Recipient, failed: list[LogLine]) -> LocalCause:
    command = r.target.removeprefix("pipe to ").lstrip("|")
    output = _pipe_output(r)
    generated = next((ln for ln in failed if "return message generated" in ln.text), None)
    if generated is not None:
        summary = (f"the pipe {command} printed output, and the pipe transport returns any output to the sender "
                   f"as a failure (return_output), even when the script exits 0: {output!r}")
        fix: tuple[str, ...] = (f"Make {command} print nothing (send errors to a log file, fix PHP notices).",)
    else:
        summary = f"the pipe {command} failed" + (f"; it printed: {output!r}" if output else "")
        fix = (f"maildoctor pipe-test '|{command}' runs it safely as Exim would and shows its output",)
    ln = generated or (failed[0] if failed else None)
    return LocalCause(
        kind="pipe_output" if generated is not None else "pipe",
        summary=summary,
        file=ln.file if ln else "", line=ln.line if ln else None,
        detail={"command": command, "output": output, "log": ln.text if ln else ""},
        fix=fix,
    )  # fmt: skip


def _deferral_cause(r: Recipient, log: list[LogLine], queue_id: str) -> LocalCause | None:
    deferred = lines_for(log, r.address, ("==",))
    if not deferred:
        return None
    last = deferred[-1]
    reason = last.text.split(" == ", 1)[-1]
    return LocalCause(
        kind="deferral",
        summary=f"this server could not deliver it yet ({len(deferred)} attempt(s) logged); last: {reason}",
        file=last.file, line=last.line,
        detail={"attempts": len(deferred), "last": last.text},
        fix=(f"maildoctor trace {queue_id} shows every attempt; the queue retries on its own.",),
    )  # fmt: skip


def _quota_cause(root: Path, address: str) -> LocalCause | None:
    box = find_mailbox(root, address)
    if box is None:
        return None
    local, _, domain = address.lower().rpartition("@")
    detail: dict[str, object] = {"maildir": str(box.path)}
    acct = account_for_domain(root, domain)
    quota_file = under(root, f"{acct.home}/etc/{domain}/quota") if acct else None
    if quota_file is not None and quota_file.is_file():
        for no, line in enumerate(quota_file.read_text(errors="replace").splitlines(), 1):
            user, _, value = line.partition(":")
            if user.strip().lower() == local and value.strip().isdigit():
                detail.update(quota_bytes=int(value.strip()), quota_file=str(quota_file), quota_line=no)
    size_file = Path(box.path) / "maildirsize"
    if size_file.is_file():
        lines = size_file.read_text(errors="replace").splitlines()
        used = 0
        for ln in lines[1:]:
            parts = ln.split()
            if parts and parts[0].lstrip("-").isdigit():
                used += int(parts[0])
        detail["used_bytes"] = used
        detail.setdefault("quota_spec", lines[0] if lines else "")
    quota, in_use = detail.get("quota_bytes"), detail.get("used_bytes")
    size = f"{in_use} of {quota} bytes" if quota is not None and in_use is not None else "over its quota"
    return LocalCause(
        kind="quota",
        summary=f"the mailbox of {address} ({box.path}) is full: {size}",
        file=str(detail.get("quota_file", "")), line=detail.get("quota_line"),  # type: ignore[arg-type]
        detail=detail,
        fix=(f"Raise the quota of {address} or delete old mail (cPanel: Email Accounts > Manage).",),
    )


_REMOTE_HOST = re.compile(r"\bhost \S+ \[([0-9a-fA-F.:]+)\]")


def _sender_ips(diagnostic: str) -> list[str]:
    """IPs in the text, without the remote server's own ("host mx [IP]")."""
    remote = set(_REMOTE_HOST.findall(diagnostic))
    return [ip for ip in _IPV4.findall(diagnostic) if ip not in remote]


def _spf_cause(r: Recipient, bounce: Bounce) -> LocalCause:
    ips = _sender_ips(r.diagnostic)
    sender = bounce.original_from
    sm = re.search(r"[\w.+-]+@([\w.-]+)", sender)
    domain = sm.group(1) if sm else ""
    dm = _SPF_DOMAIN.search(r.diagnostic)
    if not domain and dm:
        domain = dm.group(1)
    ip = ips[0] if ips else "IP"
    who = sm.group(0) if sm else (f"postmaster@{domain}" if domain else "SENDER")
    return LocalCause(
        kind="spf",
        summary=f"the receiver rejected the message on SPF: check {ip} for {who}",
        detail={"ip": ips[0] if ips else "", "sender": who if sm or domain else "", "domain": domain},
        fix=(f"maildoctor spf check {ip} {who}",
             "Add this server's outgoing IP to the domain's SPF record, or send through a host it lists."),
    )  # fmt: skip


def _blocklist_cause(r: Recipient) -> LocalCause | None:
    names = [name for name, pat in _BLOCKLISTS if pat.search(r.diagnostic)]
    if not names:
        return None
    ips = _sender_ips(r.diagnostic)
    listed = ", ".join(names)
    return LocalCause(
        kind="blocklist",
        summary=f"the receiver names {listed}" + (f" for {ips[0]}" if ips else ""),
        detail={"lists": names, "ip": ips[0] if ips else ""},
        fix=(f"Look up {ips[0] if ips else 'the sending IP'} on {listed} and follow its delisting procedure.",
             "Find and stop what sent spam from that IP first (maildoctor doctor, outbreak checks)."),
    )  # fmt: skip


def lookup_local_cause(
    root: Path | None, r: Recipient, bounce: Bounce, log: list[LogLine] | None = None
) -> LocalCause | None:
    """The local cause of one failed recipient, or None when nothing says more than the bounce.

    Without a root, only what the bounce itself tells: the SPF check to run, the blocklist named.
    """
    if r.reason in ("delivered", "vacation", "feedback") or not r.address:
        return None
    if root is None:
        return _text_cause(r, bounce)
    log = log if log is not None else read_log_lines(root, bounce.original_queue_id)
    pipe = _pipe_cause(root, r, log)
    if pipe is not None:
        return pipe
    if bounce.kind == "delay" or r.action == "delayed":
        deferral = _deferral_cause(r, log, bounce.original_queue_id)
        if deferral is not None:
            return deferral
    domain = r.address.rpartition("@")[2].lower()
    local = bool(domain) and is_local_domain(root, domain)
    if local and (_FAIL_TEXT.search(r.diagnostic) or r.reason in ("userunknown", "filtered", "onhold", "rejected")):
        cause = _route_cause(root, r.address)
        if cause is not None:
            return cause
    if r.reason == "mailboxfull" and local:
        cause = _quota_cause(root, r.address)
        if cause is not None:
            return cause
    return _text_cause(r, bounce)


def _text_cause(r: Recipient, bounce: Bounce) -> LocalCause | None:
    if r.reason == "authfailure" or _SPF.search(r.diagnostic):
        return _spf_cause(r, bounce)
    if r.reason in ("blocked", "badreputation", "spamdetected", "rejected", "securityerror"):
        return _blocklist_cause(r)
    return None


def _server_path(root: Path, cause: LocalCause | None) -> LocalCause | None:
    """Show files as the server sees them (/etc/valiases/DOMAIN), not as paths under --root."""
    if cause is None or not cause.file:
        return cause
    try:
        rel = Path(cause.file).resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return cause
    shown = "/" + str(rel)
    if shown == cause.file:
        return cause
    return replace(cause, file=shown, summary=cause.summary.replace(cause.file, shown),
                   fix=tuple(f.replace(cause.file, shown) for f in cause.fix))  # fmt: skip


def add_local_causes(root: Path | None, bounce: Bounce) -> Bounce:
    """The bounce with each failed recipient's local cause filled in (root None: the bounce's own words)."""
    if bounce.kind not in ("failure", "delay"):
        return bounce
    log = read_log_lines(root, bounce.original_queue_id) if root is not None else []
    recipients = []
    for r in bounce.recipients:
        cause = lookup_local_cause(root, r, bounce, log)
        recipients.append(replace(r, local_cause=_server_path(root, cause) if root is not None else cause))
    return replace(bounce, recipients=tuple(recipients))
