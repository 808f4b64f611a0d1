"""Describes synced into the store, and write-back mappings checked against them: ``baton sync`` stores each routed
object's describe on every pass; ``baton check`` and ``baton config apply`` refuse a mapping to a field that does
not exist, has the wrong type or is not updateable, naming it, and store nothing (the fake org over HTTPS)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from adapters.store import Store, make_engine, upgrade_schema
from baton.configs import ConfigProvider
from entrypoints.cli import app
from entrypoints.demo.fake_describes import FORMULA_FIELD
from entrypoints.demo.fake_salesforce import FakeOrg, fake_salesforce
from kernel.clock import utc_now
from routing.config import config_digest
from tests.support.configs import team_config

STANDARD = {"Lead", "Contact", "Account", "Opportunity", "Case"}



@dataclass
class Org:
    fake: FakeOrg
    env: dict[str, str]
    tmp_path: Path

    def baton(self, *args: str) -> Result:
        return CliRunner().invoke(app, list(args), env=self.env)

    def sync(self, *args: str) -> Result:
        result = self.baton("sync", "--object", "User", *args)
        assert result.exit_code == 0, result.stderr
        return result

    def config(self, writeback: str = "", name: str = "org.yaml") -> Path:
        path = self.tmp_path / name
        path.write_text(team_config() + (f"writeback:\n{writeback}" if writeback else ""))
        return path

    def store(self) -> Store:
        engine = make_engine(self.env["BATON_DATABASE_URL"])
        upgrade_schema(engine)
        return Store(engine)

    def describe_calls(self) -> int:
        return sum(1 for call in self.fake.calls if call["path"].endswith("/describe"))

    def config_versions(self) -> int:
        latest = self.store().administration.latest_config()
        return latest.version if latest is not None else 0


@pytest.fixture
def org(tmp_path: Path, keep_logging_config: None) -> Iterator[Org]:
    with fake_salesforce() as (fake, _):
        fake.records["User"] = []
        env = {"BATON_DATABASE_URL": f"sqlite:///{tmp_path / 'baton.sqlite3'}", "BATON_LOG_LEVEL": "WARNING",
               "BATON_SALESFORCE_LOGIN_URL": fake.url, "BATON_SALESFORCE_CLIENT_ID": "consumer-key",
               "BATON_SALESFORCE_CLIENT_SECRET": fake.client_secret, "REQUESTS_CA_BUNDLE": fake.ca_file}
        yield Org(fake, env, tmp_path)


# baton sync ------------------------------------------------------------------------------------------------------
def test_sync_stores_each_routed_objects_describe_and_a_second_pass_refreshes_it(org: Org) -> None:
    first = org.sync()
    stored = org.store().describes.all()
    org.sync()
    refreshed = org.store().describes.all()

    assert set(stored) == STANDARD and "describes stored: Lead, Contact, Account, Opportunity, Case" in first.stdout
    assert org.describe_calls() == 10  # five objects, two passes
    lead = stored["Lead"]
    assert lead.fields["Baton_Team__c"].type == "string" and lead.fields["Baton_Team__c"].updateable
    assert lead.fields["Region__c"].picklist_values == ("EMEA", "AMER", "APAC")
    assert lead.fields[FORMULA_FIELD].calculated and "Address" not in lead.queryable_fields
    assert all(refreshed[name].fetched_at > stored[name].fetched_at for name in STANDARD)


def test_sync_describes_the_stored_configs_objects_and_extra_ones_and_a_failed_describe_is_not_fatal(org: Org) -> None:
    org.fake.describes["Widget__c"] = {**org.fake.describes["Case"], "name": "Widget__c"}
    org.fake.describes["Gadget__c"] = {**org.fake.describes["Case"], "name": "Gadget__c"}
    text = team_config() + "writeback:\n  Widget__c:\n    team: Baton_Team__c\n"
    org.store().administration.save_config(text, config_digest(text), utc_now())
    org.fake.records["User"] = [{"Id": "005000000000001AAA", "Name": "Rep 1", "IsActive": True,
                                 "SystemModstamp": "2026-12-06T09:00:00.000+0000"}]

    result = org.baton("sync", "--object", "User", "--describe", "Gadget__c", "--describe", "Missing__c")

    assert result.exit_code == 0, result.stderr
    assert "Missing__c: describe failed (kept the stored one, retried next pass)" in result.stderr
    assert set(org.store().describes.all()) == STANDARD | {"Widget__c", "Gadget__c"}
    assert org.store().reference_sync.rows("User")  # the reference sync ran as ever
    bad_name = org.baton("sync", "--describe", "Not an object")
    assert bad_name.exit_code == 2 and "--describe: 'Not an object' is not an object API name" in bad_name.stderr


# baton check and baton config apply --------------------------------------------------------------------------------
@pytest.mark.parametrize(("mapping", "problem"), [
    ("    team: Nope__c\n", "writeback.Lead.team: Lead has no field Nope__c"),
    ("    team: Baton_SLA_Due__c\n",
     "writeback.Lead.team: Lead.Baton_SLA_Due__c is a datetime field; team needs picklist, string, textarea"),
    (f"    reason: {FORMULA_FIELD}\n",
     f"writeback.Lead.reason: Lead.{FORMULA_FIELD} is not updateable (a formula or read-only field)"),
], ids=["missing field", "wrong type", "formula field"])
def test_a_mapping_to_a_field_that_cannot_take_the_fact_is_refused_by_check_and_apply_and_nothing_is_stored(
        org: Org, mapping: str, problem: str) -> None:
    org.sync()
    assert org.baton("config", "apply", str(org.config())).exit_code == 0
    bad = org.config("  Case: default\n  Lead:\n" + mapping, "bad.yaml")

    checked = org.baton("check", str(bad))
    applied = org.baton("config", "apply", str(bad))

    for result in (checked, applied):
        assert result.exit_code == 2 and result.stdout == ""
        assert f"{bad}: {problem}" in result.stderr.splitlines()
        assert "writeback.Case" not in result.stderr  # Case's default fields all fit
    assert org.config_versions() == 1


def test_a_valid_mapping_is_checked_and_applied(org: Org) -> None:
    org.sync()
    good = org.config("  Lead: default\n  Case:\n    team: Baton_Team__c\n    reason: Subject\n"
                      "    territory: Region__c\n")

    checked = org.baton("check", str(good))
    applied = org.baton("config", "apply", str(good))

    assert (checked.exit_code, checked.stdout.strip()) == (0, f"{good}: ok"), checked.stderr
    assert (applied.exit_code, applied.stdout.strip()) == (0, "config version 1"), applied.stderr
    stored = org.store().administration.latest_config()
    assert stored is not None and stored.body == good.read_text()


def test_with_no_stored_describe_the_refusal_says_to_run_baton_sync(org: Org) -> None:
    config = org.config("  Lead: default\n")

    checked = org.baton("check", str(config))
    applied = org.baton("config", "apply", str(config))

    for result in (checked, applied):
        assert result.exit_code == 2
        assert (f"{config}: writeback.Lead: no describe of Lead in the store: run `baton sync` to fetch it"
                in result.stderr.splitlines())
    assert org.config_versions() == 0


def test_a_config_without_writeback_needs_no_store_to_check(tmp_path: Path, keep_logging_config: None) -> None:
    config = tmp_path / "org.yaml"
    config.write_text(team_config())
    no_store = {"BATON_DATABASE_URL": f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'baton.sqlite3'}"}

    result = CliRunner().invoke(app, ["check", str(config)], env=no_store)

    assert (result.exit_code, result.stdout.strip()) == (0, f"{config}: ok"), result.stderr
    assert not (tmp_path / "no").exists()


def test_a_stored_config_whose_mapping_no_describe_backs_still_loads_at_run_time(org: Org) -> None:
    """Workers and the web process use the stored config as it is: describes may be synced after it."""
    text = team_config() + "writeback:\n  Lead: default\n"
    store = org.store()
    store.administration.save_config(text, config_digest(text), utc_now())

    version, config = ConfigProvider(store.administration).current()
    assert version == 1 and config.writeback == {"Lead": "default"}
