"""Shared test fixtures: the corpora location and a CLI runner that follows the output contract."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"


def corpora_dir() -> Path:
    return Path(os.environ.get("MAILDOCTOR_CORPORA", REPO.parent / "shared" / "corpora")).resolve()


@pytest.fixture(scope="session")
def corpora() -> Path:
    """The public corpora; missing ones skip outside CI and fail inside CI."""
    path = corpora_dir()
    if not (path / "INVENTORY.md").is_file():
        if IN_CI:
            pytest.fail(f"corpora not found at {path} (set MAILDOCTOR_CORPORA)")
        pytest.skip(f"corpora not found at {path} (set MAILDOCTOR_CORPORA)")
    return path


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run_cli(*args: str, stdin: str | None = None) -> CliResult:
    """Run `maildoctor ARGS` in-process and capture exit code, stdout and stderr."""
    from maildoctor.cli.main import run

    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin.encode()), encoding="utf-8")
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = run(list(args))
    finally:
        sys.stdin = old_stdin
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli() -> Callable[..., CliResult]:
    return run_cli
