"""The HTTP server, auth, request limits, storage and caches."""

from __future__ import annotations

from pydantic import Field, model_validator

from echoray.config.base import DeploymentOptionsConfig, Strict


class StorageConfig(Strict):
    uri: str = Field("./data", description="LanceDB location: folder, s3://… or gs://….")


class CacheConfig(Strict):
    dir: str = Field("./data/cache", description="Converted models and downloads live here.")


class AuthConfig(Strict):
    enabled: bool = Field(False, description="Require `Authorization: Bearer <key>`.")
    api_keys: dict[str, str] = Field(
        default_factory=dict, description="API key -> tenant it acts for."
    )
    admin_keys: list[str] = Field(default_factory=list, description="Keys for /v1/admin/*.")
    default_tenant: str = Field("default", description="Tenant used when auth is off.")

    @model_validator(mode="after")
    def _keys_when_enabled(self) -> AuthConfig:
        if self.enabled and not self.api_keys:
            raise ValueError(
                "auth.enabled is true but auth.api_keys is empty: add keys "
                '(ECHORAY_AUTH__API_KEYS=\'{"<key>": "<tenant>"}\') or disable auth'
            )
        return self


class LimitsConfig(Strict):
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest request body.")
    max_messages: int = Field(256, ge=1, description="Most messages in one chat request.")
    max_tokens: int = Field(2048, ge=1, description="Largest `max_tokens` a request may ask.")
    default_max_tokens: int = Field(256, ge=1, description="`max_tokens` when omitted.")
    max_stop_sequences: int = Field(4, ge=0, description="Most stop strings per request.")
    request_timeout_s: float = Field(
        300,
        gt=0,
        description="Longest a request may run (Serve's http_options.request_timeout_s); "
        "Serve answers 408 after it.",
    )
    generation_timeout_s: float | None = Field(
        None,
        gt=0,
        description="Longest one generation may run; past it the engine stops, a chat not "
        "yet begun is a 504 and a stream ends with a timeout error event. None: 95% of "
        "request_timeout_s, so the server, not a dropped connection, says why.",
    )

    @model_validator(mode="after")
    def _generation_within_request(self) -> LimitsConfig:
        if self.generation_timeout_s is not None and (
            self.generation_timeout_s > self.request_timeout_s
        ):
            raise ValueError(
                f"limits.generation_timeout_s ({self.generation_timeout_s}) must not exceed "
                f"limits.request_timeout_s ({self.request_timeout_s})"
            )
        return self

    @property
    def generation_deadline_s(self) -> float:
        """The generation timeout in force."""
        if self.generation_timeout_s is not None:
            return self.generation_timeout_s
        return 0.95 * self.request_timeout_s


class ServerConfig(Strict):
    host: str = Field("127.0.0.1", description="HTTP bind address for `echoray serve`.")
    port: int = Field(8000, ge=1, le=65535, description="HTTP port.")
    gateway: DeploymentOptionsConfig = Field(
        default_factory=lambda: DeploymentOptionsConfig(num_cpus=0.25, max_ongoing_requests=256),
        description="Ray Serve options of the gateway.",
    )
