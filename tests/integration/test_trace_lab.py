"""trace on the real lab's Exim and Postfix logs: the right final state and the related bounce."""

from __future__ import annotations

import pytest

from maildoctor.logs.trace import trace
from mdlab import LabRun

pytestmark = pytest.mark.integration

EXIM = ["delivered_local", "auth_submission", "auth_smtps", "delayed_then_delivered", "remote_user_unknown",
        "remote_mailbox_full", "retry_timeout", "multi_recipient_bounce", "delay_warning", "frozen",
        "fail_forwarder", "pipe_exit1"]


def _story(lab: LabRun, name: str, logs: list[str]):  # type: ignore[no-untyped-def]
    sc = lab.scenarios[name]
    assert sc.message_ids, f"{name}: no message id ({sc.notes})"
    result = trace(sc.message_ids[0], logs)
    assert not result.problems, result.problems
    story = result.by_id(sc.message_ids[0])
    assert story is not None, name
    return sc, result, story


@pytest.mark.parametrize("name", EXIM)
def test_exim_scenario_final_state_and_related(lab: LabRun, name: str) -> None:
    if name not in lab.scenarios:
        pytest.skip(f"the lab has no scenario {name}")
    sc, result, story = _story(lab, name, [str(lab.mainlog)])
    children = sc.message_ids[1:]
    if sc.expected == "frozen":
        # the message fails locally; the bounce it causes cannot be delivered and is frozen
        assert story.final_status == "failed"
        assert any(result.by_id(c) and result.by_id(c).final_status == "frozen" for c in children)  # type: ignore[union-attr]
    else:
        assert story.final_status == sc.expected, (name, story.final_status, [e.raw for e in story.evidence])
    for child in children:  # bounces and delay warnings Exim generated: `<= <> R=parent`
        assert child in story.related, (name, child, story.related)
        kid = result.by_id(child)
        assert kid is not None and kid.parent_id == story.id
        assert kid.is_bounce or kid.is_delay_warning
    if sc.expected == "failed":
        assert children, f"{name}: the lab saw no bounce"
        assert any(r.status == "failed" and r.last_response for r in story.recipients)
    if name.startswith("auth_"):
        assert story.source["kind"] == "smtp-auth" and story.source["auth_id"]
    if name == "retry_timeout":
        assert any(r.retry_timeout for r in story.recipients)


@pytest.mark.parametrize("name", ["postfix_bounce", "postfix_deferred"])
def test_postfix_scenario(lab: LabRun, name: str) -> None:
    if name not in lab.scenarios:
        pytest.skip(f"the lab has no scenario {name}")
    sc, result, story = _story(lab, name, [str(lab.postfix_log)])
    assert story.format == "postfix"
    assert story.final_status == sc.expected, [e.raw for e in story.evidence]
    if sc.expected == "failed":
        assert story.related, "Postfix's bounce queue id (sender non-delivery notification)"
        assert result.by_id(story.related[0]) is not None


def test_address_query_on_the_lab(lab: LabRun) -> None:
    sc = lab.scenarios["remote_user_unknown"]
    result = trace(sc.recipients[0], [str(lab.mainlog)])
    assert sc.message_ids[0] in {s.id for s in result.messages}


def test_real_exim_ids_carry_their_arrival_time(lab: LabRun) -> None:
    """Trace by id seeks to the id's arrival time: the zone calibration works on a real Exim log."""
    from maildoctor.logs.seek import seek_offset

    data = lab.mainlog.read_bytes()
    sc = lab.scenarios["delayed_then_delivered"]
    offset = seek_offset(data, len(data), sc.message_ids[0])
    assert offset is not None and offset <= data.find(sc.message_ids[0].encode())
