"""Getting the header fields from .eml files, pasted headers and bounces."""

from __future__ import annotations

from maildoctor.headers.message import MAX_FIELDS, parse_header_text

ORIGINAL = (
    "Received: from mx.example.org (mx.example.org [192.0.2.25])\r\n"
    "\tby inbox.example.com (Postfix) with ESMTPS id 4AbC1\r\n"
    "\tfor <bob@example.com>; Mon, 1 Jan 2024 12:00:05 +0000 (UTC)\r\n"
    "Received: from laptop ([203.0.113.9]) by mx.example.org with esmtpsa (Exim 4.96)\r\n"
    " id 1rSabc-0001Xy-2Q; Mon, 1 Jan 2024 12:00:00 +0000\r\n"
    "From: Alice <alice@example.org>\r\n"
    "To: bob@example.com\r\n"
    "Subject: =?utf-8?q?caf=C3=A9?=\r\n"
    "Message-ID: <abc123@example.org>\r\n"
    "Date: Mon, 1 Jan 2024 11:59:58 +0000\r\n"
)


def test_eml_with_crlf_and_folding() -> None:
    hs = parse_header_text((ORIGINAL + "\r\nHello\r\n").encode())
    assert hs.origin == "message"
    received = hs.get_all("Received")
    assert len(received) == 2 and "4AbC1" in received[0]
    assert hs.first("message-id") == "<abc123@example.org>"


def test_bad_bytes_do_not_stop_reading() -> None:
    data = ORIGINAL.encode() + b"X-Junk: caf\xe9 \xff\xfe\r\n\r\nbody\xff\r\n"
    hs = parse_header_text(data)
    assert len(hs.get_all("Received")) == 2
    assert hs.first("X-Junk") is not None


def test_outlook_paste_with_title_and_no_body() -> None:
    paste = "\n\nMicrosoft Mail Internet Headers Version 2.0\n" + ORIGINAL.replace("\r\n", "\n")
    hs = parse_header_text(paste)
    assert len(hs.get_all("Received")) == 2 and hs.first("Subject") is not None


def test_mbox_from_line_and_indented_paste() -> None:
    hs = parse_header_text("From alice@example.org Mon Jan  1 12:00:00 2024\n" + ORIGINAL.replace("\r\n", "\n"))
    assert len(hs.get_all("Received")) == 2
    hs2 = parse_header_text("   " + ORIGINAL.replace("\r\n", "\n"))
    assert len(hs2.get_all("Received")) == 2


def test_exim_bounce_with_inline_copy() -> None:
    bounce = (
        "Received: from mailnull by mx.example.org with local (Exim 4.96) id 1rSxyz-0002Aa-1B;"
        " Mon, 1 Jan 2024 12:01:00 +0000\n"
        "From: Mail Delivery System <Mailer-Daemon@mx.example.org>\n"
        "To: alice@example.org\n"
        "Subject: Mail delivery failed: returning message to sender\n\n"
        "This message was created automatically by mail delivery software.\n\n"
        "  bob@example.com\n    host inbox.example.com [192.0.2.30]\n    550 5.1.1 User unknown\n\n"
        "------ This is a copy of the message, including all the headers. ------\n\n"
        + ORIGINAL.replace("\r\n", "\n")
        + "\nHello\n"
    )
    hs = parse_header_text(bounce)
    assert hs.origin == "bounce body"
    assert len(hs.get_all("Received")) == 2
    assert hs.first("Message-ID") == "<abc123@example.org>"
    assert any("mailnull" in v for n, v in hs.outer_fields if n == "Received")


def _dsn(part_type: str) -> str:
    return (
        "From: MAILER-DAEMON@inbox.example.com\nTo: alice@example.org\nSubject: Undelivered Mail Returned to Sender\n"
        'MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nsorry\n\n"
        "--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; inbox.example.com\n\n"
        "Final-Recipient: rfc822; bob@example.com\nAction: failed\nStatus: 5.1.1\n\n"
        f"--B\nContent-Type: {part_type}\n\n" + ORIGINAL.replace("\r\n", "\n") + "\n--B--\n"
    )


def test_dsn_with_message_rfc822() -> None:
    hs = parse_header_text(_dsn("message/rfc822"))
    assert hs.origin == "embedded message/rfc822"
    assert len(hs.get_all("Received")) == 2


def test_dsn_with_rfc822_headers() -> None:
    hs = parse_header_text(_dsn("text/rfc822-headers"))
    assert hs.origin == "embedded text/rfc822-headers"
    assert hs.first("Date") == "Mon, 1 Jan 2024 11:59:58 +0000"


def test_field_cap() -> None:
    text = "".join(f"X-H{i}: v\n" for i in range(MAX_FIELDS + 50)) + "\n"
    hs = parse_header_text(text)
    assert len(hs.fields) == MAX_FIELDS
    assert any("only the first" in n for n in hs.notes)


def test_gmail_show_original_page_paste() -> None:
    page = (
        "Original message\nMessage ID\t<abc123@example.org>\nCreated at:\tMon, Jan 1, 2024 at 12:00 PM "
        "(Delivered after 5 seconds)\nFrom:\tAlice <alice@example.org>\nTo:\tbob@example.com\nSubject:\thi\n"
        "SPF:\tPASS with IP 203.0.113.9 Learn more\nDownload original\tCopy to clipboard\n"
        + ORIGINAL.replace("\r\n", "\n")
    )
    hs = parse_header_text(page)
    assert len(hs.get_all("Received")) == 2
    assert hs.get_all("Message-ID") == ["<abc123@example.org>"]
