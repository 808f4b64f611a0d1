"""The stage actors. ``dramatiq workers`` bootstraps Baton from BATON_* settings and starts them all."""

from baton import runtime
from baton.metrics.multiprocess import enable_for_worker_process
from baton.settings import Settings

if not runtime.installed():  # imported by `dramatiq workers`, not by bootstrap(): worker metrics are shared
    enable_for_worker_process(Settings().metrics_port)

from baton.bootstrap import ensure_bootstrapped

ensure_bootstrapped()

from workers import assign, booking, classify, match, notify, route, territory, writeback  # noqa: E402,F401
