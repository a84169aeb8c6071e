"""Runs cognitive stages in order, times them, and isolates memory failures (cognition layer).

``run_stages`` is deliberately tiny: a stage is a name and a function over the state that
may be sync or async, so the serving layer composes the request's stages (including the
ones that call the memory actors) without a framework. Each stage's milliseconds go into
``state.timings_ms`` and to ``on_timing``, where the serving layer records a histogram.

``with_deadline`` is the failure isolation: memory that is slow or down must cost a
request its memories, never its answer. It returns None and records why in
``state.degraded``, which the trace shows the client.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from echoray.cognition.state import CognitiveState

log = logging.getLogger(__name__)

T = TypeVar("T")
StageFn = Callable[[CognitiveState], Awaitable[None] | None]
Stage = tuple[str, StageFn]
OnTiming = Callable[[str, float], None]


async def run_stages(
    state: CognitiveState, stages: Sequence[Stage], on_timing: OnTiming | None = None
) -> None:
    """Run ``stages`` in order over ``state``, awaiting the ones that return awaitables.

    A stage's time is recorded even when it raises; the exception then propagates and
    later stages do not run (a stage error is a bug; expected failures go through
    ``with_deadline``).
    """
    for name, stage in stages:
        started = time.perf_counter()
        try:
            result = stage(state)
            if inspect.isawaitable(result):
                await result
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            state.timings_ms[name] = elapsed_ms
            if on_timing is not None:
                on_timing(name, elapsed_ms)


async def with_deadline(
    awaitable: Awaitable[T], deadline_s: float, state: CognitiveState, what: str
) -> T | None:
    """The awaitable's result, or None if it takes longer than ``deadline_s`` or raises.

    On a timeout ``state.degraded`` gets "<what>: timed out after <ms> ms" and the work is
    cancelled; on an exception, "<what>: <ErrorClass>: <message>" (logged with its
    traceback). Cancellation of the caller itself still propagates.
    """
    try:
        return await asyncio.wait_for(awaitable, timeout=deadline_s)
    except TimeoutError:
        state.degraded.append(f"{what}: timed out after {deadline_s * 1000:.0f} ms")
    except Exception as exc:
        log.warning("%s failed; going on without it", what, exc_info=True)
        state.degraded.append(f"{what}: {type(exc).__name__}: {exc}")
    return None
