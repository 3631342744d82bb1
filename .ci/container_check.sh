#!/usr/bin/env bash
# The image and compose.yaml, run for real: one chat through Redis, PostgreSQL, the migration,
# two workers and the gateway, each a container of its image.
#
#  1. An engine: the one that answers (DOCKER_HOST or the default socket; left running), else a
#     dockerd of our own (installed from Debian if missing: docker.io, docker-compose), on a
#     socket and data root of its own, with no iptables rules, no docker0 and no forwarding (the
#     host's firewall and loopback services stay as they were); stopped at the end.
#  2. Wheels: built on the host (its pip, its index access, the versions of its .venv) into
#     wheels/, completed for the base's own Python (its markers: Debian's 3.11.2 needs
#     async-timeout, 3.11.3+ does not).
#  3. Base images: python:3.11-slim, redis:7-alpine, postgres:16-alpine where a registry gives
#     them; else stand-ins made from Debian packages (debootstrap --variant=minbase bookworm,
#     then .ci/images/Dockerfile), cached as a tarball under ~/.cache/eco2 and kept in the engine.
#  4. The image: Dockerfile with BASE=that base, OFFLINE=1, no network; its id and size.
#  5. compose.yaml + .ci/compose.offline.yaml (`docker compose`, else `docker-compose`, else
#     the same layout by `docker run`), a chat (.ci/container_chat.py: POST, its stream to
#     `done`, the stored history), the conversation's rows read in PostgreSQL with psql.
# Fails when any step fails; skips (exit 0, saying why) only when no engine can be started.
# Everything it starts (containers, networks, volumes, its dockerd) is stopped on exit.
#
# Knobs: ECO2_CACHE_DIR (~/.cache/eco2), ECO2_RUNNER=compose|docker-run, ECO2_DEBIAN_MIRROR.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
say() { printf 'container check [%3ds] %s\n' "$((SECONDS - started))" "$*"; }
fail() { say "FAILED: $*" >&2; exit 1; }
skip() { say "skipped: $*"; exit 0; }

cache="${ECO2_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/eco2}"
mkdir -p "$cache"
logs="$(mktemp -d "${TMPDIR:-/tmp}/eco2-container-check.XXXXXX")"
# One check at a time on a machine: they share the cache and the engine we may start.
exec 9>"$cache/container-check.lock"
if ! flock -n 9; then
    say "waiting for another container check on this machine to finish"
    flock 9
fi

own_run=/run/eco2-dockerd
own_socket="unix://$own_run/docker.sock"
dockerd_pid=""         # set when this run started (or took over) the engine
deployment=""          # compose | docker-run, once anything of the chat's layout was started
project="eco2check$$"
rootfs=""

cleanup() {
    local status=$?
    set +e
    trap - INT TERM
    for pid in $(jobs -p); do   # steps still running in the background (not dockerd: below)
        [ "$pid" = "$dockerd_pid" ] && continue
        pkill -TERM -P "$pid" 2>/dev/null
        kill -TERM "$pid" 2>/dev/null
    done
    if [ -n "$deployment" ]; then
        if [ "$status" != 0 ]; then
            say "the containers' last log lines:" >&2
            deployment_logs >&2
        fi
        deployment_down
        say "removed the containers, network and volumes of $project"
    fi
    [ -n "$rootfs" ] && rm -rf "$rootfs"
    rm -rf "$logs"
    if [ -n "$dockerd_pid" ]; then
        kill -TERM "$dockerd_pid" 2>/dev/null
        for _ in $(seq 1 60); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.5; done
        if kill -0 "$dockerd_pid" 2>/dev/null; then
            kill -KILL "$dockerd_pid" 2>/dev/null
            say "dockerd $dockerd_pid did not stop in 30 s: killed"
        else
            say "stopped the dockerd it started (pid $dockerd_pid)"
        fi
        # dockerd leaves the host's network namespace bound under its exec root.
        awk -v root="$own_run/" 'index($2, root) == 1 { print $2 }' /proc/mounts | sort -r \
            | xargs -r -n1 umount 2>/dev/null
    fi
    say "$([ "$status" = 0 ] && echo done || echo "failed (exit $status)") in $((SECONDS - started)) s"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Shows a step's log when it fails.
quietly() {
    local log="$logs/$1"
    shift
    if ! "$@" >"$log" 2>&1; then
        tail -40 "$log" >&2
        return 1
    fi
}

can_install() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }
apt_install() {
    say "installing $* from Debian"
    export DEBIAN_FRONTEND=noninteractive
    quietly apt-update.log apt-get -o DPkg::Lock::Timeout=600 update -qq \
        && quietly apt-install.log apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
            --no-install-recommends "$@" \
        || fail "apt-get could not install $*"
}

