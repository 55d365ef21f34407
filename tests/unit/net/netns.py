"""A private network namespace with fake mail listeners, for the ports/firewall/outlook tests.

Everything runs inside `md-<area>-<pid>-<n>`: listeners, iptables rules and the maildoctor
process under test, so no packet ever leaves the namespace. `close()` kills what it started
(by PID) and deletes the namespace.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

FAKESERVER = Path(__file__).with_name("fakeserver.py")
FAKEDNS = Path(__file__).with_name("fakedns.py")
IN_CI = os.environ.get("CI", "").lower() == "true"
_COUNTER = itertools.count()


def need_netns() -> None:
    """Skip (outside CI) or fail (in CI) when namespaces cannot be made here."""
    reason = ""
    if os.geteuid() != 0:
        reason = "network-namespace tests need root"
    elif not shutil.which("ip") or not shutil.which("iptables"):
        reason = "network-namespace tests need iproute2 and iptables"
    if reason:
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)


@dataclass
class NetNs:
    area: str
    name: str = ""
    procs: list[subprocess.Popen[str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.name = f"md-{self.area}-{os.getpid()}-{next(_COUNTER)}"
        res = subprocess.run(["ip", "netns", "add", self.name], capture_output=True, text=True)
        if res.returncode != 0:
            msg = f"cannot create network namespace {self.name}: {res.stderr.strip()}"
            if IN_CI:
                pytest.fail(msg)
            pytest.skip(msg)
        self.sh("ip", "link", "set", "lo", "up")

    def sh(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", self.name, *argv], capture_output=True, text=True,
                              check=check, timeout=60)

    def add_address(self, addr: str) -> None:
        self.sh("ip", "addr", "add", f"{addr}/32", "dev", "lo")

    def iptables(self, *args: str) -> None:
        self.sh("iptables", *args)

    def start_servers(self, tmp: Path, listeners: list[dict[str, Any]], cert: tuple[Path, Path] | None = None) -> None:
        config = tmp / f"fake-{len(self.procs)}.json"
        doc: dict[str, Any] = {"listeners": listeners}
        if cert:
            doc["cert"], doc["key"] = str(cert[0]), str(cert[1])
        config.write_text(json.dumps(doc))
        proc = subprocess.Popen(["ip", "netns", "exec", self.name, sys.executable, str(FAKESERVER), str(config)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "ready":
            proc.kill()
            raise RuntimeError(f"fake server did not start: {proc.stderr.read() if proc.stderr else ''}")

    def start_dns(self, tmp: Path, zone: str, records: dict[str, dict[str, list[str]]], port: int = 5353) -> str:
        """A fake authoritative server for ZONE on 127.0.0.1:PORT; returns the --dns-server value."""
        config = tmp / f"zone-{zone}.json"
        config.write_text(json.dumps({"zone": zone, "records": records}))
        proc = subprocess.Popen(["ip", "netns", "exec", self.name, sys.executable, str(FAKEDNS), "127.0.0.1",
                                 str(port), str(config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(proc)
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            proc.kill()
            raise RuntimeError(f"fake DNS did not start: {proc.stderr.read() if proc.stderr else ''}")
        return f"127.0.0.1:{port}"

    def maildoctor(self, *args: str, timeout: float = 120) -> Result:
        """Run the maildoctor CLI inside the namespace."""
        code = "import sys; from maildoctor.cli.main import run; sys.exit(run(sys.argv[1:]))"
        res = subprocess.run(["ip", "netns", "exec", self.name, sys.executable, "-c", code, *args],
                             capture_output=True, text=True, timeout=timeout)
        return Result(res.returncode, res.stdout, res.stderr)

    def python(self, script: str, *args: str) -> subprocess.CompletedProcess[str]:
        return self.sh(sys.executable, "-c", script, *args, check=False)

    def close(self) -> None:
        for proc in self.procs:
            proc.kill()
            proc.wait(timeout=10)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def make_cert(tmp: Path, name: str, days: int = 30) -> tuple[Path, Path]:
    """A self-signed certificate for NAME made with openssl."""
    cert, key = tmp / f"{name}.crt", tmp / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", str(days), "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}"],
                   check=True, capture_output=True, timeout=60)
    return cert, key
