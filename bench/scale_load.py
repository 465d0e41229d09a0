"""The scale bench's bulk load: synthetic profiles shaped like the sample citizens' (templates,
citizen rows; bench/scale_sample.py makes the sample), and the chunked binary COPY of everyone
into PostgreSQL with keys, indexes and foreign keys dropped for the load and re-created after it
(bulk_load).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.copy import QueuedLibpqWriter

from app.config import AGENCY_CODES
from core.clock import utcnow
from core.uinfin import demo_uinfin
from profile_store.vault import Vault

from . import pgcopy
from .common import Stopwatch, log
from .scale_pg import conninfo
from .scale_sample import SampleSet
from .seeding import DECLARED_VALUES

CHUNK = 5_000
TEMPLATES = 64
HISTORY_MAX = 4  # superseded values per bulk citizen: uniform 0..4, mean 2


@dataclass
class _Template:
    rows: dict[str, bytes]
    counts: dict[str, int]


def _templates(sample: SampleSet, rng: random.Random, now: dt.datetime) -> list[_Template]:
    """Synthetic profiles: per attribute, the status, provenance and ciphertext size of a random
    sample citizen's real value, with random bytes in place of the ciphertext."""
    placeholder = pgcopy.ID_PLACEHOLDER
    templates = []
    for index in range(TEMPLATES):
        rows: dict[str, list[bytes]] = defaultdict(list)
        available = []
        for attribute, observed in sample.fields.items():
            agency, source, lastupdated, unavailable, size = rng.choice(observed)
            ciphertext = None if size is None else rng.randbytes(size)
            rows["profile_fields"].append(
                pgcopy.encode_row(
                    "profile_fields",
                    [
                        placeholder,
                        attribute,
                        agency,
                        source,
                        "C",
                        lastupdated,
                        unavailable,
                        ciphertext,
                        1,
                        now,
                    ],
                )
            )
            if ciphertext is not None:
                available.append((attribute, agency, source, lastupdated, size))
        for attribute, agency, source, lastupdated, size in rng.sample(
            available, rng.randint(0, HISTORY_MAX)
        ):
            rows["field_versions"].append(
                pgcopy.encode_row(
                    "field_versions",
                    [
                        placeholder,
                        attribute,
                        "agency",
                        1,
                        agency,
                        source,
                        lastupdated,
                        False,
                        rng.randbytes(size),
                        now - dt.timedelta(days=400),
                        now - dt.timedelta(days=30),
                    ],
                )
            )
        if index % 4 == 0:  # a quarter of citizens have declared an email and a mobile number
            for attribute in DECLARED_VALUES:
                size = rng.choice(sample.declared[attribute])
                rows["declarations"].append(
                    pgcopy.encode_row(
                        "declarations",
                        [
                            placeholder,
                            attribute,
                            rng.randbytes(size),
                            1,
                            now,
                        ],
                    )
                )
        for agency in AGENCY_CODES:
            rows["agency_syncs"].append(
                pgcopy.encode_row("agency_syncs", [placeholder, agency, now, now, None])
            )
        templates.append(
            _Template(
                rows={table: b"".join(parts) for table, parts in rows.items()},
                counts={table: len(parts) for table, parts in rows.items()},
            )
        )
    return templates


class _CitizenRows:
    """Encodes bulk `citizens` rows fast: constant fields pre-encoded."""

    def __init__(self, vault: Vault, sample: SampleSet, now: dt.datetime) -> None:
        self.vault = vault
        self.sizes = sample.citizen_sizes
        self.head = b"\x00\x07"
        self.kid = pgcopy.encode_field("text", sample.dek_kid)
        self.stamps = pgcopy.encode_field("timestamptz", now) * 2

    def encode(self, citizen_id: bytes, uinfin: str, rng: random.Random) -> bytes:
        uinfin_size, wrapped_size = rng.choice(self.sizes)
        digest = self.vault.digest_uinfin(uinfin).encode()
        return b"".join(
            (
                self.head,
                b"\x00\x00\x00\x24",
                citizen_id,
                len(digest).to_bytes(4, "big"),
                digest,
                uinfin_size.to_bytes(4, "big"),
                os.urandom(uinfin_size),
                self.kid,
                wrapped_size.to_bytes(4, "big"),
                os.urandom(wrapped_size),
                self.stamps,
            )
        )


