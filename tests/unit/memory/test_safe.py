"""The only module that writes LanceDB filters: hostile values never pass into SQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from echoray.errors import InvalidRequestError, UnprocessableEntityError
from echoray.memory import safe

HOSTILE = [
    "",
    "'",
    "a'b",
    "' OR '1'='1",
    "x' OR 1=1 --",
    "bob\\",
    "bob\\' OR user != '",
    'double"quote',
    "semi;colon",
    "space here",
    "alice OR user = 'bob'",
    "DROP TABLE memories",
    "ünïcödé",
    "日本語",
    "zero\u200bwidth",
    "nul\x00byte",
    "new\nline",
    "tab\there",
    "a" * 129,
    "%",
    "_%",
    "(",
    "-leading-dash",
    ".leading-dot",
]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("field", ["tenant", "user", "session", "id"])
def test_hostile_identifiers_are_rejected_with_a_clear_error(value: str, field: str) -> None:
    with pytest.raises(UnprocessableEntityError) as caught:
        safe.validate_identifier(value, field)
    assert caught.value.status_code == 422
    assert caught.value.param == field
    assert caught.value.code == "invalid_identifier"
    assert field in caught.value.message


@pytest.mark.parametrize("value", [None, 7, 1.5, b"bytes", ["list"]])
def test_non_strings_are_rejected(value: object) -> None:
    with pytest.raises(UnprocessableEntityError):
        safe.validate_identifier(value, "user")


@pytest.mark.parametrize(
    "value",
    ["alice", "user-42", "a", "A.B_c-d", "alice@example.com", "tenant:acme", "x+y=z", "_", "9"],
)
def test_ordinary_identifiers_pass(value: str) -> None:
    assert safe.validate_identifier(value, "user") == value


def test_longest_identifier_passes_and_one_more_fails() -> None:
    assert safe.validate_identifier("a" * 128, "id")
    with pytest.raises(UnprocessableEntityError):
        safe.validate_identifier("a" * 129, "id")


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("plain", "'plain'"),
        ("it's", "'it''s'"),
        ("' OR '1'='1", "''' OR ''1''=''1'"),
        ("back\\slash", "'back\\slash'"),  # a backslash is an ordinary character there
        ("", "''"),
    ],
)
def test_sql_string_doubles_quotes_and_keeps_backslashes(value: str, literal: str) -> None:
    assert safe.sql_string(value) == literal


def test_sql_string_refuses_nul() -> None:
    with pytest.raises(UnprocessableEntityError):
        safe.sql_string("a\x00b")


def test_every_builder_validates_before_quoting() -> None:
    for build in (
        lambda v: safe.where_scope(v),
        lambda v: safe.where_scope("acme", v),
        lambda v: safe.where_users("acme", ["ok", v]),
        lambda v: safe.where_ids("acme", "alice", ["ok", v]),
        lambda v: safe.where_links_touching("acme", "alice", [v]),
        lambda v: safe.where_memories("acme", "alice", session=v),
        lambda v: safe.where_session_turns("acme", "alice", v),
        lambda v: safe.where_after(0, v),
    ):
        for value in HOSTILE:
            with pytest.raises(UnprocessableEntityError):
                build(value)


def test_where_memories_shape() -> None:
    where = safe.where_memories(
        "acme",
        "alice",
        session="s1",
        kinds=["episodic", "semantic"],
        created_after=datetime(2025, 1, 1, tzinfo=UTC),
        created_before=datetime(2025, 1, 2),
    )
    assert where == (
        "((tenant = 'acme') AND (user = 'alice')) AND (session = 's1') AND "
        "(kind IN ('episodic', 'semantic')) AND "
        "(created_at >= to_timestamp_micros(1735689600000000)) AND "
        "(created_at < to_timestamp_micros(1735776000000000))"
    )


def test_unknown_kinds_are_rejected() -> None:
    with pytest.raises(UnprocessableEntityError) as caught:
        safe.where_memories("acme", "alice", kinds=["episodic", "x' OR '1'='1"])
    assert caught.value.param == "kinds"


def test_empty_id_lists_are_rejected() -> None:
    with pytest.raises(InvalidRequestError):
        safe.where_ids("acme", "alice", [])


def test_cursor_round_trip() -> None:
    token = safe.encode_cursor(1_735_689_600_000_000, "abc123")
    assert safe.decode_cursor(token) == (1_735_689_600_000_000, "abc123")
    assert all(c.isalnum() or c in "-_" for c in token)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not base64 at all!",
        "e30",  # {}
        safe.encode_cursor(1, "ok")[:-2],
        # Well-formed JSON carrying an injection attempt as the id.
        safe.encode_cursor(1, "x' OR '1'='1"),
        # A float or a string where the timestamp belongs.
        "WzEuNSwiYSJd",
        "WyIxIiwiYSJd",
        "A" * 600,
    ],
)
def test_bad_cursors_are_rejected(token: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        safe.decode_cursor(token)
    assert caught.value.code == "invalid_cursor"


@pytest.mark.parametrize(
    ("have", "wanted", "matches"),
    [
        ({"a": 1}, {"a": 1}, True),
        ({"a": 1}, {"a": 1.0}, True),
        ({"a": 1}, {"a": "1"}, False),
        ({"a": 1}, {"a": True}, False),
        ({"a": True}, {"a": 1}, False),
        ({"a": None}, {"a": None}, True),
        ({}, {"a": None}, False),
        ({"a": "x' OR '1'='1"}, {"a": "x' OR '1'='1"}, True),
        ({"a": "x"}, {"a": "x' OR '1'='1"}, False),
        ({"a": [1, 2]}, {"a": [1, 2]}, True),
        ({"a": 1, "b": 2}, {"a": 1, "b": 3}, False),
        ({"a": 1}, {}, True),
    ],
)
def test_metadata_equality(have: dict, wanted: dict, matches: bool) -> None:
    assert safe.metadata_matches(have, wanted) is matches


def test_to_micros_treats_naive_as_utc() -> None:
    assert safe.to_micros(datetime(1970, 1, 1, 0, 0, 1)) == 1_000_000
    assert safe.to_micros(datetime(1970, 1, 1, 0, 0, 1, 5, tzinfo=UTC)) == 1_000_005
