"""tlog-tiles benchmark (`--only tiles`): publish the tiles of a large log to a directory, resume
that publish, and serve tiles over HTTP on loopback.

The log is made quickly: synthetic leaf hashes and the tree nodes their appends complete
(`StreamingRoot.add_completing`, the append path's node set) are written straight into
`audit_tree_nodes` in batches, the head moved to match, and one checkpoint signed by the real
`create_checkpoint`. No entry rows: hash tiles never read them.

Then the log grows by GROW leaves, a new checkpoint is signed and the same directory published
again: what an incremental publish costs (only the tiles the growth touched are written).
BENCH_TILES_LEAVES overrides the full run's size (e.g. 10000000).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.client
import os
import random
import struct
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import insert, update
from werkzeug.serving import WSGIRequestHandler, make_server

from app import create_app
from audit.checkpoint_signing import new_private_key
from audit.merkle import StreamingRoot
from audit.models import AuditHead, AuditTreeNode
from audit.signer import AuditSigner
from audit.tiles import WIDTH, Tile, publish
from audit.tree import create_checkpoint
from core.db import make_engine, make_session_factory

from . import pgcopy
from .common import INFO, Options, Row, fresh_database, log
from .seeding import bench_config

FULL_LEAVES, QUICK_LEAVES = 1_000_000, 50_000
GROW = 10_000
BATCH = 20_000
CLIENTS = 4


def run(options: Options) -> list[Row]:
    leaves = QUICK_LEAVES if options.quick else int(os.environ.get("BENCH_TILES_LEAVES", FULL_LEAVES))
    label, url = options.backends()[0]
    with fresh_database(options, url, "tiles") as db_url:
        engine = make_engine(db_url)
        sessions = make_session_factory(engine, writer=True)
        stream = StreamingRoot()
        # One key for every checkpoint: a publish checks the directory's note against it.
        signer = AuditSigner("bench", new_private_key(), "bench.example/disclosures")
        load_s = _load(sessions, stream, leaves, signer)
        settle_s = _settle(engine)
        with tempfile.TemporaryDirectory(prefix="tiles-", dir=options.workdir) as out:
            vkey = signer.note_verifier_key()
            written, publish_s = _publish(sessions, Path(out), vkey)
            _, resume_s = _publish(sessions, Path(out), vkey)
            _load(sessions, stream, GROW, signer)
            grown, grow_s = _publish(sessions, Path(out), vkey)
        served = _serve(db_url, leaves, seconds=3 if options.quick else 10)
        engine.dispose()
    return [
        Row(
            "tiles: publish --to DIR (all tiles), then a resumed run",
            label,
            leaves,
            f"{written / publish_s:,.0f} tiles/s ({written} tiles, {publish_s:.1f} s); "
            f"rerun {resume_s:.1f} s; load {load_s:.0f} s, vacuum {settle_s:.0f} s",
            "reported",
            INFO,
            {
                "tiles": written,
                "publish_s": publish_s,
                "resume_s": resume_s,
                "load_s": load_s,
                "vacuum_s": settle_s,
            },
        ),
        Row(
            f"tiles: log grows by {GROW:,} leaves, publish the same DIR again (incremental)",
            label,
            leaves + GROW,
            f"{grown} tiles written in {grow_s:.2f} s",
            "reported",
            INFO,
            {"tiles_written": grown, "publish_s": grow_s},
        ),
        Row(
            f"tiles: full level-0 tiles over HTTP, {CLIENTS} keep-alive clients (werkzeug, threaded)",
            label,
            leaves,
            f"{served['tiles_per_s']:,.0f} tiles/s ({served['mib_per_s']:.1f} MiB/s), "
            f"{served['errors']} errors",
            "reported",
            INFO,
            served,
        ),
    ]


def _load(sessions, stream: StreamingRoot, leaves: int, signer: AuditSigner) -> float:
    """Append `leaves` synthetic leaves to the tree `stream` has so far, then sign a checkpoint."""
    log(f"tiles: writing {leaves:,} leaves and their tree nodes")
    started = time.perf_counter()
    with sessions() as session, session.begin():
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            _copy_nodes(connection, stream, leaves)
        else:
            _insert_nodes(connection, stream, leaves)
        head = {"next_seq": stream.size, "chain_head": bytes(32), "frontier": stream.frontier}
        connection.execute(update(AuditHead.__table__).where(AuditHead.id == 1).values(head))
        create_checkpoint(session, signer=signer, now=dt.datetime.now(dt.UTC))
    log(f"tiles: {leaves:,} leaves written in {time.perf_counter() - started:.1f} s")
    return time.perf_counter() - started


def _settle(engine) -> float:
    """PostgreSQL: VACUUM (ANALYZE) the freshly loaded nodes, as autovacuum would soon after a bulk
    load. Without it autovacuum starts on its own during the publish and HTTP steps (20 million
    rows at 10M entries) and they measure its work too. SQLite: nothing to do."""
    if engine.dialect.name != "postgresql":
        return 0.0
    started = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM (ANALYZE) audit_tree_nodes")
    log(f"tiles: vacuum analyze in {time.perf_counter() - started:.1f} s")
    return time.perf_counter() - started


def _leaf(n: int) -> bytes:
    return hashlib.sha256(b"\x00leaf %d" % n).digest()


def _insert_nodes(connection, stream: StreamingRoot, leaves: int) -> None:
    """SQLite: executemany of plain rows in big batches."""
    rows, nodes = [], AuditTreeNode.__table__
    for n in range(stream.size, stream.size + leaves):
        size = stream.size
        for level, node in enumerate(stream.add_completing(_leaf(n))):
            rows.append({"level": level, "index": size >> level, "hash": node})
        if len(rows) >= BATCH:
            connection.execute(insert(nodes), rows)
            rows = []
    if rows:
        connection.execute(insert(nodes), rows)


# A binary COPY row of audit_tree_nodes: 3 fields, int2 level, int8 index, 32-byte bytea hash.
# Packed by hand (no per-value adaptation), so the load runs at hashing speed: an executemany of
# the same rows took over 20 minutes for 10M leaves.
_ROW = struct.Struct("!hihiqi")
_COPY_SQL = "COPY audit_tree_nodes (level, index, hash) FROM STDIN WITH (FORMAT BINARY)"
_COPY_CHUNK = 4 << 20  # bytes handed to the server at a time


def _copy_nodes(connection, stream: StreamingRoot, leaves: int) -> None:
    """PostgreSQL: the nodes each append completes, computed in one pass and streamed through a
    binary COPY on the session's own connection (same transaction as the head and checkpoint).
    Triggers on the table guard UPDATE and DELETE only, so COPY passes them."""
    pack, buffer = _ROW.pack, bytearray(pgcopy.SIGNATURE)
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(_COPY_SQL) as copy:
        for n in range(stream.size, stream.size + leaves):
            size = stream.size
            for level, node in enumerate(stream.add_completing(_leaf(n))):
                buffer += pack(3, 2, level, 8, size >> level, 32)
                buffer += node
            if len(buffer) >= _COPY_CHUNK:
                copy.write(bytes(buffer))
                buffer.clear()
        buffer += pgcopy.TRAILER
        copy.write(bytes(buffer))


def _publish(sessions, out: Path, log_vkey: str) -> tuple[int, float]:
    started = time.perf_counter()
    with sessions() as session:
        report = publish(session, out, log_vkey=log_vkey)
    elapsed = time.perf_counter() - started
    log(f"tiles: published {report.written} tiles, skipped {report.skipped}, in {elapsed:.1f} s")
    return report.written, elapsed


class _KeepAlive(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_request(self, *args, **kwargs) -> None:  # quiet
        pass


def _serve(db_url: str, leaves: int, *, seconds: float) -> dict:
    app = create_app(bench_config(db_url))
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_KeepAlive)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_port
    full = leaves // WIDTH
    # One request first: the app builds its metrics on the first request, and threads racing
    # there register them twice (prometheus refuses).
    warm = http.client.HTTPConnection("127.0.0.1", port)
    warm.request("GET", "/log/checkpoint")
    warm.getresponse().read()
    warm.close()
    counts, errors, stop = [0] * CLIENTS, [0] * CLIENTS, time.perf_counter() + seconds

    def client(k: int) -> None:
        rng, conn = random.Random(k), http.client.HTTPConnection("127.0.0.1", port)
        while time.perf_counter() < stop:
            conn.request("GET", "/log/" + Tile(0, rng.randrange(full)).path())
            response = conn.getresponse()
            body = response.read()
            if response.status == 200 and len(body) == WIDTH * 32:
                counts[k] += 1
            else:
                errors[k] += 1
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    server.shutdown()
    app.extensions["consentry"].close()
    rate = sum(counts) / elapsed
    log(f"tiles: served {sum(counts)} tiles in {elapsed:.1f} s")
    return {"tiles_per_s": rate, "mib_per_s": rate * WIDTH * 32 / 2**20, "errors": sum(errors)}