def bulk_load(
    db_url: str,
    vault: Vault,
    bulk: int,
    sample: SampleSet,
    *,
    first_index: int,
    rng: random.Random,
    handful: int,
) -> dict[str, Any]:
    """COPY `bulk` synthetic citizens and the sample's real rows into the database, the sample at
    random positions; `handful` (made through the real code before the load) is only counted in
    the returned figures."""
    now = utcnow()
    templates = _templates(sample, rng, now)
    citizen_rows = _CitizenRows(vault, sample, now)
    placeholder = pgcopy.ID_PLACEHOLDER
    new = bulk + len(sample.ids)
    slots = dict(zip(sorted(rng.sample(range(new), len(sample.ids))), sample.ids, strict=True))
    loaded: dict[str, int] = dict.fromkeys(pgcopy.TABLES, 0)
    timings: list[tuple[str, float]] = []
    total = Stopwatch()
    with psycopg.connect(conninfo(db_url), autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("SET synchronous_commit = off")
        before = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in pgcopy.TABLES}  # noqa: S608
        ddl = _capture_ddl(conn)
        for statement in ddl["drop"]:
            conn.execute(statement)
        for table in pgcopy.TABLES:
            conn.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
        log(f"scale: loading {new:,} citizens in chunks of {CHUNK:,} (constraints and indexes dropped)")
        copy_clock = Stopwatch()
        bulk_index = 0
        next_report = 0.1
        for start in range(0, new, CHUNK):
            chunk = []  # (citizen id bytes, template or None for a sample citizen, uinfin or sample id)
            for position in range(start, min(new, start + CHUNK)):
                if position in slots:
                    chunk.append((slots[position].encode(), None, slots[position]))
                else:
                    uinfin = demo_uinfin(first_index + bulk_index)
                    bulk_index += 1
                    chunk.append((str(uuid.uuid4()).encode(), rng.randrange(TEMPLATES), uinfin))
            with conn.transaction(), conn.cursor() as cur:
                for table in pgcopy.TABLES:
                    loaded[table] += _copy_chunk(
                        cur, table, chunk, templates, citizen_rows, sample, rng, placeholder
                    )
            done = min(new, start + CHUNK)
            if done / new >= next_report or done == new:
                rows = sum(loaded.values())
                log(
                    f"scale: {done:,}/{new:,} citizens, {rows:,} rows, "
                    f"{rows / copy_clock.seconds():,.0f} rows/s"
                )
                next_report += 0.1
        copy_s = copy_clock.seconds()

        def run_timed(statements: list[str]) -> float:
            """Run each statement, timing it into `timings`; the seconds they took in all."""
            total = Stopwatch()
            for statement in statements:
                clock = Stopwatch()
                conn.execute(statement)
                timings.append((statement, clock.seconds()))
                log(f"scale: {clock.seconds():6.1f} s  {statement[:110]}")
            return total.seconds()

        index_s = run_timed(ddl["create"])
        fk_s = run_timed(ddl["foreign_keys"])
        analyze_clock = Stopwatch()
        conn.execute(f"ANALYZE {', '.join(pgcopy.TABLES)}")
        analyze_s = analyze_clock.seconds()
        for table in pgcopy.TABLES:
            conn.execute(f"ALTER TABLE {table} RESET (autovacuum_enabled)")
    rows_loaded = sum(loaded.values())
    total_s = total.seconds()
    log(f"scale: loaded {rows_loaded:,} rows in {total_s:.0f} s")
    return {
        "citizens_loaded": new,
        "rows_loaded": rows_loaded,
        "rows_by_table": loaded,
        "rows_total": {t: before[t] + loaded[t] for t in pgcopy.TABLES},
        "copy_s": copy_s,
        "index_s": index_s,
        "fk_s": fk_s,
        "analyze_s": analyze_s,
        "total_s": total_s,
        "rows_per_s_copy": rows_loaded / copy_s,
        "citizens_per_s": new / total_s,
        "chunk_citizens": CHUNK,
        "statements": timings,
        "templates": TEMPLATES,
        "synthetic_citizens": bulk,
        "real_citizens": len(sample.ids) + handful,
    }


def _copy_chunk(cur, table, chunk, templates, citizen_rows, sample, rng, placeholder) -> int:
    count = 0
    pieces: list[bytes] = []
    size = 0
    with cur.copy(pgcopy.copy_sql(table), writer=QueuedLibpqWriter(cur)) as copy:
        copy.write(pgcopy.SIGNATURE)
        for citizen_id, template, key in chunk:
            if template is None:
                parts = sample.rows[key][table]
                data = b"".join(parts)
                count += len(parts)
            elif table == "citizens":
                data = citizen_rows.encode(citizen_id, key, rng)
                count += 1
            else:
                chosen = templates[template]
                data = chosen.rows.get(table, b"").replace(placeholder, citizen_id)
                count += chosen.counts.get(table, 0)
            pieces.append(data)
            size += len(data)
            if size >= 1 << 20:
                copy.write(b"".join(pieces))
                pieces, size = [], 0
        pieces.append(pgcopy.TRAILER)
        copy.write(b"".join(pieces))
    return count


def _capture_ddl(conn) -> dict[str, list[str]]:
    """Statements to drop every key, index and foreign key of the bulk tables (including foreign
    keys of other tables that point at them, e.g. consents -> citizens), and to re-create them
    exactly as pg_get_constraintdef / pg_get_indexdef render them."""
    tables = list(pgcopy.TABLES)
    keys = conn.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('p', 'u') ORDER BY conrelid, conname",
        (tables,),
    ).fetchall()
    fks = conn.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype = 'f' AND (conrelid = ANY(%s::regclass[]) OR confrelid = ANY(%s::regclass[])) "
        "ORDER BY conrelid, conname",
        (tables, tables),
    ).fetchall()
    indexes = conn.execute(
        "SELECT indrelid::regclass::text, indexrelid::regclass::text, pg_get_indexdef(indexrelid) "
        "FROM pg_index i "
        "WHERE indrelid = ANY(%s::regclass[]) AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
        "WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x')) ORDER BY indrelid, indexrelid",
        (tables,),
    ).fetchall()
    drop = [f"ALTER TABLE {t} DROP CONSTRAINT {name}" for t, name, _ in fks]
    drop += [f"ALTER TABLE {t} DROP CONSTRAINT {name}" for t, name, _ in keys]
    drop += [f"DROP INDEX {name}" for _, name, _ in indexes]
    create = [f"ALTER TABLE {t} ADD CONSTRAINT {name} {definition}" for t, name, definition in keys]
    create += [definition for _, _, definition in indexes]
    foreign = [f"ALTER TABLE {t} ADD CONSTRAINT {name} {definition}" for t, name, definition in fks]
    return {"drop": drop, "create": create, "foreign_keys": foreign}
