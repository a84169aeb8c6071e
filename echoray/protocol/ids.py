"""The one identifier rule (protocol layer): tenants, users, sessions and memory ids.

1 to 128 characters of ASCII letters, digits and ``. _ - : @ + =``, starting with a
letter, digit or underscore. The memory API's schema, the server's checks, the ingest job
and the KubeRay settings all use this rule, so what one accepts the others accept. Values
that reach a LanceDB filter are identifiers only (``echoray.memory.safe``).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from typing import Final

from echoray.errors import UnprocessableEntityError

IDENTIFIER_MAX_CHARS: Final = 128
IDENTIFIER_REGEX: Final = r"[A-Za-z0-9_][A-Za-z0-9._:@+=\-]{0,127}"
IDENTIFIER_PATTERN: Final = re.compile(IDENTIFIER_REGEX)
# The same rule as a JSON Schema / pydantic ``pattern`` (anchored).
IDENTIFIER_SCHEMA: Final = f"^{IDENTIFIER_REGEX}$"
IDENTIFIER_RULE: Final = (
    f"1 to {IDENTIFIER_MAX_CHARS} characters of ASCII letters, digits and . _ - : @ + =, "
    "starting with a letter, digit or underscore"
)


def is_identifier(value: object) -> bool:
    return isinstance(value, str) and IDENTIFIER_PATTERN.fullmatch(value) is not None


def validate_identifier(value: object, field: str) -> str:
    """Return ``value`` if it is a well-formed identifier.

    Raises:
        UnprocessableEntityError: ``value`` is not a string matching ``IDENTIFIER_PATTERN``;
            ``param`` is ``field``, ``code`` is ``invalid_identifier``.
    """
    if not is_identifier(value):
        shown = repr(value)[:40] if isinstance(value, str) else type(value).__name__
        raise UnprocessableEntityError(
            f"{field} must be {IDENTIFIER_RULE}; got {shown}",
            param=field,
            code="invalid_identifier",
        )
    assert isinstance(value, str)
    return value


# A chat's ``user`` is any string OpenAI accepts ("John Smith", an email with spaces, a
# UUID): one that is already an identifier is kept, so the memory API names the same user;
# any other is hashed to one, which is stable, safe in any filter, and never the raw text.
CHAT_USER_PREFIX: Final = "user_"


def new_exchange_id(now_s: float | None = None) -> str:
    """The server's id of one chat or completion (``chatcmpl-<it>``, the experience row):
    12 hex digits of its creation time in milliseconds, then 20 random ones. Never built
    from anything a client sent, so two clients cannot share one; the time lets feedback
    tell an exchange still being recorded from one that never existed."""
    millis = int((time.time() if now_s is None else now_s) * 1000)
    return f"{millis:012x}{secrets.token_hex(10)}"


def exchange_created_s(exchange: str) -> float | None:
    """When ``new_exchange_id`` made ``exchange``, in epoch seconds; None for other ids."""
    if len(exchange) != 32 or not all(c in "0123456789abcdef" for c in exchange):
        return None
    return int(exchange[:12], 16) / 1000


def chat_user_id(user: str) -> str:
    """The memory user id of an OpenAI chat's free-form ``user`` field."""
    if is_identifier(user):
        return user
    digest = hashlib.sha256(user.encode("utf-8")).hexdigest()[:32]
    return f"{CHAT_USER_PREFIX}{digest}"
