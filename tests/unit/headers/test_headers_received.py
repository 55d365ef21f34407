"""Received-header parsing on the forms real MTAs write."""

from __future__ import annotations

import datetime as dt

import pytest

from maildoctor.headers.received import find_ips, parse_received


def _utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def test_exim_cpanel_tls_authenticated() -> None:
    r = parse_received(
        "Received: from [203.0.113.5] (port=51234 helo=[192.168.1.10])\n"
        "\tby server.example.com with esmtpsa  (TLS1.2) tls TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384\n"
        "\t(Exim 4.96.2)\n\t(envelope-from <user@example.com>)\n\tid 1rSabc-0001Xy-2Q\n"
        "\tfor dest@example.net; Tue, 23 Jan 2024 10:00:00 -0500"
    )
    assert r.mta == "exim"
    assert r.ip == "203.0.113.5"
    assert r.helo == "[192.168.1.10]"
    assert r.by_host == "server.example.com"
    assert r.protocol == "esmtpsa"
    assert r.tls and r.tls_version == "TLS1.2"
    assert r.tls_cipher == "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
    assert r.authenticated
    assert r.envelope_from == "user@example.com"
    assert r.id == "1rSabc-0001Xy-2Q"
    assert r.for_address == "dest@example.net"
    assert r.date is not None and r.date.utc == _utc(2024, 1, 23, 15, 0, 0)
    assert r.date.offset_minutes == -300


def test_exim_new_style_id_and_verified_rdns() -> None:
    r = parse_received(
        "from mail.example.net ([198.51.100.7]:43210 helo=smtp.example.net) by mx.example.org with esmtps "
        "(TLS1.3) tls TLS_AES_256_GCM_SHA384 (Exim 4.97) (envelope-from <a@example.net>) "
        "id 1tA2bC-00000001AbC-0Xy1 for b@example.org; Sat, 28 Nov 2026 08:00:00 +0000"
    )
    assert (r.rdns, r.helo, r.ip) == ("mail.example.net", "smtp.example.net", "198.51.100.7")
    assert r.id == "1tA2bC-00000001AbC-0Xy1"
    assert not r.authenticated


def test_postfix_tls_and_sasl() -> None:
    r = parse_received(
        "from laptop (dsl-203-0-113-9.example.net [203.0.113.9])\n"
        "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\n"
        "\t key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256)\n"
        "\t(No client certificate requested)\n\t(Authenticated sender: alice@example.org)\n"
        "\tby mail.example.org (Postfix) with ESMTPSA id 4Tk1b25XyZz9sW\n"
        "\tfor <bob@example.com>; Tue, 23 Jan 2024 11:00:00 +0100 (CET)"
    )
    assert r.mta == "postfix"
    assert (r.helo, r.rdns, r.ip) == ("laptop", "dsl-203-0-113-9.example.net", "203.0.113.9")
    assert r.tls and r.tls_version == "TLSv1.3" and r.tls_cipher == "TLS_AES_256_GCM_SHA384"
    assert r.authenticated and r.auth_user == "alice@example.org"
    assert r.id == "4Tk1b25XyZz9sW"
    assert r.for_ == "<bob@example.com>"
    assert r.date is not None and r.date.utc == _utc(2024, 1, 23, 10, 0, 0)


def test_postfix_unknown_rdns_is_not_a_name() -> None:
    r = parse_received(
        "from hotmail.com (unknown [96.202.181.20]) by localhost (Postfix) with ESMTP id 6EF7F2E0BAB; "
        "Sun, 13 May 2018 04:32:23 +0000 (UTC)"
    )
    assert r.rdns is None and r.helo == "hotmail.com" and r.ip == "96.202.181.20"


def test_sendmail_with_tls_comment_after_id() -> None:
    r = parse_received(
        "from mail.example.net (mail.example.net [198.51.100.7]) by mx.example.org (8.15.2/8.15.2/Debian-22) "
        "with ESMTPS id 29AKBWdZ005349 (version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256 verify=NOT) "
        "for <u@example.org>; Mon, 10 Oct 2022 20:11:32 GMT"
    )
    assert r.mta == "sendmail"
    assert r.id == "29AKBWdZ005349"
    assert r.for_address == "u@example.org"
    assert r.tls_version == "TLSv1.3"
    assert r.date is not None and r.date.utc == _utc(2022, 10, 10, 20, 11, 32)


