"""The web app's Salesforce record reader: one SOQL session per app, logged in on first use and again after
Salesforce refused it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog

from adapters.salesforce.rereads import RecordReader, SoqlRecordReader
from baton.settings import Settings
from kernel.ports.describes import DescribeRepository

if TYPE_CHECKING:
    from simple_salesforce import Salesforce

log = structlog.get_logger(__name__)
Login = Callable[[], "Salesforce"]


class SalesforceReaders:
    """``login`` gives the session that re-reads records (default: the connected app in the settings)."""

    def __init__(self, login: Login | None):
        self._login = login
        self._reader: RecordReader | None = None

    def get(self, settings: Settings, describes: DescribeRepository | None = None) -> RecordReader | None:
        """The reader, None when no connected app is configured; raises what the login raised. It reads which
        fields to read back from ``describes`` (the store's, synced by ``baton sync``)."""
        if self._reader is None:
            from baton.bootstrap import salesforce_login

            login = self._login or salesforce_login(settings)
            self._reader = SoqlRecordReader(login(), describes) if login else None
        return self._reader

    def get_or_none(self, settings: Settings, describes: DescribeRepository | None = None) -> RecordReader | None:
        """The reader, or None while Salesforce cannot be reached (the handoff page opens from the synced copy)."""
        try:
            return self.get(settings, describes)
        except Exception as exc:  # noqa: BLE001
            log.warning("handoff_reader_unavailable", error=str(exc))
            self.forget()
            return None

    def forget(self) -> None:
        self._reader = None
