"""The ``baton`` command. Logs go to stderr; stdout holds only results."""

from entrypoints.cli import (  # noqa: F401  (registers the commands on ``app``)
    bookings,
    handoff,
    members,
    monitor,
    operate,
    pull,
    reconcile,
    record_reassign,
    record_reject,
    records,
    salesforce,
    tokens,
)
from entrypoints.cli.common import SYNC_LOCK, app

__all__ = ["SYNC_LOCK", "app"]
