"""The API's edge: who may call what (sign-in and roles), security headers, rate limits, CORS.

Routes declare the role they need with `Depends(require(ROLE))` (router-wide or per route):
practitioner (ask, search, deadlines, comparison; anonymous where the deployment allows it), trainer
(quizzes) and admin (rule review). A missing or bad token is a 401, the wrong role a 403.

Every response carries a Content-Security-Policy with no inline script or style (the pages load their
scripts and styles from /static only), nosniff, frame denial and no referrer. Each client (its address)
may make `rate_limit_per_minute` requests to /api/ in any minute; past that, a 429 with Retry-After.
With the records on PostgreSQL the count is kept there, per clock minute, shared by every worker (and
every app machine); otherwise it is kept per worker process (a sliding minute), so with N workers a client
may make up to N times as many. If PostgreSQL does not answer, each worker falls back to its own count.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import anyio
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from safeguide.access import Access, OidcVerifier, Principal, UserStore
from safeguide.access.oidc import SignInUnavailable, parse_role_map
from safeguide.errors import StoreUnavailable
from safeguide.settings import Settings

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src {connect}; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""


def token_origin(settings: Settings) -> str:
    """Where the page may send the sign-in code to be exchanged for tokens (browser sign-in only): the
    configured token endpoint's origin, else the issuer's (Entra's token endpoint is on the issuer's)."""
    if settings.auth != "oidc" or not settings.oidc_client_id:
        return ""
    return origin(settings.oidc_token_url or settings.oidc_issuer)


def content_security_policy(settings: Settings) -> str:
    """No inline script or style; the page fetches from itself only, and from the sign-in provider's
    token endpoint when the page signs users in itself."""
    return CSP.format(connect=" ".join(filter(None, ("'self'", token_origin(settings)))))


def build_access(settings: Settings, users: UserStore) -> Access:
    if settings.auth == "oidc":
        verifier = OidcVerifier(
            settings.oidc_issuer,
            settings.oidc_audience,
            parse_role_map(settings.oidc_roles),
            jwks_url=settings.oidc_jwks_url,
            role_claim=settings.oidc_role_claim,
            default_role=settings.oidc_default_role,
        )
        return Access(verifier, settings.anonymous_ask)
    return Access(users.verify, settings.anonymous_ask)


def require(role: str) -> Callable[[Request], Principal | None]:
    """A dependency: the signed-in principal allowed to act as `role` (None: an anonymous practitioner)."""

    def dependency(request: Request) -> Principal | None:
        access: Access = request.app.state.access
        principal = access.require(request.headers.get("authorization"), role)
        request.state.principal = principal
        return principal

    dependency.__name__ = f"require_{role}"
    return dependency


class SecurityHeaders:
    """Adds the CSP and HEADERS to every HTTP response (pages, API, static files, errors)."""

    def __init__(self, app: ASGIApp, csp: str = CSP.format(connect="'self'")) -> None:
        self.app = app
        self.headers = [(b"content-security-policy", csp.encode()), *HEADERS]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    h for h in self.headers if h[0] not in names
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


class RateLimit:
    """At most `per_minute` requests to /api/ from one client address in any 60 seconds (a sliding
    window of request times per client, in this process)."""

    def __init__(
        self,
        app: ASGIApp,
        per_minute: int,
        clock: Callable[[], float] = time.monotonic,
        shared: Callable[[], Any] | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.per_minute = per_minute
        self.clock = clock
        # The database whose `count_request` every worker shares (None: this process counts alone).
        self.shared = shared
        self.wall_clock = wall_clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _wait(self, client: str) -> float:
        """0 if the request may go ahead (and it is counted), else the seconds until it may."""
        now = self.clock()
        with self._lock:
            times = self._seen.setdefault(client, deque())
            while times and now - times[0] >= 60:
                times.popleft()
            if len(times) >= self.per_minute:
                return 60 - (now - times[0])
            times.append(now)
            if len(self._seen) > 10_000:  # forget clients quiet for a minute
                for key in [k for k, v in self._seen.items() if not v or now - v[-1] >= 60]:
                    del self._seen[key]
            return 0.0

    def _shared_wait(self, db: Any, client: str) -> float:
        now = self.wall_clock()
        minute = int(now // 60)
        if db.count_request(client, minute) <= self.per_minute:
            return 0.0
        return max(1.0, (minute + 1) * 60 - now)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.per_minute or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        db = self.shared() if self.shared is not None else None
        if db is not None:
            try:
                wait = await anyio.to_thread.run_sync(self._shared_wait, db, client)
            except StoreUnavailable:
                wait = self._wait(client)  # PostgreSQL not answering: this worker's own count
        else:
            wait = self._wait(client)
        if not wait:
            await self.app(scope, receive, send)
            return
        body = (
            b'{"error":"TooManyRequests","detail":"too many requests from this address: '
            b'wait a minute and try again"}'
        )
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"retry-after", str(math.ceil(wait)).encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def secure(app: FastAPI, settings: Settings) -> None:
    """The middleware, outermost first: headers on everything (429s too), then CORS, then the limit."""

    def shared_counts() -> Any:  # the app's database once it is open, when it is PostgreSQL
        db = getattr(app.state, "db", None)
        return db if db is not None and not db.is_sqlite else None

    app.add_middleware(RateLimit, per_minute=settings.rate_limit_per_minute, shared=shared_counts)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:  # closed unless configured: no CORS headers, so browsers on other origins cannot read
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(SecurityHeaders, csp=content_security_policy(settings))


def browser_sign_in(settings: Settings, access: Access) -> dict[str, Any]:
    """What the page needs to sign a user in with the council's provider (authorization code with PKCE,
    the page being a public client): its endpoints, client id and scopes, and which token to send.
    SignInUnavailable (503) while the provider's discovery document cannot be read."""
    if settings.auth != "oidc":
        return {"mode": "local"}
    if not settings.oidc_client_id or not isinstance(access.verify, OidcVerifier):
        return {"mode": "oidc", "browser": False}
    found: dict[str, Any] = {}
    if not (settings.oidc_authorize_url and settings.oidc_token_url):
        found = access.verify.discovery()
    token_url = settings.oidc_token_url or str(found.get("token_endpoint", ""))
    authorize_url = settings.oidc_authorize_url or str(found.get("authorization_endpoint", ""))
    if not token_url or not authorize_url:
        raise SignInUnavailable("the sign-in provider's settings name no authorization or token endpoint")
    if origin(token_url) != token_origin(settings):
        raise SignInUnavailable(
            f"the provider's token endpoint {token_url} is not on the issuer's address: set "
            "SAFEGUIDE_OIDC_TOKEN_URL to it, so that the page's security policy lets the page reach it"
        )
    return {
        "mode": "oidc",
        "browser": True,
        "authorize_url": authorize_url,
        "token_url": token_url,
        "client_id": settings.oidc_client_id,
        "scope": settings.oidc_scope,
        "token": settings.oidc_browser_token,
    }


def audit(request: Request, action: str, target: str, **detail: Any) -> None:
    """Record a change in the audit trail under the caller's name, role and address."""
    principal: Principal | None = getattr(request.state, "principal", None)
    source = request.client.host if request.client else "unknown"
    who, role = (principal.name, principal.role) if principal else ("anonymous", "-")
    request.app.state.audit.record(who, role, source, action, target, detail)


def principal_name(request: Request) -> str | None:
    principal: Any = getattr(request.state, "principal", None)
    return principal.name if principal is not None else None
