"""Token counting with a model's own tokenizer, without loading the model (engine layer).

The cognitive pipeline fits recalled memories into a token budget, counted with the
tokenizer of the model that will read them. It runs in its own deployment, so it loads the
tokenizer alone: from the engine's converted-model cache when the engine has made it, from
the GGUF's metadata otherwise (no weights are read), or from a Hugging Face folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from echoray.config import ModelSpec
from echoray.engines.sources import converted_dir, resolve_source

TokenCounter = Callable[[str], int]


def load_token_counter(spec: ModelSpec, cache_dir: str | Path) -> TokenCounter:
    """A function counting the tokens of a text for ``spec``'s model (no special tokens).

    Raises:
        ConfigError: the model's source cannot be resolved.
    """
    if spec.engine.kind == "fake":
        from echoray.engines.fake import FakeEngine

        return FakeEngine(spec).count_tokens
    tokenizer = _load_tokenizer(spec, Path(cache_dir))

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    return count


def _load_tokenizer(spec: ModelSpec, cache_dir: Path) -> Any:
    from transformers import AutoTokenizer

    source = resolve_source(spec.source, cache_dir)
    if not source.is_gguf:
        return AutoTokenizer.from_pretrained(source.path)
    converted = converted_dir(source, cache_dir)
    if (converted / "tokenizer_config.json").exists():
        return AutoTokenizer.from_pretrained(converted)
    return AutoTokenizer.from_pretrained(source.path.parent, gguf_file=source.path.name)
