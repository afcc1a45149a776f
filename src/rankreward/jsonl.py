"""Reading JSON Lines input files with errors that name the file and line.

Both command lines (``rankreward score``, ``rankreward eval``) read their inputs here, so a
missing file, a line that is not JSON, or a row of the wrong shape is one readable line
(``path:line: what``), never a traceback.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["read_jsonl", "read_jsonl_field"]


def read_jsonl(path: str | os.PathLike[str]) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` for each non-blank line of ``path``; ``ValueError`` naming
    ``path:line`` for a line that is not JSON or not UTF-8, and ``path`` for a file that
    cannot be opened. O(file size).

    Examples:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "rows.jsonl"
        >>> _ = path.write_text('{"completion": "a"}\\n\\n"b"\\n')
        >>> list(read_jsonl(path))
        [(1, {'completion': 'a'}), (3, 'b')]
        >>> _ = path.write_text('{"completion": \\n')
        >>> list(read_jsonl(path))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: ...rows.jsonl:1: not JSON (Expecting value: line 2 column 1 (char 16))
    """
    path = Path(path)
    try:
        f = path.open(encoding="utf-8")
    except OSError as e:
        raise ValueError(f"{path}: cannot open ({e.strerror or e})") from None
    with f:
        lineno = 0
        try:
            for lineno, line in enumerate(f, 1):  # lineno is read in the except clause too
                if line.strip():
                    try:
                        value = json.loads(line)
                    except ValueError as e:
                        raise ValueError(f"{path}:{lineno}: not JSON ({e})") from None
                    yield lineno, value
        except UnicodeDecodeError as e:
            raise ValueError(f"{path}:{lineno + 1}: not UTF-8 text ({e.reason})") from None


def read_jsonl_field(
    path: str | os.PathLike[str], keys: tuple[str, ...], what: str, types: tuple[type, ...]
) -> list[Any]:
    """One value per line: the line itself, or from an object the first of ``keys`` it holds;
    ``ValueError`` naming ``path:line`` when a line has none of ``keys`` or its value is not
    one of ``types`` (``what`` names the value in the message). O(file size).

    Examples:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "c.jsonl"
        >>> _ = path.write_text('{"completion": "a"}\\n"b"\\n{"completion": 3}\\n')
        >>> read_jsonl_field(path, ("completion",), "a completion", (str, list))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: ...c.jsonl:3: a completion must be str or list, got int 3
    """
    out = []
    for lineno, item in read_jsonl(path):
        if isinstance(item, dict):
            key = next((k for k in keys if k in item), None)
            if key is None:
                raise ValueError(
                    f"{path}:{lineno}: an object line needs one of the keys {list(keys)} "
                    f"(it has {sorted(item)[:8]})"
                )
            item = item[key]
        if not isinstance(item, types):
            names = " or ".join(t.__name__ for t in types)
            raise ValueError(
                f"{path}:{lineno}: {what} must be {names}, got {type(item).__name__} {item!r:.60}"
            )
        out.append(item)
    return out
