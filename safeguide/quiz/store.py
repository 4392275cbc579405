"""Quizzes in SQLite: a quiz is its request (scope + seed) and its reviewed questions.

Each change is one transaction: an edit that fails its checks leaves the stored quiz as it was.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from safeguide.errors import SafeguideError
from safeguide.files import open_database
from safeguide.quiz.questions import Question, QuizRequest

SCHEMA = """
CREATE TABLE IF NOT EXISTS quizzes (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    request TEXT NOT NULL,
    seed INTEGER NOT NULL,
    questions TEXT NOT NULL
);
"""


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
    def __init__(self, path: Path) -> None:
        self._db = open_database(path, SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

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
        with self._lock:
            self._db.execute(
                "INSERT INTO quizzes (id, created, updated, request, seed, questions) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (quiz.quiz_id, now, now, request.model_dump_json(), seed, _dump(questions)),
            )
        return quiz

    def get(self, quiz_id: str) -> StoredQuiz:
        with self._lock:
            row = self._db.execute(
                "SELECT id, created, updated, request, seed, questions FROM quizzes WHERE id = ?", (quiz_id,)
            ).fetchone()
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
        with self._lock:
            done = self._db.execute(
                "UPDATE quizzes SET questions = ?, updated = ? WHERE id = ?",
                (_dump(questions), _now(), quiz_id),
            )
        if done.rowcount != 1:
            raise UnknownQuiz(f"no quiz {quiz_id!r}")

    def delete(self, quiz_id: str) -> None:
        with self._lock:
            done = self._db.execute("DELETE FROM quizzes WHERE id = ?", (quiz_id,))
        if done.rowcount != 1:
            raise UnknownQuiz(f"no quiz {quiz_id!r}")


def _dump(questions: list[Question]) -> str:
    return json.dumps([q.model_dump() for q in questions], ensure_ascii=False)
