"""echoray: a Ray-based, memory-augmented, OpenAI-compatible LLM serving cluster.

Importing this package is cheap on purpose: it imports none of ray, torch, vllm or
lancedb. Those load only in the modules that need them (engines, serve, memory).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
