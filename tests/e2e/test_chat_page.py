"""The chat page in real headless Chromium, against the gateway and real worker processes:
each state a person can meet (answers, turns, questions back, photos, every failure, the
conversations the server keeps for this browser's guest cookie) is driven through the page and
checked on the DOM. Screenshots go to artifacts/screenshots/<test>.png."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.expected_conditions import alert_is_present

from tests.e2e.conftest import serve_gateway
from tests.support.artifacts import screenshot_path
from tests.support.asgi_server import RunningServer, serve_in_thread
from tests.support.browser import chromium, chromium_installed, switchable_proxy, wait_until
from tests.support.images import png
from tests.support.openai_wire import OpenAIWire, openai_env
from tests.support.services import Deployment, worker_process
from tests.support.wire_script import Script

FEES = Path(__file__).resolve().parent.parent / "data" / "fixtures" / "FIXTURE_bulky_waste_fees.csv"
BULKY = {"APP_SERVICES__BULK_WASTE__ENABLED": "true", "APP_SERVICES__BULK_WASTE__PATH": str(FEES)}
Shot = Callable[[], None]


@pytest.fixture
def deployment() -> Deployment:
    # Bulky-waste fees from the fixture, so a sofa question asks back for the district.
    return Deployment(env=dict(BULKY))


@pytest.fixture
def llm() -> Iterator[tuple[RunningServer, Script]]:
    """An OpenAI-compatible model on loopback, for tests that need a slow or a seeing one."""
    script = Script()
    with serve_in_thread(OpenAIWire(script)) as server:
        yield server, script


def use_llm(deployment: Deployment, server: RunningServer) -> None:
    deployment.env.update(
        {
            **openai_env(server.url),
        }
    )


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[webdriver.Chrome]:
    if not chromium_installed():
        pytest.fail("install Debian's chromium and chromium-driver (make test does)")
    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium must not fetch drivers
    with chromium(tmp_path / "profile") as driver:
        yield driver


@pytest.fixture
def shot(browser: webdriver.Chrome, request: pytest.FixtureRequest) -> Iterator[Shot]:
    """Save this test's screenshot now (the moment the test is about); a test that stops
    before it gets one of where it stopped."""
    path = str(screenshot_path(request.node.name))
    taken: list[bool] = []

    def save() -> None:
        browser.save_screenshot(path)
        taken.append(True)

    yield save
    if not taken:
        browser.save_screenshot(path)


# ---- the page, as a person would use it ----

OPEN = "eco2.chat.open"


def load(browser: webdriver.Chrome, url: str) -> None:
    """Open the page and wait until it has shown the conversation list (and the conversation
    that was open): the guest cookie is issued by then."""
    browser.get(url)
    wait_until(
        browser,
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready"),
        "the page",
    )


def ask(browser: webdriver.Chrome, question: str) -> None:
    box = browser.find_element(By.ID, "message")
    box.send_keys(question)
    wait_until(browser, lambda d: d.find_element(By.ID, "send").is_enabled(), "the send button")
    browser.find_element(By.ID, "send").click()


def ask_before_a_worker(browser: webdriver.Chrome, question: str) -> None:
    """Ask while no worker runs (on a gateway that queues without one), so the page follows
    the chat from its `queued` frame on.

    With a worker already running, an offline chat can end before a loaded machine's browser
    opens its stream; a subscriber that late gets the text as one `token_recovery` and no
    stage frames (CLIENT_API.md), and a test of the stages would depend on the load (seen
    twice at load 9-22). The page opens its stream as it shows `queued`; a worker takes
    seconds to start after that."""
    ask(browser, question)
    until_state(browser, "queued")


def turns(browser: webdriver.Chrome) -> list[WebElement]:
    return browser.find_elements(By.CSS_SELECTOR, "#turns > li.turn")


def turn_state(browser: webdriver.Chrome, index: int = -1) -> str | None:
    found = turns(browser)
    if not found or len(found) <= index:
        return None
    return found[index].get_attribute("data-state")


def until_state(
    browser: webdriver.Chrome, *states: str, index: int = -1, limit: float = 120
) -> str:
    return str(
        wait_until(
            browser,
            lambda d: (s := turn_state(d, index)) in states and s,
            f"turn {index} in {states}",
            limit,
        )
    )


def notice(browser: webdriver.Chrome, index: int = -1) -> WebElement:
    return turns(browser)[index].find_element(By.CSS_SELECTOR, ".notice")


def until_notice(browser: webdriver.Chrome, kind: str, limit: float = 120) -> WebElement:
    def shown(d: webdriver.Chrome) -> WebElement | None:
        found = turns(d)
        if not found:
            return None
        box = found[-1].find_element(By.CSS_SELECTOR, ".notice")
        return box if box.get_attribute("data-kind") == kind and box.is_displayed() else None

    return wait_until(browser, shown, f"a notice of kind {kind}", limit)  # type: ignore[no-any-return]


def stage_texts(browser: webdriver.Chrome, index: int = -1) -> list[tuple[str, str]]:
    items = turns(browser)[index].find_elements(By.CSS_SELECTOR, ".stages li")
    return [
        (li.find_element(By.CSS_SELECTOR, ".name").text, li.get_attribute("data-status") or "")
        for li in items
    ]


def local_storage(browser: webdriver.Chrome) -> dict[str, str]:
    script = "return Object.fromEntries(Object.entries(localStorage))"
    return dict(browser.execute_script(script))


def open_chat(browser: webdriver.Chrome) -> str | None:
    """The conversation the page keeps open (the one thing it keeps in localStorage)."""
    found = browser.execute_script(f"return localStorage.getItem('{OPEN}')")
    return str(found) if found else None


def api(browser: webdriver.Chrome, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """A request from the page's origin with its cookie, as the page's own script sends it."""
    result = browser.execute_async_script(
        """
        const [method, path, body, done] = arguments;
        const options = { method, credentials: "same-origin" };
        if (body !== null) {
          options.headers = { "Content-Type": "application/json" };
          options.body = JSON.stringify(body);
        }
        fetch(path, options).then(async (r) => done([r.status, await r.text()]))
          .catch((e) => done([0, String(e)]));
        """,
        method,
        path,
        body,
    )
    status, text = int(result[0]), str(result[1])
    return status, (json.loads(text) if text and text[0] in "{[" else text)


def server_chats(browser: webdriver.Chrome) -> list[dict[str, Any]]:
    status, page = api(browser, "GET", "/api/v1/chat?limit=100")
    assert status == 200, page
    return list(page["chats"])


def chat_items(browser: webdriver.Chrome) -> list[WebElement]:
    return browser.find_elements(By.CSS_SELECTOR, "#chat-list > li.chat-item")


def chat_titles(browser: webdriver.Chrome) -> list[str]:
    # Read in one script: the list is drawn anew whenever it changes.
    script = (
        "return [...document.querySelectorAll('#chat-list > li .title')].map((e) => e.textContent)"
    )
    return list(browser.execute_script(script))


def chat_ids(browser: webdriver.Chrome) -> list[str]:
    script = "return [...document.querySelectorAll('#chat-list > li')].map((e) => e.dataset.id)"
    return list(browser.execute_script(script))


def chat_item(browser: webdriver.Chrome, chat_id: str) -> WebElement:
    return browser.find_element(By.CSS_SELECTOR, f"#chat-list > li[data-id='{chat_id}']")


def click_chat(browser: webdriver.Chrome, chat_id: str, part: str = "open") -> None:
    """Click a part of a listed conversation (open, rename, delete); an item drawn anew as
    the click lands (the list refreshed when a turn ended) is found again."""

    def clicked(d: webdriver.Chrome) -> bool:
        try:
            chat_item(d, chat_id).find_element(By.CSS_SELECTOR, f".{part}").click()
        except (StaleElementReferenceException, NoSuchElementException):
            return False
        return True

    wait_until(browser, clicked, f"a click on {part} of {chat_id}")


def answers(browser: webdriver.Chrome) -> list[str]:
    return [t.find_element(By.CSS_SELECTOR, ".answer").text for t in turns(browser)]


def questions(browser: webdriver.Chrome) -> list[str]:
    return [t.find_element(By.CSS_SELECTOR, ".question p").text for t in turns(browser)]


# ---- answers ----


def test_an_answer_streams_with_stage_names_and_sources(
    browser: webdriver.Chrome,
    monkeypatch: pytest.MonkeyPatch,
    deployment: Deployment,
    logs: Path,
    shot: Shot,
) -> None:
    with serve_gateway(deployment, monkeypatch, gateway={"require_worker": False}) as gateway:
        load(browser, f"{gateway.url}/")
        assert "eco2" in browser.title
        ask_before_a_worker(browser, "건전지랑 페트병은 어떻게 버려?")
        with worker_process(deployment, logs):
            until_state(browser, "done")
        shot()
        turn = turns(browser)[-1]
        answer = turn.find_element(By.CSS_SELECTOR, ".answer").text
        stages = stage_texts(browser)
        sources = [li.text for li in turn.find_elements(By.CSS_SELECTOR, ".sources li")]
        offline = turn.find_element(By.CSS_SELECTOR, ".sources .offline").text
        status = browser.find_element(By.ID, "status").text
        chat = open_chat(browser)
        kept = local_storage(browser)
        listed = server_chats(browser)
        page_text = browser.find_element(By.TAG_NAME, "body").text
    assert "폐건전지" in answer and "라벨" in answer
    names = [name for name, _ in stages]
    # The eco2 stream names the client's stages only: routing is part of `intent` there.
    assert names[:2] == ["질문 이해하기", "분리배출 방법 찾기"]
    assert "분리배출 방법 찾기" in names and "분리배출 방법 찾기 (2)" in names
    assert names[-1] == "답변 쓰기"
    assert {s for _, s in stages} == {"completed"}
    assert not any(word in page_text for word in ("waste_rag", "intent", " ms", "router"))
    assert "분리배출 안내 · 건전지" in sources and "분리배출 안내 · 투명 페트병" in sources
    # That no model wrote it is shown beside the answer, from the stored message, not in it.
    assert offline.startswith("오프라인 답변") and "오프라인" not in answer
    assert status == "답변을 마쳤어요."
    # The conversation is the server's (both messages stored); the page keeps only its id.
    assert chat and [(c["id"], c["message_count"]) for c in listed] == [(chat, 2)]
    assert list(kept) == ["eco2.chat.open"] and chat not in page_text


def test_two_turns_are_a_conversation_and_a_reload_keeps_it(
    browser: webdriver.Chrome,
    gateway: RunningServer,
    deployment: Deployment,
    logs: Path,
    shot: Shot,
) -> None:
    with worker_process(deployment, logs):
        load(browser, f"{gateway.url}/")
        ask(browser, "페트병 어떻게 버려요?")
        until_state(browser, "done")
        first = turns(browser)[0].find_element(By.CSS_SELECTOR, ".answer").text
        chat = open_chat(browser)
        ask(browser, "건전지는 어떻게 버려요?")
        wait_until(browser, lambda d: len(turns(d)) == 2, "a second turn")
        until_state(browser, "done", index=1)
        before = answers(browser)
        browser.refresh()
        wait_until(
            browser, lambda d: len(turns(d)) == 2, "the turns from the server after a reload"
        )
        shot()
        after = answers(browser)
        asked = questions(browser)
        sources = [len(t.find_elements(By.CSS_SELECTOR, ".sources li")) for t in turns(browser)]
        same_chat = open_chat(browser)
        listed = server_chats(browser)
        pending = browser.execute_script("return sessionStorage.getItem('eco2.chat.pending')")
    assert "라벨" in first and "건전지" in before[1]
    assert before[0] == first  # the second answer did not replace the first
    assert after == before
    assert asked == ["페트병 어떻게 버려요?", "건전지는 어떻게 버려요?"]
    assert all(count > 0 for count in sources)  # the sources the server stored with each answer
    assert same_chat == chat  # both turns in one server-side conversation
    assert [(c["id"], c["message_count"]) for c in listed] == [(chat, 4)]
    assert pending in (None, "{}")  # no turn left unfinished


def test_an_english_question_gets_english_stage_names(
    browser: webdriver.Chrome,
    monkeypatch: pytest.MonkeyPatch,
    deployment: Deployment,
    logs: Path,
    shot: Shot,
) -> None:
    with serve_gateway(deployment, monkeypatch, gateway={"require_worker": False}) as gateway:
        load(browser, f"{gateway.url}/")
        ask_before_a_worker(browser, "How do I recycle a PET bottle?")
        with worker_process(deployment, logs):
            until_state(browser, "done")
        shot()
        turn = turns(browser)[-1]
        names = [name for name, _ in stage_texts(browser)]
        heading = turn.find_element(By.CSS_SELECTOR, ".sources h3").text
        lang = turn.get_attribute("lang")
        answer = turn.find_element(By.CSS_SELECTOR, ".answer").text
    assert names[0] == "Understanding the question" and names[-1] == "Writing the answer"
    assert "Looking up how to dispose of it" in names
    assert not any(any("\uac00" <= c <= "\ud7a3" for c in name) for name in names)
    assert heading == "Sources" and lang == "en"
    assert "label" in answer.lower()


def test_cancel_stops_a_streaming_answer_and_says_so(
    browser: webdriver.Chrome,
    gateway: RunningServer,
    deployment: Deployment,
    llm: tuple[RunningServer, Script],
    logs: Path,
    shot: Shot,
) -> None:
    server, script = llm
    script.reply_text = "페트병은 내용물을 비우고 라벨을 떼어 투명 페트병 수거함에 넣어요. " * 4
    script.chunk_delay = 1.0  # four characters a second: the answer streams for a minute
    use_llm(deployment, server)
    with worker_process(deployment, logs):
        load(browser, f"{gateway.url}/")
        ask(browser, "페트병 어떻게 버려요?")
        partial = wait_until(
            browser,
            lambda d: turns(d)[-1].find_element(By.CSS_SELECTOR, ".answer").text,
            "the first pieces of the answer",
        )
        streaming = turn_state(browser)
        browser.find_element(By.ID, "cancel").click()
        until_state(browser, "cancelled")
        shot()
        box = notice(browser)
        text = turns(browser)[-1].text
        kept = turns(browser)[-1].find_element(By.CSS_SELECTOR, ".answer").text
        send_enabled = browser.find_element(By.ID, "send").is_enabled()
        cancel_shown = browser.find_element(By.ID, "cancel").is_displayed()
    assert streaming == "running" and partial.startswith("페트")
    assert len(kept) < len(script.reply_text.strip())  # stopped before the end
    assert box.get_attribute("data-kind") == "cancelled" and "질문을 멈췄어요" in box.text
    assert "연결" not in text  # not "reconnecting": the chat ended
    assert send_enabled and not cancel_shown


def test_new_chat_starts_an_empty_conversation_on_the_server(
    browser: webdriver.Chrome,
    gateway: RunningServer,
    deployment: Deployment,
    logs: Path,
    shot: Shot,
) -> None:
    with worker_process(deployment, logs):
        load(browser, f"{gateway.url}/")
        ask(browser, "페트병 어떻게 버려요?")
        until_state(browser, "done")
        first = open_chat(browser)
        browser.find_element(By.ID, "new-chat").click()
        wait_until(browser, lambda d: not turns(d), "an empty conversation")
        empty_shown = browser.find_element(By.ID, "empty").is_displayed()
        focused = browser.switch_to.active_element.get_attribute("id")
        kept_none = open_chat(browser)
        ask(browser, "캔 어떻게 버려요?")
        until_state(browser, "done")
        second = open_chat(browser)
        browser.refresh()
        wait_until(browser, lambda d: len(turns(d)) == 1, "the new conversation after a reload")
        wait_until(browser, lambda d: len(chat_items(d)) == 2, "both conversations listed")
        shot()
        asked = questions(browser)
        listed = chat_ids(browser)
        current = browser.execute_script(
            "return [...document.querySelectorAll('#chat-list > li')]"
            ".map((e) => e.getAttribute('aria-current'))"
        )
    assert empty_shown and focused == "message"
    assert kept_none is None  # a new chat has no conversation until its first message
    assert first and second and first != second
    assert asked == ["캔 어떻게 버려요?"]
    assert listed == [second, first] and current == ["true", None]  # most recent first


# ---- asking back ----


def test_a_question_back_is_answered_on_the_page(
    browser: webdriver.Chrome,
    gateway: RunningServer,
    deployment: Deployment,
    logs: Path,
    shot: Shot,
) -> None:
    with worker_process(deployment, logs):
        load(browser, f"{gateway.url}/")
        ask(browser, "소파 버리는 비용 얼마야?")
        until_state(browser, "waiting")
        form = wait_until(
            browser,
            lambda d: d.find_element(By.CSS_SELECTOR, "#turns .asking"),
            "the question-back form",
        )
        legend = form.find_element(By.TAG_NAME, "legend").text
        options = [b.text for b in form.find_elements(By.CSS_SELECTOR, ".options button")]
        focused = browser.switch_to.active_element.get_attribute("data-value")
        send_enabled = browser.find_element(By.ID, "send").is_enabled()
        shot()
        form.find_element(By.CSS_SELECTOR, "button[data-value='마포구']").click()
        until_state(browser, "done")
        turn = turns(browser)[-1]
        answer = turn.find_element(By.CSS_SELECTOR, ".answer").text
        answered = turn.find_element(By.CSS_SELECTOR, ".answered").text
        stages = stage_texts(browser)
        forms_left = turn.find_elements(By.CSS_SELECTOR, ".asking")
    assert "구" in legend and "마포구" in options and len(options) >= 25
    assert focused == options[0]  # the keyboard lands on the answer
    assert not send_enabled  # the question back is answered in its form
    assert "11,111원" in answer  # 마포구's sofa fee in the fixture
    assert answered == "내 답: 마포구"
    assert ("대형 폐기물 수수료 확인하기", "completed") in stages
    assert not forms_left


# ---- photos ----


def test_an_uploaded_photo_is_previewed_and_reaches_the_vision_model(
    browser: webdriver.Chrome,
    gateway: RunningServer,
    deployment: Deployment,
    llm: tuple[RunningServer, Script],
    logs: Path,
    tmp_path: Path,
    shot: Shot,
) -> None:
    server, script = llm
    use_llm(deployment, server)
    photo = tmp_path / "bottle.png"
    photo.write_bytes(png(8, 8))
    with worker_process(deployment, logs):
        load(browser, f"{gateway.url}/")
        browser.find_element(By.ID, "photo").send_keys(str(photo))
        wait_until(
            browser,
            lambda d: "올렸어요" in d.find_element(By.ID, "photo-status").text,
            "the photo uploaded",
        )
        preview = browser.find_element(By.ID, "photo-thumb")
        previewed = browser.execute_script("return arguments[0].naturalWidth", preview)
        ask(browser, "이거 어떻게 버려?")
        until_state(browser, "done")
        sent = turns(browser)[-1].find_element(By.CSS_SELECTOR, ".question img")
        wait_until(browser, lambda d: d.execute_script("return arguments[0].complete", sent), "img")
        shown = browser.execute_script("return arguments[0].naturalWidth", sent)
        names = [name for name, _ in stage_texts(browser)]
        shot()
    encoded = base64.b64encode(png(8, 8)).decode()
    bodies = [json.dumps(r["json"]) for r in script.requests if r.get("json")]
    assert previewed == 8 and shown == 8  # the preview, and the photo as the gateway keeps it
    assert "사진 살펴보기" in names
    assert any(f"data:image/png;base64,{encoded}" in body for body in bodies)


def test_a_file_that_is_no_photo_is_refused_and_not_attached(
    browser: webdriver.Chrome, gateway: RunningServer, tmp_path: Path, shot: Shot
) -> None:
    fake = tmp_path / "not-a-photo.png"  # named like a photo, so the browser calls it one
    fake.write_text("<?php echo 1; ?>")
    load(browser, f"{gateway.url}/")
    browser.find_element(By.ID, "photo").send_keys(str(fake))
    status = wait_until(
        browser,
        lambda d: (
            (e := d.find_element(By.ID, "photo-status")).get_attribute("data-state") == "wrong_type"
            and e
        ),
        "the refusal",
    )
    shot()
    thumb_shown = browser.find_element(By.ID, "photo-thumb").is_displayed()
    send_enabled = browser.find_element(By.ID, "send").is_enabled()
    assert "png, jpeg, webp" in status.text
    assert not thumb_shown and send_enabled


# ---- failures ----


def test_no_worker_is_said_at_once_and_retry_works_once_one_runs(
    browser: webdriver.Chrome,
    gateway: RunningServer,
    deployment: Deployment,
    logs: Path,
    shot: Shot,
) -> None:
    load(browser, f"{gateway.url}/")
    ask(browser, "페트병 어떻게 버려요?")
    box = until_notice(browser, "no_worker")
    shot()
    text = box.text
    with worker_process(deployment, logs):
        box.find_element(By.CSS_SELECTOR, "button.retry").click()
        until_state(browser, "done")
        answer = turns(browser)[-1].find_element(By.CSS_SELECTOR, ".answer").text
        gone = not notice(browser).is_displayed()
    assert "서버(워커)가 없어요" in text and box.get_attribute("role") == "alert"
    assert "라벨" in answer and gone


def test_a_chat_no_worker_takes_is_said_after_n_seconds(
    browser: webdriver.Chrome,
    deployment: Deployment,
    monkeypatch: pytest.MonkeyPatch,
    logs: Path,
    shot: Shot,
) -> None:
    # A gateway that queues without a worker (as one whose worker just died would).
    with serve_gateway(deployment, monkeypatch, gateway={"require_worker": False}) as gateway:
        load(browser, f"{gateway.url}/?worker_wait=2")
        ask(browser, "페트병 어떻게 버려요?")
        box = until_notice(browser, "no_worker")
        state = turn_state(browser)
        text = box.text
        shot()
        with worker_process(deployment, logs):
            until_state(browser, "done")
            gone = not notice(browser).is_displayed()
    assert state == "queued"
    assert "2초가 지나도" in text and "워커" in text
    assert gone  # the note goes once a worker takes the chat


def test_gateway_down_says_so_and_retry_works_when_it_is_back(
    browser: webdriver.Chrome,
    gateway: RunningServer,
    deployment: Deployment,
    logs: Path,
    shot: Shot,
) -> None:
    port = int(gateway.url.rsplit(":", 1)[1])
    with switchable_proxy(port) as proxy, worker_process(deployment, logs):
        load(browser, f"{proxy.url}/?request_timeout=10")
        wait_until(browser, lambda d: d.find_element(By.ID, "send").is_enabled(), "the page")
        proxy.down()
        ask(browser, "페트병 어떻게 버려요?")
        box = until_notice(browser, "unreachable")
        text = box.text
        status = browser.find_element(By.ID, "status").text
        shot()
        proxy.up()
        box.find_element(By.CSS_SELECTOR, "button.retry").click()
        until_state(browser, "done")
        answer = turns(browser)[-1].find_element(By.CSS_SELECTOR, ".answer").text
        count = len(turns(browser))
    assert "서버에 연결할 수 없어요" in text and "보내는 중" not in status
    assert "라벨" in answer and count == 1  # the same turn, sent again


def test_a_timeout_is_said_with_a_retry(
    browser: webdriver.Chrome,
    gateway: RunningServer,
    deployment: Deployment,
    llm: tuple[RunningServer, Script],
    logs: Path,
    shot: Shot,
) -> None:
    server, script = llm
    script.delay = 3.0
    use_llm(deployment, server)
    deployment.env["APP_WORKER__JOB_TIMEOUT"] = "1"
    with worker_process(deployment, logs):
        load(browser, f"{gateway.url}/")
        ask(browser, "페트병 어떻게 버려요?")
        box = until_notice(browser, "timeout")
        shot()
        state = turn_state(browser)
        retry = box.find_elements(By.CSS_SELECTOR, "button.retry")
    assert state == "error" and "너무 오래 걸려" in box.text
    assert retry and retry[0].is_displayed()


def test_a_spent_budget_is_said(
    browser: webdriver.Chrome,
    gateway: RunningServer,
    deployment: Deployment,
    logs: Path,
    shot: Shot,
) -> None:
    with worker_process(deployment, logs, env={"APP_BUDGET__CHAT_MAX_TOKENS": "5"}):
        load(browser, f"{gateway.url}/")
        ask(browser, "페트병 어떻게 버려요?")
        box = until_notice(browser, "budget_exceeded")
        shot()
        state = turn_state(browser)
    assert state == "error" and "한도" in box.text
    assert box.get_attribute("role") == "alert"


# ---- layout and access ----


def test_the_page_fits_390_px_without_sideways_scrolling(
    browser: webdriver.Chrome,
    gateway: RunningServer,
    deployment: Deployment,
    logs: Path,
    shot: Shot,
) -> None:
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True},
    )
    fits = "return [window.innerWidth, document.documentElement.scrollWidth]"
    with worker_process(deployment, logs):
        load(browser, f"{gateway.url}/")
        ask(browser, "소파 버리는 비용 얼마야?")
        until_state(browser, "waiting")
        asking = browser.execute_script(fits)
        browser.find_element(By.CSS_SELECTOR, "button[data-value='마포구']").click()
        until_state(browser, "done")
        ask(browser, "건전지랑 페트병은 어떻게 버려?")
        until_state(browser, "done", index=1)
        answered = browser.execute_script(fits)
        composer = browser.find_element(By.ID, "send").rect
        folded = not browser.find_element(By.ID, "chats").is_displayed()
        toggle = browser.find_element(By.ID, "toggle-chats")
        toggle.click()

        def shown_item(d: webdriver.Chrome) -> dict[str, Any] | None:
            try:
                items = chat_items(d)
                return dict(items[0].rect) if items and items[0].is_displayed() else None
            except StaleElementReferenceException:
                return None

        item_box = wait_until(browser, shown_item, "the list unfolded")
        unfolded = toggle.get_attribute("aria-expanded")
        with_list = browser.execute_script(fits)
        shot()
        click_chat(browser, chat_ids(browser)[0])  # the open one: the list folds
        wait_until(browser, lambda d: not d.find_element(By.ID, "chats").is_displayed(), "fold")
        refolded = toggle.get_attribute("aria-expanded")
    assert asking[0] == 390 and asking[1] <= 390
    assert answered[1] <= 390
    assert composer["x"] + composer["width"] <= 390
    assert folded and unfolded == "true" and refolded == "false"
    assert with_list[1] <= 390 and item_box["x"] + item_box["width"] <= 390


def test_labels_live_regions_and_the_keyboard(
    browser: webdriver.Chrome,
    gateway: RunningServer,
    deployment: Deployment,
    logs: Path,
    shot: Shot,
) -> None:
    unlabelled = """
      return [...document.querySelectorAll('input, textarea, select, button')].filter((el) => {
        const named = el.labels?.length || el.getAttribute('aria-label') || el.textContent.trim();
        return !named;
      }).map((el) => el.outerHTML);
    """
    with worker_process(deployment, logs):
        load(browser, f"{gateway.url}/")
        log = browser.find_element(By.ID, "turns")
        status = browser.find_element(By.ID, "status")
        box = browser.find_element(By.ID, "message")
        box.send_keys("소파 버리는 비용 얼마야?", Keys.ENTER)  # Enter sends
        until_state(browser, "waiting")
        busy = (
            turns(browser)[-1].find_element(By.CSS_SELECTOR, ".answer").get_attribute("aria-busy")
        )
        free = turns(browser)[-1].find_element(By.CSS_SELECTOR, ".free input")
        free.send_keys("마포구", Keys.ENTER)  # the free-text answer, by keyboard
        until_state(browser, "done")
        done_busy = (
            turns(browser)[-1].find_element(By.CSS_SELECTOR, ".answer").get_attribute("aria-busy")
        )
        answer = turns(browser)[-1].find_element(By.CSS_SELECTOR, ".answer").text
        missing = browser.execute_script(unlabelled)
        label = browser.find_element(By.CSS_SELECTOR, "label[for='message']")
        label_text = label.get_attribute("textContent")
        photo_label = browser.find_element(By.CSS_SELECTOR, "label[for='photo']").text
        wait_until(browser, lambda d: chat_items(d), "the conversation in the list")
        missing_with_list = browser.execute_script(unlabelled)
        nav = browser.find_element(By.ID, "chats")
        nav_name = browser.find_element(By.ID, nav.get_attribute("aria-labelledby") or "x").text

        def rename_by_keyboard(d: webdriver.Chrome) -> str | None:
            try:
                button = chat_items(d)[0].find_element(By.CSS_SELECTOR, ".rename")
                name = button.get_attribute("aria-label")
                button.send_keys(Keys.ENTER)  # by keyboard: the field takes the focus
            except (StaleElementReferenceException, IndexError):
                return None
            return name

        rename_name = str(wait_until(browser, rename_by_keyboard, "the rename button"))
        editing = wait_until(
            browser,
            lambda d: (e := d.switch_to.active_element).tag_name == "input" and e,
            "the name field focused",
        )
        edit_label = browser.find_element(
            By.CSS_SELECTOR, f"label[for='{editing.get_attribute('id')}']"
        ).get_attribute("textContent")
        editing.send_keys(Keys.ESCAPE)  # and Escape gives it back to the button
        back = wait_until(
            browser,
            lambda d: "rename" in (d.switch_to.active_element.get_attribute("class") or ""),
            "the focus back on the rename button",
        )
        shot()
    assert back
    assert nav.tag_name == "nav" and nav_name == "내 대화"
    assert missing_with_list == [] and rename_name.endswith("이름 바꾸기")
    assert edit_label == "대화 이름"
    assert log.get_attribute("role") == "log" and log.get_attribute("aria-live") == "polite"
    assert status.get_attribute("role") == "status"
    assert busy == "true" and done_busy == "false"
    assert "11,111원" in answer
    assert missing == [] and label_text == "질문" and photo_label == "사진 첨부"


def test_a_stream_cut_off_says_reconnecting_and_the_answer_arrives_whole(
    browser: webdriver.Chrome,
    gateway: RunningServer,
    deployment: Deployment,
    llm: tuple[RunningServer, Script],
    logs: Path,
    shot: Shot,
) -> None:
    server, script = llm
    script.delay = 2.0  # the chat is still going while the gateway is away
    use_llm(deployment, server)
    port = int(gateway.url.rsplit(":", 1)[1])
    with switchable_proxy(port) as proxy, worker_process(deployment, logs):
        load(browser, f"{proxy.url}/")
        ask(browser, "페트병 어떻게 버려요?")
        until_state(browser, "running")
        proxy.down()
        box = until_notice(browser, "reconnecting")
        text = box.text
        shot()
        proxy.up()
        until_state(browser, "done")
        answer = turns(browser)[-1].find_element(By.CSS_SELECTOR, ".answer").text
        gone = not notice(browser).is_displayed()
    assert "다시 연결하는 중" in text
    assert gone and answer.count("echo:") == 1  # the whole answer, once


def test_a_gateway_that_never_answers_is_said_after_the_request_timeout(
    browser: webdriver.Chrome,
    gateway: RunningServer,
    deployment: Deployment,
    logs: Path,
    shot: Shot,
) -> None:
    port = int(gateway.url.rsplit(":", 1)[1])
    with switchable_proxy(port) as proxy, worker_process(deployment, logs):
        load(browser, f"{proxy.url}/?request_timeout=3")
        wait_until(browser, lambda d: d.find_element(By.ID, "send").is_enabled(), "the page")
        proxy.hang()  # connections are taken and never answered
        ask(browser, "페트병 어떻게 버려요?")
        box = until_notice(browser, "unreachable")
        text = box.text
        status = browser.find_element(By.ID, "status").text
        shot()
        proxy.up()
        box.find_element(By.CSS_SELECTOR, "button.retry").click()
        until_state(browser, "done")
    assert "서버에 연결할 수 없어요" in text and "보내는 중" not in status


def test_a_reload_mid_answer_picks_the_turn_up_again(
    browser: webdriver.Chrome,
    gateway: RunningServer,
    deployment: Deployment,
    llm: tuple[RunningServer, Script],
    logs: Path,
    shot: Shot,
) -> None:
    server, script = llm
    script.reply_text = "캔은 내용물을 비우고 헹군 뒤 캔류로 배출해요."
    script.chunk_delay = 0.5  # still streaming when the page reloads
    use_llm(deployment, server)
    with worker_process(deployment, logs):
        load(browser, f"{gateway.url}/")
        ask(browser, "캔 어떻게 버려요?")
        wait_until(
            browser,
            lambda d: turns(d)[-1].find_element(By.CSS_SELECTOR, ".answer").text,
            "the first pieces of the answer",
        )
        browser.refresh()
        until_state(browser, "done")
        shot()
        answer = turns(browser)[-1].find_element(By.CSS_SELECTOR, ".answer").text
        count = len(turns(browser))
    assert answer == script.reply_text and count == 1


# ---- conversations from the server ----


def test_the_sidebar_lists_conversations_page_by_page_and_opens_one(
    browser: webdriver.Chrome,
    gateway: RunningServer,
    deployment: Deployment,
    logs: Path,
    shot: Shot,
) -> None:
    with worker_process(deployment, logs):
        load(browser, f"{gateway.url}/")
        ask(browser, "페트병 어떻게 버려요?")
        until_state(browser, "done")
        answered = open_chat(browser)
        answer = answers(browser)[0]
    for title in ("종이컵 메모", "스티로폼 메모"):  # two more, with no messages
        status, _ = api(browser, "POST", "/api/v1/chat", {"title": title})
        assert status == 201
    browser.find_element(By.ID, "new-chat").click()
    load(browser, f"{gateway.url}/?chats_page=2")
    first_page = chat_titles(browser)
    more = browser.find_element(By.ID, "more-chats")
    more_shown = more.is_displayed()
    more.click()
    wait_until(browser, lambda d: len(chat_items(d)) == 3, "the second page of the list")
    all_titles = chat_titles(browser)
    more_after = browser.find_element(By.ID, "more-chats").is_displayed()
    blank = (len(turns(browser)), browser.find_element(By.ID, "chat-title").text)
    assert answered
    click_chat(browser, answered)
    wait_until(browser, lambda d: len(turns(d)) == 1, "the conversation's history")
    shot()
    opened = (questions(browser), answers(browser), turn_state(browser))
    sources = turns(browser)[0].find_elements(By.CSS_SELECTOR, ".sources li")
    heading = browser.find_element(By.ID, "chat-title").text
    current = browser.execute_script(
        "return document.querySelector('#chat-list > li[aria-current=true]')?.dataset.id"
    )
    assert len(first_page) == 2 and more_shown and not more_after
    assert sorted(all_titles) == sorted(["페트병 어떻게 버려요?", "종이컵 메모", "스티로폼 메모"])
    assert blank == (0, "새 대화")  # nothing was open: a new chat
    assert opened == (["페트병 어떻게 버려요?"], [answer], "done") and sources
    assert heading == "페트병 어떻게 버려요?" and current == answered
    assert open_chat(browser) == answered


def test_a_conversation_is_renamed_in_the_sidebar(
    browser: webdriver.Chrome, gateway: RunningServer, shot: Shot
) -> None:
    load(browser, f"{gateway.url}/")
    status, created = api(browser, "POST", "/api/v1/chat", {"title": "이름 전"})
    assert status == 201
    load(browser, f"{gateway.url}/")
    click_chat(browser, created["id"])
    wait_until(browser, lambda d: d.find_element(By.ID, "chat-title").text == "이름 전", "open")
    click_chat(browser, created["id"], "rename")
    field = chat_item(browser, created["id"]).find_element(By.CSS_SELECTOR, "input")
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(Keys.DELETE)
    field.send_keys(Keys.ENTER)  # empty: refused on the page, the field stays
    refused = wait_until(
        browser, lambda d: d.find_element(By.ID, "chats-status").text, "the refusal"
    )
    field.send_keys("페트병 모음", Keys.ENTER)
    wait_until(browser, lambda d: chat_titles(d) == ["페트병 모음"], "the new name in the list")
    shot()
    heading = browser.find_element(By.ID, "chat-title").text
    said = browser.find_element(By.ID, "chats-status").text
    on_server = [c["title"] for c in server_chats(browser)]
    browser.refresh()
    wait_until(browser, lambda d: chat_titles(d) == ["페트병 모음"], "the name after a reload")
    assert "입력해 주세요" in refused
    assert heading == "페트병 모음" and "바꿨어요" in said
    assert on_server == ["페트병 모음"]


def test_a_conversation_is_deleted_after_a_confirmation(
    browser: webdriver.Chrome, gateway: RunningServer, shot: Shot
) -> None:
    load(browser, f"{gateway.url}/")
    ids = []
    for title in ("남길 대화", "지울 대화"):
        status, created = api(browser, "POST", "/api/v1/chat", {"title": title})
        assert status == 201
        ids.append(created["id"])
    keep, doomed = ids
    load(browser, f"{gateway.url}/")
    click_chat(browser, doomed)
    wait_until(browser, lambda d: open_chat(d) == doomed, "the conversation opened")
    click_chat(browser, doomed, "delete")
    prompt = wait_until(browser, alert_is_present(), "the confirmation")
    asked = prompt.text
    prompt.dismiss()  # not confirmed: nothing happens
    still = len(chat_items(browser))
    click_chat(browser, doomed, "delete")
    wait_until(browser, alert_is_present(), "the confirmation").accept()
    wait_until(browser, lambda d: len(chat_items(d)) == 1, "the conversation gone from the list")
    shot()
    heading = browser.find_element(By.ID, "chat-title").text
    said = browser.find_element(By.ID, "chats-status").text
    status, _ = api(browser, "GET", f"/api/v1/chat/{doomed}")
    load(browser, f"{gateway.url}/")
    left = chat_ids(browser)
    assert "지울 대화" in asked and still == 2
    assert heading == "새 대화" and open_chat(browser) is None  # the open one went: a new chat
    assert "지웠어요" in said and status == 404
    assert left == [keep]


def test_a_fresh_browser_with_only_the_cookie_gets_the_conversation_back(
    browser: webdriver.Chrome,
    gateway: RunningServer,
    deployment: Deployment,
    logs: Path,
    tmp_path: Path,
    shot: Shot,
    request: pytest.FixtureRequest,
) -> None:
    """The done-when of the page: two turns, then another browser profile (nothing in its
    localStorage, no other cookie) given only the guest cookie sees the conversation, from
    the server; a profile without the cookie sees none of it."""
    with worker_process(deployment, logs):
        load(browser, f"{gateway.url}/")
        ask(browser, "페트병 어떻게 버려요?")
        until_state(browser, "done")
        ask(browser, "건전지는 어떻게 버려요?")
        until_state(browser, "done", index=1)
        asked, answered, chat = questions(browser), answers(browser), open_chat(browser)
    cookie = browser.get_cookie("eco2_guest")
    assert cookie and cookie["httpOnly"] and chat
    shot()

    with chromium(tmp_path / "fresh") as fresh:
        fresh.get(f"{gateway.url}/healthz")  # on the origin, so the cookie can be set on it
        fresh.add_cookie({"name": "eco2_guest", "value": cookie["value"], "path": "/"})
        load(fresh, f"{gateway.url}/?history_page=2")
        nothing_kept = local_storage(fresh)
        listed = chat_ids(fresh)
        click_chat(fresh, chat)
        wait_until(fresh, lambda d: len(turns(d)) == 1, "the newest page of the history")
        newest = questions(fresh)
        fresh.find_element(By.ID, "older").click()  # the older page, above it
        wait_until(fresh, lambda d: len(turns(d)) == 2, "the whole conversation")
        fresh.save_screenshot(str(screenshot_path(request.node.name + "-fresh")))
        restored = (questions(fresh), answers(fresh))
        older_left = fresh.find_element(By.ID, "older").is_displayed()
        sources = [len(t.find_elements(By.CSS_SELECTOR, ".sources li")) for t in turns(fresh)]

    with chromium(tmp_path / "stranger") as stranger:
        load(stranger, f"{gateway.url}/")
        wait_until(
            stranger,
            lambda d: d.find_element(By.ID, "chats-status").text == "아직 대화가 없어요.",
            "an empty list",
        )
        strangers = chat_items(stranger)
        own = stranger.get_cookie("eco2_guest")
        status, _ = api(stranger, "GET", f"/api/v1/chat/{chat}")
    assert nothing_kept == {} and listed == [chat]
    assert newest == ["건전지는 어떻게 버려요?"] and not older_left
    assert restored == (asked, answered) and all(sources)
    assert strangers == [] and own and own["value"] != cookie["value"]
    assert status == 404  # another guest's conversation does not exist for this one
