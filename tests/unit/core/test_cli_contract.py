"""Every command follows the CLI contract: --help works, bad options and bad inputs give one line and exit 2.

BAD_INPUT must name every registered command: adding a command without a bad-input case fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from maildoctor.cli.main import cli
from tests.conftest import run_cli


def _commands() -> dict[str, click.Command]:
    ctx = click.Context(cli)
    found = {name: cli.get_command(ctx, name) for name in cli.list_commands(ctx)}
    assert all(found.values()), f"modules without a command: {[n for n, c in found.items() if c is None]}"
    return {name: cmd for name, cmd in found.items() if cmd is not None}


def _leaf_paths() -> list[list[str]]:
    paths: list[list[str]] = []
    for name, cmd in _commands().items():
        if isinstance(cmd, click.Group):
            paths += [[name, sub] for sub in cmd.commands]
        else:
            paths.append([name])
    return paths


@pytest.fixture
def garbage(tmp_path: Path) -> Path:
    p = tmp_path / "garbage.bin"
    p.write_bytes(bytes(range(256)) * 64)
    return p


def bad_input_cases(garbage: Path, missing: Path) -> dict[str, list[list[str]]]:
    """Per command: argument lists that must fail with exit 2 and one stderr line."""
    g, m = str(garbage), str(missing)
    return {
        "doctor": [["doctor", "--root", m], ["doctor", "--demo", "--root", "/"]],
        "trace": [["trace", "x@example.com", "--log", m], ["trace", "x@example.com", "--log", g],
                  ["trace", "x@example.com", "--log", g, "--limit", "5001"]],
        "queue": [["queue", "--root", m], ["queue", "--exim-bp", g], ["queue", "--postqueue-json", g]],
        "outbreak": [["outbreak", "--log", m], ["outbreak", "--log", g]],
        "spf": [
            ["spf", "check", "not-an-ip", "a@example.com", "--record", "v=spf1 -all"],
            ["spf", "build", "example.com", "--from-log", g],
        ],
        "bounce": [["bounce", m], ["bounce", g]],
        "headers": [["headers", m], ["headers", g]],
        "ports": [["ports", "localhost", "--ports", "not-a-port"]],
        "firewall": [["firewall", "--root", m]],
        "outlook": [["outlook", "not an error code at all"]],
        "forwarders": [["forwarders", "--root", m]],
        "address": [["address", "not-an-address"]],
        "pipe-test": [["pipe-test", "|/bin/true", "--message", m]],
    }


def test_help_lists_only_working_commands() -> None:
    res = run_cli("--help")
    assert res.code == 0
    for path in _leaf_paths():
        sub = run_cli(*path, "--help")
        assert sub.code == 0, (path, sub.err)
        assert "Usage:" in sub.out


@pytest.mark.parametrize("path", _leaf_paths(), ids=lambda p: " ".join(p))
def test_unknown_option_is_one_line_exit_2(path: list[str]) -> None:
    res = run_cli(*path, "--no-such-option-here")
    assert res.code == 2
    lines = res.err.strip().splitlines()
    assert len(lines) == 1, res.err
    assert lines[0].startswith("maildoctor: error:")
    assert "Traceback" not in res.err


def test_unknown_command_is_one_line_exit_2() -> None:
    res = run_cli("frobnicate")
    assert res.code == 2
    assert len(res.err.strip().splitlines()) == 1


def test_every_command_has_a_bad_input_case(garbage: Path, tmp_path: Path) -> None:
    cases = bad_input_cases(garbage, tmp_path / "missing")
    missing = sorted(set(_commands()) - set(cases))
    assert not missing, f"add bad-input cases for: {missing}"


def test_bad_input_gives_one_line_and_exit_2(garbage: Path, tmp_path: Path) -> None:
    cases = bad_input_cases(garbage, tmp_path / "missing")
    for name in _commands():
        for args in cases[name]:
            res = run_cli(*args)
            assert res.code == 2, (args, res.code, res.out, res.err)
            lines = res.err.strip().splitlines()
            assert lines and all(line.startswith("maildoctor: error:") for line in lines), (args, res.err)
            assert "Traceback" not in res.err + res.out


def test_doctor_demo_json_contract() -> None:
    res = run_cli("doctor", "--demo", "--format", "json")
    doc = json.loads(res.out)
    assert doc["schema_version"] == "1"
    assert doc["command"] == "doctor"
    assert doc["findings"], "the demo server has problems; doctor must find them"
    for f in doc["findings"]:
        assert f["id"] and f["severity"] in {"ok", "info", "warning", "critical", "unknown"} and f["title"]
        assert "evidence" in f and "fix" in f
    assert res.code == 1
    problems = [f for f in doc["findings"] if f["severity"] in ("warning", "critical")]
    assert all(f["evidence"] and f["fix"] for f in problems), [f["id"] for f in problems if not f["fix"]]


def test_text_output_has_no_colour_when_not_a_terminal() -> None:
    res = run_cli("doctor", "--demo")
    assert "\x1b[" not in res.out
    assert res.code == 1
