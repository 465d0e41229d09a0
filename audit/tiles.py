"""The audit log's Merkle tree as tlog-tiles (c2sp.org/tlog-tiles): static files any CT-style monitor
or witness reads, cut from the perfect-subtree hashes `audit_tree_nodes` already stores.

A tile at level L, index N holds the tree's level-8L nodes 256N .. 256N+255 (level 0: leaf
hashes), 32 bytes each, concatenated; a partial tile holds the first W (1..255) of them. Tile
paths: ``tile/<L>/<N>`` with N written in groups of three decimal digits, all but the last group
prefixed with ``x`` (1234067 is ``x001/x234/067``), and ``.p/<W>`` after a partial tile. Entry
bundles (``tile/entries/<N>``) are the entries' canonical bodies, each prefixed with its length as
a big-endian uint16.

Tiles are served up to a published checkpoint's tree size only, so a client can check them
against a signed root. Reading one tile is one range read of stored nodes; nothing is rehashed.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import Conflict, NotFound

from . import note
from .cosigned import cosigned_note
from .merkle import root
from .models import AuditCheckpoint, AuditEntry, AuditHead, AuditLeaf, AuditTreeNode
from .tree import DbNodeStore

HEIGHT = 8
WIDTH = 1 << HEIGHT  # 256 hashes in a full tile
HASH_SIZE = 32
MAX_LEVEL = 63
ENTRIES = "entries"
_GROUP = re.compile(r"x?[0-9]{3}")
_WIDTH = re.compile(r"[1-9][0-9]{0,2}")
_LEVEL = re.compile(r"0|[1-9][0-9]?")


@dataclass(frozen=True)
class Tile:
    """A tile's coordinates: `level` (None for an entry bundle), index, and width (256 if full)."""

    level: int | None
    index: int
    width: int = WIDTH

    @property
    def full(self) -> bool:
        return self.width == WIDTH

    def path(self) -> str:
        """The tile's path under the log's prefix, e.g. ``tile/0/x001/234`` or ``tile/entries/005.p/7``."""
        level = ENTRIES if self.level is None else str(self.level)
        suffix = "" if self.full else f".p/{self.width}"
        return f"tile/{level}/{encode_index(self.index)}{suffix}"


def encode_index(index: int) -> str:
    """N as path elements of three digits, all but the last prefixed with ``x``."""
    if index < 0:
        raise ValueError("tile index must be >= 0")
    groups = []
    while True:
        groups.append(f"{index % 1000:03d}")
        index //= 1000
        if index == 0:
            break
    groups.reverse()
    return "/".join([*(f"x{g}" for g in groups[:-1]), groups[-1]])


def parse_tile_path(path: str) -> Tile:
    """The Tile a path names (the part after ``tile/``: ``<L>/<N>[.p/<W>]`` or ``entries/...``).
    ValueError unless the path is the tile's one canonical spelling."""
    parts = path.split("/")
    if len(parts) < 2:
        raise ValueError("not a tile path")
    head, rest = parts[0], parts[1:]
    width = WIDTH
    if len(rest) >= 2 and rest[-2].endswith(".p"):
        if not _WIDTH.fullmatch(rest[-1]) or not 1 <= int(rest[-1]) < WIDTH:
            raise ValueError("partial width must be 1..255")
        width, rest = int(rest[-1]), [*rest[:-2], rest[-2][:-2]]
    if not rest or len(rest) > 7 or not all(_GROUP.fullmatch(g) for g in rest):
        raise ValueError("bad tile index")
    if any(g.startswith("x") for g in rest[-1:]) or not all(g.startswith("x") for g in rest[:-1]):
        raise ValueError("bad tile index")
    index = int("".join(g.lstrip("x") for g in rest))
    if head == ENTRIES:
        level = None
    elif _LEVEL.fullmatch(head) and int(head) <= MAX_LEVEL:
        level = int(head)
    else:
        raise ValueError("bad tile level")
    tile = Tile(level, index, width)
    if tile.path() != "tile/" + path:
        raise ValueError("not the canonical tile path")
    return tile


def available_width(tree_size: int, tile: Tile) -> int:
    """How many hashes (or entries) of `tile`'s range a tree of `tree_size` has complete (0..256)."""
    height = 0 if tile.level is None else HEIGHT * tile.level
    nodes = tree_size >> height if height < 64 else 0
    return max(0, min(WIDTH, nodes - WIDTH * tile.index))


def published_checkpoint(session: Session) -> AuditCheckpoint | None:
    """The latest checkpoint that has a signed-note form: what /log/checkpoint serves and tiles
    stay within."""
    query = select(AuditCheckpoint).where(AuditCheckpoint.note_signature.is_not(None))
    return session.scalar(query.order_by(AuditCheckpoint.tree_size.desc()).limit(1))


def read_tile(session: Session, tile: Tile, tree_size: int) -> bytes:
    """The tile's bytes within a tree of `tree_size` entries: one range read of stored nodes (or
    entry bodies). Raises NotFound when the tree does not have that many hashes in the tile's range
    (partial tiles of any width up to what exists are served: their bytes never change)."""
    if tile.width > available_width(tree_size, tile):
        raise NotFound("no such tile in the published tree")
    first = WIDTH * tile.index
    if tile.level is None:
        return _bundle(_bodies(session, first, first + tile.width), tile.width)
    node = AuditTreeNode
    hashes = session.scalars(
        select(node.hash)
        .where(node.level == HEIGHT * tile.level, node.index >= first, node.index < first + tile.width)
        .order_by(node.index)
    ).all()
    if len(hashes) != tile.width or any(len(h) != HASH_SIZE for h in hashes):
        raise LookupError(f"tree nodes of {tile.path()} are missing from the store")
    return b"".join(hashes)


