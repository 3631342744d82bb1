#!/bin/sh
# As redis:7-alpine: `redis-server ARGS` with no config file listens on every address of the
# container, so protected mode (which refuses other hosts when no password is set) is off.
set -e
if [ "${1#-}" != "$1" ]; then
    set -- redis-server "$@"
fi
if [ "$1" = redis-server ]; then
    shift
    set -- redis-server --protected-mode no "$@"
fi
exec "$@"
