"""One identifier rule: the memory API's schema, the server's check, the ingest job and the
KubeRay settings accept exactly the same ids."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from echoray.errors import UnprocessableEntityError
from echoray.protocol.ids import IDENTIFIER_SCHEMA, is_identifier, validate_identifier
from echoray.protocol.memory import MemoryCreateRequest

GOOD = ["alice", "a", "_x", "user@example.com", "k=v+1:2", "a.b-c", "x" * 128]
BAD = ["", ".alice", "-alice", "al ice", "a'b", "é", "x" * 129, "a\n"]


@pytest.mark.parametrize("value", GOOD + BAD)
def test_the_schema_pattern_and_the_check_agree(value: str) -> None:
    by_schema = re.search(IDENTIFIER_SCHEMA, value) is not None and "\n" not in value
    assert by_schema == is_identifier(value) == (value in GOOD)


@pytest.mark.parametrize("value", BAD)
def test_a_bad_id_is_refused_by_the_api_model_and_the_server(value: str) -> None:
    with pytest.raises(ValidationError):
        MemoryCreateRequest(user=value, text="hello")
    with pytest.raises(UnprocessableEntityError, match="user must be"):
        validate_identifier(value, "user")


def test_the_ingest_job_and_kuberay_settings_use_the_same_rule() -> None:
    from echoray.deploy import settings
    from echoray.jobs import ingest

    assert ingest.is_identifier is is_identifier
    field = settings.DeployConfig.model_fields["ingest_user"]
    assert any(getattr(m, "pattern", None) == IDENTIFIER_SCHEMA for m in field.metadata)
