"""Reference data matching reads: Baton's own copy of accounts, never the API per record."""

from __future__ import annotations

import csv
import json
import threading
from pathlib import Path
from typing import Any, Protocol

from baton.errors import ConfigError
from routing.matching import AccountIndex


class ReferenceData(Protocol):
    def account_index(self) -> AccountIndex | None: ...


class NoReferenceData:
    """Nothing synced yet: the match stage says so and matches nothing."""

    def account_index(self) -> AccountIndex | None:
        return None


class FileReferenceData:
    """Accounts from a JSONL (one object of Account fields per line) or CSV file, reloaded when it changes."""

    def __init__(self, path: Path):
        self._path = path
        self._lock = threading.Lock()
        self._loaded_mtime: float | None = None
        self._index: AccountIndex | None = None

    def account_index(self) -> AccountIndex | None:
        with self._lock:
            try:
                mtime = self._path.stat().st_mtime
            except OSError as exc:
                raise ConfigError([("BATON_ACCOUNTS_FILE", f"cannot read {self._path}: {exc.strerror}")]) from None
            if mtime != self._loaded_mtime:
                self._index = AccountIndex.build(self._read())
                self._loaded_mtime = mtime
            return self._index

    def _read(self) -> list[dict[str, Any]]:
        with self._path.open(encoding="utf-8-sig", newline="") as handle:
            if self._path.suffix.lower() == ".csv":
                return [dict(row) for row in csv.DictReader(handle)]
            accounts = []
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    accounts.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ConfigError([(f"{self._path}:{number}", f"not valid JSON: {exc.msg}")]) from None
            return accounts
