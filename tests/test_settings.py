"""load_settings: environment variables and a .env file, with errors that name the variable."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from digest_mailer.errors import SettingsError
from digest_mailer.settings import Settings, known_variables, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No DIGEST_*/OPENAI_* from the outer environment, and no stray ./.env."""
    for key in list(os.environ):
        if key.upper().startswith(("DIGEST_", "OPENAI_")):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def load(**overrides: object) -> Settings:
    return load_settings(env_file=None, **overrides)


def error_for(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> SettingsError:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load()
    return info.value


def test_defaults() -> None:
    s = load()
    assert (s.max_papers, s.max_per_category, s.default_timezone, s.default_send_hour) == (
        40, 10, "UTC", 7)
    assert (s.openai_api_key, s.openai_base_url, s.llm_configured) == ("", "", False)
    assert s.var_dir == Path("var")
    assert s.admin_language == "en"


def test_environment_values_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_MAX_PAPERS", "12")
    monkeypatch.setenv("DIGEST_DEFAULT_TIMEZONE", "Asia/Tokyo")
    monkeypatch.setenv("DIGEST_DEFAULT_SEND_HOUR", "0")
    monkeypatch.setenv("DIGEST_SMTP_URL", "smtps://user:pw@mail.example.org:465")
    monkeypatch.setenv("DIGEST_BASE_URL", "https://digest.example.org/")
    s = load()
    assert (s.max_papers, s.default_timezone, s.default_send_hour) == (12, "Asia/Tokyo", 0)
    assert s.smtp_url == "smtps://user:pw@mail.example.org:465"
    assert s.base_url == "https://digest.example.org"


# --- unknown variables ------------------------------------------------------------------------

def test_unknown_variable_is_named_with_did_you_mean(monkeypatch: pytest.MonkeyPatch) -> None:
    err = error_for(monkeypatch, "DIGEST_MAX_PAPRES", "5")
    assert err.setting == "DIGEST_MAX_PAPRES"
    assert "did you mean DIGEST_MAX_PAPERS?" in err.problem
    assert str(err).startswith("DIGEST_MAX_PAPRES: unknown setting")


def test_unknown_variable_without_a_close_match(monkeypatch: pytest.MonkeyPatch) -> None:
    err = error_for(monkeypatch, "DIGEST_QQQQQQQQQQQQQQ", "1")
    assert err.setting == "DIGEST_QQQQQQQQQQQQQQ"
    assert "did you mean" not in err.problem


def test_unprefixed_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_PAPERS", "3")
    monkeypatch.setenv("SMTP_URL", "http://nope")
    assert load().max_papers == 40


def test_every_known_variable_is_accepted() -> None:
    names = known_variables()
    assert "DIGEST_MAX_PAPERS" in names and "OPENAI_API_KEY" in names
    assert "OPENAI_BASE_URL" in names and "DIGEST_SECRET_KEY" in names
    assert len(names) == len(set(names)) == len(Settings.model_fields)


# --- bad values name their variable -----------------------------------------------------------

@pytest.mark.parametrize("name, value, problem", [
    ("DIGEST_DEFAULT_SEND_HOUR", "24", "must be an hour from 0 to 23"),
    ("DIGEST_DEFAULT_SEND_HOUR", "-1", "must be an hour from 0 to 23"),
    ("DIGEST_DEFAULT_TIMEZONE", "Mars/Olympus_Mons", "unknown time zone 'Mars/Olympus_Mons'"),
    ("DIGEST_SMTP_URL", "http://mail.example.org", "must start with smtp://"),
    ("DIGEST_MAX_PAPERS", "lots", "integer"),
    ("DIGEST_MAX_PAPERS", "0", "must be at least 1"),
    ("DIGEST_SCHEDULE_MINUTES", "60", "must be from 1 to 59"),
    ("DIGEST_SCHEDULE_MINUTES", "-5", "or 0 for no schedule"),
    ("DIGEST_BASE_URL", "digest.example.org", "must be an http:// or https:// URL"),
    ("DIGEST_MAX_REQUEST_BYTES", "100", "must be at least 10000 bytes"),
    ("DIGEST_ADMIN_LANGUAGE", "fr", "unknown language 'fr' (known: en, zh)"),
    ("DIGEST_ADMIN_LANGUAGE", "ZH", "unknown language 'ZH' (known: en, zh)"),
    ("DIGEST_LLM_MIN_SUPPORT", "1.5", "must be a share from 0 to 1"),
    ("DIGEST_LLM_MIN_SUPPORT", "-0.1", "must be a share from 0 to 1"),
    ("DIGEST_DATABASE_URL", "mysql://u:pw@db/digest", "mysql:// is not a database"),
    ("DIGEST_DATABASE_URL", "var/digest.db", "a URL without a scheme is not"),
])
def test_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str,
                                      problem: str) -> None:
    err = error_for(monkeypatch, name, value)
    assert err.setting == name
    assert problem in err.problem
    assert not err.problem.startswith("Value error")


