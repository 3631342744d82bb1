// The chat page, on the eco2 client API (/api/v1, CLIENT_API.md): the caller's conversations
// come from the server (a sidebar lists, opens, renames and deletes them), a message goes to
// its conversation and its answer streams over EventSource (events named after stages), with
// questions back, photos, and a plain message for every way a chat can fail. The caller is
// the browser's guest cookie. localStorage keeps only which conversation was open;
// sessionStorage keeps the turn this tab is waiting on, so a reload picks it up.
import {
  FAILURES, OTHER_STAGE, SOURCE_KINDS, STAGES, STATUS_WORDS, TEXT, language,
} from "/static/chat-words.js";

(() => {
  const $ = (selector) => document.querySelector(selector);
  const params = new URLSearchParams(location.search);
  // A test (or an operator) can shorten the waits and pages with ?worker_wait= etc.
  const number = (param, attribute, fallback) => {
    const value = Number(params.get(param) ?? document.body.dataset[attribute]);
    return Number.isFinite(value) && value > 0 ? value : fallback;
  };
  const WORKER_WAIT_S = number("worker_wait", "workerWait", 20);
  const REQUEST_TIMEOUT_S = number("request_timeout", "requestTimeout", 30);
  const CHATS_PAGE = Math.min(100, Math.round(number("chats_page", "chatsPage", 20)));
  const HISTORY_PAGE = Math.min(100, Math.round(number("history_page", "historyPage", 20)));
  const OPEN = "eco2.chat.open";  // the conversation that was open: the only thing kept here
  const PENDING = "eco2.chat.pending";  // sessionStorage: this tab's unfinished turns
  const API = "/api/v1/chat";
  const PHOTO_TYPES = ["image/png", "image/jpeg", "image/webp"];
  const ACTIVE = new Set(["sending", "queued", "running", "waiting"]);

  // The stream's event names (CLIENT_API.md): the turn's own, and one per stage.
  const STREAM_EVENTS = [
    "queued", "token", "token_recovery", "needs_input", "done", "error", ...Object.keys(STAGES),
  ];

  const els = {
    turns: $("#turns"), empty: $("#empty"), form: $("#ask"), message: $("#message"),
    send: $("#send"), cancel: $("#cancel"), newChat: $("#new-chat"), status: $("#status"),
    photo: $("#photo"), preview: $("#photo-preview"), thumb: $("#photo-thumb"),
    photoStatus: $("#photo-status"), photoRemove: $("#photo-remove"),
    chats: $("#chats"), chatList: $("#chat-list"), chatsStatus: $("#chats-status"),
    moreChats: $("#more-chats"), toggleChats: $("#toggle-chats"), title: $("#chat-title"),
    older: $("#older"),
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
  const enc = encodeURIComponent;

  // ---- storage: which conversation was open (localStorage); this tab's unfinished turns ----
  const remembered = () => {
    try { return localStorage.getItem(OPEN); } catch (_) { return null; }
  };
  const remember = (id) => {
    try {
      if (id) localStorage.setItem(OPEN, id);
      else localStorage.removeItem(OPEN);
      localStorage.removeItem("eco2.chat.v1");  // the page's former local history: the server keeps it now
    } catch (_) { /* storage off: the page still works for this visit */ }
  };
  const pendingAll = () => {
    try { return JSON.parse(sessionStorage.getItem(PENDING) || "{}") || {}; } catch (_) { return {}; }
  };
  // A turn under way is not in the conversation's history until it ends: the job it waits on
  // is kept for this tab, with the last message before it (so a reload can tell whether the
  // history holds the turn by now).
  const setPending = (chat, turn) => {
    if (!chat) return;
    const all = pendingAll();
    if (turn) {
      all[chat] = {
        job: turn.job, question: turn.question, lang: turn.lang, photo: turn.photo,
        answered: turn.answered, after: turn.after,
      };
    } else {
      delete all[chat];
    }
    try { sessionStorage.setItem(PENDING, JSON.stringify(all)); } catch (_) { /* as above */ }
  };

  // ---- HTTP: every request has a deadline, so "sending…" can never hang ----
  class Unreachable extends Error {}
  const request = async (url, options = {}) => {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_S * 1000);
    try {
      // The guest cookie is who we are: sent on every request (same origin).
      return await fetch(url, { credentials: "same-origin", ...options, signal: controller.signal });
    } catch (error) {
      throw new Unreachable(String(error));
    } finally {
      clearTimeout(timer);
    }
  };
  const sendJson = (method, url, body) => request(url, {
    method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
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

  // ---- the open conversation: its id (none until its first message creates it), the
  // messages loaded so far (oldest first), and the turns on the page ----
  const blank = () => ({
    id: null, title: null, messages: [], cursor: null, hasMore: false, carry: null, turns: [],
  });
  let current = blank();
  let booting = Promise.resolve();  // the start: the list, then the conversation that was open
  let opening = 0;  // the latest open; one that answers after a later choice is dropped
  const lastMessage = () => current.messages.at(-1)?.id ?? null;
  const newTurn = (question, photo) => ({
    id: `t${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`,
    question, lang: language(question), photo, chat: current.id, job: null, state: "sending",
    answer: "", sources: [], stages: [], ask: null, answered: null, notice: null, error: null,
    attempt: 1, after: null,
  });
  // A photo as history keeps it: one uploaded here (upload:NAME) is shown from its upload.
  const photoOf = (url) => {
    if (!url) return null;
    const upload = /^upload:([\w.-]+)$/.exec(url);
    if (upload) return { image_url: url, preview_url: `/v1/uploads/${upload[1]}` };
    return /^(https?:\/\/|\/)/i.test(url) ? { image_url: url, preview_url: url } : null;
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

  const view = (turn, anchor = null) => {
    if (turn.view) return turn.view;
    const item = element("li", { class: "turn", lang: turn.lang });
    const question = element("div", { class: "question" });
    question.hidden = !turn.question;  // a reply whose question is on a page not loaded
    question.append(element("span", { class: "sr-only" }, `${say(turn, "you")}: `));
    question.append(element("p", {}, turn.question));
    if (turn.photo?.preview_url) {
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
    els.turns.insertBefore(item, anchor);
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
    els.empty.hidden = current.turns.length > 0;
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
    section.hidden = !turn.sources.length && !turn.offline;
    if (turn.offline) section.append(element("p", { class: "offline" }, say(turn, "offline")));
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
  // A turn of this tab (one with a job, or being sent) holds the composer; a question back
  // found in history does not: a new message may answer it or move on.
  const holding = (turn) => ACTIVE.has(turn.state) && (turn.job || turn.state === "sending");
  const controls = () => {
    const busy = current.turns.some(holding);
    const last = current.turns.at(-1);
    els.send.disabled = busy || uploading;
    els.cancel.hidden = !(busy && last && last.job && holding(last));
    els.cancel.disabled = false;
  };

  // ---- history: messages to turns (a user message and the reply after it) ----
  const storedTurn = (user) => {
    const turn = newTurn(user ? user.content : "", photoOf(user?.image_url));
    turn.state = "done";
    turn.stored = true;
    return turn;
  };
  const attachReply = (turn, reply) => {
    turn.reply = reply;
    turn.answer = reply.content;
    turn.sources = Array.isArray(reply.metadata?.sources) ? reply.metadata.sources : [];
    // No model wrote it: said beside the answer (the stored message's metadata), not in it.
    turn.offline = reply.metadata?.provider === "offline";
    if (!turn.question) turn.lang = language(reply.content);
  };
  // A reply whose question is on an older page waits (current.carry) for that page.
  const historyTurns = (messages, hasMore) => {
    let list = messages;
    current.carry = null;
    if (hasMore && list.length && list[0].role === "assistant") {
      current.carry = list[0];
      list = list.slice(1);
    }
    const built = [];
    for (const message of list) {
      const last = built.at(-1);
      if (message.role === "user") built.push(storedTurn(message));
      else if (last && !last.reply) attachReply(last, message);
      else {
        const orphan = storedTurn(null);
        attachReply(orphan, message);
        built.push(orphan);
      }
    }
    for (const turn of built) {
      if (!turn.reply) {  // a turn that failed keeps its question and no answer
        turn.state = "ended";
        turn.notice = note(turn, "no_answer", "noAnswer", "info");
      }
    }
    return built;
  };
  // The conversation's last reply asked back and nothing came after: it is still open.
  const reopenQuestion = () => {
    const last = current.turns.at(-1);
    const asked = last?.reply?.metadata?.needs_input;
    if (!last || !asked || last.reply.id !== lastMessage()) return;
    last.state = "waiting";
    last.ask = asked;
    last.answer = "";
  };
  // A question back left unanswered in the form is closed by the next message sent.
  const closeQuestions = () => {
    for (const turn of current.turns) {
      if (turn.state === "waiting" && !turn.job && turn.reply) {
        turn.state = "done";
        turn.ask = null;
        turn.answer = turn.reply.content;
        render(turn);
      }
    }
  };
  const showTitle = () => {
    const listed = chats.items.find((chat) => chat.id === current.id);
    els.title.textContent = current.id
      ? current.title || listed?.title || listed?.preview || "제목 없는 대화"
      : "새 대화";
  };
  const clearView = () => {
    els.turns.replaceChildren();
    els.older.hidden = true;
    els.empty.hidden = false;
    setStatus(null, null);
  };

  const leave = () => {
    // Its turns carry on on the server and are in its history when it is opened again.
    for (const turn of current.turns) stopFollowing(turn);
  };

  const openChat = async (id, { focus = true } = {}) => {
    closeDrawer();
    if (id === current.id) { els.message.focus(); return true; }
    const mine = ++opening;
    let response;
    try {
      response = await request(`${API}/${enc(id)}?limit=${HISTORY_PAGE}`);
    } catch (_) {
      if (mine === opening) chatsSay("서버에 연결할 수 없어 대화를 열지 못했어요.");
      return false;
    }
    if (mine !== opening) return false;
    if (response.status === 404) {
      dropChat(id);
      setPending(id, null);
      if (remembered() === id) remember(null);
      chatsSay("이 대화는 지워졌거나 찾을 수 없어요.");
      return false;
    }
    if (!response.ok) { chatsSay("대화를 열지 못했어요. 잠시 후 다시 시도해 주세요."); return false; }
    const page = await response.json();
    if (mine !== opening) return false;
    leave();
    current = blank();
    current.id = page.id;
    current.title = page.title;
    remember(page.id);
    clearView();
    current.messages = page.messages.slice();
    current.cursor = page.next_cursor;
    current.hasMore = page.has_more;
    current.turns = historyTurns(page.messages, page.has_more);
    reopenQuestion();
    for (const turn of current.turns) render(turn);
    resumePending();
    els.older.hidden = !current.cursor;
    els.empty.hidden = current.turns.length > 0;
    showTitle();
    renderChats();
    controls();
    toEnd();
    if (focus) els.message.focus();
    return true;
  };

  // The turn this tab was waiting on when the page was left, unless history holds it by now.
  const resumePending = () => {
    const saved = pendingAll()[current.id];
    if (!saved) return;
    if (!saved.job || lastMessage() !== (saved.after ?? null)) {
      setPending(current.id, null);
      return;
    }
    let turn = current.turns.at(-1);
    if (!(saved.answered && turn?.state === "waiting" && !turn.job)) {
      turn = newTurn(saved.question, saved.photo);
      turn.lang = saved.lang || turn.lang;
      current.turns.push(turn);
    }
    turn.job = saved.job;
    turn.answered = saved.answered;
    turn.ask = null;
    turn.after = saved.after;
    turn.chat = current.id;
    follow(turn);
  };

  const loadOlder = async () => {
    if (!current.cursor || !current.id) return;
    const id = current.id;
    els.older.disabled = true;
    let response;
    try {
      response = await request(`${API}/${enc(id)}?limit=${HISTORY_PAGE}&cursor=${enc(current.cursor)}`);
    } catch (_) {
      response = null;
    }
    els.older.disabled = false;
    if (id !== current.id) return;
    if (!response || !response.ok) { chatsSay("이전 메시지를 불러오지 못했어요."); return; }
    const page = await response.json();
    if (id !== current.id) return;
    const messages = [...page.messages, ...(current.carry ? [current.carry] : [])];
    current.messages = [...page.messages, ...current.messages];
    current.cursor = page.next_cursor;
    current.hasMore = page.has_more;
    const older = historyTurns(messages, page.has_more);
    // Above what is shown, keeping the reader's place.
    const height = document.documentElement.scrollHeight;
    const anchor = els.turns.firstChild;
    for (const turn of older) {
      view(turn, anchor);
      render(turn);
    }
    current.turns = [...older, ...current.turns];
    scrollBy(0, document.documentElement.scrollHeight - height);
    els.older.hidden = !current.cursor;
    if (els.older.hidden) els.message.focus();
  };

  // ---- the sidebar: the caller's conversations, most recent first ----
  const chats = { items: [], cursor: null, loaded: false };
  const EMPTY_LIST = "아직 대화가 없어요.";
  const chatsSay = (text) => { els.chatsStatus.textContent = text; };
  const chatName = (chat) => chat.title || chat.preview || "제목 없는 대화";

  const loadChats = async (more = false) => {
    const cursor = more && chats.cursor ? `&cursor=${enc(chats.cursor)}` : "";
    let response;
    try {
      response = await request(`${API}?limit=${CHATS_PAGE}${cursor}`);
    } catch (_) {
      response = null;
    }
    if (!response || !response.ok) {
      chatsSay("대화 목록을 불러오지 못했어요.");
      return false;
    }
    const page = await response.json();
    const fresh = new Set(page.chats.map((chat) => chat.id));
    if (more) {
      chats.items = [...chats.items.filter((chat) => !fresh.has(chat.id)), ...page.chats];
      chats.cursor = page.next_cursor;
    } else {
      // The first page again (a turn ended): pages loaded with "more" stay below it.
      const rest = chats.items.slice(page.chats.length).filter((chat) => !fresh.has(chat.id));
      const beyond = chats.items.length > CHATS_PAGE && chats.cursor !== null;
      chats.items = [...page.chats, ...(beyond ? rest : [])];
      if (!beyond) chats.cursor = page.next_cursor;
    }
    chats.loaded = true;
    if ([EMPTY_LIST, "대화 목록을 불러오지 못했어요."].includes(els.chatsStatus.textContent)) chatsSay("");
    renderChats();
    return true;
  };

  // Items are kept while they show the same thing (a focus, a rename under way, survive a
  // refresh of the list).
  const drawn = new Map();
  const renderChats = () => {
    const nodes = chats.items.map((chat) => {
      const look = JSON.stringify([chatName(chat), chat.preview, chat.id === current.id]);
      const kept = drawn.get(chat.id);
      if (kept && (kept.li.dataset.editing || kept.look === look)) return kept.li;
      const li = chatItem(chat);
      drawn.set(chat.id, { li, look });
      return li;
    });
    for (const id of drawn.keys()) {
      if (!chats.items.some((chat) => chat.id === id)) drawn.delete(id);
    }
    els.chatList.replaceChildren(...nodes);
    els.moreChats.hidden = !chats.cursor;
    if (chats.loaded && !chats.items.length) chatsSay(EMPTY_LIST);
    else if (els.chatsStatus.textContent === EMPTY_LIST) chatsSay("");
  };

  const chatItem = (chat) => {
    const li = element("li", { class: "chat-item", "data-id": chat.id });
    if (chat.id === current.id) li.setAttribute("aria-current", "true");
    const name = chatName(chat);
    const open = element("button", { type: "button", class: "open" });
    open.append(element("span", { class: "title" }, name));
    if (chat.title && chat.preview) open.append(element("span", { class: "preview" }, chat.preview));
    open.addEventListener("click", () => openChat(chat.id));
    const actions = element("div", { class: "item-actions" });
    // Visible words, with the conversation's name for a screen reader's list of buttons.
    const rename = element("button", {
      type: "button", class: "rename link", "aria-label": `${name}: 이름 바꾸기`,
    }, "이름 바꾸기");
    rename.addEventListener("click", () => startRename(li, chat));
    const remove = element("button", {
      type: "button", class: "delete link", "aria-label": `${name}: 지우기`,
    }, "지우기");
    remove.addEventListener("click", () => deleteChat(chat));
    actions.append(rename, remove);
    li.append(open, actions);
    return li;
  };
  const focusItem = (id, part) => {
    els.chatList.querySelector(`li[data-id="${CSS.escape(id)}"] .${part}`)?.focus();
  };
  const touchChat = (chat) => {
    chats.items = [chat, ...chats.items.filter((other) => other.id !== chat.id)];
    renderChats();
  };
  const dropChat = (id) => {
    chats.items = chats.items.filter((chat) => chat.id !== id);
    renderChats();
  };

  const startRename = (li, chat) => {
    const form = element("form", { class: "rename-form" });
    const id = `rename-${chat.id}`;
    const input = element("input", { id, type: "text", name: "title", maxlength: "200" });
    input.value = chat.title || chat.preview || "";
    const cancel = element("button", { type: "button", class: "secondary" }, "취소");
    form.append(element("label", { for: id, class: "sr-only" }, "대화 이름"), input,
      element("button", { type: "submit" }, "저장"), cancel);
    const back = () => {
      delete li.dataset.editing;
      drawn.delete(chat.id);
      renderChats();
      focusItem(chat.id, "rename");
    };
    cancel.addEventListener("click", back);
    input.addEventListener("keydown", (event) => {
      if (event.key === "Escape") { event.preventDefault(); back(); }
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const title = input.value.trim();
      if (!title) { chatsSay("대화 이름을 입력해 주세요."); input.focus(); return; }
      let response;
      try {
        response = await sendJson("PATCH", `${API}/${enc(chat.id)}`, { title });
      } catch (_) {
        chatsSay("서버에 연결할 수 없어 이름을 바꾸지 못했어요.");
        return;
      }
      if (response.status === 404) { dropChat(chat.id); chatsSay("이 대화는 이미 지워졌어요."); return; }
      if (!response.ok) { chatsSay("이 이름으로 바꿀 수 없어요 (1-200자)."); input.focus(); return; }
      chat.title = title;
      if (chat.id === current.id) current.title = title;
      showTitle();
      back();
      chatsSay("대화 이름을 바꿨어요.");
    });
    li.dataset.editing = "true";
    li.replaceChildren(form);
    input.focus();
    input.select();
  };

  const deleteChat = async (chat) => {
    if (!confirm(`‘${chatName(chat)}’ 대화를 지울까요? 지운 대화는 되돌릴 수 없어요.`)) return;
    let response;
    try {
      response = await request(`${API}/${enc(chat.id)}`, { method: "DELETE" });
    } catch (_) {
      chatsSay("서버에 연결할 수 없어 대화를 지우지 못했어요.");
      return;
    }
    if (!response.ok && response.status !== 404) {
      chatsSay("대화를 지우지 못했어요. 잠시 후 다시 시도해 주세요.");
      return;
    }
    setPending(chat.id, null);
    dropChat(chat.id);
    if (chat.id === current.id) {
      // Its answer would have nowhere to go: do not let it spend a worker's time.
      for (const turn of current.turns) {
        if (turn.job && holding(turn)) cancelJob(turn.job).catch(() => {});
      }
      startNewChat();
    } else {
      els.message.focus();
    }
    chatsSay("대화를 지웠어요.");
  };

  // Narrow screens: the list opens above the chat from the header's button.
  const closeDrawer = () => {
    document.body.classList.remove("chats-open");
    els.toggleChats.setAttribute("aria-expanded", "false");
  };
  const toggleDrawer = () => {
    const open = !document.body.classList.contains("chats-open");
    document.body.classList.toggle("chats-open", open);
    els.toggleChats.setAttribute("aria-expanded", String(open));
    if (open) (els.chatList.querySelector(".open") || els.newChat).focus();
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
    if (left(turn)) return;
    if (turn.state === "done") setStatus(turn, "done");
    else setStatus(turn, null);
    els.status.dataset.state = turn.state;
    render(turn);
    controls();
    // The focused control (Stop, an option) may have just gone: give the keyboard a home.
    if (document.activeElement === document.body) els.message.focus();
  };

  // A turn of a conversation the person has left (another one, or 새 대화) must not touch
  // the one on the page.
  const left = (turn) => !current.turns.includes(turn);

  const titleFor = (question) => {
    const line = question.replace(/\s+/g, " ").trim();
    return line.length > 40 ? `${line.slice(0, 39)}…` : line;
  };

  const submitTurn = async (turn) => {
    turn.state = "sending";
    turn.notice = null;
    turn.error = null;
    setStatus(turn, "sending");
    render(turn);
    controls();
    // A new browser's first request issues its guest cookie: two at once would be two guests.
    await booting;
    let response;
    try {
      if (!turn.chat) {  // a new chat is created with its first message
        response = await sendJson("POST", API, { title: titleFor(turn.question) });
        if (response.ok) {
          const created = await response.json();
          turn.chat = created.id;
          touchChat({ ...created, preview: null, message_count: 0, last_message_at: null });
          if (!left(turn)) {
            current.id = created.id;
            current.title = created.title;
            remember(created.id);
            showTitle();
            renderChats();
          }
        }
      }
      if (turn.chat) {
        if (left(turn)) return;
        turn.after = lastMessage();
        const body = { message: turn.question };
        if (turn.photo) body.image_url = turn.photo.image_url;
        response = await sendJson("POST", `${API}/${enc(turn.chat)}/messages`, body);
      }
    } catch (error) {
      if (!(error instanceof Unreachable)) throw error;
      if (left(turn)) return;
      turn.state = "unsent";
      turn.notice = note(turn, "unreachable", "unreachable", "failure", "retry");
      finish(turn);
      return;
    }
    if (left(turn) && !response.ok) return;
    if (!response.ok) {
      const { kind } = await failureOf(response, turn.photo);
      fail(turn, kind, { state: "refused" });
      return;
    }
    const job = await response.json();
    turn.job = job.job_id;
    // Kept even if the person has left: opening the conversation again picks the turn up.
    setPending(turn.chat, turn);
    if (left(turn)) return;
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
    // The client builds the events URL itself; the guest cookie is the stream's access.
    const source = new EventSource(`${API}/${enc(turn.job)}/events`);
    const live = { source, seen: new Set(), worker: null };
    turn.live = live;
    // A queued chat that no worker takes is said so after N s; it keeps waiting all the same.
    live.worker = setTimeout(() => {
      if (turn.live !== live || turn.state !== "queued") return;
      turn.notice = note(turn, "no_worker", "noWorker", "warning", null, WORKER_WAIT_S);
      render(turn);
    }, WORKER_WAIT_S * 1000);
    for (const name of STREAM_EVENTS) {
      source.addEventListener(name, (message) => {
        if (turn.live !== live) return;
        // `error` is both the server's event (a MessageEvent) and the connection's trouble.
        if (!(message instanceof MessageEvent)) { connectionTrouble(turn, live); return; }
        // One frame may carry two events (needs_input, then done): the id and name are the key.
        const key = `${name} ${message.lastEventId}`;
        if (message.lastEventId && live.seen.has(key)) return;
        live.seen.add(key);
        let data;
        try { data = JSON.parse(message.data); } catch (_) { return; }
        onEvent(turn, name, data || {});
      });
    }
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

  const onEvent = (turn, name, data) => {
    switch (name) {
      case "queued":
        if (data.ahead > 0) setStatus(turn, "ahead", data.ahead);
        return;
      case "token": {
        started(turn);
        const stick = nearEnd();
        turn.answer += data.content || "";
        turn.view.answer.textContent = turn.answer;  // cheap: no full render per piece
        if (stick) toEnd();
        return;
      }
      case "token_recovery":  // the text so far, for a late or reconnected listener
        started(turn);
        turn.answer = data.accumulated || "";
        break;
      case "needs_input":
        turn.state = "waiting";
        turn.ask = {
          field: data.field, question: data.question, options: data.options || [],
          expires_at: data.expires_at,
        };
        setStatus(turn, "waiting");
        controls();
        break;
      case "done":
        if (turn.state === "waiting") asked(turn);
        else settle(turn, data.result || {});
        return;
      case "error":
        fail(turn, data.kind in FAILURES ? data.kind : "internal",
          { state: data.kind === "cancelled" ? "cancelled" : "error" });
        ended(turn);
        return;
      default:  // a stage
        started(turn);
        upsertStage(turn, data.stage || name, data.status || "started");
    }
    render(turn);
  };

  // A stage that runs twice in a turn (two lookups of one kind) is two entries, numbered; a
  // re-run ("attempt") starts over, keeping what the earlier attempt completed.
  const upsertStage = (turn, name, status) => {
    if (name === "attempt" && status === "started") {
      turn.attempt += 1;
      turn.answer = "";
      turn.stages = turn.stages.filter((stage) => stage.status === "completed");
    }
    const same = turn.stages.filter((stage) => stage.name === name);
    if (status === "started") {
      const earlier = same.find((stage) => stage.attempt < turn.attempt);
      if (earlier) {
        earlier.attempt = turn.attempt;
        earlier.status = status;
        return;
      }
    }
    if (status === "started" || !same.length) {
      const key = same.length ? `${name}#${same.length + 1}` : name;
      turn.stages.push({ key, name, stage: name, status, attempt: turn.attempt });
      return;
    }
    (same.find((stage) => stage.status === "started") || same.at(-1)).status = status;
  };

  // The conversation's newest page: what the turn that just ended stored (by its id in
  // `persistence`, else the newest reply not seen before).
  const syncTail = async (turn) => {
    let page = null;
    try {
      const response = await request(`${API}/${enc(turn.chat)}?limit=${HISTORY_PAGE}`);
      if (response.ok) page = await response.json();
    } catch (_) { /* the answer stands without its sources */ }
    if (!page || left(turn)) return [];
    const known = new Set(current.messages.map((message) => message.id));
    const fresh = page.messages.filter((message) => !known.has(message.id));
    current.messages.push(...fresh);
    return fresh;
  };

  // The answer is done: shown with what history stored for it (its text, its sources).
  const settle = async (turn, result) => {
    stopFollowing(turn);
    setPending(turn.chat, null);
    const fresh = await syncTail(turn);
    if (left(turn)) return;
    const wanted = result.persistence?.assistant_message;
    const reply = fresh.find((message) => message.id === wanted)
      || fresh.filter((message) => message.role === "assistant").at(-1);
    if (reply) {
      attachReply(turn, reply);
    } else if (!turn.answer && result.answer) {
      turn.answer = result.answer;
    }
    turn.state = "done";
    turn.notice = null;
    finish(turn);
    loadChats();
  };
  // A question back ended the job (its `done` carries the question): the form stays open.
  const asked = (turn) => {
    stopFollowing(turn);
    setPending(turn.chat, null);
    syncTail(turn);
    loadChats();
  };
  const ended = (turn) => {
    setPending(turn.chat, null);
    syncTail(turn);
    loadChats();
  };

  // The stream broke. EventSource retries by itself while it can (CONNECTING); once it gives
  // up (CLOSED: the gateway refused the stream) the conversation says how the turn ended.
  const connectionTrouble = (turn, live) => {
    if (live.source.readyState === EventSource.CONNECTING) {
      turn.notice = note(turn, "reconnecting", "reconnecting", "warning");
      render(turn);
      return;
    }
    stopFollowing(turn);
    checkTurn(turn);
  };

  const checkTurn = async (turn) => {
    let response;
    try {
      response = await request(`${API}/${enc(turn.chat)}?limit=${HISTORY_PAGE}`);
    } catch (_) {
      response = null;
    }
    if (left(turn)) return;
    if (!response || response.status >= 500) {  // the gateway (or its store) is away
      turn.state = "broken";
      turn.notice = note(turn, "unreachable", "unreachable", "failure", "follow");
      finish(turn);
      return;
    }
    setPending(turn.chat, null);
    if (response.status === 404) { fail(turn, "conversation_not_found"); return; }
    const page = response.ok ? await response.json() : { messages: [] };
    const known = new Set(current.messages.map((message) => message.id));
    const fresh = page.messages.filter((message) => !known.has(message.id));
    current.messages.push(...fresh);
    const reply = fresh.filter((message) => message.role === "assistant").at(-1);
    if (reply) {
      attachReply(turn, reply);
      turn.state = "done";
      turn.notice = null;
      finish(turn);
    } else if (fresh.length) {  // stored with no answer: the turn failed
      fail(turn, "failed");
    } else {
      turn.state = "ended";
      turn.notice = note(turn, "gone", "gone", "failure", "retry");
      finish(turn);
    }
  };

  const answerQuestion = async (turn, value) => {
    if (turn.state !== "waiting" || !turn.ask || turn.answering) return;
    turn.answering = true;  // one answer: a second click would only meet a 409
    setStatus(turn, "sending");
    const input = turn.ask.field === "district"
      ? { type: "location", data: { district: value } }
      : { type: "confirmation", data: { value } };
    let response;
    try {
      // The paused turn's job takes the answer; a question found in history (no job here)
      // is answered by the conversation's next message, which names what was asked.
      response = turn.job
        ? await sendJson("POST", `${API}/${enc(turn.job)}/input`, input)
        : await sendJson("POST", `${API}/${enc(turn.chat)}/messages`, { message: value });
    } catch (error) {
      if (!(error instanceof Unreachable)) throw error;
      turn.answering = false;
      turn.notice = note(turn, "unreachable", "unreachable", "failure");
      setStatus(turn, "waiting");
      render(turn);
      return;
    }
    turn.answering = false;
    if (left(turn)) return;
    if (response.status === 410) { fail(turn, "input_expired"); return; }
    if (response.status === 409) {
      turn.state = "ended";
      turn.notice = note(turn, "not_waiting", "notWaiting", "info");
      finish(turn);
      return;
    }
    if (!response.ok) {
      const { kind } = await failureOf(response, null);
      turn.notice = { kind, text: FAILURES[kind][index(turn)], action: null, tone: "failure" };
      setStatus(turn, "waiting");
      render(turn);
      return;
    }
    const job = await response.json();
    turn.answered = value;
    turn.ask = null;
    turn.notice = null;
    turn.job = job.job_id;
    turn.after = lastMessage();
    setPending(turn.chat, turn);
    follow(turn);
  };

  const retry = (turn) => {
    if (current.turns.some((other) => other !== turn && holding(other))) return;
    turn.answered = null;
    turn.ask = null;
    turn.job = null;
    turn.stages = [];
    turn.answer = "";
    turn.sources = [];
    submitTurn(turn);
  };

  const cancelJob = (job) => sendJson("POST", `${API}/${enc(job)}/input`, { type: "cancel" });

  const cancel = async () => {
    const turn = current.turns.find((t) => holding(t) && t.job);
    if (!turn) return;
    els.cancel.disabled = true;
    setStatus(turn, "stopping");
    if (turn.state === "waiting") {  // the job already ended with its question: just close it
      cancelJob(turn.job).catch(() => {});
      fail(turn, "cancelled", { state: "cancelled" });
      return;
    }
    try {
      const response = await cancelJob(turn.job);
      if (!response.ok) { stopFollowing(turn); checkTurn(turn); }
      // The stream's `error` (kind cancelled) ends the turn.
    } catch (_) {
      turn.notice = note(turn, "unreachable", "unreachable", "failure");
      els.cancel.disabled = false;
      render(turn);
    }
  };

  const startNewChat = () => {
    closeDrawer();
    if (!current.id && !current.turns.length) { els.message.focus(); return; }  // already one
    leave();
    opening += 1;  // an open still under way must not replace the new chat
    current = blank();
    remember(null);
    clearView();
    clearPhoto();
    els.message.value = "";
    showTitle();
    renderChats();
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
    closeQuestions();
    const turn = newTurn(question, photo);
    current.turns.push(turn);
    els.message.value = "";
    clearPhoto();
    submitTurn(turn);
  };

  // ---- start: the list first (a new browser gets its guest cookie from that one request,
  // before any other is sent), then the conversation that was open ----
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
  els.moreChats.addEventListener("click", async () => {
    els.moreChats.disabled = true;
    await loadChats(true);
    els.moreChats.disabled = false;
    els.chatList.querySelector("li:last-child .open")?.focus();
  });
  els.older.addEventListener("click", loadOlder);
  els.toggleChats.addEventListener("click", toggleDrawer);
  els.chats.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && document.body.classList.contains("chats-open")) {
      closeDrawer();
      els.toggleChats.focus();
    }
  });

  const start = async () => {
    controls();
    await loadChats();
    const id = remembered();
    if (id) await openChat(id, { focus: false });
    showTitle();
    controls();
    document.body.dataset.ready = "true";  // the list and the open conversation are shown
  };
  booting = start();
})();
