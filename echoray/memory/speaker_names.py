"""The speakers of each user's memories, cached where queries are embedded (memory layer).

A query is embedded with the user's speakers' names replaced by "they"
(``echoray.memory.query.embedding_text``), so the embedding happens where the names are
known. They live on the user's shard; this cache keeps them for ``ttl_s`` per user, so a
search costs one extra shard call per user per ``ttl_s`` at most. A name first spoken less
than ``ttl_s`` ago may be missed by the embedding for that long (BM25 and the speaker lift,
which run on the shard, see it at once). A failed lookup counts as no speakers: the search
then embeds the query as it is.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from echoray.memory.api import Shards

log = logging.getLogger(__name__)

DEFAULT_TTL_S = 30.0
DEFAULT_MAX_USERS = 10_000


class SpeakerNames:
    """``await names.of(tenant, user)``: the user's speakers, from a TTL cache."""

    def __init__(
        self,
        shards: Shards,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        max_users: int = DEFAULT_MAX_USERS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._shards = shards
        self._ttl_s = ttl_s
        self._max_users = max_users
        self._clock = clock
        self._cache: OrderedDict[tuple[str, str], tuple[float, list[str]]] = OrderedDict()

    async def of(self, tenant: str, user: str) -> list[str]:
        key = (tenant, user)
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self._ttl_s:
            self._cache.move_to_end(key)
            return list(cached[1])  # a copy: a caller's edit must not change the cache
        try:
            names = list(await self._shards.for_user(tenant, user).speakers())
        except Exception as error:  # a lookup that fails must not fail the search
            log.warning("speaker lookup for a user failed (%s); embedding the query as is", error)
            return list(cached[1]) if cached is not None else []
        self._cache[key] = (now, names)
        self._cache.move_to_end(key)
        while len(self._cache) > self._max_users:
            self._cache.popitem(last=False)
        return names

    def forget(self, tenant: str, user: str) -> None:
        """Drop a user's entry (their memories were deleted)."""
        self._cache.pop((tenant, user), None)
