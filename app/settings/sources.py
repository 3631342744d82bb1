"""Where settings come from: the flat env names, .env, a YAML profile, packaged defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    YamlConfigSettingsSource,
)
from pydantic_settings.sources import DotenvType

from app.domain.errors import ConfigurationError

# The embedded defaults ship inside the package, so an installed wheel run from any folder
# has them; the profiles users copy live in the repository's config/.
DEFAULTS_NAME = "default.yaml"
ENV_PREFIX = "APP_"

# The flat variable names deployments already set (OPENAI_API_KEY, REDIS_URL, ...), honoured
# exactly, and the nested setting each lands in.
FLAT_ENV: dict[str, tuple[str, ...]] = {
    "OPENAI_API_KEY": ("llm", "openai", "api_key"),
    "GOOGLE_API_KEY": ("llm", "gemini", "api_key"),
    "ANTHROPIC_API_KEY": ("llm", "anthropic", "api_key"),
    "KAKAO_API_KEY": ("services", "kakao", "api_key"),
    "TAVILY_API_KEY": ("services", "tavily", "api_key"),
    "LANGCHAIN_TRACING_V2": ("tracing", "enabled"),
    "LANGCHAIN_API_KEY": ("tracing", "api_key"),
    "LANGCHAIN_PROJECT": ("tracing", "project"),
    "REDIS_URL": ("redis", "url"),
    "REDIS_SENTINELS": ("redis", "sentinels"),
    "POSTGRES_URL": ("postgres", "url"),
    "WORKER_CONCURRENCY": ("worker", "concurrency"),
    "LLM_DEFAULT_MODEL": ("llm", "model"),
    "LLM_DEFAULT_PROVIDER": ("llm", "provider"),
}
ENV_FOR_PATH = {path: name for name, path in FLAT_ENV.items()}


class FlatEnvSource(PydanticBaseSettingsSource):
    """Reads the flat names (OPENAI_API_KEY, REDIS_URL, ...) into nested keys."""

    def __init__(self, settings_cls: type[BaseSettings], values: Mapping[str, str | None]):
        super().__init__(settings_cls)
        self._values = values

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError  # __call__ builds the whole tree at once

    def __call__(self) -> dict[str, Any]:
        tree: dict[str, Any] = {}
        for name, path in FLAT_ENV.items():
            value = self._values.get(name)
            if value is None or value == "":
                continue
            node = tree
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = value
        return tree


class KnownKeysDotEnvSource(DotEnvSettingsSource):
    """A .env holds the flat names too; those are not unknown settings keys here."""

    def __call__(self) -> dict[str, Any]:
        fields = self.settings_cls.model_fields
        return {key: value for key, value in super().__call__().items() if key in fields}


def resolve_config_file(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The profile: the explicit file, else `APP_CONFIG`, else none (defaults only)."""
    chosen = explicit or os.environ.get("APP_CONFIG")
    if not chosen:
        return None
    path = Path(chosen)
    if not path.is_file():
        raise ConfigurationError(
            f"config file {path} does not exist (named by "
            f"{'--config' if explicit else 'APP_CONFIG'}); profiles live in the repository's "
            "config/ folder (copy one and edit it)"
        )
    return path


@cache
def packaged_defaults() -> dict[str, Any]:
    """app/settings/default.yaml, read once per process (libyaml's loader when present)."""
    text = files("app.settings").joinpath(DEFAULTS_NAME).read_text(encoding="utf-8")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(text, Loader=loader)
    return data if isinstance(data, dict) else {}


class PackagedDefaultsSource(InitSettingsSource):
    """The embedded defaults as a source of their own, below every profile."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls, init_kwargs=packaged_defaults())


def named_sources(
    settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource | None = None
) -> list[tuple[str, PydanticBaseSettingsSource]]:
    """Every source, highest priority first, each with the name `config show` prints."""
    env_file: DotenvType | None = settings_cls.model_config.get("env_file")
    dotenv = KnownKeysDotEnvSource(settings_cls, env_file=env_file)
    dotenv_flat = {key.upper(): value for key, value in dotenv.env_vars.items()}
    profile = settings_cls.model_config.get("yaml_file") or resolve_config_file()
    # A profile overlays the embedded defaults, so it only names what it changes.
    profiles: list[tuple[str, PydanticBaseSettingsSource]] = []
    if profile:
        path = Path(str(profile))
        profiles.append(
            (f"yaml {_shown(path)}", YamlConfigSettingsSource(settings_cls, yaml_file=path))
        )
    return [
        ("init", init_settings or InitSettingsSource(settings_cls, init_kwargs={})),
        (f"env {ENV_PREFIX}*", EnvSettingsSource(settings_cls)),
        ("env", FlatEnvSource(settings_cls, os.environ)),
        (".env", dotenv),
        (".env", FlatEnvSource(settings_cls, dotenv_flat)),
        *profiles,
        (f"defaults ({DEFAULTS_NAME})", PackagedDefaultsSource(settings_cls)),
    ]


def _shown(path: Path) -> str:
    resolved = path.resolve()
    return (
        str(resolved.relative_to(Path.cwd()))
        if resolved.is_relative_to(Path.cwd())
        else str(resolved)
    )
