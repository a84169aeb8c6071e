"""Small helpers shared by test modules."""

from __future__ import annotations

from typing import Any

import httpx
import openai
from fastapi import FastAPI

from echoray.config import EchoRayConfig, config_from_args


def fake_config(**overrides: Any) -> EchoRayConfig:
    """A config serving one fake model named ``fake``."""
    args: dict[str, Any] = {"models": [{"name": "fake", "engine": {"kind": "fake"}}]}
    args.update(overrides)
    return config_from_args(args)


def asgi_clients(
    app: FastAPI, api_key: str = "none"
) -> tuple[httpx.AsyncClient, openai.AsyncOpenAI]:
    """An httpx client and the official openai client, both talking to ``app`` in process."""
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://echoray.test")
    client = openai.AsyncOpenAI(
        base_url="http://echoray.test/v1", api_key=api_key, http_client=http, max_retries=0
    )
    return http, client
