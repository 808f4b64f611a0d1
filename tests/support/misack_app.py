"""A one-actor dramatiq app on Baton's broker (``ChannelBoundRabbitmqBroker``, publisher confirms on) for
tests/fault/test_misdirected_ack.py, run as ``python -m dramatiq tests.support.misack_app -p 1 -t 1``.

``work(n)`` appends ``started n tag redelivered`` to ``MISACK_DIR/events.log``, waits until its gate is open
(a file ``gate-<n>`` or ``gate-all`` in ``MISACK_DIR``), then appends ``finished n``: the test decides when each
message's processing ends. Once the worker has settled a message it appends ``acked n sent`` or ``acked n
dropped`` (the channel that delivered it was gone, so the ack was not sent). Every 20 ms the worker writes what
its consumer holds to ``MISACK_DIR/consumer.json`` (which consumer object, its known delivery tags, and the
messages waiting in the work queue with their tags), so the test can see a consumer restart and which message
owns which tag, without guessing from timing.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import dramatiq
from dramatiq.broker import MessageProxy
from dramatiq.middleware import CurrentMessage, Middleware

from baton.acknowledgements import ChannelBoundRabbitmqBroker, settlement_dropped

DIRECTORY = Path(os.environ.get("MISACK_DIR", "."))
QUEUE = os.environ.get("MISACK_QUEUE", "misack.work")
EVENTS = DIRECTORY / "events.log"
CONSUMER_REPORT = DIRECTORY / "consumer.json"
REPORT_EVERY_S = 0.02


def record(*fields: object) -> None:
    """One line in the events log (one small O_APPEND write, so lines of concurrent writers never mix)."""
    with EVENTS.open("a") as log:
        log.write(" ".join(str(f) for f in fields) + "\n")


def gate_open(n: int) -> bool:
    return (DIRECTORY / f"gate-{n}").exists() or (DIRECTORY / "gate-all").exists()


def consumer_state(worker: dramatiq.Worker) -> dict[str, Any]:
    """The queue's current consumer (its id), its known delivery tags, and the waiting work items."""
    consumer = worker.consumers[QUEUE].consumer if QUEUE in worker.consumers else None
    with worker.work_queue.mutex:
        waiting = [item.message for item in worker.work_queue.queue]
    return {
        "consumer": id(consumer) if consumer is not None else None,
        "known_tags": sorted(getattr(consumer, "known_tags", ())),
        "waiting": [[m.args[0], m._tag, m.redelivered] for m in waiting if m.queue_name == QUEUE],
    }


def report_forever(worker: dramatiq.Worker) -> None:
    scratch = CONSUMER_REPORT.with_suffix(f".{os.getpid()}.tmp")
    while True:
        scratch.write_text(json.dumps(consumer_state(worker)))
        os.replace(scratch, CONSUMER_REPORT)
        time.sleep(REPORT_EVERY_S)


class ConsumerReport(Middleware):
    """Starts the thread that writes ``consumer.json`` once the worker runs."""

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        threading.Thread(target=report_forever, args=(worker,), daemon=True, name="consumer-report").start()


class AckReport(Middleware):
    """Appends ``acked n sent`` or ``acked n dropped`` once the worker has settled message ``n``."""

    def after_ack(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        record("acked", message.args[0], "dropped" if settlement_dropped(message) else "sent")


broker = ChannelBoundRabbitmqBroker(
    url=os.environ.get("MISACK_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/"),
    confirm_delivery=True,
    middleware=[CurrentMessage(), ConsumerReport(), AckReport()],
)
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name=QUEUE)
def work(n: int) -> None:
    message = CurrentMessage.get_current_message()
    record("started", n, message._tag, message.redelivered)
    while not gate_open(n):
        time.sleep(0.02)
    record("finished", n)
