// The chat page: the thread's conversation (kept in localStorage), answers streamed over SSE,
// questions back (needs_input), photos, and a plain message for every way a chat can fail.
"use strict";
(() => {
  const $ = (selector) => document.querySelector(selector);
  const params = new URLSearchParams(location.search);
  // A test (or an operator) can shorten both waits with ?worker_wait= / ?request_timeout=.
  const seconds = (param, attribute, fallback) => {
    const value = Number(params.get(param) ?? document.body.dataset[attribute]);
    return Number.isFinite(value) && value > 0 ? value : fallback;
  };
  const WORKER_WAIT_S = seconds("worker_wait", "workerWait", 20);
  const REQUEST_TIMEOUT_S = seconds("request_timeout", "requestTimeout", 30);
  const STORE = "eco2.chat.v1";
  const KEEP_CONVERSATIONS = 20;
  const PHOTO_TYPES = ["image/png", "image/jpeg", "image/webp"];
  const ACTIVE = new Set(["sending", "queued", "running", "waiting"]);

  // The server's rule (app/domain/language.py): Korean when Hangul is a quarter of the letters.
  const language = (text) => {
    const hangul = (text.match(/[\uac00-\ud7a3\u3131-\u318e]/g) || []).length;
    const latin = (text.match(/[A-Za-z]/g) || []).length;
    return hangul && hangul * 3 >= latin ? "ko" : "en";
  };

  // Stage names a person understands; unknown stages get a neutral name, never the node id.
  const STAGES = {
    attempt: ["작업을 다시 시작하기", "Starting over"],
    intent: ["질문 이해하기", "Understanding the question"],
    vision: ["사진 살펴보기", "Looking at the photo"],
    router: ["찾아볼 곳 정하기", "Deciding where to look"],
    waste_rag: ["분리배출 방법 찾기", "Looking up how to dispose of it"],
    character: ["캐릭터 찾기", "Finding the character"],
    location: ["주변 장소 찾기", "Searching places nearby"],
    bulk_waste: ["대형 폐기물 수수료 확인하기", "Checking bulky-waste fees"],
    recyclable_price: ["재활용품 시세 확인하기", "Checking recyclable prices"],
    weather: ["날씨 확인하기", "Checking the weather"],
    collection_point: ["수거함 위치 찾기", "Finding collection bins"],
    web_search: ["웹에서 찾아보기", "Searching the web"],
    image_generation: ["그림 만들기", "Drawing an image"],
    general: ["안내 준비하기", "Preparing general advice"],
    answer: ["답변 쓰기", "Writing the answer"],
    summarize: ["대화 정리하기", "Summarising the conversation"],
  };
  const OTHER_STAGE = ["처리하기", "Working"];
  const STATUS_WORDS = {
    started: ["진행 중", "in progress"],
    completed: ["완료", "done"],
    failed: ["실패", "failed"],
    waiting: ["답을 기다리는 중", "waiting for you"],
  };
  const SOURCE_KINDS = {
    knowledge_base: ["분리배출 안내", "Disposal guide"],
    guide: ["안내", "Guide"],
    map: ["지도", "Map"],
    collection_point: ["수거함", "Collection bin"],
    web: ["웹", "Web"],
    vision: ["사진 분석", "Photo"],
    character: ["캐릭터", "Character"],
    bulk_waste: ["대형 폐기물", "Bulky waste"],
    price: ["시세", "Prices"],
    weather: ["날씨", "Weather"],
    image: ["그림", "Image"],
  };
  const TEXT = {
    ko: {
      you: "질문", assistant: "답변", sources: "출처", answeredWith: "내 답: ",
      sending: "보내는 중…", queued: "차례를 기다리는 중…", running: "답을 만드는 중…",
      ahead: (n) => `앞선 질문 ${n}개가 끝나면 시작해요.`,
      waiting: "질문에 답해 주세요.", done: "답변을 마쳤어요.", stopping: "멈추는 중…",
      retry: "다시 시도", newChat: "새 대화 시작", send: "보내기", free: "직접 입력",
      reconnecting: "연결이 끊겼어요. 다시 연결하는 중…",
      noWorker: (n) => `${n}초가 지나도 답을 만들 서버(워커)가 일을 시작하지 않았어요. ` +
        "서버가 멈췄을 수 있어요. 계속 기다리거나 ‘멈추기’를 누른 뒤 나중에 다시 물어봐 주세요.",
      unreachable: "서버에 연결할 수 없어요. 인터넷 연결을 확인한 뒤 ‘다시 시도’를 눌러 주세요.",
      answeredElsewhere: "이 질문의 답은 다른 창에서 이어졌어요.",
      notWaiting: "이 질문은 이미 끝났어요.",
      gone: "이 답변을 더 이상 불러올 수 없어요 (기록이 만료됐어요).",
    },
    en: {
      you: "Question", assistant: "Answer", sources: "Sources", answeredWith: "Your answer: ",
      sending: "Sending…", queued: "Waiting for its turn…", running: "Working on the answer…",
      ahead: (n) => `It starts when ${n} earlier question(s) finish.`,
      waiting: "Please answer the question.", done: "Answered.", stopping: "Stopping…",
      retry: "Try again", newChat: "Start a new chat", send: "Send", free: "Type it",
      reconnecting: "The connection dropped. Reconnecting…",
      noWorker: (n) => `No server (worker) has started on this after ${n} s. ` +
        "It may be down: keep waiting, or press Stop and ask again later.",
      unreachable: "Cannot reach the server. Check your connection, then press Try again.",
      answeredElsewhere: "This question was answered in another window.",
      notWaiting: "This question has already ended.",
      gone: "This answer can no longer be loaded (its record expired).",
    },
  };
  // Failure kinds (an `error` event's, or an HTTP error body's): [ko, en, what helps].
  const FAILURES = {
    cancelled: ["질문을 멈췄어요.", "You stopped this question.", "retry"],
    interrupted: ["새 질문이 와서 이 답은 멈췄어요.", "A newer question stopped this one.", "retry"],
    timeout: ["답을 만드는 데 너무 오래 걸려 멈췄어요. 다시 시도해 주세요.",
      "This took too long and was stopped. Please try again.", "retry"],
    provider_timeout: ["언어 모델이 너무 늦게 답해요. 다시 시도해 주세요.",
      "The language model took too long. Please try again.", "retry"],
    provider_busy: ["언어 모델이 지금 바빠요. 잠시 후 다시 시도해 주세요.",
      "The language model is busy. Try again shortly.", "retry"],
    provider_unavailable: ["언어 모델을 지금 쓸 수 없어요. 잠시 후 다시 시도해 주세요.",
      "The language model is unavailable. Try again shortly.", "retry"],
    budget_exceeded: ["이 질문이 쓸 수 있는 한도(토큰·비용)를 넘어서 멈췄어요. 질문을 짧게 나눠 물어봐 주세요.",
      "This question used up its budget (tokens or cost) and was stopped. Try a shorter question.",
      "none"],
    daily_budget: ["오늘 쓸 수 있는 한도를 모두 썼어요. 내일 다시 이용해 주세요.",
      "Today's budget is used up. Please come back tomorrow.", "none"],
    lost: ["서버가 이 질문을 놓쳤어요. 다시 시도해 주세요.",
      "The server lost this question. Please try again.", "retry"],
    failed: ["이 질문을 처리하지 못했어요. 다시 시도해 주세요.",
      "This question could not be processed. Please try again.", "retry"],
    input_expired: ["답할 시간이 지나 질문이 끝났어요. 다시 물어봐 주세요.",
      "The time to answer ran out. Please ask again.", "retry"],
    too_long: ["대화가 너무 길어졌어요. 새 대화를 시작해 주세요.",
      "This chat is too long. Please start a new one.", "new"],
    misconfigured: ["서비스 설정에 문제가 있어요. 운영자에게 알렸어요.",
      "The service is misconfigured; the operator has been told.", "none"],
    no_worker: ["지금 답을 만들 서버(워커)가 없어요. 잠시 후 다시 시도해 주세요.",
      "No server (worker) is running to answer. Try again shortly.", "retry"],
    queue_down: ["질문 대기열에 연결할 수 없어요. 잠시 후 다시 시도해 주세요.",
      "The question queue is unreachable. Try again shortly.", "retry"],
    queue_full: ["기다리는 질문이 너무 많아요. 잠시 후 다시 시도해 주세요.",
      "Too many questions are waiting. Try again shortly.", "retry"],
    rate_limited: ["질문이 너무 잦아요. 잠시 후 다시 시도해 주세요.",
      "Too many questions at once. Try again shortly.", "retry"],
    thread_not_found: ["이 대화는 만료됐어요. 새 대화를 시작해 주세요.",
      "This chat has expired. Please start a new one.", "new"],
    thread_busy: ["앞선 질문이 아직 진행 중이에요. 잠시 후 다시 시도해 주세요.",
      "An earlier question is still running. Try again shortly.", "retry"],
    photo_expired: ["첨부한 사진이 만료됐어요. 사진을 다시 올려 주세요.",
      "The photo expired. Please attach it again.", "none"],
    too_large: ["질문이나 사진이 너무 커요.", "The question or photo is too large.", "none"],
    invalid_request: ["보낼 수 없는 질문이에요. 내용을 확인해 주세요.",
      "This question cannot be sent. Please check it.", "none"],
    unauthorized: ["이 서버는 API 키가 있어야 쓸 수 있어요.", "This server needs an API key.", "none"],
    internal: ["답을 만들지 못했어요. 다시 시도해 주세요.",
      "Something went wrong. Please try again.", "retry"],
  };

  const els = {
    turns: $("#turns"), empty: $("#empty"), form: $("#ask"), message: $("#message"),
    send: $("#send"), cancel: $("#cancel"), newChat: $("#new-chat"), status: $("#status"),
    photo: $("#photo"), preview: $("#photo-preview"), thumb: $("#photo-thumb"),
    photoStatus: $("#photo-status"), photoRemove: $("#photo-remove"),
  };
  const say = (turn, key, ...args) => {
    const entry = TEXT[turn ? turn.lang : "ko"][key];
    return typeof entry === "function" ? entry(...args) : entry;
  };
  const index = (turn) => (turn.lang === "en" ? 1 : 0);
  // What a turn tells the person beside its answer: `tone` failure (an alert), warning or
  // info; `action` the button it offers (retry: send again, follow: listen again, new chat).
  const note = (turn, kind, key, tone, action = null, ...args) =>
    ({ kind, tone, action, text: say(turn, key, ...args) });

  // ---- storage: conversations by local id, each with the thread the server issued it ----
  const store = (() => {
    try {
      const saved = JSON.parse(localStorage.getItem(STORE) || "null");
      if (saved && saved.conversations) return saved;
    } catch (_) { /* unreadable: start over */ }
    return { current: null, conversations: {} };
  })();
  const newConversation = () => {
    const id = `c${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    store.conversations[id] = { thread: null, turns: [], updated: Date.now() };
    store.current = id;
    return store.conversations[id];
  };
  let conversation = store.conversations[store.current] || newConversation();
  const save = () => {
    conversation.updated = Date.now();
    const ids = Object.keys(store.conversations)
      .sort((a, b) => store.conversations[b].updated - store.conversations[a].updated);
    for (const stale of ids.slice(KEEP_CONVERSATIONS)) delete store.conversations[stale];
    try {
      localStorage.setItem(STORE, JSON.stringify(store, (key, value) =>
        (key === "view" || key === "live" ? undefined : value)));
    } catch (_) { /* storage full or off: the page still works for this visit */ }
  };

  // ---- HTTP: every request has a deadline, so "sending…" can never hang ----
  class Unreachable extends Error {}
  const request = async (url, options = {}) => {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_S * 1000);
    try {
      return await fetch(url, { ...options, signal: controller.signal });
    } catch (error) {
      throw new Unreachable(String(error));
    } finally {
      clearTimeout(timer);
    }
  };
  const postJson = (url, body) => request(url, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const failureOf = async (response, photo) => {
    let body = {};
    try { body = await response.json(); } catch (_) { /* not ours: keep the status */ }
    let kind = body.error || "internal";
    if (kind === "budget_exceeded" && body.limit === "daily_budget") kind = "daily_budget";
    if (response.status === 404 && kind === "not_found" && photo) kind = "photo_expired";
    if (!FAILURES[kind]) kind = response.status === 422 ? "invalid_request" : "internal";
    return { kind };
  };

  // ---- rendering ----
  const element = (tag, attributes = {}, text) => {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const stageName = (turn, stage) => {
    const base = stage.stage === "attempt" ? STAGES.attempt : STAGES[stage.name] || OTHER_STAGE;
    const number = /#(\d+)$/.exec(stage.key);
    return base[index(turn)] + (number ? ` (${number[1]})` : "");
  };

  const view = (turn) => {
    if (turn.view) return turn.view;
    const item = element("li", { class: "turn", lang: turn.lang });
    const question = element("div", { class: "question" });
    question.append(element("span", { class: "sr-only" }, `${say(turn, "you")}: `));
    question.append(element("p", {}, turn.question));
    if (turn.photo) {
      const alt = turn.lang === "en" ? "the photo sent" : "보낸 사진";
      const img = element("img", { src: turn.photo.preview_url, alt });
      img.addEventListener("error", () => img.remove());  // expired upload: drop it quietly
      question.append(img);
    }
    const reply = element("div", { class: "reply" });
    reply.append(element("span", { class: "sr-only" }, `${say(turn, "assistant")}: `));
    const stages = element("ol", {
      class: "stages", "aria-label": turn.lang === "en" ? "progress" : "진행 단계",
    });
    const answered = element("p", { class: "answered" });
    const answer = element("p", { class: "answer" });
    const sources = element("section", { class: "sources", hidden: "" });
    const asking = element("div", { class: "asking-slot" });
    const notice = element("div", { class: "notice", hidden: "" });
    reply.append(stages, answered, answer, sources, asking, notice);
    item.append(question, reply);
    els.turns.append(item);
    turn.view = { item, stages, answered, answer, sources, asking, notice };
    return turn.view;
  };

  // Follow the newest text down the page, unless the reader has scrolled up to read.
  const nearEnd = () => innerHeight + scrollY >= document.documentElement.scrollHeight - 160;
  const toEnd = () => scrollTo(0, document.documentElement.scrollHeight);

  const render = (turn) => {
    const stick = nearEnd();
    const v = view(turn);
    v.item.dataset.state = turn.state;
    v.stages.replaceChildren(...turn.stages.map((stage) => {
      const li = element("li", { "data-status": stage.status, "data-stage": stage.name });
      li.append(element("span", { class: "name" }, stageName(turn, stage)));
      const word = STATUS_WORDS[stage.status]?.[index(turn)] || "";
      li.append(element("span", { class: "sr-only" }, ` (${word})`));
      return li;
    }));
    v.answered.textContent = turn.answered ? say(turn, "answeredWith") + turn.answered : "";
    v.answered.hidden = !turn.answered;
    v.answer.textContent = turn.answer;
    v.answer.setAttribute("aria-busy", String(ACTIVE.has(turn.state)));
    renderSources(turn, v.sources);
    renderAsking(turn, v.asking);
    renderNotice(turn, v.notice);
    els.empty.hidden = conversation.turns.length > 0;
    if (stick) toEnd();
  };

  const sourceItem = (turn, source) => {
    const li = element("li");
    const kind = SOURCE_KINDS[source.kind]?.[index(turn)];
    if (source.kind === "vision") {  // the photo's own analysis: its kind says it all
      li.textContent = kind;
      return li;
    }
    if (kind) li.append(element("span", { class: "kind" }, `${kind} · `));
    if (source.url && /^https?:\/\//i.test(source.url)) {  // never a javascript: link
      const link = { href: source.url, target: "_blank", rel: "noopener noreferrer" };
      li.append(element("a", link, source.title));
    } else {
      li.append(document.createTextNode(source.title));
    }
    return li;
  };

  const renderSources = (turn, section) => {
    section.replaceChildren();
    section.hidden = !turn.sources.length;
    if (!turn.sources.length) return;
    section.append(element("h3", {}, say(turn, "sources")));
    const list = element("ul");
    for (const source of turn.sources) list.append(sourceItem(turn, source));
    section.append(list);
  };

  const renderAsking = (turn, slot) => {
    const asked = turn.state === "waiting" ? turn.ask : null;
    if (!asked) { slot.replaceChildren(); return; }
    if (slot.dataset.asked === asked.question && slot.firstChild) return;  // keep what is typed
    slot.dataset.asked = asked.question;
    const form = element("form", { class: "asking" });
    const fieldset = element("fieldset");
    fieldset.append(element("legend", {}, asked.question));
    const options = element("div", { class: "options", role: "group", "aria-label": asked.question });
    for (const option of asked.options || []) {
      const button = element("button", { type: "button", "data-value": option }, option);
      button.addEventListener("click", () => answerQuestion(turn, option));
      options.append(button);
    }
    const free = element("div", { class: "free" });
    const id = `free-${turn.id}`;
    const label = element("label", { for: id, class: "sr-only" }, say(turn, "free"));
    const input = element("input", {
      id, type: "text", name: "value", maxlength: "200", placeholder: say(turn, "free"),
    });
    free.append(label, input, element("button", { type: "submit" }, say(turn, "send")));
    fieldset.append(options, free);
    form.append(fieldset);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (input.value.trim()) answerQuestion(turn, input.value.trim());
    });
    slot.replaceChildren(form);
    (options.querySelector("button") || input).focus();
  };

  const renderNotice = (turn, notice) => {
    const shown = turn.notice;
    notice.replaceChildren();
    notice.hidden = !shown;
    if (!shown) { notice.removeAttribute("data-kind"); return; }
    notice.dataset.kind = shown.kind;
    notice.dataset.tone = shown.tone;
    // A failure interrupts (alert); a note on progress waits its turn (status).
    notice.setAttribute("role", shown.tone === "failure" ? "alert" : "status");
    notice.append(element("span", { class: "text" }, shown.text));
    if (shown.action === "follow") {  // the chat may still be going: listen to it again
      const button = element("button", { type: "button", class: "retry" }, say(turn, "retry"));
      button.addEventListener("click", () => { turn.notice = null; follow(turn); });
      notice.append(button);
    } else if (shown.action === "retry") {
      const button = element("button", { type: "button", class: "retry" }, say(turn, "retry"));
      button.addEventListener("click", () => retry(turn));
      notice.append(button);
    } else if (shown.action === "new") {
      const button = element("button", { type: "button", class: "start-new" }, say(turn, "newChat"));
      button.addEventListener("click", startNewChat);
      notice.append(button);
    }
  };

  const setStatus = (turn, key, ...args) => {
    els.status.dataset.state = turn ? turn.state : "idle";
    els.status.textContent = key ? say(turn, key, ...args) : "";
  };
  const controls = () => {
    const busy = conversation.turns.some((turn) => ACTIVE.has(turn.state));
    const current = conversation.turns.at(-1);
    els.send.disabled = busy || uploading;
    els.cancel.hidden = !(busy && current && current.job);
    els.cancel.disabled = false;
  };

  // ---- a turn's life ----
  const fail = (turn, kind, { state = "error" } = {}) => {
    const [ko, en, action] = FAILURES[kind] || FAILURES.internal;
    turn.state = state;
    turn.error = kind;
    turn.notice = {
      kind, text: turn.lang === "en" ? en : ko, action,
      tone: kind === "cancelled" ? "info" : "failure",
    };
    stopFollowing(turn);
    finish(turn);
  };
  const finish = (turn) => {
    if (turn.state === "done") setStatus(turn, "done");
    else setStatus(turn, null);
    els.status.dataset.state = turn.state;
    save();
    render(turn);
    controls();
    // The focused control (Stop, an option) may have just gone: give the keyboard a home.
    if (document.activeElement === document.body) els.message.focus();
  };

  // A turn of a conversation the person has left (새 대화) must not touch the new one.
  const left = (turn) => !conversation.turns.includes(turn);

  const submitTurn = async (turn) => {
    turn.state = "sending";
    turn.notice = null;
    turn.error = null;
    setStatus(turn, "sending");
    render(turn);
    controls();
    const body = { message: turn.question };
    if (conversation.thread) body.thread_id = conversation.thread;
    if (turn.photo) body.image_url = turn.photo.image_url;
    let response;
    try {
      response = await postJson("/v1/chat", body);
    } catch (error) {
      if (!(error instanceof Unreachable)) throw error;
      if (left(turn)) return;
      turn.state = "unsent";
      turn.notice = note(turn, "unreachable", "unreachable", "failure", "retry");
      finish(turn);
      return;
    }
    if (left(turn)) return;
    if (!response.ok) {
      const { kind } = await failureOf(response, turn.photo);
      fail(turn, kind, { state: "refused" });
      return;
    }
    const job = await response.json();
    if (left(turn)) {  // sent as the person left: nobody will read it
      cancelJob(job).catch(() => {});
      return;
    }
    conversation.thread = job.thread_id;
    turn.job = job;
    save();
    follow(turn);
  };

  const resetRun = (turn) => {
    turn.answer = "";
    turn.sources = [];
    turn.attempt = 1;
    if (!turn.answered) turn.stages = [];
  };

  const follow = (turn) => {
    stopFollowing(turn);
    resetRun(turn);
    turn.state = "queued";
    setStatus(turn, "queued");
    render(turn);
    controls();
    const source = new EventSource(turn.job.events_url);
    const live = { source, seen: new Set(), worker: null, job: turn.job.job_id };
    turn.live = live;
    // A queued chat that no worker takes is said so after N s; it keeps waiting all the same.
    live.worker = setTimeout(() => {
      if (turn.live !== live || turn.state !== "queued") return;
      turn.notice = note(turn, "no_worker", "noWorker", "warning", null, WORKER_WAIT_S);
      render(turn);
    }, WORKER_WAIT_S * 1000);
    const handle = (message) => {
      if (turn.live !== live) return;
      if (!(message instanceof MessageEvent)) { connectionTrouble(turn, live); return; }
      if (message.lastEventId && live.seen.has(message.lastEventId)) return;
      live.seen.add(message.lastEventId);
      let event;
      try { event = JSON.parse(message.data); } catch (_) { return; }
      onEvent(turn, live, event);
    };
    const types = ["queued", "stage", "delta", "answer", "needs_input", "done", "error", "resumed"];
    for (const type of types) source.addEventListener(type, handle);
    source.addEventListener("open", () => {
      if (turn.live === live && turn.notice?.kind === "reconnecting") {
        turn.notice = null;
        render(turn);
      }
    });
  };

  const stopFollowing = (turn) => {
    if (!turn.live) return;
    turn.live.source.close();
    clearTimeout(turn.live.worker);
    turn.live = null;
  };

  const started = (turn) => {
    if (turn.state === "queued") {
      turn.state = "running";
      setStatus(turn, "running");
    }
    if (turn.notice?.kind === "no_worker") turn.notice = null;
  };

  const onEvent = (turn, live, event) => {
    if (event.attempt > turn.attempt) {  // a re-run: the earlier attempt's text is void
      turn.attempt = event.attempt;
      turn.answer = "";
    }
    switch (event.type) {
      case "queued":
        if (event.data?.ahead > 0) setStatus(turn, "ahead", event.data.ahead);
        break;
      case "stage":
        started(turn);
        upsertStage(turn, event);
        break;
      case "delta":
        started(turn);
        if (event.attempt >= turn.attempt) {
          const stick = nearEnd();
          turn.answer += event.data?.text || "";
          turn.view.answer.textContent = turn.answer;  // cheap: no full render per piece
          if (stick) toEnd();
          return;
        }
        break;
      case "answer":
        turn.answer = event.data?.text || "";
        turn.sources = Array.isArray(event.data?.sources) ? event.data.sources : [];
        save();
        break;
      case "needs_input":
        turn.state = "waiting";
        turn.ask = event.data;
        setStatus(turn, "waiting");
        save();
        controls();
        break;
      case "done":
        turn.state = "done";
        turn.notice = null;
        stopFollowing(turn);
        finish(turn);
        return;
      case "error":
        fail(turn, event.data?.kind in FAILURES ? event.data.kind : "internal",
          { state: event.data?.kind === "cancelled" ? "cancelled" : "error" });
        return;
      case "resumed":  // only reaches us when another window answered the question
        turn.state = "ended";
        turn.notice = note(turn, "resumed", "answeredElsewhere", "info");
        stopFollowing(turn);
        finish(turn);
        return;
      default:
        return;
    }
    render(turn);
  };

  const upsertStage = (turn, event) => {
    if (event.stage === "attempt") {
      turn.answer = "";
      turn.stages = turn.stages.filter((stage) => stage.status === "completed");
    }
    const key = event.data?.slot || event.stage;
    const found = turn.stages.find((stage) => stage.key === key);
    if (found) found.status = event.status;
    else turn.stages.push({ key, name: event.stage, stage: event.stage, status: event.status });
  };

  // The stream broke. EventSource retries by itself while it can (CONNECTING); once it gives
  // up (CLOSED: the gateway refused the stream) the chat's status says how it ended.
  const connectionTrouble = (turn, live) => {
    if (live.source.readyState === EventSource.CONNECTING) {
      turn.notice = note(turn, "reconnecting", "reconnecting", "warning");
      render(turn);
      return;
    }
    stopFollowing(turn);
    checkStatus(turn);
  };

  const checkStatus = async (turn) => {
    let response;
    try {
      response = await request(turn.job.result_url);
    } catch (_) {
      response = null;
    }
    if (!response || response.status >= 500) {  // the gateway (or its Redis) is away
      turn.state = "broken";
      turn.notice = note(turn, "unreachable", "unreachable", "failure", "follow");
      finish(turn);
      return;
    }
    if (!response.ok) {  // the job's record (or its token) expired
      turn.state = "ended";
      turn.notice = note(turn, "gone", "gone", "failure", "retry");
      finish(turn);
      return;
    }
    const status = await response.json();
    if (status.state === "done") {
      turn.answer = status.answer;
      turn.state = "done";
      finish(turn);
    } else if (status.state === "failed") {
      fail(turn, status.error?.kind in FAILURES ? status.error.kind : "internal",
        { state: status.error?.kind === "cancelled" ? "cancelled" : "error" });
    } else if (status.state === "resumed") {
      turn.state = "ended";
      turn.notice = note(turn, "resumed", "answeredElsewhere", "info");
      finish(turn);
    } else {
      follow(turn);  // still going: listen again
    }
  };

  const answerQuestion = async (turn, value) => {
    if (turn.state !== "waiting" || !turn.ask || turn.live?.answering) return;
    const live = turn.live;
    if (live) live.answering = true;  // one answer: a second click would only meet a 409
    const url = `${turn.ask.input_url}?token=${encodeURIComponent(turn.job.token)}`;
    setStatus(turn, "sending");
    let response;
    try {
      response = await postJson(url, { value });
    } catch (error) {
      if (!(error instanceof Unreachable)) throw error;
      if (live) live.answering = false;
      turn.notice = note(turn, "unreachable", "unreachable", "failure");
      setStatus(turn, "waiting");
      render(turn);
      return;
    }
    if (left(turn)) return;
    if (response.status === 410) { fail(turn, "input_expired"); return; }
    if (response.status === 409) {
      turn.notice = note(turn, "not_waiting", "notWaiting", "info");
      stopFollowing(turn);
      checkStatus(turn);
      return;
    }
    if (!response.ok) {
      if (live) live.answering = false;
      const { kind } = await failureOf(response, null);
      turn.notice = { kind, text: FAILURES[kind][index(turn)], action: null, tone: "failure" };
      setStatus(turn, "waiting");
      render(turn);
      return;
    }
    const job = await response.json();
    stopFollowing(turn);  // the paused job's stream ends with `resumed`: nothing left in it
    turn.answered = value;
    turn.ask = null;
    turn.notice = null;
    turn.job = job;
    save();
    follow(turn);
  };

  const retry = (turn) => {
    if (conversation.turns.some((other) => other !== turn && ACTIVE.has(other.state))) return;
    turn.answered = null;
    turn.ask = null;
    turn.job = null;
    turn.stages = [];
    turn.answer = "";
    turn.sources = [];
    submitTurn(turn);
  };

  const cancelJob = (job) => request(
    `/v1/chat/${job.job_id}/cancel?token=${encodeURIComponent(job.token)}`, { method: "POST" });

  const cancel = async () => {
    const turn = conversation.turns.find((t) => ACTIVE.has(t.state) && t.job);
    if (!turn) return;
    els.cancel.disabled = true;
    setStatus(turn, "stopping");
    try {
      const response = await cancelJob(turn.job);
      if (!response.ok) checkStatus(turn);
      // The stream's `error` (kind cancelled) ends the turn.
    } catch (_) {
      turn.notice = note(turn, "unreachable", "unreachable", "failure");
      els.cancel.disabled = false;
      render(turn);
    }
  };

  const startNewChat = () => {
    if (!conversation.turns.length) { els.message.focus(); return; }  // already a new one
    for (const turn of conversation.turns) {
      if (ACTIVE.has(turn.state)) {
        // Nobody will see this answer any more: do not let it spend a worker's time.
        if (turn.job) cancelJob(turn.job).catch(() => {});
        turn.state = "cancelled";
      }
      stopFollowing(turn);
    }
    save();
    conversation = newConversation();
    save();
    els.turns.replaceChildren();
    clearPhoto();
    els.message.value = "";
    els.empty.hidden = false;
    setStatus(null, null);
    controls();
    els.message.focus();
  };

  // ---- photo: uploaded when chosen, so a bad file is refused before the question is sent ----
  let photo = null;
  let uploading = false;
  let choosing = 0;  // the latest choice; an upload of an earlier one is ignored
  let previewUrl = null;
  const clearPhoto = () => {
    choosing += 1;  // an upload still under way is not attached any more
    photo = null;
    els.photo.value = "";
    els.preview.hidden = true;
    els.photoStatus.textContent = "";
    els.photoStatus.dataset.state = "";
    uploading = false;
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = null;
  };
  const PHOTO_TEXT = {
    uploading: "사진 올리는 중…",
    ready: "사진을 올렸어요. 질문과 함께 보내요.",
    wrong_type: "png, jpeg, webp 사진만 올릴 수 있어요.",
    too_large: "사진이 너무 커요. 더 작은 사진을 골라 주세요.",
    unreachable: "서버에 연결할 수 없어 사진을 올리지 못했어요. 다시 골라 주세요.",
  };
  const photoSays = (state, text) => {
    els.photoStatus.dataset.state = state;
    els.photoStatus.textContent = text || PHOTO_TEXT[state];
    // A refused photo is not attached: no thumbnail that says otherwise.
    els.thumb.hidden = state !== "uploading" && state !== "ready";
  };
  const choosePhoto = async () => {
    const file = els.photo.files[0];
    if (!file) return;
    clearPhoto();
    const mine = choosing;
    els.preview.hidden = false;
    if (!PHOTO_TYPES.includes(file.type)) { photoSays("wrong_type"); return; }
    previewUrl = URL.createObjectURL(file);
    els.thumb.src = previewUrl;
    photoSays("uploading");
    uploading = true;
    controls();
    let said;
    try {
      const response = await request("/v1/uploads", {
        method: "POST", headers: { "Content-Type": file.type }, body: file,
      });
      if (response.ok) {
        const uploaded = await response.json();
        if (mine === choosing) photo = uploaded;
        said = ["ready"];
      } else if (response.status === 415) {
        said = ["wrong_type"];
      } else if (response.status === 413) {
        said = ["too_large"];
      } else {
        const { kind } = await failureOf(response, null);
        said = ["refused", FAILURES[kind][0]];
      }
    } catch (_) {
      said = ["unreachable"];
    }
    if (mine !== choosing) return;
    uploading = false;
    photoSays(...said);
    controls();
  };

  const ask = (event) => {
    event.preventDefault();
    const question = els.message.value.trim();
    if (!question || els.send.disabled) return;
    const turn = {
      id: `t${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`,
      question, lang: language(question), photo, job: null, state: "sending", answer: "",
      sources: [], stages: [], ask: null, answered: null, notice: null, error: null, attempt: 1,
    };
    conversation.turns.push(turn);
    els.message.value = "";
    clearPhoto();
    save();
    submitTurn(turn);
  };

  // ---- start: show the kept conversation; pick up a turn that was still going ----
  els.form.addEventListener("submit", ask);
  els.message.addEventListener("keydown", (event) => {
    // Enter sends, except while an IME composes Hangul (its Enter commits the syllable).
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      els.form.requestSubmit();
    }
  });
  els.cancel.addEventListener("click", cancel);
  els.newChat.addEventListener("click", startNewChat);
  els.photo.addEventListener("change", choosePhoto);
  els.photoRemove.addEventListener("click", () => { clearPhoto(); els.message.focus(); });

  for (const turn of conversation.turns) {
    render(turn);
    if (ACTIVE.has(turn.state)) {
      if (turn.job) follow(turn);
      else {
        turn.state = "unsent";
        turn.notice = note(turn, "unreachable", "unreachable", "failure", "retry");
        render(turn);
      }
    }
  }
  els.empty.hidden = conversation.turns.length > 0;
  controls();
  save();
})();
