"""Emotional coloring from embeddings alone (cognition layer).

Each of the three axes of the valence-arousal-dominance model is a direction in embedding
space: the mean embedding of short phrases at one pole (e.g. "I feel wonderful and happy")
minus the mean at the other ("I feel miserable and sad"), normalised. A text's score on an
axis is its projection on that direction, centred on the midpoint between the two poles and
squashed by ``tanh`` with a gain that maps the typical anchor phrase to ``±ANCHOR_LEVEL``.
No extra model and no labelled data are needed: the anchors are embedded once, at start,
with the same embedder that embeds memories, and scoring is one small matrix product.

The scores are coarse (they say "clearly pleasant", "clearly upsetting", "agitated",
"calm"); they color recall, they do not diagnose. ``tests/integration/test_affect_minilm.py``
checks them against hand-labelled sentences with the real model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from echoray.cognition.state import Affect, CognitiveState

Embed = Callable[[list[str]], np.ndarray]

# A typical anchor phrase lands at tanh(gain * half_span) = ANCHOR_LEVEL on its axis, so
# texts more clearly emotional than the anchors still have room above them.
ANCHOR_LEVEL = 0.75

# Congruence weighs valence most: mood-congruent recall is mostly about pleasant versus
# unpleasant, less about how agitated or in control one feels.
CONGRUENCE_WEIGHTS = (0.5, 0.3, 0.2)


@dataclass(frozen=True)
class AxisAnchors:
    """Phrases at the two poles of one axis."""

    positive: tuple[str, ...]
    negative: tuple[str, ...]


VALENCE_ANCHORS = AxisAnchors(
    positive=(
        "I feel wonderful and happy.",
        "This is great news, I am delighted.",
        "I love it, it fills me with joy.",
        "What a lovely, pleasant time.",
        "I am grateful and content.",
        "Everything went well and I am proud.",
    ),
    negative=(
        "I feel terrible and sad.",
        "This is awful news, I am upset.",
        "I hate it, it makes me miserable.",
        "What a painful, horrible time.",
        "I am hurt, scared and disappointed.",
        "Everything went wrong and I am ashamed.",
    ),
)

AROUSAL_ANCHORS = AxisAnchors(
    positive=(
        "I am so excited I can barely sit still.",
        "This is thrilling and intense!",
        "I am furious and shaking with rage!",
        "I am terrified and panicking!",
        "What a wild, frantic rush!",
        "Screaming, shouting, running, hurry!",
    ),
    negative=(
        "I feel calm and relaxed.",
        "It is quiet and peaceful.",
        "I am sleepy and drowsy.",
        "Everything is slow and still.",
        "I feel bored and sluggish.",
        "A gentle, soothing, lazy moment.",
    ),
)

DOMINANCE_ANCHORS = AxisAnchors(
    positive=(
        "I am in control of the situation.",
        "I feel confident and powerful.",
        "I can handle this, I am in charge.",
        "I decided and I made it happen.",
    ),
    negative=(
        "I feel helpless and powerless.",
        "I have no control over what happens.",
        "I am overwhelmed and cannot cope.",
        "Others decide for me and I can do nothing.",
    ),
)

DEFAULT_ANCHORS = (VALENCE_ANCHORS, AROUSAL_ANCHORS, DOMINANCE_ANCHORS)


class AffectModel:
    """Scores unit embeddings on valence, arousal and dominance.

    Args:
        axes: [3, dim] unit directions, valence, arousal, dominance.
        midpoints: [3] projection that scores neutral on each axis.
        gains: [3] tanh gain per axis.
    """

    def __init__(self, axes: np.ndarray, midpoints: np.ndarray, gains: np.ndarray) -> None:
        axes = np.asarray(axes, dtype=np.float32)
        if axes.ndim != 2 or axes.shape[0] != 3:
            raise ValueError(f"axes must have shape [3, dim], not {axes.shape}")
        self.axes = axes
        self.midpoints = np.asarray(midpoints, dtype=np.float32).reshape(3)
        self.gains = np.asarray(gains, dtype=np.float32).reshape(3)

    @property
    def dimension(self) -> int:
        """Length of the vectors this model scores."""
        return int(self.axes.shape[1])

    @classmethod
    def from_embed(
        cls, embed: Embed, anchors: Sequence[AxisAnchors] = DEFAULT_ANCHORS
    ) -> AffectModel:
        """Build the model by embedding the anchor phrases once (one ``embed`` call).

        Raises:
            ValueError: not three axes, an axis without phrases at both poles, or poles
                whose embeddings do not separate.
        """
        if len(anchors) != 3:
            raise ValueError("anchors must give valence, arousal and dominance, in that order")
        texts: list[str] = []
        for axis in anchors:
            if not axis.positive or not axis.negative:
                raise ValueError("every axis needs anchor phrases at both poles")
            texts += [*axis.positive, *axis.negative]
        vectors = np.asarray(embed(texts), dtype=np.float32)
        rows, midpoints, gains = [], [], []
        start = 0
        for axis in anchors:
            pos = vectors[start : start + len(axis.positive)]
            start += len(axis.positive)
            neg = vectors[start : start + len(axis.negative)]
            start += len(axis.negative)
            direction = pos.mean(axis=0) - neg.mean(axis=0)
            norm = float(np.linalg.norm(direction))
            if norm < 1e-6:
                raise ValueError(f"anchor poles do not separate: {axis.positive[0]!r}")
            direction /= norm
            # The mean projection of each pole's phrases; the axis is centred between them.
            high = float((pos @ direction).mean())
            low = float((neg @ direction).mean())
            rows.append(direction)
            midpoints.append((high + low) / 2)
            gains.append(math.atanh(ANCHOR_LEVEL) / ((high - low) / 2))
        return cls(np.stack(rows), np.array(midpoints), np.array(gains))

    def score(self, vectors: np.ndarray) -> np.ndarray:
        """[n, 3] float32: valence in [-1, 1], arousal and dominance in [0, 1].

        Raises:
            ValueError: ``vectors`` is not [n, dimension].
        """
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
            raise ValueError(f"vectors must have shape [n, {self.dimension}], not {vectors.shape}")
        signed: np.ndarray = np.tanh(self.gains * (vectors @ self.axes.T - self.midpoints))
        # Arousal and dominance run 0..1 (calm .. excited, helpless .. in control).
        signed[:, 1:] = (signed[:, 1:] + 1) / 2
        return signed

    def affect(self, vector: np.ndarray) -> Affect:
        """The coloring of one vector."""
        valence, arousal, dominance = self.score(np.asarray(vector).reshape(1, -1))[0]
        return Affect(float(valence), float(arousal), float(dominance))


def congruence(a: Affect, b: Affect) -> float:
    """How alike two feelings are, in [0, 1]: 1 is the same, 0 is opposite on every axis.

    One minus the weighted root-mean-square difference, each axis scaled to [0, 1] (valence
    spans 2) and weighted by ``CONGRUENCE_WEIGHTS``.
    """
    diffs = (
        abs(a.valence - b.valence) / 2,
        abs(a.arousal - b.arousal),
        abs(a.dominance - b.dominance),
    )
    distance = math.sqrt(sum(w * d * d for w, d in zip(CONGRUENCE_WEIGHTS, diffs, strict=True)))
    return min(1.0, max(0.0, 1.0 - distance))


def color_query(state: CognitiveState, model: AffectModel) -> None:
    """Stage: set ``state.query_affect`` from ``state.query_vector`` (no-op without one)."""
    if state.query_vector is not None:
        state.query_affect = model.affect(state.query_vector)
