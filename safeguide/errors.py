"""Typed errors, translated to 4xx responses by the API and to one-line messages by the CLI.

    SafeguideError
    ├── CorpusError              the corpus on disk is not usable as it stands
    │   ├── MissingManifest      a document has no manifest entry
    │   ├── InvalidManifest      a manifest entry is incomplete or contradicts another
    │   └── UnsupportedDocument  empty, binary, encrypted, corrupt or of an unknown format
    ├── IndexNotReady            no index has been built yet (run `safeguide ingest`)
    ├── StoreUnavailable         a storage server (the Chroma server) is not answering
    ├── InvalidQuery             empty, too long, k out of range, unknown filter value
    └── ModelUnavailable         the packaged embedding model cannot be loaded

Every message says what is wrong and what the user can do about it.
"""

from __future__ import annotations


class SafeguideError(Exception):
    """Base class for errors a user can act on. `notices` travel with the error to the user: the 999
    notice, when danger was found before the error, is never lost to it."""

    def __init__(self, *args: object, notices: list[str] | None = None) -> None:
        super().__init__(*args)
        self.notices: list[str] = list(notices or [])


class CorpusError(SafeguideError):
    pass


class MissingManifest(CorpusError):
    pass


class InvalidManifest(CorpusError):
    pass


class UnsupportedDocument(CorpusError):
    pass


class IndexNotReady(SafeguideError):
    pass


class StoreUnavailable(SafeguideError):
    pass


class InvalidQuery(SafeguideError):
    pass


class ModelUnavailable(SafeguideError):
    pass
