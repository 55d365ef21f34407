"""`maildoctor pipe-test`: run a forwarder's pipe the way Exim does and say what Exim would do."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from maildoctor.cli.common import emit, format_option
from maildoctor.errors import UsageError
from maildoctor.forwarders.pipes import split_pipe_command
from maildoctor.forwarders.runner import (
    envelope_from_message,
    normalize_command,
    read_message,
    resolve_run_as,
    run_pipe,
)
from maildoctor.forwarders.texts import exit_code_info
from maildoctor.model import Evidence, Finding, Severity

_SEVERITY = {"delivered": Severity.OK, "deferred": Severity.WARNING, "bounced": Severity.CRITICAL}


@click.command("pipe-test")
@click.argument("pipe_command", metavar="'PIPE COMMAND'")
@click.option(
    "--message",
    "message_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A message file (.eml) to feed on stdin; it is only read, never changed.",
)
@click.option("--as-user", default=None, metavar="NAME", help="Account to run as (default: the script's owner).")
@click.option("--as-root", is_flag=True, help="Allow running as root (Exim never runs pipes as root).")
@click.option(
    "--timeout",
    type=click.FloatRange(0.1, 3600),
    default=60.0,
    show_default=True,
    help="Seconds before the pipe is killed.",
)
@click.option("--recipient", default=None, help="Envelope recipient (default: To:/Delivered-To: of the message).")
@click.option("--sender", default=None, help="Envelope sender (default: Return-Path:/From: of the message).")
@click.option("--transport", default="address_pipe", show_default=True, help="Transport name used in Exim's messages.")
@click.option(
    "--return-output/--no-return-output",
    default=True,
    show_default=True,
    help="Whether the transport fails on any output (cPanel: yes; Debian's address_pipe: no).",
)
@format_option
def command(
    pipe_command: str,
    message_file: Path,
    as_user: str | None,
    as_root: bool,
    timeout: float,
    recipient: str | None,
    sender: str | None,
    transport: str,
    return_output: bool,
    fmt: str,
) -> int:
    """Run 'PIPE COMMAND' (as written in the forwarder, e.g. '|/usr/local/bin/php -q /home/u/p.php')
    with the message on stdin, Exim's environment, the account's uid and a timeout; report the exit
    code, what Exim does with it, the output the sender would get back, and the time taken."""
    cmd = normalize_command(pipe_command)
    argv = split_pipe_command(cmd)
    if not argv:
        raise UsageError("empty pipe command")
    message = read_message(message_file)
    run_as = resolve_run_as(as_user, argv, as_root)
    env_sender, env_recipient = envelope_from_message(message)
    result = run_pipe(
        cmd,
        message,
        run_as,
        recipient or env_recipient or f"{run_as.user}@localhost",
        sender if sender is not None else env_sender,
        timeout,
        transport,
        return_output,
    )
    info = exit_code_info(result.exit_code) if result.exit_code is not None else {}
    output = result.output.decode("utf-8", errors="replace")
    evidence = [Evidence("command", f"|{result.command}  (as {run_as.user}, uid {run_as.uid})")]
    if result.exit_code is not None:
        evidence.append(Evidence("probe", f"exit code {result.exit_code} {info.get('name', '')}".rstrip()))
    if result.timed_out:
        evidence.append(Evidence("probe", f"killed after the {timeout:g}s timeout (whole process group)"))
    if result.exec_error:
        evidence.append(Evidence("probe", f"exec failed: {result.exec_error}"))
    for line in output.splitlines()[:10]:
        evidence.append(Evidence("probe", f"output: {line}"))
    if result.exim_log:
        evidence.append(Evidence("log", result.exim_log))
    explanation = {
        "delivered": "Exim would record the delivery as done.",
        "deferred": "Exim would keep the message in the queue and retry it later (temporary error).",
        "bounced": "Exim would fail the delivery and send a bounce to the sender.",
    }[result.exim_action]
    if info.get("meaning") and result.exit_code:
        explanation += f" Exit code {result.exit_code}: {info['meaning']}"
    if output and return_output:
        explanation += " The pipe printed output; with return_output Exim returns it to the sender in the bounce."
    finding = Finding(
        id=f"pipe_test.{result.exim_action}",
        severity=_SEVERITY[result.exim_action],
        title=f"Pipe {result.exim_action}: exit {result.exit_code if result.exit_code is not None else 'none'}"
        f", {len(result.output)} bytes of output, {result.elapsed:.2f}s",
        explanation=explanation,
        evidence=tuple(evidence),
        subject=result.command,
    )
    data = {
        "command": result.command,
        "argv": list(result.argv),
        "user": run_as.user,
        "uid": run_as.uid,
        "gid": run_as.gid,
        "exit_code": result.exit_code,
        "signal": result.signal,
        "timed_out": result.timed_out,
        "elapsed_seconds": round(result.elapsed, 3),
        "output": output,
        "output_truncated": result.output_truncated,
        "exec_error": result.exec_error,
        "exim_action": result.exim_action,
        "exim_log": result.exim_log,
        "bounce_text": result.bounce_text,
        "environment": result.env,
    }

    def render(console: Console) -> None:
        console.print(f"[bold]pipe-test[/] |{escape(result.command)} as {run_as.user} (uid {run_as.uid})")
        if result.bounce_text:
            console.print("\nThe sender would get:\n" + escape(result.bounce_text))

    return emit("pipe-test", fmt, [finding], data, text=render)
