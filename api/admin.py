"""Admin routes: the audit trail and the feedback export for review (both need the admin role)."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api.deps import ConversationsDep
from api.security import require

router = APIRouter(prefix="/api", tags=["admin"], dependencies=[Depends(require("admin"))])


@router.get("/audit")
def audit_trail(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
    action: Annotated[str | None, Query(max_length=40)] = None,
) -> dict[str, Any]:
    """The newest changes first: who, their role, from where, what and to which target."""
    return {"entries": request.app.state.audit.entries(limit, action)}


@router.get("/feedback/export")
def feedback_export(
    store: ConversationsDep, format: Annotated[str, Query(pattern="^(csv|json)$")] = "csv"
) -> Any:
    """Every rating with its comment and the (redacted) question and answer it rates."""
    rows = store.feedback_export()
    if format == "json":
        return {"feedback": rows}
    out = io.StringIO()
    fields = ["created", "conversation_id", "message_index", "rating", "comment", "question", "answer"]
    writer = csv.DictWriter(out, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="safeguide-feedback.csv"'},
    )
