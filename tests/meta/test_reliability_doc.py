"""docs/reliability.md's table is generated from the published results, every fault run has a published
row, and runs record their results in the build folder with their provenance, never in a tracked file."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.support.reliability_doc import (
    BEGIN,
    DOC_FILE,
    END,
    PUBLISHED_FILE,
    REPO_ROOT,
    RESULTS_DIR_VARIABLE,
    load_results,
    publish,
    render_table,
)
from tests.support.run_counts import RunCounts, give_verdict, record_run

FAULT_TESTS = REPO_ROOT / "tests" / "fault"


def table_of(doc_file: Path) -> str:
    return doc_file.read_text().split(BEGIN, 1)[1].split(END, 1)[0].strip()


@pytest.fixture
def results_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(RESULTS_DIR_VARIABLE, str(tmp_path / "results"))
    return tmp_path / "results"


def test_the_table_is_generated_from_the_published_results() -> None:
    assert table_of(DOC_FILE) == render_table(load_results()), "run: python -m tests.support.reliability_doc"


def test_every_fault_run_has_a_row_and_every_test_row_a_fault_run() -> None:
    """Run names are the string literals ``"test_…"`` the fault tests record their counts under."""
    named = {name for path in FAULT_TESTS.glob("test_*.py")
             for name in re.findall(r'"(test_\w+)"', path.read_text())}
    rows = {name for name in load_results() if name.startswith("test_")}
    assert named and named == rows


def test_a_run_is_recorded_in_the_results_folder_as_failed_until_its_verdict(results_dir: Path) -> None:
    published = PUBLISHED_FILE.read_bytes(), DOC_FILE.read_bytes()
    counts = RunCounts("test_example", "1 record", "none")
    started = load_results(results_dir / "results.json")["test_example"]
    counts.sent = counts.routed = 1
    record_run(counts)
    recorded = load_results(results_dir / "results.json")["test_example"]
    give_verdict(passed=True)
    judged = load_results(results_dir / "results.json")["test_example"]

    assert (started["passed"], started["sent"], recorded["passed"], recorded["sent"]) == (False, 0, False, 1)
    assert judged["passed"] is True and judged["sent"] == 1
    assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", judged["commit"]), judged
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", judged["date"]) and judged["duration_s"] >= 0, judged
    assert (PUBLISHED_FILE.read_bytes(), DOC_FILE.read_bytes()) == published


def test_publishing_replaces_rows_by_name_and_regenerates_the_table(results_dir: Path, tmp_path: Path) -> None:
    doc, published = tmp_path / "reliability.md", tmp_path / "reliability-results.json"
    shutil.copy(DOC_FILE, doc)
    shutil.copy(PUBLISHED_FILE, published)
    counts = RunCounts("test_worker_sigkill", "1 record", "none")
    give_verdict(passed=False)

    publish(results_dir / "results.json", published, doc)

    rows = json.loads(published.read_text())
    assert rows["test_worker_sigkill"]["commit"] == counts.commit and rows["test_worker_sigkill"]["passed"] is False
    assert rows.keys() == load_results().keys()
    assert table_of(doc) == render_table(rows) and "**failed**" in table_of(doc)