def test_sendmail_local_submission() -> None:
    r = parse_received(
        "(from www-data@localhost) by vps.example.net (8.15.2/8.15.2/Submit) id 29AKBWwn005317; "
        "Mon, 10 Oct 2022 20:11:32 GMT"
    )
    assert r.from_ is None
    assert r.by_host == "vps.example.net"
    assert r.id == "29AKBWwn005317"
    assert "(from www-data@localhost)" in r.comments


def test_qmail_pair() -> None:
    a = parse_received("(qmail 11769 invoked from network); 22 Aug 2016 14:23:01 -0000")
    assert a.by == "qmail 11769 invoked from network" and a.mta == "qmail" and a.by_host is None
    b = parse_received(
        "from unknown (HELO sgis.com.cn) (218.15.33.11) by smtp.didi.net with SMTP; 8 Mar 2017 05:57:05 -0000"
    )
    assert (b.helo, b.ip, b.rdns) == ("sgis.com.cn", "218.15.33.11", None)
    assert b.date is not None and b.date.utc == _utc(2017, 3, 8, 5, 57, 5)
    assert not b.date.zone_assumed  # -0000 is a zone: UTC, local offset unknown


def test_exchange_online_mapi_with_scoped_ipv6() -> None:
    r = parse_received(
        "from DM6PR11MB4691.namprd11.prod.outlook.com ([fe80::1234:5678:9abc:def0]) by "
        "DM6PR11MB4691.namprd11.prod.outlook.com ([fe80::1234:5678:9abc:def0%7]) with mapi id 15.20.7202.031; "
        "Tue, 23 Jan 2024 10:00:00 +0000"
    )
    assert r.mta == "exchange"
    assert r.ip == "fe80::1234:5678:9abc:def0"
    assert r.with_ == "mapi" and r.id == "15.20.7202.031"


def test_gmail_internal_and_smtps() -> None:
    a = parse_received(
        "by 2002:a05:6358:3a07:b0:175:4a4e:2d5a with SMTP id u7csp123456rwl;\n"
        "        Tue, 23 Jan 2024 02:00:00 -0800 (PST)"
    )
    assert a.by_host == "2002:a05:6358:3a07:b0:175:4a4e:2d5a" and a.id == "u7csp123456rwl"
    b = parse_received(
        "from mail-sor-f41.google.com (mail-sor-f41.google.com. [209.85.220.41]) by mx.google.com with SMTPS "
        "id a1sor123.2024.01.23.02.00.00 for <u@gmail.com> (Google Transport Security); "
        "Tue, 23 Jan 2024 02:00:00 -0800 (PST)"
    )
    assert b.mta == "gmail" and b.tls
    assert b.rdns == "mail-sor-f41.google.com"
    assert b.id == "a1sor123.2024.01.23.02.00.00"
    assert b.date is not None and b.date.utc == _utc(2024, 1, 23, 10, 0, 0)  # not the date-like id


def test_yahoo_hermes() -> None:
    r = parse_received(
        "by hermes--production-bf1-5d96b4b9f-x7k2q (VZM Hermes SMTP Server) with ESMTPA "
        "ID 0123456789abcdef; Tue, 23 Jan 2024 10:00:01 +0000 (UTC)"
    )
    assert r.mta == "yahoo" and r.id == "0123456789abcdef" and r.authenticated


def test_amazon_ses_inbound() -> None:
    r = parse_received(
        "from a8-30.smtp-out.amazonses.com (a8-30.smtp-out.amazonses.com [54.240.8.30]) by "
        "inbound-smtp.us-east-1.amazonaws.com with SMTP id abc123def456 for user@example.com; "
        "Fri, 1 Mar 2024 12:00:00 +0000 (UTC)"
    )
    assert r.mta == "amazon_ses" and r.ip == "54.240.8.30"