def test_postgresql_means_the_psycopg_3_driver_the_extra_installs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLAlchemy reads a bare postgresql:// as psycopg2, which the project does not use."""
    monkeypatch.setenv("DIGEST_DATABASE_URL", "postgresql://digest@db/digest")
    assert load().effective_database_url == "postgresql+psycopg://digest@db/digest"
    monkeypatch.setenv("DIGEST_DATABASE_URL", "postgresql+psycopg://digest@db/digest")
    assert load().effective_database_url == "postgresql+psycopg://digest@db/digest"


# --- OpenAI variables without the prefix ------------------------------------------------------

def test_openai_variables_are_read_without_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-123")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9999/v1/")
    s = load()
    assert s.openai_api_key == "sk-test-123"
    assert s.openai_base_url == "http://127.0.0.1:9999/v1"
    assert s.llm_configured is True


def test_openai_variables_with_prefix_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_OPENAI_API_KEY", "sk-prefixed")
    assert load().openai_api_key == "sk-prefixed"


def test_bad_openai_base_url_names_the_unprefixed_variable(
        monkeypatch: pytest.MonkeyPatch) -> None:
    err = error_for(monkeypatch, "OPENAI_BASE_URL", "ftp://llm.example.org")
    assert err.setting == "OPENAI_BASE_URL"
    assert "http://" in err.problem


# --- .env file --------------------------------------------------------------------------------

def test_env_file_is_read(tmp_path: Path) -> None:
    env = tmp_path / "custom.env"
    env.write_text("DIGEST_MAX_PAPERS=12\nOPENAI_API_KEY=sk-from-file\n"
                   "DIGEST_DEFAULT_TIMEZONE=Europe/Berlin\n", encoding="utf-8")
    s = load_settings(env_file=env)
    assert (s.max_papers, s.openai_api_key, s.default_timezone) == (
        12, "sk-from-file", "Europe/Berlin")


def test_environment_wins_over_env_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = tmp_path / "custom.env"
    env.write_text("DIGEST_MAX_PAPERS=12\n", encoding="utf-8")
    monkeypatch.setenv("DIGEST_MAX_PAPERS", "30")
    assert load_settings(env_file=env).max_papers == 30


def test_default_env_file_is_dot_env_in_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DIGEST_MAX_PER_CATEGORY=3\n", encoding="utf-8")
    assert load_settings().max_per_category == 3
    assert load_settings(env_file=None).max_per_category == 10


def test_bad_value_in_env_file_names_its_variable(tmp_path: Path) -> None:
    env = tmp_path / "custom.env"
    env.write_text("DIGEST_DEFAULT_SEND_HOUR=25\n", encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_settings(env_file=env)
    assert info.value.setting == "DIGEST_DEFAULT_SEND_HOUR"


def test_unknown_key_in_env_file_is_rejected(tmp_path: Path) -> None:
    env = tmp_path / "custom.env"
    env.write_text("DIGEST_MAX_PAPERS=12\nDIGEST_MAX_PAPRES=5\n", encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_settings(env_file=env)
    assert "unknown setting" in info.value.problem


def test_unknown_key_in_env_file_is_named_as_written(tmp_path: Path) -> None:
    env = tmp_path / "custom.env"
    env.write_text("DIGEST_MAX_PAPRES=5\n", encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_settings(env_file=env)
    assert info.value.setting == "DIGEST_MAX_PAPRES"


# --- derived values ---------------------------------------------------------------------------

def test_effective_database_url_defaults_under_var_dir(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    monkeypatch.setenv("DIGEST_VAR_DIR", str(tmp_path / "state"))
    s = load()
    assert s.var_dir == tmp_path / "state"
    assert s.effective_database_url == f"sqlite:///{tmp_path / 'state' / 'digest.db'}"
    assert s.effective_outbox_dir == tmp_path / "state" / "outbox"


def test_explicit_database_url_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DIGEST_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("DIGEST_DATABASE_URL", "postgresql+psycopg://u@db/digest")
    assert load().effective_database_url == "postgresql+psycopg://u@db/digest"


def test_secret_key_is_generated_once_and_kept(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    var = tmp_path / "var-dir"
    monkeypatch.setenv("DIGEST_VAR_DIR", str(var))
    key_file = var / "secret.key"
    assert not key_file.exists()
    first = load().effective_secret_keys()
    assert len(first) == 1 and len(first[0]) >= 32
    assert key_file.read_text().strip() == first[0]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    s = load()
    assert s.effective_secret_keys() == first
    key_file.unlink()  # worked out once per Settings: no file is read (or written) again
    assert s.effective_secret_keys() == first and not key_file.exists()
    assert s.model_copy(update={"secret_key": "other"}).effective_secret_keys() == ["other"]


def test_secret_keys_from_variable_newest_first(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    monkeypatch.setenv("DIGEST_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("DIGEST_SECRET_KEY", " new-key , old-key,, older ")
    assert load().effective_secret_keys() == ["new-key", "old-key", "older"]
    assert not (tmp_path / "secret.key").exists()
