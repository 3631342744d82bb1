"""What an entry point does before its container starts: logging first (uvicorn and arq log
before any lifespan or startup hook runs), then one try at the services it cannot run without."""

from __future__ import annotations

from dependency_injector import containers, providers

from app.infrastructure.observability.logging import configure_from_settings
from app.infrastructure.reachability import require_reachable
from app.settings import Settings


class Startup(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)

    logging = providers.Callable(configure_from_settings, settings)
    # `await startup.require(redis=True, checkpoint=True)`: ServiceUnreachable names the fix.
    require = providers.Coroutine(require_reachable, settings)
