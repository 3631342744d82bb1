// The chat page's words: stage names, statuses, source kinds, its messages and failures, in
// Korean and English (the question's language picks one).
// The server's rule (app/domain/language.py): Korean when Hangul is a quarter of the letters.
export const language = (text) => {
  const hangul = (text.match(/[\uac00-\ud7a3\u3131-\u318e]/g) || []).length;
  const latin = (text.match(/[A-Za-z]/g) || []).length;
  return hangul && hangul * 3 >= latin ? "ko" : "en";
};

// Stage names a person understands; unknown stages get a neutral name, never the node id.
export const STAGES = {
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
  aggregator: ["찾은 내용 모으기", "Putting the findings together"],
  answer: ["답변 쓰기", "Writing the answer"],
  summarize: ["대화 정리하기", "Summarising the conversation"],
};
export const OTHER_STAGE = ["처리하기", "Working"];
export const STATUS_WORDS = {
  started: ["진행 중", "in progress"],
  completed: ["완료", "done"],
  failed: ["실패", "failed"],
  waiting: ["답을 기다리는 중", "waiting for you"],
};
export const SOURCE_KINDS = {
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
export const TEXT = {
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
    noAnswer: "이 질문에는 저장된 답이 없어요.",
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
    noAnswer: "This question has no stored answer.",
  },
};
// Failure kinds (an `error` event's, or an HTTP error body's): [ko, en, what helps].
export const FAILURES = {
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
  conversation_not_found: ["이 대화는 지워졌거나 찾을 수 없어요. 새 대화를 시작해 주세요.",
    "This chat was deleted or cannot be found. Please start a new one.", "new"],
  store_down: ["대화 기록을 저장할 수 없어 보내지 않았어요. 잠시 후 다시 시도해 주세요.",
    "Chats cannot be saved right now, so nothing was sent. Try again shortly.", "retry"],
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