def test_zimbra_lmtp() -> None:
    r = parse_received(
        "from zimbra.example.com (LHLO zimbra.example.com) (10.0.0.5) by zimbra.example.com with "
        "LMTP; Tue, 23 Jan 2024 10:00:00 +0100 (CET) (Zimbra)"
    )
    assert r.helo == "zimbra.example.com" and r.ip == "10.0.0.5" and r.with_ == "LMTP"
    assert r.date is not None and r.date.utc == _utc(2024, 1, 23, 9, 0, 0)


def test_keywords_inside_comments_do_not_split() -> None:
    r = parse_received("by example.com (Postfix, from userid 1001) id 1234ABCD; Thu, 21 Aug 2014 12:12:48 +0200 (CEST)")
    assert r.from_ is None and r.by == "example.com (Postfix, from userid 1001)"


def test_repeated_keywords_are_kept() -> None:
    r = parse_received(
        "Received: by me by you with this with that with whatever\n 2018-03-26 13:35:36.270951634 +0000 UTC"
    )
    assert r.by == "me; you" and r.with_ == "this; that; whatever"
    assert r.date is not None and r.date.epoch_ms == 1522071336270


def test_ibm_trailing_from_is_the_envelope_sender() -> None:
    r = parse_received(
        "from localhost by gw.example.com with IBM ESMTP SMTP Gateway: Authorized Use Only! "
        "for <u@example.it> from <s@example.com>; Wed, 8 Mar 2017 16:46:25 -0000"
    )
    assert r.from_ == "localhost" and r.envelope_from == "s@example.com" and r.for_ == "<u@example.it>"
    assert r.protocol == "ESMTP"  # the protocol word, not the banner's first word


@pytest.mark.parametrize(
    "header, problem",
    [(None, "empty header"), ("", "no date"), ("Received: ;", "no date"), ("from a by b; not a date", "unreadable")],
)
def test_bad_headers_never_raise(header: str | None, problem: str) -> None:
    r = parse_received(header)
    assert any(problem in p for p in r.problems)
    assert r.date is None


def test_missing_date_semicolon_comment_then_date() -> None:
    r = parse_received(
        "from a.example (1.2.3.4) by b.example (5.6.7.8) with ESMTP; "
        "(version=TLSv1/SSLv3 cipher=AES128-GCM-SHA256 bits=128/128) Wed, 8 Mar 2017 11:46:17 -0500"
    )
    assert r.date is not None and r.date.utc == _utc(2017, 3, 8, 16, 46, 17)


def test_huge_header_is_cut() -> None:
    r = parse_received("from a by b with SMTP id x " + "(c) " * 20000 + "; Mon, 1 Jan 2024 00:00:00 +0000")
    assert any("truncated" in p for p in r.problems)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("192.168.1.1", ["192.168.1.1"]),
        ("0.0.0.0 and 255.255.255.255", ["0.0.0.0", "255.255.255.255"]),
        ("256.1.1.1", []),
        ("1.2.3.256", []),
        ("1.2.3.4.5", []),
        ("2001:0db8:85a3:0000:0000:8a2e:0370:7334", ["2001:db8:85a3::8a2e:370:7334"]),
        ("[IPv6:2001:db8::1]", ["2001:db8::1"]),
        ("at 10:30:00 UTC", []),
    ],
)
def test_find_ips(text: str, expected: list[str]) -> None:
    assert find_ips(text) == expected


def test_courier_auth_and_tls_note() -> None:
    r = parse_received(
        "from laptop (dsl.example.com [203.0.113.9]) (AUTH: LOGIN alice@example.org, TLS: TLSv1/SSLv3,256bits,"
        "AES256-SHA) by mail.example.org with ESMTPSA; Mon, 01 Jan 2024 12:00:00 +0100"
    )
    assert r.authenticated and r.auth_user == "alice@example.org"
    assert r.tls and r.tls_version == "TLSv1"


def test_sendmail_authenticated_bits() -> None:
    r = parse_received(
        "from laptop (dsl.example.com [203.0.113.9]) (authenticated bits=0) by mx.example.org "
        "(8.15.2/8.15.2) with ESMTP id 40AB12cd003456; Mon, 1 Jan 2024 12:00:00 +0000"
    )
    assert r.authenticated and r.auth_user is None and r.mta == "sendmail"
