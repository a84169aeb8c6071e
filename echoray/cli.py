"""The ``echoray`` command: ``serve``, ``chat``, ``deploy``, ``version``.

Heavy imports (ray, openai) happen inside the subcommands, so ``echoray version`` and
``--help`` answer at once. Environment overrides (``ECHORAY_*``) are read here.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any

from echoray import __version__
from echoray.config import DEFAULT_CONFIG_PATH, DEFAULT_MODEL_NAME, EchoRayConfig, load_config
from echoray.errors import ConfigError

APP_NAME = "echoray"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"echoray: configuration error: {exc.message}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="echoray", description="echoray: memory-augmented LLM serving on Ray"
    )
    sub = parser.add_subparsers(dest="command")

    serve = sub.add_parser("serve", help="start a local Ray cluster and the Serve application")
    serve.add_argument("--config", type=Path, default=DEFAULT_CONFIG_PATH, help="Serve config YAML")
    serve.add_argument("--address", default=None, help="Ray address (default: start a local one)")
    serve.add_argument(
        "--ready-timeout", type=float, default=600, help="seconds to wait for /readyz"
    )
    serve.set_defaults(func=_serve)

    chat = sub.add_parser("chat", help="a streaming terminal chat (official openai client)")
    chat.add_argument("--url", default="http://127.0.0.1:8000", help="server base URL")
    chat.add_argument("--model", default=DEFAULT_MODEL_NAME)
    chat.add_argument("--user", default=None, help="the user memories belong to")
    chat.add_argument("--api-key", default=os.environ.get("ECHORAY_API_KEY", "none"))
    chat.add_argument("--max-tokens", type=int, default=256)
    chat.add_argument("-m", "--message", action="append", help="send this and exit (repeatable)")
    chat.set_defaults(func=_chat)

    deploy = sub.add_parser("deploy", help="render, apply and inspect KubeRay manifests")
    from echoray.deploy.cli import add_deploy_commands  # no Ray, no kubernetes client

    add_deploy_commands(deploy)

    version = sub.add_parser("version", help="print the version")
    version.set_defaults(func=lambda _args: print(f"echoray {__version__}") or 0)
    return parser


# --- serve ------------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    config = load_config(args.config, os.environ).with_absolute_paths()
    from ray import serve

    from echoray.serve.app import build_app_from_config

    application = build_app_from_config(config)  # config faults surface before Ray starts
    _start_ray(args.address)
    stop = _install_stop_handlers()
    try:
        serve.start(
            http_options={
                "host": config.server.host,
                "port": config.server.port,
                "request_timeout_s": config.limits.request_timeout_s,
            }
        )
        serve.run(application, name=APP_NAME, route_prefix="/", blocking=False)
        base = f"http://{config.server.host}:{config.server.port}"
        print("echoray: deployed; loading models (the very first start converts one, ~30 s)…")
        if _wait_ready(base, args.ready_timeout, stop):
            _print_hints(base, config)
        while not stop():
            time.sleep(0.5)
    finally:
        print("echoray: shutting down…", flush=True)
        serve.shutdown()
        import ray

        ray.shutdown()
    return 0


def _start_ray(address: str | None) -> None:
    import ray

    from echoray.serve.proxy import use_echoray_proxy_middlewares

    use_echoray_proxy_middlewares()  # inherited by the proxy when Ray starts here
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, namespace=APP_NAME)
    else:
        ray.init(namespace=APP_NAME, include_dashboard=False)


def _install_stop_handlers() -> StopFlag:
    flag = StopFlag()
    signal.signal(signal.SIGINT, flag.set)
    signal.signal(signal.SIGTERM, flag.set)
    return flag


class StopFlag:
    """Set by Ctrl-C or SIGTERM; the serve loop polls it and shuts down cleanly."""

    def __init__(self) -> None:
        self._set = False

    def set(self, _signum: int, _frame: FrameType | None) -> None:
        self._set = True

    def __call__(self) -> bool:
        return self._set


def _wait_ready(base: str, timeout: float, stop: StopFlag) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop():
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=5) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(1)
    if not stop():
        print(f"echoray: not ready after {timeout:.0f} s; see `ray status` and the Serve logs")
    return False


def _print_hints(base: str, config: EchoRayConfig) -> None:
    model = config.models[0].name
    auth = "on" if config.auth.enabled else "OFF, local use only"
    question = '{"role": "user", "content": "What is the capital of France?"}'
    print(
        f"""
echoray is ready at {base}  (model: {model}; auth {auth})

Try:
  curl -s {base}/v1/chat/completions -H 'Content-Type: application/json' \\
    -d '{{"model": "{model}", "messages": [{question}]}}'
  .venv/bin/echoray chat --url {base} --model {model}

Press Ctrl-C to stop.""",
        flush=True,
    )


# --- chat -------------------------------------------------------------------------------


def _chat(args: argparse.Namespace) -> int:
    from openai import OpenAI

    client = OpenAI(base_url=f"{args.url.rstrip('/')}/v1", api_key=args.api_key)
    history: list[Any] = []
    scripted = list(args.message or [])
    interactive = not scripted
    if interactive:
        print(f"echoray chat with {args.model} at {args.url} (Ctrl-D to quit)")
    while True:
        if scripted:
            text = scripted.pop(0)
        elif interactive:
            try:
                text = input("you> ")
            except EOFError:
                print()
                return 0
        else:
            return 0
        if not text.strip():
            continue
        history.append({"role": "user", "content": text})
        extra = {"user": args.user} if args.user else {}
        stream = client.chat.completions.create(
            model=args.model, messages=history, stream=True, max_tokens=args.max_tokens, **extra
        )
        print("assistant> ", end="", flush=True)
        reply = []
        for chunk in stream:
            content = chunk.choices[0].delta.content if chunk.choices else None
            if content:
                reply.append(content)
                print(content, end="", flush=True)
        print(flush=True)
        history.append({"role": "assistant", "content": "".join(reply)})


if __name__ == "__main__":
    sys.exit(main())
