"""Retrieval evaluation over LoCoMo-format files (plain Python; no Ray, nothing heavy at import).

Shared by the ``retrieval`` benchmark (``benchmarks/retrieval``), the cluster job
``python -m echoray.jobs.evaluate`` and the evaluation notebook, so every one of them
scores the same way:

- ``locomo``: the loader (samples, memories, scoped questions, session dates and turn times);
- ``evidence``: the evidence-id normaliser real files need;
- ``metrics``: recall@k, all-found@k, MRR, aggregated per category;
- ``bm25`` and ``dense``: the two baseline retrievers (BM25, exact MiniLM cosine);
- ``evaluate``: the ``Retriever`` protocol and the timed query loop.
"""
