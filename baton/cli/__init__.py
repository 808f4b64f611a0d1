"""The ``baton`` command. Logs go to stderr; stdout holds only results."""

from baton.cli import (  # noqa: F401  (registers the commands on ``app``)
    bookings,
    handoff,
    monitor,
    operate,
    record_reassign,
    records,
    salesforce,
    tokens,
)
from baton.cli.common import SYNC_LOCK, app

__all__ = ["SYNC_LOCK", "app"]
