import pytest

from echoray.engines.text import StopStringStream, check_context_length
from echoray.errors import ContextLengthExceededError


def feed_all(stream: StopStringStream, pieces: list[str]) -> str:
    text, sent = "", []
    for piece in pieces:
        text += piece
        sent.append(stream.feed(text))
        if stream.stopped:
            return "".join(sent)
    sent.append(stream.flush(text))
    return "".join(sent)


def test_without_stops_everything_passes_through() -> None:
    assert feed_all(StopStringStream(), ["Hel", "lo", " world"]) == "Hello world"


def test_stop_string_is_never_sent_even_across_pieces() -> None:
    stream = StopStringStream(["END"])
    assert feed_all(stream, ["one E", "N", "D two"]) == "one "
    assert stream.stopped and stream.text == "one "


def test_held_back_prefix_is_released_when_it_does_not_complete() -> None:
    stream = StopStringStream(["STOP"])
    assert stream.feed("go ST") == "go "
    assert stream.feed("go STAY") == "STAY"


def test_earliest_of_several_stops_wins() -> None:
    assert feed_all(StopStringStream(["b", "a"]), ["xxab"]) == "xx"


def test_incomplete_utf8_is_held_until_complete() -> None:
    stream = StopStringStream()
    assert stream.feed("caf\ufffd") == "caf"
    assert stream.feed("café") == "é"


def test_context_length_error_says_by_how_much() -> None:
    check_context_length(10, 10, 20)
    with pytest.raises(ContextLengthExceededError, match="5 too many"):
        check_context_length(15, 10, 20)
