"""Who said a memory: the speaker split off a turn's text, and the names a question may use."""

from __future__ import annotations

from echoray.memory.speakers import name_forms, split_speaker


def test_a_name_prefix_is_the_speaker_and_the_rest_the_body() -> None:
    assert split_speaker("Ana: hi there") == ("Ana", "hi there")
    assert split_speaker("  Ana:   hi") == ("Ana", "hi")


def test_a_prefix_of_several_words_names_one_speaker() -> None:
    assert split_speaker("Ana Lopez: we met at the lake") == ("Ana Lopez", "we met at the lake")


def test_a_prefix_of_four_words_is_not_a_speaker() -> None:
    text = "Ana Maria Lopez Diaz: hello"
    assert split_speaker(text) == (None, text)


def test_a_lower_case_prefix_is_not_a_speaker() -> None:
    assert split_speaker("note: buy milk") == (None, "note: buy milk")


def test_text_without_a_prefix_has_no_speaker() -> None:
    for text in ["just a thought", "Ana:no space after the colon", "At 12:30 we ate", ""]:
        assert split_speaker(text) == (None, text)


def test_the_metadata_speaker_wins_and_strips_its_own_prefix() -> None:
    assert split_speaker("Ana: hi", {"speaker": "Ana"}) == ("Ana", "hi")
    assert split_speaker("hi", {"speaker": " Ana "}) == ("Ana", "hi")


def test_a_different_prefix_stays_in_the_body_of_a_metadata_speaker() -> None:
    assert split_speaker("Bob: hi", {"speaker": "Ana"}) == ("Ana", "Bob: hi")


def test_a_blank_or_non_text_metadata_speaker_falls_back_to_the_prefix() -> None:
    assert split_speaker("Bob: hi", {"speaker": "  "}) == ("Bob", "hi")
    assert split_speaker("Bob: hi", {"speaker": 7}) == ("Bob", "hi")
    assert split_speaker("hi", {"other": "Ana"}) == (None, "hi")


def test_a_name_is_named_in_full_or_by_its_first_word() -> None:
    assert name_forms("Ana Lopez") == ("ana lopez", "ana")
    assert name_forms("  Ana   Lopez ") == ("ana lopez", "ana")
    assert name_forms("Ana") == ("ana",)
