"""Command line entry point: ``rankreward --version`` (subcommands arrive with the reward)."""

from __future__ import annotations

import argparse

from ._version import __version__


def main(argv: list[str] | None = None) -> int:
    """Run the ``rankreward`` command.

    >>> main(["--version"])  # doctest: +SKIP
    rankreward 0.1.0
    """
    parser = argparse.ArgumentParser(prog="rankreward", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"rankreward {__version__}")
    parser.parse_args(argv)
    parser.print_help()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
