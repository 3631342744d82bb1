"""The settings model: environment (and `.env`) over a YAML profile over packaged defaults."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from app.domain.errors import ConfigurationError
from app.domain.llm import ModelPrice, UsageLimits
from app.settings.services import (
    DatasetServiceSettings,
    Section,
    ServiceSettings,
    ServicesSettings,
)
from app.settings.sources import (
    ENV_FOR_PATH,
    ENV_PREFIX,
    named_sources,
    resolve_config_file,
)

LLM_PROVIDERS = ("offline", "openai", "gemini", "anthropic", "langchain")
LLMProvider = Literal["offline", "openai", "gemini", "anthropic", "langchain"]
HttpClientLibrary = Literal["httpx", "httpx2"]


class OpenAISettings(Section):
    api_key: SecretStr | None = None
    base_url: str | None = None
    organization: str | None = None
    default_model: str = "gpt-4o-mini"
    web_search: bool = False


class GeminiSettings(Section):
    api_key: SecretStr | None = None
    base_url: str | None = None
    api_version: str = "v1beta"
    default_model: str = "gemini-2.5-flash"
    web_search: bool = False


class AnthropicSettings(Section):
    api_key: SecretStr | None = None
    base_url: str | None = None
    default_model: str = "claude-sonnet-5-5"


class LangChainSettings(Section):
    """Any LangChain chat model: `class_path` is `module:Class`, `kwargs` its arguments."""

    class_path: str | None = None
    kwargs: dict[str, Any] = Field(default_factory=dict)
    default_model: str = "langchain"


class OfflineSettings(Section):
    default_model: str = "offline-extractive"


class BreakerSettings(Section):
    """Per provider: after `failures` retryable failures in a row it is skipped for
    `cooldown_seconds`, then one probe call decides (closed again, or open again)."""

    failures: int = Field(default=3, ge=1)
    cooldown_seconds: float = Field(default=30.0, gt=0)


class LLMSettings(Section):
    provider: LLMProvider = "offline"
    model: str | None = None
    temperature: float = Field(default=0.2, ge=0.0, le=2.0)
    max_output_tokens: int = Field(default=1024, gt=0)
    max_retries: int = Field(default=2, ge=0, le=10)
    request_timeout: float = Field(default=60.0, gt=0)
    context_overflow: Literal["trim", "refuse"] = "trim"
    default_context_window: int = Field(default=8192, gt=0)
    context_windows: dict[str, int] = Field(default_factory=dict)
    prices: dict[str, ModelPrice] = Field(default_factory=dict)  # USD per 1M tokens, by prefix
    fallbacks: list[LLMProvider] = Field(default_factory=list)
    breaker: BreakerSettings = BreakerSettings()
    openai: OpenAISettings = OpenAISettings()
    gemini: GeminiSettings = GeminiSettings()
    anthropic: AnthropicSettings = AnthropicSettings()
    langchain: LangChainSettings = LangChainSettings()
    offline: OfflineSettings = OfflineSettings()

    @property
    def effective_model(self) -> str:
        return self.model_for(self.provider)

    def model_for(self, provider: str) -> str:
        """`llm.model` for the selected provider; each fallback uses its own default_model."""
        if self.model and provider == self.provider:
            return self.model
        section: (
            OpenAISettings
            | GeminiSettings
            | AnthropicSettings
            | LangChainSettings
            | (OfflineSettings)
        ) = getattr(self, provider)
        return section.default_model

    def price(self, model: str) -> ModelPrice:
        """Longest-prefix match in the price table; a model it does not list costs 0."""
        matches = [name for name in self.prices if model.startswith(name)]
        return self.prices[max(matches, key=len)] if matches else ModelPrice()

    def context_window(self, model: str) -> int:
        """Longest-prefix match in the table, so dated snapshots inherit their family's window."""
        matches = [name for name in self.context_windows if model.startswith(name)]
        if not matches:
            return self.default_context_window
        return self.context_windows[max(matches, key=len)]


