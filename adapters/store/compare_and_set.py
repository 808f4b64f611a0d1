"""A transition of a row's state machine as one compare-and-set: the row changes only while it still has the
status and version its writer read; the version counts its transitions. A row that changed meanwhile (a race
lost to a cancel, a duplicate step, another lease) is left as it is and the caller is told so: a normal outcome,
not an error. A transition the machine's table does not allow is a bug and raises ``IllegalTransition``."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from routing.lifecycles import StateMachine


def compare_and_set(connection: Connection, table: sa.Table, key: sa.ColumnElement[bool],
                    machine: StateMachine[Any], status: str | StrEnum, version: int, to: str | StrEnum,
                    **values: Any) -> bool:
    """Moves the row ``key`` names from ``(status, version)`` to ``to`` (version + 1), writing ``values`` too;
    True when it did, False when the row no longer had that status and version."""
    machine.check(status, to)
    result = connection.execute(
        sa.update(table)
        .where(key, table.c.status == str(status), table.c.version == version)
        .values(status=str(to), version=table.c.version + 1, **values)
    )
    return result.rowcount == 1
