"""Audit head: `frontier`, the roots of the Merkle tree's perfect subtrees (largest first), so an
append reads no tree node (audit.merkle.frontier_append). Filled in from the stored nodes.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-24 03:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_head = sa.table(
    "audit_head",
    sa.column("id", sa.Integer),
    sa.column("next_seq", sa.BigInteger),
    sa.column("frontier", sa.LargeBinary),
)
_nodes = sa.table(
    "audit_tree_nodes",
    sa.column("level", sa.SmallInteger),
    sa.column("index", sa.BigInteger),
    sa.column("hash"),
)


def upgrade() -> None:
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.add_column(sa.Column("frontier", sa.LargeBinary(), nullable=True))
    bind = op.get_bind()
    for head_id, size in bind.execute(sa.select(_head.c.id, _head.c.next_seq)).all():
        bind.execute(_head.update().where(_head.c.id == head_id).values(frontier=_frontier(bind, size)))
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.alter_column("frontier", existing_type=sa.LargeBinary(), nullable=False)


def _frontier(bind, size: int) -> bytes:
    """The stored roots of the perfect subtrees of a tree of `size` leaves, largest first (kept
    here rather than imported, so this migration does not change with the code)."""
    hashes, offset = [], 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            where = sa.and_(_nodes.c.level == level, _nodes.c.index == offset >> level)
            node = bind.execute(sa.select(_nodes.c.hash).where(where)).scalar()
            if node is None:
                raise RuntimeError(f"audit tree node ({level}, {offset >> level}) is missing")
            hashes.append(bytes(node))
            offset += 1 << level
    return b"".join(hashes)


def downgrade() -> None:
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.drop_column("frontier")
