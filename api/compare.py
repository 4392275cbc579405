"""Edition comparison: GET /api/compare and GET /api/compare/export."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import ComparerDep
from safeguide.compare import export

router = APIRouter(prefix="/api/compare", tags=["compare"])

From = Annotated[str, Query(alias="from", max_length=20, description="The older edition, e.g. 2010.")]
To = Annotated[str, Query(alias="to", max_length=20, description="The newer edition, e.g. 2018.")]
Topic = Annotated[
    str | None, Query(max_length=200, description="Only changes about this, e.g. child deaths.")
]
Summaries = Annotated[
    Literal["source", "model"],
    Query(description="source: quoted from the passages (fast); model: written by the model, then checked."),
]
Authority = Annotated[
    str | None, Query(max_length=60, description="Whose documents: national (default) or an area.")
]


@router.get("")
def compare(
    comparer: ComparerDep,
    from_edition: From = "2010",
    to_edition: To = "2018",
    topic: Topic = None,
    authority: Authority = None,
    summaries: Summaries = "source",
) -> dict[str, Any]:
    return comparer.compare(from_edition, to_edition, topic, authority, summaries).public()


@router.get("/export")
def compare_export(
    comparer: ComparerDep,
    from_edition: From = "2010",
    to_edition: To = "2018",
    topic: Topic = None,
    authority: Authority = None,
    format: Annotated[str, Query(pattern="^(md|csv|html)$", description="md, csv or html")] = "md",
    summaries: Summaries = "source",
) -> Response:
    comparison = comparer.compare(from_edition, to_edition, topic, authority, summaries)
    text, media = export(comparison, format)
    name = f"changes-{from_edition}-{to_edition}.{format}"
    return Response(text, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})
