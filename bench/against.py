"""Context managers for `bench/person_cpu.py --against MODULE:NAME`: each puts back, for the
rounds it wraps, one thing a change replaced, so the change is measured in alternate rounds
under the same load."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from core.driver_sql import DriverStatement


@contextmanager
def through_sqlalchemy() -> Iterator[None]:
    """The hot path's DriverStatements run through SQLAlchemy's execution path, as before them."""
    DriverStatement.direct = False
    try:
        yield
    finally:
        DriverStatement.direct = True
