"""The live server tree (cPanel layout) written before the overlays are mounted.

live/etc and live/var become the upper layers of overlays over /etc and /var inside the lab's
mount namespace, live/home is bound over /home: so the same directory is both what Exim sees at
/etc/valiases, /var/log/exim_mainlog, /home/alice/mail and the server root that tests read.
"""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
from pathlib import Path

from . import topology as t
from .dnszone import render_unbound_conf
from .eximconf import render_local_exim_conf, render_remote_exim_conf

TICKET_SCRIPT = """#!/bin/sh
# Pipe target that fails: the ticket system it feeds is down.
cat >/dev/null
echo "ticket-import: cannot connect to database helpdesk on localhost: Connection refused" >&2
exit 1
"""

AUTORESPONDER_SCRIPT = """#!/bin/sh
# Pipe target that works but prints: with cPanel's return_output any output bounces the message.
cat >/dev/null
echo "PHP Warning:  Undefined variable \\$subject in /home/alice/bin/autoresponder.php on line 12"
exit 0
"""

# A compromised website script: PHP's mail() runs sendmail_path ("/usr/sbin/sendmail -t -i") from
# the script's directory, which is what gives cPanel's "cwd=/home/USER/public_html/..." log lines.
MAILER_SCRIPT = r"""<?php
// usage: php wp-mailer.php COUNT DOMAIN TAG  -- COUNT phishing messages to customerN@DOMAIN
$count = (int)($argv[1] ?? 30);
$domain = $argv[2] ?? 'remote.test';
$tag = $argv[3] ?? 'script_flood';
for ($n = 1; $n <= $count; $n++) {
    $headers = "From: \"Account Security\" <noreply@bob-blog.test>\r\n"
        . "Message-ID: <mdlab-$tag-$n@bob-blog.test>";
    $body = "Your account will be suspended. Verify now: http://bob-blog.test/wp-content/uploads/verify.php\n";
    if (!mail("customer$n@$domain", "Urgent: verify your account $n", $body, $headers)) {
        fwrite(STDERR, "mail() failed for message $n\n");
        exit(1);
    }
}
"""


