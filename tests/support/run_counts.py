"""What one fault run sent and what came out (``RunCounts``), with the commit, date, duration and verdict of the
run; printed by every run and recorded in the build folder's results file (``tests/support/reliability_doc.py``:
never a tracked file), from which docs/reliability.md's table is published on request."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from tests.support.reliability_doc import REPO_ROOT, load_results, results_file, save_results


def current_commit() -> str:
    """``git rev-parse HEAD`` of this checkout, with ``+dirty`` when its tree has changes; ``unknown``
    outside a git checkout."""

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, check=True,
                              timeout=30).stdout.strip()

    try:
        return git("rev-parse", "HEAD") + ("+dirty" if git("status", "--porcelain") else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def utc_timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class RunCounts:
    """What one fault run sent and what came out; ``lost``, ``duplicates`` and ``dead_lettered`` must be 0.

    Creating one starts the run: it stamps the commit and date and records a row with ``passed`` false, so
    a run that is killed or times out is recorded as failed. ``passed`` stays None until a verdict: the
    fault tests' hook (``tests/fault/conftest.py``) gives the test's outcome, a bench sets it itself.
    """

    test: str
    load: str
    faults: str
    sent: int = 0
    routed: int = 0
    written: int = 0
    duplicates: int = 0
    lost: int = 0
    dead_lettered: int = 0
    bookings: int = 0
    bookings_confirmed: int = 0
    bookings_failed_cleanly: int = 0
    bookings_left_behind: int = 0
    wrong_owners: int = 0
    problems: dict[str, int] = field(default_factory=dict)
    details: str = ""
    injected: dict[str, int] = field(default_factory=dict)
    figures: dict[str, float | int | None] = field(default_factory=dict)
    commit: str = ""
    date: str = ""
    duration_s: float | None = None
    passed: bool | None = None
    _began: float = field(default_factory=time.monotonic, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.commit = self.commit or current_commit()
        self.date = self.date or utc_timestamp()
        AWAITING_VERDICT.append(self)
        _store(self)

    def row(self) -> dict[str, object]:
        """The results file's row: every public field, ``passed`` false until a verdict says otherwise."""
        row = {key: value for key, value in asdict(self).items() if not key.startswith("_")}
        return {**row, "passed": bool(self.passed)}

    def take(self, row: dict[str, object]) -> None:
        """Takes the counts and figures of a row another process recorded (its provenance stays this run's)."""
        for key in ("load", "faults", *COUNTED, "injected", "figures"):
            if key in row:
                setattr(self, key, row[key])

    def line(self) -> str:
        figures = {key: value for key, value in self.row().items() if key not in ("test", "load", "faults")}
        return f"{self.test}: " + json.dumps(figures)


COUNTED = ("sent", "routed", "written", "duplicates", "lost", "dead_lettered", "bookings", "bookings_confirmed",
           "bookings_failed_cleanly", "bookings_left_behind")
AWAITING_VERDICT: list[RunCounts] = []


def _store(counts: RunCounts) -> None:
    counts.duration_s = round(time.monotonic() - counts._began, 1)
    path = results_file()
    results = load_results(path)
    results[counts.test] = counts.row()
    save_results(results, path)


def record_run(counts: RunCounts) -> None:
    """Records the counts in the build folder's results file (never a tracked file) and prints them."""
    _store(counts)
    print(counts.line())


def judged(counts: RunCounts, check: Callable[[RunCounts], None]) -> RunCounts:
    """Sets ``passed`` from ``check`` (which asserts), for a bench that records its own verdict."""
    try:
        check(counts)
    except AssertionError as failure:
        print(f"{counts.test}: FAILED {failure}")
        counts.passed = False
    else:
        counts.passed = True
    return counts


def give_verdict(passed: bool) -> None:
    """Records every run started since the last verdict as passed or failed, with what it counted."""
    while AWAITING_VERDICT:
        counts = AWAITING_VERDICT.pop()
        counts.passed = passed
        _store(counts)
