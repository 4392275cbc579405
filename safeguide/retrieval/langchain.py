"""The hybrid search as a LangChain retriever, for use in any LangChain app or chain:

    from safeguide.retrieval.langchain import GuidanceRetriever
    retriever = GuidanceRetriever.from_settings(k=4, authority="hampshire")
    docs = retriever.invoke("When must the initial child protection conference be held?")
    docs[0].metadata["citation"]   # "Hampshire 4.1.2", with edition, authority, page, score ...

Each ``Document`` is one paragraph; its metadata carries everything a citation needs.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from safeguide.retrieval.hybrid import Filters, HybridRetriever, SearchResult


def as_document(result: SearchResult) -> Document:
    meta = result.model_dump(exclude={"text"})
    return Document(page_content=result.text, metadata=meta, id=result.chunk_id)


class GuidanceRetriever(BaseRetriever):
    """Dense + BM25 search over the guidance index, fused by reciprocal rank, as a ``BaseRetriever``.
    `edition`, `authority` and `doc_id` filter the search (a search call's own ``filters`` override)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    search: HybridRetriever
    k: int = 4
    edition: str | None = None
    authority: str | None = None
    doc_id: str | None = None

    @classmethod
    def from_settings(cls, **kwargs: Any) -> GuidanceRetriever:
        """Over the index that `safeguide ingest` built (SAFEGUIDE_* settings, or their defaults)."""
        from safeguide.services import build_retriever
        from safeguide.settings import get_settings

        return cls(search=build_retriever(get_settings()), **kwargs)

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        filters: Filters | None = None,
    ) -> list[Document]:
        filters = filters or Filters(edition=self.edition, authority=self.authority, doc_id=self.doc_id)
        return [as_document(r) for r in self.search.search(query, k=k or self.k, filters=filters)]
