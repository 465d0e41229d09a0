"""The language a citizen's mails are written in: stored per citizen (migration 0030), chosen,
adopted only when none was chosen, kept by the other settings; and the migration itself, up and
down, on a database of its own (SQLite, or PostgreSQL when TEST_DATABASE_URL names one)."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from core import migrate
from core.db import make_engine
from core.errors import ValidationFailed
from notifications.models import NotificationPreference
from notifications.outbox import preferences_of, set_language, set_preferences
from tests.factories import make_citizen

NOW = dt.datetime(2026, 12, 3, 21, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(hours=1)


def stored(db_session, citizen_id: str) -> NotificationPreference | None:
    db_session.expire_all()
    return db_session.get(NotificationPreference, citizen_id)


def test_never_chosen_reads_as_none(db_session, runtime):
    citizen = make_citizen(db_session, runtime.vault)
    assert preferences_of(db_session, citizen.id).language is None
    assert stored(db_session, citizen.id) is None  # reading writes nothing


def test_a_choice_is_stored_with_the_default_mode_and_changed_later(db_session, runtime):
    citizen = make_citizen(db_session, runtime.vault)
    assert set_language(db_session, citizen_id=citizen.id, language="zh_Hans_SG", now=NOW) is True
    row = stored(db_session, citizen.id)
    assert (row.language, row.mode, row.skip_own_recent, row.updated_at) == (
        "zh_Hans_SG",
        "immediate",
        False,
        NOW,
    )

    assert set_language(db_session, citizen_id=citizen.id, language="en", now=LATER) is True
    assert stored(db_session, citizen.id).language == "en"
    assert set_language(db_session, citizen_id=citizen.id, language="en", now=LATER) is False  # already so


def test_adopting_fills_an_unset_language_only(db_session, runtime):
    unset, chosen = make_citizen(db_session, runtime.vault), make_citizen(db_session, runtime.vault)
    set_preferences(db_session, citizen_id=unset.id, mode="digest", skip_own_recent=True, now=NOW)
    set_language(db_session, citizen_id=chosen.id, language="en", now=NOW)

    assert set_language(db_session, citizen_id=unset.id, language="zh_Hans_SG", now=LATER, only_if_unset=True)
    assert not set_language(
        db_session, citizen_id=chosen.id, language="zh_Hans_SG", now=LATER, only_if_unset=True
    )

    row = stored(db_session, unset.id)
    assert (row.language, row.mode, row.skip_own_recent) == ("zh_Hans_SG", "digest", True)  # the rest kept
    assert stored(db_session, chosen.id).language == "en"


def test_other_settings_keep_the_language(db_session, runtime):
    citizen = make_citizen(db_session, runtime.vault)
    set_language(db_session, citizen_id=citizen.id, language="zh_Hans_SG", now=NOW)
    set_preferences(db_session, citizen_id=citizen.id, mode="off", skip_own_recent=False, now=LATER)
    assert stored(db_session, citizen.id).language == "zh_Hans_SG"


@pytest.mark.parametrize("language", ["fr", "zh", "zh-Hans-SG", "", "EN"])
def test_a_language_mails_are_not_written_in_is_refused_and_nothing_written(db_session, runtime, language):
    citizen = make_citizen(db_session, runtime.vault)
    with pytest.raises(ValidationFailed):
        set_language(db_session, citizen_id=citizen.id, language=language, now=NOW)
    assert stored(db_session, citizen.id) is None


def test_the_mail_languages_are_the_app_s_languages():
    from app.i18n import SUPPORTED_LOCALES
    from notifications.models import LANGUAGES

    assert set(LANGUAGES) == set(SUPPORTED_LOCALES)


# Migration 0030, on a database of its own.


@pytest.fixture
def scratch_engine(tmp_path) -> Iterator:
    base = os.environ.get("TEST_DATABASE_URL", "")
    if not base.startswith("postgresql"):
        engine = make_engine(f"sqlite:///{tmp_path / 'language.db'}")
        yield engine
        engine.dispose()
        return
    name = f"consentry_lang_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(make_url(base).set(database=name).render_as_string(hide_password=False))
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def columns(engine) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns("notification_preferences")}


def test_migration_0030_adds_the_language_unset_for_existing_rows_and_goes_back(scratch_engine):
    engine = scratch_engine
    migrate.upgrade(engine, "0029")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO citizens"
                " (id, uinfin_digest, uinfin_ciphertext, dek_kid, dek_wrapped, created_at)"
                " VALUES ('c-1', 'digest-1', :blob, 'k1', :blob, :now)"
            ),
            {"blob": b"x", "now": NOW},
        )
        conn.execute(
            text(
                "INSERT INTO notification_preferences (citizen_id, mode, skip_own_recent, updated_at)"
                " VALUES ('c-1', 'digest', true, :now)"
            ),
            {"now": NOW},
        )
    assert "language" not in columns(engine)

    migrate.upgrade(engine, "0030")
    with engine.begin() as conn:
        row = conn.execute(text("SELECT mode, skip_own_recent, language FROM notification_preferences")).one()
        assert (row.mode, bool(row.skip_own_recent), row.language) == ("digest", True, None)  # not chosen
        conn.execute(text("UPDATE notification_preferences SET language = 'zh_Hans_SG'"))

    migrate.downgrade(engine, "0029")
    assert "language" not in columns(engine)
    with engine.connect() as conn:  # the row and its other settings survive the way back
        row = conn.execute(text("SELECT citizen_id, mode FROM notification_preferences")).one()
        assert (row.citizen_id, row.mode) == ("c-1", "digest")
    migrate.upgrade(engine)
    assert "language" in columns(engine)
