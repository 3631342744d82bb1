#!/usr/bin/env bash
# Start Redis and PostgreSQL when nothing answers on their ports; reuse them when something does.
set -euo pipefail

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {
    for _ in $(seq 1 50); do answers "$1" && return 0; sleep 0.2; done
    echo "nothing answers on 127.0.0.1:$1 after starting $2" >&2
    return 1
}

if ! answers 6379; then
    if ! command -v redis-server >/dev/null; then
        apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
    fi
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_for 6379 redis-server
fi
echo "redis: 127.0.0.1:6379 answers"

if ! answers 5432; then
    if command -v pg_ctlcluster >/dev/null && ls /etc/postgresql >/dev/null 2>&1; then
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
        wait_for 5432 postgresql
        echo "postgresql: 127.0.0.1:5432 answers"
    else
        echo "postgresql: not installed; tests that need it will say so" >&2
    fi
else
    echo "postgresql: 127.0.0.1:5432 answers"
fi

# The chat-page test drives Debian's headless Chromium (nothing is downloaded by the test);
# fonts-noto-cjk so its screenshots show Hangul, not boxes.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null \
    || ! dpkg -s fonts-noto-cjk >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        chromium chromium-driver fonts-noto-cjk >/dev/null
fi
echo "chromium: $(chromium --version 2>/dev/null | head -1)"
