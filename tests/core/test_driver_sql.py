"""DriverStatement (core/driver_sql.py) against SQLAlchemy's own execution of the same statement,
on the test database (SQLite, or PostgreSQL with TEST_DATABASE_URL): the same rows with the same
typed values, the same errors, in the caller's transaction."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from audit.models import AuditHead
from core.driver_sql import DriverStatement
from core.replay_model import ReplayJti
from notifications.models import Outbox

_JTIS = ReplayJti.__table__
_INSERT = DriverStatement(insert(_JTIS))
_BY_NAMESPACE = DriverStatement(
    select(_JTIS.c.jti, _JTIS.c.expires_at)
    .where(_JTIS.c.namespace == bindparam("namespace"), _JTIS.c.jti.in_(bindparam("jtis", expanding=True)))
    .order_by(_JTIS.c.jti),
    expanding=("jtis",),
)


@pytest.fixture
def namespace() -> str:
    return f"driver-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def through_sqlalchemy():
    DriverStatement.direct = False
    yield
    DriverStatement.direct = True


def rows_through_sqlalchemy(connection, statement: DriverStatement, params) -> list[tuple]:
    return [tuple(row) for row in connection.execute(statement.statement, params)]


def add(connection, namespace: str, jti: str, expires_at: dt.datetime) -> None:
    _INSERT.rows(connection, {"namespace": namespace, "jti": jti, "expires_at": expires_at})


def test_typed_values_go_in_and_come_out_as_sqlalchemy_reads_and_writes_them(db_session, namespace):
    connection = db_session.connection()
    at = dt.datetime(2026, 12, 4, 1, 2, 3, 456789, tzinfo=dt.UTC)
    add(connection, namespace, "a", at)
    stored = db_session.scalar(select(ReplayJti.expires_at).where(ReplayJti.namespace == namespace))
    assert stored == at and stored.tzinfo is not None  # written through the column's type
    params = {"namespace": namespace, "jtis": ["a"]}
    read = _BY_NAMESPACE.rows(connection, params)
    assert read == [("a", at)] == rows_through_sqlalchemy(connection, _BY_NAMESPACE, params)


@pytest.mark.parametrize("wanted", [["b"], ["a", "c", "zz"], ["c", "b", "a", "d", "e"]])
def test_each_length_of_an_expanding_list_reads_what_sqlalchemy_reads(db_session, namespace, wanted):
    connection = db_session.connection()
    at = dt.datetime(2026, 12, 4, tzinfo=dt.UTC)
    for jti in ("a", "b", "c", "d"):
        add(connection, namespace, jti, at + dt.timedelta(seconds=ord(jti)))
    params = {"namespace": namespace, "jtis": wanted}
    read = _BY_NAMESPACE.rows(connection, params)
    assert [jti for jti, _ in read] == sorted(set(wanted) & {"a", "b", "c", "d"})
    assert read == rows_through_sqlalchemy(connection, _BY_NAMESPACE, params)


def test_a_value_written_into_the_statement_is_bound_too(db_session):
    head = DriverStatement(select(AuditHead.__table__.c.next_seq).where(AuditHead.__table__.c.id == 1))
    expected = db_session.scalar(select(AuditHead.next_seq).where(AuditHead.id == 1))
    assert head.first(db_session.connection(), {}) == (expected,)


def test_a_duplicate_raises_sqlalchemys_integrity_error(db_session, namespace):
    connection = db_session.connection()
    add(connection, namespace, "a", dt.datetime(2026, 12, 4, tzinfo=dt.UTC))
    with pytest.raises(IntegrityError), db_session.begin_nested():
        add(db_session.connection(), namespace, "a", dt.datetime(2026, 12, 4, tzinfo=dt.UTC))


def test_it_runs_in_the_callers_transaction(db_session, namespace):
    nested = db_session.begin_nested()
    add(db_session.connection(), namespace, "a", dt.datetime(2026, 12, 4, tzinfo=dt.UTC))
    nested.rollback()
    assert _BY_NAMESPACE.rows(db_session.connection(), {"namespace": namespace, "jtis": ["a"]}) == []


def test_a_column_with_a_python_side_default_must_be_given(db_session):
    # Outbox.created_at defaults to utcnow(): SQLAlchemy would compute it, a DriverStatement refuses.
    statement = DriverStatement(insert(Outbox.__table__))
    with pytest.raises(TypeError, match="created_at"):
        statement.rows(db_session.connection(), {"citizen_id": "x", "template": "release", "params": {}})


def test_through_sqlalchemy_gives_the_same_rows(db_session, namespace, through_sqlalchemy):
    connection = db_session.connection()
    at = dt.datetime(2026, 12, 4, tzinfo=dt.UTC)
    add(connection, namespace, "a", at)
    assert _BY_NAMESPACE.rows(connection, {"namespace": namespace, "jtis": ["a", "b"]}) == [("a", at)]
