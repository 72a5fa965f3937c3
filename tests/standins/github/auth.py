"""Authentication and permissions as GitHub does them: App JWTs, installation tokens, roles.

``/app`` routes need an RS256 App JWT signed with the App's key whose ``iss`` is the app id,
whose ``exp`` is in the future and no more than 10 minutes ahead
(https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/
generating-a-json-web-token-jwt-for-a-github-app). Everything else needs an installation
token minted by ``POST /app/installations/{id}/access_tokens``, sent as ``token ghs_...``
(gidgethub's form) or ``Bearer ghs_...``. Anything else is 401.

Collaborators have a role (admin, maintain, write, triage, read, none) or a custom
repository role extending one (https://docs.github.com/en/rest/orgs/custom-roles), which is
also registered in the owner's organization.
"""

from __future__ import annotations

import secrets
import string
import threading
import time
from collections.abc import Mapping

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.standins.github.answers import ApiError
from tests.standins.github.objects import (
    FIXED_CREATED_AT,
    JsonDict,
    organization_object,
    stable_id,
    user_object,
)
from tests.standins.github.state import Repo, State

# GitHub refuses an App JWT whose exp is more than 10 minutes ahead; allow a little skew.
MAX_JWT_LIFETIME = 600
JWT_LEEWAY = 30
BAD_JWT = "A JSON web token could not be decoded"

# Legacy `permission` and default `role_name` for each role the API can report
# (https://docs.github.com/en/rest/collaborators/collaborators#get-repository-permissions-for-a-user).
ROLES: Mapping[str, tuple[str, str]] = {
    "admin": ("admin", "admin"),
    "maintain": ("write", "maintain"),
    "write": ("write", "write"),
    "triage": ("read", "triage"),
    "read": ("read", "read"),
    "none": ("none", ""),
}
BASE_ROLES = ("read", "triage", "write", "maintain")

# The app's private key: generated once per process (RSA generation is slow).
_KEY_LOCK = threading.Lock()
_APP_KEY: rsa.RSAPrivateKey | None = None


def app_private_key() -> rsa.RSAPrivateKey:
    """Return the process-wide RSA key of the stand-in's GitHub App, generating it once."""
    global _APP_KEY
    with _KEY_LOCK:
        if _APP_KEY is None:
            _APP_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return _APP_KEY


def app_private_key_pem() -> str:
    """Return the app's private key as PEM text, in the PKCS#1 form GitHub hands out."""
    return (
        app_private_key()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        .decode("ascii")
    )


