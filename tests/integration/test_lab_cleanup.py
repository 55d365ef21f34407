"""A lab leaves nothing behind: processes, namespace, /etc/netns entry and work dir go, also after a failure."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import mdlab.tree
from mdlab import Lab, LabError, LabRun

pytestmark = pytest.mark.integration


def netns_names() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def test_stop_removes_everything(lab: LabRun) -> None:  # uses `lab` only to share its skip/fail rule
    other = Lab()
    other.start()
    pids = other.ns.pids()
    assert len(pids) >= 5  # holder, unbound, two Exims, Postfix master and its children
    assert other.name in netns_names()
    workdir = other.workdir
    other.stop()
    assert other.name not in netns_names()
    assert not Path("/etc/netns", other.name).exists()
    assert not workdir.exists()
    assert [p for p in pids if Path(f"/proc/{p}").exists() and _state(p) != "Z"] == []
    assert lab.netns in netns_names()  # the session lab is untouched


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def test_failed_start_cleans_up(lab: LabRun, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mdlab.tree, "render_local_exim_conf", lambda: "this is not an exim configuration\n")
    broken = Lab()
    with pytest.raises(LabError, match="exim"):
        broken.start()
    assert broken.name not in netns_names()
    assert not Path("/etc/netns", broken.name).exists()
    assert not broken.workdir.exists()
    assert os.path.exists(lab.mainlog)  # the session lab is untouched
