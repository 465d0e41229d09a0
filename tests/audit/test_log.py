"""The stored audit log: append path, proofs, append-only triggers, tamper detection, concurrency."""

import json
import threading

import pytest
from sqlalchemy import bindparam, delete, inspect, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from audit.integrator import integrate_batch
from audit.log import BATCHED, Event, append
from audit.merkle import frontier_of, verify_consistency, verify_inclusion
from audit.models import AuditCheckpoint, AuditEntry, AuditEntryAttribute, AuditHead
from audit.tree import DbNodeStore, create_checkpoint, prove_consistency, prove_inclusion, tree_size
from audit.verify import verify_log
from audit.witness_models import AuditCosignature, AuditWitnessRefusal
from core.db import Base, UTCDateTime, make_session_factory
from core.db_roles import APPEND_ONLY, BATCHED_INTEGRATION
from profile_store.models import Declaration
from tests.factories import make_citizen


def event(n=0, **overrides):
    fields = {
        "kind": "disclosure",
        "citizen_ref": "c" * 64,
        "app_id": f"app-{n % 3}",
        "purpose": "housing-loan",
        "outcome": "released",
        "attributes": ("name", "regadd"),
    }
    return Event(**{**fields, **overrides})


def fill(session, runtime, now, count, every=0):
    return [
        append(session, event(i), now=now, signer=runtime.audit_signer, checkpoint_every=every)
        for i in range(count)
    ]


def drop_guards(session):
    """Tamper tests play the attacker with table-owner rights (marked `as_owner`: the app's role
    may not do this): remove the triggers (rolled back)."""
    if session.bind.dialect.name == "postgresql":
        for table in APPEND_ONLY:
            session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
    else:
        for table in APPEND_ONLY:
            session.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_update"))
            session.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_delete"))


def verify(session, runtime):
    return verify_log(session, public_key=runtime.audit_signer.public_key, batch_size=7)


def test_appends_are_gapless_chained_and_checkpointed(db_session, runtime, now):
    start = tree_size(db_session)
    entries = fill(db_session, runtime, now, 10, every=4)
    assert [e.seq for e in entries] == list(range(start, start + 10))
    body = json.loads(entries[0].body)
    assert body["attributes"] == ["name", "regadd"] and body["seq"] == start
    assert "value" not in entries[0].body
    sizes = [
        c.tree_size
        for c in db_session.scalars(select(AuditCheckpoint).where(AuditCheckpoint.tree_size > start))
    ]
    assert sizes == [s for s in range(start + 1, start + 11) if s % 4 == 0]
    assert verify(db_session, runtime).ok


def test_an_entry_time_is_stored_as_the_orm_stores_every_other_time(db_session, runtime, now):
    """The append writes past the ORM; its time must still compare with times the ORM binds (the
    keyset cursor of history and search): same stored text on SQLite, same value on PostgreSQL."""
    [entry] = fill(db_session, runtime, now, 1)
    stored = db_session.execute(
        text("SELECT recorded_at FROM audit_entries WHERE seq = :seq"), {"seq": entry.seq}
    ).scalar_one()
    if db_session.bind.dialect.name == "sqlite":
        assert stored == now.strftime("%Y-%m-%d %H:%M:%S.%f")
    same = select(AuditEntry.seq).where(AuditEntry.seq == entry.seq, AuditEntry.recorded_at == now)
    assert db_session.scalar(same) == entry.seq


