import torch

from echoray.engines.base import SamplingParams
from echoray.engines.sampling import apply_penalties, sample_token


def test_greedy_takes_the_argmax() -> None:
    logits = torch.tensor([0.1, 3.0, 0.2])
    assert sample_token(logits, SamplingParams(temperature=0), None) == 1


def test_top_k_one_is_greedy_whatever_the_temperature() -> None:
    logits = torch.tensor([0.1, 0.2, 5.0, 0.3])
    gen = torch.Generator().manual_seed(0)
    picks = {sample_token(logits, SamplingParams(temperature=2.0, top_k=1), gen) for _ in range(20)}
    assert picks == {2}


def test_top_p_keeps_only_the_nucleus() -> None:
    logits = torch.log(torch.tensor([0.6, 0.3, 0.05, 0.05]))
    gen = torch.Generator().manual_seed(0)
    params = SamplingParams(temperature=1.0, top_p=0.8)
    picks = {sample_token(logits, params, gen) for _ in range(200)}
    assert picks == {0, 1}


def test_same_seed_same_tokens() -> None:
    logits = torch.randn(100, generator=torch.Generator().manual_seed(1))
    params = SamplingParams(temperature=1.0)

    def draw(seed: int) -> list[int]:
        gen = torch.Generator().manual_seed(seed)
        return [sample_token(logits, params, gen) for _ in range(10)]

    assert draw(7) == draw(7)
    assert draw(7) != draw(8)


def test_penalties_follow_openai_formula() -> None:
    logits = torch.zeros(3)
    counts = torch.tensor([0, 1, 3])
    params = SamplingParams(presence_penalty=0.5, frequency_penalty=0.25)
    assert apply_penalties(logits, counts, params).tolist() == [0.0, -0.75, -1.25]
