"""ConfigServer Security & Firewall (CSF): the settings that decide who may connect out to SMTP ports.

With SMTP_BLOCK = "1", CSF adds OUTPUT rules (its LOCALOUTPUT chain) for every port in SMTP_PORTS:
root, the users in SMTP_ALLOWUSER and the groups in SMTP_ALLOWGROUP (cPanel's Exim runs as mailnull
in group mail) are accepted, connections over the loopback interface are accepted when
SMTP_ALLOWLOCAL = "1", and everybody else is rejected. Independently, a non-empty TCP_OUT limits
every outbound TCP connection (root's too) to the ports it lists; loopback is always allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

MTA_USERS = frozenset({"mailnull", "exim", "Debian-exim", "postfix", "mailman"})
_LINE = re.compile(r'^\s*([A-Z0-9_]+)\s*=\s*"([^"]*)"')


@dataclass(frozen=True, slots=True)
class CsfSetting:
    value: str
    line: int
    text: str


@dataclass(frozen=True, slots=True)
class CsfConfig:
    path: Path
    settings: dict[str, CsfSetting] = field(default_factory=dict, hash=False, compare=False)
    disabled: bool = False  # etc/csf/csf.disable exists: csf -x was run, no rules loaded

    def get(self, key: str, default: str = "") -> str:
        s = self.settings.get(key)
        return s.value if s else default

    def flag(self, key: str) -> bool:
        return self.get(key, "0").strip() == "1"

    def ports(self, key: str) -> frozenset[int]:
        return parse_port_list(self.get(key))

    def names(self, key: str) -> tuple[str, ...]:
        return tuple(n.strip() for n in self.get(key).split(",") if n.strip())

    @property
    def smtp_block(self) -> bool:
        return self.flag("SMTP_BLOCK") and not self.disabled

    @property
    def smtp_ports(self) -> frozenset[int]:
        # CSF's default when the key is missing
        return self.ports("SMTP_PORTS") if "SMTP_PORTS" in self.settings else frozenset({25, 465, 587})

    def evidence_line(self, key: str) -> tuple[int, str] | None:
        s = self.settings.get(key)
        return (s.line, s.text) if s else None


def parse_port_list(text: str) -> frozenset[int]:
    """'25,465,587,30000:35000' -> the ports (ranges with ':' as CSF writes them)."""
    out: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        lo, sep, hi = part.partition(":") if ":" in part else part.partition("-")
        if lo.isdigit() and (not sep or hi.isdigit()):
            first, last = int(lo), int(hi) if sep else int(lo)
            if 0 < first <= last < 65536 and last - first < 70000:
                out.update(range(first, last + 1))
    return frozenset(out)


def parse_csf_conf(text: str) -> dict[str, CsfSetting]:
    """KEY = "VALUE" lines of csf.conf (comments and anything else ignored; the last one wins)."""
    out: dict[str, CsfSetting] = {}
    for no, line in enumerate(text.splitlines(), 1):
        m = _LINE.match(line)
        if m:
            out[m.group(1)] = CsfSetting(m.group(2), no, line.strip())
    return out


def read_csf(root: Path) -> CsfConfig | None:
    """CSF's configuration under ROOT, or None when CSF is not installed there."""
    path = root / "etc/csf/csf.conf"
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8", errors="replace")
    return CsfConfig(path, parse_csf_conf(text), (root / "etc/csf/csf.disable").exists())


@dataclass(frozen=True, slots=True)
class CsfDecision:
    blocked: bool
    key: str  # the setting that decides (SMTP_BLOCK, TCP_OUT, SMTP_ALLOWUSER, ...)
    reason: str


def csf_decides(cfg: CsfConfig, user: str, uid: int | None, groups: frozenset[str], port: int,
                loopback: bool) -> CsfDecision | None:
    """What CSF does with USER's new connection to PORT (over loopback or to a remote host); None: no say."""
    if cfg.disabled:
        return None
    if not loopback:
        tcp_out = cfg.ports("TCP_OUT")
        if cfg.get("TCP_OUT") and port not in tcp_out:
            return CsfDecision(True, "TCP_OUT", f"port {port} is not in TCP_OUT: CSF drops every outgoing "
                               "connection to it, root's included")
    if not cfg.smtp_block or port not in cfg.smtp_ports:
        return None
    if uid == 0:
        return CsfDecision(False, "SMTP_BLOCK", "root is always allowed")
    if user in MTA_USERS:
        return CsfDecision(False, "SMTP_BLOCK", f"{user} is the MTA's user, which CSF always allows")
    if user and user in cfg.names("SMTP_ALLOWUSER"):
        return CsfDecision(False, "SMTP_ALLOWUSER", f"{user} is listed in SMTP_ALLOWUSER")
    allowed_groups = set(cfg.names("SMTP_ALLOWGROUP"))
    if groups & allowed_groups:
        return CsfDecision(False, "SMTP_ALLOWGROUP", f"member of {', '.join(sorted(groups & allowed_groups))}")
    if loopback and cfg.flag("SMTP_ALLOWLOCAL"):
        return CsfDecision(False, "SMTP_ALLOWLOCAL", "connections to this server over loopback are allowed")
    return CsfDecision(True, "SMTP_BLOCK", f"SMTP_BLOCK rejects connections to port {port} from users other than "
                       "root, SMTP_ALLOWUSER and SMTP_ALLOWGROUP")