def test_inclusion_and_consistency_proofs_verify_against_checkpoints(db_session, runtime, now):
    fill(db_session, runtime, now, 9)
    first = create_checkpoint(db_session, signer=runtime.audit_signer, now=now)
    fill(db_session, runtime, now, 6)
    second = create_checkpoint(db_session, signer=runtime.audit_signer, now=now)
    second_root = bytes.fromhex(json.loads(second.body)["root_hash"])
    for seq in (0, first.tree_size - 1, second.tree_size - 1):
        proof = prove_inclusion(db_session, seq=seq, size=second.tree_size)
        assert verify_inclusion(
            bytes.fromhex(proof["leaf_hash"]),
            seq,
            second.tree_size,
            [bytes.fromhex(h) for h in proof["audit_path"]],
            second_root,
        )
    proof = prove_consistency(db_session, first=first.tree_size, second=second.tree_size)
    assert verify_consistency(
        first.tree_size,
        second.tree_size,
        bytes.fromhex(json.loads(first.body)["root_hash"]),
        second_root,
        [bytes.fromhex(h) for h in proof["consistency_path"]],
    )


# What each append-only table's row is changed to, by the statements below: (column, new value).
CHANGE = {
    "audit_entries": ("outcome", "denied"),
    "audit_entry_attributes": ("attribute", "forged"),  # key columns only: rewritten as themselves
    "audit_tree_nodes": ("hash", bytes(32)),
    "audit_checkpoints": ("signature", "x" * 86),
    "audit_cosignatures": ("signature", "x" * 104),
    "audit_witness_refusals": ("reason", "forged"),
    "audit_leaves": ("chain_hash", bytes(32)),
    "audit_queue": ("seq", 10**12),  # its one column: moved to an entry that does not exist
}
# Batched integration's tables (migration 0032): the leaves are append-only; a queue row may leave
# only once its entry has a leaf, so every statement is tried on the row of an entry still queued.
GUARDED = (*APPEND_ONLY, *BATCHED_INTEGRATION)
REFUSED = ("append-only", "only an integrated entry leaves the queue")
# Every way each backend offers to change or remove an existing row. `ignore` statements may pass,
# but must leave the row as it was.
WRITES = {
    "sqlite": {
        "update": "UPDATE {t} SET {set} WHERE {key}",
        "delete": "DELETE FROM {t} WHERE {key}",
        "insert": "INSERT INTO {t} ({cols}) VALUES ({values})",
        "insert-or-replace": "INSERT OR REPLACE INTO {t} ({cols}) VALUES ({values})",
        "replace-into": "REPLACE INTO {t} ({cols}) VALUES ({values})",
        "upsert": "INSERT INTO {t} ({cols}) VALUES ({values}) ON CONFLICT ({keys}) DO UPDATE SET {set}",
        "insert-or-ignore": "INSERT OR IGNORE INTO {t} ({cols}) VALUES ({values})",
        "update-or-replace": "UPDATE OR REPLACE {t} SET {set} WHERE {key}",
    },
    "postgresql": {
        "update": "UPDATE {t} SET {set} WHERE {key}",
        "delete": "DELETE FROM {t} WHERE {key}",
        "truncate": "TRUNCATE {t} CASCADE",
        "insert": "INSERT INTO {t} ({cols}) VALUES ({values})",
        "upsert": "INSERT INTO {t} ({cols}) VALUES ({values}) ON CONFLICT ({keys}) DO UPDATE SET {set}",
        "on-conflict-do-nothing": "INSERT INTO {t} ({cols}) VALUES ({values}) ON CONFLICT DO NOTHING",
        # MERGE (PostgreSQL 15) fires the row triggers of the actions it takes.
        "merge-update": "MERGE INTO {t} USING (SELECT 1) AS s ON {key} WHEN MATCHED THEN UPDATE SET {set}",
        "merge-delete": "MERGE INTO {t} USING (SELECT 1) AS s ON {key} WHEN MATCHED THEN DELETE",
    },
}
IGNORING = {"insert-or-ignore", "on-conflict-do-nothing"}


