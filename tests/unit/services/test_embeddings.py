"""``/v1/embeddings`` in process with the hash embedder, through the official client."""

import base64

import numpy as np
import openai
import pytest

from echoray.api.local import make_local_app
from echoray.embeddings.hashed import HashEmbedder
from echoray.services.local import make_local_hosts
from tests.helpers import asgi_clients, fake_config


def test_hash_embedder_is_deterministic_and_normalised() -> None:
    embedder = HashEmbedder()
    vectors = embedder.embed(["the cat sat", "the cat sat", "quantum physics"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert np.array_equal(vectors[0], vectors[1])
    assert float(vectors[0] @ vectors[2]) < 0.5


@pytest.fixture
async def clients():
    config = fake_config(embeddings={"kind": "hash", "max_inputs": 3, "max_input_chars": 50})
    app = make_local_app(config, make_local_hosts(config), HashEmbedder("all-minilm-l6-v2"))
    http, client = asgi_clients(app)
    async with http:
        yield http, client


async def test_openai_client_gets_vectors_for_a_string_and_a_list(clients) -> None:
    _, client = clients
    one = await client.embeddings.create(model="all-minilm-l6-v2", input="hello world")
    assert len(one.data) == 1 and len(one.data[0].embedding) == 384
    many = await client.embeddings.create(model="all-minilm-l6-v2", input=["a b", "hello world"])
    assert [d.index for d in many.data] == [0, 1]
    assert np.allclose(many.data[1].embedding, one.data[0].embedding, atol=1e-6)
    assert many.usage.prompt_tokens == 4


async def test_float_and_base64_encodings_agree(clients) -> None:
    http, _ = clients
    body = {"model": "all-minilm-l6-v2", "input": "same text"}
    floats = (await http.post("/v1/embeddings", json=body)).json()["data"][0]["embedding"]
    encoded = (await http.post("/v1/embeddings", json={**body, "encoding_format": "base64"})).json()
    decoded = np.frombuffer(base64.b64decode(encoded["data"][0]["embedding"]), dtype="<f4")
    assert np.allclose(decoded, floats)


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"model": "nope", "input": "x"}, 404, "model"),
        ({"model": "all-minilm-l6-v2", "input": []}, 422, "input"),
        ({"model": "all-minilm-l6-v2", "input": ["a", "b", "c", "d"]}, 422, "input"),
        ({"model": "all-minilm-l6-v2", "input": "x" * 51}, 422, "input"),
        ({"model": "all-minilm-l6-v2", "input": "x", "dimensions": 12}, 422, "dimensions"),
        ({"model": "all-minilm-l6-v2", "input": [1, 2, 3]}, 422, "input.str"),
    ],
)
async def test_bad_embedding_requests(clients, body: dict, status: int, param: str) -> None:
    http, _ = clients
    response = await http.post("/v1/embeddings", json=body)
    assert response.status_code == status
    assert response.json()["error"]["param"] == param


async def test_models_list_includes_the_embedding_model(clients) -> None:
    _, client = clients
    models = {m.id: m for m in (await client.models.list()).data}
    assert set(models) == {"fake", "all-minilm-l6-v2"}


async def test_embeddings_off_is_a_404() -> None:
    config = fake_config()
    http, client = asgi_clients(make_local_app(config, make_local_hosts(config)))
    async with http:
        with pytest.raises(openai.NotFoundError):
            await client.embeddings.create(model="all-minilm-l6-v2", input="x")
