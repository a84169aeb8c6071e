"""A real multi-node Ray cluster on this machine: ``ray start --head`` plus worker nodes
(``ray start --address``), each its own raylet on 127.0.0.1, so a test can lose a node by
killing that node's raylet, as a crashed machine would.

Only this cluster's processes are ever signalled: they are found by the GCS port in their
command lines, so another Ray cluster on the machine (a parallel test session) is left
alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

RAY = str(Path(sys.executable).with_name("ray"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Node:
    """One started node: its raylet's port and the custom resources it advertises."""

    node_manager_port: int
    resources: dict[str, float]

    def raylet(self) -> psutil.Process:
        marker = f"--node_manager_port={self.node_manager_port}"
        for process in psutil.process_iter(["cmdline"]):
            cmdline = process.info["cmdline"] or []
            if cmdline and cmdline[0].endswith("raylet") and marker in cmdline:
                return process
        raise LookupError(f"no raylet with {marker}")


class LoopbackCluster:
    """Start with ``start_head``, add ``add_worker`` nodes, ``kill`` one, ``stop`` all."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.gcs_port = free_port()
        self.address = f"127.0.0.1:{self.gcs_port}"
        self.dashboard_port = free_port()
        self.nodes: list[Node] = []
        self._env = {**os.environ, **(env or {})}

    def _start(self, args: list[str], num_cpus: float, resources: dict[str, float]) -> Node:
        port = free_port()
        command = [
            RAY,
            "start",
            *args,
            f"--num-cpus={num_cpus}",
            f"--resources={json.dumps(resources)}",
            f"--node-manager-port={port}",
            "--node-ip-address=127.0.0.1",
            "--disable-usage-stats",
        ]
        done = subprocess.run(command, env=self._env, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
        node = Node(port, resources)
        self.nodes.append(node)
        return node

    def start_head(self, num_cpus: float, resources: dict[str, float]) -> Node:
        return self._start(
            [
                "--head",
                f"--port={self.gcs_port}",
                "--include-dashboard=true",  # the state API (which node holds an actor)
                "--dashboard-host=127.0.0.1",
                f"--dashboard-port={self.dashboard_port}",
            ],
            num_cpus,
            resources,
        )

    def add_worker(self, num_cpus: float, resources: dict[str, float]) -> Node:
        return self._start([f"--address={self.address}"], num_cpus, resources)

    def kill(self, node: Node) -> float:
        """Lose ``node`` as a crashed machine would: SIGKILL its raylet (by pid) and every
        process the raylet started (its workers and agents; an actor's worker would
        otherwise go on answering direct calls until the GCS declares the node dead).
        Returns when, on the monotonic clock."""
        raylet = node.raylet()
        processes = [raylet, *raylet.children(recursive=True)]
        for process in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        return time.monotonic()

    def stop(self) -> None:
        """Stop every process of this cluster, and only those."""
        # Ray may name the GCS by the machine's address rather than 127.0.0.1.
        markers = (
            f":{self.gcs_port} ",
            f":{self.gcs_port}\n",
            f"--gcs_server_port={self.gcs_port}",
        )
        ours = []
        for process in psutil.process_iter(["cmdline"]):
            cmdline = "".join(f"{arg}\n" for arg in process.info["cmdline"] or [])
            if any(m in cmdline for m in markers) and "pytest" not in cmdline:
                ours.append(process)
        for process in ours:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGTERM)
        _, alive = psutil.wait_procs(ours, timeout=10)
        for process in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        # `ray start --head` left its address for `ray.init()` to find; so does not `ray
        # stop`, and a later local ray.init() would try to join the dead cluster.
        current = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
        with contextlib.suppress(OSError):
            if current.read_text().strip().endswith(f":{self.gcs_port}"):
                current.unlink()
