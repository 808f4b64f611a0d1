"""The describes port: each routed object's Salesforce describe (its fields, their types, whether Baton may
write them, picklist values), synced into the store by ``baton sync`` and read from there by routing and by
``baton check``, as a Protocol with the typed rows that cross it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class FieldDescribe:
    """One field of an object, as its describe gives it (``type`` is Salesforce's: string, textarea,
    picklist, multipicklist, reference, datetime, date, boolean, double, id, ...)."""

    name: str
    type: str
    updateable: bool
    length: int = 0
    reference_to: tuple[str, ...] = ()
    picklist_values: tuple[str, ...] = ()
    restricted_picklist: bool = False
    calculated: bool = False


@dataclass(frozen=True, slots=True)
class ObjectDescribe:
    """An object's fields by API name, and when the describe was fetched."""

    object_type: str
    fields: Mapping[str, FieldDescribe]
    fetched_at: datetime
    queryable_fields: Sequence[str] = field(default_factory=tuple)

    def field(self, name: str) -> FieldDescribe | None:
        """The field named ``name``, compared as Salesforce does (API names are case-insensitive)."""
        found = self.fields.get(name)
        if found is not None:
            return found
        lowered = name.lower()
        return next((value for key, value in self.fields.items() if key.lower() == lowered), None)


class DescribeRepository(Protocol):
    def save(self, describe: ObjectDescribe) -> None:
        """Stores (replaces) the describe of ``describe.object_type``."""
        ...

    def get(self, object_type: str) -> ObjectDescribe | None:
        ...

    def all(self) -> dict[str, ObjectDescribe]:
        ...
