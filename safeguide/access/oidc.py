"""OpenID Connect bearer tokens (Microsoft Entra ID is the common case), checked with PyJWT.

A token is accepted when it is signed by one of the provider's published keys (its JWKS, found through
the issuer's discovery document unless `jwks_url` is given), was issued by `issuer` for `audience`, and
has not expired. The role comes from `role_claim` (Entra puts app roles in "roles"), mapped through
`role_map` (the app role's value -> our role); a token with none of the mapped roles is a practitioner
only if `default_role` says so, otherwise it is refused. The keys are fetched once and cached; a key
the cache does not know makes PyJWT fetch them again (a provider's key rollover).
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Mapping
from typing import Any

import jwt

from safeguide.access.roles import ROLES, NotSignedIn, Principal
from safeguide.errors import SafeguideError

ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
NAME_CLAIMS = ("preferred_username", "upn", "email", "name", "sub")


class SignInUnavailable(SafeguideError):
    """The identity provider's keys cannot be fetched (503): nobody can be checked until they can."""


def parse_role_map(text: str) -> dict[str, str]:
    """ "Safeguide.Admin=admin, Safeguide.Trainer=trainer" -> {"safeguide.admin": "admin", ...}."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        claim, sep, role = part.partition("=")
        if not sep or role.strip() not in ROLES or not claim.strip():
            raise ValueError(f"role map entry {part!r}: write CLAIM_VALUE=ROLE with ROLE one of {ROLES}")
        out[claim.strip().lower()] = role.strip()
    return out


class OidcVerifier:
    def __init__(
        self,
        issuer: str,
        audience: str,
        role_map: Mapping[str, str],
        jwks_url: str = "",
        role_claim: str = "roles",
        default_role: str = "",
        timeout: float = 10.0,
    ) -> None:
        if not issuer or not audience:
            raise ValueError("OpenID Connect needs SAFEGUIDE_OIDC_ISSUER and SAFEGUIDE_OIDC_AUDIENCE")
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.role_map = {k.lower(): v for k, v in role_map.items()}
        self.role_claim = role_claim
        self.default_role = default_role
        self.timeout = timeout
        self._jwks_url = jwks_url
        self._client: jwt.PyJWKClient | None = None
        self._lock = threading.Lock()
        self._discovered: dict[str, Any] | None = None
        self._discovery_lock = threading.Lock()

    def _keys(self) -> jwt.PyJWKClient:
        with self._lock:
            if self._client is None:
                url = self._jwks_url or str(self.discovery()["jwks_uri"])
                self._client = jwt.PyJWKClient(url, lifespan=600, timeout=self.timeout)
            return self._client

    def discovery(self) -> dict[str, Any]:
        """The issuer's discovery document (its endpoints and key set), fetched once."""
        with self._discovery_lock:
            if self._discovered is None:
                url = f"{self.issuer}/.well-known/openid-configuration"
                try:
                    with urllib.request.urlopen(url, timeout=self.timeout) as r:
                        found = json.load(r)
                    if not isinstance(found, dict) or "jwks_uri" not in found:
                        raise ValueError("no jwks_uri in it")
                except (OSError, ValueError) as exc:
                    raise SignInUnavailable(
                        f"cannot read the sign-in provider's settings at {url}: {exc}"
                    ) from exc
                self._discovered = found
            return self._discovered

    def __call__(self, token: str) -> Principal:
        try:
            key = self._keys().get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as exc:
            raise SignInUnavailable(f"cannot fetch the sign-in provider's keys: {exc}") from exc
        except jwt.PyJWTError as exc:
            raise NotSignedIn(f"the sign-in token is not valid: {exc}") from exc
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iss", "aud"]},
                leeway=30,
            )
        except jwt.PyJWTError as exc:
            raise NotSignedIn(f"the sign-in token is not valid: {exc}") from exc
        return Principal(self._name(claims), self._role(claims), "oidc")

    def _role(self, claims: Mapping[str, Any]) -> str:
        values = claims.get(self.role_claim) or []
        if isinstance(values, str):
            values = [values]
        mapped = [
            self.role_map[v.lower()] for v in values if isinstance(v, str) and v.lower() in self.role_map
        ]
        if mapped:
            return max(mapped, key=ROLES.index)
        if self.default_role:
            return self.default_role
        raise NotSignedIn(
            f"the sign-in token carries none of the roles this service knows ({self.role_claim})"
        )

    @staticmethod
    def _name(claims: Mapping[str, Any]) -> str:
        for claim in NAME_CLAIMS:
            if isinstance(claims.get(claim), str) and claims[claim]:
                return str(claims[claim])
        return "unknown"
