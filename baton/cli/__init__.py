"""The ``baton`` command. Logs go to stderr; stdout holds only results."""

from baton.cli import handoff, monitor, operate, records, salesforce, tokens  # noqa: F401  (registers the commands on ``app``)
from baton.cli.common import SYNC_LOCK, app

__all__ = ["SYNC_LOCK", "app"]