class HttpSettings(Section):
    client: HttpClientLibrary = "httpx2"
    http2: bool = True
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    write_timeout: float = 10.0
    pool_timeout: float = 5.0
    max_connections: int = Field(default=100, gt=0)
    max_keepalive_connections: int | None = Field(default=None, ge=0)
    keepalive_expiry: float = 30.0
    verify: bool = True
    ca_bundle: Path | None = None
    retry_attempts: int = Field(default=10, ge=1)
    retry_deadline: float = Field(default=30.0, gt=0)

    @property
    def keepalive_connections(self) -> int:
        """Idle connections the pool keeps: all of them unless set lower. Fewer than
        `max_connections` makes HTTP/1.1 close and reopen connections under load."""
        if self.max_keepalive_connections is None:
            return self.max_connections
        return min(self.max_keepalive_connections, self.max_connections)


class RedisSettings(Section):
    """One Redis, standalone or watched by Sentinel. With `sentinels` set, they name the current
    primary of `sentinel_master` and every client follows a failover; `url` then gives only the
    database, the credentials and TLS (`rediss://`), not the host."""

    url: str = "redis://127.0.0.1:6379/0"
    sentinels: Annotated[list[str], NoDecode] = Field(default_factory=list)  # "host:port", ...
    sentinel_master: str = Field(default="mymaster", min_length=1)
    sentinel_password: SecretStr | None = None  # the sentinels' own `requirepass`, if any
    client_name: str = "eco2-chat"
    max_connections: int = Field(default=50, gt=0)
    socket_timeout: float = 5.0
    pool_timeout: float = Field(default=10.0, gt=0)  # waiting for a free pooled connection
    # An SSE reader opening its stream waits this long at most for Redis (openings share one
    # pipelined round trip); then 503 busy, never a stream broken after its 200.
    follow_wait: float = Field(default=60.0, gt=0)

    @field_validator("sentinels", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        """From the environment: `h1:26379,h2:26379` or a JSON list."""
        if not isinstance(value, str):
            return value
        if value.strip().startswith("["):
            return json.loads(value)
        return [part.strip() for part in value.split(",") if part.strip()]

    @field_validator("sentinels")
    @classmethod
    def _addresses(cls, sentinels: list[str]) -> list[str]:
        for entry in sentinels:
            host, _, port = entry.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{entry!r} is not host:port (e.g. 10.0.0.5:26379)")
        return sentinels

    @model_validator(mode="after")
    def _sentinel_url(self) -> RedisSettings:
        if self.sentinels and not self.url.startswith(("redis://", "rediss://")):
            raise ValueError(
                "with redis.sentinels, redis.url must be redis:// or rediss:// (it gives the "
                "database, password and TLS; the sentinels name the host)"
            )
        return self

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        return [(host, int(port)) for host, _, port in (s.rpartition(":") for s in self.sentinels)]


class PostgresSettings(Section):
    url: SecretStr | None = None


class WorkerSettings(Section):
    concurrency: int = Field(default=10, gt=0, le=1000)
    # Worker processes forked from one that loaded Kiwi and the keyword index first, so they
    # share those pages (copy-on-write); each runs `concurrency` chats.
    processes: int = Field(default=1, ge=1, le=64)
    queue_name: str = "eco2:chat"
    job_timeout: float = Field(default=300.0, gt=0)
    keep_result: float = 3600.0
    poll_delay: float = Field(default=0.05, gt=0)  # arq's poll, where no wake-up is pushed
    idle_wait: float = Field(default=1.0, gt=0, le=5)  # longest wait for a wake-up
    max_tries: int = Field(default=3, ge=1)
    shutdown_grace: float = Field(default=20.0, ge=0)  # SIGTERM: let running jobs finish
    health_check_interval: float = Field(default=10.0, gt=0)
    stream_maxlen: int = Field(default=2000, gt=10)
    stream_ttl: int = Field(default=3600, gt=0)
    # A running job's claim, renewed by its live worker every lease/3: a job whose worker
    # died runs again within about this long, whatever the job timeout.
    lease_seconds: float = Field(default=10.0, ge=2.0)
    # A job nothing holds (not queued, not renewed, not ended) for this long gets `lost`.
    lost_after: float = Field(default=30.0, gt=0)
    # Stage and delta events gathered this long and written in one round trip (0: each alone):
    # 20 updates a second, smooth for text; at 25 ms a chat's events took 2-3 writes (issue 22).
    progress_coalesce_ms: float = Field(default=50.0, ge=0, le=1000)
    # A chat rides out an outage of Redis or PostgreSQL this long: each step that touches one
    # is tried again, backing off from retry_first_delay (doubling) to retry_max_delay; then
    # the chat ends with an error. The same policy everywhere (app/application/retry.py).
    retry_deadline: float = Field(default=60.0, gt=0)
    retry_first_delay: float = Field(default=0.1, gt=0)
    retry_max_delay: float = Field(default=2.0, gt=0)


class GatewaySettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, gt=0, lt=65536)
    secret: SecretStr | None = None  # signs job tokens; share it across gateway replicas
    previous_secrets: list[SecretStr] = Field(default_factory=list)  # still accepted (rotation)
    require_secret: bool = False  # production: no random per-process secret
    token_ttl_seconds: int = Field(default=86_400, gt=0)
    allow_http_image_urls: bool = False
    allow_private_image_urls: bool = False  # a model would fetch from the deployment's network
    max_body_bytes: int = Field(default=64 * 1024, gt=0)
    max_upload_bytes: int = Field(default=5 * 1024 * 1024, gt=0)  # POST /v1/uploads (photos)
    upload_ttl_seconds: int = Field(default=3600, gt=0)  # an uploaded photo is kept this long
    # A presigned photo upload URL (POST /api/v1/images/{channel}) works this long.
    upload_url_seconds: int = Field(default=300, gt=0)
    heartbeat_seconds: float = Field(default=15.0, gt=0)
    read_block_ms: int = Field(default=2000, gt=0)  # must stay under redis.socket_timeout
    require_worker: bool = True  # 503 instead of queueing a chat no worker would run
    # Origins whose pages may call /api/v1 with credentials (the eco2 web client's). Never "*":
    # a browser sends cookies only to a named origin, and any page could otherwise act as a guest.
    cors_origins: list[str] = Field(default_factory=list)
    behind_tls: bool = False  # cookies get `Secure` (production: TLS ends in front of us)
    # A slow client is cut off: its request's head within this long of its first byte, its
    # body within body_timeout_seconds of the head (a 5 MB photo at 100 KB/s takes 50 s).
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    body_timeout_seconds: float = Field(default=120.0, gt=0)
    # An idle keep-alive connection is closed after this long. Longer than a load balancer's
    # idle timeout (60 s is common) and a client pool's (httpx: 5 s), so the other side closes
    # first: a server closing as a request arrives on the connection fails that request
    # ("server disconnected"), which a busy host made happen (uvicorn's default is 5 s).
    keep_alive_seconds: int = Field(default=75, ge=1)  # whole seconds: uvicorn's is an int
    guest_cookie_days: int = Field(default=365, gt=0)  # a browser's guest identity lives this long

    @field_validator("cors_origins")
    @classmethod
    def _named_origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?", origin):
                raise ValueError(
                    f"cors_origins: {origin!r} is not an origin (scheme://host[:port]; never *)"
                )
        return origins


