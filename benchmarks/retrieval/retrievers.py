"""The registry of retrievers the benchmark measures (the ``Retriever`` protocol itself lives
in ``echoray.evaluation.evaluate`` and is re-exported here).

A retriever indexes one sample's memories, then answers queries with ranked memory ids;
``index`` replaces whatever was indexed before, so one instance serves every sample in turn
(expensive state such as a loaded model is shared). Registry entries name a zero-argument
factory as ``"module:function"``, imported only when used; a factory that cannot provide its
retriever raises :class:`RetrieverUnavailable` with a sentence for the report. Add a retriever
with one line in ``RETRIEVERS``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import MappingProxyType

from echoray.evaluation.evaluate import Retriever

# Baselines: what every other retriever is compared with in the same run, first is preferred.
BASELINES = ("dense", "bm25", "rrf")

__all__ = ["BASELINES", "RETRIEVERS", "Retriever", "RetrieverUnavailable", "make_retriever"]

RETRIEVERS: Mapping[str, str] = MappingProxyType(
    {
        "dense": "benchmarks.retrieval.dense:make_dense_retriever",
        "bm25": "benchmarks.retrieval.bm25:BM25Retriever",
        "rrf": "echoray.evaluation.rrf:make_rrf_retriever",
        "echoray": "benchmarks.retrieval.echoray_memory:make_echoray_retriever",
    }
)


class RetrieverUnavailable(RuntimeError):
    """A registered retriever cannot run here; the message goes into the report notes."""


def make_retriever(name: str, registry: Mapping[str, str] = RETRIEVERS) -> Retriever:
    """Import and call the factory registered under ``name``.

    Raises:
        KeyError: if ``name`` is not registered.
        RetrieverUnavailable: if the retriever cannot run (missing feature or dependency).
    """
    module_name, _, factory_name = registry[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise RetrieverUnavailable(f"{name}: cannot import {module_name} ({error})") from error
    retriever: Retriever = getattr(module, factory_name)()
    return retriever
