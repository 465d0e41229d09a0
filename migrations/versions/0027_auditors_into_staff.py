"""Auditor accounts become staff accounts with the auditor role; `auditors` gives way to
`auditor_names`.

Each `auditors` row moves into `staff` as it is: the same id, username, argon2id hash, encrypted
TOTP secret (identity.staff uses the auditors' key and associated data, so it still decrypts),
last TOTP step, sign-in time and disabled flag, with the role `auditor`. An auditor whose username
a member of staff already has is not moved (the secret is bound to the username, and adding the
role to someone else's account would hand it the audit log): an admin gives that person a staff
account, and the upgrade names them on stderr. Signed-in auditor sessions end.

Older audit entries name their auditor `auditor:<id>`; `auditor_names` keeps every username by id
so the console still reads them with a name (app/auditor/names.py).

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-03 17:00:00
"""

import sys
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = core.db.UTCDateTime(timezone=True)
MOVED = "id, username, password_hash, totp_secret, last_totp_step, created_at, last_login_at, disabled"


def upgrade() -> None:
    op.create_table(
        "auditor_names",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auditor_names")),
    )
    bind = op.get_bind()
    bind.exec_driver_sql("INSERT INTO auditor_names (id, username) SELECT id, username FROM auditors")
    clashes = bind.exec_driver_sql(
        "SELECT a.username FROM auditors a WHERE EXISTS "
        "(SELECT 1 FROM staff s WHERE s.username = a.username OR s.id = a.id) ORDER BY a.username"
    ).scalars()
    for username in clashes:
        print(
            f"auditor {username!r} not moved: a staff account has that username; "
            f"give them the auditor role on a staff account (consentry staff ...)",
            file=sys.stderr,
        )
    # disabled_at: an auditor's disabling was not timed; the account's creation stands in for it.
    bind.exec_driver_sql(
        f"INSERT INTO staff ({MOVED}, roles, disabled_at) "  # noqa: S608 (constant column list)
        f"SELECT {MOVED}, 'auditor', CASE WHEN disabled THEN created_at END FROM auditors a "
        "WHERE NOT EXISTS (SELECT 1 FROM staff s WHERE s.username = a.username OR s.id = a.id)"
    )
    op.execute("DELETE FROM web_sessions WHERE role = 'auditor'")
    op.drop_table("auditors")


def downgrade() -> None:
    op.create_table(
        "auditors",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("totp_secret", sa.LargeBinary(), nullable=False),
        sa.Column("last_totp_step", BIGINT, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("last_login_at", WHEN, nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auditors")),
        sa.UniqueConstraint("username", name=op.f("uq_auditors_username")),
    )
    # Staff accounts that are auditors only go back; a member with other roles stays staff (the
    # older console signs in auditors alone).
    bind = op.get_bind()
    copy_back = f"INSERT INTO auditors ({MOVED}) SELECT {MOVED} FROM staff WHERE roles = 'auditor'"  # noqa: S608
    bind.exec_driver_sql(copy_back)
    bind.exec_driver_sql(
        "DELETE FROM web_sessions WHERE role = 'staff' AND subject IN (SELECT id FROM auditors)"
    )
    bind.exec_driver_sql("DELETE FROM staff WHERE roles = 'auditor'")
    op.drop_table("auditor_names")
