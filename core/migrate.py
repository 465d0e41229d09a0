"""Run Alembic programmatically: the CLI, the demo and the tests all build schemas this way.

On PostgreSQL, migrate through the tables' owner (MIGRATION_DATABASE_URL) and name the app's
role: the upgrade then re-grants it exactly the app's privileges (core.db_roles), tables the
migrations just created included."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine

from core.db_roles import grant_app_role

ROOT = Path(__file__).resolve().parents[1]


def alembic_config() -> AlembicConfig:
    cfg = AlembicConfig(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    return cfg


def upgrade(engine: Engine, revision: str = "head", *, app_role: str | None = None) -> None:
    """Migrate to `revision`; then, on PostgreSQL with `app_role` named, grant that role the app's
    privileges in the same transaction (both commit or neither). SQLite has no roles: `app_role`
    is ignored there."""
    cfg = alembic_config()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)
        if app_role and connection.dialect.name == "postgresql":
            grant_app_role(connection, app_role)


def downgrade(engine: Engine, revision: str) -> None:
    cfg = alembic_config()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)
