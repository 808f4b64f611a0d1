"""Race tests of the outbox and loop-guard windows (issue 19: 4, 5, 6 and 9), each a strict expected failure
at its final check while its window is open (windows 4 and 5 are closed: their tests pass).

The owner-write windows run the real flusher (as ``baton flush`` builds it) and the real owner writer against
the fake Salesforce, on PostgreSQL, with a clock the test steps; the dead-letter and change-event windows run
real ``dramatiq`` workers and ``baton listen`` on RabbitMQ and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from adapters.salesforce.bulk import BulkClient, BulkOwnerWriter
from adapters.salesforce.events import SalesforceEventWriter
from adapters.salesforce.session import UNREACHABLE
from adapters.salesforce.writer import SalesforceOwnerWriter
from adapters.store import Store, make_engine
from baton import runtime
from entrypoints.demo.fake_salesforce import FakeOrg, fake_salesforce
from kernel.clock import utc_now
from kernel.ports import OwnerChange
from messages import ChangeType, RecordEvent, routing_id_for
from tests.integration.conftest import Cluster
from tests.integration.test_listener_rabbitmq import WAIT_S, start_listener, wait_for_decision
from tests.support import cdc_samples as cdc
from tests.support.cli import run_baton
from tests.support.configs import team_config
from tests.support.events import lead_event
from tests.support.fake_cometd import FakeStreamingOrg, fake_streaming_org
from tests.support.outbox_windows import (
    SteppedClock,
    default_flusher,
    run_flusher,
    salesforce_unavailable,
    wait_until,
)
from tests.support.pipeline import Pipeline, running_pipeline
from tests.support.service_control import host_port
from tests.support.services import WorkerProcess, queue_depths, wait_until_drained
from tests.support.tcp_proxy import TcpProxy
from tests.support.windows import assert_window_closed
from tests.unit.adapters.salesforce.test_writer import org  # noqa: F401 - the fake org behind the real owner writer

pytestmark = pytest.mark.integration
OUTAGE = timedelta(minutes=10)
AFTER_THE_OUTAGE = timedelta(hours=1)


@pytest.fixture
def pipeline(stub_runtime: runtime.Runtime, postgres_url: str, pg_schema: str) -> Iterator[Pipeline]:
    with running_pipeline(stub_runtime, make_engine(postgres_url, pg_schema), pg_schema) as pipeline:
        yield pipeline


@pytest.fixture
def clock() -> SteppedClock:
    return SteppedClock(utc_now())


# 4. an older owner overwrites a newer one -----------------------------------------------------------------
def reassignment(event: RecordEvent) -> RecordEvent:
    """A later request to route the same record again (its next decision names the other rep)."""
    return event.model_copy(update={
        "change_type": ChangeType.REASSIGN, "source_event_id": f"{event.source_event_id}:reassign",
        "commit_timestamp": event.event_time() + timedelta(minutes=1),
        "received_at": event.received_at + timedelta(minutes=1)})


def decided_owner(store: Store, event: RecordEvent) -> str:
    return str(store.decisions.assignment_logs([event.routing_id])[event.routing_id]["owner_id"])


def newest_decision(store: Store, event: RecordEvent) -> str | None:
    """Baton's newest decision for the event's record (its record state)."""
    with store.decisions.transaction() as tx:
        state = tx.record_states([(event.object_type, event.record_id)]).get((event.object_type, event.record_id))
    return state.owner_id if state else None


def older_write_fails_then_newer_is_written(pipeline: Pipeline, org: FakeOrg, clock: SteppedClock,
                                            first_write_fails: Callable[[FakeOrg], None]) -> tuple[str, str]:
    """Owner A's first write fails (``first_write_fails`` arranges how), then a newer decision B for the same
    record is written; returns (A, B). Every step is asserted: the scenario really happened."""
    older = lead_event(1)
    pipeline.send([older])
    pipeline.route()
    flusher = default_flusher(pipeline.app, clock)
    first_write_fails(org)
    assert flusher.tick() is not None
    assert pipeline.store.outbox.statuses([older.routing_id]) == {older.routing_id: "pending"}

    newer = reassignment(older)
    pipeline.send([newer])
    pipeline.route()
    owner_a, owner_b = decided_owner(pipeline.store, older), decided_owner(pipeline.store, newer)
    assert owner_a != owner_b and newest_decision(pipeline.store, older) == owner_b
    report = flusher.tick()  # the same moment: A waits for its retry, B is written
    assert report is not None and report.sent == 1 and org.owners[older.record_id] == owner_b
    return owner_a, owner_b


def retry_the_older_write(pipeline: Pipeline, clock: SteppedClock) -> None:
    """The flusher runs on until nothing waits for a retry (A's retry comes due within a second)."""
    run_flusher(default_flusher(pipeline.app, clock), pipeline.store, clock, clock() + timedelta(hours=1))
    assert pipeline.store.outbox.due(clock()) == []


def newest_decision_in_salesforce(store: Store, org: FakeOrg, owner_a: str,
                                  owner_b: str) -> tuple[bool, dict[str, object]]:
    """(the record's owner in Salesforce is Baton's newest decision for it, what was seen)."""
    record = lead_event(1)
    newest = newest_decision(store, record)
    owner = org.owners[record.record_id]
    return owner == newest, {"salesforce_owner": owner, "newest_decision": newest, "older": owner_a,
                             "newer": owner_b, "writes": org.updates[record.record_id]}


def test_an_owner_retried_after_a_lock_error_never_overwrites_a_newer_decision(
    pipeline: Pipeline, org: FakeOrg, clock: SteppedClock
) -> None:
    """A's write meets UNABLE_TO_LOCK_ROW, B is written, A's retry must not replace B in Salesforce."""
    record = lead_event(1).record_id
    owner_a, owner_b = older_write_fails_then_newer_is_written(
        pipeline, org, clock, lambda fake: fake.fail_record(record, "UNABLE_TO_LOCK_ROW"))
    assert org.updates[record] == 1  # only B reached the record so far

    retry_the_older_write(pipeline, clock)

    kept, evidence = newest_decision_in_salesforce(pipeline.store, org, owner_a, owner_b)
    assert_window_closed(kept, "older owner overwrote the newer decision", evidence)


def test_an_owner_read_back_after_a_lost_answer_never_overwrites_a_newer_decision(
    pipeline: Pipeline, org: FakeOrg, clock: SteppedClock
) -> None:
    """A's write is carried out but its answer is lost, B is written, A's read-back must not re-send A over B."""
    record = lead_event(1).record_id

    def answer_lost(fake: FakeOrg) -> None:
        fake.answers_to_drop = 1

    owner_a, owner_b = older_write_fails_then_newer_is_written(pipeline, org, clock, answer_lost)
    [older_row] = pipeline.store.outbox.due(clock() + timedelta(minutes=1))
    assert str(older_row.last_error).startswith(UNREACHABLE)  # the outcome of A's write is unknown
    assert org.updates[record] == 2  # A was carried out, then B

    retry_the_older_write(pipeline, clock)

    kept, evidence = newest_decision_in_salesforce(pipeline.store, org, owner_a, owner_b)
    assert_window_closed(kept, "read-back re-sent an older owner over the newer decision", evidence)


# 5. a Salesforce outage dead-letters owner writes --------------------------------------------------------
def test_owner_writes_wait_out_a_ten_minute_salesforce_outage(
    pipeline: Pipeline, org: FakeOrg, clock: SteppedClock
) -> None:
    """Salesforce answers 503 to everything for 10 minutes: the owners wait, and are written once it is back."""
    events = [lead_event(n) for n in range(1, 6)]
    pipeline.send(events, batch_size=5)
    pipeline.route()
    flusher = default_flusher(pipeline.app, clock)
    outage_starts = clock()
    outage_ends = outage_starts + OUTAGE

    with salesforce_unavailable(org):
        ticks = run_flusher(flusher, pipeline.store, clock, outage_ends)
        assert org.http_faults, "some call in the outage was not answered 503"
    assert ticks >= 2 and len(org.calls) >= 2 and not org.owners  # the flusher tried, and only met 503s
    clock.advance_to(outage_ends)
    run_flusher(flusher, pipeline.store, clock, outage_ends + AFTER_THE_OUTAGE)

    decided = {event.record_id: decided_owner(pipeline.store, event) for event in events}
    letters = pipeline.store.administration.dead_letters()
    assert_window_closed(org.owners == decided and not letters, "owners dead-lettered in a 10-minute outage",
                         {"written": len(org.owners), "decided": len(decided),
                          "dead_lettered": [(str(letter.failed_at - outage_starts), letter.reason[:90])
                                            for letter in letters],
                          "outbox": pipeline.store.outbox.summary()})


# 6. dead letters that live only in RabbitMQ --------------------------------------------------------------
SMALL_RETRY_BUDGET = {"BATON_MAX_RETRIES": "1", "BATON_MIN_BACKOFF_MS": "100", "BATON_MAX_BACKOFF_MS": "200",
                      "BATON_RETRY_OUTAGE_MS": "1000"}


@pytest.fixture
def database_proxy(postgres_url: str) -> Iterator[TcpProxy]:
    """A TCP proxy in front of the machine's PostgreSQL: the workers' outage, nobody else's."""
    proxy = TcpProxy(host_port(postgres_url, 5432))
    yield proxy
    proxy.close()


def dead_letter_queue_messages(prefix: str) -> int:
    return sum(count for name, count in queue_depths(prefix).items() if name.endswith(".XQ"))


def baton_cli(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m baton`` with the cluster's settings (broker, store, queue prefix), as an operator runs it."""
    settings = {key: value for key, value in cluster.env.items() if key.startswith("BATON_")}
    return run_baton(settings.pop("BATON_DATABASE_URL"), *args, **settings)


def test_a_message_dead_lettered_during_a_postgresql_outage_is_listed_and_replayable(
    cluster: Cluster, database_proxy: TcpProxy, postgres_url: str
) -> None:
    """A worker's database is refused for longer than the retry budget; the message that exhausts its retries
    meanwhile must be listed by ``baton dlq list`` once the database is back, and replay."""
    cluster.apply(team_config(members=2))
    env = {**cluster.env, **SMALL_RETRY_BUDGET, "BATON_DATABASE_URL": database_proxy.url_for(postgres_url)}
    worker = WorkerProcess(env, cluster.log_dir / "worker.log", threads=2).start()
    cluster.workers.append(worker)
    cluster.producer.publish([lead_event(1)], batch_size=1)
    wait_for_decision(cluster, lead_event(1).routing_id)  # the worker reaches PostgreSQL through the proxy

    with database_proxy.refused():
        database_proxy.reset()
        cluster.producer.publish([lead_event(2)], batch_size=1)
        wait_until(lambda: dead_letter_queue_messages(cluster.prefix) == 1, "lead 2 dead-lettered into a .XQ queue")
        wait_until(lambda: "dead_letter_not_stored" in worker.log_path.read_text(errors="replace"),
                   "the worker failing to store the dead letter's copy")
    # RabbitMQ holds the message; the worker keeps trying its store copy now, so whether that copy is written
    # before ``baton dlq list`` runs is a race: either way the letter must be listed once
    assert worker.running and dead_letter_queue_messages(cluster.prefix) == 1

    listed = baton_cli(cluster, "dlq", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    letters = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
    replayed = [baton_cli(cluster, "dlq", "replay", str(letter["id"])).returncode for letter in letters]
    left_in_rabbitmq = dead_letter_queue_messages(cluster.prefix)  # the list moved it into the store
    assert_window_closed(len(letters) == 1 and replayed == [0] and left_in_rabbitmq == 0,
                         "dead letter only in RabbitMQ, not listed",
                         {"listed": letters, "replay_exit_codes": replayed, "in_xq_queues": left_in_rabbitmq})


# 9. the change-event loop guard trusts only changeOrigin -------------------------------------------------
BATON_USER = "005000000000099AAA"
BULK_ORIGIN = "com/salesforce/api/bulk/61.0"
OWN_WRITE_FIELDS = ["LastModifiedDate", "LastModifiedById", "OwnerId"]
ROUTES_OWNER_AND_STATUS_CHANGES = """teams:
  - name: Inbound
    members:
      - {id: "005000000000001AAA", name: "Rep 1"}
      - {id: "005000000000002AAA", name: "Rep 2"}
      - {id: "005000000000003AAA", name: "Rep 3"}
graphs:
  Lead:
    nodes:
      start: {kind: trigger, on_create: true, allow_manual_owner_change: true, when_fields_change: [Status],
              next: to_inbound}
      to_inbound: {kind: assign_team, team: Inbound}
"""


@pytest.fixture
def listening(cluster: Cluster) -> Iterator[tuple[Cluster, FakeStreamingOrg]]:
    """A worker and ``baton listen`` on the Lead change channel, with Baton's integration user set; the graph
    routes owner changes made by people (and Status changes)."""
    with fake_streaming_org() as streaming:
        streaming.known_channels.add(cdc.LEAD_CHANNEL)
        cluster.env["BATON_SALESFORCE_USER_ID"] = BATON_USER
        cluster.apply(ROUTES_OWNER_AND_STATUS_CHANGES)
        cluster.start_worker(threads=2)
        start_listener(cluster, streaming, "listen")
        streaming.wait_for(lambda: len(streaming.subscriptions) == 1, WAIT_S)
        yield cluster, streaming


def change_by_baton_user(record_id: str, tx: str, origin: str, changed: list[str], **fields: str) -> dict[str, Any]:
    """A LeadChangeEvent UPDATE committed by Baton's integration user, carrying the changed fields."""
    header = cdc.header("UPDATE", [record_id], tx, origin=origin, commit_ms=cdc.COMMIT_MS + 60_000, changed=changed)
    return {"ChangeEventHeader": {**header, "commitUser": BATON_USER}, "LastModifiedDate": "2025-11-20T09:01:00.000Z",
            "LastModifiedById": BATON_USER, **fields}


def routing_id_of_change(tx: str, record_id: str) -> str:
    return routing_id_for("change_event", f"{tx}:1:{record_id}")


def processed(cluster: Cluster, replay_id: int) -> bool:
    position = cluster.store.administration.stream_position(cdc.LEAD_CHANNEL)
    return position is not None and position.replay_id is not None and position.replay_id >= replay_id


def test_an_owner_change_by_batons_user_without_its_call_option_is_not_routed_again(
    listening: tuple[Cluster, FakeStreamingOrg]
) -> None:
    """Baton's own owner writes, seen as change events whose changeOrigin is empty or a Bulk API's, changing
    only the owner (and system fields): neither may route the record again."""
    cluster, streaming = listening
    records = [cdc.lead_id(1), cdc.lead_id(2)]
    streaming.publish(cdc.LEAD_CHANNEL, cdc.lead_created(records, tx="tx-created"))
    owners = {record: str(wait_for_decision(cluster, routing_id_of_change("tx-created", record))["owner_id"])
              for record in records}
    echoes = {record: f"tx-echo-{number}" for number, record in enumerate(records, start=1)}
    for (record, tx), origin in zip(echoes.items(), ("", BULK_ORIGIN), strict=True):
        last = streaming.publish(cdc.LEAD_CHANNEL,
                                 change_by_baton_user(record, tx, origin, OWN_WRITE_FIELDS, OwnerId=owners[record]))
    wait_until(lambda: processed(cluster, last), "the listener through both own-write events")
    wait_until_drained(cluster.prefix)

    found = cluster.store.decisions.assignment_logs(routing_id_of_change(tx, record) for record, tx in echoes.items())
    routed_again = {entry["record_id"]: (entry["outcome"], entry["owner_id"], entry["reasons"][0])
                    for entry in found.values() if entry["outcome"] != "not_routed"}
    assert_window_closed(not routed_again, "own owner write routed again", {
        "routed_again": routed_again, "owners_before": owners, "decisions": cluster.store.decisions.count_assignments()})


def test_a_change_of_other_fields_by_batons_user_is_routed(listening: tuple[Cluster, FakeStreamingOrg]) -> None:
    """Other integrations may share Baton's user: its change to a field Baton never writes routes as usual."""
    cluster, streaming = listening
    record = cdc.lead_id(3)
    streaming.publish(cdc.LEAD_CHANNEL, change_by_baton_user(record, "tx-status", "", ["LastModifiedDate", "Status"],
                                                             Status="Working - Contacted"))

    decision = wait_for_decision(cluster, routing_id_of_change("tx-status", record))

    assert decision["outcome"] == "assigned"
    assert decision["reasons"][0] == "routed: Status changed"


def salesforce_writes(org: FakeOrg) -> list[tuple[str, str, dict[str, str]]]:
    """(method, path, headers) of every call that changes something: REST and Bulk API 2.0."""
    rest = [(call["method"], call["path"], call["headers"]) for call in org.calls]
    bulk = [(method, path, headers) for (method, path), headers in zip(org.bulk.requests, org.bulk.headers,
                                                                          strict=True)]
    return [(method, path, headers) for method, path, headers in rest + bulk if method != "GET"]


def test_every_write_baton_makes_to_salesforce_carries_its_call_option() -> None:
    """sObject Collections owner writes, the booking Event's upsert and delete, and every call of a Bulk API 2.0
    ingest job send ``Sforce-Call-Options: client=baton``, the origin the change-event loop guard looks for."""
    change = OwnerChange("r1", "Lead", cdc.lead_id(1), "005000000000001AAA")
    with fake_salesforce() as (fake, client):
        assert SalesforceOwnerWriter(client).write([change])[0].ok
        events = SalesforceEventWriter(client)
        events.upsert_event("booking-1", {"Subject": "Intro call", "WhoId": change.record_id,
                                          "StartDateTime": "2026-11-20T10:00:00Z",
                                          "EndDateTime": "2026-11-20T10:30:00Z"})
        events.delete_event("booking-1")
        bulk = BulkOwnerWriter(BulkClient(client, poll_ms=1, sleep=lambda _: None))
        assert bulk.write([dataclasses.replace(change, routing_id="r2", record_id=cdc.lead_id(2))])[0].ok

    writes = salesforce_writes(fake)
    assert {(method, path.rsplit("/", 1)[-1]) for method, path, _ in writes} >= {
        ("PATCH", "sobjects"), ("PATCH", "booking-1"), ("DELETE", "booking-1"), ("POST", "ingest"),
        ("PUT", "batches")}
    assert [(method, path) for method, path, headers in writes
            if headers.get("Sforce-Call-Options") != "client=baton"] == []


SALESFORCE_TIMEOUT_MS = 2_000
UNANSWERED_S = 60.0
GIVE_UP_WAITING_S = 15.0


def test_an_owner_write_salesforce_never_answers_ends_as_an_unknown_outcome_within_the_timeout(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by the ambiguous-outcome fakes: simple-salesforce's session carries no timeout, so a Salesforce
    that takes the request and never answers blocks the writer (and the flusher round) for as long as it
    keeps the connection: the write never becomes an unknown outcome to read back."""
    from baton.bootstrap import salesforce_writer
    from baton.settings import Settings

    with fake_salesforce() as (org, _):
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", org.ca_file)
        monkeypatch.setenv("BATON_SALESFORCE_TIMEOUT_MS", str(SALESFORCE_TIMEOUT_MS))
        writer = salesforce_writer(Settings(salesforce_login_url=org.url, salesforce_client_id="consumer-key",
                                            salesforce_client_secret=org.client_secret))
        assert writer is not None
        org.slow_answer_s = (UNANSWERED_S, UNANSWERED_S)
        org.next_outcomes("slow")
        results: list[Any] = []
        writing = threading.Thread(target=lambda: results.extend(writer.write(
            [OwnerChange("r-1", "Lead", cdc.lead_id(1), "005000000000001AAA")])), daemon=True)
        writing.start()
        wait_until(lambda: org.injected["slow"] == 1, "the owner write reached Salesforce and is left unanswered")
        writing.join(GIVE_UP_WAITING_S)

        assert_window_closed(not writing.is_alive() and bool(results) and not results[0].ok,
                             "REST calls without a timeout",
                             f"still waiting after {GIVE_UP_WAITING_S:g} s (timeout asked: {SALESFORCE_TIMEOUT_MS} ms)"
                             if writing.is_alive() else results)