class AuthSettings(Section):
    """Who may call the gateway: API keys (`python -m app keys create`), and whether a request
    without one is served as the anonymous principal (the local default; never production)."""

    allow_anonymous: bool = True
    backend: Literal["file", "postgres"] = "file"
    keys_file: Path = Path("var/api_keys.json")
    cache_seconds: float = Field(default=30.0, ge=0)  # a revoked key works this long at most
    thread_ttl_days: int = Field(default=30, gt=0)  # a thread nobody used this long is gone


class LimitsSettings(Section):
    """Per-principal rate limits (Redis, via `limits`) and the queue's cap; null: no limit."""

    requests_per_minute: int | None = Field(default=120, gt=0)
    tokens_per_day: int | None = Field(default=None, gt=0)  # production.yaml sets one
    max_queue_depth: int | None = Field(default=1000, gt=0)
    # Photos kept per principal an hour (POST /v1/uploads, PUT /api/v1/images upload URLs):
    # each stays in Redis for gateway.upload_ttl_seconds, so this caps what one caller holds.
    photos_per_hour: int | None = Field(default=60, gt=0)
    photo_bytes_per_hour: int | None = Field(default=100 * 1024 * 1024, gt=0)


class BudgetSettings(Section):
    """What a chat, and a principal per day, may spend; exceeding one ends the chat with
    `error` kind `budget_exceeded`. null: no limit."""

    chat_max_tokens: int | None = Field(default=None, gt=0)
    chat_max_cost_usd: float | None = Field(default=None, ge=0)
    principal_daily_cost_usd: float | None = Field(default=None, ge=0)

    @property
    def chat(self) -> UsageLimits:
        return UsageLimits(max_tokens=self.chat_max_tokens, max_cost_usd=self.chat_max_cost_usd)


