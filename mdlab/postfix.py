"""Postfix 3.7 run from the unpacked Debian package (it conflicts with exim4 in apt) as a second MTA."""

from __future__ import annotations

import os
from pathlib import Path

from . import topology as t

POSTFIX_ROOT = Path(os.environ.get("MDLAB_POSTFIX_ROOT", "/opt/mdlab/postfix"))
LIBDIR = POSTFIX_ROOT / "usr/lib/postfix"
DAEMONDIR = LIBDIR / "sbin"
COMMANDDIR = POSTFIX_ROOT / "usr/sbin"

# chroot off everywhere: the queue lives in the lab's work dir, not in /var/spool/postfix.
MASTER_CF = """\
smtp      inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

QUEUE_DIRS = {  # name: (mode, group is postdrop)
    "active": (0o700, False),
    "bounce": (0o700, False),
    "corrupt": (0o700, False),
    "defer": (0o700, False),
    "deferred": (0o700, False),
    "flush": (0o700, False),
    "hold": (0o700, False),
    "incoming": (0o700, False),
    "private": (0o700, False),
    "saved": (0o700, False),
    "trace": (0o700, False),
    "maildrop": (0o730, True),
    "public": (0o710, True),
}


def postfix_available() -> bool:
    return (DAEMONDIR / "master").is_file() and (LIBDIR / "libpostfix-util.so").is_file()


def postfix_dir(workdir: Path) -> Path:
    return workdir / "postfix"


def render_main_cf(workdir: Path) -> str:
    base = postfix_dir(workdir)
    return f"""\
compatibility_level = 3.6
queue_directory = {base}/spool
data_directory = {base}/data
command_directory = {COMMANDDIR}
daemon_directory = {DAEMONDIR}
shlib_directory = {LIBDIR}
meta_directory = {base}/etc
mail_owner = postfix
setgid_group = postdrop
myhostname = {t.POSTFIX_HOST}
mydomain = postfix.test
myorigin = $mydomain
mydestination = $myhostname, localhost.$mydomain, localhost
inet_interfaces = {t.POSTFIX_IP}
inet_protocols = ipv4
mynetworks = 127.0.0.0/8, 192.0.2.0/24
smtp_bind_address = {t.POSTFIX_IP}
relayhost =
alias_maps =
alias_database =
local_recipient_maps = unix:passwd.byname
smtpd_banner = $myhostname ESMTP Postfix (Debian/GNU)
biff = no
smtputf8_enable = no
smtpd_tls_security_level = none
smtp_tls_security_level = none
maillog_file = {base}/log/maillog
maillog_file_prefixes = {base}/log
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME
    LD_LIBRARY_PATH={LIBDIR}
minimal_backoff_time = 15s
queue_run_delay = 15s
"""


def prepare_postfix(workdir: Path) -> None:
    """Config, queue and data directories with the ownership Postfix checks."""
    base = postfix_dir(workdir)
    uid, postdrop = t.POSTFIX_UID, t.POSTDROP_GID
    (base / "etc").mkdir(parents=True, exist_ok=True)
    (base / "etc" / "main.cf").write_text(render_main_cf(workdir))
    (base / "etc" / "master.cf").write_text(MASTER_CF)
    (base / "etc" / "dynamicmaps.cf").write_text("")
    spool = base / "spool"
    spool.mkdir(exist_ok=True)
    spool.chmod(0o755)
    (spool / "pid").mkdir(exist_ok=True)
    for name, (mode, pd) in QUEUE_DIRS.items():
        d = spool / name
        d.mkdir(exist_ok=True)
        d.chmod(mode)
        os.chown(d, uid, postdrop if pd else uid)
    for name in ("data", "log"):
        d = base / name
        d.mkdir(exist_ok=True)
        d.chmod(0o700 if name == "data" else 0o755)
        os.chown(d, uid, uid)


def postfix_env(workdir: Path) -> list[str]:
    return ["env", f"LD_LIBRARY_PATH={LIBDIR}", f"MAIL_CONFIG={postfix_dir(workdir) / 'etc'}"]


def postfix_master_argv(workdir: Path) -> list[str]:
    """master in the foreground (it only forks with -w), errors to our log via -d."""
    return [*postfix_env(workdir), str(DAEMONDIR / "master"), "-d", "-c", str(postfix_dir(workdir) / "etc")]


def postfix_command(workdir: Path, name: str, *args: str) -> list[str]:
    """argv for a Postfix command (postqueue, postcat, postconf...) with this lab's configuration."""
    return [*postfix_env(workdir), str(COMMANDDIR / name), "-c", str(postfix_dir(workdir) / "etc"), *args]
