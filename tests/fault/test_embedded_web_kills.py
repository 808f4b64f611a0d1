"""The embedded default's web process (the Procfile's ``web`` without a broker URL: SQLite in its folder, the
workers, flusher and scheduler in process) SIGKILLed again and again while its inbox holds pending rows: after
15%, 40% and 65% of the requests were acknowledged (the producer, held a few requests later until the kill
landed, always has requests left) and once more right after the last acknowledgement, while the restarted
process runs what its predecessors left; restarted each time. A producer posts outbound-message notifications
(in envelopes of several) and bookings over HTTP, retrying whatever got no answer or a 503 as Salesforce and a
booking client would. Every acknowledged event is decided exactly once, every decided owner is written to the
fake org, every 202'd booking is confirmed with one calendar event and one Salesforce Event
(``tests/support/reconcile.py``)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.salesforce.outbound import parse_outbound_message, to_events
from adapters.store import Store, make_engine
from entrypoints.demo.fake_calendar import fake_google_calendar
from entrypoints.demo.fake_salesforce import fake_salesforce
from kernel.clock import utc_now
from tests.support.booking_races import web_process
from tests.support.embedded_kills import (
    Delivery,
    KillTrigger,
    RetryingProducer,
    WebKill,
    embedded_web_env,
    in_thread,
    inbox_statuses,
    kill_while_pending,
    wait_until_finished,
)
from tests.support.fault_run import (
    assert_nothing_lost,
    booking_requests,
    booking_team_config,
    counted,
)
from tests.support.outbound import envelope, notification
from tests.support.reconcile import reconcile
from tests.support.run_counts import RunCounts, record_run

pytestmark = pytest.mark.fault
NOTIFICATIONS = 200
PER_ENVELOPE = 5
BOOKINGS = 20
KILL_AT = (0.15, 0.40, 0.65)  # shares of the requests acknowledged; one more kill after the last
HELD_AFTER = 3  # the producer waits this many acknowledgements after a kill's point until the kill landed
FINISH_TIMEOUT_S = 120
STALLED_S = 20  # generous: retries back off 2 s at most here, the scheduler runs every second


def deliveries(now: datetime) -> tuple[list[Delivery], list[dict[str, object]]]:
    """The envelopes of notifications about leads 1..NOTIFICATIONS, with a booking on a notified lead after
    every other envelope; and the booking requests."""
    assert NOTIFICATIONS // PER_ENVELOPE == 2 * BOOKINGS
    envelopes = [envelope("\n".join(notification(number) for number in range(first, first + PER_ENVELOPE)))
                 for first in range(1, NOTIFICATIONS + 1, PER_ENVELOPE)]
    step = NOTIFICATIONS // BOOKINGS
    requests = booking_requests(BOOKINGS, now, records=[f"00Q{1 + index * step:012d}AAA" for index in range(BOOKINGS)])
    sent: list[Delivery] = []
    for index, body in enumerate(envelopes):
        sent.append(Delivery(f"envelope {index}", body=body))
        if index % 2:
            sent.append(Delivery(requests[index // 2]["request_id"], booking=requests[index // 2]))
    return sent, requests


def test_the_embedded_web_process_sigkilled_with_pending_inbox_rows_finishes_every_acknowledged_event_and_booking(
    tmp_path: Path,
) -> None:
    sent, requests = deliveries(utc_now())
    triggers = [KillTrigger(int(share * len(sent)), int(share * len(sent)) + HELD_AFTER) for share in KILL_AT]
    triggers.append(KillTrigger(len(sent), len(sent) + 1))
    events = [event for delivery in sent if delivery.body is not None
              for event in to_events(parse_outbound_message(delivery.body), datetime.now(UTC), None)]
    routing_ids = [event.routing_id for event in events]
    counts = RunCounts("test_embedded_web_kills",
                       f"{NOTIFICATIONS} outbound-message notifications (envelopes of {PER_ENVELOPE}) + {BOOKINGS} "
                       "bookings over HTTP to the Procfile web process on the embedded default (SQLite; in-process "
                       "workers x 4 threads, flusher, scheduler)",
                       "web process SIGKILLed while its inbox holds pending rows, after 15%/40%/65% of the requests "
                       "were acknowledged and right after the last, restarted each time; unanswered requests and "
                       "503s retried")
    config = tmp_path / "baton.yaml"
    config.write_text(booking_team_config(members=7))
    kills: list[WebKill] = []
    errors: list[BaseException] = []
    stop = threading.Event()
    began = time.monotonic()
    with fake_salesforce() as (org, _), fake_google_calendar(tmp_path) as calendar, \
            web_process(embedded_web_env(config, org, calendar), tmp_path) as web:
        store = Store(make_engine(f"sqlite:///{tmp_path / 'baton.sqlite3'}"))
        producer = RetryingProducer(web, triggers)
        try:
            threads = [in_thread(lambda: producer.send_all(sent, stop), "producer", errors),
                       in_thread(lambda: kill_while_pending(web, store, producer, triggers, kills, stop), "killer",
                                 errors)]
            for thread in threads:
                while thread.is_alive() and not errors:
                    thread.join(0.2)
                if errors:
                    break
        finally:
            stop.set()
            for trigger in triggers:
                trigger.landed.set()
        if errors:
            raise errors[0]
        acked_at = time.monotonic() - began
        unfinished = wait_until_finished(store, routing_ids, FINISH_TIMEOUT_S, STALLED_S)
        found = reconcile(store.engine, org, calendar, events, requests)
        decided_once = len(store.decisions.assignment_logs(routing_ids))
        inbox = inbox_statuses(store)
        output = web.output()
        store.engine.dispose()

    counted(counts, found)
    counts.sent = len(events)
    counts.injected["SIGKILL web"] = len(kills)
    counts.figures.update({
        "requests": len(sent), "acknowledged": len(producer.acked),
        "acknowledged events": sum(len(parse_outbound_message(d.body).notifications)
                                   for d in producer.acked if d.body is not None),
        "acknowledged bookings": sum(1 for d in producer.acked if d.booking is not None),
        "requests unanswered (retried)": producer.unanswered, "503s (retried)": producer.unavailable,
        **{f"kill {n} pending inbox rows": kill.pending for n, kill in enumerate(kills, start=1)},
        **{f"kill {n} after acknowledgements": kill.acked for n, kill in enumerate(kills, start=1)},
        "decided": decided_once, "inbox done": inbox.get("done", 0),
        "inbox dead_lettered": inbox.get("dead_lettered", 0),
        "inbox pending": inbox.get("pending", 0), "acknowledged after s": round(acked_at, 1),
        "finished after s": round(time.monotonic() - began, 1),
    })
    record_run(counts)

    assert len(kills) == len(triggers) and all(kill.pending > 0 for kill in kills), kills
    assert len(producer.acked) == len(sent)
    assert_nothing_lost(counts)
    assert unfinished is None, f"not finished: {unfinished}\n{output}"
    assert decided_once == len(events) == NOTIFICATIONS
    assert found.bookings_confirmed == BOOKINGS
