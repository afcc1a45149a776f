"""Command-line argument helpers shared by ``rankreward``'s commands (``score``, ``eval``,
``serve``) and the examples: ``--option KEY=VALUE`` parsing and the ``--help`` layout.

A bottom-floor module so that every command line can use them without importing the
``rankreward`` dispatcher (which imports the commands).
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

__all__ = ["HelpFormatter", "parse_option", "plain"]


def plain(text: str) -> str:
    """Docstring text for a terminal: reST's ````code```` and ```name``` quotes dropped. O(len).

    Examples:
        >>> plain("``rankreward eval`` runs `main`")
        'rankreward eval runs main'
    """
    return re.sub(r"``(.+?)``|`([^`\n]+)`", lambda m: m.group(1) or m.group(2), text)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The ``--help`` layout of the project's commands and examples: the description and epilog
    as written (line breaks kept, reST quotes dropped), and each option's default appended
    unless it is ``None``/``False`` or the help already names one.

    Examples:
        >>> p = argparse.ArgumentParser(prog="x", formatter_class=HelpFormatter)
        >>> _ = p.add_argument("--n", type=int, default=3, help="how many")
        >>> _ = p.add_argument("--model", help="a ``model`` path")
        >>> print(p.format_help().split("options:")[1].strip())
        -h, --help     show this help message and exit
          --n N          how many (default: 3)
          --model MODEL  a model path
    """

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return super()._fill_text(plain(text), width, indent)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = plain(action.help) if action.help else action.help
        default = action.default
        if (
            text is None
            or default in (None, False, argparse.SUPPRESS)
            or "default" in text
            or action.option_strings == []
        ):
            return text
        return f"{text} (default: %(default)s)"


def parse_option(text: str) -> tuple[str, Any]:
    """A ``--option KEY=VALUE`` argument: the value as JSON when it parses, else as text.

    Examples:
        >>> parse_option("method=od_ap"), parse_option("max_objects=50")
        (('method', 'od_ap'), ('max_objects', 50))
    """
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--option takes KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value
