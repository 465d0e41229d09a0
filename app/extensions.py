"""Extensions, created unbound and bound in create_app, plus the per-app runtime (database,
catalogue, vault, agency connectors) and the per-request database session."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, g
from flask_wtf import CSRFProtect
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from agency_connectors.registry import ConnectorRegistry
from audit.signer import AuditSigner
from core.crypto.keyring import MasterKeyring
from core.db import make_engine, make_session_factory
from profile_store.catalogue import Catalogue, default_catalogue, load_catalogue
from profile_store.vault import Vault

from .config import Config

csrf = CSRFProtect()


@dataclass
class Runtime:
    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    catalogue: Catalogue
    vault: Vault
    connectors: ConnectorRegistry
    audit_signer: AuditSigner

    @classmethod
    def build(cls, config: Config, engine: Engine | None = None) -> Runtime:
        engine = engine or make_engine(config.database_url)
        catalogue = load_catalogue(config.catalogue_path) if config.catalogue_path else default_catalogue()
        keyring = MasterKeyring.from_spec(config.master_keys, config.active_master_kid)
        return cls(
            config=config,
            engine=engine,
            sessions=make_session_factory(engine),
            catalogue=catalogue,
            vault=Vault(keyring, config.lookup_key),
            connectors=ConnectorRegistry.from_config(config, catalogue),
            audit_signer=AuditSigner.from_pem(config.audit_log_id, config.audit_signing_key),
        )


def init_runtime(app: Flask, runtime: Runtime) -> None:
    app.extensions["consentry"] = runtime
    app.teardown_appcontext(_close_session)


def runtime() -> Runtime:
    return current_app.extensions["consentry"]


def db() -> Session:
    """The request's session, opened on first use and closed at teardown. Views commit."""
    if "db" not in g:
        g.db = runtime().sessions()
    return g.db


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()
