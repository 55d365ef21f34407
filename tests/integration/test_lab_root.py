"""The server-root snapshot has cPanel's layout, the spool is real, DNS answers the test zones."""

from __future__ import annotations

import email
import email.policy
import email.utils
import json
import re

import pytest

from mdlab import LabRun

pytestmark = pytest.mark.integration


def test_root_has_the_cpanel_layout(lab: LabRun) -> None:
    root = lab.root
    assert "alice-shop.test" in (root / "etc/localdomains").read_text().split()
    assert "alice-shop.test: alice" in (root / "etc/userdomains").read_text().splitlines()
    valiases = (root / "etc/valiases/alice-shop.test").read_text().splitlines()
    assert "gone@alice-shop.test: :fail: No such person at this address" in valiases
    assert "*: :fail: No such person at this address" in valiases
    assert "tickets@alice-shop.test: |/home/alice/bin/ticket-import.sh" in valiases
    assert "*: bob" in (root / "etc/valiases/bob-blog.test").read_text().splitlines()
    assert "log_file_path = /var/log/exim_%slog" in (root / "etc/exim.conf").read_text()
    for name in ("exim_mainlog", "exim_rejectlog", "exim_paniclog"):
        assert (root / "var/log" / name).is_file()
    assert (root / "home/bob/public_html/wp-content/uploads/wp-mailer.php").is_file()
    assert (root / "home/alice/mail/alice-shop.test/sales/new").is_dir()
    assert lab.mainlog == root / "var/log/exim_mainlog"


def test_spool_holds_header_files_of_the_queued_messages(lab: LabRun) -> None:
    singles = ("remote_mailbox_full", "remote_greylisted", "delay_warning", "local_mailbox_full")
    queued = [lab.scenarios[n].message_ids[0] for n in singles]
    queued.append(lab.scenarios["frozen"].message_ids[1])
    for spool in (lab.spool, lab.root / "var/spool/exim"):
        for msg in queued:
            # split_spool_directory: input/<6th character of the id>/
            header = spool / "input" / msg[5] / f"{msg}-H"
            assert header.is_file(), header
            assert (spool / "input" / msg[5] / f"{msg}-D").is_file()
    frozen = lab.scenarios["frozen"].message_ids[1]
    header_text = (lab.spool / "input" / frozen[5] / f"{frozen}-H").read_text()
    assert "\n-frozen " in header_text
    count = lab.exim("-bpc")
    assert int(count.stdout.strip()) == len(queued) + 1 + 10  # plus busy.test: one message and the PHP flood


def test_over_quota_mailbox_has_cpanel_quota_files(lab: LabRun) -> None:
    quota = (lab.root / "home/alice/etc/alice-shop.test/quota").read_text().splitlines()
    assert "support:2000" in quota and "sales:0" in quota
    size_file = (lab.root / "home/alice/mail/alice-shop.test/support/maildirsize").read_text().splitlines()
    assert size_file[0] == "2000S,0C"


def test_spool_headers_show_the_php_script(lab: LabRun) -> None:
    for msg in lab.scenarios["script_flood_queued"].message_ids[:10]:
        header = (lab.root / "var/spool/exim/input" / msg[5] / f"{msg}-H").read_text()
        assert header.startswith(f"{msg}-H\nbob 4212 4212\n<bob@host.lab-hosting.test>\n")
        assert "X-PHP-Originating-Script: 4212:wp-mailer.php" in header
        assert "\n-ident bob\n" in header


def test_exim_routes_like_cpanel(lab: LabRun) -> None:
    res = lab.exim("-bt", "gone@alice-shop.test")
    assert "gone@alice-shop.test is undeliverable: No such person at this address" in res.stdout
    res = lab.exim("-bt", "sales@alice-shop.test", "whoever@bob-blog.test", "tickets@alice-shop.test")
    assert "router = virtual_user, transport = virtual_userdelivery" in res.stdout
    assert "bob@host.lab-hosting.test\n    <-- whoever@bob-blog.test" in res.stdout
    assert "tickets@alice-shop.test -> |/home/alice/bin/ticket-import.sh" in res.stdout


