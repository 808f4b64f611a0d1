"""Reference data sync: SOQL pages from a fake org over HTTPS into the store, kept current by change events."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from simple_salesforce import Salesforce
from typer.testing import CliRunner

from adapters.reference_updates import StoreReferenceUpdates
from adapters.salesforce.sync import ReferenceSync
from adapters.store import Store
from adapters.synced_reference import StoreReferenceData
from entrypoints.cli import app
from entrypoints.demo.fake_salesforce import FakeOrg, fake_salesforce
from kernel.errors import TransientError
from kernel.ports.reference_sync import SyncedRow
from messages import ChangeType, RecordEvent, Source
from tests.support.configs import member_id
from tests.support.pipeline import Pipeline

EXAMPLES = Path(__file__).resolve().parents[4] / "examples"
SYNCED_AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
STAMP_ORIGIN = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
OWNER_A, OWNER_B = member_id(1), member_id(2)


@dataclass
class FrozenClock:
    now: datetime = SYNCED_AT

    def __call__(self) -> datetime:
        return self.now


def stamp(seconds: int) -> str:
    """A SystemModstamp as the REST API writes it, ``seconds`` after 09:00."""
    return (STAMP_ORIGIN + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def account(number: int, at: int, **fields: Any) -> dict[str, Any]:
    return {"Id": f"001{number:012d}AAA", "Name": f"Company {number}", "Website": f"company{number}.example",
            "OwnerId": OWNER_A, "NumberOfEmployees": 10 * number, "SystemModstamp": stamp(at), **fields}


def lead(number: int, at: int, **fields: Any) -> dict[str, Any]:
    return {"Id": f"00Q{number:012d}AAA", "FirstName": "Ada", "LastName": f"Lead {number}", "Company": "Acme",
            "Email": f"lead{number}@acme.example", "Status": "Open - Not Contacted", "IsConverted": False,
            "OwnerId": OWNER_A, "SystemModstamp": stamp(at), **fields}


def ids(rows: Sequence[SyncedRow]) -> list[str]:
    return sorted(row.id for row in rows)




@pytest.fixture
def org() -> Iterator[tuple[FakeOrg, Salesforce]]:
    with fake_salesforce() as (fake, client):
        yield fake, client


@pytest.fixture
def accounts(store: Store, org: tuple[FakeOrg, Salesforce]) -> tuple[list[dict[str, Any]], ReferenceSync]:
    """The fake org's accounts (empty, for the test to fill) and a sync into ``store`` with a frozen clock."""
    fake, client = org
    return fake.records.setdefault("Account", []), ReferenceSync(client, store.reference_sync, clock=FrozenClock())


def test_full_sync_reads_every_page_once_and_keeps_the_position(store: Store, org: tuple[FakeOrg, Salesforce]) -> None:
    fake, client = org
    fake.page_size = 10
    fake.records["Account"] = [account(n, at=n) for n in range(1, 26)]

    result = ReferenceSync(client, store.reference_sync, clock=FrozenClock()).run("Account")

    assert (result.pages, result.written, result.total) == (3, 25, 25)
    assert len(fake.calls) == 3 and fake.calls[0]["path"].startswith("/services/data/v61.0/query/?q=")
    assert all(call["path"].startswith("/services/data/v61.0/query/01g") for call in fake.calls[1:])
    assert "ORDER BY SystemModstamp, Id" in fake.calls[0]["soql"]
    assert ids(store.reference_sync.rows("Account")) == sorted(a["Id"] for a in fake.records["Account"])
    position = store.reference_sync.position("Account")
    assert position is not None and (position.last_modstamp, position.last_id) == (
        STAMP_ORIGIN + timedelta(seconds=25), "001000000000025AAA")


def test_incremental_sync_reads_only_changed_records(store: Store, org: tuple[FakeOrg, Salesforce],
                                                     accounts: tuple[list[dict[str, Any]], ReferenceSync]) -> None:
    records, sync = accounts
    records.extend(account(n, at=n) for n in range(1, 6))
    sync.run("Account")
    records[1] = account(2, at=100, OwnerId=OWNER_B)
    records.append(account(6, at=101))

    again = sync.run("Account")

    assert (again.written, again.total) == (2, 2)
    assert "SystemModstamp > 2026-11-20T09:00:05Z" in org[0].calls[-1]["soql"]
    assert store.reference_sync.row("Account", "001000000000002AAA").owner_id == OWNER_B  # type: ignore[union-attr]
    assert len(store.reference_sync.rows("Account")) == 6


