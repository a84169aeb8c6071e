"""A real echoray on a real port, for the tests whose clients are other programs (a
Prometheus scraping ``/metrics``, a browser loading ``/dashboard``).

The local app (fake engine, hashing embedder, real LanceDB shards in a temporary folder)
runs under uvicorn in a thread with its own event loop; the engine hosts start in that
loop, as they would in the server's. ``LiveServer.call`` runs a coroutine there (to
drain captures, for example).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Collection, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import FastAPI

from echoray.api.local import make_local_app
from echoray.config import EchoRayConfig
from echoray.embeddings.hashed import HashEmbedder
from echoray.services.local import make_local_hosts, make_local_shards

START_TIMEOUT_S = 60


@dataclass
class LiveServer:
    url: str
    app: FastAPI
    loop: asyncio.AbstractEventLoop

    def call(self, coroutine: Coroutine[Any, Any, Any], timeout_s: float = 60) -> Any:
        """Run ``coroutine`` on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout_s)

    def drain(self) -> None:
        """Wait until every memory chat's capture is stored."""
        self.call(self.app.state.chat_memory.drain())


@contextmanager
def live_echoray(
    config: EchoRayConfig, still_loading: Collection[str] = ()
) -> Iterator[LiveServer]:
    """Serve the local app on 127.0.0.1 at a free port until the block ends, once every
    model is loaded but those named in ``still_loading`` (they load in the background)."""
    started = threading.Event()
    found: dict[str, Any] = {}

    async def main() -> None:
        try:
            hosts = make_local_hosts(config)
            for name, host in hosts.items():
                host.start_background()
                if name not in still_loading:
                    await host.wait_ready()
            embedder = HashEmbedder()
            shards = make_local_shards(config, embedder.dimension)
            app = make_local_app(config, hosts, embedder, shards)
            server = uvicorn.Server(
                uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
            )
            found.update(app=app, server=server, loop=asyncio.get_running_loop())
            serving = asyncio.create_task(server.serve())
            while not server.started and not serving.done():
                await asyncio.sleep(0.02)
            if serving.done():
                serving.result()  # raises why it did not start
            found["port"] = server.servers[0].sockets[0].getsockname()[1]
        except BaseException as error:
            found["error"] = error
            raise
        finally:
            started.set()
        await serving

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    if not started.wait(START_TIMEOUT_S):
        raise TimeoutError(f"echoray did not start in {START_TIMEOUT_S} s")
    if "error" in found:
        raise RuntimeError("echoray did not start") from found["error"]
    live = LiveServer(f"http://127.0.0.1:{found['port']}", found["app"], found["loop"])
    try:
        yield live
    finally:
        found["server"].should_exit = True
        thread.join(30)
