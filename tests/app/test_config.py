import base64
import dataclasses
import functools
import os
import random
import re
import secrets

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from app import create_app
from app.cli import consentry_group
from app.config import AGENCY_CODES, DEMO_AUDIT_SIGNING_KEY, DEMO_MASTER_KEYS, Config
from core.errors import ConfigurationError

# Parametrize ids must be the same in every xdist worker: random-looking values, but fixed.
_FIXED = random.Random(2026)


def fixed_bytes(n: int) -> bytes:
    return _FIXED.randbytes(n)


DEMO_MASTER_KEY = DEMO_MASTER_KEYS.partition(":")[2]


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@functools.cache
def production_env() -> dict[str, str]:
    """Good production settings: random keys, a fresh audit key."""
    pem = Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    env = {
        "CONSENTRY_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(32),
        "LOOKUP_KEY": secrets.token_urlsafe(32),
        "MASTER_KEYS": f"prod-1:{b64url(os.urandom(32))},prod-2:{b64url(os.urandom(32))}",
        "AUDIT_SIGNING_KEY": pem.decode(),
    }
    for code in AGENCY_CODES:
        env[f"AGENCY_KEY_{code.upper()}"] = secrets.token_urlsafe(32)
        env[f"AGENCY_NOTIFY_SECRET_{code.upper()}"] = secrets.token_hex(32)
    return env


def refusal(**changes: str) -> str:
    """The production refusal for the good settings with `changes`."""
    with pytest.raises(ConfigurationError) as caught:
        Config.from_env({**production_env(), **changes})
    return caught.value.message


def refused_line(message: str, variable: str) -> str:
    """The refusal's line for `variable` (each problem is on its own line, naming its variable)."""
    return next(line.strip() for line in message.splitlines() if line.strip().startswith(f"{variable}:"))


def test_defaults_give_a_working_demo_on_sqlite_under_instance():
    config = Config.from_env({})
    assert config.database_url.startswith("sqlite:///") and "/instance/" in config.database_url
    assert not config.production


def test_production_refuses_demo_secrets_naming_them():
    with pytest.raises(ConfigurationError) as caught:
        Config.from_env({"CONSENTRY_ENV": "production"})
    for name in (
        "SECRET_KEY",
        "MASTER_KEYS",
        "LOOKUP_KEY",
        "AUDIT_SIGNING_KEY",
        "AGENCY_KEY_TAX",
        "AGENCY_NOTIFY_SECRET_FAMILY",
    ):
        assert name in caught.value.message


def test_production_starts_with_real_secrets():
    config = Config.from_env(production_env())
    assert config.production and config.agencies[1].api_key == production_env()["AGENCY_KEY_TAX"]
    assert all(verdict.ok for verdict in config.secret_verdicts())


def test_unknown_mode_is_refused():
    with pytest.raises(ConfigurationError):
        Config.from_env({"CONSENTRY_ENV": "staging"})


def test_app_refuses_a_wrong_catalogue_at_start_up(tmp_path, base_config, engine):
    bad = tmp_path / "bad.toml"
    bad.write_text("[agencies]\n")
    with pytest.raises(ConfigurationError):
        create_app(base_config.replace(catalogue_path=str(bad)), engine=engine)


# --- issue 12, item 4: weak and published secrets -------------------------------------------------


@pytest.mark.parametrize(
    "pem",
    [
        DEMO_AUDIT_SIGNING_KEY.rstrip("\n"),  # the reported case: trailing newline removed
        DEMO_AUDIT_SIGNING_KEY.replace("\n", "\r\n"),
        "  " + DEMO_AUDIT_SIGNING_KEY.replace("\n", "\n    ") + "\n\n",
        DEMO_AUDIT_SIGNING_KEY.replace("\n", "\n\n"),
    ],
    ids=["no-trailing-newline", "crlf", "indented", "blank-lines"],
)
def test_production_refuses_the_demo_audit_key_whatever_its_whitespace(pem):
    line = refused_line(refusal(AUDIT_SIGNING_KEY=pem), "AUDIT_SIGNING_KEY")
    assert "published demo audit signing key" in line


def test_an_unparsable_audit_key_is_its_own_error_naming_the_variable():
    broken = "-----BEGIN PRIVATE KEY-----\nproduction\n-----END PRIVATE KEY-----\n"
    line = refused_line(refusal(AUDIT_SIGNING_KEY=broken), "AUDIT_SIGNING_KEY")
    assert "not an Ed25519 private key" in line and "demo" not in line


