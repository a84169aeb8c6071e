"""Conversation structure: speakers per owner, and the turn before each memory in its session."""

from __future__ import annotations

import numpy as np

from echoray.memory.conversation import NO_SPEAKER, Speakers, previous_docs, session_order

ANA_OWNER = (0, 1)  # (tenant code, user code)
OTHER_OWNER = (0, 2)


def test_speakers_get_stable_codes_shared_by_owners() -> None:
    speakers = Speakers()
    assert speakers.add(ANA_OWNER, "Ana") == 0
    assert speakers.add(ANA_OWNER, "Bob") == 1
    assert speakers.add(OTHER_OWNER, "Bob") == 1
    assert speakers.add(ANA_OWNER, "Ana") == 0
    assert speakers.add(ANA_OWNER, None) == NO_SPEAKER


def test_an_owners_speakers_come_most_memories_first() -> None:
    speakers = Speakers()
    speakers.add(ANA_OWNER, "Ana")
    for _ in range(2):
        speakers.add(ANA_OWNER, "Bob")
    speakers.add(OTHER_OWNER, "Cleo")
    assert speakers.of(ANA_OWNER) == ["Bob", "Ana"]
    assert speakers.of(OTHER_OWNER) == ["Cleo"]
    assert speakers.of((0, 99)) == []
    assert speakers.of(None) == []


def test_removing_a_memory_uncounts_its_speaker() -> None:
    speakers = Speakers()
    ana = speakers.add(ANA_OWNER, "Ana")
    bob = speakers.add(ANA_OWNER, "Bob")
    speakers.add(ANA_OWNER, "Bob")
    speakers.remove(ANA_OWNER, bob)
    speakers.remove(ANA_OWNER, bob)
    assert speakers.of(ANA_OWNER) == ["Ana"]
    speakers.remove(ANA_OWNER, NO_SPEAKER)  # ignored
    speakers.remove(OTHER_OWNER, ana)  # an owner without memories: ignored
    assert speakers.of(ANA_OWNER) == ["Ana"]


def test_removing_an_owners_last_memory_drops_the_owner() -> None:
    speakers = Speakers()
    ana = speakers.add(ANA_OWNER, "Ana")
    speakers.remove(ANA_OWNER, ana)
    assert speakers.of(ANA_OWNER) == []
    assert ANA_OWNER not in speakers._counts  # nothing kept per departed owner
    assert speakers.add(ANA_OWNER, "Ana") == ana
    assert speakers.of(ANA_OWNER) == ["Ana"]


def test_each_memory_follows_the_one_before_it_in_its_session() -> None:
    # doc: session, created
    #  10: 0, 100    11: 1, 100    12: 0, 300    13: 1, 50
    #  14: 0, 200    15: 0, 200    16: none, 0   17: none, 1
    # session 0 by time: 10, 14, 15 (equal time: doc order), 12; session 1: 13, 11.
    # Rows without a session (code -1) follow nothing, though they share the code.
    rows = {10: (0, 100), 11: (1, 100), 12: (0, 300), 13: (1, 50)}
    rows |= {14: (0, 200), 15: (0, 200), 16: (-1, 0), 17: (-1, 1)}
    shuffled = [12, 10, 17, 15, 11, 14, 16, 13]
    docs = np.array(shuffled)
    session = np.array([rows[d][0] for d in shuffled])
    created = np.array([rows[d][1] for d in shuffled])
    sorted_docs, previous = session_order(docs, session, created, no_session=-1)
    assert sorted_docs.tolist() == [10, 11, 12, 13, 14, 15, 16, 17]
    assert previous.tolist() == [-1, 13, 15, -1, 10, 14, -1, -1]


def test_previous_docs_look_up_wanted_docs_and_unknown_ones_get_none() -> None:
    order = (np.array([10, 11, 14]), np.array([-1, 10, 11]))
    wanted = np.array([14, 5, 12, 11, 99, 10])
    assert previous_docs(order, wanted).tolist() == [11, -1, -1, 10, -1, -1]


def test_previous_docs_of_an_empty_order_are_all_none() -> None:
    empty = session_order(np.array([], np.int64), np.array([], np.int64), np.array([]), -1)
    assert previous_docs(empty, np.array([3, 4])).tolist() == [-1, -1]
    assert previous_docs(empty, np.array([], np.int64)).tolist() == []
