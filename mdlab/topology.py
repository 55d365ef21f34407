"""Fixed names and addresses of the lab: one hosting server, one remote MX, one Postfix host, test clients.

Every address lives on the loopback link of the lab's private network namespace; TEST-NET ranges
(RFC 5737) are used so that nothing here could ever be a real host.
"""

from __future__ import annotations

from dataclasses import dataclass

DNS_IP = "127.0.0.1"
LOCAL_IP = "192.0.2.10"  # the cPanel-like server (local Exim)
REMOTE_MX_IP = "192.0.2.20"  # remote Exim: mx.remote.test, canned rejections
BUSY_MX_IP = "192.0.2.21"  # same remote Exim, answers 421 at greeting (mx.busy.test)
SLOW_MX_IP = "192.0.2.22"  # nothing listens: connection refused (slow.test, delay warnings)
DEAD_MX_IP = "192.0.2.23"  # nothing listens: connection refused (dead.test, short retry rule)
POSTFIX_IP = "192.0.2.30"  # Postfix 3.7 (mail.postfix.test)
CLIENT_IP = "198.51.100.10"  # an outside client, for SPF (libspf2 always passes loopback)
LAB_ADDRESSES = (LOCAL_IP, REMOTE_MX_IP, BUSY_MX_IP, SLOW_MX_IP, DEAD_MX_IP, POSTFIX_IP, CLIENT_IP)

HOSTNAME = "host.lab-hosting.test"
REMOTE_MX_HOST = "mx.remote.test"
BUSY_MX_HOST = "mx.busy.test"
POSTFIX_HOST = "mail.postfix.test"
CLIENT_HOST = "client.spf-pass.test"

SMTP_PORTS = {"smtp": 25, "smtps": 465, "submission": 587}
POSTFIX_PORT = 25
UNUSED_DNS_PORT = 5399  # the SERVFAIL zone is forwarded here, where nothing answers

AUTH_PASSWORD = "Lab-Passw0rd!"


@dataclass(frozen=True)
class User:
    """A cPanel account: system user, its domain and its email accounts (mailboxes)."""

    name: str
    uid: int
    domain: str
    mailboxes: tuple[str, ...]


USERS = (
    User("alice", 4211, "alice-shop.test", ("sales", "info", "support")),
    User("bob", 4212, "bob-blog.test", ("contact",)),
)
# /home/<user>/etc/<domain>/quota (cPanel: mailbox:bytes); support@ is already over its quota.
QUOTAS = {("alice", "support"): 2000}
OVER_QUOTA_FILL = 3000  # bytes of old mail pre-filled in support@'s maildir
POSTFIX_UID = 4290
POSTDROP_GID = 4291

# /etc/valiases/<domain>: cPanel forwarders, pipes, :fail: entries and the default address ("*").
VALIASES: dict[str, list[tuple[str, str]]] = {
    "alice-shop.test": [
        ("orders@alice-shop.test", "sales@alice-shop.test"),
        ("gone@alice-shop.test", ":fail: No such person at this address"),
        ("tickets@alice-shop.test", "|/home/alice/bin/ticket-import.sh"),
        ("autoreply@alice-shop.test", "|/home/alice/bin/autoresponder.sh"),
        ("*", ":fail: No such person at this address"),
    ],
    "bob-blog.test": [
        ("*", "bob"),
    ],
}

SENDER = "sales@alice-shop.test"  # the local sender whose maildir collects bounces
SENDER_MAILDIR = "home/alice/mail/alice-shop.test/sales"
