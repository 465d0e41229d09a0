"""Configuration, read from the environment once, by `Config.from_env()` (never at import time).

Every secret has a demo default so the demo runs on a fresh machine; production mode refuses to
start while any secret is a published demo value or too weak (app/config_checks.py says how each
is judged), listing every problem at once; `consentry check-config` prints the same verdicts.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agency_connectors.base import AgencyEndpoint
from audit.witness_client import parse_witnesses
from core.errors import ConfigurationError

from .config_checks import (
    HOW_TO_GENERATE,
    Verdict,
    audit_key_problems,
    key_problems,
    master_key_problems,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
AGENCY_CODES = ("identity", "tax", "pension", "housing", "transport", "employment", "education", "family")

DEMO_SECRET_KEY = "demo-only-secret-key-change-me"  # noqa: S105 - refused in production
DEMO_MASTER_KEYS = "demo-2026:ZGVtby1vbmx5LW1hc3Rlci1rZXktMzItYnl0ZXMhISE"
DEMO_LOOKUP_KEY = "demo-only-lookup-key"
# Published demo audit key (Ed25519, PKCS8 PEM); production refuses it.
DEMO_AUDIT_SIGNING_KEY = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIAL22kqczLpz980jFMfc3TvAJUIxATvq3eYw+fCiiVDK\n"
    "-----END PRIVATE KEY-----\n"
)
# Variables Consentry no longer reads; production refuses to start while one is set, so nobody
# believes it still protects anything. OPERATOR_PASSWORD: staff have their own accounts now.
RETIRED_VARIABLES = {
    "OPERATOR_PASSWORD": "staff sign in with their own accounts now (consentry staff add NAME --role admin)",
    "AUDITOR_SESSION_IDLE_S": "auditors are staff now: OPERATOR_SESSION_IDLE_S applies",
    "AUDITOR_SESSION_MAX_S": "auditors are staff now: OPERATOR_SESSION_MAX_S applies",
}


def demo_agency_key(code: str) -> str:
    return f"demo-{code}-key"


def demo_notify_secret(code: str) -> str:
    return f"demo-{code}-notify-secret"


@dataclass(frozen=True)
class Config:
    env: str = "development"
    database_url: str = f"sqlite:///{PROJECT_ROOT / 'instance' / 'consentry.db'}"
    # PostgreSQL: the tables' owner migrates (`db upgrade`, the demo); the app connects as a role
    # that may not switch the audit guard off (docs/operations.md). Unset: DATABASE_URL migrates.
    migration_database_url: str | None = None
    # The app's role, granted its privileges after every upgrade (`db grant` on demand).
    app_db_role: str | None = None
    secret_key: str = DEMO_SECRET_KEY
    master_keys: str = DEMO_MASTER_KEYS
    active_master_kid: str | None = None
    lookup_key: str = DEMO_LOOKUP_KEY
    retired_set: tuple[str, ...] = ()  # RETIRED_VARIABLES found in the environment
    catalogue_path: str | None = None
    audit_signing_key: str = DEMO_AUDIT_SIGNING_KEY
    audit_log_id: str = "consentry-demo"
    # The checkpoint notes' origin line and key name (docs/audit.md); unset: the host of
    # PUBLIC_BASE_URL followed by /disclosures (the `audit_log_origin_or_default` property).
    audit_log_origin: str = ""
    audit_checkpoint_every: int = 1000
    # How often the background signer signs at most (`consentry audit checkpoint --every`); the
    # citizen's proof page says by when an entry not yet under a checkpoint will be.
    audit_checkpoint_interval_s: float = 5.0
    # Witnesses that cosign our checkpoints: "<URL prefix> <witness key>" entries separated by ";"
    # (audit/witness_client.py), and how many cosignatures `audit verify` needs (docs/audit.md).
    audit_witnesses: str = ""
    audit_witness_quorum: int = 1
    # How entries reach the Merkle tree (docs/audit.md, "Batched integration"): "inline" (each
    # append takes the head's row lock and is in the tree at once) or "batched" (appends only
    # queue; `consentry audit integrate --every` folds them in, at most AUDIT_INTEGRATE_EVERY_S
    # apart, and `audit verify` fails on an entry queued longer than AUDIT_MAX_MERGE_DELAY_S).
    audit_integration: str = "inline"
    audit_integrate_every_s: float = 0.1
    audit_max_merge_delay_s: float = 60.0
    agencies: tuple[AgencyEndpoint, ...] = field(
        default_factory=lambda: default_agencies("http://127.0.0.1:8700")
    )
    agency_timeout_s: float = 2.0
    agency_retries: int = 2
    agency_backoff_s: float = 0.05
    breaker_threshold: int = 5
    breaker_reset_s: float = 30.0
    notify_max_skew_s: int = 300
    refresh_concurrency: int = 64
    # Sign-in throttling (citizens, operators, auditors): attempts per national id, reset by a
    # successful sign-in, and attempts per client address; see docs/identity.md.
    sign_in_account_limit: int = 5
    sign_in_account_window_s: int = 15 * 60
    sign_in_ip_limit: int = 30
    sign_in_ip_window_s: int = 60
    # Reverse proxies in front of the app that append the client address to X-Forwarded-For.
    trusted_proxy_hops: int = 0
    # Where agency apps reach us: the canonical base of `aud`, `htu` and `iss` (spec section 7).
    public_base_url: str = "http://127.0.0.1:5000"
    # The IANA zone every time a person reads is shown in (app/display_time.py); stored times are UTC.
    display_timezone: str = "Asia/Singapore"
    # The jurisdiction consent receipts name (consent/receipts.py): an ISO 3166 code.
    receipt_jurisdiction: str = "SG"
    # Citizens' notices (docs/operations.md, "Notices"): the SMTP relay, the sender, the timeout.
    smtp_url: str = "smtp://127.0.0.1:8025"
    mail_from: str = "Consentry <no-reply@consentry.localhost>"
    smtp_timeout_s: float = 10.0
    # Shared state for several app servers (replay caches, rate limits); the database when unset.
    redis_url: str | None = None
    # Bearer token for /metrics; unset: only loopback clients may read it (docs/operations.md).
    metrics_token: str | None = None
    authorization_code_ttl_s: int = 300
    access_token_ttl_s: int = 1800
    # Person calls refresh fields older than this from their agencies first, within the budget.
    person_refresh_max_age_s: int = 24 * 3600
    person_refresh_budget_s: float = 1.5
    # Token requests per client per minute, across every app server (REDIS_URL or the database).
    token_rate_limit: int = 1200
    # Failed client authentications per client address and window, token and PAR endpoints of
    # both profiles: room for an app being set up to get its keys right, none for a flood of junk.
    client_auth_failure_limit: int = 30
    client_auth_failure_window_s: int = 60
    # Myinfo v5 (FAPI 2.0): accept only the issuer as a client assertion's `aud`, not also the URL
    # of the endpoint it was sent to (docs/integration-v4.md, "Myinfo v5").
    fapi_strict_aud: bool = False
    # How long an app's JWKS fetched from its jwks_uri is trusted before it is fetched again. The
    # Myinfo v5 spec says an hour (§10, §12.2): apps rotate by publishing a new signing key an hour
    # before using it and by decrypting with the old encryption key for an hour, which is only
    # safe while our cache is no longer than that. An unknown kid still refetches (throttled).
    client_jwks_ttl_s: float = 3600.0
    # Signed-in sessions, per role: ended after this long unused (idle) and this long after sign-in
    # however busy (absolute); see docs/identity.md, "Sessions".
    citizen_session_idle_s: int = 15 * 60
    citizen_session_max_s: int = 30 * 60
    operator_session_idle_s: int = 15 * 60
    operator_session_max_s: int = 8 * 3600
    testing: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, check: bool = True) -> Config:
        """The configuration the environment describes; `check=False` returns it unchecked (for
        `consentry check-config`, which reports every verdict instead of stopping at a refusal)."""
        env = os.environ if environ is None else environ
        base = env.get("AGENCY_BASE_URL", "http://127.0.0.1:8700")
        config = cls(
            env=env.get("CONSENTRY_ENV", "development"),
            database_url=env.get("DATABASE_URL", cls.database_url),
            migration_database_url=env.get("MIGRATION_DATABASE_URL") or None,
            app_db_role=env.get("APP_DB_ROLE") or None,
            secret_key=env.get("SECRET_KEY", DEMO_SECRET_KEY),
            master_keys=env.get("MASTER_KEYS", DEMO_MASTER_KEYS),
            active_master_kid=env.get("ACTIVE_MASTER_KID") or None,
            lookup_key=env.get("LOOKUP_KEY", DEMO_LOOKUP_KEY),
            retired_set=tuple(name for name in RETIRED_VARIABLES if env.get(name)),
            catalogue_path=env.get("CATALOGUE_PATH") or None,
            audit_signing_key=env.get("AUDIT_SIGNING_KEY", DEMO_AUDIT_SIGNING_KEY),
            audit_log_id=env.get("AUDIT_LOG_ID", "consentry-demo"),
            audit_log_origin=env.get("AUDIT_LOG_ORIGIN", "").strip(),
            audit_checkpoint_every=int(env.get("AUDIT_CHECKPOINT_EVERY", cls.audit_checkpoint_every)),
            audit_checkpoint_interval_s=float(
                env.get("AUDIT_CHECKPOINT_INTERVAL_S", cls.audit_checkpoint_interval_s)
            ),
            audit_witnesses=env.get("AUDIT_WITNESSES", ""),
            audit_witness_quorum=int(env.get("AUDIT_WITNESS_QUORUM", cls.audit_witness_quorum)),
            audit_integration=env.get("AUDIT_INTEGRATION", cls.audit_integration).strip().lower(),
            audit_integrate_every_s=float(env.get("AUDIT_INTEGRATE_EVERY_S", cls.audit_integrate_every_s)),
            audit_max_merge_delay_s=float(env.get("AUDIT_MAX_MERGE_DELAY_S", cls.audit_max_merge_delay_s)),
            agencies=tuple(
                AgencyEndpoint(
                    code=code,
                    url=env.get(f"AGENCY_URL_{code.upper()}", f"{base.rstrip('/')}/{code}"),
                    api_key=env.get(f"AGENCY_KEY_{code.upper()}", demo_agency_key(code)),
                    notify_secret=env.get(f"AGENCY_NOTIFY_SECRET_{code.upper()}", demo_notify_secret(code)),
                )
                for code in AGENCY_CODES
            ),
            agency_timeout_s=float(env.get("AGENCY_TIMEOUT_S", cls.agency_timeout_s)),
            agency_retries=int(env.get("AGENCY_RETRIES", cls.agency_retries)),
            sign_in_account_limit=int(env.get("SIGN_IN_ACCOUNT_LIMIT", cls.sign_in_account_limit)),
            sign_in_account_window_s=int(env.get("SIGN_IN_ACCOUNT_WINDOW_S", cls.sign_in_account_window_s)),
            sign_in_ip_limit=int(env.get("SIGN_IN_IP_LIMIT", cls.sign_in_ip_limit)),
            sign_in_ip_window_s=int(env.get("SIGN_IN_IP_WINDOW_S", cls.sign_in_ip_window_s)),
            trusted_proxy_hops=int(env.get("TRUSTED_PROXY_HOPS", cls.trusted_proxy_hops)),
            client_auth_failure_limit=int(
                env.get("CLIENT_AUTH_FAILURE_LIMIT", cls.client_auth_failure_limit)
            ),
            client_auth_failure_window_s=int(
                env.get("CLIENT_AUTH_FAILURE_WINDOW_S", cls.client_auth_failure_window_s)
            ),
            public_base_url=env.get("PUBLIC_BASE_URL", cls.public_base_url).rstrip("/"),
            redis_url=env.get("REDIS_URL") or None,
            metrics_token=env.get("METRICS_TOKEN") or None,
            person_refresh_max_age_s=int(env.get("PERSON_REFRESH_MAX_AGE_S", cls.person_refresh_max_age_s)),
            person_refresh_budget_s=float(env.get("PERSON_REFRESH_BUDGET_S", cls.person_refresh_budget_s)),
            fapi_strict_aud=env.get("FAPI_STRICT_AUD", "0").strip().lower() in ("1", "true", "yes"),
            client_jwks_ttl_s=float(env.get("CLIENT_JWKS_TTL_S", cls.client_jwks_ttl_s)),
            display_timezone=env.get("DISPLAY_TIMEZONE", cls.display_timezone).strip(),
            receipt_jurisdiction=env.get("RECEIPT_JURISDICTION", cls.receipt_jurisdiction).strip(),
            smtp_url=env.get("SMTP_URL", cls.smtp_url).strip(),
            mail_from=env.get("MAIL_FROM", cls.mail_from).strip(),
            smtp_timeout_s=float(env.get("SMTP_TIMEOUT_S", cls.smtp_timeout_s)),
            citizen_session_idle_s=int(env.get("CITIZEN_SESSION_IDLE_S", cls.citizen_session_idle_s)),
            citizen_session_max_s=int(env.get("CITIZEN_SESSION_MAX_S", cls.citizen_session_max_s)),
            operator_session_idle_s=int(env.get("OPERATOR_SESSION_IDLE_S", cls.operator_session_idle_s)),
            operator_session_max_s=int(env.get("OPERATOR_SESSION_MAX_S", cls.operator_session_max_s)),
        )
        if check:
            config.check()
        return config

    def replace(self, **changes) -> Config:
        return dataclasses.replace(self, **changes)

    @property
    def audit_log_origin_or_default(self) -> str:
        """AUDIT_LOG_ORIGIN, else e.g. `consent.example.gov/disclosures` from PUBLIC_BASE_URL."""
        return self.audit_log_origin or f"{urlsplit(self.public_base_url).netloc.lower()}/disclosures"

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def loopback_webhooks(self) -> bool:
        """Whether an app's webhook may be plain http to 127.0.0.1 or localhost: outside
        production only (a developer's own machine), for the admin page and the CLI alike."""
        return not self.production

    def check(self) -> None:
        """Refuse, naming each variable: in every mode an unknown mode, a negative JWKS TTL or a
        blank SECRET_KEY (Flask cannot sign a session with it); in production, every weak or
        published secret at once (`secret_verdicts`)."""
        if self.env not in ("development", "production"):
            raise ConfigurationError(f"CONSENTRY_ENV must be development or production, not {self.env!r}")
        if self.client_jwks_ttl_s < 0:
            raise ConfigurationError("CLIENT_JWKS_TTL_S must be 0 or more seconds")
        if not _known_zone(self.display_timezone):
            raise ConfigurationError(
                "DISPLAY_TIMEZONE must be an IANA time zone such as Asia/Singapore, "
                f"not {self.display_timezone!r}"
            )
        if self.production and self.retired_set:
            raise ConfigurationError(
                "production mode refuses variables Consentry no longer reads; unset them:\n  "
                + "\n  ".join(f"{name}: {RETIRED_VARIABLES[name]}" for name in self.retired_set)
            )
        if self.production and (refused := [v.line() for v in self.secret_verdicts() if not v.ok]):
            raise ConfigurationError(
                "production mode refuses weak or published secrets (see `consentry check-config`):\n  "
                + "\n  ".join(refused)
                + f"\n{HOW_TO_GENERATE}"
            )
        if self.audit_integration not in ("inline", "batched"):
            raise ConfigurationError(
                f"AUDIT_INTEGRATION must be inline or batched, not {self.audit_integration!r}"
            )
        if not 0 < self.audit_integrate_every_s < self.audit_max_merge_delay_s:
            raise ConfigurationError(
                "AUDIT_INTEGRATE_EVERY_S must be more than 0 and less than AUDIT_MAX_MERGE_DELAY_S "
                "(the longest an entry may wait for the tree)"
            )
        if not self.secret_key.strip():
            raise ConfigurationError("SECRET_KEY is empty: sessions cannot be signed; set a random key")
        # Checked here so the pages that read the witness keys (citizen proofs, auditor status)
        # can rely on them; parse_witnesses names a bad entry.
        witnesses = parse_witnesses(self.audit_witnesses)
        if witnesses and not 1 <= self.audit_witness_quorum <= len(witnesses):
            raise ConfigurationError(
                f"AUDIT_WITNESS_QUORUM must be between 1 and the {len(witnesses)} AUDIT_WITNESSES"
            )

    def secret_verdicts(self) -> list[Verdict]:
        """Each secret's verdict as production judges it (app/config_checks.py), OK or its problems;
        development allows the demo's weak secrets."""
        published = (
            DEMO_SECRET_KEY,
            DEMO_LOOKUP_KEY,
            *(demo_agency_key(code) for code in AGENCY_CODES),
            *(demo_notify_secret(code) for code in AGENCY_CODES),
        )
        verdicts = [
            Verdict("SECRET_KEY", key_problems(self.secret_key, published)),
            Verdict(
                "MASTER_KEYS",
                master_key_problems(self.master_keys, self.active_master_kid, demo_spec=DEMO_MASTER_KEYS),
            ),
            Verdict("LOOKUP_KEY", key_problems(self.lookup_key, published)),
            Verdict(
                "AUDIT_SIGNING_KEY",
                audit_key_problems(self.audit_signing_key, demo_pem=DEMO_AUDIT_SIGNING_KEY),
            ),
        ]
        if self.metrics_token is not None:  # unset: /metrics answers loopback clients only
            verdicts.append(Verdict("METRICS_TOKEN", key_problems(self.metrics_token, published)))
        for agency in self.agencies:
            code = agency.code.upper()
            verdicts.append(Verdict(f"AGENCY_KEY_{code}", key_problems(agency.api_key, published)))
            verdicts.append(
                Verdict(f"AGENCY_NOTIFY_SECRET_{code}", key_problems(agency.notify_secret, published))
            )
        return verdicts


def default_agencies(base_url: str) -> tuple[AgencyEndpoint, ...]:
    return tuple(
        AgencyEndpoint(
            code, f"{base_url.rstrip('/')}/{code}", demo_agency_key(code), demo_notify_secret(code)
        )
        for code in AGENCY_CODES
    )


def _known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True
