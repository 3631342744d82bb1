"""The eco2 client's API (`/api/v1`, ../shared/CLIENT_API.md): conversations, messages, the
stream with the client's event names, answers to questions back. Wiring only: the store, the
intake and the stream are the application's; this module speaks the client's names.

Who calls: an API key (Bearer / X-API-Key) where one is sent, else the browser's guest cookie,
else (where the deployment allows anonymous use) a new guest whose cookie the response sets.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sse_starlette import EventSourceResponse

from app.application.access.authenticator import Authenticator
from app.application.access.guests import GuestIdentities
from app.application.access.intake import ChatIntake
from app.application.ports.conversations import ConversationStore
from app.application.ports.jobs import ChatJobsPort
from app.domain.access import Principal
from app.domain.conversations import PAGE_MAX
from app.domain.errors import Unauthorized
from app.entrypoints.gateway import client_stream
from app.entrypoints.gateway.browsers import GUEST_COOKIE
from app.entrypoints.gateway.client_schemas import (
    ChatCreated,
    ChatDetail,
    ChatList,
    ChatSummary,
    InputReceived,
    InputSent,
    MessageQueued,
    NewChat,
    Rename,
    SendMessage,
)
from app.entrypoints.gateway.routes import _check_image, errors

router = APIRouter(prefix="/api/v1", tags=["eco2 client"])
JOB_ID = r"^[0-9a-f]{32}$"
BEARER = HTTPBearer(auto_error=False, description="an API key: `eco2_...`")
API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, description="an API key: `eco2_...`")


async def browser(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
    api_key: Annotated[str | None, Depends(API_KEY)],
) -> Principal:
    """The caller: a key's principal, the cookie's guest, or a new guest (its cookie is set on
    the response by `GuestCookie`). A guest is never answered 401: the client would log out."""
    authenticator: Authenticator = request.app.state.authenticator
    presented = bearer.credentials if bearer else api_key
    if presented:
        caller = await authenticator.principal(presented)
    elif not authenticator.allows_anonymous:
        raise Unauthorized("an API key is required (Authorization: Bearer eco2_...)")
    else:
        guests: GuestIdentities = request.app.state.guests
        found = guests.read(request.cookies.get(GUEST_COOKIE))
        if found is None:
            # A client that drops its cookie gets a new guest each time: each new guest counts
            # against its address, so dropping cookies does not escape the rate limit.
            intake: ChatIntake = request.app.state.intake
            await intake.admit_guest(_client_address(request))
            found, cookie = guests.issue()
            request.state.guest_cookie = cookie
        caller = found
    request.state.principal = caller  # for the access log
    return caller


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


Caller = Annotated[Principal, Depends(browser)]


def store(request: Request) -> ConversationStore:
    conversations: ConversationStore = request.app.state.conversations
    return conversations


Store = Annotated[ConversationStore, Depends(store)]


def _chat_id(chat_id: str) -> str:
    if len(chat_id) > 128:
        raise HTTPException(status_code=404, detail="no such conversation")
    return chat_id


@router.get("/chat", response_model=ChatList, responses=errors(401, 422, 429, 503))
async def list_chats(
    caller: Caller,
    conversations: Store,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 20,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> ChatList:
    """The caller's conversations, most recent activity first."""
    page = await conversations.list(caller.id, limit, cursor or None)
    return ChatList(
        chats=[ChatSummary.of(c) for c in page.conversations], next_cursor=page.next_cursor
    )


@router.post(
    "/chat", status_code=201, response_model=ChatCreated, responses=errors(401, 422, 429, 503)
)
async def create_chat(request: Request, caller: Caller, conversations: Store) -> ChatCreated:
    """A new, empty conversation. The client sends no body (and no Content-Type)."""
    body = await request.body()
    title = NewChat.model_validate_json(body).title if body.strip() else None
    created = await conversations.create(caller.id, title)
    return ChatCreated(id=created.id, title=created.title, created_at=created.created_at)