@pytest.mark.parametrize(
    "spec",
    [
        f"prod-2027:{DEMO_MASTER_KEY}",  # the reported case: the demo bytes under a new kid
        f"prod-2027:{DEMO_MASTER_KEY}==",
        f"prod-1:{b64url(fixed_bytes(32))},old:{DEMO_MASTER_KEY}",
    ],
)
def test_production_refuses_the_demo_master_key_under_any_kid(spec):
    line = refused_line(refusal(MASTER_KEYS=spec), "MASTER_KEYS")
    assert "is the published demo master key" in line


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        (f"k1:{b64url(fixed_bytes(16))}", "key 'k1' is 16 bytes, not 32"),
        ("k1:" + b64url(b"\x00" * 32), "only 1 distinct byte values"),
        ("k1:" + b64url(bytes(range(8)) * 4), "only 8 distinct byte values"),
        ("k1:" + b64url(b"prod-only-master-key-32-bytes!!!"), "printable text, not random bytes"),
        ("k1:" + "A" * 43, "low entropy"),
        ("k1:not*base64", "key 'k1' is not base64url"),
        ("just-a-key", "entry 1 is not 'kid:base64url'"),
        ("", "empty"),
    ],
)
def test_production_refuses_weak_master_keys(spec, problem):
    assert problem in refused_line(refusal(MASTER_KEYS=spec), "MASTER_KEYS")


def test_production_refuses_a_master_key_or_a_kid_given_twice():
    key = b64url(os.urandom(32))
    line = refused_line(refusal(MASTER_KEYS=f"a:{key},b:{key},a:{b64url(os.urandom(32))}"), "MASTER_KEYS")
    assert "kid 'a' is given 2 times" in line and "key 'b' is the same key as 'a'" in line


def test_an_active_master_kid_that_names_no_key_is_refused():
    assert "names no key" in refused_line(refusal(ACTIVE_MASTER_KID="missing"), "MASTER_KEYS")


@pytest.mark.parametrize("variable", ["SECRET_KEY", "LOOKUP_KEY", "AGENCY_KEY_TAX", "METRICS_TOKEN"])
@pytest.mark.parametrize("value", ["x", " ", "x" * 64])
def test_production_refuses_empty_one_character_and_repeated_secrets(variable, value):
    line = refused_line(refusal(**{variable: value}), variable)
    assert any(word in line for word in ("empty", "too short", "one character repeated"))


@pytest.mark.parametrize("variable", ["SECRET_KEY", "LOOKUP_KEY", "AGENCY_KEY_TAX"])
def test_production_refuses_an_empty_secret(variable):
    assert "empty" in refused_line(refusal(**{variable: ""}), variable)


def test_an_empty_metrics_token_means_none_and_a_good_one_passes():
    # Unset (or empty): /metrics answers loopback clients only, nothing to judge.
    assert "METRICS_TOKEN" not in {v.variable for v in Config.from_env(production_env()).secret_verdicts()}
    Config.from_env({**production_env(), "METRICS_TOKEN": secrets.token_urlsafe(32)})


def test_every_secret_setting_is_judged_in_production():
    """A setting whose name says it is a secret (key, secret, token, password) gets a verdict, so a
    new one cannot reach production unjudged; agencies' keys are judged per agency."""
    config = Config.from_env({**production_env(), "METRICS_TOKEN": secrets.token_urlsafe(32)})
    judged = {verdict.variable for verdict in config.secret_verdicts()}
    secret_like = re.compile(r"(^|_)(keys?|secret|token|password)$")
    settings = {f.name.upper() for f in dataclasses.fields(Config) if secret_like.search(f.name)}
    assert settings and settings <= judged, settings - judged
    for code in AGENCY_CODES:
        assert {f"AGENCY_KEY_{code.upper()}", f"AGENCY_NOTIFY_SECRET_{code.upper()}"} <= judged


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("SECRET_KEY", b64url(fixed_bytes(12)), "too short: 16 characters, at least 32"),
        ("SECRET_KEY", "ab" * 20, "too predictable: about 40 bits estimated, at least 128"),
        ("LOOKUP_KEY", "  DEMO-ONLY-LOOKUP-KEY " + b64url(fixed_bytes(32)), "published demo value"),
        ("AGENCY_NOTIFY_SECRET_FAMILY", "demo-family-notify-secret" + "x" * 40, "published demo value"),
        ("AGENCY_KEY_HOUSING", "demo-tax-key" + b64url(fixed_bytes(32)), "published demo value"),
    ],
)
def test_production_refuses_short_predictable_and_demo_derived_secrets(variable, value, problem):
    assert problem in refused_line(refusal(**{variable: value}), variable)


