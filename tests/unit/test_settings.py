"""Settings: precedence, the flat variable names, YAML profiles and errors that say the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from app.domain.errors import ConfigurationError
from app.settings import Settings, load_settings
from app.settings.masking import secret_values
from app.settings.sources import FLAT_ENV
from tests.support.paths import PACKAGED_DEFAULTS, PROFILES

FLAT_VALUES: dict[str, tuple[str, Any]] = {
    "OPENAI_API_KEY": ("sk-flat-openai", "sk-flat-openai"),
    "GOOGLE_API_KEY": ("AIza-flat", "AIza-flat"),
    "ANTHROPIC_API_KEY": ("sk-ant-flat", "sk-ant-flat"),
    "KAKAO_API_KEY": ("kakao-flat", "kakao-flat"),
    "TAVILY_API_KEY": ("tvly-flat", "tvly-flat"),
    "LANGCHAIN_TRACING_V2": ("true", True),
    "LANGCHAIN_API_KEY": ("lsv2-flat", "lsv2-flat"),
    "LANGCHAIN_PROJECT": ("eco2-test", "eco2-test"),
    "REDIS_URL": ("redis://cache:6380/2", "redis://cache:6380/2"),
    "REDIS_SENTINELS": ("s1:26379, s2:26379", ["s1:26379", "s2:26379"]),
    "POSTGRES_URL": ("postgresql://u@db/eco2", "postgresql://u@db/eco2"),
    "WORKER_CONCURRENCY": ("42", 42),
    "LLM_DEFAULT_MODEL": ("gpt-4.1-mini", "gpt-4.1-mini"),
    "LLM_DEFAULT_PROVIDER": ("offline", "offline"),
}


def _value_at(settings: Settings, path: tuple[str, ...]) -> Any:
    value: Any = settings
    for key in path:
        value = getattr(value, key)
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_the_table_covers_every_flat_name() -> None:
    assert set(FLAT_VALUES) == set(FLAT_ENV)


@pytest.mark.parametrize("name", sorted(FLAT_ENV))
def test_every_flat_variable_lands_where_it_belongs(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw, expected = FLAT_VALUES[name]
    monkeypatch.setenv(name, raw)
    assert _value_at(load_settings(), FLAT_ENV[name]) == expected


def test_defaults_need_no_key() -> None:
    settings = load_settings()
    assert settings.llm.provider == "offline"
    assert settings.llm.effective_model == "offline-extractive"
    assert (settings.http.connect_timeout, settings.http.read_timeout) == (5.0, 60.0)
    assert (settings.http.write_timeout, settings.http.pool_timeout) == (10.0, 5.0)
    assert settings.http.max_connections == 100
    assert settings.http.max_keepalive_connections is None  # sized to the pool:
    assert settings.http.keepalive_connections == 100
    assert settings.http.keepalive_expiry == 30.0
    assert settings.llm.max_retries == 2


def _leaf_paths(tree: Any, prefix: str = "") -> set[str]:
    if isinstance(tree, dict) and tree and prefix not in ("llm.context_windows.", "llm.prices."):
        return set().union(*(_leaf_paths(v, f"{prefix}{k}.") for k, v in tree.items()))
    return {prefix.rstrip(".")}


def test_packaged_default_yaml_equals_the_built_in_defaults() -> None:
    """The packaged YAML documents every default; it must not drift from the code."""
    built_in = {
        name: field.get_default(call_default_factory=True).model_dump(mode="json")
        for name, field in Settings.model_fields.items()
    }
    loaded = load_settings().model_dump(mode="json")
    tables = {
        key: loaded["llm"][key] for key in ("context_windows", "prices")
    }  # data, not defaults
    assert all(tables.values())
    assert loaded == built_in | {"llm": built_in["llm"] | tables}
    from_yaml = yaml.safe_load(PACKAGED_DEFAULTS.read_text(encoding="utf-8"))
    assert _leaf_paths(from_yaml) == _leaf_paths(loaded)


def test_precedence_init_over_env_over_yaml_over_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile = write_yaml(
        tmp_path / "p.yaml",
        {"worker": {"concurrency": 3, "job_timeout": 99}, "redis": {"url": "redis://yaml:1/0"}},
    )
    monkeypatch.setenv("WORKER_CONCURRENCY", "7")
    settings = load_settings(profile)
    assert settings.worker.concurrency == 7  # env beats YAML
    assert settings.worker.job_timeout == 99  # YAML beats default
    assert settings.redis.url == "redis://yaml:1/0"
    assert settings.worker.keep_result == 3600  # default
    assert load_settings(profile, worker={"concurrency": 11}).worker.concurrency == 11  # init


def test_nested_env_names_work_and_beat_flat_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://flat:1/0")
    monkeypatch.setenv("APP_REDIS__URL", "redis://nested:1/0")
    monkeypatch.setenv("APP_HTTP__HTTP2", "false")
    settings = load_settings()
    assert settings.redis.url == "redis://nested:1/0"
    assert settings.http.http2 is False


def test_dotenv_file_is_read_below_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("WORKER_CONCURRENCY=5\nLLM_DEFAULT_MODEL=from-dotenv\n")
    monkeypatch.setenv("LLM_DEFAULT_MODEL", "from-env")
    settings = load_settings()
    assert settings.worker.concurrency == 5
    assert settings.llm.model == "from-env"


def test_app_config_env_names_the_yaml_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile = write_yaml(tmp_path / "ops.yaml", {"worker": {"concurrency": 9}})
    monkeypatch.setenv("APP_CONFIG", str(profile))
    assert load_settings().worker.concurrency == 9


def test_shipped_profiles_switch_provider_with_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    config_dir = PROFILES
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789")
    monkeypatch.setenv("GOOGLE_API_KEY", "AIza-test-0123456789")
    assert load_settings(config_dir / "openai.yaml").llm.provider == "openai"
    assert load_settings(config_dir / "gemini.yaml").llm.effective_model == "gemini-2.5-flash"
    monkeypatch.setenv("KAKAO_API_KEY", "kakao-test")
    monkeypatch.setenv("TAVILY_API_KEY", "tvly-test")
    monkeypatch.delenv("LANGCHAIN_TRACING_V2")
    monkeypatch.setenv("POSTGRES_URL", "postgresql://127.0.0.1/test")
    with pytest.raises(ConfigurationError, match="APP_GATEWAY__SECRET is not set"):
        load_settings(config_dir / "production.yaml")
    monkeypatch.setenv("APP_GATEWAY__SECRET", "x")
    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        load_settings(config_dir / "production.yaml")
    monkeypatch.setenv("APP_GATEWAY__SECRET", "s" * 32)
    production = load_settings(config_dir / "production.yaml")
    assert production.tracing.enabled and production.logging.format == "json"
    assert not production.auth.allow_anonymous and production.auth.backend == "postgres"
    assert production.gateway.require_secret and production.budget.principal_daily_cost_usd


SECRETS = {
    "OPENAI_API_KEY": "sk-test-0123456789",
    "GOOGLE_API_KEY": "AIza-test-0123456789",
    "KAKAO_API_KEY": "kakao-test-0123",
    "TAVILY_API_KEY": "tvly-test-0123",
    "LANGCHAIN_API_KEY": "lsv2-test-0123",
    "APP_GATEWAY__SECRET": "s" * 32,
}


POSTGRES = "postgresql://eco2:pg-pass-0123@127.0.0.1/eco2"


def only(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """The production profile's plain settings and just these secrets in the environment."""
    monkeypatch.setenv("APP_CONFIG", str(PROFILES / "production.yaml"))
    monkeypatch.setenv("POSTGRES_URL", POSTGRES)
    for name, value in SECRETS.items():
        if name in names:
            monkeypatch.setenv(name, value)
        else:
            monkeypatch.delenv(name, raising=False)


