"""The evidence-id normaliser, now in ``echoray.evaluation.evidence`` (re-exported)."""

from echoray.evaluation.evidence import canonical_id, normalize_evidence

__all__ = ["canonical_id", "normalize_evidence"]