def test_records_sharing_the_last_timestamp_are_neither_skipped_nor_read_twice(
    store: Store, org: tuple[FakeOrg, Salesforce], accounts: tuple[list[dict[str, Any]], ReferenceSync]
) -> None:
    """Salesforce keeps whole seconds: a record committed in the same second as the last one read still comes."""
    records, sync = accounts
    org[0].page_size = 2
    records.extend(account(n, at=7) for n in (1, 2, 3))
    sync.run("Account")
    records.append(account(4, at=7))

    assert sync.run("Account").written == 1
    assert "(SystemModstamp = 2026-11-20T09:00:07Z AND Id > '001000000000003AAA')" in org[0].calls[-1]["soql"]
    assert len(store.reference_sync.rows("Account")) == 4


def test_sync_stopped_by_a_503_mid_way_resumes_at_the_record_after_the_last_page(
    store: Store, org: tuple[FakeOrg, Salesforce]
) -> None:
    """The page boundary falls inside a run of equal timestamps; the resumed query starts right after it."""
    fake, client = org
    fake.page_size = 4
    fake.records["Account"] = [account(n, at=5) for n in range(1, 7)] + [account(n, at=6) for n in range(7, 11)]
    sync = ReferenceSync(client, store.reference_sync, clock=FrozenClock())

    def fail_after_first_page(_: str, records: int, total: int) -> None:
        fake.fail_next_calls(503)

    with pytest.raises(TransientError, match="503"):
        sync.run("Account", on_page=fail_after_first_page)
    assert ids(store.reference_sync.rows("Account")) == [f"001{n:012d}AAA" for n in range(1, 5)]

    resumed = sync.run("Account")

    assert "(SystemModstamp = 2026-11-20T09:00:05Z AND Id > '001000000000004AAA')" in fake.calls[-2]["soql"]
    assert (resumed.written, resumed.total) == (6, 6)
    assert ids(store.reference_sync.rows("Account")) == [f"001{n:012d}AAA" for n in range(1, 11)]


def test_converted_closed_and_deleted_leads_leave_the_open_leads(store: Store, org: tuple[FakeOrg, Salesforce]) -> None:
    fake, client = org
    fake.records["Lead"] = [lead(1, at=1), lead(2, at=2), lead(3, at=3), lead(4, at=4),
                            lead(5, at=5, IsConverted=True)]
    sync = ReferenceSync(client, store.reference_sync, clock=FrozenClock())
    first = sync.run("Lead")
    fake.records["Lead"][0] = lead(1, at=10, IsConverted=True, Status="Closed - Converted")
    fake.records["Lead"][1] = lead(2, at=11, Status="Closed - Not Converted")
    fake.records["Lead"][2] = lead(3, at=12, IsDeleted=True)

    again = sync.run("Lead")

    assert "IsConverted = false" in fake.calls[0]["soql"] and first.written == 4
    assert fake.calls[-1]["path"].startswith("/services/data/v61.0/queryAll")
    assert (again.written, again.removed) == (0, 4)  # lead 5, converted before, is seen once as a tombstone
    assert ids(store.reference_sync.rows("Lead")) == ["00Q000000000004AAA"]
    reasons = {n: store.reference_sync.row("Lead", f"00Q{n:012d}AAA").removed_reason for n in (1, 2, 3)}  # type: ignore[union-attr]
    assert reasons == {1: "converted", 2: "closed", 3: "deleted"}


def test_full_sync_drops_records_salesforce_no_longer_has(store: Store, org: tuple[FakeOrg, Salesforce]) -> None:
    fake, client = org
    fake.records["Account"] = [account(n, at=n) for n in range(1, 4)]
    clock = FrozenClock()
    sync = ReferenceSync(client, store.reference_sync, clock=clock)
    sync.run("Account")
    del fake.records["Account"][0]  # purged from the recycle bin: no queryAll will ever show it
    clock.now += timedelta(minutes=5)

    full = sync.run("Account", full=True)

    assert (full.written, full.swept) == (2, 1)
    assert ids(store.reference_sync.rows("Account")) == ["001000000000002AAA", "001000000000003AAA"]


def test_changes_younger_than_the_settle_window_wait_for_the_next_sync(store: Store, org: tuple[FakeOrg, Salesforce]) -> None:
    fake, client = org
    clock = FrozenClock(now=STAMP_ORIGIN + timedelta(seconds=30))
    fake.records["Account"] = [account(1, at=1), account(2, at=20)]
    sync = ReferenceSync(client, store.reference_sync, clock=clock, settle_s=15)

    early = sync.run("Account")
    clock.now += timedelta(seconds=10)
    later = sync.run("Account")

    assert (early.written, later.written) == (1, 1)
    assert len(store.reference_sync.rows("Account")) == 2


