"""Start, drive and stop the lab: unbound, the local Exim, the remote MX Exim and Postfix in a namespace."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import topology as t
from .collect import classify, maildir_messages, snapshot
from .nsenv import Namespace, NamespaceError
from .postfix import (
    POSTFIX_ROOT,
    postfix_available,
    postfix_command,
    postfix_dir,
    postfix_master_argv,
    prepare_postfix,
)
from .scenarios import run_scenarios
from .tree import build_tree

EXIM = "/usr/sbin/exim4"
REQUIRED_BINARIES = ("ip", "nsenter", "setpriv", "unbound", "swaks", "openssl", "php", EXIM)


class LabUnavailable(RuntimeError):
    """The lab cannot run on this machine (not root, no namespaces, packages missing)."""


class LabError(RuntimeError):
    """The lab was available but failed to start or to run its scenarios."""


@dataclass
class Scenario:
    """One thing the scenario runner did, and what should have happened to it."""

    name: str
    expected: str  # delivered | deferred | failed | frozen | rejected | pending
    sender: str
    recipients: list[str]
    client_ip: str
    notes: str = ""
    message_ids: list[str] = field(default_factory=list)
    smtp_response: str = ""  # the server's reply to the client's last command before QUIT
    files: list[Path] = field(default_factory=list)  # delivered copies, bounces and warnings about it


@dataclass
class LabRun:
    """A settled lab: paths to the real outputs and the scenarios that produced them."""

    lab: Lab
    root: Path
    mainlog: Path
    rejectlog: Path
    paniclog: Path
    spool: Path
    bounces: list[Path]
    delay_warnings: list[Path]
    postfix_log: Path
    postfix_bounces: list[Path]
    delivered: list[Path]
    remote_delivered: list[Path]
    scenarios: dict[str, Scenario]
    timings: dict[str, float]

    @property
    def netns(self) -> str:
        return self.lab.name

    @property
    def workdir(self) -> Path:
        return self.lab.workdir

    dns_server: str = f"{t.DNS_IP}:53"
    remote_mx_ip: str = t.REMOTE_MX_IP
    local_ip: str = t.LOCAL_IP
    client_ip: str = t.CLIENT_IP
    postfix_ip: str = t.POSTFIX_IP
    smtp_ports: dict[str, int] = field(default_factory=lambda: dict(t.SMTP_PORTS))

    def run(self, argv: list[str], **kw: Any) -> subprocess.CompletedProcess[Any]:
        return self.lab.run(argv, **kw)

    def exim(self, *args: str) -> subprocess.CompletedProcess[Any]:
        return self.lab.exim(*args)

    def postfix(self, command: str, *args: str) -> subprocess.CompletedProcess[Any]:
        """A Postfix command with the lab's configuration, e.g. postfix("postqueue", "-j")."""
        return self.lab.postfix(command, *args)

    @property
    def remote_mainlog(self) -> Path:
        """The remote MX's own log (its side of every rejection)."""
        return self.lab.workdir / "remote" / "log" / "mainlog"

    @property
    def postfix_queue(self) -> Path:
        return postfix_dir(self.lab.workdir) / "spool"


def check_available() -> None:
    """Raise LabUnavailable with the reason when this machine cannot run the lab."""
    if os.geteuid() != 0:
        raise LabUnavailable("the lab needs root (network and mount namespaces)")
    missing = [b for b in REQUIRED_BINARIES if shutil.which(b) is None]
    if missing:
        raise LabUnavailable(f"missing programs: {', '.join(missing)} (run scripts/install-test-deps.sh)")
    spf = subprocess.run([EXIM, "-bV"], capture_output=True, text=True)
    if " SPF" not in spf.stdout:
        raise LabUnavailable("this Exim has no SPF support: install exim4-daemon-heavy")
    if not postfix_available():
        raise LabUnavailable(f"Postfix not unpacked in {POSTFIX_ROOT} (run scripts/install-test-deps.sh)")
    probe = f"md-lab-probe-{os.getpid()}"
    res = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if res.returncode != 0:
        raise LabUnavailable(f"cannot create a network namespace: {res.stderr.strip()}")
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)