def test_production_lists_every_problem_at_once_never_a_value():
    weak = {"SECRET_KEY": "x", "LOOKUP_KEY": "", "AGENCY_KEY_TAX": "tax-secret-1"}
    message = refusal(MASTER_KEYS=f"new:{DEMO_MASTER_KEY}", AUDIT_SIGNING_KEY=DEMO_AUDIT_SIGNING_KEY, **weak)
    for variable in (*weak, "MASTER_KEYS", "AUDIT_SIGNING_KEY"):
        refused_line(message, variable)
    assert "tax-secret-1" not in message and DEMO_MASTER_KEY not in message


def test_development_allows_weak_and_demo_secrets_for_the_demo():
    config = Config.from_env({"SECRET_KEY": "x", "LOOKUP_KEY": "l", "OPERATOR_PASSWORD": "p"})
    assert not config.production and not all(verdict.ok for verdict in config.secret_verdicts())


def test_production_refuses_the_retired_operator_password_and_development_ignores_it():
    """Staff have their own accounts: a shared OPERATOR_PASSWORD left in production's environment
    would look like protection it no longer gives, so production refuses to start with it."""
    message = refusal(OPERATOR_PASSWORD="correct horse battery staple 42")
    assert "OPERATOR_PASSWORD" in message and "consentry staff add NAME --role admin" in message
    assert "correct horse battery staple 42" not in message
    assert not hasattr(Config.from_env({"OPERATOR_PASSWORD": "anything"}), "operator_password")


def test_production_names_the_retired_auditor_session_settings():
    """Auditors are staff: a deployment that set their shorter session would silently get the
    staff one, so production names the setting and what applies now."""
    message = refusal(AUDITOR_SESSION_MAX_S="1800")
    assert "AUDITOR_SESSION_MAX_S" in message and "OPERATOR_SESSION_MAX_S applies" in message


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_secret_key_in_development_is_refused_not_a_500(base_config, engine, value):
    with pytest.raises(ConfigurationError, match="SECRET_KEY is empty"):
        Config.from_env({"SECRET_KEY": value})
    with pytest.raises(ConfigurationError, match="SECRET_KEY is empty"):
        create_app(base_config.replace(secret_key=value), engine=engine)


# --- consentry check-config -----------------------------------------------------------------------


def check_config(env: dict[str, str]):
    """`consentry check-config` as installed: the app is never built (production would refuse it)."""
    cleared = {name: None for name in os.environ if name.startswith(("AGENCY_", "SECRET_", "MASTER_"))}
    return CliRunner().invoke(consentry_group(), ["check-config"], env={**cleared, "COLUMNS": "250", **env})


def test_check_config_passes_a_good_production_configuration():
    result = check_config(production_env())
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("│")]
    assert len(rows) == 4 + 2 * len(AGENCY_CODES)
    assert all(" OK " in row for row in rows)
    assert "production would accept" in result.output


def test_check_config_names_every_problem_without_starting_and_never_prints_a_value():
    env = {
        **production_env(),
        "SECRET_KEY": "x",
        "LOOKUP_KEY": "",
        "MASTER_KEYS": f"new:{DEMO_MASTER_KEY}",
        "AUDIT_SIGNING_KEY": DEMO_AUDIT_SIGNING_KEY.rstrip("\n"),
    }
    result = check_config(env)
    assert result.exit_code == 1
    out = result.output
    assert "SECRET_KEY" in out and "too short: 1 characters" in out
    assert "LOOKUP_KEY" in out and "empty" in out
    assert "key 'new' is the published demo master key" in out
    assert "published demo audit signing key" in out
    assert "production would refuse to start: 4 of 20" in out
    assert "AGENCY_KEY_TAX " in out
    for name in ("AGENCY_KEY_TAX", "MASTER_KEYS"):
        assert production_env()[name] not in out
    assert DEMO_MASTER_KEY not in out and "MC4CAQAw" not in out


def test_check_config_judges_development_settings_as_production_would(app, monkeypatch):
    for name in ("CONSENTRY_ENV", "SECRET_KEY", "LOOKUP_KEY", "MASTER_KEYS", "AUDIT_SIGNING_KEY"):
        monkeypatch.delenv(name, raising=False)
    result = app.test_cli_runner().invoke(args=["check-config"], env={"COLUMNS": "250"})
    assert result.exit_code == 1  # the demo's secrets: fine for the demo, refused by production
    assert "published demo value" in result.output and "production would refuse to start" in result.output
    result = app.test_cli_runner().invoke(args=["check-config"], env={"SECRET_KEY": "", "COLUMNS": "250"})
    assert result.exit_code == 1 and "refused in development mode too: SECRET_KEY is empty" in result.output
