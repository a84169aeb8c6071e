"""The cognitive pipeline's pure stages (cognition layer: plain Python and numpy, no Ray).

Each stage is a function over one ``CognitiveState`` that fills or reorders part of it, so
every stage is testable alone and the serving layer only decides the order and timing:

- ``affect``: emotional coloring (valence, arousal, dominance) from embeddings;
- ``resonance``: one score per recalled memory from relevance, recency, importance,
  affect and strength;
- ``goals``: a boost for memories that serve the user's stated goals;
- ``coherence``: drops near-duplicates and superseded facts, then picks a diverse set (MMR);
- ``context``: fits the picked memories and earlier turns into the token budget;
- ``importance``: how much a new memory matters, at write time;
- ``pipeline``: runs stages in order, times them, and isolates memory failures;
- ``trace``: the ``echo`` object that tells a client what memory did and why.

A request runs them as: take the query, embed it, color it, recall, ``resonate``,
``align_goals``, ``check_coherence``, ``build_context``, then generate.
"""
