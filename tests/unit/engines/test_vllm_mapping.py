"""The vLLM adapter without vLLM: the sampling mapping against a stub module, and the
clear start-up error on a machine without vllm or a GPU (this one)."""

import enum
import types
from typing import Any

import pytest

from echoray.config import ModelSpec
from echoray.engines.base import SamplingParams
from echoray.engines.factory import make_engine
from echoray.engines.vllm_engine import to_vllm_sampling
from echoray.errors import ConfigError


class _RequestOutputKind(enum.Enum):
    CUMULATIVE = 0
    DELTA = 1
    FINAL_ONLY = 2


class _StubSamplingParams:
    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs


def stub_vllm() -> types.SimpleNamespace:
    return types.SimpleNamespace(
        SamplingParams=_StubSamplingParams,
        sampling_params=types.SimpleNamespace(RequestOutputKind=_RequestOutputKind),
    )


def test_sampling_params_map_field_by_field() -> None:
    ours = SamplingParams(
        max_tokens=77,
        temperature=0.3,
        top_p=0.9,
        top_k=40,
        seed=5,
        stop=("END", "\n\n"),
        presence_penalty=0.5,
        frequency_penalty=-0.25,
    )
    mapped = to_vllm_sampling(ours, stub_vllm()).kwargs
    assert mapped == {
        "n": 1,
        "max_tokens": 77,
        "temperature": 0.3,
        "top_p": 0.9,
        "top_k": 40,
        "seed": 5,
        "stop": ["END", "\n\n"],
        "presence_penalty": 0.5,
        "frequency_penalty": -0.25,
        "output_kind": _RequestOutputKind.DELTA,
    }


def test_defaults_disable_top_k_and_stop() -> None:
    mapped = to_vllm_sampling(SamplingParams(), stub_vllm()).kwargs
    assert mapped["top_k"] == 0 and mapped["stop"] is None and mapped["seed"] is None


def test_vllm_kind_fails_at_start_with_what_to_do() -> None:
    spec = ModelSpec.model_validate({"name": "big", "engine": {"kind": "vllm"}})
    with pytest.raises(ConfigError, match=r"echoray\[vllm\]|NVIDIA GPU"):
        make_engine(spec, "/tmp/cache")
