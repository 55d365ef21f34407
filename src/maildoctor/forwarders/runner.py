"""Run a pipe command the way Exim's pipe transport does, and predict what Exim does with it.

Exim execs the command directly (no shell; a relative name is searched in /bin:/usr/bin), as the
account's uid and gid with no supplementary groups, in its own process group, with a fixed
environment, the message (with a ``From `` line in front) on stdin, and stdout and stderr
joined. It kills the process group at the timeout. The exit code decides: 0 delivered, 75 and 73
(temp_errors) deferred, anything else bounced. With ``return_output`` (cPanel) any output at
all fails the delivery and is sent back to the sender.

Safety: never runs as root unless asked (``allow_root``); the message file is only read.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import selectors
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from pathlib import Path

from maildoctor.errors import CannotRunError, InputError, UsageError
from maildoctor.forwarders.pipes import PIPE_PATH, split_pipe_command
from maildoctor.forwarders.texts import exit_code_info

MAX_MESSAGE = 64 * 1024 * 1024
MAX_OUTPUT = 20480  # Exim's pipe transport max_output default (20K); more and it kills the pipe
TEMP_ERRORS = (75, 73)  # Exim's default temp_errors: EX_TEMPFAIL, EX_CANTCREAT
EX_EXECFAILED = 127


@dataclass(frozen=True, slots=True)
class RunAs:
    user: str
    uid: int
    gid: int
    home: str


@dataclass(frozen=True, slots=True)
class PipeRunResult:
    command: str
    argv: tuple[str, ...]
    run_as: RunAs
    exit_code: int | None  # None when killed (timeout or signal)
    signal: int | None
    timed_out: bool
    output: bytes
    output_truncated: bool
    elapsed: float
    exec_error: str  # why exec failed (Exim reports that as exit code 127)
    exim_action: str  # delivered | deferred | bounced
    exim_log: str  # the text Exim writes in the main log for this delivery
    bounce_text: str  # what the sender reads in the bounce ("" when delivered)
    env: dict[str, str] = field(default_factory=dict)


def normalize_command(command: str) -> str:
    """Accept the command as written in a forwarder: ``|cmd``, ``"|cmd"`` or ``|"cmd"``."""
    s = command.strip()
    if len(s) >= 2 and s[0] == s[-1] == '"':
        s = s[1:-1].strip()
    if s.startswith("|"):
        s = s[1:].strip()
    if len(s) >= 2 and s[0] == s[-1] == '"':
        s = s[1:-1].strip()
    return s


def resolve_run_as(user: str | None, argv: tuple[str, ...], allow_root: bool) -> RunAs:
    """The account to run as; refuses root unless allow_root, and refuses to guess wrong.

    Without `user`, a root caller runs the pipe as the owner of the script (a path under /home)
    as cPanel does for the account's forwarders; a non-root caller runs as itself.
    """
    me = os.geteuid()
    if user is None:
        if me != 0:
            entry = pwd.getpwuid(me)
        else:
            owner = _script_owner(argv)
            if owner is None:
                if allow_root:
                    entry = pwd.getpwuid(0)
                else:
                    raise UsageError("cannot tell which account the pipe belongs to: give --as-user NAME")
            else:
                entry = owner
    else:
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            raise UsageError(f"--as-user {user}: no such user on this system") from None
    if entry.pw_uid == 0 and not allow_root:
        raise UsageError("refusing to run the pipe as root (Exim never does); give --as-user NAME, or --as-root")
    if me != 0 and entry.pw_uid != me:
        raise CannotRunError(f"running as {entry.pw_name} needs root (maildoctor runs as uid {me})")
    return RunAs(entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir)


def _script_owner(argv: tuple[str, ...]) -> pwd.struct_passwd | None:
    for arg in argv:
        if arg.startswith("/home/"):
            p = Path(arg)
            for cand in (p, *p.parents):
                if cand.parent == Path("/home"):
                    try:
                        uid = cand.stat().st_uid
                        return pwd.getpwuid(uid) if uid != 0 else None
                    except (OSError, KeyError):
                        return None
    return None


def read_message(path: Path) -> bytes:
    """The message, read-only; a file that is not a plausible message is an input error."""
    try:
        with path.open("rb") as fh:  # never opened for writing
            data = fh.read(MAX_MESSAGE + 1)
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from exc
    if len(data) > MAX_MESSAGE:
        raise InputError(f"{path}: larger than {MAX_MESSAGE // (1024 * 1024)} MB")
    if b"\x00" in data[:65536]:
        raise InputError(f"{path}: binary data, not an email message")
    return data


def envelope_from_message(data: bytes) -> tuple[str, str]:
    """(sender, recipient) from Return-Path/From and Delivered-To/To, for the environment."""
    head = data.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    msg = BytesHeaderParser().parsebytes(head)
    sender = ""
    for name in ("Return-Path", "From", "Sender"):
        got = [a for _n, a in getaddresses(msg.get_all(name, [])) if "@" in a]
        if got:
            sender = got[0]
            break
    recipient = ""
    for name in ("Delivered-To", "Envelope-To", "To"):
        got = [a for _n, a in getaddresses(msg.get_all(name, [])) if "@" in a]
        if got:
            recipient = got[0]
            break
    return sender, recipient


def exim_environment(recipient: str, sender: str, home: str, message_id: str) -> dict[str, str]:
    """The environment Exim's pipe transport builds (transports/pipe.c), nothing inherited."""
    local, _, domain = recipient.rpartition("@") if "@" in recipient else (recipient, "", "")
    return {
        "LOCAL_PART": local,
        "LOGNAME": local,
        "USER": local,
        "LOCAL_PART_PREFIX": "",
        "LOCAL_PART_SUFFIX": "",
        "DOMAIN": domain,
        "HOME": home,
        "MESSAGE_ID": message_id,
        "PATH": ":".join(PIPE_PATH),
        "RECIPIENT": recipient,
        "QUALIFY_DOMAIN": socket.gethostname(),
        "SENDER": sender,
        "SHELL": "/bin/sh",
    }


