"""What a worker pays when a change event touched ``sf_leads``: rebuilding its person index from the synced copy.

Fills a store (SQLite in a temporary folder unless ``--database-url``) with ``--leads`` synced leads and
``--contacts`` contacts, then times ``StoreReferenceData``'s person-index rebuild (read the rows, build the
index) ``--rounds`` times, each after one lead was written as a change event would. Last line: one JSON object.

    python bench/person_index.py                      # 100,000 leads, 20,000 contacts
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.salesforce.reference_records import SyncOptions
from adapters.store import Store, make_engine, upgrade_schema
from adapters.synced_reference import StoreReferenceData
from kernel.ports.reference_sync import SyncPosition

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
WRITE_ROWS = 5_000


def person(number: int, kind: str) -> dict[str, object]:
    prefix = "00Q" if kind == "Lead" else "003"
    return {"Id": f"{prefix}{number:012d}AAA", "FirstName": f"First{number % 5000}", "LastName": f"Last{number}",
            "Company": f"Company {number % 20000}", "Email": f"p{number}@company{number % 20000}.example",
            "OwnerId": "005000000000001AAA", "Status": "Open"}


def fill(store: Store, kind: str, count: int) -> None:
    """Rows written a batch a second, as a sync round writes them, the last an hour before the measured rounds."""
    options = SyncOptions()
    batches = range(1, count + 1, WRITE_ROWS)
    for number, start in enumerate(batches):
        written = EPOCH - timedelta(hours=1, seconds=len(batches) - number)
        rows = [options.row(kind, str(person(n, kind)["Id"]), person(n, kind), written, written)
                for n in range(start, min(count, start + WRITE_ROWS - 1) + 1)]
        with store.reference_sync.writes() as tx:
            tx.upsert_synced(kind, rows, newer_only=False)
            tx.save_sync_position(SyncPosition(kind, EPOCH), EPOCH)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="baton-bench-"))
    engine = make_engine(args.database_url or f"sqlite:///{folder / 'baton.sqlite3'}")
    upgrade_schema(engine)
    store = Store(engine)
    fill(store, "Lead", args.leads)
    fill(store, "Contact", args.contacts)
    reference = StoreReferenceData(store.reference_sync, refresh_ms=0)
    assert reference.person_index() is not None
    options = SyncOptions()
    wall, cpu = [], []
    for round_number in range(1, args.rounds + 1):
        at = EPOCH + timedelta(minutes=round_number)
        row = options.row("Lead", str(person(round_number, "Lead")["Id"]), person(round_number, "Lead"), at, at)
        with store.reference_sync.writes() as tx:
            tx.upsert_synced("Lead", [row], newer_only=True)  # as a change event's reference update does
        started, started_cpu = time.perf_counter(), time.process_time()
        index = reference.person_index()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        assert index is not None
    people = reference._people  # the bench reports how the index was kept current
    print(f"full builds {people.full_builds}, updates {people.updates}", file=sys.stderr)
    print(f"person index after one lead changed, {args.leads} leads + {args.contacts} contacts: "
          f"median {statistics.median(wall) * 1000:.0f} ms wall, {statistics.median(cpu) * 1000:.0f} ms CPU "
          f"over {args.rounds} rounds", file=sys.stderr)
    print(json.dumps({"leads": args.leads, "contacts": args.contacts, "rounds": args.rounds, "full_builds": people.full_builds,
                      "rebuild_ms_median": round(statistics.median(wall) * 1000, 1),
                      "rebuild_cpu_ms_median": round(statistics.median(cpu) * 1000, 1)}))


if __name__ == "__main__":
    main()
