"""Reading a query against the user's speakers: the text to embed and the plan to rank by."""

from __future__ import annotations

from datetime import UTC, datetime

from echoray.memory.query import embedding_text, plan_query
from echoray.memory.terms import terms
from echoray.memory.timewords import Period


def test_a_speakers_name_is_embedded_as_they() -> None:
    assert embedding_text("What did Ana paint?", ["Ana", "Bob"]) == "What did they paint?"


def test_a_possessive_name_is_embedded_as_their() -> None:
    assert embedding_text("Where is Ana's cat?", ["Ana"]) == "Where is their cat?"
    assert embedding_text("Where is Ana\u2019s cat?", ["Ana"]) == "Where is their cat?"


def test_names_are_replaced_whatever_their_case() -> None:
    assert embedding_text("did ANA and bob go?", ["Ana", "Bob"]) == "did they and they go?"


def test_only_whole_names_are_replaced() -> None:
    assert embedding_text("Did Anabel meet Ana?", ["Ana"]) == "Did Anabel meet they?"


def test_a_multi_word_speaker_is_matched_in_full_or_by_first_name() -> None:
    speakers = ["Ana Lopez"]
    assert embedding_text("Did Ana Lopez swim?", speakers) == "Did they swim?"
    assert embedding_text("Did Ana swim?", speakers) == "Did they swim?"


def test_a_query_without_speakers_is_embedded_as_it_is() -> None:
    assert embedding_text("What did Ana paint?", []) == "What did Ana paint?"


def test_the_plan_names_the_speakers_the_query_names() -> None:
    plan = plan_query("Did Ana paint with Bob?", ["Ana", "Bob", "Cleo"])
    assert plan.named_speakers == frozenset({"Ana", "Bob"})
    assert plan.text == "Did Ana paint with Bob?"


def test_a_named_speakers_name_is_no_lexical_term() -> None:
    plan = plan_query("What did Ana Lopez paint?", ["Ana Lopez"])
    # terms: "what", "did" are stop words, "ana" and "lopez" the speaker's: only "paint".
    assert plan.lexical_terms == tuple(terms("paint"))


def test_a_first_name_alone_names_the_full_speaker() -> None:
    plan = plan_query("What did Ana paint?", ["Ana Lopez", "Bob"])
    assert plan.named_speakers == frozenset({"Ana Lopez"})
    assert plan.lexical_terms == tuple(terms("paint"))


def test_an_unknown_name_stays_a_lexical_term() -> None:
    plan = plan_query("What did Ana paint?", ["Bob"])
    assert plan.named_speakers == frozenset()
    assert plan.lexical_terms == tuple(terms("Ana paint"))


def test_the_plan_reads_whether_the_query_asks_when_and_its_period() -> None:
    plan = plan_query("When did Ana paint in 2022?", ["Ana"])
    assert plan.asks_when
    start, end = datetime(2022, 1, 1, tzinfo=UTC), datetime(2023, 1, 1, tzinfo=UTC)
    assert plan.period == Period(start, end)
    plain = plan_query("What did Ana paint?", ["Ana"])
    assert (plain.asks_when, plain.period) == (False, None)
