"""Log stream publishing speed: assignment logs per second into the topic exchange on RabbitMQ.

Each call of ``RabbitmqLogSink.publish`` publishes a writeback message's logs with publisher
confirms (one confirm round trip per log). Threads publish in parallel, each on its own connection,
as the worker threads do. A follower's queue is bound to every key, so each log is routed to a queue (not dropped).

    python bench/logstream_publish.py [--logs 5000] [--batch 100] [--threads 1 4]

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from datetime import UTC, datetime

import pika

from adapters.logstream import LogFollower, RabbitmqLogSink, binding_keys
from messages import AssignmentLog, Outcome

URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


def sample_logs(count: int) -> list[AssignmentLog]:
    now = datetime.now(UTC)
    return [
        AssignmentLog(routing_id=str(uuid.uuid4()), record_id=f"00Q{n:012d}AAA", object_type="Lead",
                      outcome=Outcome.ASSIGNED, owner_id="005000000000001AAA", team="Inbound", method="round_robin",
                      reasons=["routed: record created", "round_robin: next in turn"], source="api",
                      source_event_id=f"e{n}", event_at=now, enqueued_at=now, decided_at=now)
        for n in range(count)
    ]


def run(sink: RabbitmqLogSink, logs: list[AssignmentLog], batch: int, threads: int) -> float:
    chunks = [logs[i : i + batch] for i in range(0, len(logs), batch)]
    shares = [chunks[i::threads] for i in range(threads)]

    def work(share: list[list[AssignmentLog]]) -> None:
        for chunk in share:
            sink.publish(chunk)

    workers = [threading.Thread(target=work, args=(share,)) for share in shares]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return len(logs) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--logs", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--url", default=URL)
    args = parser.parse_args()
    exchange = f"bench.{uuid.uuid4().hex[:8]}.logs"
    follower = LogFollower(args.url, exchange, binding_keys())
    sink = RabbitmqLogSink(args.url, exchange)
    logs = sample_logs(args.logs)
    run(sink, logs[:200], args.batch, 1)  # warm-up: connections and the exchange
    results = {}
    for threads in args.threads:
        rate = run(sink, logs, args.batch, threads)
        results[f"threads_{threads}_logs_per_s"] = round(rate)
        print(f"{threads} thread(s), {args.batch} logs per publish: {rate:,.0f} logs/s")
    follower.close()
    connection = pika.BlockingConnection(pika.URLParameters(args.url))
    connection.channel().exchange_delete(exchange=exchange)
    connection.close()
    print(json.dumps({"logs": args.logs, "batch": args.batch, **results}))


if __name__ == "__main__":
    main()
