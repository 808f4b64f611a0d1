"""The worker entry module: ``dramatiq workers`` imports it, and it builds the application from BATON_* settings
(``baton.bootstrap``) with an actor for every stage of every chain; dramatiq then runs them. The one module that
builds the application when it is imported."""

from baton.operations.metrics.multiprocess import enable_for_worker_process
from baton.settings import Settings

SETTINGS = Settings()
enable_for_worker_process(SETTINGS.metrics_port)  # before any metric exists: the worker processes share them

from baton.bootstrap import bootstrap  # noqa: E402

APPLICATION = bootstrap(SETTINGS)
