"""Index terms: words, stop words out, Porter stems."""

from __future__ import annotations

from echoray.memory.terms import STOP_WORDS, stem, terms, words


def test_words_drop_stop_words_and_overlong_ones() -> None:
    assert words("The Cat's 2 HATS, and naïve café!") == ["cat", "2", "hats", "naïve", "café"]
    assert words("x" * 41) == []
    assert words("what did she do when they were there") == []


def test_terms_are_porter_stems() -> None:
    assert terms("camping camped camps") == ["camp", "camp", "camp"]
    assert terms("Adoption agencies") == ["adopt", "agenc"]
    assert stem("running") == "run"


def test_the_stop_list_holds_function_words_only() -> None:
    assert {"the", "when", "they", "their", "s"} <= STOP_WORDS
    assert not {"camp", "paint", "adopt", "school"} & STOP_WORDS
