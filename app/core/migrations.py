"""Where the Alembic scripts live, and their head (for /readyz and the CLI)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory


def _project_root() -> Path:
    """The source tree in development; the working directory (which ships alembic.ini and
    alembic/, see the Dockerfile) when the app is installed as a package (non-editable)."""
    source = Path(__file__).resolve().parents[2]
    return source if (source / "alembic.ini").exists() else Path.cwd()


PROJECT_ROOT = _project_root()
ALEMBIC_INI = PROJECT_ROOT / "alembic.ini"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config for this project; `url` overrides the settings' database URL."""
    cfg = Config(str(ALEMBIC_INI))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    if url is not None:
        cfg.attributes["sqlalchemy.url"] = url
    return cfg


@lru_cache(maxsize=1)
def head_revisions() -> frozenset[str]:
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())
