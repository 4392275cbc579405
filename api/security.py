"""The API's edge: who may call what (sign-in and roles), security headers, rate limits, CORS.

Routes declare the role they need with `Depends(require(ROLE))` (router-wide or per route):
practitioner (ask, search, deadlines, comparison; anonymous where the deployment allows it), trainer
(quizzes) and admin (rule review). A missing or bad token is a 401, the wrong role a 403.

Every response carries a Content-Security-Policy with no inline script or style (the pages load their
scripts and styles from /static only), nosniff, frame denial and no referrer. Each client (its address)
may make `rate_limit_per_minute` requests to /api/ in any minute; past that, a 429 with Retry-After.
The limit is kept per worker process, so with N workers a client may make up to N times as many.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from safeguide.access import Access, OidcVerifier, Principal, UserStore
from safeguide.access.oidc import parse_role_map
from safeguide.settings import Settings

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


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
    """Adds HEADERS to every HTTP response (pages, API, static files, errors)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    h for h in HEADERS if h[0] not in names
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


class RateLimit:
    """At most `per_minute` requests to /api/ from one client address in any 60 seconds (a sliding
    window of request times per client, in this process)."""

    def __init__(self, app: ASGIApp, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.per_minute = per_minute
        self.clock = clock
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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.per_minute or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
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
    app.add_middleware(RateLimit, per_minute=settings.rate_limit_per_minute)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:  # closed unless configured: no CORS headers, so browsers on other origins cannot read
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(SecurityHeaders)


def audit(request: Request, action: str, target: str, **detail: Any) -> None:
    """Record a change in the audit trail under the caller's name, role and address."""
    principal: Principal | None = getattr(request.state, "principal", None)
    source = request.client.host if request.client else "unknown"
    who, role = (principal.name, principal.role) if principal else ("anonymous", "-")
    request.app.state.audit.record(who, role, source, action, target, detail)


def principal_name(request: Request) -> str | None:
    principal: Any = getattr(request.state, "principal", None)
    return principal.name if principal is not None else None
