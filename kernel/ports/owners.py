"""The owner-writing port: what the application asks of Salesforce (owners written, and read back when an
answer was lost), as Protocols the adapters implement, with the values that cross them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class OwnerChange:
    """An owner to write, and the routing facts written with it in the same record entry (field API name ->
    value; None when the object's facts are not written back)."""

    routing_id: str
    object_type: str
    record_id: str
    owner_id: str
    fields: Mapping[str, Any] | None = field(default=None, hash=False)
    owner_field: str = "OwnerId"  # the user field the owner goes to (a booking type may name another)


@dataclass(frozen=True)
class WriteResult:
    routing_id: str
    ok: bool
    status: str
    error: str | None = None


class OwnerWriter(Protocol):
    """Writes new record owners to Salesforce (or wherever the deployment keeps them)."""

    def write(self, changes: Sequence[OwnerChange]) -> list[WriteResult]: ...

    def api_usage(self) -> tuple[int, int] | None:
        """(requests used, daily limit) as the org last reported them; None when unknown."""
        ...


@runtime_checkable
class OwnerReader(Protocol):
    """An owner writer that can also read owners back, so a write whose outcome is unknown (the connection
    broke after the request went out, or the flusher died before storing the answer) is checked
    instead of sent again."""

    def current_owners(self, changes: Sequence[OwnerChange]) -> dict[str, str]:
        """record id -> its owner id now, for the records of ``changes`` that exist."""
        ...
