"""The adapters' repository tests run on each database Baton supports (``store``: SQLite, then PostgreSQL); a command
run in-process gives the test process its logging back (``keep_logging_config``)."""

from tests.support.cli import keep_logging_config  # noqa: F401
from tests.support.stores import store  # noqa: F401
