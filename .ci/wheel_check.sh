#!/usr/bin/env bash
# The wheel as a user gets it: built, installed into a fresh venv outside the checkout, and run
# from an empty folder. `eco2 ask` must answer offline with the packaged defaults, and a started
# gateway must serve the chat page (HTTP 200). Needs Redis (TEST_REDIS_URL, default
# 127.0.0.1:6379) for the gateway.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
work="$(mktemp -d)"
gateway_pid=""
cleanup() {
    if [ -n "$gateway_pid" ]; then kill "$gateway_pid" 2>/dev/null || true; wait "$gateway_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

quietly() { "$@" >>"$work/pip.log" 2>&1 || { cat "$work/pip.log" >&2; exit 1; }; }
quietly "$repo/.venv/bin/pip" wheel --no-deps --wheel-dir "$work/dist" "$repo"
quietly "$python" -m venv "$work/venv"
quietly "$work/venv/bin/pip" install --upgrade pip
quietly "$work/venv/bin/pip" install "$work"/dist/*.whl
mkdir "$work/empty"
cd "$work/empty"
unset APP_CONFIG PYTHONPATH

answer="$("$work/venv/bin/eco2" ask "페트병 어떻게 버려요?" 2>"$work/ask.err")" || {
    cat "$work/ask.err" >&2
    exit 1
}
# The answer is on stdout; the closing line, which says it is offline, on stderr.
grep -q "라벨" <<<"$answer" && grep -q "오프라인 답변" "$work/ask.err" || {
    echo "wheel check: eco2 ask gave no offline answer:" >&2
    echo "$answer" >&2
    cat "$work/ask.err" >&2
    exit 1
}
echo "wheel check: eco2 ask answered offline from an empty folder"
# The keyword indexes ship in the wheel and match it: no index is built at start-up.
"$work/venv/bin/python" -c "
from app.infrastructure.retrieval.index import index_path
assert all(index_path(m).is_file() for m in ('kiwi', 'rules')), 'no keyword index installed'
" || exit 1
if grep -q "retrieval.index_rebuilt" "$work/ask.err"; then
    echo "wheel check: the installed wheel rebuilt its keyword index:" >&2
    cat "$work/ask.err" >&2
    exit 1
fi
echo "wheel check: the shipped keyword index was used"

port="$("$work/venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/0}" APP_GATEWAY__PORT="$port" \
    "$work/venv/bin/eco2" gateway >"$work/gateway.log" 2>&1 &
gateway_pid=$!
for _ in $(seq 1 100); do
    status="$(curl -s -o "$work/page.html" -w '%{http_code}' "http://127.0.0.1:$port/" || true)"
    [ "$status" = "200" ] && break
    kill -0 "$gateway_pid" 2>/dev/null || { cat "$work/gateway.log" >&2; exit 1; }
    sleep 0.2
done
# The page's script and style ship in the wheel too.
script_ok=false
# (Into files, not piped to grep -q: grep stops at its match, curl then fails on the closed
# pipe, and pipefail makes that the pipeline's status.)
if [ "$status" = "200" ] && grep -q '/static/chat.js' "$work/page.html" \
    && curl -sf -o "$work/chat.js" "http://127.0.0.1:$port/static/chat.js" \
    && grep -q "EventSource" "$work/chat.js" \
    && curl -sf -o /dev/null "http://127.0.0.1:$port/static/chat.css"; then
    script_ok=true
fi
if [ "$script_ok" != "true" ]; then
    echo "wheel check: GET / gave $status, or its chat.js/chat.css are missing" >&2
    cat "$work/gateway.log" >&2
    exit 1
fi
echo "wheel check: the installed gateway served the chat page and its script and style (HTTP 200)"

# The API docs work offline from the installed wheel: each page's assets are served locally.
for page in docs redoc; do
    curl -sf -o "$work/$page.html" "http://127.0.0.1:$port/$page" || { echo "wheel check: GET /$page failed" >&2; exit 1; }
    assets="$(grep -oE '(src|href)="[^"]+"' "$work/$page.html" | sed -E 's/^[a-z]+="//; s/"$//')"
    [ -n "$assets" ] || { echo "wheel check: /$page names no assets" >&2; exit 1; }
    for asset in $assets; do
        case "$asset" in /*) ;; *) echo "wheel check: /$page loads $asset from elsewhere" >&2; exit 1 ;; esac
        code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$asset")"
        [ "$code" = "200" ] || { echo "wheel check: $asset gave $code" >&2; exit 1; }
    done
done
echo "wheel check: /docs and /redoc served their assets from the installed wheel"