def exim_input(data: bytes, sender: str) -> bytes:
    """What Exim writes on the pipe: the default message_prefix ``From `` line, LF line ends."""
    body = data.replace(b"\r\n", b"\n")
    if body.startswith(b"From "):
        return body
    stamp = time.strftime("%a %b %d %H:%M:%S %Y", time.localtime())
    return f"From {sender or 'MAILER-DAEMON'} {stamp}\n".encode() + body


def fake_message_id() -> str:
    """An id in Exim's 4.97+ format; the pipe only sees it in MESSAGE_ID."""
    from maildoctor.logs.seek import base62

    now = time.time()
    return f"{base62(int(now), 6)}-{base62(os.getpid(), 11)}-{base62(int(now * 1e6) % 3844, 4)}"


# Exim's pipe children start with these ignored (seen in /proc/PID/status of a real pipe): a
# script that gets SIGTERM or SIGHUP keeps running under Exim, and so it does here.
EXIM_IGNORED_SIGNALS = (signal.SIGHUP, signal.SIGINT, signal.SIGUSR1, signal.SIGTERM)


def _exim_signals() -> None:  # pragma: no cover - runs in the child between fork and exec
    for sig in EXIM_IGNORED_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


def _which(name: str) -> str | None:
    if name.startswith("/"):
        return name
    for d in PIPE_PATH:
        cand = f"{d}/{name}"
        if os.path.isfile(cand):
            return cand
    return None


def run_pipe(
    command: str,
    message: bytes,
    run_as: RunAs,
    recipient: str,
    sender: str,
    timeout: float,
    transport: str = "address_pipe",
    return_output: bool = True,
) -> PipeRunResult:
    """Run the pipe once, like Exim, and predict Exim's log line and bounce."""
    cmd = normalize_command(command)
    argv = split_pipe_command(cmd)
    if not argv:
        raise UsageError("empty pipe command")
    env = exim_environment(recipient, sender, run_as.home, fake_message_id())
    stdin_data = exim_input(message, sender)
    exe = _which(argv[0])
    start = time.monotonic()
    output, truncated, timed_out = b"", False, False
    rc: int | None = None
    sig: int | None = None
    exec_error = ""
    if exe is None:
        exec_error = f'"{argv[0]}" command not found for {transport} transport'
    else:
        as_other = os.geteuid() == 0 and run_as.uid != 0
        try:
            proc = subprocess.Popen(
                [exe, *argv[1:]],
                executable=exe,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                cwd="/",
                close_fds=True,
                start_new_session=True,  # its own process group, killed as a whole at the timeout
                # uid, gid and no supplementary groups, as Exim sets them for a local delivery
                user=run_as.uid if as_other else None,
                group=run_as.gid if as_other else None,
                extra_groups=[] if as_other else None,
                preexec_fn=_exim_signals,
            )
        except OSError as exc:
            exec_error = f"{exe}: {exc.strerror or exc}"
            rc = EX_EXECFAILED
        else:
            output, truncated, timed_out = _feed(proc, stdin_data, timeout)
            status = proc.wait()
            if timed_out:
                rc = None
            elif status < 0:
                sig = -status
            else:
                rc = status
    elapsed = time.monotonic() - start
    action, log, bounce = predict_exim(
        cmd, argv, rc, sig, timed_out, output, exec_error, transport, return_output, recipient
    )
    return PipeRunResult(
        cmd, argv, run_as, rc, sig, timed_out, output, truncated, elapsed, exec_error, action, log, bounce, env
    )


