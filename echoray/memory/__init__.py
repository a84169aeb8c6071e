"""The memory layer (plain Python, no Ray): what echoray remembers and how it recalls it.

- ``schemas``: the Arrow schemas of the LanceDB tables, defined once.
- ``records``: validated records (``MemoryRecord``, ``MemoryFilter``, ``SearchHit``, …).
- ``safe``: the only place that writes a LanceDB filter string.
- ``store``: ``LanceDBStore``, the durable truth (``rows`` converts records to Arrow).
- ``working_set`` and ``lexical``: the RAM working set (exact dense search and BM25).
- ``graph`` and ``recall``: the link graph, rank fusion and associative recall.
- ``short_term``: per-session recent turns, persisted.
- ``group_commit``: concurrent writes batched into one LanceDB commit.
- ``hashing``: which shard owns a (tenant, user).
- ``bench``: search latency of the working set against a numpy scan.

Only ``echoray.serve.shard`` wraps these in Ray actors. Nothing here imports lancedb at import
time: ``LanceDBStore`` imports it in its constructor.
"""
