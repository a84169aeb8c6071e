"""The per-user speaker cache: a TTL, an LRU bound, forgetting, and lookups that fail."""

from __future__ import annotations

from collections import Counter
from typing import cast

from echoray.memory.api import Shards
from echoray.memory.speaker_names import SpeakerNames


class FakeShard:
    def __init__(self, shards: FakeShards, key: tuple[str, str]) -> None:
        self._shards, self._key = shards, key

    async def speakers(self) -> list[str]:
        self._shards.calls[self._key] += 1
        if self._shards.failing:
            raise RuntimeError("shard down")
        return list(self._shards.names.get(self._key, []))


class FakeShards:
    """Routes ``for_user`` to a shard answering ``names`` and counting calls per user."""

    def __init__(self, names: dict[tuple[str, str], list[str]] | None = None) -> None:
        self.names = names or {}
        self.calls: Counter[tuple[str, str]] = Counter()
        self.failing = False

    def for_user(self, tenant: str, user: str) -> FakeShard:
        return FakeShard(self, (tenant, user))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def cache(shards: FakeShards, clock: Clock, **options: int) -> SpeakerNames:
    return SpeakerNames(cast(Shards, shards), ttl_s=30.0, clock=clock, **options)


async def test_names_are_looked_up_once_per_ttl() -> None:
    shards, clock = FakeShards({("t", "u"): ["Ana"]}), Clock()
    names = cache(shards, clock)
    assert await names.of("t", "u") == ["Ana"]
    shards.names[("t", "u")] = ["Ana", "Bob"]
    clock.now = 29.9
    assert await names.of("t", "u") == ["Ana"]  # still cached
    assert shards.calls[("t", "u")] == 1
    clock.now = 30.0  # 30 - 0 is not under the ttl: looked up again
    assert await names.of("t", "u") == ["Ana", "Bob"]
    assert shards.calls[("t", "u")] == 2


async def test_users_are_cached_apart_by_tenant_and_user() -> None:
    shards = FakeShards({("t", "u"): ["Ana"], ("t2", "u"): ["Bob"]})
    names = cache(shards, Clock())
    assert await names.of("t", "u") == ["Ana"]
    assert await names.of("t2", "u") == ["Bob"]
    assert await names.of("t", "other") == []


async def test_the_least_recently_used_user_is_evicted_beyond_max_users() -> None:
    shards = FakeShards()
    names = cache(shards, Clock(), max_users=2)
    await names.of("t", "a")
    await names.of("t", "b")
    await names.of("t", "a")  # a is now the most recent
    await names.of("t", "c")  # evicts b
    await names.of("t", "a")
    await names.of("t", "b")
    assert shards.calls == Counter({("t", "a"): 1, ("t", "b"): 2, ("t", "c"): 1})


async def test_a_forgotten_user_is_looked_up_again() -> None:
    shards = FakeShards({("t", "u"): ["Ana"]})
    names = cache(shards, Clock())
    await names.of("t", "u")
    names.forget("t", "u")
    names.forget("t", "never seen")  # ignored
    shards.names[("t", "u")] = []
    assert await names.of("t", "u") == []
    assert shards.calls[("t", "u")] == 2


async def test_a_failed_first_lookup_counts_as_no_speakers_and_is_not_cached() -> None:
    shards = FakeShards({("t", "u"): ["Ana"]})
    names = cache(shards, Clock())
    shards.failing = True
    assert await names.of("t", "u") == []
    shards.failing = False
    assert await names.of("t", "u") == ["Ana"]
    assert shards.calls[("t", "u")] == 2


async def test_a_failed_refresh_keeps_the_cached_names() -> None:
    shards, clock = FakeShards({("t", "u"): ["Ana"]}), Clock()
    names = cache(shards, clock)
    await names.of("t", "u")
    shards.failing, clock.now = True, 31.0
    assert await names.of("t", "u") == ["Ana"]
    assert shards.calls[("t", "u")] == 2
