"""Inference engines behind one protocol (engine layer; imports no Ray).

``make_engine`` picks the implementation from a model spec's ``engine.kind``; heavy
libraries (torch, vllm) load only when that engine is made.
"""

from echoray.engines.base import Engine, GenerationChunk, GenerationRequest, SamplingParams
from echoray.engines.factory import make_engine

__all__ = ["Engine", "GenerationChunk", "GenerationRequest", "SamplingParams", "make_engine"]