class TracingSettings(Section):
    enabled: bool = False
    api_key: SecretStr | None = None
    project: str = "eco2-chat"
    endpoint: str | None = None


class MetricsSettings(Section):
    """Prometheus: the gateway serves GET /metrics; each worker serves its own port."""

    enabled: bool = True
    worker_host: str = "127.0.0.1"
    worker_port: int | None = Field(default=9464, ge=0, lt=65536)  # null: no worker server


class TelemetrySettings(Section):
    """OpenTelemetry traces: spans (and trace ids in logs) when enabled; exported over
    OTLP/HTTP when `otlp_endpoint` is set (e.g. http://collector:4318/v1/traces)."""

    enabled: bool = False
    otlp_endpoint: str | None = None
    service_name: str = "eco2-chat"
    export_delay_ms: int = Field(default=2000, gt=0)  # how long finished spans wait to batch


class CheckpointSettings(Section):
    """Conversation memory: memory (tests), sqlite (one process), postgres (many workers)."""

    backend: Literal["memory", "sqlite", "postgres"] = "sqlite"
    sqlite_path: Path = Path("var/checkpoints.sqlite")
    postgres_pool_size: int = Field(default=10, gt=0)
    ttl_days: int | None = Field(default=30, gt=0)  # idle threads are deleted at start-up


class ConversationSettings(Section):
    """Where conversations and their messages are kept: sqlite (one file, one host; tables
    made on start) or postgres (POSTGRES_URL; tables made by `python -m app migrate`)."""

    backend: Literal["sqlite", "postgres"] = "sqlite"
    sqlite_path: Path = Path("var/conversations.sqlite3")
    postgres_pool_size: int = Field(default=10, gt=0)
    timeout: float = Field(default=5.0, gt=0)  # waiting for a connection or a lock; then 503


class RetrievalSettings(Section):
    backend: Literal["bm25", "openai_embeddings"] = "bm25"
    # Korean words for keyword search: Kiwi's analyser, the hand-written rules, or Kiwi when
    # kiwipiepy is installed (auto).
    morphology: Literal["auto", "kiwi", "rules"] = "auto"
    top_k: int = Field(default=3, gt=0, le=20)
    embedding_model: str = "text-embedding-3-small"


class GraphSettings(Section):
    intent_cache: bool = False
    enable_summarization: bool = False
    enable_dynamic_routing: bool = True
    enable_multi_intent: bool = True
    enable_enrichment: bool = True
    # How long a chat that asked the person something (their district) waits for the answer
    # before it ends with an `input_expired` error.
    input_wait_seconds: float = Field(default=1800.0, gt=0, le=7 * 86400)


class LoggingSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["auto", "json", "console"] = "auto"


# Which process the settings are for: each validates, and holds, only the secrets it uses. A
# gateway never calls a model or a service; a worker never signs a token; `migrate` only needs
# PostgreSQL. "any" (the CLI's `ask`, `config`, `doctor`, tests) checks everything.
Role = Literal["any", "gateway", "worker", "migrate"]


