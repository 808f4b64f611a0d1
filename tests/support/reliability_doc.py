"""docs/reliability.md's results table, generated from docs/reliability-results.json.

Every fault test and bench run writes its counts to the results file (``faults.record_run``), which
rewrites the table between the markers; ``tests/unit/test_reliability_doc.py`` fails when the table and
the results disagree or a fault test has no row. ``python -m tests.support.reliability_doc`` rewrites it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DOC_FILE = REPO_ROOT / "docs" / "reliability.md"
RESULTS_FILE = REPO_ROOT / "docs" / "reliability-results.json"
BEGIN = "<!-- results table: generated from docs/reliability-results.json, do not edit -->"
END = "<!-- end of results table -->"
COLUMNS = ("test", "load", "faults", "sent", "routed", "written", "duplicates", "lost", "dead_lettered",
           "bookings", "figures")


def _bookings(row: dict[str, Any]) -> str:
    if not row.get("bookings"):
        return "-"
    return (f"{row['bookings']}: {row['bookings_confirmed']} confirmed, {row['bookings_failed_cleanly']} failed "
            f"cleanly, {row['bookings_left_behind']} left behind")


def _figures(row: dict[str, Any]) -> str:
    injected = ", ".join(f"{name} {count}" for name, count in sorted(row.get("injected", {}).items()) if count)
    figures = ", ".join(f"{name} {value}" for name, value in row.get("figures", {}).items())
    return "; ".join(part for part in (f"injected: {injected}" if injected else "", figures) if part) or "-"


def render_table(results: dict[str, dict[str, Any]]) -> str:
    header = "| " + " | ".join(COLUMNS).replace("_", " ") + " |"
    lines = [header, "|" + "---|" * len(COLUMNS)]
    for name, row in sorted(results.items()):
        cells = [f"`{name}`", row["load"], row["faults"], *(str(row[key]) for key in COLUMNS[3:-2]), _bookings(row),
                 _figures(row)]
        lines.append("| " + " | ".join(cell.replace("|", "/") for cell in cells) + " |")
    return "\n".join(lines)


def with_table(doc: str, results: dict[str, dict[str, Any]]) -> str:
    before, rest = doc.split(BEGIN, 1)
    _, after = rest.split(END, 1)
    return f"{before}{BEGIN}\n{render_table(results)}\n{END}{after}"


def load_results(path: Path = RESULTS_FILE) -> dict[str, dict[str, Any]]:
    return json.loads(path.read_text()) if path.exists() else {}


def write_doc(results: dict[str, dict[str, Any]] | None = None, doc_file: Path = DOC_FILE) -> None:
    doc_file.write_text(with_table(doc_file.read_text(), load_results() if results is None else results))


if __name__ == "__main__":
    write_doc()