def test_each_process_starts_with_only_its_own_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    only(monkeypatch, "APP_GATEWAY__SECRET")
    assert load_settings(role="gateway").gateway.secret is not None
    only(monkeypatch, *(name for name in SECRETS if name != "APP_GATEWAY__SECRET"))
    assert load_settings(role="worker").llm.openai.api_key is not None
    only(monkeypatch)
    assert load_settings(role="migrate").postgres.url is not None
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY is not set"):
        load_settings()  # a command that may use anything checks everything
    with pytest.raises(ConfigurationError, match="APP_GATEWAY__SECRET is not set"):
        load_settings(role="gateway")


def test_each_process_holds_only_its_own_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Given every secret, a gateway keeps none of the providers' and a worker not the
    gateway's signing secret: a dump of either cannot leak what it never needed."""
    only(monkeypatch, *SECRETS)
    gateway = set(secret_values(load_settings(role="gateway")))
    worker = set(secret_values(load_settings(role="worker")))
    migrate = set(secret_values(load_settings(role="migrate")))
    everything = set(secret_values(load_settings()))
    assert everything >= set(SECRETS.values()) | {POSTGRES}
    assert gateway == {SECRETS["APP_GATEWAY__SECRET"], POSTGRES}
    assert worker == everything - {SECRETS["APP_GATEWAY__SECRET"]}
    assert migrate == {POSTGRES}


