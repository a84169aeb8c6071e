"""Lone surrogates: found wherever they sit in a request body, and named by path."""

import json

import pytest

from echoray.protocol.text import lone_surrogate_path, reject_lone_surrogates


def test_the_path_of_the_first_lone_surrogate() -> None:
    assert lone_surrogate_path({"a": ["ok", {"b": "x\ud800"}]}) == "a.1.b"
    assert lone_surrogate_path({"m": {"\udc00": 1}}) == "m.'\\udc00'"
    paired = json.loads('"\\ud83d\\ude00"')  # JSON joins a proper pair into one emoji
    assert paired == "\U0001f600" and lone_surrogate_path(paired) is None
    assert lone_surrogate_path({"a": "\U0001f600", "n": 3, "f": None}) is None
    assert lone_surrogate_path("\udfff") == ""


def test_rejecting_names_the_field_and_passes_clean_data_through() -> None:
    with pytest.raises(ValueError, match="prompt holds a lone UTF-16 surrogate"):
        reject_lone_surrogates({"prompt": "\ud800"})
    data = {"prompt": "fine"}
    assert reject_lone_surrogates(data) is data
