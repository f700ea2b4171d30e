"""The registry of shipped models: a text file, ``registry.txt``, of one line per model
(``NAME SHA256``; ``#`` starts a comment) in a folder that holds each model's files in NAME/:
``model.pt`` (the half-precision weights whose sha256 the line gives), ``card.json``, ``card.md``
and ``arrays.npz`` (the explorer's inputs and codes).

The folder is the package's ``models/`` unless ``$CSVAE_PRETRAINED_DIR`` names another (the tests
export into a temporary one) or a function is given ``root``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from csvae.data.checks import DataError

ENV = "CSVAE_PRETRAINED_DIR"
REGISTRY = "registry.txt"
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")


class PretrainedError(DataError):
    """An unknown name, a malformed registry, or a file that is missing or fails its checksum."""


def models_dir(root: Optional[str | os.PathLike] = None) -> Path:
    """The registry's folder: ``root``, else $CSVAE_PRETRAINED_DIR, else the package's models/."""
    if root is not None:
        return Path(root)
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    return Path(__file__).resolve().parent / "models"


@dataclass(frozen=True)
class Shipped:
    """One registry line: the model's name, its weights' sha256 and its folder."""

    name: str
    sha256: str
    folder: Path

    @property
    def weights(self) -> Path:
        return self.folder / "model.pt"

    @property
    def card_json(self) -> Path:
        return self.folder / "card.json"

    @property
    def card_md(self) -> Path:
        return self.folder / "card.md"

    @property
    def arrays(self) -> Path:
        return self.folder / "arrays.npz"


def read_registry(root: Optional[str | os.PathLike] = None) -> dict[str, Shipped]:
    """Name -> ``Shipped``, in the file's order; {} when the folder has no registry.txt.
    PretrainedError naming the file and line of a malformed or repeated entry."""
    folder = models_dir(root)
    path = folder / REGISTRY
    if not path.is_file():
        return {}
    out: dict[str, Shipped] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        parts = text.split()
        if len(parts) != 2 or not NAME.match(parts[0]) or not SHA256.match(parts[1]):
            raise PretrainedError(f"{path}:{number}: expected 'NAME SHA256' (a lower-case name of letters, digits "
                                  f"and '-', and 64 hex digits), got {text!r}")
        if parts[0] in out:
            raise PretrainedError(f"{path}:{number}: the name {parts[0]!r} is listed twice")
        out[parts[0]] = Shipped(parts[0], parts[1], folder / parts[0])
    return out


def shipped(name: str, root: Optional[str | os.PathLike] = None) -> Shipped:
    """The registry entry of ``name``; PretrainedError listing the names when it is unknown."""
    registry = read_registry(root)
    if name not in registry:
        known = ", ".join(registry) or f"none (the registry {models_dir(root) / REGISTRY} lists no model)"
        raise PretrainedError(f"unknown pretrained model {name!r}; the shipped models are: {known}")
    return registry[name]


def registry_line(name: str, sha256: str) -> str:
    return f"{name} {sha256}"


def add_to_registry(name: str, sha256: str, root: Optional[str | os.PathLike] = None) -> Path:
    """Write ``NAME SHA256`` into the registry (replacing the line of the same name, else appended;
    the file is created when missing), atomically. Returns the registry's path."""
    from csvae.fileio import atomic_write_bytes

    path = models_dir(root) / REGISTRY
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    line = registry_line(name, sha256)
    mine = [i for i, text in enumerate(lines) if text.split("#", 1)[0].split()[:1] == [name]]
    if mine:
        lines[mine[0]] = line
    else:
        lines.append(line)
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode())
    return path
