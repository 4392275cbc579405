"""Chat routes: ask (plain and streamed), conversations, feedback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.deps import ChainDep, ConversationsDep
from safeguide.chat.answers import Answer
from safeguide.chat.chain import AnswerChain
from safeguide.chat.conversations import ConversationStore
from safeguide.chat.pipeline import stream_answer
from safeguide.errors import InvalidQuery, SafeguideError
from safeguide.timescales.rules import parse_iso_date

router = APIRouter(tags=["chat"])


class AskRequest(BaseModel):
    question: str
    edition: str | None = None
    authority: str | None = None
    today: str | None = None
    conversation_id: str | None = None


class FeedbackRequest(BaseModel):
    conversation_id: str
    message_index: int = Field(ge=0)
    rating: str
    comment: str = ""


def _args(body: AskRequest, store: ConversationStore, chain: AnswerChain) -> tuple[str, dict[str, Any]]:
    try:
        today = parse_iso_date(body.today, "today") if body.today else date.today()
        conversation = store.ensure(body.conversation_id)
        history = store.history(conversation)
    except SafeguideError as exc:
        # Refused before the question's own checks (or the database is not answering): danger is still
        # looked for, and the notice kept.
        exc.notices = chain.safety().danger_notices(body.question) + exc.notices
        raise
    return conversation, {
        "edition": body.edition or None,
        "authority": body.authority or None,
        "today": today,
        "history": history,
    }


def _record(store: ConversationStore, conversation: str, answer: Answer) -> dict[str, Any]:
    meta = {
        "citations": [s.public() for s in answer.citations],
        "timescales": answer.timescales,
        "notices": answer.notices,
        "refused": answer.refused,
        "mode": answer.mode,
    }
    try:
        index = store.add_exchange(conversation, answer.question, answer.answer, meta)
    except SafeguideError as exc:  # not stored (the database stopped answering): the notices still go out
        exc.notices = answer.notices + [n for n in exc.notices if n not in answer.notices]
        raise
    return {
        **answer.public(),
        "question": answer.question,  # as stored: personal details replaced
        "conversation_id": conversation,
        "message_index": index,
    }


@router.post("/api/ask")
def ask(body: AskRequest, chain: ChainDep, store: ConversationsDep) -> dict[str, Any]:
    conversation, kwargs = _args(body, store, chain)
    return _record(store, conversation, chain.answer(body.question, **kwargs))


def _event(event: str, data: Any) -> ServerSentEvent:
    return ServerSentEvent(data=json.dumps(data, ensure_ascii=False), event=event, sep="\n")


@router.post("/api/ask/stream")
def ask_stream(body: AskRequest, chain: ChainDep, store: ConversationsDep) -> EventSourceResponse:
    """Server-sent events: `checked` first (the question as stored, and the 999 notice), `sources`, then
    `token`s of the draft, then `answer` (the verified answer, which replaces the draft). Bad input is an
    `error` event with the reason, never a stack trace."""
    conversation, kwargs = _args(body, store, chain)

    def events() -> Iterator[ServerSentEvent]:
        for kind, value in stream_answer(chain, body.question, **kwargs):
            if kind == "checked":
                # Before anything slow: the 999 notice, and the question as it will be stored.
                yield _event("checked", {"question": value.text, "notices": value.notices})
            elif kind == "sources":
                yield _event(
                    "sources", {"conversation_id": conversation, "citations": [s.public() for s in value]}
                )
            elif kind == "token":
                yield _event("token", value)
            elif kind == "answer":
                try:
                    yield _event("answer", _record(store, conversation, value))
                except SafeguideError as exc:
                    yield _event("error", {"detail": str(exc), "notices": exc.notices})
            else:
                typed = isinstance(value, SafeguideError)
                message = str(value) if typed else "Something went wrong on the server."
                yield _event("error", {"detail": message, "notices": value.notices if typed else []})

    # sse-starlette writes the events (and the keep-alive pings of a long answer); "\n" line ends, as the
    # web page reads them.
    return EventSourceResponse(
        events(), sep="\n", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )


@router.get("/api/conversations/{conversation_id}")
def conversation(conversation_id: str, store: ConversationsDep) -> dict[str, Any]:
    return store.get(conversation_id)


@router.post("/api/feedback")
def feedback(body: FeedbackRequest, store: ConversationsDep) -> dict[str, str]:
    if body.rating not in ("up", "down"):
        raise InvalidQuery("rating must be 'up' or 'down'")
    store.add_feedback(body.conversation_id, body.message_index, body.rating, body.comment)
    return {"status": "recorded"}
