"""What happened to a record: the routing rules and graphs condition on it, and record events carry it."""

from __future__ import annotations

from enum import StrEnum


class ChangeType(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    UNDELETE = "undelete"
    REASSIGN = "reassign"
