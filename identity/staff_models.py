"""Staff accounts (table `staff`): the people who run Consentry, each with a username, one or more
roles, an argon2id password hash and an encrypted TOTP secret.

Roles (STAFF_ROLES): `operator` looks citizens up and refreshes them, `admin` registers and
changes agency apps and staff accounts, `auditor` reads the audit log. They are stored as one
sorted, comma-separated column and read on every request, so a change applies at once.
`last_totp_step` is the 30-second step of the last code accepted: no code works twice.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, Boolean, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import Base, UTCDateTime

BIGINT = BigInteger().with_variant(Integer, "sqlite")
STAFF_ROLES = ("admin", "auditor", "operator")


def new_staff_id() -> str:
    return str(uuid.uuid4())


class StaffMember(Base):
    __tablename__ = "staff"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_staff_id)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    roles: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(200))
    # nonce + AES-256-GCM ciphertext (identity.staff.staff_totp_key, the username as associated data)
    totp_secret: Mapped[bytes] = mapped_column(LargeBinary)
    last_totp_step: Mapped[int | None] = mapped_column(BIGINT)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(filter(None, self.roles.split(",")))

    def has_role(self, role: str) -> bool:
        return not self.disabled and role in self.role_set

    @property
    def actor(self) -> str:
        """How the audit log names this member: `staff:<id>` (the id never changes; a username
        could be reused after an account is removed)."""
        return f"staff:{self.id}"
