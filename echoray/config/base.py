"""What every config section shares: strictness and Ray Serve deployment options."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, model_validator


class Strict(BaseModel):
    """A config section: unknown keys are errors, so a typo fails at start."""

    model_config = ConfigDict(extra="forbid")


class AutoscalingConfig(Strict):
    min_replicas: int = Field(1, ge=0, description="Fewest replicas.")
    max_replicas: int = Field(1, ge=1, description="Most replicas.")
    target_ongoing_requests: float = Field(
        4, gt=0, description="Ongoing requests per replica the autoscaler aims for."
    )

    @model_validator(mode="after")
    def _ordered(self) -> AutoscalingConfig:
        if self.min_replicas > self.max_replicas:
            raise ValueError("autoscaling.min_replicas must be <= max_replicas")
        return self


class DeploymentOptionsConfig(Strict):
    num_replicas: int = Field(1, ge=1, description="Fixed replica count (no autoscaling).")
    autoscaling: AutoscalingConfig | None = Field(
        None, description="Autoscaling bounds; when set, num_replicas is ignored."
    )
    max_ongoing_requests: int = Field(32, ge=1, description="Requests one replica takes.")
    max_queued_requests: int = Field(
        64,
        ge=-1,
        description="Requests that may wait for a busy replica, per caller; beyond it they "
        "get 503 with Retry-After at once. -1: no bound (a queue that grows without limit).",
    )
    retry_after_s: float = Field(
        1, ge=0, description="Retry-After, in seconds, of a request shed for a full queue."
    )
    num_cpus: float = Field(0.5, ge=0, description="CPUs reserved per replica.")
    num_gpus: float = Field(0, ge=0, description="GPUs reserved per replica.")
    accelerator_type: str | None = Field(None, description="Ray accelerator type, e.g. H100.")
    resources: dict[str, PositiveFloat] = Field(
        default_factory=dict,
        description="Custom Ray resources per replica: replicas go only to nodes started "
        'with them (`ray start --resources`), e.g. {"gateway_node": 0.01}.',
    )

    @model_validator(mode="after")
    def _queue_bound(self) -> DeploymentOptionsConfig:
        if self.max_queued_requests == 0:
            raise ValueError("max_queued_requests must be -1 (no bound) or at least 1")
        return self
