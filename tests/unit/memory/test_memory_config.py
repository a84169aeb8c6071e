"""MemoryConfig: defaults, validation and environment overrides."""

from __future__ import annotations

import pytest

from echoray.config import EchoRayConfig, MemoryConfig, config_from_args
from echoray.errors import ConfigError


def test_defaults() -> None:
    memory = EchoRayConfig().memory
    assert memory.num_shards == 2
    assert memory.rrf_k == 60
    assert memory.max_limit == 100
    assert memory.working_set_max_rows == 2_000_000


def test_every_field_is_described() -> None:
    assert all(field.description for field in MemoryConfig.model_fields.values())


def test_unknown_keys_and_bad_values_fail() -> None:
    with pytest.raises(ConfigError, match="memory"):
        config_from_args({"memory": {"num_shard": 3}})
    with pytest.raises(ConfigError, match="association_hops"):
        config_from_args({"memory": {"association_hops": 3}})


def test_environment_overrides() -> None:
    config = config_from_args(
        {}, {"ECHORAY_MEMORY__NUM_SHARDS": "4", "ECHORAY_MEMORY__RRF_K": "30"}
    )
    assert (config.memory.num_shards, config.memory.rrf_k) == (4, 30)
