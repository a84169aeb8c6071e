"""Shard and Consolidator actor names: one set per memory layout in a Ray cluster."""

from __future__ import annotations

from echoray.config import config_from_args
from echoray.serve.names import consolidator_name, shard_name


def layout(uri: str, shards: int = 2):
    return config_from_args({"storage": {"uri": uri}, "memory": {"num_shards": shards}})


def test_apps_with_the_same_storage_share_actors() -> None:
    a, b = layout("/data/echoray"), layout("/data/echoray")
    assert shard_name(a, 1) == shard_name(b, 1)
    assert consolidator_name(a) == consolidator_name(b)


def test_other_storage_or_shard_count_gets_its_own_actors() -> None:
    base = layout("/data/echoray")
    for other in (layout("/data/other"), layout("/data/echoray", shards=4)):
        assert shard_name(other, 0) != shard_name(base, 0)
        assert consolidator_name(other) != consolidator_name(base)
    assert shard_name(base, 0) != shard_name(base, 1)
    assert shard_name(base, 0).startswith("echoray-memory-")