def _feed(proc: subprocess.Popen[bytes], data: bytes, timeout: float) -> tuple[bytes, bool, bool]:
    """Write the message and read the output together until the pipe exits or the deadline."""
    assert proc.stdin is not None and proc.stdout is not None
    deadline = time.monotonic() + timeout
    sel = selectors.DefaultSelector()
    os.set_blocking(proc.stdin.fileno(), False)
    sel.register(proc.stdin, selectors.EVENT_WRITE)
    sel.register(proc.stdout, selectors.EVENT_READ)
    out = bytearray()
    pos, truncated, timed_out = 0, False, False
    while sel.get_map():
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        for key, _ev in sel.select(min(left, 0.5)):
            if key.fileobj is proc.stdin:
                try:
                    pos += os.write(proc.stdin.fileno(), data[pos : pos + 65536])
                except (BrokenPipeError, BlockingIOError) as exc:
                    if isinstance(exc, BrokenPipeError):  # the pipe stopped reading: Exim ignores EPIPE
                        pos = len(data)
                if pos >= len(data):
                    sel.unregister(proc.stdin)
                    proc.stdin.close()
            else:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    sel.unregister(proc.stdout)
                    continue
                out += chunk
                if len(out) > MAX_OUTPUT:
                    truncated = True
                    _kill_group(proc)
                    sel.unregister(proc.stdout)
    if timed_out:
        _kill_group(proc)
    sel.close()
    for fh in (proc.stdin, proc.stdout):
        if fh and not fh.closed:
            fh.close()
    if not timed_out:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True  # closed its output but kept running
            _kill_group(proc)
    return bytes(out[:MAX_OUTPUT]), truncated, timed_out


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _quote(arg: str) -> str:
    return f'"{arg}"' if " " in arg or "\t" in arg else arg


def predict_exim(
    cmd: str,
    argv: tuple[str, ...],
    rc: int | None,
    sig: int | None,
    timed_out: bool,
    output: bytes,
    exec_error: str,
    transport: str,
    return_output: bool,
    recipient: str,
) -> tuple[str, str, str]:
    """(action, main-log text, bounce text) as Exim 4.9x produces them for this outcome."""
    if exec_error and rc is None:  # relative command not in the transport's path
        action, log = "bounced", exec_error
    elif timed_out:
        action, log = "bounced", "pipe delivery process timed out"
    elif sig is not None:
        action = "bounced"
        log = (
            f'Child process of {transport} transport (running command "{cmd}") was terminated by signal '
            f"{sig} ({signal.strsignal(sig) or sig})"
        )
    elif rc:
        info = exit_code_info(rc)
        action = "deferred" if rc in TEMP_ERRORS else "bounced"
        extra = f" {info['exim_text']}" if info["exim_text"] else ""
        # Exim 4.9x names only argv[0] here (its loop bound is sizeof(a pointer)).
        log = f"Child process of {transport} transport returned {rc}{extra} from command: {_quote(argv[0])}"
    elif output and return_output:
        action, log = "bounced", "return message generated"
    else:
        action, log = "delivered", ""
    bounce = ""
    if action == "bounced":
        head = f"  pipe to |{cmd}\n    generated by {recipient}\n"
        if output and return_output:
            text = output.decode("utf-8", errors="replace")
            bounce = (
                f"{head}\nThe following text was generated during the delivery attempt:\n\n"
                f"------ pipe to |{cmd}\n       generated by {recipient} ------\n\n{text}"
            )
        else:
            bounce = f"{head}    local delivery failed\n"
    return action, log, bounce
