"""What notifications cost the write-back stage: queuing one notify message per batch of decisions on
RabbitMQ with publisher confirms (the stage's only extra work; the notify actor splits and delivers).

    python bench/notifications.py [--url amqp://guest:guest@127.0.0.1:5672/%2F] [--batches 20] [--batch 100]
                                  [--channels 2]

Publishes ``batches`` write-back batches' worth of notifications through the same sink the stage uses,
then deletes its queue. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from datetime import UTC, datetime

import dramatiq
import pika
from dramatiq.brokers.rabbitmq import RabbitmqBroker

from baton.chains import NOTIFY
from baton.notify.notifier import NotifyingSink
from baton.ports import RecordingSink
from messages import AssignmentLog, Outcome
from messages.notifications import Notification, NotificationBatch


def logs(batch: int, offset: int) -> list[AssignmentLog]:
    now = datetime.now(UTC)
    return [AssignmentLog(routing_id=str(uuid.uuid4()), record_id=f"00Q{offset + n:012d}AAA", object_type="Lead",
                          outcome=Outcome.ASSIGNED, owner_id="005000000000001AAA", team="Inbound",
                          method="round_robin", source="api", source_event_id=str(offset + n), event_at=now,
                          decided_at=now) for n in range(batch)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/%2F")
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--channels", type=int, choices=(1, 2), default=2)
    args = parser.parse_args()
    queue = f"bench{uuid.uuid4().hex[:8]}.{NOTIFY.name}"
    broker = RabbitmqBroker(url=args.url, confirm_delivery=True, middleware=[])
    broker.declare_queue(queue)

    def send(notifications: list[Notification]) -> None:
        batch = NotificationBatch(notifications=notifications)
        broker.enqueue(dramatiq.Message(queue_name=queue, actor_name=NOTIFY.name,
                                        args=(batch.model_dump(mode="json"),), kwargs={}, options={}))

    sink = NotifyingSink(RecordingSink(), send, ["email", "slack"][: args.channels])
    batch_ms = []
    try:
        for number in range(args.batches):
            entries = logs(args.batch, number * args.batch)
            started = time.perf_counter()
            sink.publish(entries)
            batch_ms.append((time.perf_counter() - started) * 1000)
    finally:
        broker.close()
        connection = pika.BlockingConnection(pika.URLParameters(args.url))
        channel = connection.channel()
        for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
            channel.queue_delete(queue=name)
        connection.close()
    per_record = statistics.median(batch_ms) / args.batch
    print(json.dumps({"batches": args.batches, "batch": args.batch, "channels": args.channels,
                      "median_batch_ms": round(statistics.median(batch_ms), 1),
                      "per_record_ms": round(per_record, 3)}))


if __name__ == "__main__":
    main()
