"""Quiz builder API: build, review (edit, drop, regenerate) and export quizzes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.deps import QuizBuilderDep, QuizStoreDep
from api.security import audit
from safeguide.quiz.export import FORMATS, export_quiz
from safeguide.quiz.questions import Question, QuizError, QuizRequest, check_question
from safeguide.quiz.store import StoredQuiz
from safeguide.safety import redact

router = APIRouter(prefix="/api/quiz", tags=["quiz"])


class QuestionEdit(BaseModel):
    stem: str | None = Field(default=None, max_length=1000)
    options: list[str] | None = Field(default=None, min_length=2, max_length=8)
    answer_index: int | None = Field(default=None, ge=0)
    feedback: list[str] | None = Field(default=None, max_length=8)


def _public(quiz: StoredQuiz, report: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "quiz_id": quiz.quiz_id,
        "seed": quiz.seed,
        "request": quiz.request.model_dump(),
        "questions": [q.model_dump() for q in quiz.questions],
        "updated": quiz.updated,
    }
    if report is not None:
        out["report"] = report
    return out


@router.post("")
def create_quiz(
    body: QuizRequest, builder: QuizBuilderDep, store: QuizStoreDep, request: Request
) -> dict[str, Any]:
    # Quizzes are stored: personal details typed into the topic are removed first, as in the chat.
    topic = redact(body.topic)[0] if body.topic else body.topic
    questions, report = builder.build(body.model_copy(update={"topic": topic}))
    req = body.model_copy(update={"seed": report.seed, "topic": topic})
    quiz = store.create(req, report.seed, questions)
    audit(request, "quiz.create", quiz.quiz_id, questions=len(questions), seed=report.seed)
    return _public(quiz, report.__dict__)


@router.get("/{quiz_id}")
def get_quiz(quiz_id: str, store: QuizStoreDep) -> dict[str, Any]:
    return _public(store.get(quiz_id))


@router.delete("/{quiz_id}")
def delete_quiz(quiz_id: str, store: QuizStoreDep, request: Request) -> dict[str, Any]:
    store.delete(quiz_id)
    audit(request, "quiz.delete", quiz_id)
    return {"deleted": quiz_id}


@router.put("/{quiz_id}/questions/{question_id}")
def edit_question(
    quiz_id: str, question_id: str, body: QuestionEdit, store: QuizStoreDep, request: Request
) -> dict[str, Any]:
    """Edit a question; the edit must still pass every check (one right answer, backed by its source)."""
    quiz = store.get(quiz_id)
    i = quiz.question(question_id)
    old = quiz.questions[i]
    options = body.options if body.options is not None else old.options
    answer = body.answer_index if body.answer_index is not None else old.answer_index
    feedback = body.feedback
    if feedback is None:
        kept = dict(zip(old.options, old.feedback, strict=True))
        feedback = [
            kept.get(o) or ("Right." if k == answer else "Not this one.") for k, o in enumerate(options)
        ]
    edited = old.model_copy(
        update={  # what a trainer types is stored: personal details are removed first
            "stem": redact(body.stem)[0] if body.stem is not None else old.stem,
            "options": [redact(o.strip())[0] for o in options],
            "answer_index": answer,
            "feedback": [redact(f)[0] for f in feedback],
            "reworded": old.reworded or body.stem is not None,
        }
    )
    problems = check_question(Question.model_validate(edited.model_dump()))
    if problems:
        raise QuizError("the edited question cannot be kept: " + "; ".join(problems))
    questions = list(quiz.questions)
    questions[i] = edited
    store.save_questions(quiz_id, questions)
    audit(request, "quiz.edit", f"{quiz_id}/{question_id}", fields=sorted(body.model_dump(exclude_none=True)))
    return edited.model_dump()


@router.delete("/{quiz_id}/questions/{question_id}")
def drop_question(quiz_id: str, question_id: str, store: QuizStoreDep, request: Request) -> dict[str, Any]:
    quiz = store.get(quiz_id)
    i = quiz.question(question_id)
    questions = quiz.questions[:i] + quiz.questions[i + 1 :]
    store.save_questions(quiz_id, questions)
    audit(request, "quiz.drop", f"{quiz_id}/{question_id}")
    return {"quiz_id": quiz_id, "questions": len(questions)}


@router.post("/{quiz_id}/questions/{question_id}/regenerate")
def regenerate_question(
    quiz_id: str, question_id: str, builder: QuizBuilderDep, store: QuizStoreDep, request: Request
) -> dict[str, Any]:
    """Replace a question with another from the same scope, different from every question in the quiz."""
    quiz = store.get(quiz_id)
    i = quiz.question(question_id)
    fresh = builder.regenerate(quiz.request, quiz.questions, seed=quiz.seed + 7919 * (i + 1))
    questions = list(quiz.questions)
    questions[i] = fresh
    store.save_questions(quiz_id, questions)
    audit(request, "quiz.regenerate", f"{quiz_id}/{question_id}", new=fresh.id)
    return fresh.model_dump()


@router.get("/{quiz_id}/export")
def export(
    quiz_id: str,
    store: QuizStoreDep,
    format: Annotated[str, Query(pattern="^(" + "|".join(FORMATS) + ")$")] = "gift",
) -> Response:
    quiz = store.get(quiz_id)
    if not quiz.questions:
        raise QuizError("the quiz has no questions left to export")
    data, media, ext = export_quiz(f"safeguide quiz {quiz_id[:8]}", quiz.questions, format)
    return Response(
        data,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="quiz-{quiz_id[:8]}.{ext}"'},
    )
