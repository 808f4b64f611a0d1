"""docs/reliability.md's table is what the fault runs last recorded, and every fault run has a row."""

from __future__ import annotations

import re

from tests.support.reliability_doc import BEGIN, DOC_FILE, END, REPO_ROOT, load_results, render_table

FAULT_TESTS = REPO_ROOT / "tests" / "fault"


def test_the_table_is_generated_from_the_recorded_results() -> None:
    doc = DOC_FILE.read_text()
    table = doc.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert table == render_table(load_results()), "run: python -m tests.support.reliability_doc"


def test_every_fault_run_has_a_row_and_every_test_row_a_fault_run() -> None:
    """Run names are the string literals ``"test_…"`` the fault tests record their counts under."""
    named = {name for path in FAULT_TESTS.glob("test_*.py")
             for name in re.findall(r'"(test_\w+)"', path.read_text())}
    rows = {name for name in load_results() if name.startswith("test_")}
    assert named and named == rows
