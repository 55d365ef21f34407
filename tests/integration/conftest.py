"""The real-server lab as a session fixture: started once, scenarios run once, always torn down.

With CI=true a lab that cannot start is a test failure; elsewhere (not root, no namespaces,
packages missing) the integration tests skip with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from mdlab import Lab, LabError, LabRun, LabUnavailable

IN_CI = os.environ.get("CI", "").lower() == "true"
_TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="session")
def lab() -> Iterator[LabRun]:
    server = Lab(keep=os.environ.get("MDLAB_KEEP") == "1")
    try:
        server.start()
    except LabUnavailable as exc:
        if IN_CI:
            pytest.fail(f"real-server lab unavailable in CI: {exc}")
        pytest.skip(f"real-server lab unavailable: {exc}")
    except LabError as exc:
        pytest.fail(str(exc))
    try:
        run = server.run_scenarios()
        _TIMINGS.update(run.timings)
        yield run
    finally:
        server.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _TIMINGS:
        parts = ", ".join(f"{k} {v:.1f}s" for k, v in _TIMINGS.items())
        terminalreporter.write_line(f"mdlab: {parts}")
