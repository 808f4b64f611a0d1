"""Reference data matching reads: Baton's own copy of accounts, leads and contacts, never the API per record."""

from __future__ import annotations

import csv
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from baton.errors import ConfigError
from routing.matching import AccountIndex, PersonIndex

Index = TypeVar("Index")


class ReferenceData(Protocol):
    def account_index(self) -> AccountIndex | None: ...

    def person_index(self) -> PersonIndex | None: ...


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


class _FileBacked(Generic[Index]):
    """An index built from files, rebuilt when any of them changes."""

    def __init__(self, paths: dict[str, Path], build: Callable[[dict[str, list[dict[str, Any]]]], Index]):
        self._paths = paths
        self._build = build
        self._lock = threading.Lock()
        self._stamp: tuple[float, ...] | None = None
        self._index: Index | None = None

    def get(self) -> Index:
        with self._lock:
            stamp = tuple(self._mtime(setting, path) for setting, path in self._paths.items())
            if stamp != self._stamp or self._index is None:
                self._index = self._build({s: read_records_file(p, s) for s, p in self._paths.items()})
                self._stamp = stamp
            return self._index

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