# --- 1. the engine -------------------------------------------------------------------------
compose_tool() {
    if docker compose version >/dev/null 2>&1; then
        compose=(docker compose)
    elif docker-compose version >/dev/null 2>&1; then
        compose=(docker-compose)
    else
        compose=()
    fi
}

start_dockerd() {  # [storage driver]
    local log="$cache/dockerd.log" driver=()
    [ -n "${1:-}" ] && driver=(--storage-driver "$1")
    mkdir -p "$own_run" "$cache/dockerd"
    # A session of its own: ^C reaches this script, whose clean-up then stops the containers
    # before the daemon.
    setsid dockerd --host "$own_socket" --data-root "$cache/dockerd" --exec-root "$own_run/exec" \
        --pidfile "$own_run/dockerd.pid" --bridge none --iptables=false --ip-forward=false \
        --ip-masq=false "${driver[@]}" >"$log" 2>&1 9>&- &
    dockerd_pid=$!
    for _ in $(seq 1 120); do
        docker info >/dev/null 2>&1 && return 0
        kill -0 "$dockerd_pid" 2>/dev/null || break
        sleep 0.5
    done
    kill -TERM "$dockerd_pid" 2>/dev/null && wait "$dockerd_pid" 2>/dev/null
    dockerd_pid=""
    why="$(grep -E 'level=(fatal|error)' "$log" | tail -1 | sed 's/.*msg="\([^"]*\)".*/\1/')"
    why="${why:-$(tail -1 "$log")}"
    return 1
}

default_host="${DOCKER_HOST:-}"
default_engine() {
    if [ -n "$default_host" ]; then
        DOCKER_HOST="$default_host" docker info >/dev/null 2>&1
    else
        env -u DOCKER_HOST docker info >/dev/null 2>&1
    fi
}
if default_engine; then
    say "engine: the one already running (${DOCKER_HOST:-default socket}); it is left running"
else
    export DOCKER_HOST="$own_socket"
    if docker info >/dev/null 2>&1; then
        # Ours, left by a run that was killed before its clean-up (the lock says none runs).
        dockerd_pid="$(cat "$own_run/dockerd.pid" 2>/dev/null || true)"
        say "engine: the dockerd a killed check left on $own_socket (pid ${dockerd_pid:-?}); taken over"
    else
        if ! command -v dockerd >/dev/null; then
            compose_tool
            packages=(docker.io)
            [ ${#compose[@]} -gt 0 ] || packages+=(docker-compose)
            can_install \
                || skip "no container engine answers and none can be installed (needs root and apt-get; uid $(id -u))"
            apt_install "${packages[@]}"
        fi
        why=""
        if default_engine; then
            # The package started its own service (where nothing stops that): use it.
            if [ -n "$default_host" ]; then export DOCKER_HOST="$default_host"; else unset DOCKER_HOST; fi
            say "engine: the one docker.io's installation started; it is left running"
        else
            if ! start_dockerd; then
                say "dockerd did not start ($why); again with the vfs storage driver"
                start_dockerd vfs || skip "no container engine can start here: dockerd: $why"
            fi
            say "engine: started dockerd $(dockerd --version | sed 's/Docker version //') (pid $dockerd_pid, $(docker info -f '{{.Driver}}' 2>/dev/null) storage, no iptables) on $own_socket"
        fi
    fi
fi
export DOCKER_BUILDKIT=0   # the classic builder: no frontend image to pull, builds offline
compose_tool
runner="${ECO2_RUNNER:-$([ ${#compose[@]} -gt 0 ] && echo compose || echo docker-run)}"
[ "$runner" = compose ] && [ ${#compose[@]} -eq 0 ] && fail "ECO2_RUNNER=compose but no compose tool"

# Steps that need not wait run in the background (the host's wheels while the base is made;
# the Redis and PostgreSQL stand-ins while the image builds), each with a log of its own.
in_background() {  # name command...
    local name=$1
    shift
    "$@" >"$logs/$name.log" 2>&1 &
    printf -v "pid_${name//-/_}" '%s' "$!"
}
join() {  # name: waits for it; fails with its log when it failed
    local pid="pid_${1//-/_}"
    if ! wait "${!pid}"; then
        tail -40 "$logs/$1.log" >&2
        fail "$1 failed"
    fi
}

# --- 2. wheels, on the host (in the background) ---------------------------------------------
# The versions the host's environment holds (the ones the suite tests), through the host's index
# access; kept in $cache/wheels too, so that a run whose versions are all there asks no index.
python="$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)"
store="$cache/wheels" fresh="$logs/wheels" project_wheel="$logs/project"
mkdir -p "$store" "$fresh" "$project_wheel"
"$python" -m pip freeze --exclude-editable 2>/dev/null \
    | grep -v -e ' @ ' -e '^-e' | grep -viE '^(pip|setuptools|wheel)==' >"$logs/constraints.txt" || true
wheel() {  # requirements...: their wheels into $fresh, from the store alone if it has them all
    "$python" -m pip wheel --no-index --find-links "$store" --constraint "$logs/constraints.txt" \
        --wheel-dir "$fresh" "$@" >"$logs/wheels-store.log" 2>&1 \
        || "$python" -m pip wheel --find-links "$store" --constraint "$logs/constraints.txt" \
            --wheel-dir "$fresh" "$@"
}
host_wheels() {  # ours and our dependencies' (ours is kept apart: the image builds its own)
    local requires
    requires="$("$python" -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"])')"
    # shellcheck disable=SC2086  # the build requirements, one word each
    wheel . $requires && mv "$fresh"/eco2_chat_worker-*.whl "$project_wheel/"
}
wheels_started=$SECONDS
in_background wheels host_wheels

# --- 3. base images -------------------------------------------------------------------------
have_image() { docker image inspect "$1" >/dev/null 2>&1; }
pulled() { have_image "$1" || timeout 300 docker pull -q "$1" >"$logs/pull.log" 2>&1; }
size_mb() { docker image inspect -f '{{.Size}}' "$1" | awk '{printf "%.0f MB", $1 / 1e6}'; }

suite=bookworm
mirror="${ECO2_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

# A Debian minbase, slimmed as the official Debian images are, imported as eco2-ci/debian:KEY.
# (Every path below is under ${rootfs:?}: an empty rootfs stops the script, not the host.)
make_debian() {
    if ! command -v debootstrap >/dev/null; then
        can_install || fail "debootstrap is missing and cannot be installed (needs root and apt-get)"
        apt_install debootstrap
    fi
    rootfs="$(mktemp -d "$cache/rootfs.XXXXXX")"
    say "debootstrap --variant=minbase $suite from $mirror"
    quietly debootstrap.log debootstrap --variant=minbase "$suite" "${rootfs:?}" "$mirror"
    printf 'path-exclude %s\n' /usr/share/doc/\* /usr/share/man/\* /usr/share/info/\* \
        /usr/share/locale/\* >"${rootfs:?}/etc/dpkg/dpkg.cfg.d/docker-slim"
    echo 'path-include /usr/share/doc/*/copyright' >>"${rootfs:?}/etc/dpkg/dpkg.cfg.d/docker-slim"
    printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
        >"${rootfs:?}/etc/apt/apt.conf.d/docker-no-recommends"
    rm -rf "${rootfs:?}"/var/cache/apt/archives/*.deb "${rootfs:?}"/var/lib/apt/lists/* \
        "${rootfs:?}"/usr/share/man/* "${rootfs:?}"/usr/share/info/* "${rootfs:?}"/usr/share/locale/*
    find "${rootfs:?}/usr/share/doc" -type f ! -name copyright -delete
    tar --numeric-owner -C "${rootfs:?}" --exclude='./dev/*' --exclude='./proc/*' \
        --exclude='./sys/*' -c . \
        | docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'ENV LANG=C.UTF-8' --change 'CMD ["bash"]' - "$1" >/dev/null
    rm -rf "${rootfs:?}"
    rootfs=""
}
stand_in() {  # target: an image of .ci/images/Dockerfile (apt needs the host's network)
    docker build --network host --target "$1" --build-arg "DEBIAN=eco2-ci/debian:$key" \
        -t "eco2-ci/$1:$key" .ci/images
}
stand_ins() { stand_in redis && stand_in postgres; }

made=""   # when the stand-ins are made here: the time they began (saved to the cache at the end)
if pulled python:3.11-slim && pulled redis:7-alpine && pulled postgres:16-alpine; then
    base=python:3.11-slim redis_image=redis:7-alpine postgres_image=postgres:16-alpine
    say "base images: from a registry (python:3.11-slim, redis:7-alpine, postgres:16-alpine)"
else
    say "base images: no registry gives python:3.11-slim ($(tail -1 "$logs/pull.log" 2>/dev/null | cut -c1-120)); made from Debian packages"
    # The recipe's hash names the images and the cached tarball: a change to it rebuilds them.
    key="$({ cat .ci/images/*; declare -f make_debian; echo "$suite $mirror"; } | sha256sum | cut -c1-12)"
    base="eco2-ci/python:$key" redis_image="eco2-ci/redis:$key" postgres_image="eco2-ci/postgres:$key"
    tarball="$cache/base-images-$key.tar"
    if have_image "$base" && have_image "$redis_image" && have_image "$postgres_image"; then
        say "base images: eco2-ci/{python,redis,postgres}:$key are in the engine"
    elif [ -s "$tarball" ]; then
        quietly load.log docker load -i "$tarball"
        say "base images: loaded from $tarball"
    else
        made=$SECONDS
        make_debian "eco2-ci/debian:$key"
        say "base images: Debian minbase imported in $((SECONDS - made)) s ($(size_mb "eco2-ci/debian:$key"))"
        quietly image-python.log stand_in python
        in_background stand-ins stand_ins
        say "base images: eco2-ci/python:$key built; the Redis and PostgreSQL ones meanwhile"
    fi
    say "base: $base ($(docker run --rm --network none "$base" python3 --version), $(size_mb "$base"))"
fi

join wheels
# The base's Python may need what the host's does not (environment markers): ask it, offline
# (the host's pip, mounted: the base may have none), what is missing, and fetch that on the host,
# until nothing is.
host_pip="$("$python" -c 'import os, pip; print(os.path.dirname(pip.__file__))')"
for round in 1 2 3 4 5 6; do
    docker run --rm --network none -v "$fresh:/wheels:ro" -v "$project_wheel:/project:ro" \
        -v "$host_pip:/host-pip/pip:ro" -e PYTHONPATH=/host-pip "$base" \
        python3 -m pip install --dry-run --quiet --no-cache-dir --break-system-packages \
        --no-index --find-links /wheels --find-links /project eco2-chat-worker \
        >"$logs/resolve.log" 2>&1 && break
    mapfile -t missing < <(sed -n 's/^ERROR: No matching distribution found for \([^; ]*\).*/\1/p' "$logs/resolve.log")
    if [ ${#missing[@]} -eq 0 ] || [ "$round" = 6 ]; then
        tail -20 "$logs/resolve.log" >&2
        fail "the base's Python cannot install the wheels"
    fi
    say "wheels: the base's Python also needs ${missing[*]} (its environment markers)"
    quietly wheels-more.log wheel "${missing[@]}" || fail "pip wheel on the host"
done
cp -n "$fresh"/*.whl "$store/"
rm -f wheels/*.whl
mv "$fresh"/*.whl wheels/
say "wheels: $(ls wheels/*.whl | wc -l) from the host's pip, ready after $((SECONDS - wheels_started)) s ($(du -cm wheels/*.whl | tail -1 | cut -f1) MB)"

# --- 4. the image ---------------------------------------------------------------------------
image=eco2-chat-worker:container-check
previous="$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)"
step=$SECONDS
quietly build.log docker build --network none --build-arg "BASE=$base" --build-arg OFFLINE=1 \
    -t "$image" .
image_id="$(docker image inspect -f '{{.Id}}' "$image")"
say "image: $image id $image_id, size $(size_mb "$image") (base $(size_mb "$base")), built in $((SECONDS - step)) s"
if [ -n "$previous" ] && [ "$previous" != "$image_id" ]; then
    docker rmi "$previous" >/dev/null 2>&1 || true
fi
# The classic builder keeps each build stage as an untagged image: keep the one this build used
# (the next build's cache), remove older ones.
used="$(awk '/^Step [0-9]+\/[0-9]+ : FROM .* AS runtime/ { print last } /^ ---> [0-9a-f]+$/ { last = $2 }' "$logs/build.log")"
docker images -q --no-trunc --filter dangling=true --filter label=org.eco2.stage=build \
    | grep -v "sha256:${used:-none}" | xargs -r docker rmi >/dev/null 2>&1 || true
user="$(docker run --rm --network none --entrypoint id "$image" -un)"
[ "$user" = eco2 ] || fail "the image runs as $user, not eco2"
docker run --rm --network none --entrypoint python "$image" -c 'import importlib.util as u, sys
sys.exit(any(u.find_spec(m) for m in ("pip", "setuptools", "pytest", "mypy", "ruff")))' \
    || fail "the image's environment holds pip, setuptools or a test tool"

if [ -n "$made" ]; then
    join stand-ins
    quietly save.log docker save -o "$tarball.part" "$base" "$redis_image" "$postgres_image"
    mv "$tarball.part" "$tarball"
    say "base images: made in $((SECONDS - made)) s (the image meanwhile), cached in $tarball ($(du -m "$tarball" | cut -f1) MB)"
    # Older recipes' images and tarballs go.
    find "$cache" -maxdepth 1 -name 'base-images-*.tar' ! -name "base-images-$key.tar" -delete
    docker images --format '{{.Repository}}:{{.Tag}}' \
        | grep -E '^eco2-ci/(debian|python|redis|postgres):' | grep -v ":$key\$" \
        | xargs -r docker rmi >/dev/null 2>&1 || true
fi

# --- 5. the deployment and one chat ---------------------------------------------------------
# Throwaway values: the offline override needs no real key, but compose.yaml requires them.
export POSTGRES_PASSWORD="ci-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
export APP_GATEWAY__SECRET="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
export OPENAI_API_KEY=unused-offline GOOGLE_API_KEY=unused-offline
export KAKAO_API_KEY=unused-offline TAVILY_API_KEY=unused-offline
export ECO2_IMAGE="$image" REDIS_IMAGE="$redis_image" POSTGRES_IMAGE="$postgres_image"
export GATEWAY_PUBLISH=127.0.0.1:   # any free port on loopback
files=(-f compose.yaml -f .ci/compose.offline.yaml)
run() { "${compose[@]}" -p "$project" "${files[@]}" "$@"; }

# The layout of compose.yaml + .ci/compose.offline.yaml without compose (no compose tool).
offline_env=(-e LLM_DEFAULT_PROVIDER=offline -e APP_LLM__PROVIDER=offline -e APP_LLM__FALLBACKS=[]
    -e APP_TRACING__ENABLED=false -e APP_SERVICES__KAKAO__ENABLED=false
    -e APP_SERVICES__TAVILY__ENABLED=false -e APP_AUTH__ALLOW_ANONYMOUS=true)
app_env=(-e APP_CONFIG=/etc/eco2/production.yaml -e REDIS_URL=redis://redis:6379/0
    -e "POSTGRES_URL=postgresql://eco2:$POSTGRES_PASSWORD@postgres:5432/eco2")
container() { docker run -d --name "$project-$1" --network "$project" --label "eco2check=$project" "${@:2}" >/dev/null; }
wait_until() {  # seconds, what, command...: 1 (saying what) when it never succeeds
    local seconds=$1 what=$2
    shift 2
    for _ in $(seq 1 "$seconds"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
    echo "$what after $seconds s" >&2
    return 1
}
# (Called as a condition, so errexit does not apply inside: every step is chained.)
docker_run_up() {
    docker network create --label "eco2check=$project" "$project" \
    && container redis --network-alias redis "$REDIS_IMAGE" redis-server --appendonly yes --save "" \
    && container postgres --network-alias postgres -e POSTGRES_USER=eco2 -e POSTGRES_DB=eco2 \
        -e POSTGRES_PASSWORD "$POSTGRES_IMAGE" \
    && wait_until 60 "redis is not ready" docker exec "$project-redis" redis-cli ping \
    && wait_until 90 "postgres is not ready" \
        docker exec "$project-postgres" pg_isready -U eco2 -d eco2 \
    && docker run --rm --network "$project" --label "eco2check=$project" \
        -e APP_CONFIG=/etc/eco2/production.yaml \
        -e "POSTGRES_URL=postgresql://eco2:$POSTGRES_PASSWORD@postgres:5432/eco2" "$image" migrate \
    && container worker-1 "${app_env[@]}" "${offline_env[@]}" -e OPENAI_API_KEY \
        -e GOOGLE_API_KEY -e KAKAO_API_KEY -e TAVILY_API_KEY "$image" worker \
    && container worker-2 "${app_env[@]}" "${offline_env[@]}" -e OPENAI_API_KEY \
        -e GOOGLE_API_KEY -e KAKAO_API_KEY -e TAVILY_API_KEY "$image" worker \
    && container gateway -p "${GATEWAY_PUBLISH}:8000" "${app_env[@]}" "${offline_env[@]}" \
        -e APP_GATEWAY__SECRET "$image" gateway
}
deployment_logs() {
    if [ "$deployment" = compose ]; then
        run logs --tail 30 2>&1 | tail -150
    else
        for name in $(docker ps -aq --filter "label=eco2check=$project"); do
            docker logs --tail 30 "$name" 2>&1
        done
    fi
}
deployment_down() {
    if [ "$deployment" = compose ]; then
        run down -v --remove-orphans -t 20 >/dev/null 2>&1
    else
        docker ps -aq --filter "label=eco2check=$project" | xargs -r docker rm -f -v >/dev/null 2>&1
        docker network rm "$project" >/dev/null 2>&1
    fi
}
container_of() {
    if [ "$deployment" = compose ]; then run ps -q "$1" | head -1; else echo "$project-$1"; fi
}

# Leftovers of a killed check (the lock says none runs now).
docker ps -aq --filter name='^eco2check' | xargs -r docker rm -f -v >/dev/null 2>&1 || true
docker network ls -q --filter name='^eco2check' | xargs -r docker network rm >/dev/null 2>&1 || true
docker volume ls -q --filter name='^eco2check' | xargs -r docker volume rm >/dev/null 2>&1 || true

step=$SECONDS
deployment="$runner"
if [ "$runner" = compose ]; then
    say "deployment: ${compose[*]} $("${compose[@]}" version --short 2>/dev/null) up (compose.yaml + .ci/compose.offline.yaml)"
    quietly compose.log run up -d --no-build
    gateway_port="$(run port gateway 8000 | sed 's/.*://')"
else
    say "deployment: docker run (no compose tool), the layout of compose.yaml"
    quietly docker-run.log docker_run_up
    gateway_port="$(docker port "$project-gateway" 8000 | head -1 | sed 's/.*://')"
fi
gateway="http://127.0.0.1:$gateway_port"
ready() { curl -sf "$gateway/readyz" >/dev/null; }
wait_until 180 "the gateway is not ready at $gateway/readyz" ready || fail "no gateway"
running="$(docker ps --format '{{.Names}}' | grep -cE "^$project[-_]" || true)"
say "deployment: $running containers up, the gateway ready at $gateway in $((SECONDS - step)) s"
[ "$running" = 5 ] || fail "expected 5 containers (redis, postgres, 2 workers, gateway), found $running"
[ "$(docker exec "$(container_of gateway)" id -u)" = 10001 ] || fail "the gateway runs as root"

step=$SECONDS
python3 .ci/container_chat.py "$gateway" | tee "$logs/chat.log"
conversation="$(sed -n 's/^conversation=//p' "$logs/chat.log")"
[ -n "$conversation" ] || fail "the chat did not end with done"
stored="$(docker exec "$(container_of postgres)" psql -U eco2 -d eco2 -tAc \
    "SELECT string_agg(role, ',' ORDER BY seq) FROM eco2_messages WHERE conversation_id = '$conversation'")"
[ "$stored" = user,assistant ] || fail "PostgreSQL holds '$stored' for conversation $conversation"
say "chat: done in $((SECONDS - step)) s; PostgreSQL (eco2_messages) holds its turn: $stored"