def audit_row(session, runtime, now, table):
    """The primary key and values of one existing row of `table`."""
    fill(session, runtime, now, 3)
    checkpoint = create_checkpoint(session, signer=runtime.audit_signer, now=now)
    witness = "witness.example/w1"
    session.add(AuditCosignature(tree_size=checkpoint.tree_size, witness=witness, signature="A" * 104,
                                 cosigned_at=now, received_at=now))  # fmt: skip
    session.add(AuditWitnessRefusal(witness=witness, tree_size=checkpoint.tree_size, witness_size=None,
                                    status=422, reason="inconsistent", occurred_at=now))  # fmt: skip
    if table in BATCHED_INTEGRATION:  # a leaf made by the integrator, then an entry left queued
        append(session, event(), now=now, integration=BATCHED)
        integrate_batch(session)
        append(session, event(), now=now, integration=BATCHED)
    session.flush()
    columns = Base.metadata.tables[table].c
    key_columns = [c for c in columns if c.primary_key]
    row = session.execute(select(*columns).order_by(*(c.desc() for c in key_columns)).limit(1)).one()
    return {c.name: row._mapping[c.name] for c in key_columns}, dict(row._mapping)


def write_statement(dialect, statement, table, key, row):
    column, new = CHANGE[table]
    quoted = {name: f'"{name}"' for name in row}  # "index" is a keyword
    inserted = {**row, **({} if column in key else {column: new})}
    sql = WRITES[dialect][statement].format(
        t=table,
        set=f"{quoted[column]} = :new",
        key=" AND ".join(f"{quoted[k]} = :key_{k}" for k in key),
        keys=", ".join(quoted[k] for k in key),
        cols=", ".join(quoted.values()),
        values=", ".join(f":value_{name}" for name in row),
    )
    params = {"new": new, **{f"key_{k}": v for k, v in key.items()}}
    params |= {f"value_{name}": value for name, value in inserted.items()}
    params = {name: value for name, value in params.items() if f":{name}" in sql}
    # Typed, so a datetime is stored as the app stores it.
    typed = [bindparam(name, type_=UTCDateTime()) for name in params if name.endswith("_at")]
    return text(sql).bindparams(*typed), params


@pytest.mark.as_owner  # the triggers guard even the owner; the app's role is refused by its grants
@pytest.mark.parametrize("table", GUARDED)
@pytest.mark.parametrize("statement", sorted({s for writes in WRITES.values() for s in writes}))
def test_the_database_refuses_every_rewrite_of_an_audit_row(db_session, runtime, now, table, statement):
    """Migration 0003's UPDATE/DELETE triggers, plus 0014's on SQLite, where INSERT OR REPLACE
    deletes the old row without firing DELETE triggers; 0029's on the witness tables, 0032's on
    batched integration's. Every table of core.db_roles.APPEND_ONLY and BATCHED_INTEGRATION, which
    tests/audit/test_append_only_guard.py ties to the database's audit_* tables: a new guarded
    table needs a CHANGE here, so it is tried too."""
    dialect = db_session.bind.dialect.name
    if statement not in WRITES[dialect]:
        pytest.skip(f"{statement} is not a {dialect} statement")
    key, before = audit_row(db_session, runtime, now, table)
    sql, params = write_statement(dialect, statement, table, key, before)
    try:
        with db_session.begin_nested():
            db_session.execute(sql, params)
    except DBAPIError as exc:
        # A plain INSERT may also meet the primary key first.
        refused = any(reason in str(exc.orig) for reason in REFUSED)
        assert refused or (statement == "insert" and isinstance(exc, IntegrityError)), str(exc.orig)
    else:
        assert statement in IGNORING, f"{statement} on {table} was not refused"
    where = [Base.metadata.tables[table].c[k] == v for k, v in key.items()]
    after = db_session.execute(select(*Base.metadata.tables[table].c).where(*where)).one_or_none()
    assert after is not None and dict(after._mapping) == before