def credentials(request: web.Request) -> tuple[str, str]:
    """The scheme (lower case) and the value of the ``Authorization`` header."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return scheme.lower(), value.strip()


class Auth(State):
    """Installation tokens, the checks of both credentials, collaborators and custom roles."""

    def _init_auth(self, token_lifetime: float, non_collaborator_permission: str | None) -> None:
        self.token_lifetime = token_lifetime
        self.non_collaborator_permission = non_collaborator_permission
        self._tokens: dict[str, float] = {}
        self._tokens_issued = 0
        self._custom_roles: dict[str, dict[str, JsonDict]] = {}
        self.custom_roles_readable = True

    @property
    def private_key_pem(self) -> str:
        """The app's private key (PEM), shared by every stand-in in the process."""
        return app_private_key_pem()

    # ---- tokens ------------------------------------------------------------------------

    @property
    def tokens_issued(self) -> int:
        """How many installation tokens have been minted."""
        with self.lock:
            return self._tokens_issued

    def expire_tokens(self) -> None:
        """Make every installation token minted so far expired (answers 401 from now on)."""
        with self.lock:
            for token in self._tokens:
                self._tokens[token] = 0.0

    def mint_token(self) -> tuple[str, float]:
        """A new installation token and when it expires."""
        token = "ghs_" + "".join(
            secrets.choice(string.ascii_letters + string.digits) for _ in range(36)
        )
        expires = time.time() + self.token_lifetime
        with self.lock:
            self._tokens[token] = expires
            self._tokens_issued += 1
        return token, expires

    def authenticate(self, request: web.Request, kind: str) -> None:
        """Check the request's credentials: ``kind`` "jwt" (an App JWT), "token", or
        "none" (the manifest flow's web pages and code exchange)."""
        if kind == "none":
            return
        if kind == "jwt":
            self._require_jwt(request)
        else:
            self._require_token(request)

    def _require_jwt(self, request: web.Request) -> None:
        scheme, token = credentials(request)
        if scheme != "bearer" or token.count(".") != 2:
            raise ApiError(401, BAD_JWT)
        try:
            claims = jwt.decode(
                token,
                app_private_key().public_key(),
                algorithms=["RS256"],
                options={"require": ["iat", "exp", "iss"], "verify_iss": False},
                leeway=JWT_LEEWAY,
            )
        except jwt.ExpiredSignatureError:
            raise ApiError(
                401,
                "'Expiration time' claim ('exp') must be a numeric value representing the "
                "future time at which the assertion expires",
            ) from None
        except jwt.ImmatureSignatureError:
            raise ApiError(
                401, "'Issued at' claim ('iat') must be an Integer representing the time"
            ) from None
        except jwt.InvalidTokenError:
            raise ApiError(401, BAD_JWT) from None
        if str(claims["iss"]) != str(self.app_id):
            raise ApiError(401, "Integration not found")
        if float(claims["exp"]) > time.time() + MAX_JWT_LIFETIME + JWT_LEEWAY:
            raise ApiError(401, "'Expiration time' claim ('exp') is too far in the future")

    def _require_token(self, request: web.Request) -> None:
        scheme, token = credentials(request)
        if not token:
            raise ApiError(401, "Requires authentication")
        if scheme not in ("token", "bearer"):
            raise ApiError(401, "Bad credentials")
        with self.lock:
            expires = self._tokens.get(token)
        if expires is None or time.time() >= expires:
            raise ApiError(401, "Bad credentials")

    # ---- collaborators -------------------------------------------------------------------

    def set_permission(
        self,
        owner: str,
        repo: str,
        login: str,
        permission: str,
        role_name: str | None = None,
    ) -> None:
        """Make ``login`` a collaborator with ``permission`` (admin, maintain, write, triage,
        read or none); ``role_name`` names a custom role (it defaults to the permission)."""
        if permission not in ROLES:
            raise ValueError(f"permission must be one of {sorted(ROLES)}, not {permission!r}")
        legacy, default_role = ROLES[permission]
        with self.lock:
            record = self._repo(owner, repo, create=True)
            role = role_name or default_role
            record.permissions[login.lower()] = (login, legacy, role, permission)
            if role_name and role_name not in ROLES:
                self._add_custom_role(owner, role_name, permission)

    def remove_permission(self, owner: str, repo: str, login: str) -> None:
        """Remove a collaborator."""
        with self.lock:
            self._repo(owner, repo).permissions.pop(login.lower(), None)

    def permission_answer(self, record: Repo, login: str) -> JsonDict:
        """``GET .../collaborators/{login}/permission``: 404 for a non-collaborator unless
        ``non_collaborator_permission`` is set (and the repository is public)."""
        with self.lock:
            known = record.permissions.get(login.lower())
        if known is None:
            if self.non_collaborator_permission is None or record.private:
                raise ApiError(404)
            legacy, role = ROLES[self.non_collaborator_permission]
            known = (login, legacy, role, self.non_collaborator_permission)
        name, legacy, role, base = known
        user = user_object(name, api_url=self.url)
        # The hash says what the (base) role allows, for custom roles too.
        user["permissions"] = {
            "admin": base == "admin",
            "maintain": base in ("admin", "maintain"),
            "push": base in ("admin", "maintain", "write"),
            "triage": base in ("admin", "maintain", "write", "triage"),
            "pull": base != "none",
        }
        user["role_name"] = role
        return {"permission": legacy, "role_name": role, "user": user}

    # ---- custom repository roles -------------------------------------------------------

    def _add_custom_role(self, org: str, name: str, base_role: str) -> JsonDict:
        roles = self._custom_roles.setdefault(org.lower(), {})
        if name.lower() not in roles:
            role_id = stable_id("custom-role", org.lower(), name.lower(), base=10_000)
            roles[name.lower()] = {
                "id": role_id,
                "name": name,
                "description": f"{name} (extends {base_role})",
                "base_role": base_role,
                "permissions": [],
                "organization": organization_object(org, api_url=self.url),
                "created_at": FIXED_CREATED_AT,
                "updated_at": FIXED_CREATED_AT,
            }
        return roles[name.lower()]

    def add_custom_role(self, org: str, name: str, base_role: str) -> JsonDict:
        """Define a custom repository role of ``org`` extending ``base_role``."""
        if base_role not in BASE_ROLES:
            raise ValueError(f"base_role must be read, triage, write or maintain: {base_role!r}")
        with self.lock:
            return dict(self._add_custom_role(org, name, base_role))

    def org_custom_roles(self, org: str) -> list[JsonDict]:
        """The custom repository roles of ``org``; 403 without the organization permission
        (``custom_roles_readable`` False), 404 for an organization the stand-in does not know."""
        if not self.custom_roles_readable:
            raise ApiError(403, "Resource not accessible by integration")
        org = org.lower()
        with self.lock:
            if org not in self._custom_roles and not any(o == org for o, _ in self._repos):
                raise ApiError(404)
            return [dict(r) for r in self._custom_roles.get(org, {}).values()]
