"""Try outgoing connections as another user: the live half of `maildoctor firewall --user`.

Owner-match rules (iptables -m owner, nft skuid, CSF SMTP_BLOCK) look at the uid of the process
that opens the socket, so the test has to run as that uid. A forked child drops to the user's
uid/gid (only possible as root), opens non-blocking connections to the ports, reports the outcome
through a pipe as JSON and exits. Nothing else ever runs as that uid, and it never sends a byte.
"""

from __future__ import annotations

import errno
import json
import os
import select
import signal
import socket
import time
from collections.abc import Sequence

from maildoctor.errors import CannotRunError

OPEN, REFUSED, FILTERED, BLOCKED = "open", "refused", "filtered", "blocked"


def _classify(err: int) -> str:
    if err == 0:
        return OPEN
    if err == errno.ECONNREFUSED:
        return REFUSED
    if err in (errno.EPERM, errno.EACCES):
        return BLOCKED  # a local netfilter DROP answers connect() with EPERM
    return FILTERED


def connect_all(address: str, ports: Sequence[int], timeout: float) -> dict[int, tuple[str, str]]:
    """Non-blocking connects to every port at once; port -> (state, detail). Closes each at once."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    out: dict[int, tuple[str, str]] = {}
    pending: dict[int, tuple[socket.socket, int]] = {}
    for port in ports:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setblocking(False)
        err = s.connect_ex((address, port))
        if err in (0, errno.EINPROGRESS):
            pending[s.fileno()] = (s, port)
        else:
            out[port] = (_classify(err), os.strerror(err))
            s.close()
    poller = select.poll()
    for fd in pending:
        poller.register(fd, select.POLLOUT)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for fd, _ev in poller.poll(max(1, int((deadline - time.monotonic()) * 1000))):
            s, port = pending.pop(fd)
            poller.unregister(fd)
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            out[port] = (_classify(err), os.strerror(err) if err else "connected")
            s.close()
    for s, port in pending.values():
        out[port] = (FILTERED, f"no answer within {timeout:g}s")
        s.close()
    return out


def connect_as(uid: int, gid: int, address: str, ports: Sequence[int], timeout: float,
               groups: Sequence[int] = ()) -> dict[int, tuple[str, str]]:
    """`connect_all` run by a child process with UID/GID (and supplementary GROUPS)."""
    if os.geteuid() != 0:
        raise CannotRunError("trying connections as another user needs root (setuid)")
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop privileges for good, connect, report, exit without cleanup handlers
        code = 0
        try:
            os.close(rfd)
            os.setgroups(list(groups))
            os.setgid(gid)
            os.setuid(uid)
            result = connect_all(address, ports, timeout)
            os.write(wfd, json.dumps({str(k): v for k, v in result.items()}).encode())
        except BaseException as exc:  # the child must never return into the caller's code
            os.write(wfd, json.dumps({"error": str(exc)}).encode())
            code = 1
        finally:
            os._exit(code)
    os.close(wfd)
    data, eof = b"", False
    deadline = time.monotonic() + timeout + 5
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([rfd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            chunk = os.read(rfd, 65536)
            if not chunk:
                eof = True
                break
            data += chunk
    finally:
        os.close(rfd)
        if not eof:  # the child hangs: stop it (only this pid, which we forked)
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    try:
        doc = json.loads(data or b"{}")
    except ValueError as exc:
        raise CannotRunError(f"the probe as uid {uid} sent no usable answer") from exc
    if "error" in doc:
        raise CannotRunError(f"the probe as uid {uid} failed: {doc['error']}")
    return {int(k): (str(v[0]), str(v[1])) for k, v in doc.items()}
