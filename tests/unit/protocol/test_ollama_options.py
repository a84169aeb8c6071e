"""Ollama ``options`` become the OpenAI sampling fields (``sampling_fields``)."""

from __future__ import annotations

import pytest

from echoray.errors import InvalidRequestError
from echoray.protocol.ollama import OLLAMA_DEFAULTS, sampling_fields


def test_no_options_give_ollamas_defaults() -> None:
    assert sampling_fields(None) == OLLAMA_DEFAULTS
    assert sampling_fields({}) == {"temperature": 0.8, "top_p": 0.9, "top_k": 40}


def test_known_options_map_and_unknown_ones_are_ignored() -> None:
    fields = sampling_fields(
        {
            "temperature": 0,
            "top_p": 0.5,
            "top_k": 5.0,  # some clients write integers as floats
            "seed": 42,
            "num_predict": 16,
            "stop": ["\n\n", ""],
            "presence_penalty": 0.1,
            "num_ctx": 8192,
            "mirostat": 2,
            "repeat_penalty": 1.1,
        }
    )
    assert fields == {
        "temperature": 0.0,
        "top_p": 0.5,
        "top_k": 5,
        "seed": 42,
        "max_tokens": 16,
        "stop": ["\n\n"],
        "presence_penalty": 0.1,
    }


@pytest.mark.parametrize("predict", [-1, -2])
def test_an_unbounded_num_predict_leaves_the_length_to_the_server(predict: int) -> None:
    assert "max_tokens" not in sampling_fields({"num_predict": predict})


def test_a_random_seed_and_a_single_stop_string() -> None:
    fields = sampling_fields({"seed": -1, "stop": "END"})
    assert "seed" not in fields and fields["stop"] == ["END"]


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"temperature": "hot"}, 'option "temperature" must be of type float'),
        ({"temperature": True}, 'option "temperature" must be of type float'),
        ({"top_p": float("nan")}, 'option "top_p" must be of type float'),
        ({"top_k": 1.5}, 'option "top_k" must be of type integer'),
        ({"num_predict": "10"}, 'option "num_predict" must be of type integer'),
        ({"stop": [1]}, 'option "stop" must be a list of strings'),
    ],
)
def test_a_known_option_of_the_wrong_type_is_a_400_naming_it(
    options: dict[str, object], says: str
) -> None:
    with pytest.raises(InvalidRequestError, match=says):
        sampling_fields(options)
