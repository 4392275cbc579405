"""Who may do what: roles, and the two ways of signing in.

- `roles.py`: the three roles (practitioner < trainer < admin) and the signed-in `Principal`;
- `local.py`: local accounts for small deployments and tests: a user has a name, a role and a random
  token, of which only the SHA-256 is kept (`safeguide users add|list|remove`);
- `oidc.py`: a council's single sign-on (OpenID Connect; Microsoft Entra ID is the common case): a bearer
  token signed by the identity provider, checked against its published keys, its issuer and audience,
  with the role read from a claim (Entra's app roles by default);
- `audit.py`: the audit trail of changes (who, role, address, action, target), entries only ever added.

The API asks `Access.principal(authorization header)` and compares roles; nothing here knows FastAPI.
"""

from safeguide.access.local import UserStore
from safeguide.access.oidc import OidcVerifier
from safeguide.access.roles import ROLES, Access, NotPermitted, NotSignedIn, Principal, role_at_least

__all__ = [
    "ROLES",
    "Access",
    "NotPermitted",
    "NotSignedIn",
    "OidcVerifier",
    "Principal",
    "UserStore",
    "role_at_least",
]