def unique_keys_beside_the_primary_key(connection, table):
    """Every unique key of `table` other than its primary key, as the database has it (the
    migrations, not the models): a replacing insert may conflict on any of them."""
    inspector = inspect(connection)
    primary = tuple(inspector.get_pk_constraint(table)["constrained_columns"])
    keys = {tuple(c["column_names"]) for c in inspector.get_unique_constraints(table)}
    keys |= {tuple(i["column_names"]) for i in inspector.get_indexes(table) if i["unique"]}
    return primary, sorted(keys - {primary})


def _fresh(value):
    """A primary-key value no row has: the row below then conflicts on the other key only."""
    if isinstance(value, int):
        return value + 10**12
    return f"{value}-replaced"


@pytest.mark.as_owner
@pytest.mark.parametrize("table", GUARDED)
def test_a_replacing_insert_on_any_unique_key_is_refused(db_session, runtime, now, table):
    """INSERT OR REPLACE (SQLite) and ON CONFLICT DO UPDATE (both) resolve a conflict on any unique
    key, not just the primary key: a row with a new primary key and another key of an existing
    row would replace that row without a DELETE trigger firing (audit_leaves' seq, until 0033)."""
    connection = db_session.connection()
    dialect = connection.dialect.name
    primary, others = unique_keys_beside_the_primary_key(connection, table)
    if not others:
        pytest.skip(f"{table} has no unique key beside its primary key")
    key, before = audit_row(db_session, runtime, now, table)
    for unique in others:
        row = {**before, **{k: _fresh(before[k]) for k in primary if k not in unique}}
        cols = ", ".join(f'"{name}"' for name in row)
        values = ", ".join(f":{name}" for name in row)
        # Names from the database's own schema, values bound.
        insert = f"INSERT INTO {table} ({cols}) VALUES ({values})"  # noqa: S608
        statements = [f"{insert} ON CONFLICT ({', '.join(unique)}) "
                      f'DO UPDATE SET "{primary[0]}" = excluded."{primary[0]}"']  # fmt: skip
        if dialect == "sqlite":
            statements.append(insert.replace("INSERT", "INSERT OR REPLACE", 1))
        typed = [bindparam(name, type_=UTCDateTime()) for name in row if name.endswith("_at")]
        for sql in statements:
            with pytest.raises(DBAPIError) as refused, db_session.begin_nested():
                db_session.execute(text(sql).bindparams(*typed), row)
            assert any(reason in str(refused.value.orig) for reason in REFUSED), str(refused.value.orig)
    where = [Base.metadata.tables[table].c[k] == v for k, v in key.items()]
    after = db_session.execute(select(*Base.metadata.tables[table].c).where(*where)).one_or_none()
    assert after is not None and dict(after._mapping) == before


def tamper_body(session, seq):
    row = session.get(AuditEntry, seq)
    body = json.loads(row.body)
    body["outcome"] = "denied"
    session.execute(
        update(AuditEntry)
        .where(AuditEntry.seq == seq)
        .values(body=json.dumps(body, separators=(",", ":"), sort_keys=True))
    )


def swap_rows(session, a, b):
    first, second = session.get(AuditEntry, a), session.get(AuditEntry, b)
    values = [(e.body, e.leaf_hash, e.chain_hash) for e in (first, second)]
    for seq, (body, leaf, chain) in ((a, values[1]), (b, values[0])):
        session.execute(
            update(AuditEntry)
            .where(AuditEntry.seq == seq)
            .values(body=body, leaf_hash=leaf, chain_hash=chain)
        )


def delete_entries(session, where):
    seqs = select(AuditEntry.seq).where(where).scalar_subquery()
    session.execute(delete(AuditEntryAttribute).where(AuditEntryAttribute.seq.in_(seqs)))
    session.execute(delete(AuditEntry).where(where))