def _bodies(session: Session, first: int, end: int) -> list[str]:
    """The bodies of leaves first..end-1 in leaf order: an entry's seq is its leaf index below
    `audit_head.leaves_from`, and audit_leaves places the entries from there on (batched
    integration, audit/integrator.py)."""
    leaves_from = session.scalar(select(AuditHead.leaves_from).where(AuditHead.id == 1))
    at_seq = end if leaves_from is None else max(first, min(end, leaves_from))
    bodies = list(
        session.scalars(
            select(AuditEntry.body)
            .where(AuditEntry.seq >= first, AuditEntry.seq < at_seq)
            .order_by(AuditEntry.seq)
        )
    )
    if at_seq < end:
        placed = select(AuditEntry.body).join(AuditLeaf, AuditLeaf.seq == AuditEntry.seq)
        where = (AuditLeaf.leaf_index >= at_seq, AuditLeaf.leaf_index < end)
        bodies += session.scalars(placed.where(*where).order_by(AuditLeaf.leaf_index))
    return bodies


def _bundle(bodies: list[str], width: int) -> bytes:
    if len(bodies) != width:
        raise LookupError("audit entries of an entry bundle are missing")
    out = bytearray()
    for body in bodies:
        data = body.encode()
        if len(data) > 0xFFFF:
            raise ValueError("an entry longer than 65535 bytes does not fit an entry bundle")
        out += len(data).to_bytes(2, "big") + data
    return bytes(out)


def tiles_for(tree_size: int, *, since: int = 0) -> Iterator[Tile]:
    """Every hash tile of a tree of `tree_size` leaves, full and partial, level by level; with
    `since`, none of the full tiles a tree of `since` leaves already had complete."""
    level = 0
    while (nodes := tree_size >> (HEIGHT * level)) > 0:
        for index in range(full_tiles(since, level), nodes // WIDTH):
            yield Tile(level, index)
        if nodes % WIDTH:
            yield Tile(level, nodes // WIDTH, nodes % WIDTH)
        level += 1


def full_tiles(tree_size: int, level: int) -> int:
    """How many full tiles level `level` of a tree of `tree_size` leaves has."""
    return (tree_size >> (HEIGHT * level)) // WIDTH


@dataclass
class PublishReport:
    tree_size: int = 0
    written: int = 0
    skipped: int = 0


class PublishedElsewhere(Conflict):
    """The directory already holds a checkpoint that is not of our log's history: another key or
    origin, a root other than ours at its size, or a larger tree than ours. A fork (or another
    log) an operator must look at; publish writes nothing over it."""


def publish(
    session: Session, directory: Path, *, log_vkey: str, on_tile: Callable[[Tile], None] | None = None
) -> PublishReport:
    """Write the published checkpoint and its hash tiles under `directory` for a static host:
    ``checkpoint`` (the signed note with the witness cosignatures we hold, so a mirror carries
    them) and ``tile/...``. Full tiles already there are skipped (a rerun resumes an interrupted
    run); partial tiles and the checkpoint are rewritten; every file is written to a temporary
    name and renamed, and the checkpoint last, so a reader never finds a checkpoint whose tiles
    are not all there. That also makes publishing incremental: the full tiles of the size in the
    directory's checkpoint are known to be there and are not even looked at, so a publish costs
    what the log grew, not its size. That checkpoint is trusted only once it verifies with
    `log_vkey` (our note verifier key) and its root is our tree's root at its size; otherwise
    PublishedElsewhere is raised before anything is written. Entry bundles are not written (they
    are for auditors). Reads only. Raises NotFound when no checkpoint has a note yet."""
    checkpoint = published_checkpoint(session)
    if checkpoint is None:
        raise NotFound("no checkpoint with a signed note yet: run `consentry audit checkpoint`")
    size = checkpoint.tree_size
    done = min(_published_size(session, directory, log_vkey, size), size)
    report = PublishReport(tree_size=size)
    report.skipped = sum(full_tiles(done, level) for level in range(max(size.bit_length(), 1)))
    for tile in tiles_for(size, since=done):
        target = directory / tile.path()
        if tile.full and target.exists():
            report.skipped += 1
        else:
            _write_atomically(target, read_tile(session, tile, checkpoint.tree_size))
            report.written += 1
        if on_tile is not None:
            on_tile(tile)
    _write_atomically(directory / "checkpoint", (cosigned_note(session, checkpoint) or "").encode())
    return report


def _published_size(session: Session, directory: Path, log_vkey: str, ours: int) -> int:
    """The tree size of the checkpoint a previous publish left in `directory` (0: none). Written
    last, it vouches for every full tile of that size, so it must be ours: signed with our key,
    and our tree must have its root at its size. PublishedElsewhere naming the mismatch if not."""
    path = directory / "checkpoint"
    if not path.exists():
        return 0
    where = f"{path} holds another history"
    try:
        body = note.verify_note(path.read_text(encoding="utf-8"), log_vkey)
        theirs = note.parse_checkpoint(body)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise PublishedElsewhere(f"{where}: not a checkpoint signed with our log key ({exc})") from None
    if theirs.tree_size > ours:
        raise PublishedElsewhere(
            f"{where}: tree size {theirs.tree_size} is larger than our published size {ours}"
        )
    if theirs.tree_size and root(DbNodeStore(session), theirs.tree_size) != theirs.root_hash:
        raise PublishedElsewhere(f"{where}: its root at tree size {theirs.tree_size} is not our tree's")
    return theirs.tree_size


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
