"""Owner selection speed: decisions per second for a team of 1,000 members.

The team mixes time zones (8 zones), shifts (day, evening, split and always-on), holidays,
out-of-office periods, day/week caps, a criteria cap and skills (languages and products).
Records ask for a random language and sometimes a product; the clock advances 2 seconds per
record across a working day, so availability changes while the benchmark runs.

    python bench/select_owner.py [--members 1000] [--records 20000] [--method round_robin]
                                 [--calibration | --lead-threshold N]

The last line is one JSON object. ``stage_decisions_per_s`` (the assign stage with PostgreSQL
locking) is measured by the lead engineer's stage benchmark and is ``null`` here.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import UTC, datetime, timedelta

from routing.selection import TeamState, select_owner
from routing.teams import Team

SEED = 20240501
ZONES = (
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Australia/Sydney",
    "UTC",
)
HOLIDAY_REGIONS = (("DE", "BY"), ("GB", None), ("US", "CA"), ("JP", None), (None, None))
LANGUAGES = ("en", "de", "fr", "es", "ja")
PRODUCTS = ("crm", "erp", "hr")
WEEK = ("mon", "tue", "wed", "thu", "fri")
START = datetime(2024, 5, 7, 6, 0, tzinfo=UTC)
STEP = timedelta(seconds=2)


def _shifts(rng: random.Random) -> dict[str, list[dict[str, str]]] | None:
    kind = rng.randrange(4)
    if kind == 0:
        return None
    ranges = {
        1: [{"start": "08:00", "end": "17:00"}],
        2: [{"start": "12:00", "end": "24:00"}],
        3: [{"start": "07:00", "end": "11:30"}, {"start": "13:00", "end": "19:00"}],
    }[kind]
    return {day: ranges for day in WEEK}


def build_team(members: int, method: str, fairness: dict[str, object] | None = None) -> Team:
    rng = random.Random(SEED)
    people = []
    for number in range(members):
        country, subdivision = rng.choice(HOLIDAY_REGIONS)
        skills = {rng.choice(LANGUAGES), "en"} | set(rng.sample(PRODUCTS, rng.randrange(1, 3)))
        member = {
            "id": f"005{number:015d}",
            "name": f"Member {number}",
            "timezone": rng.choice(ZONES),
            "weight": rng.choice((1, 1, 2, 3)),
            "tier": rng.choice((1, 1, 2)),
            "skills": sorted(skills),
            "shifts": _shifts(rng),
            "holiday_country": country,
            "holiday_subdivision": subdivision,
            "caps": {"per_day": rng.choice((None, 20, 40)), "per_week": rng.choice((None, 150))},
        }
        if rng.random() < 0.05:
            start = START + timedelta(hours=rng.randrange(-24, 24))
            member["out_of_office"] = [
                {"start": start.isoformat(), "end": (start + timedelta(days=3)).isoformat()}
            ]
        people.append(member)
    return Team.model_validate(
        {
            "name": "bench",
            "method": method,
            "members": people,
            "skills_from": ["Language__c", "Product__c"],
            "criteria_caps": [{"name": "enterprise", "tag": "enterprise", "per_day": 5}],
            **({"fairness": fairness} if fairness else {}),
        }
    )


def records(count: int) -> list[dict[str, object]]:
    rng = random.Random(SEED + 1)
    out = []
    for _ in range(count):
        facts: dict[str, object] = {"Language__c": rng.choice(LANGUAGES)}
        if rng.random() < 0.5:
            facts["Product__c"] = rng.choice(PRODUCTS)
        facts["tags"] = ["enterprise"] if rng.random() < 0.1 else []
        out.append(facts)
    return out


def run(team: Team, batch: list[dict[str, object]], *, explain: bool = False) -> tuple[float, int]:
    """Seconds for the batch and how many were held; ``explain`` also renders every decision's
    skipped list and skip summary, as the assign stage's log does."""
    state = TeamState()
    held = 0
    moment = START
    started = time.perf_counter()
    for facts in batch:
        selection, state = select_owner(team, state, facts, moment)
        held += selection.held
        if explain:
            _ = (selection.skipped, selection.skip_summary)
        moment += STEP
    return time.perf_counter() - started, held


