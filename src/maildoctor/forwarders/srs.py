"""Is SRS (Sender Rewriting Scheme) configured for forwarded mail? Reads MTA configs under a root."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from maildoctor.server.aliases import read_text, under

EXIM_CONFIGS = (
    "/etc/exim.conf",
    "/etc/exim.conf.localopts",
    "/etc/exim4/exim4.conf",
    "/etc/exim4/exim4.conf.template",
    "/etc/exim4/exim4.conf.localmacros",
    "/etc/exim4/update-exim4.conf.conf",
)
_EXIM_SRS = re.compile(r"^\s*[^#\s].*?(srs_encode|srs_config\s*=|srs_secrets?\s*=|\bSRS_\w+\s*=|^\s*srs\s*=\s*1\b)")
_LOCALOPTS_SRS = re.compile(r"^\s*srs\s*=\s*1\b")
_POSTFIX_SRS = re.compile(r"^\s*(sender_canonical_maps|recipient_canonical_maps)\s*=.*(postsrsd|srs|:10001)", re.I)


@dataclass(frozen=True, slots=True)
class SrsState:
    configured: bool
    source: str = ""  # file that turns it on
    line: int | None = None
    text: str = ""
    checked: tuple[str, ...] = ()  # server paths that were looked at


def _config_files(root: Path) -> list[str]:
    files = [p for p in EXIM_CONFIGS if under(root, p).is_file()]
    confd = under(root, "/etc/exim4/conf.d")
    if confd.is_dir():
        files += sorted("/" + str(p.relative_to(root)) for p in confd.rglob("*") if p.is_file())
    if under(root, "/etc/postfix/main.cf").is_file():
        files.append("/etc/postfix/main.cf")
    return files


def read_srs_state(root: Path) -> SrsState:
    """Whether any Exim or Postfix configuration under root rewrites senders with SRS."""
    files = _config_files(root)
    for server_path in files:
        pattern = _POSTFIX_SRS if server_path.endswith("main.cf") else _EXIM_SRS
        if server_path.endswith(".localopts"):
            pattern = _LOCALOPTS_SRS
        try:
            text = read_text(under(root, server_path))
        except OSError:
            continue
        for no, line in enumerate(text.splitlines(), 1):
            if pattern.search(line):
                return SrsState(True, server_path, no, line.strip(), tuple(files))
    return SrsState(False, checked=tuple(files))
