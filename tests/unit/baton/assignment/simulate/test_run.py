"""`baton simulate`: the decision chain under the current and a new config, expected counts, nothing written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from adapters.store import Store, make_engine, upgrade_schema
from adapters.store.tables import metadata
from baton.assignment.simulate.fairness import gini, team_fairness
from baton.assignment.simulate.run import simulate
from baton.configs import apply_config
from entrypoints.demo.fake_salesforce import fake_salesforce
from kernel.clock import utc_now
from routing.config import load_config_text
from tests.support.cli import run_baton
from tests.support.configs import member_id, team_config
from tests.support.events import lead_event
from tests.support.pipeline import Pipeline

WEIGHTED = (
    "teams:\n"
    "  - name: Inbound\n"
    "    method: weighted\n"
    "    members:\n"
    f"      - {{id: \"{member_id(1)}\", name: Rep 1, weight: 2}}\n"
    f"      - {{id: \"{member_id(2)}\", name: Rep 2}}\n"
    f"      - {{id: \"{member_id(3)}\", name: Rep 3}}\n"
    "  - name: Overflow\n"
    "    members:\n"
    f"      - {{id: \"{member_id(4)}\", name: Rep 4}}\n"
    "default_team: Inbound\n"
)


def snapshot(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as connection:
        return {table.name: sorted(map(tuple, connection.execute(sa.select(table)).all()), key=repr)
                for table in metadata.sorted_tables}


def write_leads(path: Path, count: int) -> Path:
    path.write_text("".join(
        json.dumps({"object": "Lead", "id": f"00Q{n:012d}AAA", "fields": {"LastName": f"Lead {n}", "Company": "Acme"}})
        + "\n" for n in range(1, count + 1)))
    return path


def test_cli_reports_expected_counts_under_both_configs_and_writes_nothing(tmp_path: Path) -> None:
    database = tmp_path / "baton.sqlite3"
    engine = make_engine(f"sqlite:///{database}")
    upgrade_schema(engine)
    apply_config(Store(engine).administration, team_config(members=3), utc_now())
    new_config = tmp_path / "new.yaml"
    new_config.write_text(WEIGHTED)
    before = snapshot(engine)
    result = run_baton(f"sqlite:///{database}", "simulate", "--config", str(new_config),
                       "--records", str(write_leads(tmp_path / "leads.jsonl", 12)), "--json",
                       "--plot", str(tmp_path / "d.png"), cwd=tmp_path)

    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    counts = {row["member_id"]: (row["current"], row["new"]) for row in report["members"]}
    assert counts == {member_id(1): (4, 6), member_id(2): (4, 3), member_id(3): (4, 3), member_id(4): (0, 0)}
    assert {row["team"]: (row["current"], row["new"]) for row in report["teams"]} == {
        "Inbound": (12, 12), "Overflow": (0, 0)}
    assert len(report["changes"]) == sum(1 for c in report["changes"] if c["current"]["owner_id"] != c["new"]["owner_id"])
    assert len(report["changes"]) >= 2
    assert report["fairness"]["current"]["Inbound"]["cv"] == 0.0
    assert report["fairness"]["new"]["Inbound"] == {"records": 12, "members": 3, "max_vs_target": 1.0,
                                                    "min_vs_target": 1.0, "cv": 0.0, "gini": 0.0}
    assert (tmp_path / "d.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert snapshot(engine) == before


def test_simulation_continues_the_stored_round_robin_order(pipeline: Pipeline) -> None:
    """One record routed for real moved the turn to member 2: the simulation starts there, and its own
    decisions advance only its copy of the team state."""
    pipeline.apply(team_config(members=3))
    pipeline.send([lead_event(100)])
    pipeline.drain()
    before = snapshot(pipeline.store.engine)
    current = load_config_text(team_config(members=3))

    simulation = simulate([lead_event(n) for n in range(1, 4)], pipeline.app.ports, current,
                          load_config_text(team_config(members=2)))

    assert [simulation.decisions["current"][lead_event(n).record_id].owner_id for n in range(1, 4)] == [
        member_id(2), member_id(3), member_id(1)]
    assert [simulation.decisions["new"][lead_event(n).record_id].owner_id for n in range(1, 4)] == [
        member_id(2), member_id(1), member_id(2)]
    assert [change.record_id for change in simulation.changes()] == [lead_event(2).record_id, lead_event(3).record_id]
    assert snapshot(pipeline.store.engine) == before


def test_rejected_lines_are_reported_and_exit_1(tmp_path: Path) -> None:
    database = tmp_path / "baton.sqlite3"
    records = write_leads(tmp_path / "leads.jsonl", 2)
    records.write_text(records.read_text() + "not json\n")
    (tmp_path / "new.yaml").write_text(WEIGHTED)
    (tmp_path / "current.yaml").write_text(team_config(members=3))

    result = run_baton(f"sqlite:///{database}", "simulate", "--config", "new.yaml", "--current", "current.yaml",
                       "--records", str(records), "--json", cwd=tmp_path)

    assert result.returncode == 1
    assert f"{records}:3:" in result.stderr
    assert json.loads(result.stdout)["records"] == 2


@pytest.mark.parametrize(("counts", "weights", "expected"), [
    ({"a": 5, "b": 5}, {"a": 1, "b": 1}, (1.0, 1.0, 0.0, 0.0)),
    ({"a": 10}, {"a": 1, "b": 1}, (2.0, 0.0, 1.0, 0.5)),
    ({"a": 6, "b": 3}, {"a": 2, "b": 1}, (1.0, 1.0, 0.0, 0.0)),
    ({"a": 3, "b": 3}, {"a": 2, "b": 1, "idle": 0}, (1.5, 0.75, 0.3333, 0.1667)),
])
def test_fairness_figures_against_weighted_targets(counts: dict[str, int], weights: dict[str, int],
                                                   expected: tuple[float, ...]) -> None:
    figures = team_fairness(counts, weights)
    assert (figures.max_vs_target, figures.min_vs_target, figures.cv, figures.gini) == pytest.approx(expected,
                                                                                                     abs=1e-4)


def test_gini_of_nothing_is_zero() -> None:
    assert gini([]) == gini([0.0, 0.0]) == 0.0


def test_soql_records_come_through_bulk_api_and_nothing_is_written_anywhere(tmp_path: Path) -> None:
    database = tmp_path / "baton.sqlite3"
    engine = make_engine(f"sqlite:///{database}")
    upgrade_schema(engine)
    apply_config(Store(engine).administration, team_config(members=3), utc_now())
    (tmp_path / "new.yaml").write_text(WEIGHTED)
    before = snapshot(engine)
    with fake_salesforce() as (org, _):
        org.records["Lead"] = [{"Id": f"00Q{n:012d}AAA", "OwnerId": "00G000000000001AAA", "LastName": f"Lead {n}",
                                "Company": "Acme"} for n in range(1, 9)]
        result = run_baton(
            f"sqlite:///{database}", "simulate", "--config", "new.yaml", "--soql",
            "SELECT Id, LastName, Company FROM Lead", "--json", cwd=tmp_path,
            BATON_SALESFORCE_LOGIN_URL=org.url, BATON_SALESFORCE_CLIENT_ID="consumer-key",
            BATON_SALESFORCE_CLIENT_SECRET=org.client_secret, REQUESTS_CA_BUNDLE=org.ca_file, NO_PROXY="127.0.0.1",
            BATON_BULK_POLL_MS="5",
        )
        ingest_jobs = org.bulk.ingest_jobs()
        owners = {record["OwnerId"] for record in org.records["Lead"]}

    assert result.returncode == 0, result.stderr[-2000:]
    counts = {row["member_id"]: (row["current"], row["new"]) for row in json.loads(result.stdout)["members"]}
    assert counts[member_id(1)] == (3, 4) and counts[member_id(2)] == (3, 2) and counts[member_id(3)] == (2, 2)
    assert ingest_jobs == [] and owners == {"00G000000000001AAA"}
    assert snapshot(engine) == before
