"""Small generated Exim logs with ground truth, shared by the log-engine tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.eximgen import GroundTruth, generate


@pytest.fixture(scope="session")
def genlog(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """genlog(id_format) -> (path, truth): a 2,000-message outbreak-scenario log, made once per format."""
    cache: dict[str, tuple[Path, GroundTruth]] = {}

    def make(id_format: str = "old") -> tuple[Path, GroundTruth]:
        if id_format not in cache:
            path = tmp_path_factory.mktemp("gen") / f"exim_mainlog-{id_format}"
            cache[id_format] = (path, generate(path, messages=2000, seed=11, id_format=id_format, scenario="outbreak"))
        return cache[id_format]

    return make
