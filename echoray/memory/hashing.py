"""Which shard owns a (tenant, user): rendezvous hashing (memory layer, pure functions).

Rendezvous (highest-random-weight) hashing scores every shard with a stable hash of
(tenant, user, shard) and picks the highest. It is the same in every process and after
every restart (blake2b, never Python's salted ``hash()``), spreads users evenly, and when
the shard count changes from N to N+1 only about 1/(N+1) of the users move.
"""

from __future__ import annotations

import hashlib


def _weight(tenant: str, user: str, shard: int) -> int:
    # Length-prefixed fields, so ("ab", "c") and ("a", "bc") never hash alike.
    parts = (tenant.encode(), user.encode(), str(shard).encode())
    payload = b"".join(len(part).to_bytes(4, "big") + part for part in parts)
    return int.from_bytes(hashlib.blake2b(payload, digest_size=8).digest(), "big")


def shard_ranking(tenant: str, user: str, num_shards: int) -> list[int]:
    """All shards, from the owner of (tenant, user) down to the last fallback.

    Raises:
        ValueError: ``num_shards`` is less than 1.
    """
    if num_shards < 1:
        raise ValueError("num_shards must be at least 1")
    return sorted(range(num_shards), key=lambda shard: (-_weight(tenant, user, shard), shard))


def shard_for(tenant: str, user: str, num_shards: int) -> int:
    """The shard (0 .. num_shards-1) that owns (tenant, user).

    Raises:
        ValueError: ``num_shards`` is less than 1.
    """
    if num_shards < 1:
        raise ValueError("num_shards must be at least 1")
    return max(range(num_shards), key=lambda shard: (_weight(tenant, user, shard), -shard))
