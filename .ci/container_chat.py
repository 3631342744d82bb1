"""One chat through a running deployment, as the eco2 web client holds it (standard library only,
so any host Python runs it): a new conversation as a guest, one message, its event stream read
to `done`, then the conversation's stored history. Prints each frame's name, the `done` frame,
and last `conversation=<id>`; exits 1 on anything else (an `error` frame, no `done` in time, a
history without both messages, an answer without the fact the question asks for).

    python3 .ci/container_chat.py http://127.0.0.1:PORT ["question" [expected-word]]
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from typing import Any

QUESTION = "페트병 어떻게 버려요?"
EXPECTED = "라벨"  # a PET bottle's label comes off: the rule the offline answer must state
STREAM_SECONDS = 180


def call(base: str, method: str, path: str, cookie: str, body: Any = None) -> tuple[int, Any, str]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if cookie:
        request.add_header("Cookie", cookie)
    with urllib.request.urlopen(request, timeout=30) as response:
        # The guest's cookie is Secure (production.yaml: behind_tls), so no cookie jar would
        # send it back over plain HTTP; the client keeps it by hand.
        set_cookie = response.headers.get("Set-Cookie", "")
        return response.status, json.load(response), set_cookie.split(";", 1)[0]


def frames(base: str, path: str, cookie: str) -> Any:
    """(event, data) of each SSE frame, until the stream ends."""
    request = urllib.request.Request(base + path, headers={"Accept": "text/event-stream"})
    request.add_header("Cookie", cookie)
    with urllib.request.urlopen(request, timeout=STREAM_SECONDS) as response:
        event, data = "message", []
        for raw in response:
            line = raw.decode("utf-8").rstrip("\r\n")
            if not line:
                if data:
                    yield event, "\n".join(data)
                event, data = "message", []
            elif line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))


def main(argv: list[str]) -> int:
    base = argv[1].rstrip("/")
    question = argv[2] if len(argv) > 2 else QUESTION
    expected = argv[3] if len(argv) > 3 else EXPECTED
    status, created, cookie = call(base, "POST", "/api/v1/chat", "")
    assert status == 201 and cookie.startswith("eco2_guest="), (status, created, cookie)
    conversation = created["id"]
    status, queued, _ = call(
        base, "POST", f"/api/v1/chat/{conversation}/messages", cookie, {"message": question}
    )
    assert status == 202, (status, queued)
    print(f"queued job {queued['job_id']} in conversation {conversation}: {question}")
    started, names, tokens, done = time.monotonic(), [], 0, None
    for event, data in frames(base, queued["stream_url"], cookie):
        if event == "token":  # counted, not printed
            tokens += 1
        elif event != "keepalive":
            names.append(event)
        if event == "error":
            print(f"error frame: {data}", file=sys.stderr)
            return 1
        if event == "done":
            done = json.loads(data)
            break
    seconds = time.monotonic() - started
    print(f"frames: {' '.join(names)}, {tokens} token frames ({seconds:.1f} s)")
    if done is None:
        print("the stream ended without done", file=sys.stderr)
        return 1
    print(f"event: done {json.dumps(done, ensure_ascii=False)[:1500]}")
    answer = done.get("result", {}).get("answer") or ""
    if expected not in answer:
        print(f"the answer does not mention {expected!r}: {answer!r}", file=sys.stderr)
        return 1
    status, detail, _ = call(base, "GET", f"/api/v1/chat/{conversation}", cookie)
    roles = [message["role"] for message in detail["messages"]]
    if roles != ["user", "assistant"] or detail["messages"][1]["content"] != answer:
        print(f"the stored history is not the turn: {roles}", file=sys.stderr)
        return 1
    print(f"history: {roles}, the stored answer is the streamed one")
    print(f"conversation={conversation}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
