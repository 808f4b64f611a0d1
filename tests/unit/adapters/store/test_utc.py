"""Every timestamp column keeps instants on SQLite and PostgreSQL alike: an aware datetime in any offset is stored,
compared and read back as the same instant in UTC; a naive one is refused, naming the value."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from adapters.store import Store
from adapters.store.tables import Timestamp
from adapters.store.utc import NaiveTimestamp, UtcDateTime

PLUS_TWO = timezone(timedelta(hours=2))
MINUS_FIVE = timezone(timedelta(hours=-5))
ASKED = datetime(2030, 1, 7, 11, 0, tzinfo=PLUS_TWO)  # 09:00 UTC
NINE_UTC = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)

probe = sa.Table("utc_probe", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("at", UtcDateTime()))


@pytest.fixture
def engine(store: Store) -> Iterator[sa.Engine]:
    probe.create(store.engine)
    yield store.engine


def read_back(engine: sa.Engine) -> datetime:
    with engine.connect() as connection:
        return connection.execute(sa.select(probe.c.at)).scalar_one()


def test_every_timestamp_column_of_the_store_is_utc_datetime() -> None:
    from adapters.store.tables import metadata

    kinds = {type(column.type).__name__ for table in metadata.tables.values() for column in table.columns
             if isinstance(column.type, (sa.DateTime, UtcDateTime))}
    assert isinstance(Timestamp, UtcDateTime) and kinds == {"UtcDateTime"}


def test_an_instant_with_an_offset_comes_back_as_the_same_instant_in_utc(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        connection.execute(sa.insert(probe).values(id=1, at=ASKED))
    found = read_back(engine)
    assert found == ASKED and found.tzinfo is UTC and found == NINE_UTC


def test_values_compared_with_a_column_are_compared_as_instants(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        connection.execute(sa.insert(probe).values(id=1, at=ASKED))
    with engine.connect() as connection:
        def ids(where: sa.ColumnElement[bool]) -> list[int]:
            return list(connection.execute(sa.select(probe.c.id).where(where)).scalars())

        # 08:30 UTC written in -05:00 (wall 03:30) is before the stored 09:00 UTC; 09:30 UTC (wall 11:30+02:00) after
        assert ids(probe.c.at >= datetime(2030, 1, 7, 3, 30, tzinfo=MINUS_FIVE)) == [1]
        assert ids(probe.c.at >= datetime(2030, 1, 7, 11, 30, tzinfo=PLUS_TWO)) == []
        assert ids(probe.c.at == datetime(2030, 1, 7, 4, 0, tzinfo=MINUS_FIVE)) == [1]


def test_an_update_in_another_offset_keeps_instants_and_their_order(engine: sa.Engine) -> None:
    half_past_nine = NINE_UTC + timedelta(minutes=30)
    with engine.begin() as connection:
        connection.execute(sa.insert(probe), [{"id": 1, "at": ASKED}, {"id": 2, "at": half_past_nine}])
        connection.execute(sa.update(probe).where(probe.c.id == 1).values(at=datetime(2030, 1, 7, 5, tzinfo=MINUS_FIVE)))
    with engine.connect() as connection:
        ordered = connection.execute(sa.select(probe.c.id, probe.c.at).order_by(probe.c.at)).all()
    assert [(row.id, row.at) for row in ordered] == [(2, half_past_nine), (1, datetime(2030, 1, 7, 10, tzinfo=UTC))]


def test_a_naive_datetime_is_refused_naming_it(engine: sa.Engine) -> None:
    with pytest.raises(sa.exc.StatementError) as refused, engine.begin() as connection:
        connection.execute(sa.insert(probe).values(id=1, at=datetime(2030, 1, 7, 11, 0)))
    assert isinstance(refused.value.orig, NaiveTimestamp)
    assert "2030-01-07T11:00:00 has no UTC offset" in str(refused.value)


def test_a_value_that_is_not_a_datetime_is_refused(engine: sa.Engine) -> None:
    with pytest.raises(sa.exc.StatementError, match="takes a datetime, not str"), engine.begin() as connection:
        connection.execute(sa.insert(probe).values(id=1, at="2030-01-07T11:00:00+02:00"))


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)  # PostgreSQL keeps instants itself (timestamptz)
def test_sqlite_keeps_the_utc_wall_time_as_text(store: Store) -> None:
    probe.create(store.engine)
    with store.engine.begin() as connection:
        connection.execute(sa.insert(probe).values(id=1, at=ASKED))
        stored = connection.exec_driver_sql("SELECT at FROM utc_probe").scalar_one()
    assert stored == "2030-01-07 09:00:00.000000"


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)  # SQLite has no session time zone
def test_postgresql_answers_in_utc_whatever_the_session_time_zone(store: Store) -> None:
    probe.create(store.engine)
    with store.engine.begin() as connection:
        connection.exec_driver_sql("SET LOCAL TIME ZONE 'Asia/Kolkata'")
        connection.execute(sa.insert(probe).values(id=1, at=ASKED))
        found = connection.execute(sa.select(probe.c.at)).scalar_one()
        shown = connection.exec_driver_sql("SELECT at::text FROM utc_probe").scalar_one()
    assert found == NINE_UTC and found.tzinfo is UTC and shown == "2030-01-07 14:30:00+05:30"
