"""Finding the paragraphs a question is about.

- ``hybrid``: dense (MiniLM) and BM25 search over the index, fused by reciprocal rank, with filters by
  edition, authority and document;
- ``citations``: a paragraph found again by its citation label ("WT 2018 ch. 1 para 12").
"""
