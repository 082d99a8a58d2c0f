"""Write the committed contract `openapi/openapi.json` from the app (deterministic)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app.core.config import Settings
from app.core.migrations import PROJECT_ROOT

CONTRACT_PATH = PROJECT_ROOT / "openapi" / "openapi.json"


def contract_settings() -> Settings:
    """Fixed settings, so that nothing of the machine leaks into the contract."""
    return Settings(
        environment="test",
        database_url="sqlite+aiosqlite:///:memory:",
        docs_enabled=True,
        _env_file=None,
    )


def render_contract() -> str:
    from app.main import create_app

    schema: dict[str, Any] = create_app(contract_settings()).openapi()
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(path: Path = CONTRACT_PATH) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_contract(), encoding="utf-8")
    print(f"wrote {path}")  # noqa: T201


if __name__ == "__main__":
    main()
