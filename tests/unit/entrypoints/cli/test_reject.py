"""``baton reject RECORD --member ID --reason ...`` (in-process, a fake org over HTTPS, a SQLite store): the owner's
rejection routes the record to another member and `baton why` shows the reason; one rejection over the team's daily
limit exits 1 naming the limit, and the record stays with the rejecter."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from entrypoints.cli import app
from entrypoints.demo.fake_salesforce import FakeOrg, fake_salesforce
from tests.support.configs import member_id, team_config

REP_1, REP_2 = member_id(1), member_id(2)
LEADS = ["00Q000000000001AAA", "00Q000000000002AAA", "00Q000000000003AAA"]


@dataclass
class Org:
    fake: FakeOrg
    env: dict[str, str]

    def baton(self, *args: str) -> Result:
        return CliRunner().invoke(app, list(args), env=self.env)


@pytest.fixture
def org(tmp_path: Path, keep_logging_config: None) -> Iterator[Org]:
    with fake_salesforce() as (fake, _):
        env = {"BATON_DATABASE_URL": f"sqlite:///{tmp_path / 'baton.sqlite3'}", "BATON_LOG_LEVEL": "WARNING",
               "BATON_SALESFORCE_LOGIN_URL": fake.url, "BATON_SALESFORCE_CLIENT_ID": "consumer-key",
               "BATON_SALESFORCE_CLIENT_SECRET": fake.client_secret, "REQUESTS_CA_BUNDLE": fake.ca_file}
        config = tmp_path / "org.yaml"
        config.write_text(team_config(members=2, rejection="{daily_limit: 1}"))
        leads = tmp_path / "leads.jsonl"
        leads.write_text("".join(json.dumps({"object": "Lead", "id": lead, "fields": {"LastName": "L"}}) + "\n"
                                 for lead in LEADS))
        routed = CliRunner().invoke(app, ["route", str(leads), "--config", str(config), "--json"], env=env)
        assert routed.exit_code == 0, routed.output
        owners = {entry["record_id"]: entry["owner_id"] for entry in map(json.loads, routed.stdout.splitlines())}
        assert owners == {LEADS[0]: REP_1, LEADS[1]: REP_2, LEADS[2]: REP_1}
        fake.records["Lead"] = [{"Id": lead, "LastName": "L", "OwnerId": owner} for lead, owner in owners.items()]
        yield Org(fake, env)


def test_the_owner_rejects_a_record_it_goes_to_another_member_and_why_shows_the_reason(org: Org) -> None:
    result = org.baton("reject", LEADS[0], "--member", REP_1, "--reason", "wrong region")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["owner_id"] == REP_2
    why = org.baton("why", LEADS[0], "--json")
    assert "rejected by the owner: wrong region" in why.stdout


def test_one_rejection_over_the_daily_limit_exits_1_and_the_record_stays(org: Org) -> None:
    first = org.baton("reject", LEADS[0], "--member", REP_1, "--reason", "wrong region")
    second = org.baton("reject", LEADS[2], "--member", REP_1, "--reason", "too busy")
    not_owner = org.baton("reject", LEADS[1], "--member", REP_1, "--reason", "not mine")

    assert first.exit_code == 0, first.output
    assert second.exit_code == 1 and "rejection.daily_limit 1" in second.stderr
    assert not_owner.exit_code == 1 and "only its owner may reject it" in not_owner.stderr
    why = json.loads(org.baton("why", LEADS[2], "--json").stdout)
    assert why["current"]["owner_id"] == REP_1
    assert "too busy" not in json.dumps(why)
