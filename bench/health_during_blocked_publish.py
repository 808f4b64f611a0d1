"""``/healthz`` latency while outbound publishes hang on a broker that never answers (issue 19, window 8).

Starts the Procfile's web process (uvicorn, embedded SQLite store) against a broker that accepts TCP and never
says a word (``tests/support/booking_races.py``: ``silent_broker``, ``web_process``), posts ``--publishes``
Salesforce outbound messages at once (each one's publish hangs until ``BATON_BROKER_TIMEOUT_MS``, ``--bound-ms``)
and, while they hang, asks ``/healthz`` every ``--every-ms``. It prints the health latencies (median, p95, max,
and how many answers were not 200 or took over a second), then how the POSTs ended (status codes, seconds each
took). The last line is one JSON object.

    python bench/health_during_blocked_publish.py [--publishes 50] [--bound-ms 10000] [--every-ms 50]

More publishes than the web's thread pool has threads (40, AnyIO's default) hold every thread: ``/healthz`` is
answered on the event loop and needs none. With the publish on the event loop (before issue 19's window 8 closed),
one hanging publish stalled ``/healthz`` for its whole wait.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the helpers live in tests/support

from tests.support.booking_races import silent_broker, web_process
from tests.support.outbound import ORG, XML, envelope, notification
from tests.support.services import REPO_ROOT

OUTBOUND_TOKEN = "bench-path-token"
SLOW_S = 1.0


def web_env(broker_url: str, bound_ms: int) -> dict[str, str]:
    """This process's environment without BATON_* settings, the silent broker and the publish bound."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("BATON_")}
    return {**env, "PYTHONPATH": str(REPO_ROOT), "BATON_BROKER_URL": broker_url, "BATON_BROKER_TIMEOUT_MS": str(bound_ms),
            "BATON_OUTBOUND_TOKEN": OUTBOUND_TOKEN, "BATON_SALESFORCE_ORG_IDS": ORG, "BATON_LOG_LEVEL": "WARNING"}


def post(url: str, number: int) -> tuple[int, float]:
    started = time.monotonic()
    answer = requests.post(f"{url}/salesforce/outbound/{OUTBOUND_TOKEN}", data=envelope(notification(number)),
                           headers=XML, timeout=300)
    return answer.status_code, time.monotonic() - started


def health(url: str) -> tuple[int | str, float]:
    started = time.monotonic()
    try:
        status: int | str = requests.get(f"{url}/healthz", timeout=30).status_code
    except requests.RequestException as exc:
        status = type(exc).__name__
    return status, time.monotonic() - started


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--publishes", type=int, default=50, help="outbound POSTs whose publish hangs at once")
    parser.add_argument("--bound-ms", type=int, default=10_000, help="BATON_BROKER_TIMEOUT_MS of the web process")
    parser.add_argument("--every-ms", type=int, default=50, help="pause between two /healthz requests")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, silent_broker() as broker, \
            web_process(web_env(broker.url, args.bound_ms), Path(folder)) as web, \
            ThreadPoolExecutor(args.publishes) as senders:
        before = len(broker.connections)
        started = time.monotonic()
        posts: list[Future[tuple[int, float]]] = [senders.submit(post, web.url, number)
                                                   for number in range(1, args.publishes + 1)]
        broker.wait_for_connection(before)
        hanging_at_first = sum(not posting.done() for posting in posts)
        samples: list[tuple[int | str, float]] = []
        while not all(posting.done() for posting in posts):
            samples.append(health(web.url))
            time.sleep(args.every_ms / 1000)
        connections = len(broker.connections) - before
        ended = [posting.result() for posting in posts]
        wall_s = time.monotonic() - started
    latencies_ms = [seconds * 1000 for _, seconds in samples]
    figures = {
        "publishes": args.publishes, "hanging_when_health_was_first_asked": hanging_at_first,
        "broker_connections": connections, "bound_ms": args.bound_ms, "health_requests": len(samples),
        "health_median_ms": round(statistics.median(latencies_ms), 1) if samples else None,
        "health_p95_ms": round(percentile(latencies_ms, 0.95), 1) if samples else None,
        "health_max_ms": round(max(latencies_ms), 1) if samples else None,
        "health_not_200": sum(status != 200 for status, _ in samples),
        "health_over_1s": sum(seconds > SLOW_S for _, seconds in samples),
        "post_statuses": {str(status): sum(1 for code, _ in ended if code == status) for status, _ in ended},
        "post_median_s": round(statistics.median(seconds for _, seconds in ended), 2),
        "post_max_s": round(max(seconds for _, seconds in ended), 2),
        "wall_s": round(wall_s, 1),
    }
    print(f"/healthz while {hanging_at_first} of {args.publishes} outbound publishes hung on a silent broker "
          f"({connections} connections, bound {args.bound_ms} ms): {len(samples)} requests, median "
          f"{figures['health_median_ms']} ms, p95 {figures['health_p95_ms']} ms, max {figures['health_max_ms']} ms, "
          f"{figures['health_not_200']} not 200, {figures['health_over_1s']} over {SLOW_S:g} s")
    print(f"outbound POSTs: {figures['post_statuses']}, median {figures['post_median_s']} s, "
          f"max {figures['post_max_s']} s; wall {figures['wall_s']} s")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
