"""Server-root fixtures: a copy of tests/fixtures/roots/NAME with the ownership and modes git cannot store."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

ROOTS = Path(__file__).resolve().parents[2] / "fixtures" / "roots"


def _uids(root: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for line in (root / "etc/passwd").read_text().splitlines():
        parts = line.split(":")
        out[parts[0]] = (int(parts[2]), int(parts[3]))
    return out


def prepare_root(name: str, dest: Path) -> Path:
    """Copy the fixture root and give each /home/USER to USER, as on a real server.

    As root the uids of the fixture's etc/passwd are applied; otherwise etc/passwd is rewritten
    so the first account is the current user (checks that need a foreign owner then skip).
    """
    root = dest / name
    shutil.copytree(ROOTS / name, root, symlinks=True)
    uids = _uids(root)
    if os.geteuid() != 0:
        me = os.getuid()
        text = (root / "etc/passwd").read_text()
        text = text.replace(":1001:1001:", f":{me}:{os.getgid()}:")
        (root / "etc/passwd").write_text(text)
        return root
    for user, (uid, gid) in uids.items():
        home = root / "home" / user
        if home.is_dir():
            for dirpath, dirnames, filenames in os.walk(home):
                for n in [*dirnames, *filenames]:
                    os.lchown(os.path.join(dirpath, n), uid, gid)
            os.lchown(home, uid, gid)
    if name == "broken":
        bob = uids["bob"]
        os.chown(root / "home/alice/foreign.php", *bob)
    if (root / "home/alice/secret.php").exists():
        os.chmod(root / "home/alice/secret.php", 0o000)
    return root


@pytest.fixture
def make_root(tmp_path: Path) -> Callable[[str], Path]:
    return lambda name: prepare_root(name, tmp_path)
