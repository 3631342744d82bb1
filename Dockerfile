# syntax=docker/dockerfile:1
# The chat worker and the gateway in one image: `docker run IMAGE gateway` or `... worker`.
# Stage 1 builds our wheel and the wheels of its runtime dependencies (no extras: no test or
# dev tools); stage 2 installs them offline into a slim Python and runs as a user of its own.

FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir --upgrade pip
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    APP_CONFIG=/etc/eco2/production.yaml
COPY --from=build /wheels /tmp/wheels
RUN pip install --no-cache-dir --no-index --find-links /tmp/wheels eco2-chat-worker \
    && rm -rf /tmp/wheels \
    && useradd --system --uid 10001 --user-group --create-home --home-dir /srv/eco2 eco2
COPY config/production.yaml /etc/eco2/production.yaml
# var/ (images, a local key file or SQLite checkpoints, if a profile uses them) is written here.
WORKDIR /srv/eco2
USER eco2:eco2
EXPOSE 8000
# The gateway's liveness; compose.yaml gives workers arq's own probe instead.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('APP_GATEWAY__PORT', '8000') + '/healthz', timeout=4)"]
ENTRYPOINT ["python", "-m", "app"]
CMD ["gateway"]
