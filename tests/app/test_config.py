import pytest

from app import create_app
from app.config import Config
from core.errors import ConfigurationError


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
    env = {
        "CONSENTRY_ENV": "production",
        "SECRET_KEY": "s" * 40,
        "LOOKUP_KEY": "l" * 40,
        "OPERATOR_PASSWORD": "p" * 20,
        "MASTER_KEYS": "prod-1:" + "A" * 43,
        "AUDIT_SIGNING_KEY": "-----BEGIN PRIVATE KEY-----\nproduction\n-----END PRIVATE KEY-----\n",
    }
    for code in ("IDENTITY", "TAX", "PENSION", "HOUSING", "TRANSPORT", "EMPLOYMENT", "EDUCATION", "FAMILY"):
        env[f"AGENCY_KEY_{code}"] = f"key-{code}"
        env[f"AGENCY_NOTIFY_SECRET_{code}"] = f"notify-{code}"
    config = Config.from_env(env)
    assert config.production and config.agencies[1].api_key == "key-TAX"


def test_unknown_mode_is_refused():
    with pytest.raises(ConfigurationError):
        Config.from_env({"CONSENTRY_ENV": "staging"})


def test_app_refuses_a_wrong_catalogue_at_start_up(tmp_path, base_config, engine):
    bad = tmp_path / "bad.toml"
    bad.write_text("[agencies]\n")
    with pytest.raises(ConfigurationError):
        create_app(base_config.replace(catalogue_path=str(bad)), engine=engine)
