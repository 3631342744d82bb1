"""Typed settings: environment (and `.env`) over a YAML profile over the packaged defaults."""

from app.settings.model import (
    LLM_PROVIDERS,
    CheckpointSettings,
    GatewaySettings,
    GraphSettings,
    HttpSettings,
    LLMProvider,
    LLMSettings,
    LoggingSettings,
    PostgresSettings,
    RedisSettings,
    RetrievalSettings,
    Settings,
    TracingSettings,
    WorkerSettings,
    bind_config_file,
    describe_validation_error,
    load_settings,
)
from app.settings.services import ServiceSettings, ServicesSettings

__all__ = [
    "LLM_PROVIDERS",
    "CheckpointSettings",
    "GatewaySettings",
    "GraphSettings",
    "HttpSettings",
    "LLMProvider",
    "LLMSettings",
    "LoggingSettings",
    "PostgresSettings",
    "RedisSettings",
    "RetrievalSettings",
    "ServiceSettings",
    "ServicesSettings",
    "Settings",
    "TracingSettings",
    "WorkerSettings",
    "bind_config_file",
    "describe_validation_error",
    "load_settings",
]
