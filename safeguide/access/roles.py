"""Roles, the signed-in principal, and the two refusals (not signed in: 401; wrong role: 403)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from safeguide.errors import SafeguideError

# In order: each role may do what the ones before it may.
ROLES = ("practitioner", "trainer", "admin")


class NotSignedIn(SafeguideError):
    """No credentials, or credentials that do not check out (401)."""


class NotPermitted(SafeguideError):
    """Signed in, but the role does not allow this (403)."""


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    via: str  # "local" or "oidc"


def role_at_least(role: str, needed: str) -> bool:
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


@dataclass
class Access:
    """Turns an Authorization header into a principal, with whichever verifier the deployment uses.

    `verify` takes the bearer token and returns the principal or raises NotSignedIn. `anonymous_ask`
    says whether a practitioner's routes (ask, search, timescales) are open without signing in."""

    verify: Callable[[str], Principal]
    anonymous_ask: bool = True

    def principal(self, authorization: str | None) -> Principal | None:
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotSignedIn("send the token as 'Authorization: Bearer <token>'")
        return self.verify(token.strip())

    def require(self, authorization: str | None, needed: str) -> Principal | None:
        """The principal if it may act as `needed`; None for an anonymous practitioner where allowed."""
        principal = self.principal(authorization)
        if principal is None:
            if needed == "practitioner" and self.anonymous_ask:
                return None
            raise NotSignedIn(f"sign in first: this needs the {needed} role")
        if not role_at_least(principal.role, needed):
            raise NotPermitted(f"{principal.name} is a {principal.role}; this needs the {needed} role")
        return principal
