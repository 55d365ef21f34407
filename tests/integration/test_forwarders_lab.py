"""forwarders / address / pipe-test against the lab's real Exim (cPanel-like routers and pipes).

- `address` agrees with `exim -bt` for every alias of the lab (and unknown and system addresses);
- the pipes `forwarders` flags fail in the real Exim exactly as pipe-test predicts: same exit code,
  same main-log text, same bounce text.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from maildoctor.forwarders.analyze import diagnose_forwarders
from maildoctor.forwarders.eximbt import compare_route, parse_exim_bt
from maildoctor.server.aliases import read_system_aliases, read_valiases
from maildoctor.server.routing import route_address

pytestmark = pytest.mark.integration

PIPES = {  # scenario -> the lab alias it sends to
    "pipe_exit1": "tickets@alice-shop.test",
    "pipe_output": "autoreply@alice-shop.test",
}


def lab_addresses(root: Path) -> list[str]:
    addrs = []
    for e in read_valiases(root):
        addrs.append(f"unknown-{e.domain.split('.')[0]}@{e.domain}" if e.is_default else e.address)
    addrs += [e.address for e in read_system_aliases(root)]
    addrs += ["sales@alice-shop.test", "info@alice-shop.test", "contact@bob-blog.test", "someone@remote.test"]
    return sorted(set(addrs))


def test_address_agrees_with_exim_bt_on_every_lab_alias(lab: Any) -> None:
    addresses = lab_addresses(lab.root)
    assert len(addresses) >= 10
    disagreements = {}
    for address in addresses:
        res = lab.exim("-bt", address)
        items = parse_exim_bt(res.stdout + res.stderr)
        diffs = compare_route(route_address(lab.root, address), items) if items else ["no exim -bt result"]
        if diffs:
            disagreements[address] = (diffs, res.stdout)
    agreed = len(addresses) - len(disagreements)
    print(f"address vs exim -bt: {agreed}/{len(addresses)} lab addresses agree")
    assert disagreements == {}


def test_forwarders_flags_the_lab_pipes_and_defaults(lab: Any) -> None:
    findings, _ = diagnose_forwarders(lab.root)
    got = {(f.id, f.subject) for f in findings}
    assert ("forwarders.pipe_output", "tickets@alice-shop.test") in got  # echo ... >&2 is output too
    assert ("forwarders.pipe_output", "autoreply@alice-shop.test") in got
    assert ("forwarders.default_fail", "*@alice-shop.test") in got
    assert ("forwarders.fail_entry", "gone@alice-shop.test") in got
    for f in findings:
        if f.id == "forwarders.pipe_output":
            assert f.evidence[0].source == "/etc/valiases/alice-shop.test"


def _exim_failure(lab: Any, scenario: str, address: str) -> str:
    ids = lab.scenarios[scenario].message_ids
    assert ids, f"scenario {scenario} has no message id"
    pat = re.compile(rf"^\S+ \S+ (?:\[\d+\] )?{re.escape(ids[0])} \*\* \|(\S+).*<{re.escape(address)}>.*?: (.*)$")
    for line in lab.mainlog.read_text(errors="replace").splitlines():
        m = pat.match(line)
        if m:
            return re.sub(r" DT=\S+$", "", m.group(2))  # +deliver_time adds DT= after the message
    raise AssertionError(f"no ** line for {ids[0]} in {lab.mainlog}")


def _bounce_text(lab: Any, scenario: str) -> str:
    files = [p for p in lab.scenarios[scenario].files if p in lab.bounces] or lab.scenarios[scenario].files
    texts = [p.read_text(errors="replace") for p in files]
    joined = "\n".join(texts)
    assert "pipe to |" in joined, f"no bounce found for {scenario}"
    return joined


@pytest.mark.parametrize("scenario", sorted(PIPES))
def test_pipe_test_predicts_the_real_exim(lab: Any, scenario: str, tmp_path: Path) -> None:
    address = PIPES[scenario]
    (entry,) = [e for e in read_valiases(lab.root, "alice-shop.test") if e.address == address]
    command = entry.targets[0].value
    msg = tmp_path / "m.eml"
    msg.write_text(f"From: sales@alice-shop.test\nTo: {address}\nSubject: lab pipe test\n\nhello\n")
    msg.chmod(0o644)
    tmp_path.chmod(0o755)
    argv = [
        sys.executable,
        "-c",
        "from maildoctor.cli.main import main; main()",
        "pipe-test",
        f"|{command}",
        "--message",
        str(msg),
        "--as-user",
        "alice",
        "--transport",
        "virtual_address_pipe",
        "--recipient",
        address,
        "--format",
        "json",
    ]
    res = lab.run(argv)  # inside the lab: its /home and its passwd (alice)
    assert res.returncode in (0, 1), res.stderr
    predicted = json.loads(res.stdout)
    exim_says = _exim_failure(lab, scenario, address)
    assert predicted["exim_action"] == "bounced"
    assert predicted["exim_log"] == exim_says
    if predicted["exit_code"]:
        assert f"returned {predicted['exit_code']} " in exim_says
    bounce = _bounce_text(lab, scenario)
    for line in predicted["bounce_text"].splitlines():
        if line.strip():
            assert line.strip() in bounce, f"predicted bounce line {line!r} not in the real bounce"