def test_indexes_are_none_until_synced_then_find_duplicates_among_synced_people(
    store: Store, org: tuple[FakeOrg, Salesforce]
) -> None:
    fake, client = org
    reference = StoreReferenceData(store.reference_sync, refresh_ms=0)
    assert (reference.account_index(), reference.person_index()) == (None, None)
    fake.records["Account"] = [account(1, at=1, Name="Soylent Corp")]
    fake.records["Contact"] = [{"Id": "003000000000001AAA", "FirstName": "Jon", "LastName": "Snow",
                                "Email": "jon@soylent.example", "AccountId": "001000000000001AAA",
                                "OwnerId": OWNER_B, "SystemModstamp": stamp(1)}]
    fake.records["Lead"] = [lead(1, at=1, IsDeleted=True)]
    sync = ReferenceSync(client, store.reference_sync, clock=FrozenClock())
    for object_type in ("Account", "Contact", "Lead"):
        sync.run(object_type)

    people = reference.person_index()
    by_email = people.find_duplicate({"Id": "00Q000000000009AAA", "Email": "JON@soylent.example"})  # type: ignore[union-attr]
    by_name = people.find_duplicate({"FirstName": "Jon", "LastName": "Snow", "Company": "Soylent"})  # type: ignore[union-attr]
    assert by_email is not None and (by_email.record_id, by_email.owner_id) == ("003000000000001AAA", OWNER_B)
    assert by_name is not None and by_name.method == "name"
    assert len(reference.account_index()) == 1  # type: ignore[arg-type]


# --- matching and change events through the pipeline -------------------------------------------------


def _sync_example_accounts(store: Store) -> None:
    accounts = [json.loads(line) for line in (EXAMPLES / "accounts.jsonl").read_text().splitlines() if line]
    with fake_salesforce() as (fake, client):
        fake.records["Account"] = [{**a, "SystemModstamp": stamp(n)} for n, a in enumerate(accounts)]
        fake.records["User"] = [{"Id": "005000000000009AAA", "Name": "Owner A", "Email": "a@example.com",
                                 "IsActive": True, "TimeZoneSidKey": "America/New_York", "SystemModstamp": stamp(0)}]
        sync = ReferenceSync(client, store.reference_sync, clock=FrozenClock())
        sync.run("User")
        sync.run("Account")


def _use_synced_copy(pipeline: Pipeline) -> None:
    current = pipeline.app
    ports = dataclasses.replace(current.ports, reference=StoreReferenceData(pipeline.store.reference_sync, refresh_ms=0),
                                reference_updates=StoreReferenceUpdates(pipeline.store.reference_sync))
    current.settings, current.ports = current.settings, ports


def _example_lead(number: int) -> RecordEvent:
    line = (EXAMPLES / "leads.jsonl").read_text().splitlines()[number - 1]
    record = json.loads(line)
    return RecordEvent(object_type="Lead", record_id=record["id"], fields=record["fields"], source=Source.API,
                       source_event_id=f"{record['id']}:sync-test", received_at=SYNCED_AT)


def test_a_routed_lead_matches_a_synced_account_and_goes_to_its_owner(pipeline: Pipeline) -> None:
    pipeline.apply((EXAMPLES / "org.yaml").read_text())
    _sync_example_accounts(pipeline.store)
    _use_synced_copy(pipeline)
    event = _example_lead(1)  # chloe@acme.com

    pipeline.send([event])
    pipeline.drain()

    log = pipeline.store.decisions.assignment_logs([event.routing_id])[event.routing_id]
    assert log["match"]["record_id"] == "001000000000001AAA" and log["match"]["method"] == "domain"
    assert log["owner_id"] == "005000000000009AAA"


def _account_event(change: ChangeType, at: int, source: Source = Source.CHANGE_EVENT, **fields: Any) -> RecordEvent:
    return RecordEvent(object_type="Account", record_id="001000000000001AAA", fields=fields, change_type=change,
                       source=source, source_event_id=f"001000000000001AAA:{change}:{at}:{source}",
                       commit_timestamp=STAMP_ORIGIN + timedelta(seconds=at), received_at=SYNCED_AT)


