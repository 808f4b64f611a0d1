"""The embedded default's inbox in SQL: the inbox repository (``kernel.ports.inbox``).

Finishing a message is a compare-and-set on its status (``routing.lifecycles.inbox``): only a pending row
becomes done or dead-lettered, so a second finish of the same message changes nothing and says so."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from adapters.store.tables import inbox
from kernel.ports.inbox import InboxMessage
from routing.lifecycles.inbox import INBOX, InboxStatus

PENDING = InboxStatus.PENDING.value


def _message(row: Any) -> InboxMessage:
    return InboxMessage(message_id=row.message_id, queue_name=row.queue_name, actor_name=row.actor_name,
                        body=row.body)


class SqlInbox:
    """The inbox repository over one engine."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def accept(self, message: InboxMessage, now: datetime, drainer: str | None) -> None:
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(inbox).values(
            message_id=message.message_id, queue_name=message.queue_name, actor_name=message.actor_name,
            body=message.body, status=PENDING, drainer=drainer, accepted_at=now, finished_at=None,
        )
        upsert = insert.on_conflict_do_update(index_elements=[inbox.c.message_id],
                                              set_={"body": insert.excluded.body})
        with self.engine.begin() as connection:
            connection.execute(upsert)

    def claim(self, drainer: str, limit: int) -> list[InboxMessage]:
        waiting = sa.and_(inbox.c.status == PENDING,
                          sa.or_(inbox.c.drainer.is_(None), inbox.c.drainer != drainer))
        with self.engine.begin() as connection:
            ids = connection.execute(
                sa.select(inbox.c.message_id).where(waiting)
                .order_by(inbox.c.accepted_at, inbox.c.message_id).limit(limit)
                .with_for_update(skip_locked=True)
            ).scalars().all()
            if not ids:
                return []
            connection.execute(sa.update(inbox).where(inbox.c.message_id.in_(ids), waiting).values(drainer=drainer))
            rows = connection.execute(
                sa.select(inbox).where(inbox.c.message_id.in_(ids), inbox.c.drainer == drainer)
                .order_by(inbox.c.accepted_at, inbox.c.message_id)
            ).all()
        return [_message(row) for row in rows]

    def finish(self, message_id: str, status: str, now: datetime) -> bool:
        INBOX.check(PENDING, status)
        with self.engine.begin() as connection:
            done = connection.execute(
                sa.update(inbox)
                .where(inbox.c.message_id == message_id,
                       inbox.c.status.in_([source.value for source in INBOX.sources(status)]))
                .values(status=str(status), finished_at=now)
            )
        return done.rowcount == 1

    def release(self, message_id: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(sa.update(inbox).where(inbox.c.message_id == message_id, inbox.c.status == PENDING)
                               .values(drainer=None))

    def pending(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(
                sa.select(sa.func.count()).select_from(inbox).where(inbox.c.status == PENDING)).scalar_one())
