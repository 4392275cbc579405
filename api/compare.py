"""Edition comparison: GET /api/compare and GET /api/compare/export."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from api.deps import ComparerDep
from safeguide.compare.changes import Comparison
from safeguide.compare.export import export

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


def comparison(
    comparer: ComparerDep,
    from_edition: From = "2010",
    to_edition: To = "2018",
    topic: Topic = None,
    authority: Authority = None,
    summaries: Summaries = "source",
) -> Comparison:
    """The comparison the query asks for; both routes take the same query parameters."""
    return comparer.compare(from_edition, to_edition, topic, authority, summaries)


ComparisonDep = Annotated[Comparison, Depends(comparison)]


@router.get("")
def compare(result: ComparisonDep) -> dict[str, Any]:
    return result.public()


@router.get("/export")
def compare_export(
    result: ComparisonDep,
    format: Annotated[str, Query(pattern="^(md|csv|html)$", description="md, csv or html")] = "md",
) -> Response:
    text, media = export(result, format)
    name = f"changes-{result.from_edition}-{result.to_edition}.{format}"
    return Response(text, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})
