"""The ``retrieval`` benchmark: recall of LoCoMo evidence turns by memory retrievers.

Each LoCoMo turn becomes one memory of its sample's user; each question is a query over that
sample's memories, and its evidence dialogue ids are the relevant results. The loader, the
evidence normaliser, the metrics, the two baselines and the query loop live in
``echoray.evaluation`` (so the cluster job ``python -m echoray.jobs.evaluate`` scores the same
way from an installed echoray); ``locomo``, ``evidence``, ``metrics``, ``bm25``, ``dense`` and
``evaluate`` here re-export them. Here: ``retrievers`` (the registry), ``echoray_memory``
(echoray's own memory core as a retriever), ``plot`` and ``bench`` (the runner entry point).
"""
