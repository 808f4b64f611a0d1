"""The adapters' repository tests run on each database Baton supports (``store``: SQLite, then PostgreSQL)."""

from tests.support.stores import store  # noqa: F401
