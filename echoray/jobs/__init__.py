"""Batch jobs for ``ray job submit`` (jobs layer): each talks to a running echoray cluster
over its HTTP API with ``echoray.client``, so it runs wherever the cluster's URL is
reachable: as a Ray job on the cluster, or from a laptop.

- ``python -m echoray.jobs.ingest``: JSONL, Parquet, CSV or a folder of text files into
  memories, batched, resumable from a checkpoint;
- ``python -m echoray.jobs.evaluate``: the retrieval benchmark's metrics over a
  LoCoMo-format file, against the cluster (and optionally the local baselines);
- ``python -m echoray.jobs.consolidate``: one consolidation run, with per-shard counts.

``progress`` holds what they share: the progress lines (stderr, so ``ray job logs`` shows
them), the closing summary, retries and exit codes (0 done, 1 failed, 2 bad input).
"""
