"""Conformance: the flufl.bounce sample bounces and their expected address sets.

An address counts when it is the recipient we report or its Original-Recipient (flufl.bounce
reports the address the list knows, which is the original one when the DSN carries both).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bounce_corpus import flufl_score

pytestmark = pytest.mark.conformance

FLUFL_MIN = 0.98


def test_flufl_expected_address_sets(corpora: Path) -> None:
    sc = flufl_score(corpora / "flufl-bounce")
    print(f"\nflufl.bounce: {sc.ok}/{sc.cases} = {sc.rate:.1%}")
    for file, detector, want, got in sc.misses:
        print(f"  {file} ({detector}): expected {want}, got {got}")
    assert sc.cases >= 120
    assert sc.rate >= FLUFL_MIN
