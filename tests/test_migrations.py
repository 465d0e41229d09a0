"""The schema comes from migrations alone: one head, and no drift from the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select

import agency_connectors.notifications
import agency_connectors.refresh_jobs  # noqa: F401
import audit.auditor_models
import audit.disclosure_reports
import audit.models  # noqa: F401
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
from core.db import Base
from core.migrate import alembic_config


def test_one_head():
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


def test_models_match_migrations(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_migration_files_are_numbered():
    script = ScriptDirectory.from_config(alembic_config())
    for revision in script.walk_revisions():
        assert revision.revision.isdigit() and len(revision.revision) == 4


def test_downgrade_to_base_and_back_up(tmp_path):
    from core import migrate
    from core.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'roundtrip.db'}")
    migrate.upgrade(engine)
    migrate.downgrade(engine, "base")
    migrate.upgrade(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT next_seq FROM audit_head").scalar_one() == 0


def test_the_audit_heads_frontier_is_filled_in_from_the_stored_tree(tmp_path):
    import datetime as dt

    from audit.log import Event, append
    from audit.models import AuditHead
    from core import migrate
    from core.db import make_engine, make_session_factory

    engine = make_engine(f"sqlite:///{tmp_path / 'frontier.db'}")
    migrate.upgrade(engine)
    with make_session_factory(engine)() as session:
        for i in range(13):
            append(session, Event(kind="admin_action", outcome=str(i)), now=dt.datetime.now(dt.UTC))
        session.commit()
        kept = session.execute(select(AuditHead.frontier)).scalar_one()
    migrate.downgrade(engine, "0012")
    migrate.upgrade(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT frontier FROM audit_head").scalar_one() == kept
    assert len(kept) == 32 * 3  # 13 leaves: perfect subtrees of 8, 4 and 1
