"""Reading tempest's closing totals."""

from __future__ import annotations

from devcloud.tempest import parse_totals

OUTPUT = """
======
Totals
======
Ran: 77 tests in 406.0000 sec.
 - Passed: 64
 - Skipped: 13
 - Expected Fail: 0
 - Unexpected Success: 0
 - Failed: 0
Sum of execute time for each test: 612.3 sec.
"""


def test_parse_totals() -> None:
    assert parse_totals(OUTPUT) == {"passed": 64, "skipped": 13, "failed": 0}


def test_missing_totals_count_as_zero() -> None:
    assert parse_totals("no summary") == {"passed": 0, "skipped": 0, "failed": 0}