def test_selected_provider_without_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_DEFAULT_PROVIDER", "openai")
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY is not set"):
        load_settings()
    monkeypatch.setenv("LLM_DEFAULT_PROVIDER", "gemini")
    with pytest.raises(ConfigurationError, match="GOOGLE_API_KEY"):
        load_settings()


def test_unknown_provider_lists_the_valid_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_DEFAULT_PROVIDER", "gpt")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert "llm.provider (env LLM_DEFAULT_PROVIDER)" in message
    assert "offline, openai, gemini, anthropic, langchain" in message


def test_bad_values_name_the_key(tmp_path: Path) -> None:
    profile = write_yaml(
        tmp_path / "bad.yaml", {"worker": {"concurrency": 0}, "http": {"tmeout": 1}}
    )
    with pytest.raises(ConfigurationError) as caught:
        load_settings(profile)
    message = str(caught.value)
    assert "worker.concurrency (env WORKER_CONCURRENCY)" in message
    assert "http.tmeout: unknown key" in message


def test_missing_config_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_CONFIG", str(tmp_path / "nope.yaml"))
    with pytest.raises(
        ConfigurationError, match=r"nope.yaml does not exist \(named by APP_CONFIG\)"
    ):
        load_settings()


def test_enabled_service_without_key_is_refused(tmp_path: Path) -> None:
    profile = write_yaml(tmp_path / "s.yaml", {"services": {"kakao": {"enabled": True}}})
    with pytest.raises(ConfigurationError, match="KAKAO_API_KEY is not set"):
        load_settings(profile)


def test_secrets_stay_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret-value")
    settings = load_settings()
    assert "sk-very-secret-value" not in repr(settings)
    assert "sk-very-secret-value" not in str(settings.model_dump())


def test_context_window_uses_longest_prefix() -> None:
    llm = load_settings().llm
    assert llm.context_window("gpt-4o-mini-2024-07-18") == 128000
    assert llm.context_window("gpt-4.1-mini") == 1047576
    assert llm.context_window("some-local-model") == llm.default_context_window


def test_a_profile_overlays_the_embedded_defaults(tmp_path: Path) -> None:
    profile = write_yaml(tmp_path / "p.yaml", {"llm": {"context_windows": {"my-model": 4096}}})
    windows = load_settings(profile).llm.context_windows
    assert windows["my-model"] == 4096 and windows["gpt-4o"] == 128000


def test_keep_alive_is_whole_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    # uvicorn takes an int: 0.5 would have been truncated to 0 (every idle connection closed
    # at once), so a fraction is refused rather than rounded.
    monkeypatch.setenv("APP_GATEWAY__KEEP_ALIVE_SECONDS", "0.5")
    with pytest.raises(ConfigurationError, match="keep_alive_seconds"):
        load_settings(role="gateway")
