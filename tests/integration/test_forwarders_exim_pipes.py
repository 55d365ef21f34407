"""pipe-test's predictions against a real Exim delivering to the same pipes, exit code by exit code.

A private mount namespace (`unshare -m`) binds a temporary directory over /etc/exim4, so this
host's Exim reads a small cPanel-style configuration (valiases -> pipe transport with
return_output) without touching the host's files. Each pipe is delivered once by Exim (`-odi`);
the text Exim writes in its main log must equal what pipe-test predicts for the same command.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from maildoctor.forwarders.runner import RunAs, run_pipe

pytestmark = pytest.mark.integration

EXIM = shutil.which("exim") or shutil.which("exim4") or "/usr/sbin/exim4"

CONF = """
primary_hostname = pipes.lab.test
domainlist local_domains = lsearch;@D@/localdomains
exim_user = Debian-exim
exim_group = Debian-exim
never_users = root
keep_environment =
spool_directory = @D@/spool
log_file_path = @D@/log/%slog
begin routers
virtual_aliases_nostar:
  driver = redirect
  domains = +local_domains
  allow_fail
  allow_defer
  data = ${lookup{$local_part@$domain}lsearch{@D@/valiases/${lookup{$domain}dsearch{@D@/valiases}}}}
  pipe_transport = address_pipe
begin transports
address_pipe:
  driver = pipe
  return_output
  user = nobody
"""

SCRIPTS = {
    "ok": "cat >/dev/null\nexit 0\n",
    "one": "cat >/dev/null\nexit 1\n",
    "usage": "cat >/dev/null\nexit 64\n",
    "tempfail": "cat >/dev/null\nexit 75\n",
    "cantcreat": "cat >/dev/null\nexit 73\n",
    "talks": "cat >/dev/null\necho 'Thank you, ticket received'\nexit 0\n",
    "stderr": "cat >/dev/null\necho 'PHP Notice: undefined index' >&2\nexit 0\n",
    "killed": "cat >/dev/null\nkill -KILL $$\n",
    "term": "cat >/dev/null\nkill -TERM $$\nexit 0\n",  # Exim's pipes run with SIGTERM ignored
}


def _available() -> str | None:
    if os.geteuid() != 0:
        return "needs root (mount namespace, Exim delivery as another uid)"
    if not Path(EXIM).exists() or shutil.which("unshare") is None:
        return "needs exim4 and unshare"
    try:
        pwd.getpwnam("nobody")
        grp.getgrnam("Debian-exim")
    except KeyError:
        return "needs the nobody user and Debian's Debian-exim group"
    return None


@pytest.fixture(scope="module")
def exim_dir() -> Iterator[Path]:
    reason = _available()
    if reason:
        if os.environ.get("CI", "").lower() == "true":  # as the lab: in CI a missing Exim is a failure
            pytest.fail(f"real Exim unavailable in CI: {reason}")
        pytest.skip(reason)
    d = Path(tempfile.mkdtemp(prefix="md-eximpipes-"))
    d.chmod(0o755)
    (d / "valiases").mkdir()
    (d / "scripts").mkdir(mode=0o755)
    (d / "localdomains").write_text("pipes.test\n")
    lines = []
    for name, body in SCRIPTS.items():
        p = d / "scripts" / f"{name}.sh"
        p.write_text("#!/bin/sh\n" + body)
        p.chmod(0o755)
        lines.append(f"{name}@pipes.test: |{p}")
    plain = d / "scripts" / "noexec.sh"
    plain.write_text("#!/bin/sh\nexit 0\n")
    plain.chmod(0o644)
    lines.append(f"noexec@pipes.test: |{plain}")
    lines.append("nointerp@pipes.test: |/usr/local/bin/md-no-such-php -q /home/x/pipe.php")
    (d / "valiases" / "pipes.test").write_text("\n".join(lines) + "\n")
    etc = d / "etc-exim4"
    etc.mkdir()
    (etc / "exim4.conf").write_text(CONF.replace("@D@", str(d)))
    eximgid = grp.getgrnam("Debian-exim").gr_gid
    eximuid = pwd.getpwnam("Debian-exim").pw_uid
    for sub in ("spool", "log"):
        (d / sub).mkdir()
        os.chown(d / sub, eximuid, eximgid)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def deliver(d: Path, local: str) -> str:
    """Let the real Exim deliver one message to local@pipes.test; return its main-log outcome text."""
    msg = f"From: ann@sender.test\nTo: {local}@pipes.test\nSubject: pipe {local}\n\nhello\n"
    script = f'mount --bind "{d}/etc-exim4" /etc/exim4 && exec {EXIM} -odi -f ann@sender.test {local}@pipes.test'
    subprocess.run(["unshare", "-m", "sh", "-c", script], input=msg, text=True, capture_output=True, timeout=60)
    log = (d / "log" / "mainlog").read_text(errors="replace")
    pat = re.compile(rf"(\*\*|==|=>) \|.*? <{local}@pipes\.test> R=\S+ T=address_pipe(?:: | defer \(-?\d+\): |$)(.*)$")
    found = [m for m in map(pat.search, log.splitlines()) if m]
    assert found, f"no delivery line for {local} in the Exim main log:\n{log[-2000:]}"
    flag, text = found[-1].group(1), found[-1].group(2)
    return {"=>": "delivered", "==": "deferred", "**": "bounced"}[flag] + "|" + text


@pytest.mark.parametrize("local", [*SCRIPTS, "noexec", "nointerp"])
def test_pipe_test_matches_real_exim(exim_dir: Path, local: str) -> None:
    (entry,) = [
        line for line in (exim_dir / "valiases" / "pipes.test").read_text().splitlines() if line.startswith(local + "@")
    ]
    command = entry.split(": |", 1)[1]
    nobody = pwd.getpwnam("nobody")
    run_as = RunAs("nobody", nobody.pw_uid, nobody.pw_gid, "/")
    message = f"From: ann@sender.test\nTo: {local}@pipes.test\nSubject: pipe {local}\n\nhello\n".encode()
    predicted = run_pipe(command, message, run_as, f"{local}@pipes.test", "ann@sender.test", 30)
    real = deliver(exim_dir, local)
    assert f"{predicted.exim_action}|{predicted.exim_log}" == real
