"""The typed shard API and ``MemoryShardCore`` agree, and only its methods can be called."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from echoray.memory.api import (
    CONTROL_METHODS,
    USER_METHODS,
    ShardAPI,
    ShardControl,
    bind_control,
    bind_user,
    invoke,
)
from echoray.memory.core import MemoryShardCore


def _params(function: Any) -> list[str]:
    return [name for name in inspect.signature(function).parameters if name != "self"]


@pytest.mark.parametrize("method", sorted(USER_METHODS))
def test_every_user_method_is_the_cores_with_tenant_and_user_first(method: str) -> None:
    core = getattr(MemoryShardCore, method)
    assert _params(core) == ["tenant", "user", *_params(getattr(ShardAPI, method))]


@pytest.mark.parametrize("method", sorted(CONTROL_METHODS))
def test_every_control_method_is_the_cores_as_declared(method: str) -> None:
    assert _params(getattr(MemoryShardCore, method)) == _params(getattr(ShardControl, method))


def test_the_api_has_the_methods_callers_use() -> None:
    assert {"add", "search", "recall_for_chat", "capture", "apply_feedback"} <= USER_METHODS
    assert {"begin_consolidation", "find_experience"} <= CONTROL_METHODS
    assert not USER_METHODS & CONTROL_METHODS


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple[Any, ...]]] = []

    async def __call__(self, method: str, args: tuple[Any, ...]) -> Any:
        self.sent.append((method, args))
        return len(args)


async def test_a_bound_user_sends_tenant_and_user_first() -> None:
    send = Recorder()
    shard = bind_user(send, "acme", "alice")
    assert await shard.get("m1") == 3
    assert await shard.delete_user() == 2
    assert send.sent == [("get", ("acme", "alice", "m1")), ("delete_user", ("acme", "alice"))]


async def test_a_bound_shard_refuses_what_is_not_in_its_api() -> None:
    user, control = bind_user(Recorder(), "acme", "alice"), bind_control(Recorder())
    with pytest.raises(AttributeError):
        user.begin_consolidation  # noqa: B018  (a control method, not a user's)
    with pytest.raises(AttributeError):
        control.add  # noqa: B018
    with pytest.raises(AttributeError):
        user.rebuild  # noqa: B018  (public on the core, but not part of the API)


async def test_invoke_calls_only_api_methods_and_awaits_coroutines() -> None:
    class Target:
        def ping(self) -> int:
            return 7

        async def consolidation_pressure(self) -> int:
            return 3

        def rebuild(self) -> None:
            raise AssertionError("must not be reachable")

    assert await invoke(Target(), "ping", ()) == 7
    assert await invoke(Target(), "consolidation_pressure", ()) == 3
    with pytest.raises(AttributeError):
        await invoke(Target(), "rebuild", ())