def _write(path: Path, text: str, mode: int = 0o644, owner: tuple[int, int] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    if owner:
        os.chown(path, *owner)


def _mkdir(path: Path, mode: int, owner: tuple[int, int]) -> None:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(mode)
    os.chown(path, *owner)


def _maildir(path: Path, owner: tuple[int, int]) -> None:
    for sub in ("", "cur", "new", "tmp"):
        _mkdir(path / sub if sub else path, 0o751 if not sub else 0o700, owner)


def exim_ids() -> tuple[int, int]:
    return pwd.getpwnam("Debian-exim").pw_uid, grp.getgrnam("Debian-exim").gr_gid


def _passwd_hash(password: str) -> str:
    out = subprocess.run(["openssl", "passwd", "-6", "-salt", "mdlablab", password], capture_output=True, text=True)
    return out.stdout.strip()


def build_tree(workdir: Path) -> None:
    """Write live/{etc,var,home}, the remote MX's directory and unbound's directory under workdir."""
    live = workdir / "live"
    etc, var, home = live / "etc", live / "var", live / "home"
    exim = exim_ids()
    root = (0, 0)
    for d in (etc, var, home):
        _mkdir(d, 0o755, root)

    # Accounts: the host's passwd plus the lab's cPanel users and Postfix's users.
    passwd = Path("/etc/passwd").read_text()
    group = Path("/etc/group").read_text()
    extra_pw = [f"{u.name}:x:{u.uid}:{u.uid}::/home/{u.name}:/bin/bash" for u in t.USERS]
    extra_pw.append(f"postfix:x:{t.POSTFIX_UID}:{t.POSTFIX_UID}::/nonexistent:/usr/sbin/nologin")
    extra_gr = [f"{u.name}:x:{u.uid}:" for u in t.USERS]
    extra_gr += [f"postfix:x:{t.POSTFIX_UID}:", f"postdrop:x:{t.POSTDROP_GID}:"]
    _write(etc / "passwd", passwd.rstrip("\n") + "\n" + "\n".join(extra_pw) + "\n")
    _write(etc / "group", group.rstrip("\n") + "\n" + "\n".join(extra_gr) + "\n")
    _write(etc / "resolv.conf", f"nameserver {t.DNS_IP}\noptions timeout:2 attempts:1\n")
    _write(etc / "hosts", f"127.0.0.1\tlocalhost\n{t.LOCAL_IP}\t{t.HOSTNAME} host\n")
    _write(etc / "mailname", t.HOSTNAME + "\n")
    _write(etc / "hostname", t.HOSTNAME + "\n")

    # cPanel's domain files.
    _write(etc / "localdomains", "".join(f"{u.domain}\n" for u in t.USERS) + f"{t.HOSTNAME}\n")
    _write(etc / "userdomains", "".join(f"{u.domain}: {u.name}\n" for u in t.USERS) + "*: nobody\n")
    _write(etc / "trueuserdomains", "".join(f"{u.domain}: {u.name}\n" for u in t.USERS))
    _write(etc / "trueuserowners", "".join(f"{u.name}: root\n" for u in t.USERS))
    _write(etc / "aliases", "mailer-daemon: postmaster\npostmaster: root\nroot: alice\nnobody: root\n")
    for u in t.USERS:
        lines = [f"{src}: {dst}" for src, dst in t.VALIASES.get(u.domain, [])]
        # cPanel: owner:mail 0640 with Exim running as mailnull:mail; here Exim's group.
        _write(etc / "valiases" / u.domain, "\n".join(lines) + "\n", 0o640, (u.uid, exim[1]))
        _write(etc / "vdomainaliases" / u.domain, "", 0o640, (u.uid, exim[1]))
        _write(
            var / "cpanel" / "users" / u.name,
            f"USER={u.name}\nDNS={u.domain}\nOWNER=root\nPLAN=default\nMAXPOP=unlimited\n",
        )

    # The Exim configuration at cPanel's path; Debian's exim4 reads /etc/exim4/exim4.conf first.
    _write(etc / "exim.conf", render_local_exim_conf())
    (etc / "exim4").mkdir(exist_ok=True)
    (etc / "exim4" / "exim4.conf").symlink_to("/etc/exim.conf")
    remote = workdir / "remote"
    _write(etc / "exim4" / "trusted_configs", f"{remote / 'exim.conf'}\n")
    hashed = _passwd_hash(t.AUTH_PASSWORD)
    auth_lines = []
    for u in t.USERS:
        for box in u.mailboxes:
            auth_lines.append(f"{box}@{u.domain}: {hashed}")
    _write(etc / "exim_smtp_passwd", "\n".join(auth_lines) + "\n", 0o640, (0, exim[1]))
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "30",
            "-subj",
            f"/CN={t.HOSTNAME}",
            "-keyout",
            str(etc / "exim.key"),
            "-out",
            str(etc / "exim.crt"),
        ],
        check=True,
        capture_output=True,
    )
    (etc / "exim.key").chmod(0o600)
    os.chown(etc / "exim.key", *exim)

    # Logs and spool at cPanel's paths.
    _mkdir(var / "log", 0o755, root)
    for name in ("mainlog", "rejectlog", "paniclog"):
        _write(var / "log" / f"exim_{name}", "", 0o640, exim)
    _mkdir(var / "spool" / "exim", 0o750, exim)

    # Homes: main mailbox, email accounts, their passwd/shadow, public_html and scripts.
    for u in t.USERS:
        ids = (u.uid, u.uid)
        h = home / u.name
        _mkdir(h, 0o711, ids)
        _maildir(h / "mail", ids)
        _mkdir(h / "etc", 0o750, ids)
        _mkdir(h / "etc" / u.domain, 0o750, ids)
        pw, sh = [], []
        for box in u.mailboxes:
            # cPanel: user:mail 0750, so that Exim (group mail) can list the accounts.
            _mkdir(h / "mail" / u.domain, 0o750, (u.uid, exim[1]))
            _maildir(h / "mail" / u.domain / box, ids)
            pw.append(f"{box}:x:{u.uid}:{u.uid}::/home/{u.name}/mail/{u.domain}/{box}:/home/{u.name}")
            sh.append(f"{box}:{hashed}:20000::::::")
        quotas = [f"{box}:{t.QUOTAS.get((u.name, box), 0)}" for box in u.mailboxes]
        _write(h / "etc" / u.domain / "quota", "\n".join(quotas) + "\n", 0o644, ids)
        _write(h / "etc" / u.domain / "passwd", "\n".join(pw) + "\n", 0o644, ids)
        _write(h / "etc" / u.domain / "shadow", "\n".join(sh) + "\n", 0o640, ids)
        _mkdir(h / "public_html", 0o750, ids)
        _write(h / "public_html" / "index.html", f"<h1>{u.domain}</h1>\n", 0o644, ids)
    alice = (t.USERS[0].uid, t.USERS[0].uid)
    old_mail = f"From: customer@remote.test\nSubject: old attachment\n\n{'x' * t.OVER_QUOTA_FILL}\n"
    _write(home / "alice/mail/alice-shop.test/support/cur/1700000000.M1P1.old:2,S", old_mail, 0o600, alice)
    _mkdir(home / "alice" / "bin", 0o755, alice)
    _write(home / "alice" / "bin" / "ticket-import.sh", TICKET_SCRIPT, 0o755, alice)
    _write(home / "alice" / "bin" / "autoresponder.sh", AUTORESPONDER_SCRIPT, 0o755, alice)
    bob = (t.USERS[1].uid, t.USERS[1].uid)
    uploads = home / "bob" / "public_html" / "wp-content" / "uploads"
    _mkdir(uploads.parent, 0o755, bob)
    _mkdir(uploads, 0o755, bob)
    _write(uploads / "wp-mailer.php", MAILER_SCRIPT, 0o644, bob)

    # The remote MX (outside the server root) and unbound.
    _mkdir(remote, 0o755, root)
    _write(remote / "exim.conf", render_remote_exim_conf(remote))
    _mkdir(remote / "spool", 0o750, exim)
    _mkdir(remote / "log", 0o750, exim)
    _mkdir(remote / "maildir", 0o750, exim)
    dns = workdir / "unbound"
    dns.mkdir(exist_ok=True)
    _write(dns / "unbound.conf", render_unbound_conf(dns))
