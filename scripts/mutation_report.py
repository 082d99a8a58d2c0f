"""`make mutation`'s summary of the last `mutmut run` (run from the repository's root).

Prints killed / survived / no tests / timeout / suspicious / total, overall and per rules
module, then each surviving mutant: those that only change the wording of a message (a string
literal with a space in it, rewritten or replaced by None) apart from the others, whose diff is
shown. Exits 1 when mutmut tested nothing or left mutants unchecked: a run that could not run
must not read as "no surviving mutant".
"""

from __future__ import annotations

import io
import re
import sys
import tokenize
from collections import Counter
from pathlib import Path
from typing import TextIO

from mutmut.mutation.data import SourceFileMutationData
from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code
from mutmut.utils.file_utils import walk_mutatable_files

COLUMNS = ("killed", "survived", "no tests", "timeout", "suspicious", "not checked")
UNCHECKED = ("not checked", "check was interrupted by user")


def say(text: str = "", *, stream: TextIO = sys.stdout) -> None:
    stream.write(text + "\n")


def _tokens(lines: list[str]) -> list[tuple[str, str]]:
    """The significant tokens of a diff side, consecutive string literals joined into one."""
    out: list[tuple[str, str]] = []
    skip = {tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.COMMENT}
    reader = io.StringIO("\n".join(line.strip() for line in lines) + "\n").readline
    try:
        for token in tokenize.generate_tokens(reader):
            if token.type in skip or token.type == tokenize.ENDMARKER:
                continue
            kind = "STRING" if token.type == tokenize.STRING else "CODE"
            if kind == "STRING" and out and out[-1][0] == "STRING":
                out[-1] = ("STRING", out[-1][1] + token.string)
            else:
                out.append((kind, token.string))
    except (tokenize.TokenError, IndentationError):
        pass  # a fragment of a statement: its open bracket never closes
    return out


_FIELD = re.compile(r"\{[^{}]*\}")


def _fields(literal: str) -> list[str]:
    """The replacement fields of an f-string literal (Python 3.11 reads an f-string as one
    STRING token): code, not prose, so a mutant that changes one is no rewording."""
    prefix = re.split("['\"]", literal, maxsplit=1)[0]
    return _FIELD.findall(literal) if "f" in prefix.lower() else []


def _only_prose_changed(before: list[tuple[str, str]], after: list[tuple[str, str]]) -> bool:
    if not before or len(before) != len(after):
        return False
    changed = [(b, a) for b, a in zip(before, after, strict=True) if b != a]
    return bool(changed) and all(
        b[0] == "STRING"
        and " " in b[1]
        and (a == ("CODE", "None") or (a[0] == "STRING" and _fields(a[1]) == _fields(b[1])))
        for b, a in changed
    )


def is_message_only(diff: str) -> bool:
    """True when the mutant only rewrites a message: every difference is a string literal
    with a space in it (prose, not a code or a key), changed or replaced by None. Read with
    the hunk's context (a message split over lines is read whole), else the changed lines
    alone (the context may open a docstring the hunk does not close)."""
    body = [line for line in diff.splitlines()[2:] if not line.startswith("@@")]
    return any(
        _only_prose_changed(
            _tokens([line[1:] for line in body if line[:1] in (*keep, "-")]),
            _tokens([line[1:] for line in body if line[:1] in (*keep, "+")]),
        )
        for keep in ((" ",), ())
    )


def main() -> int:
    totals: Counter[str] = Counter()
    survivors: list[tuple[str, Path, str]] = []
    rows = []
    for path in sorted(walk_mutatable_files()):
        data = SourceFileMutationData(path=path)
        data.load()
        counts = Counter(status_by_exit_code[code] for code in data.exit_code_by_key.values())
        counts["total"] = len(data.exit_code_by_key)
        totals.update(counts)
        rows.append((str(path), counts))
        survivors += [
            (name, path, status_by_exit_code[code])
            for name, code in data.exit_code_by_key.items()
            if status_by_exit_code[code] != "killed"
        ]
    unchecked = sum(totals[status] for status in UNCHECKED)
    width = max((len(name) for name, _ in rows), default=10)
    say(f"{'module':<{width}} " + " ".join(f"{c:>11}" for c in (*COLUMNS, "total")))
    for name, counts in [*rows, ("all rules modules", totals)]:
        cells = [counts[c] for c in COLUMNS[:-1]] + [sum(counts[s] for s in UNCHECKED)]
        say(f"{name:<{width}} " + " ".join(f"{n:>11}" for n in (*cells, counts["total"])))

    messages: list[tuple[str, str, str]] = []
    logic: list[tuple[str, str, str]] = []
    for name, path, status in sorted(survivors):
        diff = get_diff_for_mutant(name, path=path)
        (messages if is_message_only(diff) else logic).append((name, status, diff))
    say(f"\nnot killed: {len(messages)} that only reword a message, {len(logic)} others:")
    for name, status, diff in logic:
        say(f"\n# {name}: {status}")
        say("\n".join(line for line in diff.splitlines()[2:] if line[:1] in ("-", "+")))
    if totals["total"] == 0 or unchecked:
        say(
            f"\nmutmut did not test every mutant ({totals['total']} generated, {unchecked} not"
            " checked): read its output above.",
            stream=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
