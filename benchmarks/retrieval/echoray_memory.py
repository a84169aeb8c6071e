"""Adapter slot for echoray's own memory search, measured against the two baselines.

echoray's memory search does not exist yet, so this factory reports it unavailable and the
benchmark measures only the baselines. When the memory issue lands, replace the body of
``make_echoray_retriever`` with an adapter that stores each Memory (id, text, created_at)
under one user per sample and returns its ranked ids; do not fake it with a baseline.
"""

from __future__ import annotations

from benchmarks.retrieval.retrievers import Retriever, RetrieverUnavailable

NOT_THERE_YET = "echoray memory search: not there yet (memory issue pending)"


def make_echoray_retriever() -> Retriever:
    """Return echoray's memory search as a Retriever.

    Raises:
        RetrieverUnavailable: always, until echoray ships a memory search and the adapter
            here is written.
    """
    raise RetrieverUnavailable(NOT_THERE_YET)
