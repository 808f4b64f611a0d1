"""The soak bench for a minute, as CI runs it: 100 records/s plus 5 bookings/s through four worker
processes; nothing lost, doubled or dead-lettered, and dead letters did not grow. (The hour-long run and
its memory and latency figures: docs/reliability.md.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support.services import REPO_ROOT

pytestmark = pytest.mark.fault
DURATION_S = 60


def test_a_minute_of_steady_records_and_bookings_loses_and_letters_nothing(rabbitmq_url: str,
                                                                            postgres_url: str) -> None:
    env = {**os.environ, "BATON_TEST_RABBITMQ_URL": rabbitmq_url, "BATON_TEST_POSTGRES_URL": postgres_url,
           "PYTHONPATH": str(REPO_ROOT)}
    finished = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "soak.py"), "--duration-s", str(DURATION_S), "--sample-s", "10",
         "--record-as", "test_soak_short"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=DURATION_S + 400,
    )
    print(finished.stdout)
    assert finished.returncode == 0, finished.stderr[-4000:]
    result = json.loads(finished.stdout.strip().splitlines()[-1])
    assert result["sent"] > 0 and result["routed"] == result["sent"], result
    assert (result["lost"], result["duplicates"], result["dead_lettered"]) == (0, 0, 0), result
    assert result["bookings"] > 0 and result["bookings_left_behind"] == 0, result
    assert result["figures"]["dead_letters_end"] == result["figures"]["dead_letters_start"] == 0, result