def test_a_change_event_updates_the_synced_copy_and_a_stale_one_does_not(pipeline: Pipeline) -> None:
    pipeline.apply((EXAMPLES / "org.yaml").read_text())
    _sync_example_accounts(pipeline.store)
    _use_synced_copy(pipeline)
    moved = _account_event(ChangeType.UPDATE, at=600, OwnerId=OWNER_B)
    stale = _account_event(ChangeType.UPDATE, at=300, OwnerId=OWNER_A, Name="Old name")
    from_a_file = _account_event(ChangeType.UPDATE, at=900, source=Source.FILE, OwnerId=member_id(3))

    pipeline.send([moved])
    pipeline.drain()
    pipeline.send([stale, from_a_file])
    pipeline.drain()

    row = pipeline.store.reference_sync.row("Account", "001000000000001AAA")
    assert row is not None and (row.owner_id, row.name) == (OWNER_B, "Acme Corporation")
    index = pipeline.app.ports.reference.account_index()
    assert index is not None and {c.owner_id for c in index.by_domain("acme.com")} == {OWNER_B}


def test_a_delete_event_leaves_a_tombstone_only_a_newer_undelete_lifts(store: Store) -> None:
    _sync_example_accounts(store)
    updates = StoreReferenceUpdates(store.reference_sync)

    written = updates.apply([_account_event(ChangeType.DELETE, at=600)])
    updates.apply([_account_event(ChangeType.UPDATE, at=500, Name="Acme again")])

    row = store.reference_sync.row("Account", "001000000000001AAA")
    assert written == 1 and row is not None and (row.removed_reason, row.name) == ("deleted", "Acme Corporation")
    assert "001000000000001AAA" not in ids(store.reference_sync.rows("Account"))
    updates.apply([_account_event(ChangeType.UNDELETE, at=700)])
    assert "001000000000001AAA" in ids(store.reference_sync.rows("Account"))


# --- the command ---------------------------------------------------------------------------------------


def test_baton_sync_prints_rows_per_object_and_exits_0(tmp_path: Path, keep_logging_config: None) -> None:
    with fake_salesforce() as (fake, _):
        fake.page_size = 2
        fake.records["User"] = [{"Id": OWNER_A, "Name": "Rep 1", "Email": "rep1@example.com", "IsActive": True,
                                 "TimeZoneSidKey": "Europe/London", "SystemModstamp": stamp(1)}]
        fake.records["Account"] = [account(n, at=n) for n in range(1, 6)]
        fake.records["Contact"] = [{"Id": "003000000000001AAA", "FirstName": "Jon", "LastName": "Smith",
                                    "Email": "jon@company1.example", "AccountId": "001000000000001AAA",
                                    "OwnerId": OWNER_A, "SystemModstamp": stamp(2)}]
        fake.records["Lead"] = [lead(1, at=1), lead(2, at=2, IsConverted=True)]
        env = {"BATON_DATABASE_URL": f"sqlite:///{tmp_path / 'baton.sqlite3'}", "BATON_LOG_LEVEL": "WARNING",
               "BATON_SALESFORCE_LOGIN_URL": fake.url, "BATON_SALESFORCE_CLIENT_ID": "consumer-key",
               "BATON_SALESFORCE_CLIENT_SECRET": fake.client_secret, "REQUESTS_CA_BUNDLE": fake.ca_file}
        result = CliRunner().invoke(app, ["sync"], env=env)
        unknown = CliRunner().invoke(app, ["sync", "--object", "Widget"], env=env)
        accounts_only = CliRunner().invoke(app, ["sync", "--object", "account", "--full"], env=env)

    assert result.exit_code == 0, result.stderr
    rows = {line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:-1]]
            for line in result.stdout.splitlines() if line.count("│") > 2}
    assert rows["User"][:2] == ["1", "0"] and rows["Account"][:2] == ["5", "0"]
    assert rows["Contact"][:2] == ["1", "0"] and rows["Lead"][:2] == ["1", "0"]
    assert rows["Account"][-1] == "ok" and rows["Account"][-2].startswith("2026-11-20T09:00:05")
    assert "Rows synced" in result.stdout
    assert unknown.exit_code == 2 and "cannot sync Widget" in unknown.stderr
    assert accounts_only.exit_code == 0 and "│ Lead " not in accounts_only.stdout  # no Lead row synced


def test_baton_sync_without_a_connected_app_exits_2(tmp_path: Path, keep_logging_config: None) -> None:
    env = {"BATON_DATABASE_URL": f"sqlite:///{tmp_path / 'baton.sqlite3'}", "BATON_SALESFORCE_CLIENT_ID": "",
           "BATON_SALESFORCE_CLIENT_SECRET": ""}
    result = CliRunner().invoke(app, ["sync"], env=env)
    assert result.exit_code == 2 and "BATON_SALESFORCE_CLIENT_ID" in result.stderr and result.stdout == ""
