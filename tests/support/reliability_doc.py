"""Fault-run results: where runs record them, and docs/reliability.md's table published from them.

Every fault test and bench run records its row (counts, commit, date, duration, pass/fail) in the results
file of the build folder, ``build/reliability/results.json`` (``BATON_RESULTS_DIR`` moves the folder):
runs never change a tracked file. Publishing is a choice::

    python -m tests.support.reliability_doc --from build/reliability/results.json

copies those rows into the published copy, ``docs/reliability-results.json`` (a row per run name, newest
wins), and regenerates docs/reliability.md's table between its markers from it.
``tests/meta/test_reliability_doc.py`` fails when the table and the published copy disagree or a fault
test has no published row.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DOC_FILE = REPO_ROOT / "docs" / "reliability.md"
PUBLISHED_FILE = REPO_ROOT / "docs" / "reliability-results.json"
RESULTS_DIR_VARIABLE = "BATON_RESULTS_DIR"
BEGIN = "<!-- results table: generated from docs/reliability-results.json, do not edit -->"
END = "<!-- end of results table -->"
COLUMNS = ("test", "result", "commit", "date", "duration", "load", "faults", "sent", "routed", "written",
           "duplicates", "lost", "wrong_owners", "dead_lettered", "bookings", "problems", "figures")
COUNT_COLUMNS = ("sent", "routed", "written", "duplicates", "lost", "wrong_owners", "dead_lettered")
NOT_RECORDED = "-"

Results = dict[str, dict[str, Any]]


def results_file() -> Path:
    """The build folder's results file: ``$BATON_RESULTS_DIR/results.json``, else ``build/reliability/``."""
    folder = os.environ.get(RESULTS_DIR_VARIABLE) or REPO_ROOT / "build" / "reliability"
    return Path(folder) / "results.json"


def load_results(path: Path = PUBLISHED_FILE) -> Results:
    return json.loads(path.read_text()) if path.exists() else {}


def save_results(results: Results, path: Path) -> None:
    """Writes the rows sorted by name, through a temporary file so a killed run never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(dict(sorted(results.items())), indent=2) + "\n")
    partial.replace(path)


def _result(row: dict[str, Any]) -> str:
    return {True: "passed", False: "**failed**"}.get(row.get("passed"), NOT_RECORDED)


def _duration(row: dict[str, Any]) -> str:
    return f"{row['duration_s']:g} s" if row.get("duration_s") is not None else NOT_RECORDED


def _commit(row: dict[str, Any]) -> str:
    commit, dirty, _ = (row.get("commit") or "").partition("+dirty")
    return f"`{commit[:12]}{'+dirty' if dirty else ''}`" if commit else NOT_RECORDED


def _bookings(row: dict[str, Any]) -> str:
    if not row.get("bookings"):
        return NOT_RECORDED
    return (f"{row['bookings']}: {row['bookings_confirmed']} confirmed, {row['bookings_failed_cleanly']} failed "
            f"cleanly, {row['bookings_left_behind']} left behind")


def _figures(row: dict[str, Any]) -> str:
    injected = ", ".join(f"{name} {count}" for name, count in sorted(row.get("injected", {}).items()) if count)
    figures = ", ".join(f"{name} {value}" for name, value in row.get("figures", {}).items())
    return "; ".join(part for part in (f"injected: {injected}" if injected else "", figures) if part) or NOT_RECORDED


def _problems(row: dict[str, Any]) -> str:
    """What the reconciliation found, by kind (runs recorded before it existed: not recorded)."""
    if "problems" not in row:
        return NOT_RECORDED
    return "; ".join(f"{kind}: {count}" for kind, count in sorted(row["problems"].items())) or "none"


def _cells(name: str, row: dict[str, Any]) -> list[str]:
    return [f"`{name}`", _result(row), _commit(row),
            row.get("date") or NOT_RECORDED, _duration(row), row["load"], row["faults"],
            *(str(row.get(key, NOT_RECORDED)) for key in COUNT_COLUMNS), _bookings(row), _problems(row),
            _figures(row)]


def render_table(results: Results) -> str:
    header = "| " + " | ".join(COLUMNS).replace("_", " ") + " |"
    lines = [header, "|" + "---|" * len(COLUMNS)]
    for name, row in sorted(results.items()):
        lines.append("| " + " | ".join(cell.replace("|", "/") for cell in _cells(name, row)) + " |")
    return "\n".join(lines)


def with_table(doc: str, results: Results) -> str:
    before, rest = doc.split(BEGIN, 1)
    _, after = rest.split(END, 1)
    return f"{before}{BEGIN}\n{render_table(results)}\n{END}{after}"


def publish(source: Path, published: Path = PUBLISHED_FILE, doc_file: Path = DOC_FILE) -> Results:
    """Copies every row of ``source`` into the published results (replacing rows of the same name) and
    regenerates the doc's table from them."""
    results = {**load_results(published), **load_results(source)}
    save_results(results, published)
    doc_file.write_text(with_table(doc_file.read_text(), results))
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source", type=Path, default=None,
                        help="results file to publish (default: the build folder's, $BATON_RESULTS_DIR)")
    args = parser.parse_args(argv)
    source = args.source or results_file()
    if not source.exists():
        parser.error(f"{source} does not exist: run the fault tests or a bench first")
    published = publish(source)
    print(f"published {len(load_results(source))} row(s) from {source}; {len(published)} in {PUBLISHED_FILE}")


if __name__ == "__main__":
    main()
