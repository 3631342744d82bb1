#!/usr/bin/env bash
# The image and compose.yaml, run for real where a container engine answers: build the image,
# start the deployment (offline override), send one chat to the gateway and read its events to
# `done`, tear it down. Where none answers, say so and lint compose.yaml with whichever compose
# CLI exists (tests/unit/test_deploy_files.py checks both files against production.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."

# Throwaway values: the offline override needs no real key, but compose.yaml requires them.
export POSTGRES_PASSWORD="ci-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
export APP_GATEWAY__SECRET="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
export OPENAI_API_KEY=unused-offline GOOGLE_API_KEY=unused-offline
export KAKAO_API_KEY=unused-offline TAVILY_API_KEY=unused-offline
files=(-f compose.yaml -f .ci/compose.offline.yaml)

if compose_version="$(docker compose version 2>/dev/null)"; then
    compose=(docker compose)
elif compose_version="docker-compose $(docker-compose version --short 2>/dev/null)"; then
    compose=(docker-compose)
else
    compose=()
fi

if ! docker info >/dev/null 2>&1; then
    why="$(docker info 2>&1 | tail -1 || true)"
    echo "container check: skipped, no container engine answers (docker info: ${why:-docker not installed})"
    if [ ${#compose[@]} -gt 0 ]; then
        "${compose[@]}" "${files[@]}" config -q
        echo "container check: compose.yaml is valid ($compose_version)"
    else
        echo "container check: no compose CLI either; tests/unit/test_deploy_files.py linted the files"
    fi
    exit 0
fi

if [ "${compose[0]:-}" != docker ]; then
    echo "container check: skipped, the engine answers but docker compose v2 is missing (${compose_version:-no compose CLI})"
    exit 0
fi
project="eco2ci$$"
run() { "${compose[@]}" -p "$project" "${files[@]}" "$@"; }
cleanup() { run down -v --remove-orphans >/dev/null 2>&1 || true; }
trap cleanup EXIT
run build
run up -d --wait
port="$(run port gateway 8000 | sed 's/.*://')"
base="http://127.0.0.1:$port"
for _ in $(seq 1 150); do
    curl -sf "$base/readyz" >/dev/null && break
    sleep 1
done
curl -sf "$base/readyz" || { run logs; exit 1; }
accepted="$(curl -sf -H 'Content-Type: application/json' -d '{"message": "페트병 어떻게 버려요?"}' "$base/v1/chat")"
events_url="$(python3 -c 'import json, sys; print(json.load(sys.stdin)["events_url"])' <<<"$accepted")"
events="$(curl -sN --max-time 120 "$base$events_url")"
if ! grep -q '^event: done' <<<"$events" || ! grep -q '라벨' <<<"$events"; then
    echo "container check: the chat did not end with done:" >&2
    echo "$events" | tail -20 >&2
    run logs >&2
    exit 1
fi
echo "container check: one chat ran through compose (2 workers, gateway, Redis, PostgreSQL)"
