"""The worker entry module: ``dramatiq workers`` bootstraps Baton from BATON_* settings, which declares an actor
for every stage of every chain (``baton.actors``), and starts them all."""

from baton import runtime
from baton.metrics.multiprocess import enable_for_worker_process
from baton.settings import Settings

if not runtime.installed():  # imported by `dramatiq workers`, not by bootstrap(): worker metrics are shared
    enable_for_worker_process(Settings().metrics_port)

from baton.bootstrap import ensure_bootstrapped

ensure_bootstrapped()