@pytest.mark.as_owner  # an attacker with the owner's rights
@pytest.mark.parametrize(
    ("attack", "position", "problem"),
    [
        (lambda s, base: tamper_body(s, base + 5), 5, "leaf hash mismatch"),
        (lambda s, base: delete_entries(s, AuditEntry.seq == base + 3), 3, "gap"),
        (lambda s, base: swap_rows(s, base + 2, base + 6), 2, "names another seq"),
        (lambda s, base: delete_entries(s, AuditEntry.seq >= base + 10), 10, "truncated"),
    ],
    ids=["tampered", "deleted", "reordered", "truncated-tail"],
)
def test_tampering_is_detected_at_the_exact_position(db_session, runtime, now, attack, position, problem):
    base = tree_size(db_session)
    fill(db_session, runtime, now, 12)
    create_checkpoint(db_session, signer=runtime.audit_signer, now=now)
    assert verify(db_session, runtime).ok
    drop_guards(db_session)
    attack(db_session, base)
    db_session.expire_all()
    report = verify(db_session, runtime)
    assert not report.ok
    assert problem in report.first.problem
    assert report.first.seq == base + position


def test_the_head_keeps_the_trees_frontier_and_a_wrong_one_is_reported(db_session, runtime, now):
    fill(db_session, runtime, now, 11)
    head = db_session.execute(select(AuditHead.next_seq, AuditHead.frontier)).one()
    assert head.frontier == frontier_of(DbNodeStore(db_session), head.next_seq)
    assert verify(db_session, runtime).ok
    db_session.execute(update(AuditHead).values(frontier=bytes(32) + head.frontier[32:]))
    db_session.expire_all()
    report = verify(db_session, runtime)
    assert not report.ok and "frontier" in report.first.problem


@pytest.mark.as_owner  # an attacker with the owner's rights
def test_forged_or_swapped_checkpoints_are_detected(db_session, runtime, now):
    fill(db_session, runtime, now, 5)
    made = create_checkpoint(db_session, signer=runtime.audit_signer, now=now)
    drop_guards(db_session)
    body = json.loads(made.body)
    body["root_hash"] = "00" * 32
    db_session.execute(
        update(AuditCheckpoint)
        .where(AuditCheckpoint.tree_size == made.tree_size)
        .values(body=json.dumps(body))
    )
    db_session.expire_all()
    report = verify(db_session, runtime)
    assert "signature invalid" in report.first.problem and report.first.seq == made.tree_size - 1


def test_a_failed_audit_write_fails_the_callers_transaction(sessions, runtime, now):
    """No audit entry, no data: break the append (point the head at a sequence number already
    taken) and the caller's write in the same transaction is gone too."""
    with sessions() as session:
        citizen = make_citizen(session, runtime.vault)
        fill(session, runtime, now, 1)
        back = (
            tree_size(session) - 1
        )  # with the frontier of that size, so the append gets as far as the insert
        session.execute(
            update(AuditHead).values(next_seq=back, frontier=frontier_of(DbNodeStore(session), back))
        )
        session.commit()
    with sessions() as session:
        session.add(
            Declaration(citizen_id=citizen.id, attribute="email", ciphertext=b"x", version=1, declared_at=now)
        )
        with pytest.raises(DBAPIError):
            append(session, event(), now=now)
            session.commit()
        session.rollback()
        assert session.get(Declaration, (citizen.id, "email")) is None


def test_eight_concurrent_writers_make_one_gapless_fork_free_chain(engine, runtime, now):
    writers = make_session_factory(engine, writer=True)
    per_writer, errors = 15, []

    def work():
        try:
            for _ in range(per_writer):
                with writers() as session, session.begin():
                    append(session, event(), now=now, signer=runtime.audit_signer, checkpoint_every=10)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    with writers() as session:
        before = tree_size(session)
    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with writers() as session:
        assert tree_size(session) == before + 8 * per_writer
        seqs = list(
            session.scalars(select(AuditEntry.seq).where(AuditEntry.seq >= before).order_by(AuditEntry.seq))
        )
        assert seqs == list(range(before, before + 8 * per_writer))
        assert verify_log(session, public_key=runtime.audit_signer.public_key).ok
