"""Alembic environment. The database URL comes from the caller (core.migrate passes a connection)
or from MIGRATION_DATABASE_URL (the tables' owner), else DATABASE_URL; SQLite uses batch mode so
ALTERs work."""

from __future__ import annotations

import os

from alembic import context

import agency_connectors.notifications
import agency_connectors.refresh_jobs  # noqa: F401
import audit.auditor_models
import audit.disclosure_reports
import audit.models
import audit.witness_models  # noqa: F401
import consent.grant_models
import consent.models  # noqa: F401
import core.crypto.platform_key_model
import core.rate_limit_model
import core.replay_model  # noqa: F401
import identity.activation_models
import identity.models
import identity.staff_models  # noqa: F401
import notifications.models  # noqa: F401
import profile_store.correction_models
import profile_store.models  # noqa: F401
from core.db import Base, make_engine

metadata = Base.metadata

config = context.config


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    from app.config import Config

    url = os.environ.get("MIGRATION_DATABASE_URL") or os.environ.get("DATABASE_URL") or Config().database_url
    with make_engine(url).connect() as conn:
        _run(conn)
