"""``refresh_scrape_metrics``: what ``/metrics`` reads from other components before it
renders (application tier, plain Python).

The engines' queues, the shards' sizes and consolidation's counters live in other
processes under Ray; each scrape asks them all at once, each bounded by
``SCRAPE_TIMEOUT_S``, so a busy or lost component delays a scrape by at most that much
and never fails it (its gauges keep their last values; ``echoray_shard_up`` says so).
"""

from __future__ import annotations

import asyncio
import logging

from echoray.services.wiring import Services

log = logging.getLogger(__name__)
SCRAPE_TIMEOUT_S = 2.0


async def refresh_scrape_metrics(services: Services) -> None:
    calls = [services.chat.observe_engines()]
    if services.memories is not None:
        calls.append(services.memories.observe_shards(SCRAPE_TIMEOUT_S))
    if services.consolidation is not None:
        calls.append(_observe_consolidation(services))
    await asyncio.gather(*calls)


async def _observe_consolidation(services: Services) -> None:
    assert services.consolidation is not None
    try:
        status = await asyncio.wait_for(services.consolidation.status(), SCRAPE_TIMEOUT_S)
    except Exception:
        log.debug("no consolidation status for /metrics", exc_info=True)
        return
    services.metrics.consolidation.update(status)
