"""Ray plumbing (serve layer): the only package of the application that imports Ray.

- ``app``: ``build_app``, the Serve application builder (``echoray.serve.app:build_app``);
- ``deployments``: the Serve deployments (gateway, inference, embedder, cognition);
- ``shard``: the ``MemoryShard`` actors and the client that routes and retries calls;
- ``consolidator``: the ``Consolidator`` actor, which runs consolidation as Ray tasks.

Everything these wrap is plain Python, tested without a cluster.
"""
