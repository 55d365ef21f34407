"""Hostile input: whatever the bytes, parse_bounce returns a Bounce (never raises)."""

from __future__ import annotations

from bounce_samples import EXIM_MULTI, POSTFIX_DSN
from hypothesis import given, settings
from hypothesis import strategies as st

from maildoctor.bounce import Bounce, parse_bounce

_PIECES = [
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=\"X\"\n",
    b"Content-Type: message/delivery-status\n", b"Content-Type: message/rfc822\n",
    b"Content-Transfer-Encoding: base64\n", b"Content-Transfer-Encoding: quoted-printable\n",
    b"--X\n", b"--X--\n", b"\n", b"Final-Recipient: rfc822; a@b.example\n", b"Status: 5.1.1\n",
    b"Diagnostic-Code: smtp; 550 5.1.1 user unknown\n", b"From: MAILER-DAEMON@x.example\n",
    b"  nobody@x.example\n", b"    SMTP error from remote mail server after RCPT TO:<a@b>:\n",
    b"=?utf-8?b?!!!?=\n", b"\xff\xfe\x00", b"\r\n", b"\r",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4000))
def test_random_bytes(raw: bytes) -> None:
    assert isinstance(parse_bounce(raw), Bounce)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=60))
def test_mime_like_fragments(pieces: list[bytes]) -> None:
    assert isinstance(parse_bounce(b"".join(pieces)), Bounce)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=len(POSTFIX_DSN)), st.integers(min_value=0, max_value=len(EXIM_MULTI)))
def test_truncated_real_bounces(cut1: int, cut2: int) -> None:
    assert isinstance(parse_bounce(POSTFIX_DSN[:cut1]), Bounce)
    assert isinstance(parse_bounce(EXIM_MULTI[:cut2]), Bounce)