@pytest.mark.parametrize(
    ("query", "answer"),
    [
        ("mxh=remote.test", "mx.remote.test"),
        ("a=mx.busy.test", "192.0.2.21"),
        ("ptr=198.51.100.10", "client.spf-pass.test"),
        ("txt=spf-fail.test", "v=spf1 ip4:203.0.113.99 -all"),
        ("txt=spf-softfail.test", "v=spf1 ip4:203.0.113.99 ~all"),
        ("txt=spf-neutral.test", "v=spf1 ?all"),
    ],
)
def test_dns_answers_the_test_zones(lab: LabRun, query: str, answer: str) -> None:
    res = lab.exim("-be", f"${{lookup dnsdb{{{query}}}{{$value}}{{NOTFOUND}}}}")
    assert res.stdout.strip() == answer


def test_dns_nxdomain_servfail_and_long_spf(lab: LabRun) -> None:
    def lookup(query: str) -> str:
        return str(lab.exim("-be", f"${{lookup dnsdb{{{query}}}{{$value}}{{NOTFOUND}}}}").stdout).strip()

    assert lookup("a=nxdomain.test") == "NOTFOUND"
    assert lookup("defer_never,txt=servfail.test") == "NOTFOUND"
    assert "gave DEFER" in lab.exim("-be", "${lookup dnsdb{defer_strict,txt=servfail.test}}").stdout
    permerror = lookup(">:; txt=spf-permerror.test")  # two TXT strings; ";" joins them
    assert permerror.startswith("v=spf1 include:i1.spf-permerror.test")
    assert permerror.endswith("include:i11.spf-permerror.test -all")
    assert lab.dns_server == "127.0.0.1:53"


def test_delayed_message_shows_the_delay_in_its_received_headers(lab: LabRun) -> None:
    (path,) = [p for p in lab.scenarios["delayed_then_delivered"].files if p in lab.remote_delivered]
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.compat32)
    received = msg.get_all("Received") or []
    assert len(received) == 2
    by_remote, by_us = received
    assert "by mx.remote.test" in by_remote and "from host.lab-hosting.test" in by_remote
    assert "by host.lab-hosting.test" in by_us and "from localhost ([127.0.0.1]" in by_us

    def stamp(header: str) -> float:
        when = email.utils.parsedate_to_datetime(header.rsplit(";", 1)[1].strip())
        return when.timestamp()

    assert stamp(by_remote) - stamp(by_us) >= 10  # queued on our server between the two attempts


def test_delivered_local_messages_carry_received_headers(lab: LabRun) -> None:
    assert len(lab.delivered) >= 5
    for path in lab.delivered:
        text = path.read_text()
        assert re.search(r"^Received: from .*\n\tby host\.lab-hosting\.test with e?smtp", text, re.M), path
        assert text.startswith("Return-path: <")
    spf = [p for p in lab.scenarios["spf_pass"].files if p in lab.delivered]
    assert len(spf) == 1
    assert "Received-SPF: pass (host.lab-hosting.test: domain of spf-pass.test designates 198.51.100.10" in (
        spf[0].read_text()
    )


def test_default_address_delivers_to_the_main_mailbox(lab: LabRun) -> None:
    (path,) = lab.scenarios["default_address"].files
    assert path.parent == lab.root / "home/bob/mail/new"
    assert "Envelope-to: anything@bob-blog.test" in path.read_text()


def test_postfix_queue_holds_the_deferred_message(lab: LabRun) -> None:
    deferred = lab.scenarios["postfix_deferred"].message_ids[0]
    entries = [json.loads(line) for line in lab.postfix("postqueue", "-j").stdout.splitlines()]
    assert [e["queue_id"] for e in entries] == [deferred]
    (rcpt,) = entries[0]["recipients"]
    assert rcpt["address"] == "greylist@remote.test"
    assert "451 4.7.1 Greylisted" in rcpt["delay_reason"]
    assert any(lab.postfix_queue.glob(f"deferred/*/{deferred}"))
