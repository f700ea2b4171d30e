"""The version of csvae, written once (pyproject.toml and CITATION.cff read or repeat it)."""

__version__ = "0.1.0"
