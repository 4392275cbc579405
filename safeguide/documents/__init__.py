"""Documents added and removed by an admin from the web page, checked before anything is written.

- `uploads.py`: an uploaded file is checked (its type read from its bytes, its size, whether it opens:
  encrypted or corrupt PDFs, files with no text, a duplicate of a document held) and parsed in a private
  folder first; only a document that would ingest is put in the corpus folder, manifest first, so an
  ingest never sees a document without one. Removing one moves it and its manifest aside.
- `jobs.py`: the ingest that follows runs in the background, one at a time, with its progress; the
  index it builds replaces the serving one only when complete (ingest's own build-aside-then-switch).
"""

from safeguide.documents.jobs import IngestJobs, Job
from safeguide.documents.uploads import DuplicateDocument, UploadTooLarge, remove_document, stage_upload

__all__ = ["DuplicateDocument", "IngestJobs", "Job", "UploadTooLarge", "remove_document", "stage_upload"]
