"""Worker processes share one metrics directory (prometheus_client's multiprocess mode).

``dramatiq workers`` forks several worker processes; each writes its samples to files in dramatiq's
Prometheus directory (``dramatiq_prom_db``, default ``$TMPDIR/dramatiq-prometheus``) and one exposition
process serves their sum. prometheus_client picks its storage when it is first imported, so this module
imports nothing of it and must run first in a worker process.
"""

from __future__ import annotations

import os
import sys

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def enable_for_worker_process(metrics_port: int) -> bool:
    """Turns multiprocess mode on when a metrics port is set and prometheus_client is not loaded yet; True when
    it is (now) on. Without a port nothing is shared: no files are written."""
    if MULTIPROC_ENV in os.environ:
        return True
    if not metrics_port:
        return False
    if "prometheus_client" in sys.modules:
        return False
    from dramatiq.middleware.prometheus import DB_PATH

    os.environ[MULTIPROC_ENV] = DB_PATH
    return True


def enabled() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))
