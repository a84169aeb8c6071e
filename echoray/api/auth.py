"""API keys -> tenants (API layer).

With auth on, every ``/v1`` call needs ``Authorization: Bearer <key>``; the key decides
the tenant, so no request can act for another tenant. With auth off (the local default
only) every call acts for ``auth.default_tenant``.
"""

from __future__ import annotations

import hmac
import logging

from fastapi import Request

from echoray.config import AuthConfig
from echoray.errors import AuthenticationError, PermissionDeniedError

log = logging.getLogger(__name__)


class Authenticator:
    """Resolves the tenant of a request from its bearer key."""

    def __init__(self, config: AuthConfig) -> None:
        self._config = config
        if not config.enabled:
            log.warning(
                "AUTH IS OFF: every request acts for tenant %r. Use this only on a local "
                "machine; set auth.enabled and auth.api_keys anywhere else.",
                config.default_tenant,
            )

    def tenant_for(self, authorization: str | None) -> str:
        if not self._config.enabled:
            return self._config.default_tenant
        key = _bearer_key(authorization)
        for known, tenant in self._config.api_keys.items():
            if hmac.compare_digest(known.encode(), key.encode()):
                return tenant
        raise AuthenticationError("Incorrect API key provided.")

    def require_admin(self, authorization: str | None) -> None:
        if not self._config.enabled:
            return
        key = _bearer_key(authorization)
        if any(hmac.compare_digest(k.encode(), key.encode()) for k in self._config.admin_keys):
            return
        self.tenant_for(authorization)  # an unknown key is a 401, a tenant's key a 403
        raise PermissionDeniedError("This endpoint needs an admin API key.")

    async def __call__(self, request: Request) -> str:
        """FastAPI dependency: the tenant of this request."""
        return self.tenant_for(request.headers.get("authorization"))


def _bearer_key(authorization: str | None) -> str:
    if not authorization:
        raise AuthenticationError(
            "Missing API key. Send it as 'Authorization: Bearer <key>'.", code="missing_api_key"
        )
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise AuthenticationError("Malformed Authorization header; expected 'Bearer <key>'.")
    return key.strip()
