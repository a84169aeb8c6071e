"""Safe filters: the only module that writes a LanceDB ``where`` string (memory layer).

Caller data reaches a filter string in one of two shapes, never raw:

- **Identifiers** (tenant, user, session, memory ids) must follow the one rule of
  ``echoray.protocol.ids``: 1 to 128 characters of ASCII letters, digits and
  ``. _ - : @ + =``, starting with a letter, digit or underscore. Anything else (quotes,
  backslashes, spaces, unicode, SQL keywords with spaces, very long values) is rejected
  with ``UnprocessableEntityError`` naming the field, before any query runs. Validated
  identifiers are then still quoted by ``sql_string`` (belt and braces).
- **Numbers and times** are formatted here from Python ``int`` values, never from text.

Free text is never put into a filter: metadata equality is checked in Python (see
``metadata_matches``) and the working set filters in numpy, so only the identifiers above
ever reach SQL.

LanceDB parses filters with DataFusion's SQL dialect, where a string literal is
``'...'`` and a quote inside it is written twice. A backslash is an ordinary character there,
not an escape (checked against lancedb 0.40: ``k = 'a\\'`` matches the two-character value
``a\\``), so ``sql_string`` doubles quotes and leaves backslashes alone; a NUL character is
refused because nothing legitimate contains one.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from echoray.errors import InvalidRequestError, UnprocessableEntityError
from echoray.memory.schemas import MEMORY_KINDS
from echoray.protocol.ids import is_identifier, validate_identifier

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def validate_identifiers(values: Iterable[object], field: str) -> list[str]:
    """``validate_identifier`` over many values.

    Raises:
        UnprocessableEntityError: any value is malformed.
    """
    return [validate_identifier(value, field) for value in values]


def sql_string(value: str) -> str:
    """A DataFusion string literal for ``value``: quoted, inner quotes doubled.

    Raises:
        UnprocessableEntityError: ``value`` contains a NUL character.
    """
    if "\x00" in value:
        raise UnprocessableEntityError("value contains a NUL character", code="invalid_value")
    return "'" + value.replace("'", "''") + "'"


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch, UTC (a naive datetime is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def sql_timestamp(moment: datetime) -> str:
    """A timestamp literal built from an integer, never from caller text."""
    return f"to_timestamp_micros({int(to_micros(moment))})"


def _all_of(clauses: Iterable[str]) -> str:
    return " AND ".join(f"({clause})" for clause in clauses)


def _in_list(column: str, values: Sequence[str], field: str) -> str:
    if not values:
        raise InvalidRequestError(f"{field} must not be empty", param=field)
    quoted = ", ".join(sql_string(v) for v in validate_identifiers(values, field))
    return f"{column} IN ({quoted})"


def where_scope(tenant: str, user: str | None = None) -> str:
    """Rows of one tenant, and of one user when ``user`` is given.

    Raises:
        UnprocessableEntityError: a malformed tenant or user.
    """
    clauses = [f"tenant = {sql_string(validate_identifier(tenant, 'tenant'))}"]
    if user is not None:
        clauses.append(f"user = {sql_string(validate_identifier(user, 'user'))}")
    return _all_of(clauses)


def where_users(tenant: str, users: Sequence[str]) -> str:
    """Rows of the listed users of one tenant.

    Raises:
        UnprocessableEntityError: a malformed tenant or user.
        InvalidRequestError: ``users`` is empty.
    """
    return _all_of([where_scope(tenant), _in_list("user", users, "user")])


def where_tenant_id(tenant: str, row_id: str, field: str = "id") -> str:
    """The row of one tenant with this id, whoever its user (experiences by request id).

    Raises:
        UnprocessableEntityError: a malformed tenant or id (``param`` is ``field``).
    """
    return _all_of([where_scope(tenant), f"id = {sql_string(validate_identifier(row_id, field))}"])


def where_ids(tenant: str, user: str, ids: Sequence[str], column: str = "id") -> str:
    """Rows of one user whose ``column`` (``id``, ``src`` or ``dst``) is one of ``ids``.

    Raises:
        UnprocessableEntityError: a malformed tenant, user or id.
        InvalidRequestError: ``ids`` is empty.
    """
    if column not in ("id", "src", "dst"):
        raise ValueError(f"not an id column: {column}")  # a programming error, not a request
    return _all_of([where_scope(tenant, user), _in_list(column, ids, "id")])


def where_links_touching(tenant: str, user: str, ids: Sequence[str]) -> str:
    """Links of one user with either end in ``ids``.

    Raises:
        UnprocessableEntityError: a malformed tenant, user or id.
        InvalidRequestError: ``ids`` is empty.
    """
    either = f"{_in_list('src', ids, 'id')} OR {_in_list('dst', ids, 'id')}"
    return _all_of([where_scope(tenant, user), either])


def where_memories(
    tenant: str,
    user: str,
    *,
    session: str | None = None,
    kinds: Sequence[str] | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> str:
    """Memories of one user narrowed by session, kinds and a half-open time range
    ``[created_after, created_before)``. Metadata is filtered in Python, not here.

    Raises:
        UnprocessableEntityError: a malformed tenant, user, session or kind.
    """
    clauses = [where_scope(tenant, user)]
    if session is not None:
        clauses.append(f"session = {sql_string(validate_identifier(session, 'session'))}")
    if kinds:
        unknown = sorted(set(kinds) - set(MEMORY_KINDS))
        if unknown:
            raise UnprocessableEntityError(
                f"unknown memory kind(s) {unknown}; expected one of {list(MEMORY_KINDS)}",
                param="kinds",
            )
        clauses.append("kind IN (" + ", ".join(sql_string(k) for k in kinds) + ")")
    if created_after is not None:
        clauses.append(f"created_at >= {sql_timestamp(created_after)}")
    if created_before is not None:
        clauses.append(f"created_at < {sql_timestamp(created_before)}")
    return _all_of(clauses)


def where_after(created_at_us: int, memory_id: str) -> str:
    """Rows after a page position in (created_at, id) order.

    Raises:
        UnprocessableEntityError: a malformed id.
    """
    moment = f"to_timestamp_micros({int(created_at_us)})"
    quoted = sql_string(validate_identifier(memory_id, "cursor"))
    return f"created_at > {moment} OR (created_at = {moment} AND id > {quoted})"


def where_session_turns(
    tenant: str, user: str, session: str, *, seq_below: int | None = None
) -> str:
    """Short-term turns of one session, optionally those older than ``seq_below``.

    Raises:
        UnprocessableEntityError: a malformed tenant, user or session.
    """
    clauses = [
        where_scope(tenant, user),
        f"session = {sql_string(validate_identifier(session, 'session'))}",
    ]
    if seq_below is not None:
        clauses.append(f"seq < {int(seq_below)}")
    return _all_of(clauses)


def combine(*clauses: str) -> str:
    """AND of filters this module built."""
    return _all_of(clauses)


# --- page cursors: opaque to callers, validated when they come back --------------------


def encode_cursor(created_at_us: int, memory_id: str) -> str:
    """An opaque page cursor for the position after (created_at, id)."""
    raw = json.dumps([int(created_at_us), memory_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    """The position an ``encode_cursor`` token names.

    Raises:
        InvalidRequestError: the token is not one this module made (``code``
            ``invalid_cursor``).
    """
    problem = InvalidRequestError("cursor is not valid", param="cursor", code="invalid_cursor")
    if not isinstance(cursor, str) or len(cursor) > 512:
        raise problem
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value: Any = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise problem from exc
    if (
        not isinstance(value, list)
        or len(value) != 2
        or type(value[0]) is not int
        or not isinstance(value[1], str)
        or not is_identifier(value[1])
    ):
        raise problem
    return value[0], value[1]


# --- metadata equality, in Python --------------------------------------------------------


def canonical_json(value: object) -> str:
    """The one compact JSON spelling of a value (sorted keys, UTF-8 kept)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def metadata_token(value: object) -> str:
    """A string equal for equal JSON values and different otherwise: ``1`` and ``1.0``
    match, ``1``, ``"1"`` and ``true`` do not. Used as an index key and to compare."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "b:" + ("true" if value else "false")
    if isinstance(value, int):
        return f"n:{value}"
    if isinstance(value, float):
        return f"n:{int(value)}" if value.is_integer() else f"n:{value!r}"
    if isinstance(value, str):
        return "s:" + value
    return "j:" + canonical_json(value)


def metadata_matches(metadata: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether every ``wanted`` key is in ``metadata`` with an equal value."""
    return all(
        key in metadata and metadata_token(metadata[key]) == metadata_token(value)
        for key, value in wanted.items()
    )
