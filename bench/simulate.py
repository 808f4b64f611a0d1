"""Simulator speed: records per second through the whole decision chain under two configs, nothing written.

The example org (``examples/org.yaml``: classification, territories, account matching against
``examples/accounts.jsonl``, a router graph, three round-robin teams) is the current config on a SQLite store;
the new config makes Inbound weighted 3:1:1. Leads get random countries, sizes and company names.

    python bench/simulate.py [--records 10000]

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from adapters.reference import FileReferenceData
from adapters.store import Store, make_engine, upgrade_schema
from baton.assignment.simulate.run import simulate
from baton.configs import ConfigProvider, apply_config
from baton.ports import Ports, RecordingSink, UnconfiguredOwnerWriter
from kernel.clock import utc_now
from messages import RecordEvent, Source
from routing.config import load_config_text

SEED = 20261123
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
COUNTRIES = ("US", "CA", "DE", "FR", "GB", "JP", "BR")


def leads(count: int) -> list[RecordEvent]:
    rng = random.Random(SEED)
    now = utc_now()
    return [RecordEvent(object_type="Lead", record_id=f"00Q{n:012d}AAA", source=Source.FILE,
                        source_event_id=f"bench-{n}", received_at=now,
                        fields={"LastName": f"Lead {n}", "Company": f"Company {rng.randrange(5000)}",
                                "Country": rng.choice(COUNTRIES), "NumberOfEmployees": rng.choice((10, 200, 5000)),
                                "Email": f"p{n}@company{rng.randrange(5000)}.com"})
            for n in range(1, count + 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=10_000)
    args = parser.parse_args()
    current_text = (EXAMPLES / "org.yaml").read_text()
    new_text = current_text.replace("  - name: Inbound\n    method: round_robin", "  - name: Inbound\n    method: weighted", 1)
    new_text = new_text.replace("name: Ada Lovelace, timezone: America/New_York}",
                                "name: Ada Lovelace, timezone: America/New_York, weight: 3}", 1)
    with tempfile.TemporaryDirectory() as directory:
        engine = make_engine(f"sqlite:///{directory}/bench.sqlite3")
        upgrade_schema(engine)
        store = Store(engine)
        apply_config(store.administration, current_text, utc_now())
        ports = Ports(store=store, configs=ConfigProvider(store.administration), owner_writer=UnconfiguredOwnerWriter(),
                      sink=RecordingSink(), reference=FileReferenceData(EXAMPLES / "accounts.jsonl", None, None))
        events = leads(args.records)
        started = time.perf_counter()
        result = simulate(events, ports, load_config_text(current_text), load_config_text(new_text))
        elapsed = time.perf_counter() - started
        engine.dispose()
    print(json.dumps({
        "records": args.records,
        "seconds": round(elapsed, 2),
        "records_per_s": round(args.records / elapsed),
        "decisions_per_s": round(2 * args.records / elapsed),
        "owner_changes": len(result.changes()),
    }))


if __name__ == "__main__":
    main()
