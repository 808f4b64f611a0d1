"""The person index over Baton's synced leads and contacts, kept current row by row.

Rebuilding the whole index costs seconds at 100,000 leads (``bench/person_index.py``), and every change event
that touches a lead writes ``sf_leads``. So a worker rebuilds in full only when it has no index yet, when a
sync round ran (its position moved) or when accounts changed (a contact's company is its account's name);
when only lead or contact rows were written, it reads the rows written since the newest write it saw (less a
few seconds, for transactions that committed late) and replaces or drops just those entries. The first update
after a sync round re-reads that round's last few seconds of rows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable, Iterable
from datetime import datetime, timedelta
from typing import Any

from kernel.ports.reference_sync import SyncedContact, SyncedLead, SyncedReads
from routing.matching import Candidate, PersonEntry, PersonIndex, person_entry

PEOPLE = ("Lead", "Contact")
STAMP_SOURCES = ("Lead", "Contact", "Account")  # stamp: (written, synced) per object, in this order
WRITTEN_PARTS = (0, 2)  # the stamp parts an incremental update can follow: leads' and contacts' newest write
LATE_COMMIT_OVERLAP = timedelta(seconds=5)  # writers' transactions are short (one batch of rows)
Key = Hashable


def _without(found: tuple[Candidate, ...], record_id: str) -> tuple[Candidate, ...]:
    return tuple(candidate for candidate in found if candidate.record_id != record_id)


class IncrementalPersonIndex:
    """Thread-safe like ``StampedCache``: one thread refreshes while the others use the index they have."""

    def __init__(self, copy: SyncedReads, person_record: Any, min_interval_s: float = 0.0):
        self._copy = copy
        self._person_record = person_record
        self._min_interval_s = min_interval_s
        self._lock = threading.Lock()
        self._stamp: tuple[Any, ...] | None = None
        self._checked_at = float("-inf")
        self._index: PersonIndex | None = None
        self._entries: dict[str, PersonEntry] = {}
        self._by_email: dict[str, tuple[Candidate, ...]] = {}
        self._by_name: dict[Key, tuple[Candidate, ...]] = {}
        self.full_builds = 0
        self.updates = 0

    def get(self) -> PersonIndex | None:
        if self._stamp is not None and time.monotonic() - self._checked_at < self._min_interval_s:
            return self._index
        if not self._lock.acquire(blocking=self._stamp is None):
            return self._index
        try:
            stamp = tuple(self._copy.stamp(STAMP_SOURCES))
            if stamp != self._stamp:
                if self._stamp is not None and self._index is not None and self._only_people_written(stamp):
                    self._update(self._stamp, stamp)
                else:
                    self._rebuild()
                self._stamp = stamp
            self._checked_at = time.monotonic()
            return self._index
        finally:
            self._lock.release()

    def _only_people_written(self, stamp: tuple[Any, ...]) -> bool:
        assert self._stamp is not None
        return all(new == old for part, (new, old) in enumerate(zip(stamp, self._stamp, strict=True))
                   if part not in WRITTEN_PARTS)

    def _rebuild(self) -> None:
        self.full_builds += 1
        if not any(self._copy.position(kind) is not None for kind in PEOPLE):
            self._index = None
            return
        entries: dict[str, PersonEntry] = {}
        by_email: dict[str, list[Candidate]] = {}
        by_name: dict[Key, list[Candidate]] = {}
        for kind in PEOPLE:
            for row in self._copy.rows(kind):
                entry = entries[row.id] = person_entry(self._person_record(row), kind)  # type: ignore[arg-type]
                candidate, email, name_key = entry
                if email:
                    by_email.setdefault(email, []).append(candidate)
                if name_key:
                    by_name.setdefault(name_key, []).append(candidate)
        self._entries = entries
        self._by_email = {key: tuple(found) for key, found in by_email.items()}
        self._by_name = {key: tuple(found) for key, found in by_name.items()}
        self._index = PersonIndex(self._by_email, self._by_name)  # type: ignore[arg-type]

    def _update(self, previous: tuple[Any, ...], stamp: tuple[Any, ...]) -> None:
        self.updates += 1
        for kind, part in zip(PEOPLE, WRITTEN_PARTS, strict=True):
            newest_seen = previous[part]
            if stamp[part] == newest_seen:
                continue
            if isinstance(newest_seen, datetime):
                self._apply(kind, self._copy.rows(kind, written_since=newest_seen - LATE_COMMIT_OVERLAP))
            else:  # none of this kind before: read them all
                self._apply(kind, self._copy.rows(kind))

    def _apply(self, kind: str, rows: Iterable[SyncedLead | SyncedContact]) -> None:
        for row in rows:
            self._drop(row.id)
            if row.removed_reason is None:
                entry = self._entries[row.id] = person_entry(self._person_record(row), kind)  # type: ignore[arg-type]
                candidate, email, name_key = entry
                if email:
                    self._by_email[email] = (*self._by_email.get(email, ()), candidate)
                if name_key:
                    self._by_name[name_key] = (*self._by_name.get(name_key, ()), candidate)

    def _drop(self, record_id: str) -> None:
        entry = self._entries.pop(record_id, None)
        if entry is None:
            return
        candidate, email, name_key = entry
        for table, key in ((self._by_email, email), (self._by_name, name_key)):
            if key is None or key not in table:
                continue
            kept = _without(table[key], candidate.record_id)
            if kept:
                table[key] = kept
            else:
                del table[key]
