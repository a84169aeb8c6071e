"""The timed query loop, now in ``echoray.evaluation.evaluate`` (re-exported)."""

from echoray.evaluation.evaluate import QueryTiming, RetrieverRun, evaluate_retriever

__all__ = ["QueryTiming", "RetrieverRun", "evaluate_retriever"]