class Settings(BaseSettings):
    """The whole configuration. Build it with `load_settings`, not directly."""

    role: ClassVar[Role] = "any"  # set on the class `load_settings` binds, never a field

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_file=".env",
        extra="forbid",
        yaml_file=None,
    )

    llm: LLMSettings = LLMSettings()
    http: HttpSettings = HttpSettings()
    redis: RedisSettings = RedisSettings()
    postgres: PostgresSettings = PostgresSettings()
    worker: WorkerSettings = WorkerSettings()
    gateway: GatewaySettings = GatewaySettings()
    tracing: TracingSettings = TracingSettings()
    metrics: MetricsSettings = MetricsSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    auth: AuthSettings = AuthSettings()
    limits: LimitsSettings = LimitsSettings()
    budget: BudgetSettings = BudgetSettings()
    services: ServicesSettings = ServicesSettings()
    checkpoint: CheckpointSettings = CheckpointSettings()
    conversations: ConversationSettings = ConversationSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    graph: GraphSettings = GraphSettings()
    logging: LoggingSettings = LoggingSettings()

    def _uses(self, *roles: Role) -> bool:
        return self.role == "any" or self.role in roles

    @model_validator(mode="after")
    def _selected_provider_is_usable(self) -> Settings:
        if not self._uses("worker"):
            return self
        self._check_provider(self.llm.provider, f"llm.provider is '{self.llm.provider}'")
        for provider in self.llm.fallbacks:
            self._check_provider(provider, f"llm.fallbacks includes '{provider}'")
        return self

    def _check_provider(self, provider: str, role: str) -> None:
        if provider in ("openai", "gemini", "anthropic"):
            key = getattr(self.llm, provider).api_key
            if key is None or not key.get_secret_value().strip():
                env = ENV_FOR_PATH[("llm", provider, "api_key")]
                raise ValueError(
                    f"{role} but {env} is not set: export {env}=... "
                    f"or set llm.{provider}.api_key in the YAML file"
                )
        if provider == "langchain" and not self.llm.langchain.class_path:
            raise ValueError(
                f"{role} but llm.langchain.class_path is not set: name the chat model "
                "class, e.g. 'langchain_openai:ChatOpenAI'"
            )

    @model_validator(mode="after")
    def _gateway_secret_is_strong(self) -> Settings:
        gateway = self.gateway
        secrets = [gateway.secret, *gateway.previous_secrets] if gateway.secret else []
        if any(len(s.get_secret_value().encode()) < 32 for s in secrets):
            raise ValueError(
                "gateway.secret (env APP_GATEWAY__SECRET) and previous_secrets must be at least "
                "32 bytes: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        if gateway.require_secret and gateway.secret is None and self._uses("gateway"):
            raise ValueError(
                "gateway.require_secret is true but APP_GATEWAY__SECRET is not set: every "
                "replica must share it, or tokens break on restart"
            )
        if self.auth.backend == "postgres" and self.postgres.url is None and self._uses("gateway"):
            raise ValueError("auth.backend is 'postgres' but POSTGRES_URL is not set")
        return self

    @model_validator(mode="after")
    def _blocking_reads_end_before_the_socket_timeout(self) -> Settings:
        # A blocking read (the hub's XREAD, an idle worker's BLPOP) that outlasts the socket
        # timeout would read as Redis being down.
        limit = self.redis.socket_timeout
        if self.gateway.read_block_ms / 1000 >= limit or self.worker.idle_wait >= limit:
            raise ValueError(
                f"gateway.read_block_ms ({self.gateway.read_block_ms} ms) and worker.idle_wait "
                f"({self.worker.idle_wait} s) must stay under redis.socket_timeout ({limit} s)"
            )
        return self

    @model_validator(mode="after")
    def _storage_is_reachable(self) -> Settings:
        worker = self._uses("worker")
        if self.checkpoint.backend == "postgres" and self.postgres.url is None and worker:
            raise ValueError(
                "checkpoint.backend is 'postgres' but POSTGRES_URL is not set: export "
                "POSTGRES_URL=postgresql://... or choose checkpoint.backend: sqlite"
            )
        if self.conversations.backend == "postgres" and self.postgres.url is None:
            raise ValueError(
                "conversations.backend is 'postgres' but POSTGRES_URL is not set: export "
                "POSTGRES_URL=postgresql://... or choose conversations.backend: sqlite"
            )
        embeddings = self.retrieval.backend == "openai_embeddings"
        if embeddings and self.llm.openai.api_key is None and worker:
            raise ValueError(
                "retrieval.backend is 'openai_embeddings' but OPENAI_API_KEY is not set: export "
                "it or choose retrieval.backend: bm25"
            )
        return self

    @model_validator(mode="after")
    def _enabled_services_have_keys(self) -> Settings:
        if self._uses("worker"):
            self._check_service_keys()
        return self

    def _check_service_keys(self) -> None:
        points = self.services.collection_points
        if (
            points.enabled
            and points.provider == "keco"
            and not (points.api_key and points.dataset_path)
        ):
            raise ValueError(
                "services.collection_points.provider is 'keco' but its api_key (data portal "
                "key) or dataset_path is not set"
            )
        if points.enabled and points.provider == "kakao" and self.services.kakao.api_key is None:
            raise ValueError(
                "services.collection_points.enabled is true but KAKAO_API_KEY is not set: it "
                "searches Kakao Local; export KAKAO_API_KEY=... or disable it"
            )
        services = self.services
        if (
            services.weather.enabled
            and services.weather.provider == "kma"
            and (services.weather.api_key is None)
        ):
            raise ValueError(
                "services.weather.provider is 'kma' but services.weather.api_key (the public "
                "data portal key) is not set; or use provider: open_meteo, which needs none"
            )
        for name in ("bulk_waste", "recyclable_prices"):
            dataset: DatasetServiceSettings = getattr(services, name)
            if dataset.enabled and dataset.path is None:
                raise ValueError(
                    f"services.{name}.enabled is true but services.{name}.path is not set: "
                    "download the dataset CSV from the data portal and point path at it"
                )
        images = services.images
        key_env = {"openai": "OPENAI_API_KEY", "gemini": "GOOGLE_API_KEY"}[images.provider]
        if images.enabled and getattr(self.llm, images.provider).api_key is None:
            raise ValueError(f"services.images uses {images.provider} but {key_env} is not set")
        character = self.services.character
        if character.enabled and character.provider == "http" and not character.base_url:
            raise ValueError(
                "services.character.provider is 'http' but services.character.base_url is not set"
            )
        for name in ("kakao", "tavily"):
            service: ServiceSettings = getattr(self.services, name)
            if service.enabled and service.api_key is None:
                env = ENV_FOR_PATH[("services", name, "api_key")]
                raise ValueError(
                    f"services.{name}.enabled is true but {env} is not set: export {env}=... "
                    f"or set services.{name}.enabled: false"
                )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return tuple(source for _, source in named_sources(settings_cls, init_settings))


def bind_config_file(
    config_file: str | os.PathLike[str] | None = None, role: Role = "any"
) -> type[Settings]:
    """A Settings subclass bound to one YAML file and one role, so neither is global."""
    path = resolve_config_file(config_file)
    config = SettingsConfigDict(**{**Settings.model_config, "yaml_file": path})
    namespace = {"model_config": config, "__module__": __name__, "role": role}
    return type("Settings", (Settings,), namespace)


def load_settings(
    config_file: str | os.PathLike[str] | None = None, *, role: Role = "any", **overrides: Any
) -> Settings:
    """Load and validate for `role`; any problem becomes one ConfigurationError naming keys and
    fixes. The secrets `role` does not use are dropped (`withheld`)."""
    settings_cls = bind_config_file(config_file, role)
    try:
        return withheld(settings_cls(**overrides), role)
    except ValidationError as exc:
        raise ConfigurationError(describe_validation_error(exc)) from exc


MODEL_KEYS = ("openai", "gemini", "anthropic")


def withheld(settings: Settings, role: Role) -> Settings:
    """`settings` without the secrets `role` never uses, so a leak (a dump, a crash report, a
    bug) of that process cannot hold them."""
    if role == "any":
        return settings
    update: dict[str, Any] = {}
    if role in ("gateway", "migrate"):
        llm = settings.llm
        update["llm"] = llm.model_copy(
            update={
                name: getattr(llm, name).model_copy(update={"api_key": None}) for name in MODEL_KEYS
            }
        )
        services = settings.services
        update["services"] = services.model_copy(
            update={
                name: getattr(services, name).model_copy(update={"api_key": None})
                for name in type(services).model_fields
                if "api_key" in type(getattr(services, name)).model_fields
            }
        )
        update["tracing"] = settings.tracing.model_copy(update={"api_key": None})
    if role in ("worker", "migrate"):
        update["gateway"] = settings.gateway.model_copy(
            update={"secret": None, "previous_secrets": []}
        )
    return settings.model_copy(update=update)


def describe_validation_error(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        path = tuple(str(part) for part in error["loc"])
        key = ".".join(path) or "settings"
        message = error["msg"].removeprefix("Value error, ")
        if path == ("llm", "provider") and error["type"] == "literal_error":
            message = (
                f"unknown provider {error['input']!r}; valid providers: {', '.join(LLM_PROVIDERS)}"
            )
        if error["type"] == "extra_forbidden":
            message = "unknown key (check its spelling against app/settings/default.yaml)"
        env = ENV_FOR_PATH.get(path)
        hint = f" (env {env})" if env else ""
        lines.append(f"{key}{hint}: {message}" if path else message)
    return "invalid configuration:\n  " + "\n  ".join(lines)
