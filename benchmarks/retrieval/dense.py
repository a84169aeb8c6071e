"""The dense baseline, now in ``echoray.evaluation.dense`` (re-exported; the registry names
it here)."""

from echoray.evaluation.dense import (
    ENCODE_BATCH_SIZE,
    MODEL_NAME,
    DenseRetriever,
    load_minilm,
    make_dense_retriever,
)

__all__ = [
    "ENCODE_BATCH_SIZE",
    "MODEL_NAME",
    "DenseRetriever",
    "load_minilm",
    "make_dense_retriever",
]
