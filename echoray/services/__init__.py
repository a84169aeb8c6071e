"""The application tier (plain Python, no Ray): what the HTTP routes call.

- ``chat``: OpenAI chat and text completions over named model clients;
- ``memory_chat``: a chat that names a ``user``, the cognitive pipeline around inference;
- ``memories``: the memory API over the shards and the embedder;
- ``embeddings``: ``POST /v1/embeddings``;
- ``metrics``: the gateway's Prometheus registry;
- ``wiring``: ``make_services``, the one place that composes them, used both by the
  Serve gateway and by the in-process app;
- ``local``: the in-process clients (engines, embedder, shards in this process).
"""
