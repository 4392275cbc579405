"""Quizzes in the product database (`safeguide.database`): a quiz is its request (scope + seed) and its
reviewed questions.

Each change is one transaction: an edit that fails its checks leaves the stored quiz as it was.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import delete, insert, select, update

from safeguide.database import Database
from safeguide.database.tables import quizzes
from safeguide.errors import SafeguideError
from safeguide.quiz.questions import Question, QuizRequest


class UnknownQuiz(SafeguideError):
    """No quiz (or no question in it) has that id."""


class StoredQuiz(BaseModel):
    quiz_id: str
    created: str
    updated: str
    seed: int
    request: QuizRequest
    questions: list[Question]

    def question(self, qid: str) -> int:
        for i, q in enumerate(self.questions):
            if q.id == qid:
                return i
        raise UnknownQuiz(f"quiz {self.quiz_id} has no question {qid!r}")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class QuizStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, request: QuizRequest, seed: int, questions: list[Question]) -> StoredQuiz:
        now = _now()
        quiz = StoredQuiz(
            quiz_id=uuid.uuid4().hex,
            created=now,
            updated=now,
            seed=seed,
            request=request,
            questions=questions,
        )
        with self._db.write() as conn:
            conn.execute(
                insert(quizzes).values(
                    id=quiz.quiz_id,
                    created=now,
                    updated=now,
                    request=request.model_dump_json(),
                    seed=seed,
                    questions=_dump(questions),
                )
            )
        return quiz

    def get(self, quiz_id: str) -> StoredQuiz:
        q = quizzes.c
        with self._db.read() as conn:
            row = conn.execute(
                select(q.id, q.created, q.updated, q.request, q.seed, q.questions).where(q.id == quiz_id)
            ).first()
        if row is None:
            raise UnknownQuiz(f"no quiz {quiz_id!r}")
        return StoredQuiz(
            quiz_id=row[0],
            created=row[1],
            updated=row[2],
            request=QuizRequest.model_validate_json(row[3]),
            seed=row[4],
            questions=[Question.model_validate(q) for q in json.loads(row[5])],
        )

    def save_questions(self, quiz_id: str, questions: list[Question]) -> None:
        with self._db.write() as conn:
            done = conn.execute(
                update(quizzes)
                .where(quizzes.c.id == quiz_id)
                .values(questions=_dump(questions), updated=_now())
            )
            if done.rowcount != 1:
                raise UnknownQuiz(f"no quiz {quiz_id!r}")

    def delete(self, quiz_id: str) -> None:
        with self._db.write() as conn:
            if conn.execute(delete(quizzes).where(quizzes.c.id == quiz_id)).rowcount != 1:
                raise UnknownQuiz(f"no quiz {quiz_id!r}")


def _dump(questions: list[Question]) -> str:
    return json.dumps([q.model_dump() for q in questions], ensure_ascii=False)
