"""The ``retrieval`` benchmark: recall of LoCoMo evidence turns by memory retrievers.

Each LoCoMo turn becomes one memory of its sample's user; each question is a query over that
sample's memories, and its evidence dialogue ids are the relevant results. Modules: ``locomo``
(loader), ``evidence`` (evidence-id normaliser), ``metrics`` (recall@k, all-found@k, MRR),
``bm25`` and ``dense`` (baseline retrievers), ``retrievers`` (protocol and registry),
``evaluate`` (the timed query loop) and ``bench`` (the runner entry point).
"""
