"""Consumer-connection churn: does a run recover once the churn stops, or do worker threads stay wedged?

Two single-process workers (4 threads) and the flusher reach RabbitMQ through a TCP proxy. ``--records``
lead events are published; meanwhile, for ``--churn-s``, the workers' AMQP connections whose channels hold
unacknowledged messages are reset or cut (in turn) as soon as they hold some, then again ``--every-s``
later. Then the churn stops and the run is watched until every decision is stored. It prints decisions
every 5 s, then: decisions made while churning, seconds from the end of the churn to the worker logs' last
"Failed to post_process_message" (dramatiq's 5 s ack retry loop) and to the last decision, and how every
retry loop ended (tests/support/ack_retries.py). The last line is one JSON object.

    python bench/consumer_churn.py [--records 4000] [--churn-s 60] [--every-s 4] [--after-s 300]

Figures measured on the shared 2-core machine (4000 records, churn every 4 s for 60 s, 15 faults of
~10 connections and 60-80 unacked messages each, three runs): decisions nearly stop while churning (910 ->
960 and 280 -> 300 over the last ~40 s of two runs; 920 decided in all in the third), worker threads spend
~95% of the churn asleep in the retry loop (89-97 attempts of 5 s for 8 threads), no retry loop outlives the
churn by more than 5 s, and the remaining 3040, 3700 and 3080 decisions were all stored 39, 42 and 35 s after
it stopped (the same 4000 records without faults: ~21 s in all). 17-21 loops a run ended by acknowledging
another delivery on a newer channel (see tests/support/ack_retries.py).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fault.test_network_faults import sever_consumers  # noqa: E402
from tests.support.ack_retries import retry_loops  # noqa: E402
from tests.support.events import lead_event  # noqa: E402
from tests.support.fault_run import FaultRun, bench_fault_run, start_cluster  # noqa: E402
from tests.support.tcp_proxy import TcpProxy  # noqa: E402

KINDS = ("reset", "cut")


def churn(run: FaultRun, proxy: TcpProxy, churn_s: float, every_s: float, landed: list[dict[str, object]]) -> None:
    """Resets or cuts (in turn) the consumer connections holding unacked messages, for ``churn_s``."""
    began = time.monotonic()
    while time.monotonic() - began < churn_s:
        kind = KINDS[len(landed) % len(KINDS)]
        try:
            severed = sever_consumers(run, proxy, kind)
        except subprocess.SubprocessError as error:  # erl_call can fail on a loaded machine: look again
            print(f"looking for unacked messages failed: {error}", flush=True)
            continue
        if severed is not None:
            landed.append({"t_s": round(time.monotonic() - began, 1), "kind": kind,
                           "connections": severed.consumers_with_unacked, "unacked": severed.unacked})
            time.sleep(every_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=4000)
    parser.add_argument("--churn-s", type=float, default=60.0)
    parser.add_argument("--every-s", type=float, default=4.0)
    parser.add_argument("--after-s", type=float, default=300.0, help="how long to wait for recovery")
    args = parser.parse_args()
    landed: list[dict[str, object]] = []
    with bench_fault_run("churn") as run:
        proxy = run.proxy("rabbitmq")
        start_cluster(run)
        saboteur = threading.Thread(target=churn, args=(run, proxy, args.churn_s, args.every_s, landed), daemon=True)
        began = time.monotonic()
        saboteur.start()
        run.producer.publish([lead_event(n) for n in range(1, args.records + 1)], 10)
        while saboteur.is_alive():
            saboteur.join(5)
            print(f"churning t={time.monotonic() - began:.0f} s decisions={run.assignments()}", flush=True)
        stopped, stopped_at, during = time.monotonic(), datetime.now(), run.assignments()
        while run.assignments() < args.records and time.monotonic() - stopped < args.after_s:
            time.sleep(1)
            print(f"after +{time.monotonic() - stopped:.0f} s decisions={run.assignments()}", flush=True)
        recovered_s = time.monotonic() - stopped
        loops = retry_loops(sorted(run.log_dir.glob("worker-*.log")))
        decided = run.assignments()
    last_retry = max((loop.last for loop in loops), default=None)
    print(json.dumps({
        "records": args.records, "faults": len(landed), "decided_while_churning": during,
        "decided": decided, "seconds_to_all_decided_after_churn": round(recovered_s, 1),
        "last_retry_after_churn_s": round((last_retry - stopped_at).total_seconds(), 1) if last_retry else None,
        "retry_loops": len(loops), "retry_attempts": sum(loop.attempts for loop in loops),
        "loop_endings": {ending: sum(1 for loop in loops if loop.ending == ending)
                         for ending in sorted({loop.ending for loop in loops})},
        "landed": landed,
    }))


if __name__ == "__main__":
    main()
