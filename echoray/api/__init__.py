"""The HTTP layer: FastAPI routes, middleware and the one error mapping (API layer)."""

from echoray.api.app import make_app

__all__ = ["make_app"]
