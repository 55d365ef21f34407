"""`maildoctor ports` argument errors (no probe is made for bad input)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.mark.parametrize(("args", "message"), [
    (("192.0.2.1", "--ports", "25,x"), "not a port"),
    (("192.0.2.1", "--ports", "1-100"), "at most 64"),
    (("bad host",), "not a host name"),
    (("192.0.2.1", "--address", "192.0.2.2"), "not one of"),
    (("192.0.2.1", "--timeout", "0"), "0"),
])
def test_bad_arguments(cli: Callable[..., Any], args: tuple[str, ...], message: str) -> None:
    res = cli("ports", *args)
    assert res.code == 2 and res.err.startswith("maildoctor: error:") and res.err.count("\n") == 1
    assert message in res.err and res.out == ""
