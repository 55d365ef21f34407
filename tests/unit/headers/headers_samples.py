"""Shared samples for the headers tests: an Exim log of a greylisted, then delivered message."""

from __future__ import annotations

EXIM_ID = "1rSabc-0001Xy-2Q"

_DEFER = (
    " == bob@example.com R=dnslookup T=remote_smtp defer (-44) H=inbox.example.com [192.0.2.30]: SMTP error from"
    " remote mail server after RCPT TO:<bob@example.com>: 451 4.7.1 Greylisted, please try again later"
)
DEFERRED_LOG = "\n".join(
    [
        f"2024-01-01 12:00:00 {EXIM_ID} <= alice@example.org H=laptop ([203.0.113.9]) P=esmtpsa"
        " X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no A=dovecot_plain:alice@example.org S=1234"
        ' id=abc123@example.org T="hello"',
        f"2024-01-01 12:00:01 {EXIM_ID}{_DEFER}",
        f"2024-01-01 12:15:00 {EXIM_ID}{_DEFER}",
        f"2024-01-01 13:00:03 {EXIM_ID} => bob@example.com R=dnslookup T=remote_smtp H=inbox.example.com"
        ' [192.0.2.30] X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes C="250 2.0.0 Ok: queued as 4F3D21234"',
        f"2024-01-01 13:00:03 {EXIM_ID} Completed",
        "",
    ]
)
