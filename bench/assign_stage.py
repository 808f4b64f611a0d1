"""The assign stage alone on PostgreSQL, timed by the wall clock and by process CPU: less swayed by a busy machine
than ``select_owner.py``'s full run, which measures the pure core first.

    python bench/assign_stage.py [--records 5000] [--members 1000] [--batch 100]
"""

from __future__ import annotations

import argparse
import time

import select_owner


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=100, help="records per assign message")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    select_owner.POSTGRES_URL = args.postgres
    team = select_owner.build_team(args.members, "round_robin", {})
    batch = select_owner.records(args.records)
    select_owner.run(team, batch[:200])
    cpu_started = time.process_time()
    rate = select_owner.measure_stage(team, batch, args.batch)
    cpu_us = (time.process_time() - cpu_started) * 1e6 / len(batch)
    print(f"assign stage: {rate:,.0f} decisions/s, {cpu_us:,.0f} us CPU a decision (schema setup included)")


if __name__ == "__main__":
    main()