@router.get("/chat/{chat_id}", response_model=ChatDetail, responses=errors(401, 404, 422, 503))
async def chat_detail(
    chat_id: str,
    caller: Caller,
    conversations: Store,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 20,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> ChatDetail:
    """A conversation and a page of its messages (oldest first); `next_cursor` goes back."""
    page = await conversations.history(caller.id, _chat_id(chat_id), limit, cursor or None)
    return ChatDetail.of(page)


@router.patch(
    "/chat/{chat_id}",
    status_code=204,
    response_class=Response,
    responses=errors(400, 401, 404, 422, 503),
)
async def rename_chat(chat_id: str, body: Rename, caller: Caller, conversations: Store) -> None:
    await conversations.rename(caller.id, _chat_id(chat_id), body.title)


@router.delete(
    "/chat/{chat_id}", status_code=204, response_class=Response, responses=errors(401, 404, 503)
)
async def delete_chat(chat_id: str, caller: Caller, conversations: Store) -> None:
    """Soft delete: gone from lists and details; a second delete is 404."""
    await conversations.delete(caller.id, _chat_id(chat_id))


@router.post(
    "/chat/{chat_id}/messages",
    status_code=202,
    response_model=MessageQueued,
    responses=errors(400, 401, 404, 413, 422, 429, 503),
)
async def send_message(
    chat_id: str, body: SendMessage, request: Request, caller: Caller
) -> MessageQueued:
    """The conversation's next turn (earlier turns are its memory; turns run in order)."""
    draft = body.draft()
    if draft.image_url is not None:
        await _check_image(request, draft.image_url, caller)
    intake: ChatIntake = request.app.state.intake
    ticket = await intake.send(caller, _chat_id(chat_id), draft)
    return MessageQueued(job_id=ticket.job_id, stream_url=f"/api/v1/chat/{ticket.job_id}/events")


@router.get(
    "/chat/{job_id}/events",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "SSE frames named after stages, `token`, `token_recovery`, "
            "`needs_input`, `done`, `error`, `keepalive` (CLIENT_API.md)",
            "content": {"text/event-stream": {}},
        },
        **errors(401, 404, 422, 503),
    },
)
async def chat_events(
    request: Request,
    job_id: str,
    caller: Caller,
    last_event_id: Annotated[
        str | None, Header(max_length=64, description="the `id` of the last frame received")
    ] = None,
) -> EventSourceResponse:
    """The turn's progress for the job's owner (by cookie or key; no token)."""
    if not _is_job(job_id):
        raise HTTPException(status_code=404, detail="no such chat (or it expired)")
    intake: ChatIntake = request.app.state.intake
    await intake.conversation_of(caller, job_id)
    jobs: ChatJobsPort = request.app.state.jobs
    return await client_stream.response(request, jobs, job_id, last_event_id)


@router.post(
    "/chat/{job_id}/input",
    status_code=202,
    response_model=InputReceived,
    responses=errors(400, 401, 404, 409, 410, 422, 429, 503),
)
async def chat_input(
    job_id: str, body: InputSent, request: Request, caller: Caller
) -> InputReceived:
    """Answer a question the turn asked back (`needs_input`): a district as
    `{"type": "location", "data": {"district": "마포구"}}`, or `cancel`."""
    if not _is_job(job_id):
        raise HTTPException(status_code=404, detail="no such chat (or it expired)")
    intake: ChatIntake = request.app.state.intake
    if body.type == "cancel":
        await intake.conversation_of(caller, job_id)
        jobs: ChatJobsPort = request.app.state.jobs
        await jobs.cancel(job_id)
        return InputReceived(job_id=job_id)
    ticket = await intake.answer_in_conversation(caller, job_id, _answer_text(body))
    return InputReceived(job_id=ticket.job_id)


def _is_job(job_id: str) -> bool:
    return len(job_id) == 32 and all(c in "0123456789abcdef" for c in job_id)


def _answer_text(body: InputSent) -> str:
    """The answer as the paused turn takes it: a district's name, or the confirmed value."""
    data = body.data or {}
    value = data.get("district") if body.type == "location" else data.get("value", "예")
    if body.type == "location" and value is None and {"latitude", "longitude"} <= data.keys():
        raise HTTPException(
            status_code=422,
            detail='this deployment takes the district by name: send {"district": "마포구"}',
        )
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise HTTPException(
            status_code=422, detail="data must name the answer (a district: 1-200 characters)"
        )
    return value.strip()