class Lab:
    """The running servers. Use as a context manager, or call start() and always stop()."""

    def __init__(self, workdir: Path | None = None, name: str | None = None, keep: bool = False) -> None:
        self.name = name or f"md-lab-{os.getpid()}-{secrets.token_hex(2)}"
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="mdlab-"))
        self.keep = keep
        self.ns = Namespace(self.name, self.workdir / "live", self.workdir / "overlay-work")
        self.daemons: dict[str, subprocess.Popen[bytes]] = {}
        self.startup_seconds = 0.0

    def __enter__(self) -> Lab:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- start and stop -------------------------------------------------------------------------

    def start(self) -> None:
        check_available()
        began = time.monotonic()
        try:
            self.workdir.mkdir(parents=True, exist_ok=True)
            self.workdir.chmod(0o755)  # Exim and Postfix drop privileges and must traverse it
            build_tree(self.workdir)
            prepare_postfix(self.workdir)
            self.ns.create(t.LAB_ADDRESSES, f"nameserver {t.DNS_IP}\n")
            logs = self.workdir / "daemon-logs"
            logs.mkdir(exist_ok=True)
            self.daemons["unbound"] = self.ns.spawn(
                ["unbound", "-d", "-c", str(self.workdir / "unbound" / "unbound.conf")], logs / "unbound.log"
            )
            self.daemons["exim"] = self.ns.spawn([EXIM, "-bdf"], logs / "exim.log")
            remote_conf = str(self.workdir / "remote" / "exim.conf")
            self.daemons["remote-mx"] = self.ns.spawn([EXIM, "-C", remote_conf, "-bdf"], logs / "remote-mx.log")
            self.daemons["postfix"] = self.ns.spawn(postfix_master_argv(self.workdir), logs / "postfix.log")
            self._wait_ready()
        except (NamespaceError, subprocess.SubprocessError, OSError) as exc:
            self.stop()
            raise LabError(f"lab start-up failed: {exc}") from exc
        except LabError:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began

    def _wait_ready(self, timeout: float = 8.0) -> None:
        """Poll (inside the namespace) until every listener accepts connections."""
        targets = [(t.LOCAL_IP, p) for p in t.SMTP_PORTS.values()]
        targets += [(t.REMOTE_MX_IP, 25), (t.POSTFIX_IP, t.POSTFIX_PORT)]
        checks = " && ".join(f"(: </dev/tcp/{ip}/{port}) 2>/dev/null" for ip, port in targets)
        script = (
            f"end=$(( $(date +%s) + {int(timeout)} )); "
            f"while [ $(date +%s) -le $end ]; do if {checks}; then exit 0; fi; sleep 0.05; done; exit 1"
        )
        res = self.ns.run(["bash", "-c", script], timeout=timeout + 5)
        dead = [name for name, proc in self.daemons.items() if proc.poll() is not None]
        if res.returncode != 0 or dead:
            logs = self.workdir / "daemon-logs"
            detail = "; ".join(
                f"{n}: {(logs / f'{n}.log').read_text(errors='replace').strip()[-400:]}"
                for n in (dead or list(self.daemons))
                if (logs / f"{n}.log").exists()
            )
            raise LabError(f"servers did not come up ({', '.join(dead) or 'timeout'}): {detail}")
        deadline = time.monotonic() + timeout
        while True:  # unbound answers real queries (Exim's dnsdb lookup goes through resolv.conf)
            res = self.exim("-be", f"${{lookup dnsdb{{a={t.HOSTNAME}}}{{$value}}{{FAIL}}}}")
            if res.stdout.strip() == t.LOCAL_IP:
                return
            if time.monotonic() > deadline:
                raise LabError(f"unbound does not answer: {res.stdout.strip()} {res.stderr.strip()}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop every lab process by PID, remove the namespace and (unless kept) the work dir."""
        for proc in self.daemons.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.daemons.values():
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.daemons.clear()
        self.ns.destroy()
        if self._own_workdir and not self.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def state(self) -> dict[str, Any]:
        """What `attach` needs to drive or stop this lab from another process."""
        return {
            "name": self.name,
            "workdir": str(self.workdir),
            "holder_pid": self.ns.holder_pid,
            "daemons": {n: p.pid for n, p in self.daemons.items()},
            "own_workdir": self._own_workdir,
        }

    @classmethod
    def attach(cls, state: dict[str, Any]) -> Lab:
        """A handle on a lab that another process started (for `mdlab down`, `mdlab exec`)."""
        lab = cls(Path(state["workdir"]), state["name"])
        lab._own_workdir = bool(state.get("own_workdir"))
        lab.ns.holder_pid = int(state["holder_pid"])
        if not Path(f"/proc/{lab.ns.holder_pid}").exists():
            raise LabError(f"lab {lab.name} is not running (holder {lab.ns.holder_pid} gone)")
        return lab

    # -- running things inside ------------------------------------------------------------------

    def run(self, argv: list[str], **kw: Any) -> subprocess.CompletedProcess[Any]:
        """Run a command inside the lab (network and mount namespace); user=UID, cwd=DIR allowed."""
        return self.ns.run(argv, **kw)

    def exim(self, *args: str) -> subprocess.CompletedProcess[Any]:
        """The local Exim with its own configuration, e.g. exim("-bp") or exim("-bt", "addr")."""
        return self.ns.run([EXIM, *args])

    def run_scenarios(self, log: Callable[[str], None] = lambda _msg: None) -> LabRun:
        """Run every scenario, wait until delivery settles, snapshot the server root."""
        began = time.monotonic()
        scenarios = run_scenarios(self, Scenario, log)
        ran = time.monotonic() - began
        live = self.workdir / "live"
        root = snapshot(live, self.workdir / "root")
        mails = [classify(p) for p in maildir_messages(root / "home")]
        sender_box = root / t.SENDER_MAILDIR
        in_sender = [m for m in mails if sender_box in m.path.parents]
        pf_log = postfix_dir(self.workdir) / "log" / "maillog"
        remote = maildir_messages(self.workdir / "remote" / "maildir")
        for path in [m.path for m in mails] + remote:
            data = path.read_bytes()
            for sc in scenarios.values():
                if f"mdlab-{sc.name}-".encode() in data:
                    sc.files.append(path)
        return LabRun(
            lab=self,
            root=root,
            mainlog=root / "var/log/exim_mainlog",
            rejectlog=root / "var/log/exim_rejectlog",
            paniclog=root / "var/log/exim_paniclog",
            spool=live / "var/spool/exim",
            bounces=[m.path for m in in_sender if m.kind == "bounce" and m.reporting_mta == "exim"],
            delay_warnings=[m.path for m in in_sender if m.kind == "delay"],
            postfix_log=pf_log,
            postfix_bounces=[m.path for m in in_sender if m.kind == "bounce" and m.reporting_mta == "postfix"],
            # Exim's maildir file names carry the host name; the pre-filled old mail does not.
            delivered=[m.path for m in mails if m.kind == "message" and t.HOSTNAME in m.path.name],
            remote_delivered=remote,
            scenarios=scenarios,
            timings={"startup": self.startup_seconds, "scenarios": ran},
        )

    def postfix(self, command: str, *args: str) -> subprocess.CompletedProcess[Any]:
        return self.ns.run(postfix_command(self.workdir, command, *args))

    def remote_exim(self, *args: str) -> subprocess.CompletedProcess[Any]:
        return self.ns.run([EXIM, "-C", str(self.workdir / "remote" / "exim.conf"), *args])
