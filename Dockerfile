# The chat worker and the gateway in one image: `docker run IMAGE gateway` or `... worker`.
# Stage 1 builds our wheel and the wheels of its runtime dependencies (no extras: no test or
# dev tools) and installs them into a virtual environment, /opt/eco2; stage 2 is the same base
# with that environment only (no pip, no wheels, no compiler), run as a user of its own.
#
# BASE: a Debian-based image whose python3 is Python 3.11 with its venv module, e.g. the
# default, or the Debian-built one .ci/container_check.sh makes where no registry answers.
# Wheels put in wheels/ beforehand are used first; with --build-arg OFFLINE=1 they are the only
# source (no index is reached, so the build needs no network).
ARG BASE=python:3.11-slim

FROM ${BASE} AS build
ARG OFFLINE=
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
LABEL org.eco2.stage=build
RUN python3 -m venv /opt/eco2
WORKDIR /src
COPY wheels/ /wheels/
COPY pyproject.toml README.md ./
COPY app ./app
RUN /opt/eco2/bin/pip wheel ${OFFLINE:+--no-index} --find-links /wheels --wheel-dir /wheels .
RUN /opt/eco2/bin/pip install --no-index --find-links /wheels eco2-chat-worker \
    && /opt/eco2/bin/pip uninstall --yes pip setuptools

FROM ${BASE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/eco2/bin:$PATH \
    APP_CONFIG=/etc/eco2/production.yaml
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /srv/eco2 eco2
COPY --from=build /opt/eco2 /opt/eco2
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
