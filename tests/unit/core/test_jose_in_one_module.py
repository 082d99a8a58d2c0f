"""STYLE.md: `app/core/security.py` is the only module that imports `jose`, so that replacing
python-jose (as the FastAPI template moved to PyJWT) touches one file. The verifiers
(`core.tokens`, `core.proconnect`) and the audit checkpoints reach it through `security`.

The scan reads the imports of every `app/**/*.py` (function-level ones included) and fails
naming each file:line that imports jose elsewhere.
"""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[3] / "app"


def jose_imports(source: str) -> list[int]:
    """The lines of `source` that import jose or one of its modules."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        if any(name == "jose" or name.startswith("jose.") for name in names):
            found.append(node.lineno)
    return found


def test_the_scan_sees_jose_imports() -> None:
    assert jose_imports("from jose import jwt\nimport jose.jws\nimport josef\n") == [1, 2]
    assert jose_imports("def f():\n    from jose.exceptions import JOSEError\n") == [2]


def test_only_core_security_imports_jose() -> None:
    offenders = [
        f"{path.relative_to(APP)}:{line}"
        for path in sorted(APP.rglob("*.py"))
        if path.relative_to(APP).as_posix() != "core/security.py"
        for line in jose_imports(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
    assert jose_imports((APP / "core" / "security.py").read_text(encoding="utf-8"))
