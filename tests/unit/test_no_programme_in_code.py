"""Issue 26 (R-PROG-1), "no call in code": no strand code, expense category code or programme
code of FITN7 axe 3 is written in `app/` outside its seed data. The rules read the programme
(and a grant's frozen terms); only the seed, the demonstration data, the contract's examples
and the default programme setting name the call.

The scan reads every string literal of `app/**/*.py` (f-string parts included, docstrings
excluded: they explain, they decide nothing) and fails naming each file:line.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from app.programme.seed import CATEGORIES, PROGRAMME_CODE, STRANDS
from app.reference.kinds import OrganisationKind

APP = Path(__file__).resolve().parents[2] / "app"

# The explicit, short allow-list: seed data, demonstration data, the contract's documentation
# examples and the setting naming the default programme.
ALLOWED = frozenset(
    {
        "programme/seed.py",
        "programme/seed_nt2026.py",
        "demo/timeline.py",  # the demo story's dossiers
        "contract/examples.py",
        "contract/example_bodies.py",  # the request examples: the default programme's data
        "core/config.py",
    }
)

STRAND_CODES = frozenset(str(s["code"]) for s in STRANDS)
# "other" is also a kind of organisation (R-ELIG-1, app/reference/kinds.py): a kind's value is
# not a category's, so the kinds' values are left out of the category codes looked for.
CATEGORY_CODES = frozenset(str(c["code"]) for c in CATEGORIES) - {k.value for k in OrganisationKind}
# A strand code written inside a text ("volet 3a") or a pattern ("^3[abc]$").
_STRAND_TOKEN = re.compile(
    r"(?<![\w-])(?:" + "|".join(sorted(map(re.escape, STRAND_CODES))) + r")(?![\w-])"
)
_STRAND_PATTERN = re.compile(r"3\[abc\]|3\[a-c\]")


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the docstring nodes (a module's, class's or function's first statement)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
        ):
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def offences(source: str) -> Iterator[tuple[int, str]]:
    """(line, why) for each string literal of `source` that names FITN7's call."""
    tree = ast.parse(source)
    skipped = _docstrings(tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
            continue
        if id(node) in skipped:
            continue
        text = node.value
        if text in CATEGORY_CODES:
            yield node.lineno, f"category code {text!r}"
        if PROGRAMME_CODE in text:
            yield node.lineno, f"programme code in {text!r}"
        if _STRAND_PATTERN.search(text):
            yield node.lineno, f"strand pattern in {text!r}"
        elif _STRAND_TOKEN.search(text):
            yield node.lineno, f"strand code in {text!r}"


def test_the_scan_finds_what_it_looks_for() -> None:
    """The scan itself can fail: each kind of literal it forbids is found."""
    sample = (
        'A = "3a"\n'
        'B = f"volet 3b ({x})"\n'
        'C = r"^3[abc]$"\n'
        'D = "equipment_agents"\n'
        f'E = "{PROGRAMME_CODE}"\n'
        'F = "13a"  # not a strand\n'
        'def f():\n    """Docstrings explain 3c; they are not scanned."""\n'
    )
    assert sorted(line for line, _ in offences(sample)) == [1, 2, 3, 4, 5]


def test_no_fitn7_call_in_app_code() -> None:
    """R-PROG-1: the rules read the programme; FITN7 lives in its seed data only."""
    found = [
        f"app/{path.relative_to(APP).as_posix()}:{line}: {why}"
        for path in sorted(APP.rglob("*.py"))
        if path.relative_to(APP).as_posix() not in ALLOWED
        for line, why in offences(path.read_text(encoding="utf-8"))
    ]
    assert not found, "FITN7 named in code (R-PROG-1):\n" + "\n".join(found)
