"""`maildoctor outlook CODE_OR_TEXT`: what an Outlook 0x800CCCxx error means and, with --server, which cause it is."""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from maildoctor.cli.common import dns_server_option, emit, format_option
from maildoctor.codes.diagnose import CONFIRMED, LIKELY, POSSIBLE, RULED_OUT, Cause, best, diagnose
from maildoctor.codes.logscan import read_client_activity
from maildoctor.codes.outlook import code_from_phrases, describe, lookup_code, parse_outlook_text
from maildoctor.errors import InputError, UsageError
from maildoctor.model import Evidence, Finding, Severity

_ADDRESS = re.compile(r"^[^@\s<>]+@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+$")
_SEVERITY = {CONFIRMED: Severity.WARNING, LIKELY: Severity.WARNING, POSSIBLE: Severity.INFO, RULED_OUT: Severity.OK}


def _read_text(args: tuple[str, ...]) -> str:
    if args == ("-",):
        data = sys.stdin.read(200_000)
        if not data.strip():
            raise InputError("stdin: empty; paste the Outlook error text")
        return data
    text = " ".join(args).strip()
    if not text:
        raise UsageError("give an error code (0x800CCC0E) or the whole Outlook error text ('-' reads stdin)")
    return text


def _cause_finding(code: str, c: Cause) -> Finding:
    return Finding(
        id=f"outlook.cause.{c.cause}",
        severity=_SEVERITY[c.verdict],
        title=f"{c.verdict.replace('_', ' ').capitalize()}: {c.text}",
        explanation=c.detail,
        evidence=tuple(Evidence("probe", e) for e in c.evidence),
        fix=tuple(c.fix) if c.verdict in (CONFIRMED, LIKELY) else (),
        subject=code,
    )


@click.command("outlook")
@click.argument("code_or_text", nargs=-1)
@click.option("--server", default=None, help="Mail server to check live (only this host is contacted).")
@click.option("--user", default="", help="The client's e-mail address (sender for the checks, filter for --log).")
@click.option("--log", "log_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Server mail log: show this client's attempts (failed logins, rejections).")
@click.option("--client-ip", default="", help="With --log: also match the client's IP address.")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port Outlook uses (overrides the text).")
@click.option("--timeout", type=click.FloatRange(0.2, 30.0), default=3.0, show_default=True,
              help="Seconds per network step.")
@dns_server_option
@format_option
def command(code_or_text: tuple[str, ...], server: str | None, user: str, log_path: Path | None, client_ip: str,
            port: int | None, timeout: float, dns_server: str | None, fmt: str) -> int:
    """Explain an Outlook error (a code or the whole pasted error text) and find its cause."""
    text = _read_text(code_or_text)
    err = parse_outlook_text(text)
    code = err.code or code_from_phrases(text)
    if not code:
        raise UsageError("no 0x800CCCxx code and no known Outlook wording in the text")
    if port:
        err = dataclasses.replace(err, port=port)
    entry = lookup_code(code)
    facts = describe(entry)
    if server is not None:
        server = server.strip().rstrip(".")
        if not server or any(ch.isspace() for ch in server) or "/" in server:
            raise UsageError(f"--server {server!r} is not a host name or an address")
    if user and not _ADDRESS.match(user):
        raise UsageError(f"--user {user!r}: give the client's e-mail address (user@domain)")
    causes, notes = diagnose(code, err, server, user, dns_server, timeout)
    if server is None and err.server and causes:
        notes.append(f"add --server {err.server} to check the causes live")
    findings = [Finding("outlook.code", Severity.INFO, f"{code} {facts['name']}: {facts['meaning']}",
                        facts["detail"] or facts["hint"],
                        tuple(Evidence("text", f"{k}: {v}") for k, v in dataclasses.asdict(err).items()
                              if v not in ("", None)), subject=code)]
    findings += [_cause_finding(code, c) for c in causes if c.verdict in _SEVERITY]
    findings += [Finding("outlook.note", Severity.INFO, n, subject=code) for n in notes]
    log_doc: dict[str, object] | None = None
    problems: list[str] = []
    if log_path is not None:
        address = user or err.address
        if not address and not client_ip:
            raise UsageError("--log needs --user ADDRESS or --client-ip IP (no address in the pasted text)")
        act, problems = read_client_activity(log_path, address, client_ip)
        log_doc = act.as_dict()
        fails = act.counts.get("login failed", 0)
        findings.append(Finding(
            "outlook.log_auth_failures" if fails else "outlook.log_activity",
            Severity.WARNING if fails else Severity.INFO,
            f"{address or client_ip} in {log_path}: " + (", ".join(f"{n} {k}" for k, n in act.counts.most_common())
                                                        or "no attempts found"),
            "Failed logins mean a wrong password in the client (or a blocked account)." if fails else "",
            evidence=tuple(Evidence("log", raw, loc.rsplit(":", 1)[0], int(loc.rsplit(":", 1)[1]))
                           for _k, loc, raw in act.lines if loc.rsplit(":", 1)[-1].isdigit()),
            fix=("Re-enter the password in the client; if brute-force protection (cPHulk, lfd) blocked the client's "
                 "IP, unblock it (csf -dr IP).",) if fails else (),
            subject=address or client_ip))
    diagnosis = best(causes)

    def header(console: Console) -> None:
        console.print(f"[bold]{code}[/] {escape(str(facts['name']))}: {escape(str(facts['meaning']))}")
        if causes:
            console.print("\nCauses" + (f" (checked against {escape(server)})" if server else " (not checked)") + ":")
            for c in causes:
                console.print(f"  {c.verdict:<11} {escape(c.text)}")
        if diagnosis is not None:
            console.print(f"\n[bold]Diagnosis:[/] {escape(diagnosis.text)} ({diagnosis.verdict})")
        console.print()

    data = {
        **{k: facts[k] for k in ("code", "name", "meaning", "range", "detail", "hint")},
        "extracted": err,
        "server": server,
        "causes": [dataclasses.asdict(c) for c in causes],
        "diagnosis": diagnosis.cause if diagnosis else None,
        "notes": notes,
        "log": log_doc,
    }
    return emit("outlook", fmt, findings, data, text=header, input_errors=problems)