POSTGRES_URL = ""


def measure_stage(team: Team, facts: list[dict[str, object]], batch_size: int) -> float:
    """The assign stage itself: prepare + one PostgreSQL transaction (team row locked) per message."""
    import uuid
    from datetime import UTC, datetime

    import yaml

    from adapters.store import Store, make_engine, upgrade_schema
    from baton.assignment.assign import assign_prepared, prepare
    from baton.assignment.ports import AssignmentPorts
    from baton.configs import ConfigProvider, apply_config
    from baton.ports import Ports, RecordingSink, UnconfiguredOwnerWriter
    from baton.salesforce.ingest import batches
    from messages import RecordEvent, Source

    schema = f"bench_select_{uuid.uuid4().hex[:8]}"
    engine = make_engine(POSTGRES_URL, schema)
    upgrade_schema(engine, schema)
    store = Store(engine)
    config = {"teams": [team.model_dump(mode="json", exclude_defaults=True)], "default_team": team.name}
    now = datetime.now(UTC)
    apply_config(store.administration, yaml.safe_dump(config), now)
    ports = AssignmentPorts.of(Ports(store, ConfigProvider(store.administration), UnconfiguredOwnerWriter(), RecordingSink(),
                                     clock=lambda: now))
    events = [
        RecordEvent(object_type="Lead", record_id=f"00Q{n:012d}AAA", fields=dict(fields), source=Source.API,
                    source_event_id=f"bench-{n}", commit_timestamp=now, received_at=now)
        for n, fields in enumerate(facts, start=1)
    ]
    messages = list(batches(events, batch_size, now))
    try:
        started = time.perf_counter()
        for message in messages:
            assign_prepared([prepare(message, ports)], ports)
        return len(events) / (time.perf_counter() - started)
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--method", default="round_robin")
    parser.add_argument("--stage-records", type=int, default=5000, help="0 skips the PostgreSQL stage run")
    parser.add_argument("--stage-batch", type=int, default=100, help="records per assign message")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--calibration", action="store_true", help="fairness: weekly reset, calibration")
    parser.add_argument("--lead-threshold", type=int, default=None, help="fairness: lead threshold (no calibration)")
    args = parser.parse_args()
    fairness: dict[str, object] = {}
    if args.calibration:
        fairness.update(reset="week", balance="calibration")
    if args.lead_threshold is not None:
        fairness.update(reset="week", lead_threshold=args.lead_threshold)
    global POSTGRES_URL
    POSTGRES_URL = args.postgres
    team = build_team(args.members, args.method, fairness)
    batch = records(args.records)
    run(team, batch[:200])  # warm the holiday cache and the compiled roster
    cpu_started = time.process_time()
    seconds, held = run(team, batch)
    cpu_rate = len(batch) / (time.process_time() - cpu_started)  # CPU time: less swayed by a busy machine
    rate = len(batch) / seconds
    explained_seconds, _ = run(team, batch, explain=True)
    explained_rate = len(batch) / explained_seconds
    print(f"method={args.method} members={args.members} records={len(batch)} held={held}")
    print(f"pure core: {rate:,.0f} decisions/s ({seconds * 1e6 / len(batch):.1f} us each); "
          f"{cpu_rate:,.0f} per CPU second")
    print(f"pure core with skipped + skip_summary rendered: {explained_rate:,.0f} decisions/s")
    stage_decisions_per_s = None
    if args.stage_records:
        stage_decisions_per_s = round(measure_stage(team, batch[: args.stage_records], args.stage_batch))
        print(f"assign stage on PostgreSQL (row lock, decision + state + outbox per transaction, "
              f"{args.stage_batch} records a message): {stage_decisions_per_s:,} decisions/s")
    print(
        json.dumps(
            {
                "core_decisions_per_s": round(rate),
                "core_decisions_per_cpu_s": round(cpu_rate),
                "core_explained_decisions_per_s": round(explained_rate),
                "stage_decisions_per_s": stage_decisions_per_s,
                "members": args.members,
                "method": args.method,
                "fairness": fairness or None,
            }
        )
    )


if __name__ == "__main__":
    main()
