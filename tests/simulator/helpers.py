"""Shared bits of the simulator tests: the official examples and a way to see status codes through the SDK."""

import json
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "arm-examples"


def example(name: str) -> dict[str, Any]:
    """One official ARM example (../shared/arm-examples/<service>/<file>.json)."""
    return json.loads((EXAMPLES / name).read_text())


def with_status(pipeline_response: Any, deserialized: Any, headers: Any) -> tuple[int, Any]:
    """``cls=`` for SDK calls: keep the HTTP status code next to the model."""
    return pipeline_response.http_response.status_code, deserialized
