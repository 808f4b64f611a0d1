"""Each routed object's Salesforce describe in SQL: the describes repository (``kernel.ports.describes``).

``baton sync`` saves (replaces) an object's describe on every pass; ``baton check``, ``baton config apply`` and
the record reader read it. The describe is kept as JSON in Baton's own shape (not Salesforce's: only what Baton
reads of each field), so a stored row reads back as the ObjectDescribe that was saved.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from adapters.store.base import transaction
from adapters.store.tables import object_describes
from kernel.ports.describes import FieldDescribe, ObjectDescribe


def describe_json(describe: ObjectDescribe) -> dict[str, Any]:
    """The stored JSON of a describe: its fields by name and the queryable field list."""
    return {
        "fields": [{"name": item.name, "type": item.type, "updateable": item.updateable, "length": item.length,
                    "referenceTo": list(item.reference_to), "picklistValues": list(item.picklist_values),
                    "restrictedPicklist": item.restricted_picklist, "calculated": item.calculated}
                   for item in describe.fields.values()],
        "queryable": list(describe.queryable_fields),
    }


def _field(item: dict[str, Any]) -> FieldDescribe:
    return FieldDescribe(
        name=item["name"], type=item["type"], updateable=bool(item["updateable"]), length=int(item.get("length", 0)),
        reference_to=tuple(item.get("referenceTo", ())), picklist_values=tuple(item.get("picklistValues", ())),
        restricted_picklist=bool(item.get("restrictedPicklist", False)), calculated=bool(item.get("calculated")),
    )


def _describe(row: Any) -> ObjectDescribe:
    body = row.describe
    fields = {item["name"]: _field(item) for item in body.get("fields", [])}
    return ObjectDescribe(row.object_type, fields, row.fetched_at, tuple(body.get("queryable", ())))


class SqlDescribes:
    """The describes repository over one engine."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def save(self, describe: ObjectDescribe) -> None:
        body = describe_json(describe)
        with transaction(self.engine) as connection:
            insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
            statement = insert(object_describes).values(object_type=describe.object_type, describe=body,
                                                        fetched_at=describe.fetched_at)
            connection.execute(statement.on_conflict_do_update(
                index_elements=[object_describes.c.object_type],
                set_={"describe": statement.excluded.describe, "fetched_at": statement.excluded.fetched_at},
            ))

    def get(self, object_type: str) -> ObjectDescribe | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(object_describes).where(
                object_describes.c.object_type == object_type)).first()
        return _describe(row) if row is not None else None

    def all(self) -> dict[str, ObjectDescribe]:
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(object_describes).order_by(object_describes.c.object_type)).all()
        return {row.object_type: _describe(row) for row in rows}
