"""A private network namespace plus one private mount namespace that every lab process shares.

`ip netns exec` gives a holder process a fresh mount namespace; the holder lays an overlay over
/etc and /var (so Exim sees cPanel paths such as /etc/valiases and /var/log/exim_mainlog) and binds
the lab's /home over /home. Every later command enters the holder's namespaces with nsenter, so all
lab processes see the same files while the host's /etc, /var and /home stay untouched.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any


class NamespaceError(RuntimeError):
    """The namespace could not be created or entered."""


def _stop_pid(pid: int, timeout: float = 3.0) -> None:
    """SIGTERM one process we started, then SIGKILL it if it lingers."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # not our child: poll its existence instead
            done = 0
            if not Path(f"/proc/{pid}").exists():
                return
        if done == pid:
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


class Namespace:
    """A named network namespace with the lab's mount layout; `run` executes inside it."""

    def __init__(self, name: str, live: Path, scratch: Path) -> None:
        self.name = name
        self.live = live  # upper dirs: live/etc, live/var and live/home (the server root)
        self.scratch = scratch  # overlay work dirs
        self.holder: subprocess.Popen[bytes] | None = None
        self.holder_pid: int | None = None  # also set when attached to a lab another process started
        self.netns_etc = Path("/etc/netns") / name

    def create(self, addresses: tuple[str, ...], resolv_conf: str) -> None:
        subprocess.run(["ip", "netns", "add", self.name], check=True, capture_output=True)
        # The standard per-namespace resolv.conf, for humans who `ip netns exec` into the lab.
        self.netns_etc.mkdir(parents=True, exist_ok=True)
        (self.netns_etc / "resolv.conf").write_text(resolv_conf)
        setup = ["ip link set lo up"] + [f"ip addr add {a}/32 dev lo" for a in addresses]
        for d in ("etc", "var"):
            (self.scratch / d).mkdir(parents=True, exist_ok=True)
            setup.append(
                f"mount -t overlay mdlab-{d} -o lowerdir=/{d},upperdir={self.live / d},workdir={self.scratch / d} /{d}"
            )
        setup.append(f"mount --bind {self.live / 'home'} /home")
        script = " && ".join(setup) + " && echo ready && exec sleep infinity"
        self.holder = subprocess.Popen(
            ["ip", "netns", "exec", self.name, "sh", "-c", script],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        assert self.holder.stdout is not None
        line = self.holder.stdout.readline()
        if line.strip() != b"ready":
            err = self.holder.stderr.read().decode(errors="replace") if self.holder.stderr else ""
            self.destroy()
            raise NamespaceError(f"namespace setup failed: {err.strip() or 'holder exited'}")
        self.holder_pid = self.holder.pid

    def _prefix(self, user: int | None, cwd: str | None) -> list[str]:
        if self.holder_pid is None:
            raise NamespaceError("namespace not created")
        argv = ["nsenter", "-t", str(self.holder_pid), "-m", "-n", "--"]
        if user is not None:
            argv += ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"]
        if cwd:  # nsenter --wd would resolve the directory before entering the mount namespace
            argv += ["sh", "-c", 'cd "$0" && exec "$@"', cwd]
        return argv

    def run(
        self, argv: list[str], *, user: int | None = None, cwd: str | None = None, **kw: Any
    ) -> subprocess.CompletedProcess[Any]:
        """Run argv inside the namespace (as root, or as uid `user` with gid = uid)."""
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        kw.setdefault("timeout", 60)
        return subprocess.run(self._prefix(user, cwd) + argv, **kw)

    def spawn(self, argv: list[str], log: Path) -> subprocess.Popen[bytes]:
        """Start a long-running daemon (foreground mode) inside the namespace; output to `log`."""
        with log.open("ab") as out:
            return subprocess.Popen(
                self._prefix(None, None) + argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def pids(self) -> list[int]:
        """Every process in the network namespace (all of them were started by the lab)."""
        res = subprocess.run(["ip", "netns", "pids", self.name], capture_output=True, text=True)
        return [int(p) for p in res.stdout.split() if p.isdigit()]

    def destroy(self) -> None:
        """Stop every process in the namespace by PID, delete it and its /etc/netns entry."""
        holder_pid = self.holder_pid
        for _ in range(3):
            pids = [p for p in self.pids() if p != holder_pid]
            if not pids:
                break
            for pid in pids:
                _stop_pid(pid, timeout=1.0)
        if holder_pid is not None:
            _stop_pid(holder_pid)
        if self.holder is not None:
            self.holder.wait()
            for stream in (self.holder.stdout, self.holder.stderr):
                if stream:
                    stream.close()
        self.holder, self.holder_pid = None, None
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
        shutil.rmtree(self.netns_etc, ignore_errors=True)
