"""`maildoctor outlook` without --server: lookups, pasted text, stdin, bad input (no network)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def test_lookup_json_shape(cli: Callable[..., Any]) -> None:
    res = cli("outlook", "0x800ccc0e", "--format", "json")
    assert res.code == 0, res.err
    doc = res.json()
    assert (doc["code"], doc["name"], doc["range"]) == ("0x800CCC0E", "IXP_E_FAILED_TO_CONNECT", "generic")
    assert {c["cause"] for c in doc["causes"]} == {"wrong_port", "firewall", "server_down", "ssl_mismatch",
                                                  "client_side"}
    assert all(c["checked"] is False and c["verdict"] == "not_checked" for c in doc["causes"])
    assert doc["diagnosis"] is None


def test_pasted_text_from_stdin_points_at_a_cause(cli: Callable[..., Any]) -> None:
    text = ("Send test e-mail message: Your outgoing (SMTP) e-mail server has reported an internal error. The "
            "server responded: 550 Please turn on SMTP Authentication in your mail client (0x800CCC69)\n")
    res = cli("outlook", "-", "--format", "json", stdin=text)
    doc = res.json()
    assert doc["code"] == "0x800CCC69" and doc["diagnosis"] == "relay_needs_auth"
    assert res.code == 1  # a likely cause is a problem to fix


def test_text_output(cli: Callable[..., Any]) -> None:
    res = cli("outlook", "Cannot connect to the server. Error Number: 0x800CCC0E, Server: 'mail.example.com'")
    assert "IXP_E_FAILED_TO_CONNECT" in res.out and "--server mail.example.com" in res.out


def test_every_code_looks_up(cli: Callable[..., Any]) -> None:
    from maildoctor import kb

    for entry in kb.load("outlook_codes"):
        res = cli("outlook", entry.id, "--format", "json")
        assert res.code == 0 and res.json()["name"] == entry["name"], entry.id


@pytest.mark.parametrize(("args", "stdin", "message"), [
    ((), None, "give an error code"),
    (("hello world",), None, "no 0x800CCCxx code"),
    (("0x800CCCFF",), None, "not an Outlook error code"),
    (("-",), "   \n", "stdin: empty"),
    (("0x800CCC0E", "--server", "bad host"), None, "not a host name"),
    (("0x800CCC0E", "--port", "0"), None, "0"),
    (("0x800CCC69", "--log", "/nonexistent/mainlog"), None, "--log needs --user"),
    (("0x800CCC69", "--user", "not an address"), None, "e-mail address"),
])
def test_bad_input(cli: Callable[..., Any], args: tuple[str, ...], stdin: str | None, message: str) -> None:
    res = cli("outlook", *args, stdin=stdin)
    assert res.code == 2 and res.err.startswith("maildoctor: error:") and res.err.count("\n") == 1
    assert message in res.err


def test_unreadable_log_is_exit_2_with_output(cli: Callable[..., Any], tmp_path: Path) -> None:
    res = cli("outlook", "0x800CCC69", "--log", str(tmp_path / "missing.log"), "--user", "a@example.com",
              "--format", "json")
    assert res.code == 2 and "missing.log" in res.err
    assert res.json()["log"]["counts"] == {}


def test_hostile_paste(cli: Callable[..., Any]) -> None:
    res = cli("outlook", "-", stdin="\x00\x01" * 50_000 + " 0x800CCC0D " + "A" * 300_000)
    assert res.code in (0, 2) and "Traceback" not in res.err
