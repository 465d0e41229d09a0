"""Extensions, created unbound and bound in create_app, plus the per-app runtime (database,
catalogue, vault, agency connectors) and the per-request database session."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, g, has_request_context, request
from flask_wtf import CSRFProtect
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from agency_connectors.registry import ConnectorRegistry
from app.oauth.jwks import JwksCache
from app.oauth.platform import PlatformKeys
from app.oauth.replay import DbReplayCache, ReplayCache, replay_cache_for
from audit.signer import AuditSigner
from core.background import BackgroundJobs
from core.crypto.keyring import MasterKeyring
from core.db import make_engine, make_session_factory
from core.rate_limit import DbRateLimiter, RateLimiter, rate_limiter_for
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
    # Use cases that append to the audit log open their transaction as writers (BEGIN IMMEDIATE
    # on SQLite), so concurrent requests queue instead of failing on a lock upgrade.
    writer_sessions: sessionmaker[Session]
    platform_keys: PlatformKeys
    replay: ReplayCache
    client_jwks: JwksCache
    rate_limiter: RateLimiter
    # Work a request starts and does not wait for: a citizen's "Refresh my record now".
    background: BackgroundJobs

    @classmethod
    def build(cls, config: Config, engine: Engine | None = None) -> Runtime:
        engine = engine or make_engine(config.database_url)
        catalogue = load_catalogue(config.catalogue_path) if config.catalogue_path else default_catalogue()
        keyring = MasterKeyring.from_spec(config.master_keys, config.active_master_kid)
        sessions = make_session_factory(engine)
        writer_sessions = make_session_factory(engine, writer=True)
        return cls(
            config=config,
            engine=engine,
            sessions=sessions,
            catalogue=catalogue,
            vault=Vault(keyring, config.lookup_key),
            connectors=ConnectorRegistry.from_config(config, catalogue),
            audit_signer=AuditSigner.from_pem(
                config.audit_log_id, config.audit_signing_key, config.audit_log_origin_or_default
            ),
            writer_sessions=writer_sessions,
            platform_keys=PlatformKeys(sessions, keyring, writer_sessions=writer_sessions),
            replay=replay_cache_for(config.redis_url, sessions),
            client_jwks=JwksCache(ttl_s=config.client_jwks_ttl_s),
            rate_limiter=rate_limiter_for(config.redis_url, sessions),
            background=BackgroundJobs(workers=2, name="citizen-refresh"),
        )

    def use_sessions(self, sessions: sessionmaker[Session]) -> None:
        """Route every session through `sessions` (tests bind them to one connection)."""
        self.sessions = self.writer_sessions = sessions
        self.platform_keys.sessions = self.platform_keys.writer_sessions = sessions
        if isinstance(self.replay, DbReplayCache):
            self.replay = DbReplayCache(sessions)
        if isinstance(self.rate_limiter, DbRateLimiter):
            self.rate_limiter.sessions = sessions

    def close(self) -> None:
        self.background.close()  # before the connectors its jobs use
        self.connectors.close()
        self.client_jwks.close()


def init_runtime(app: Flask, runtime: Runtime) -> None:
    app.extensions["consentry"] = runtime
    app.teardown_appcontext(_close_session)


def runtime() -> Runtime:
    return current_app.extensions["consentry"]


def db(*, write: bool = False) -> Session:
    """The request's session, opened on first use and closed at teardown. Views commit.

    Requests other than GET and HEAD get a writer (BEGIN IMMEDIATE on SQLite), so concurrent
    writers queue instead of failing on a lock upgrade; a GET that writes (an audited search, a
    remembered consent) asks for one with `write=True` on its first call."""
    if "db" not in g:
        rt = runtime()
        writer = write or (has_request_context() and request.method not in ("GET", "HEAD"))
        g.db = (rt.writer_sessions if writer else rt.sessions)()
    return g.db


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()
