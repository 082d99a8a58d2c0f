"""Response examples captured from the scenario (issue 27 §2): the answers the service gave to
tests/contract/test_examples_real.py, which sends every request example in its documented state
(`GUICHET_CAPTURE_EXAMPLES=1` writes them here; then `python -m app openapi`). The scenario's
ids are replaced by the documented ones, so that the examples speak of one dossier throughout.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

ANSWERS_PATH = Path(__file__).with_name("example_answers.json")

# The ids the request examples and the generated examples use.
DOCUMENTED_IDS = {
    "project_id": "3f2c9a1e-8b4d-4e6f-9a0b-1c2d3e4f5a6b",
    "candidate_id": "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    "committee_id": "5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e",
    "evaluation_id": "9c8b7a6f-5e4d-4c3b-8a29-18f7e6d5c4b3",
}
# Secrets an answer shows once: never a real one in the contract.
MASKED = {"secret": "whsec_c2VjcmV0LWRlLWwnZXhlbXBsZQ"}


@cache
def captured() -> dict[str, dict[str, Any]]:
    """Answers by operation id, then by status; empty before the first capture."""
    if not ANSWERS_PATH.exists():
        return {}
    answers: dict[str, dict[str, Any]] = json.loads(ANSWERS_PATH.read_text(encoding="utf-8"))
    return answers


def mask(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: MASKED[k] if k in MASKED else mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    return value
