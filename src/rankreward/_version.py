"""Single source of the package version (read by pyproject.toml and ``rankreward --version``)."""

__version__ = "0.1.0"
