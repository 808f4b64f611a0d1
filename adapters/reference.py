"""Reference data matching reads: Baton's own copy of accounts, leads and contacts, never the API per record."""

from __future__ import annotations

import csv
import json
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from kernel.errors import ConfigError
from messages import RecordEvent
from routing.matching import AccountIndex, PersonIndex

Index = TypeVar("Index")


class ReferenceData(Protocol):
    def account_index(self) -> AccountIndex | None: ...

    def person_index(self) -> PersonIndex | None: ...


class ReferenceUpdates(Protocol):
    """Keeps Baton's synced copy current from the record events passing through; returns rows written."""

    def apply(self, events: Sequence[RecordEvent]) -> int: ...


class NoReferenceUpdates:
    """No synced copy to keep current (tests, and processes that route from files only)."""

    def apply(self, events: Sequence[RecordEvent]) -> int:
        return 0


class NoReferenceData:
    """Nothing synced yet: the match stage says so and matches nothing."""

    def account_index(self) -> AccountIndex | None:
        return None

    def person_index(self) -> PersonIndex | None:
        return None


def read_records_file(path: Path, setting: str) -> list[dict[str, Any]]:
    """Records of Salesforce fields from a JSONL (one object per line) or CSV file."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            if path.suffix.lower() == ".csv":
                return [dict(row) for row in csv.DictReader(handle)]
            records = []
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    try:
                        records.append(json.loads(line))
                    except json.JSONDecodeError as exc:
                        raise ConfigError([(f"{path}:{number}", f"not valid JSON: {exc.msg}")]) from None
            return records
    except OSError as exc:
        raise ConfigError([(setting, f"cannot read {path}: {exc.strerror}")]) from None


_NOT_BUILT = object()


class StampedCache(Generic[Index]):
    """A value rebuilt when its stamp changes; the stamp is read at most every ``min_interval_s``.

    Thread-safe: one thread checks and rebuilds while the others keep using the value they had
    (they only wait when there is none yet).
    """

    def __init__(self, stamp: Callable[[], Hashable], build: Callable[[], Index], min_interval_s: float = 0.0):
        self._read_stamp = stamp
        self._build = build
        self._min_interval_s = min_interval_s
        self._build_lock = threading.Lock()
        self._stamp: Hashable = _NOT_BUILT
        self._value: Index | None = None
        self._checked_at = float("-inf")

    def get(self) -> Index:
        if self._stamp is not _NOT_BUILT and time.monotonic() - self._checked_at < self._min_interval_s:
            return self._value  # type: ignore[return-value]
        if not self._build_lock.acquire(blocking=self._stamp is _NOT_BUILT):
            return self._value  # type: ignore[return-value]
        try:
            stamp = self._read_stamp()
            if stamp != self._stamp:
                self._value = self._build()
                self._stamp = stamp
            self._checked_at = time.monotonic()
            return self._value  # type: ignore[return-value]
        finally:
            self._build_lock.release()


class _FileBacked(StampedCache[Index]):
    """An index built from files, rebuilt when any of them changes."""

    def __init__(self, paths: dict[str, Path], build: Callable[[dict[str, list[dict[str, Any]]]], Index]):
        super().__init__(
            lambda: tuple(self._mtime(setting, path) for setting, path in paths.items()),
            lambda: build({s: read_records_file(p, s) for s, p in paths.items()}),
        )

    @staticmethod
    def _mtime(setting: str, path: Path) -> float:
        try:
            return path.stat().st_mtime
        except OSError as exc:
            raise ConfigError([(setting, f"cannot read {path}: {exc.strerror}")]) from None


class FileReferenceData:
    """Accounts, leads and contacts from files (the embedded default, until a Salesforce sync fills the store)."""

    def __init__(self, accounts: Path | None = None, leads: Path | None = None, contacts: Path | None = None):
        self._accounts = (
            _FileBacked({"BATON_ACCOUNTS_FILE": accounts}, lambda d: AccountIndex.build(d["BATON_ACCOUNTS_FILE"]))
            if accounts else None
        )
        people = {k: v for k, v in {"BATON_LEADS_FILE": leads, "BATON_CONTACTS_FILE": contacts}.items() if v}
        self._people = (
            _FileBacked(people, lambda d: PersonIndex.build(
                leads=d.get("BATON_LEADS_FILE", []), contacts=d.get("BATON_CONTACTS_FILE", [])))
            if people else None
        )

    def account_index(self) -> AccountIndex | None:
        return self._accounts.get() if self._accounts else None

    def person_index(self) -> PersonIndex | None:
        return self._people.get() if self._people else None
