#!/usr/bin/env bash
# Start Redis and PostgreSQL when nothing answers on their ports; reuse them when something does.
# The tests use TEST_REDIS_URL / TEST_POSTGRES_URL (defaults: 127.0.0.1:6379, :5432); a server
# they name elsewhere must already run.
set -euo pipefail

redis_url="${TEST_REDIS_URL:-redis://127.0.0.1:6379/0}"
postgres_url="${TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/test}"
# host and port of a URL (scheme://[user[:password]@]host[:port][/...]), or the default port
host_of() { local rest="${1#*://}"; rest="${rest##*@}"; rest="${rest%%/*}"; echo "${rest%%:*}"; }
port_of() {
    local rest="${1#*://}"; rest="${rest##*@}"; rest="${rest%%/*}"
    if [[ "$rest" == *:* ]]; then echo "${rest##*:}"; else echo "$2"; fi
}
redis_host="$(host_of "$redis_url")" redis_port="$(port_of "$redis_url" 6379)"
pg_host="$(host_of "$postgres_url")" pg_port="$(port_of "$postgres_url" 5432)"

answers() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
local_host() { [ "$1" = 127.0.0.1 ] || [ "$1" = localhost ]; }

wait_for() {
    for _ in $(seq 1 50); do answers "$1" "$2" && return 0; sleep 0.2; done
    echo "nothing answers on $1:$2 after starting $3" >&2
    return 1
}

if ! answers "$redis_host" "$redis_port"; then
    if ! local_host "$redis_host"; then
        echo "redis: nothing answers at TEST_REDIS_URL ($redis_host:$redis_port)" >&2
        exit 1
    fi
    if ! command -v redis-server >/dev/null; then
        apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
    fi
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_for 127.0.0.1 "$redis_port" redis-server
fi
echo "redis: $redis_host:$redis_port answers"

if ! answers "$pg_host" "$pg_port"; then
    if local_host "$pg_host" && [ "$pg_port" = 5432 ] && command -v pg_ctlcluster >/dev/null \
        && ls /etc/postgresql >/dev/null 2>&1; then
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
        wait_for 127.0.0.1 5432 postgresql
        echo "postgresql: 127.0.0.1:5432 answers"
    else
        echo "postgresql: nothing answers at $pg_host:$pg_port; tests that need it will say so" >&2
    fi
else
    echo "postgresql: $pg_host:$pg_port answers"
fi

# The chat-page test drives Debian's headless Chromium (nothing is downloaded by the test);
# fonts-noto-cjk so its screenshots show Hangul, not boxes.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null \
    || ! dpkg -s fonts-noto-cjk >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        chromium chromium-driver fonts-noto-cjk >/dev/null
fi
echo "chromium: $(chromium --version 2>/dev/null | head -1)"
