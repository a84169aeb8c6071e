import math

import numpy as np
import pytest

from echoray.cognition.affect import (
    ANCHOR_LEVEL,
    DEFAULT_ANCHORS,
    AffectModel,
    AxisAnchors,
    color_query,
    congruence,
)
from echoray.cognition.state import Affect
from echoray.embeddings.hashed import HashEmbedder
from tests.unit.cognition.factory import state

# Each keyword owns one dimension; the last one is a baseline every text has.
KEYWORDS = ["happy", "sad", "excited", "calm", "boss", "helpless"]
DIM = len(KEYWORDS) + 1
ANCHORS = (
    AxisAnchors(positive=("happy",), negative=("sad",)),
    AxisAnchors(positive=("excited",), negative=("calm",)),
    AxisAnchors(positive=("boss",), negative=("helpless",)),
)


class FakeEmbed:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        rows = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, text in zip(rows, texts, strict=True):
            for i, word in enumerate(KEYWORDS):
                row[i] = text.split().count(word)
            row[-1] = 1.0
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.fixture
def embed() -> FakeEmbed:
    return FakeEmbed()


@pytest.fixture
def model(embed: FakeEmbed) -> AffectModel:
    return AffectModel.from_embed(embed, ANCHORS)


def test_anchors_are_embedded_once_into_unit_axes(embed: FakeEmbed, model: AffectModel) -> None:
    assert embed.calls == 1
    assert model.axes.shape == (3, DIM)
    # Valence runs from "sad" to "happy": (e_happy - e_sad) / sqrt(2).
    expected = np.zeros(DIM)
    expected[0], expected[1] = 1 / math.sqrt(2), -1 / math.sqrt(2)
    assert np.allclose(model.axes[0], expected, atol=1e-6)
    assert np.allclose(np.linalg.norm(model.axes, axis=1), 1.0)


def test_anchor_phrases_land_at_the_anchor_level(embed: FakeEmbed, model: AffectModel) -> None:
    scores = model.score(embed(["happy", "sad", "excited", "calm", "boss", "helpless"]))
    assert scores[0, 0] == pytest.approx(ANCHOR_LEVEL, abs=1e-5)
    assert scores[1, 0] == pytest.approx(-ANCHOR_LEVEL, abs=1e-5)
    assert scores[2, 1] == pytest.approx((1 + ANCHOR_LEVEL) / 2, abs=1e-5)
    assert scores[3, 1] == pytest.approx((1 - ANCHOR_LEVEL) / 2, abs=1e-5)
    assert scores[4, 2] == pytest.approx((1 + ANCHOR_LEVEL) / 2, abs=1e-5)
    assert scores[5, 2] == pytest.approx((1 - ANCHOR_LEVEL) / 2, abs=1e-5)


def test_a_text_without_feeling_is_neutral(embed: FakeEmbed, model: AffectModel) -> None:
    assert model.affect(embed(["the table"])[0]) == pytest.approx(Affect(0.0, 0.5, 0.5))


def test_stronger_feeling_scores_further_but_stays_in_range(
    embed: FakeEmbed, model: AffectModel
) -> None:
    mild, strong = model.score(embed(["happy", "happy happy happy happy"]))[:, 0]
    assert ANCHOR_LEVEL < strong < 1.0 and mild < strong
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(200, DIM)).astype(np.float32)
    scores = model.score(rows / np.linalg.norm(rows, axis=1, keepdims=True))
    assert scores[:, 0].min() >= -1 and scores[:, 0].max() <= 1
    assert scores[:, 1:].min() >= 0 and scores[:, 1:].max() <= 1


def test_mixed_feelings_score_on_each_axis(embed: FakeEmbed, model: AffectModel) -> None:
    angry = model.affect(embed(["sad excited"])[0])
    content = model.affect(embed(["happy calm"])[0])
    assert angry.valence < 0 < content.valence
    assert angry.arousal > 0.5 > content.arousal
    assert angry.dominance == pytest.approx(0.5) == content.dominance


def test_wrong_shapes_are_rejected(model: AffectModel) -> None:
    with pytest.raises(ValueError, match=r"\[n, 7\]"):
        model.score(np.zeros((2, 5), dtype=np.float32))
    with pytest.raises(ValueError, match="valence, arousal and dominance"):
        AffectModel.from_embed(FakeEmbed(), ANCHORS[:2])
    with pytest.raises(ValueError, match="both poles"):
        AffectModel.from_embed(FakeEmbed(), (AxisAnchors(("happy",), ()), *ANCHORS[1:]))
    with pytest.raises(ValueError, match="do not separate"):
        AffectModel.from_embed(FakeEmbed(), (AxisAnchors(("happy",), ("happy",)), *ANCHORS[1:]))


def test_default_anchors_build_with_any_embedder() -> None:
    hashed = HashEmbedder(dimension=64)
    model = AffectModel.from_embed(hashed.embed, DEFAULT_ANCHORS)
    assert model.dimension == 64
    assert all(axis.positive and axis.negative for axis in DEFAULT_ANCHORS)


def test_congruence() -> None:
    same = Affect(0.3, 0.7, 0.2)
    assert congruence(same, same) == 1.0
    assert congruence(Affect(1, 1, 1), Affect(-1, 0, 0)) == 0.0
    # Valence differs by 0.5 of its span 2: 1 - sqrt(0.5 * 0.25**2).
    a, b = Affect(0.25, 0.5, 0.5), Affect(-0.25, 0.5, 0.5)
    assert congruence(a, b) == pytest.approx(1 - math.sqrt(0.5 * 0.25**2))
    assert congruence(a, b) == congruence(b, a)
    # Valence weighs more than arousal, arousal more than dominance.
    base = Affect(0.0, 0.5, 0.5)
    assert (
        congruence(base, Affect(1.0, 0.5, 0.5))
        < congruence(base, Affect(0.0, 1.0, 0.5))
        < congruence(base, Affect(0.0, 0.5, 1.0))
    )


def test_color_query_sets_the_query_affect(embed: FakeEmbed, model: AffectModel) -> None:
    s = state()
    color_query(s, model)
    assert s.query_affect is None
    s.query_vector = embed(["sad"])[0]
    color_query(s, model)
    assert s.query_affect is not None
    assert s.query_affect.valence == pytest.approx(-ANCHOR_LEVEL, abs=1e-5)
