"""The Dockerfile and compose.yaml agree with config/production.yaml: the hostnames, ports and
profile it names, a slim non-root image with runtime dependencies only, healthy services first.
(.ci/container_check.sh runs them for real where a container engine answers.)"""

from __future__ import annotations

import re
import shlex
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from app.settings import Role, Settings, load_settings
from tests.support.paths import PROFILES, REPO

PRODUCTION = PROFILES / "production.yaml"
ENV_SECRETS = (
    "APP_GATEWAY__SECRET",
    "OPENAI_API_KEY",
    "GOOGLE_API_KEY",
    "KAKAO_API_KEY",
    "TAVILY_API_KEY",
    "LANGCHAIN_API_KEY",
)
DEPLOYMENT = {"redis", "postgres", "migrate", "worker", "gateway"}
APP_SERVICES = ("worker", "gateway")
# ${NAME}, ${NAME:-default}, ${NAME:?message}: compose's interpolation, as far as we use it.
VARIABLE = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?:(?P<op>:[-?])(?P<arg>[^}]*))?\}")


def interpolated(text: str, env: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name, op, arg = match.group("name", "op", "arg")
        if name in env:
            return env[name]
        if op == ":?":
            raise KeyError(f"{name}: {arg}")
        return arg or ""

    return VARIABLE.sub(value, text)


def compose(env: dict[str, str] | None = None) -> dict[str, Any]:
    text = (REPO / "compose.yaml").read_text(encoding="utf-8")
    document: dict[str, Any] = yaml.safe_load(interpolated(text, env or {}))
    return document


def required_variables() -> dict[str, str]:
    """A throwaway value for every variable compose.yaml refuses to start without."""
    text = (REPO / "compose.yaml").read_text(encoding="utf-8")
    names = {m["name"] for m in VARIABLE.finditer(text) if m["op"] == ":?"}
    return {name: f"{name.lower()}-0123456789abcdef0123456789abcdef" for name in names}


def dockerfile_instructions(path: str = "Dockerfile") -> list[list[tuple[str, str]]]:
    """A Dockerfile's instructions (continuations joined): the global ARGs before the first
    FROM, then one list per stage."""
    text = (REPO / path).read_text(encoding="utf-8").replace("\\\n", " ")
    groups: list[list[tuple[str, str]]] = [[]]
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, argument = line.partition(" ")
        if instruction.upper() == "FROM":
            groups.append([])
        groups[-1].append((instruction.upper(), argument.strip()))
    return groups


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's stages, each a list of its instructions."""
    return dockerfile_instructions()[1:]


def production_settings(
    environment: dict[str, Any], monkeypatch: pytest.MonkeyPatch, role: Role
) -> Settings:
    """Settings as a container of compose.yaml loads them (its APP_CONFIG is our profile, and
    nothing of the test's environment leaks in)."""
    for name in ENV_SECRETS:
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        if value is None:
            continue  # passed through from the host only when set there
        if name == "APP_CONFIG":
            value = str(PRODUCTION)
        monkeypatch.setenv(name, str(value))
    return load_settings(role=role)


def test_compose_runs_the_production_layout() -> None:
    services = compose(required_variables())["services"]
    assert set(services) == DEPLOYMENT
    assert services["worker"]["deploy"]["replicas"] == 2
    assert services["worker"]["command"] == ["worker"]
    assert services["gateway"]["command"] == ["gateway"]
    for name in ("redis", "postgres"):
        assert services[name]["healthcheck"]["test"][0] == "CMD", name
    for name in APP_SERVICES:
        needs = services[name]["depends_on"]
        assert needs == {
            "redis": {"condition": "service_healthy"},
            "postgres": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }, name
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert "arq" in services["worker"]["healthcheck"]["test"]  # arq's own probe for workers


def test_compose_refuses_to_start_without_its_secrets() -> None:
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        compose({})
    text = (REPO / "compose.yaml").read_text(encoding="utf-8")
    assert not re.search(r"(API_KEY|SECRET|PASSWORD)\s*:\s*[\"']?[A-Za-z0-9]", text), (
        "a secret is written into compose.yaml"
    )


def test_the_hosts_and_ports_are_the_ones_production_yaml_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    document = compose(required_variables())
    services = document["services"]
    profile = yaml.safe_load(PRODUCTION.read_text(encoding="utf-8"))
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        assert environment["REDIS_URL"] == profile["redis"]["url"]
        redis = urlsplit(environment["REDIS_URL"])
        assert redis.hostname in services and redis.port == 6379
        postgres = urlsplit(environment["POSTGRES_URL"])
        database = services["postgres"]["environment"]
        assert postgres.hostname in services and postgres.port == 5432
        assert postgres.username == database["POSTGRES_USER"]
        assert postgres.password == database["POSTGRES_PASSWORD"]
        assert postgres.path == f"/{database['POSTGRES_DB']}"
    settings = production_settings(services["gateway"]["environment"], monkeypatch, "gateway")
    assert settings.gateway.host == "0.0.0.0"
    published = [str(p).split(":") for p in services["gateway"]["ports"]]
    assert [[str(settings.gateway.port)] * 2] == published
    assert settings.checkpoint.backend == "postgres" and settings.auth.backend == "postgres"
    assert settings.llm.provider == profile["llm"]["provider"]


def test_each_container_gets_only_the_secrets_its_process_uses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each starts on exactly what compose gives it, and holds nothing it does not use."""
    services = compose(required_variables())["services"]
    secrets = set(ENV_SECRETS)
    given = {name: set(services[name]["environment"]) & secrets for name in APP_SERVICES}
    given["migrate"] = set(services["migrate"]["environment"]) & secrets
    assert given["gateway"] == {"APP_GATEWAY__SECRET"}
    assert given["worker"] == secrets - {"APP_GATEWAY__SECRET"}
    assert given["migrate"] == set()
    for name, role in (("gateway", "gateway"), ("worker", "worker"), ("migrate", "migrate")):
        production_settings(services[name]["environment"], monkeypatch, role)


def test_the_profile_compose_names_is_the_one_the_image_ships() -> None:
    runtime = dict(reversed(dockerfile_stages()[-1]))  # the first of each instruction
    environment = compose(required_variables())["services"]["gateway"]["environment"]
    copies = [
        shlex.split(argument) for instruction, argument in dockerfile_stages()[-1]
        if instruction == "COPY" and not argument.startswith("--from")
    ]  # fmt: skip
    assert ["config/production.yaml", environment["APP_CONFIG"]] in copies
    assert f"APP_CONFIG={environment['APP_CONFIG']}" in runtime["ENV"].split()


def test_the_image_is_slim_non_root_with_runtime_dependencies_only() -> None:
    preamble, *stages = dockerfile_instructions()
    # The base is a build argument (.ci/container_check.sh passes a Debian-built one where no
    # registry answers); its default is the slim official Python, for every stage.
    assert ("ARG", "BASE=python:3.11-slim") in preamble
    assert len(stages) >= 2, "multi-stage: the build tools stay in the build stage"
    for stage in stages:
        assert stage[0][1].split()[0] == "${BASE}"
    build, runtime = stages[0], stages[-1]
    instructions = [instruction for instruction, _ in runtime]
    user = next(argument for instruction, argument in runtime if instruction == "USER")
    assert user.split(":")[0] not in ("root", "0")
    assert instructions.index("USER") < instructions.index("ENTRYPOINT")
    assert "HEALTHCHECK" in instructions
    entrypoint = next(argument for instruction, argument in runtime if instruction == "ENTRYPOINT")
    assert yaml.safe_load(entrypoint) == ["python", "-m", "app"]
    # The runtime takes the build stage's environment and nothing else of it: no pip runs there,
    # and no wheel is copied in.
    assert not [a for i, a in runtime if i == "RUN" and "pip" in a]
    assert [a for i, a in runtime if i == "COPY" and a.startswith("--from")] == [
        "--from=build /opt/eco2 /opt/eco2"
    ]
    environment = next(a for i, a in runtime if i == "ENV").split()
    assert "PATH=/opt/eco2/bin:$PATH" in environment  # `python` is the environment's
    installs = [a for i, a in build if i == "RUN" and "pip install" in a]
    assert installs and all("[" not in a and "-e " not in a for a in installs), installs
    assert all("--no-index" in a and "pip uninstall --yes pip setuptools" in a for a in installs)
    wheel = [a for i, a in build if i == "RUN" and "pip wheel" in a]
    assert wheel and all(a.rstrip().endswith(" .") for a in wheel), wheel  # no extras


def test_compose_runs_the_official_images_unless_told_otherwise() -> None:
    """The container check names Debian-built stand-ins by variables; by default compose.yaml
    runs the images production does, and the gateway on 8000."""
    services = compose(required_variables())["services"]
    assert services["redis"]["image"] == "redis:7-alpine"
    assert services["postgres"]["image"] == "postgres:16-alpine"
    for name in ("migrate", *APP_SERVICES):
        assert services[name]["image"] == "eco2-chat-worker:latest", name
    chosen = compose(
        {
            **required_variables(),
            "ECO2_IMAGE": "eco2-chat-worker:container-check",
            "REDIS_IMAGE": "eco2-ci/redis:0",
            "POSTGRES_IMAGE": "eco2-ci/postgres:0",
            "GATEWAY_PUBLISH": "127.0.0.1:",
        }
    )["services"]
    assert chosen["redis"]["image"] == "eco2-ci/redis:0"
    assert chosen["postgres"]["image"] == "eco2-ci/postgres:0"
    assert chosen["gateway"]["image"] == "eco2-chat-worker:container-check"
    assert chosen["gateway"]["ports"] == ["127.0.0.1::8000"]  # any free port on loopback


def test_the_stand_in_images_do_what_compose_asks_of_the_official_ones() -> None:
    """.ci/images/Dockerfile: one target per image the container check makes from Debian."""
    _, *stages = dockerfile_instructions(".ci/images/Dockerfile")
    targets = {stage[0][1].split()[-1]: stage for stage in stages}
    assert set(targets) == {"python", "redis", "postgres"}
    services = compose(required_variables())["services"]
    for name in ("redis", "postgres"):
        instructions = dict(targets[name])
        assert instructions["USER"] not in ("root", "0"), name
        assert yaml.safe_load(instructions["ENTRYPOINT"]) == ["docker-entrypoint.sh"], name
        script = REPO / ".ci" / "images" / f"{name}-entrypoint.sh"
        assert script.stat().st_mode & 0o111, f"{script} is not executable"
        probe = services[name]["healthcheck"]["test"][1]  # redis-cli, pg_isready
        assert probe in ("redis-cli", "pg_isready")
    assert "python3-venv" in dict(targets["python"])["RUN"]


def test_the_build_context_leaves_out_what_the_image_must_not_hold() -> None:
    lines = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    rules = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert rules[0] == "*"  # nothing unless named: no .venv, .env, var/, tests or .git
    named = {rule.removeprefix("!").rstrip("/") for rule in rules if rule.startswith("!")}
    # wheels/: the wheels .ci/container_check.sh builds on the host (none are tracked)
    assert named <= {"pyproject.toml", "README.md", "app", "config/production.yaml", "wheels"}


def test_the_ci_override_runs_a_chat_with_no_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The container check's override makes the same deployment answer offline."""
    override = yaml.safe_load((REPO / ".ci" / "compose.offline.yaml").read_text(encoding="utf-8"))
    assert set(override["services"]) <= set(APP_SERVICES)
    base = compose(required_variables())["services"]["gateway"]["environment"]
    settings = production_settings(
        {**base, **override["services"]["gateway"]["environment"]}, monkeypatch, "gateway"
    )
    assert settings.llm.provider == "offline" and settings.llm.fallbacks == []
    assert settings.auth.allow_anonymous
    assert str(settings.redis.url) == base["REDIS_URL"]
