"""Prebuilt Core statements run straight on the driver's connection, for the few statements every
person, userinfo and token call runs.

Why: on those calls SQLAlchemy's execution path (the compiled cache's lookup, the execution
context, parameter and result processing set up per call, the Result object) cost more than the
database's own work: a sampling profile of the v4 person call put a fifth of the call in
`Connection._execute_clauseelement` for four one-row statements, two thirds of it outside the
driver. A `DriverStatement` is compiled once per dialect (and per set of parameter names and
expanding-list lengths), with its bind and result processors looked up once, so a call is the
driver's `execute`, the same SQL SQLAlchemy would send, with the same typed values.

It runs in the caller's transaction (`connection` is the session's, which began it: on SQLite
core.db begins it on the driver as well) and raises what SQLAlchemy would (IntegrityError and
the rest, through `DBAPIError.instance`), so callers catch the same errors. Statements with
server-side defaults to fetch, or ORM options, stay on SQLAlchemy. Connection events
(before_cursor_execute) do not see these statements.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Executable

_DIRECT_DIALECTS = frozenset({"sqlite", "postgresql"})


@dataclass(frozen=True)
class _Plan:
    sql: str
    positional: bool
    # Per bound parameter, in the SQL's order: (its name in the SQL, how to read it, its processor).
    binds: tuple[tuple[str, Callable[[Mapping[str, Any]], Any], Callable[[Any], Any] | None], ...]
    results: tuple[Callable[[Any], Any] | None, ...]


class DriverStatement:
    """`statement` run on the driver. `expanding` names its `bindparam(..., expanding=True)`
    lists (each list length gets its own compiled SQL, as SQLAlchemy's own post-compile does)."""

    # False runs every DriverStatement through SQLAlchemy instead (bench/person_cpu.py
    # --against measures the two in alternate rounds).
    direct: ClassVar[bool] = True

    def __init__(self, statement: Executable, *, expanding: Sequence[str] = ()) -> None:
        self.statement = statement
        self._expanding = tuple(expanding)
        self._plans: dict[tuple[Any, ...], _Plan] = {}

    def rows(self, connection: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Execute and return every row (none for a statement without results)."""
        dialect = connection.dialect
        if not self.direct or dialect.name not in _DIRECT_DIALECTS:
            result = connection.execute(self.statement, dict(params))
            return [tuple(row) for row in result] if result.returns_rows else []
        plan = self._plan_for(dialect, params)
        arguments = _arguments(plan, params)
        with _as_sqlalchemy_errors(dialect, plan.sql, arguments):
            cursor = connection.connection.driver_connection.execute(plan.sql, arguments)
            fetched = cursor.fetchall() if cursor.description is not None else []
        if not any(plan.results):
            return [tuple(row) for row in fetched]
        results = plan.results
        return [tuple(v if p is None else p(v) for v, p in zip(row, results, strict=True)) for row in fetched]

    def many(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Execute once per row of parameters (executemany), every row with the same names."""
        dialect = connection.dialect
        if not rows:
            return
        if not self.direct or dialect.name not in _DIRECT_DIALECTS:
            connection.execute(self.statement, [dict(row) for row in rows])
            return
        plan = self._plan_for(dialect, rows[0])
        arguments = [_arguments(plan, row) for row in rows]
        with _as_sqlalchemy_errors(dialect, plan.sql, arguments):
            connection.connection.driver_connection.cursor().executemany(plan.sql, arguments)

    def first(self, connection: Connection, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        found = self.rows(connection, params)
        return found[0] if found else None

    def _plan_for(self, dialect: Dialect, params: Mapping[str, Any]) -> _Plan:
        sizes = tuple(len(params[name]) for name in self._expanding)
        # What the compiled SQL and the processors depend on; not id(dialect), which a later
        # engine's dialect may reuse once the first is gone.
        key = (type(dialect), dialect.server_version_info, frozenset(params), sizes)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self._compile(dialect, params, sizes)
        return plan

    def _compile(self, dialect: Dialect, params: Mapping[str, Any], sizes: tuple[int, ...]) -> _Plan:
        lists = dict(zip(self._expanding, sizes, strict=True))
        compiled: Any = self.statement.compile(
            dialect=dialect, column_keys=[name for name in params if name not in lists]
        )
        if missing := [
            c.key for c in (*compiled.insert_prefetch, *compiled.update_prefetch) if c.key not in params
        ]:
            # SQLAlchemy computes these per execution; here the caller passes them.
            raise TypeError(f"pass a value for each column with a Python-side default: {missing}")
        sql, order = str(compiled), compiled.positiontup if compiled.positional else list(compiled.binds)
        expanded: dict[str, tuple[str, int]] = {}  # a list element's parameter: (the list, its index)
        if lists:
            # Each list as one parameter per element (names_1, names_2...), as SQLAlchemy renders
            # it at execution time.
            state = compiled.construct_expanded_state(
                {name: list(range(lists[name])) if name in lists else None for name in params}
            )
            sql = state.statement
            order = state.positiontup if compiled.positional else list(state.parameters)
            for source, names in (state.parameter_expansion or {}).items():
                expanded.update((name, (source, index)) for index, name in enumerate(names))
        escaped = compiled.escaped_bind_names or {}
        binds = []
        for name in order or ():
            if name in expanded:
                source, index = expanded[name]
                bind, read = compiled.binds[source], _item(source, index)
            else:
                bind = compiled.binds[name]
                # A value written into the statement (`where(id == 1)`) is not among `params`.
                read = _key(name) if name in params else _constant(bind.effective_value)
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            binds.append((escaped.get(name, name), read, process))
        columns = getattr(self.statement, "selected_columns", None) or getattr(
            self.statement, "exported_columns", ()
        )
        results = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        )
        return _Plan(sql, bool(compiled.positional), tuple(binds), results)


def _key(name: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda params: params[name]


def _arguments(plan: _Plan, params: Mapping[str, Any]) -> Any:
    values = [
        read(params) if process is None else process(read(params)) for _name, read, process in plan.binds
    ]
    if plan.positional:
        return tuple(values)
    return {name: value for (name, _read, _process), value in zip(plan.binds, values, strict=True)}


@contextmanager
def _as_sqlalchemy_errors(dialect: Dialect, sql: str, arguments: Any) -> Iterator[None]:
    """The driver's errors as SQLAlchemy raises them (IntegrityError, OperationalError...):
    callers catch those."""
    error = dialect.loaded_dbapi.Error
    try:
        yield
    except error as exc:
        raise DBAPIError.instance(sql, arguments, exc, error, dialect=dialect) from exc


def _constant(value: Any) -> Callable[[Mapping[str, Any]], Any]:
    return lambda _params: value


def _item(name: str, index: int) -> Callable[[Mapping[str, Any]], Any]:
    return lambda params: params[name][index]
