"""Emotional coloring with the real all-MiniLM-L6-v2 against hand-labelled sentences.

The sentences were written and labelled before the anchor phrases were tuned, and share no
sentence with them; the thresholds are what a coarse coloring must get right, not what
this model happens to score.
"""

import numpy as np
import pytest

from echoray.cognition.affect import AffectModel, congruence
from echoray.embeddings.minilm import MiniLMEmbedder

pytestmark = pytest.mark.model

POSITIVE = [
    "We just got engaged and I can't stop smiling.",
    "My daughter took her first steps today!",
    "The concert last night was absolutely magical.",
    "I finally passed my driving test.",
    "Grandma's birthday dinner was so lovely and warm.",
    "Got a raise at work, feeling great about it.",
    "The beach was sunny and the kids had a blast.",
    "I love how my new garden turned out.",
    "My best friend surprised me with a visit.",
    "We had a relaxing, cozy weekend together.",
]
NEGATIVE = [
    "My dog died this morning and I can't stop crying.",
    "I got fired today and I don't know how to pay rent.",
    "The surgery went badly and she is in pain.",
    "I failed the exam again, I feel like an idiot.",
    "Someone broke into our car last night.",
    "I'm so lonely since the divorce.",
    "The flight was cancelled and we were stuck for hours.",
    "My back hurts constantly and I can't sleep.",
    "He yelled at me in front of everyone.",
    "Our house flooded and we lost everything.",
]
EXCITED = [
    "The building is on fire, everyone get out now!",
    "I just won the lottery, I'm screaming!",
    "We were riding the roller coaster and I was shrieking.",
    "I am absolutely furious about what they did.",
    "My heart is pounding, the interview starts in one minute.",
    "The crowd went wild when the goal was scored.",
]
CALM = [
    "I spent the afternoon reading quietly by the window.",
    "The lake was still and the evening was peaceful.",
    "I took a slow nap on the sofa.",
    "We sipped tea and watched the rain.",
    "Nothing much happened today, just a quiet day at home.",
    "I meditated for twenty minutes and felt at ease.",
]
IN_CONTROL = [
    "I led the meeting and everyone followed my plan.",
    "I negotiated my salary and got what I asked for.",
    "I fixed the engine myself in an hour.",
    "I told the landlord my terms and he agreed.",
]
HELPLESS = [
    "The bank froze my account and nobody will help me.",
    "I'm stuck waiting and there is nothing I can do about it.",
    "They made the decision without asking me.",
    "The storm knocked out the power and we just had to wait.",
]


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture(scope="module")
def model(minilm: MiniLMEmbedder) -> AffectModel:
    return AffectModel.from_embed(minilm.embed)


def _axis(model: AffectModel, minilm: MiniLMEmbedder, texts: list[str], axis: int) -> np.ndarray:
    return model.score(minilm.embed(texts))[:, axis]


def test_valence_separates_pleasant_from_unpleasant(
    model: AffectModel, minilm: MiniLMEmbedder
) -> None:
    positive = _axis(model, minilm, POSITIVE, 0)
    negative = _axis(model, minilm, NEGATIVE, 0)
    right_sign = int((positive > 0).sum() + (negative < 0).sum())
    assert right_sign / (len(POSITIVE) + len(NEGATIVE)) >= 0.8
    assert positive.mean() - negative.mean() >= 0.5


def test_arousal_separates_excited_from_calm(model: AffectModel, minilm: MiniLMEmbedder) -> None:
    excited = _axis(model, minilm, EXCITED, 1)
    calm = _axis(model, minilm, CALM, 1)
    assert excited.mean() - calm.mean() >= 0.2
    # Most excited sentences outscore most calm ones, not just on average.
    assert np.mean(excited[:, None] > calm[None, :]) >= 0.8


def test_dominance_leans_the_right_way(model: AffectModel, minilm: MiniLMEmbedder) -> None:
    in_control = _axis(model, minilm, IN_CONTROL, 2)
    helpless = _axis(model, minilm, HELPLESS, 2)
    assert in_control.mean() > helpless.mean()


def test_congruent_feelings_match(model: AffectModel, minilm: MiniLMEmbedder) -> None:
    joy, grief, glee = (
        model.affect(v)
        for v in minilm.embed(
            [
                "We won the championship, best day ever!",
                "I miss my late father every single day.",
                "Hooray, the whole family is coming for the holidays!",
            ]
        )
    )
    assert congruence(joy, glee) > congruence(joy, grief)
