"""Time in words: turns that say when, questions that ask when or name a period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from echoray.memory.timewords import Period, asks_when, mentions_time, named_period


def day(year: int, month: int, day: int = 1) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "We went to the lake last Saturday.",
        "I started two weeks ago.",
        "It was back in 2019.",
        "See you tomorrow!",
        "We moved there in March.",
        "Every summer we camp.",
    ],
)
def test_a_turn_that_says_when_mentions_a_time(text: str) -> None:
    assert mentions_time(text)


@pytest.mark.parametrize(
    "text", ["I love painting sunsets.", "Maybe we should go.", "Agog at the news", "Call 911"]
)
def test_a_turn_without_a_date_mentions_no_time(text: str) -> None:
    assert not mentions_time(text)


@pytest.mark.parametrize(
    "question",
    [
        "When did Ana go camping?",
        "What year did they move?",
        "what month was the concert?",
        "How long ago did she start?",
    ],
)
def test_a_question_asking_for_a_time_asks_when(question: str) -> None:
    assert asks_when(question)


@pytest.mark.parametrize(
    "question", ["Where did Ana go camping?", "Whenever she paints, what does she use?"]
)
def test_a_question_not_asking_for_a_time_does_not_ask_when(question: str) -> None:
    assert not asks_when(question)


def test_in_a_year_names_that_year() -> None:
    assert named_period("What did Ana paint in 2022?") == Period(day(2022, 1), day(2023, 1))


@pytest.mark.parametrize("question", ["What did she do in May 2023?", "What happened May 2023?"])
def test_a_month_with_a_year_names_that_month(question: str) -> None:
    assert named_period(question) == Period(day(2023, 5), day(2023, 6))


def test_december_ends_at_the_next_january() -> None:
    assert named_period("Where was he in December 2022?") == Period(day(2022, 12), day(2023, 1))


@pytest.mark.parametrize(
    "question", ["What did she paint in May?", "may I ask what she painted?", "What is art?"]
)
def test_a_month_without_a_year_or_the_verb_may_names_no_period(question: str) -> None:
    assert named_period(question) is None


def test_a_period_holds_from_its_start_up_to_but_not_at_its_end() -> None:
    may = Period(day(2023, 5), day(2023, 6))
    assert may.holds(day(2023, 5, 1))
    assert may.holds(day(2023, 5, 31))
    assert not may.holds(day(2023, 6, 1))
    assert not may.holds(day(2023, 4, 30))


def test_slack_extends_a_period_past_its_end_only() -> None:
    may = Period(day(2023, 5), day(2023, 6))
    week = timedelta(days=7)
    assert may.holds(day(2023, 6, 7), week)
    assert not may.holds(day(2023, 6, 8), week)  # 2023-06-01 + 7 days is the end, excluded
    assert not may.holds(day(2023, 4, 30), week)
