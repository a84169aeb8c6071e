"""The real all-MiniLM-L6-v2 embedder, loaded offline from its PyPI package."""

import numpy as np
import pytest

from echoray.api.local import make_local_app
from echoray.embeddings.minilm import MiniLMEmbedder
from echoray.services.local import make_local_hosts
from tests.helpers import asgi_clients, fake_config

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def test_meaning_decides_similarity(minilm: MiniLMEmbedder) -> None:
    vectors = minilm.embed(
        [
            "My dog loves playing fetch in the park.",
            "The puppy enjoys chasing balls outside.",
            "Quarterly tax filings are due in April.",
        ]
    )
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3


async def test_openai_client_embeddings_in_process(minilm: MiniLMEmbedder) -> None:
    config = fake_config()
    http, client = asgi_clients(make_local_app(config, make_local_hosts(config), minilm))
    async with http:
        reply = await client.embeddings.create(model="all-minilm-l6-v2", input=["hi there", "bye"])
    direct = minilm.embed(["hi there"])[0]
    assert np.allclose(reply.data[0].embedding, direct, atol=1e-5)
    assert reply.usage.prompt_tokens == minilm.count_tokens(["hi there", "bye"])


def test_one_text_alone_and_in_a_batch_give_the_same_vector(minilm: MiniLMEmbedder) -> None:
    texts = [
        "hi",
        "Where does my sister Lena live these days?",
        "A much longer sentence about Biscuit the beagle, who chewed my orange trail "
        "running shoes to pieces last week in Lisbon, and then slept all afternoon.",
        "word " * 400,  # over the 256-token window: truncated the same way
    ]
    batched = minilm.embed(texts)  # a padded batch: padding must not change a vector
    for text, expected in zip(texts, batched, strict=True):
        single = minilm.embed([text])
        assert single.shape == (1, 384) and single.dtype == np.float32
        assert np.allclose(single[0], expected, atol=1e-5)
