"""The scale bench's sample citizens: made through the real code, with real encryption, in a
scratch in-memory SQLite database, then kept as ready-to-COPY rows (the bulk load spreads them
through the national load, and they are the ones read back) together with what their values look
like, attribute by attribute (the synthetic profiles copy those sizes and provenances).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select

from app.extensions import Runtime
from core import migrate
from core.clock import utcnow
from core.db import Base, make_engine
from core.uinfin import demo_uinfin
from profile_store.citizens import create_citizen

from . import pgcopy
from .seeding import bench_config, close_runtime, store_full_profile


@dataclass
class SampleSet:
    """Real citizens made in a scratch database: their COPY rows and what their values look like."""

    ids: list[str] = field(default_factory=list)
    rows: dict[str, dict[str, list[bytes]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )
    fields: dict[str, list[tuple]] = field(default_factory=lambda: defaultdict(list))
    declared: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    citizen_sizes: list[tuple[int, int]] = field(default_factory=list)
    dek_kid: str = ""


def create_real(runtime: Runtime, indices: list[int]) -> list[str]:
    """Citizens made by the real code (their full profile, real encryption), one transaction
    each, as the app makes them; their ids."""
    ids = []
    for n in indices:
        uinfin = demo_uinfin(n)
        now = utcnow()
        with runtime.sessions() as session, session.begin():
            citizen = create_citizen(session, vault=runtime.vault, uinfin=uinfin, now=now)
            store_full_profile(session, runtime, citizen, uinfin, now)
            ids.append(citizen.id)
    return ids


def sample_citizens(indices: list[int]) -> SampleSet:
    engine = make_engine("sqlite://")
    migrate.upgrade(engine)
    runtime = Runtime.build(bench_config("sqlite://"), engine)
    sample = SampleSet()
    sample.ids.extend(create_real(runtime, indices))
    tables = Base.metadata.tables
    with engine.connect() as conn:
        for table in pgcopy.TABLES:
            columns = [tables[table].c[name] for name, _ in pgcopy.COLUMNS[table]]
            key = tables[table].c["id" if table == "citizens" else "citizen_id"]
            for row in conn.execute(select(*columns)):
                values = row._mapping
                citizen_id = values[key.name]
                sample.rows[citizen_id][table].append(pgcopy.encode_mapping(table, values))
                if table == "profile_fields":
                    ct = values["ciphertext"]
                    sample.fields[values["attribute"]].append(
                        (
                            values["agency"],
                            values["source"],
                            values["lastupdated"],
                            values["unavailable"],
                            None if ct is None else len(ct),
                        )
                    )
                elif table == "declarations":
                    sample.declared[values["attribute"]].append(len(values["ciphertext"]))
                elif table == "citizens":
                    sample.citizen_sizes.append(
                        (len(values["uinfin_ciphertext"]), len(values["dek_wrapped"]))
                    )
                    sample.dek_kid = values["dek_kid"]
    close_runtime(runtime)
    return sample
