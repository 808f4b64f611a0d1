"""Operator command speed on a full day: ``stats``, ``logs --since`` and ``why`` over N stored decisions.

Fills a fresh store (a temporary SQLite file, or a PostgreSQL schema that is dropped afterwards) with N
assignment rows spread over the last N seconds, then times the queries behind the three commands.

    python bench/operator_queries.py [--decisions 100000] [--database-url postgresql+psycopg://...]

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from adapters.store import make_engine, upgrade_schema
from adapters.store.operations import OperationsReader
from adapters.store.tables import assignments
from baton.operations.stats import report
from kernel.ports.operations import LogFilter

INSERT_CHUNK = 5_000


def rows(count: int, now: datetime) -> list[dict[str, Any]]:
    made = []
    for n in range(count):
        decided = now - timedelta(seconds=n)
        log = {"routing_id": str(uuid.uuid4()), "record_id": f"00Q{n:012d}AAA", "object_type": "Lead",
               "outcome": "assigned", "owner_id": f"005{n % 20:012d}AAA", "team": f"Team {n % 5}",
               "enqueued_at": (decided - timedelta(milliseconds=40)).isoformat(), "decided_at": decided.isoformat(),
               "reasons": ["routed: record created", "round_robin: next in turn"],
               "trace": [{"stage": stage, "reasons": [], "duration_ms": 0.2} for stage in ("classify", "match")]}
        made.append({"routing_id": log["routing_id"], "record_id": log["record_id"], "object_type": "Lead",
                     "outcome": "assigned", "owner_id": log["owner_id"], "team": log["team"], "method": "round_robin",
                     "config_version": 1, "log": log, "event_at": decided - timedelta(seconds=2),
                     "decided_at": decided})
    return made


def timed(run: Any) -> float:
    started = time.perf_counter()
    run()
    return round(time.perf_counter() - started, 3)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    schema = f"baton_bench_{uuid.uuid4().hex[:8]}" if args.database_url else None
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(args.database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", schema)
        upgrade_schema(engine, schema)
        now = datetime.now(UTC)
        made = rows(args.decisions, now)
        with engine.begin() as connection:
            for start in range(0, len(made), INSERT_CHUNK):
                connection.execute(sa.insert(assignments), made[start : start + INSERT_CHUNK])
        reader = OperationsReader(engine)
        figures = {
            "decisions": args.decisions,
            "database": engine.dialect.name,
            "stats_s": timed(lambda: report(reader.figures(now - timedelta(days=1)))),
            "logs_since_1h_team_s": timed(lambda: reader.history(now - timedelta(hours=1),
                                                                 LogFilter(teams=["Team 1"]), 200)),
            "why_s": timed(lambda: reader.record_trace("00Q000000000777AAA")),
        }
        if schema:
            with engine.begin() as connection:
                connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        engine.dispose()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
