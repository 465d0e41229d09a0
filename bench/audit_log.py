"""Audit log benchmarks: appends with 8 concurrent writers, verification rate, and search and
history latency with millions of entries on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import random
import threading
import time
from collections.abc import Iterator

from sqlalchemy import text
from sqlalchemy.engine import make_url

from audit.canonical import canonical_json
from audit.checkpoint_signing import key_id, new_private_key, sign_checkpoint
from audit.log import Event, append
from audit.merkle import StreamingRoot, chain_next, leaf_hash
from audit.search import Filters, citizen_history, search
from audit.signer import AuditSigner
from audit.verifier import verify_export
from audit.verify import verify_log
from core.db import make_engine, make_session_factory

from .common import INFO, MEETS, MISSES, SKIPPED, Options, Row, fresh_database, log, summarize

WRITERS = 8
DEFAULT_ENTRIES_PG = 10_000_000
QUICK_ENTRIES_PG = 200_000
APPS, CITIZENS, ATTRIBUTES = 300, 1_000_000, ("name", "regadd", "dob", "noa-basic", "cpfbalances", "vehicles")
START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def run(options: Options) -> list[Row]:
    rows = [_appends(options, label, url) for label, url in options.backends()]
    rows.append(_verification(options))
    rows += [_stored_verification(options, label, url) for label, url in options.backends()]
    rows += _search_at_scale(options)
    return rows


def _event(n: int) -> Event:
    return Event(
        kind="disclosure",
        citizen_ref=hashlib.sha256(b"%d" % (n % 5000)).hexdigest(),
        app_id=f"app-{n % 40}",
        purpose="pre-fill",
        outcome="released",
        attributes=ATTRIBUTES[:3],
    )


def _appends(options: Options, label: str, url: str) -> Row:
    per_writer = 40 if options.quick else 250
    signer = AuditSigner("bench", new_private_key())
    with fresh_database(options, url, "audit-appends") as db_url:
        engine = make_engine(db_url)
        writers = make_session_factory(engine, writer=True)
        errors: list[BaseException] = []

        def work(offset: int) -> None:
            try:
                for i in range(per_writer):
                    with writers() as session, session.begin():
                        append(
                            session,
                            _event(offset + i),
                            now=dt.datetime.now(dt.UTC),
                            signer=signer,
                            checkpoint_every=1000,
                        )
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(w * per_writer,)) for w in range(WRITERS)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        engine.dispose()
    total = WRITERS * per_writer
    rate = total / elapsed
    result = f"{rate:,.0f} entries/s ({total} appends, {WRITERS} writers)" + (
        f"; {len(errors)} errors" if errors else ""
    )
    return Row(
        "audit appends, 8 concurrent writers (one transaction each)",
        label,
        total,
        result,
        "reported",
        INFO if not errors else MISSES,
        {"entries_per_s": rate, "errors": len(errors)},
    )


def _export_lines(count: int) -> tuple[list[str], dict, object]:
    """A synthetic, valid export of `count` entries and a checkpoint signed over all of them."""
    header = {"format": "consentry-audit-export/1", "log_id": "bench", "first_seq": 0, "count": count}
    lines = [json.dumps(header)]
    chain, stream = bytes(32), StreamingRoot()
    for seq in range(count):
        body = canonical_json(
            {
                "seq": seq,
                "time": "2026-01-01T00:00:00.000000Z",
                "kind": "disclosure",
                "app_id": f"app-{seq % 40}",
                "attributes": ["name", "regadd"],
                "citizen_ref": f"{seq % 5000:064x}",
            }
        )
        leaf = leaf_hash(body)
        chain = chain_next(chain, leaf)
        stream.add(leaf)
        entry = f'"seq":{seq},"body":{body.decode()},"leaf_hash":"{leaf.hex()}","chain_hash":"{chain.hex()}"'
        lines.append("{" + entry + "}")
    key = new_private_key()
    body = {
        "log_id": "bench",
        "tree_size": count,
        "root_hash": stream.root().hex(),
        "chain_head": chain.hex(),
        "timestamp": "2026-01-01T00:00:00Z",
        "key_id": key_id(key.public_key()),
    }
    return lines, sign_checkpoint(key, body), key.public_key()


def _verification(options: Options) -> Row:
    count = 20_000 if options.quick else 200_000
    log(f"audit: building a {count:,}-entry export")
    lines, checkpoint, public_key = _export_lines(count)
    started = time.process_time()
    report = verify_export(lines, checkpoint, public_key)
    cpu = time.process_time() - started
    rate = count / cpu
    verdict = MEETS if report.ok and rate >= 100_000 else MISSES
    return Row(
        "audit verification, standalone verifier (CPU time, one core)",
        "-",
        count,
        f"{rate:,.0f} entries/s" + ("" if report.ok else " (REPORT NOT OK)"),
        "≥ 100,000 entries/s",
        verdict,
        {"entries_per_cpu_s": rate, "ok": report.ok},
    )


def _stored_verification(options: Options, label: str, url: str) -> Row:
    """`consentry audit verify` (audit.verify.verify_log) over a log appended by the real code:
    every entry, column, attribute row, tree node and checkpoint, read back from the database."""
    count = 20_000 if options.quick else 200_000
    signer = AuditSigner("bench", new_private_key())
    with fresh_database(options, url, "audit-verify") as db_url:
        engine = make_engine(db_url)
        sessions = make_session_factory(engine)
        log(f"audit: appending {count:,} entries on {label} to verify")
        with sessions() as session:
            now = dt.datetime.now(dt.UTC)
            for n in range(count):
                append(session, _event(n), now=now, signer=signer, checkpoint_every=1000)
            session.commit()
        with sessions() as session:
            started, cpu = time.perf_counter(), time.process_time()
            report = verify_log(session, public_key=signer.public_key)
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        engine.dispose()
    return Row(
        "audit verification, stored log (consentry audit verify)",
        label,
        count,
        f"{count / wall:,.0f} entries/s ({wall:.2f} s, {cpu:.2f} s CPU)" + ("" if report.ok else " (NOT OK)"),
        "-",
        INFO if report.ok else MISSES,
        {"entries_per_s": count / wall, "wall_s": wall, "cpu_s": cpu, "ok": report.ok},
    )


def _search_at_scale(options: Options) -> list[Row]:
    url = options.postgres_url()
    if url is None:
        return [Row("audit search at scale", "postgresql", "-", "skipped: needs --pg-url", "-", SKIPPED)]
    entries = (
        QUICK_ENTRIES_PG if options.quick else int(os.environ.get("BENCH_AUDIT_ENTRIES", DEFAULT_ENTRIES_PG))
    )
    with fresh_database(options, url, "audit-scale") as db_url:
        engine = make_engine(db_url)
        empty = _latencies(engine, entries=0)
        log(f"audit: loading {entries:,} entries with COPY")
        started = time.perf_counter()
        _copy_entries(db_url, entries)
        load_s = time.perf_counter() - started
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        full = _latencies(engine, entries=entries)
        engine.dispose()
    rows = []
    for name in ("history", "search"):
        stats = full[name]
        verdict = MEETS if stats["median_ms"] <= 50 else MISSES
        rows.append(
            Row(
                f"audit {name} first page at {entries:,} entries "
                f"(loaded in {load_s:.0f} s; empty DB: median {empty[name]['median_ms']:.1f} ms)",
                "postgresql",
                entries,
                f"median {stats['median_ms']:.1f} ms, p95 {stats['p95_ms']:.1f} ms",
                "≤ 50 ms",
                verdict,
                {"full": stats, "empty": empty[name], "load_s": load_s},
            )
        )
    return rows


def _latencies(engine, *, entries: int) -> dict[str, dict[str, float]]:
    sessions = make_session_factory(engine)
    rng = random.Random(7)
    history, searches = [], []
    with sessions() as session:
        for _ in range(60):
            ref = _citizen_ref(rng.randrange(CITIZENS))
            t = time.perf_counter()
            citizen_history(session, citizen_ref=ref, limit=20)
            history.append(time.perf_counter() - t)
            day = START + dt.timedelta(days=rng.randrange(300))
            t = time.perf_counter()
            search(
                session,
                Filters(app_id=f"app-{rng.randrange(APPS)}", since=day, until=day + dt.timedelta(days=7)),
                limit=50,
            )
            searches.append(time.perf_counter() - t)
    return {"history": summarize(history[10:]), "search": summarize(searches[10:])}


def _citizen_ref(n: int) -> str:
    return hashlib.sha256(b"citizen-%d" % n).hexdigest()


def _copy_entries(db_url: str, entries: int) -> None:
    """Realistic rows, not real hashes: search latency depends on row count and index shape only.
    Triggers only guard UPDATE/DELETE, so COPY goes through them untouched."""
    import psycopg

    dsn = make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
    rng = random.Random(42)
    seconds = 300 * 86400 / max(entries, 1)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY audit_entries (seq, recorded_at, kind, citizen_ref, app_id, purpose, outcome, body, "
            "leaf_hash, chain_hash) FROM STDIN"
        ) as copy:
            for row in _entry_rows(entries, rng, seconds):
                copy.write_row(row)
        with cur.copy("COPY audit_entry_attributes (seq, attribute) FROM STDIN") as copy:
            for seq in range(entries):
                copy.write_row((seq, ATTRIBUTES[seq % len(ATTRIBUTES)]))
        cur.execute("UPDATE audit_head SET next_seq = %s WHERE id = 1", (entries,))


def _entry_rows(entries: int, rng: random.Random, seconds: float) -> Iterator[tuple]:
    filler = os.urandom(32)
    body = '{"attributes":["name","regadd"],"kind":"disclosure","outcome":"released","seq":0}'
    for seq in range(entries):
        yield (
            seq,
            START + dt.timedelta(seconds=seq * seconds),
            "disclosure",
            _citizen_ref(rng.randrange(CITIZENS)),
            f"app-{rng.randrange(APPS)}",
            "pre-fill",
            "released",
            body,
            filler,
            filler,
        )
