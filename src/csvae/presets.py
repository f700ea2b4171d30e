"""Named presets: the YAML configs shipped in ``csvae/configs``, found by name from any folder.

A preset's name is its path under ``csvae/configs`` without ``.yaml`` (``toy/csvae``,
``celeba/csvae``). ``--config`` takes a name or the path of any YAML file; a path that exists wins.
A preset's relative ``data.root`` is read from where it can be found: the working directory, else
the clone that csvae runs from (the presets' examples, such as ``../shared/data/celeba-subset``,
are written relative to the clone's root); it is stored absolute, so the run folder that records it
works from any folder.
"""

from __future__ import annotations

import dataclasses
import os
from importlib import resources
from pathlib import Path
from typing import Optional

from csvae.config import ConfigError, RunConfig
from csvae.configfile import load_config
from csvae.provenance import clone_root

DEFAULT_PRESET = "toy/csvae"
"""What ``csvae fit`` trains without ``--config``."""


def presets_dir() -> Path:
    """The folder of the shipped presets inside the package."""
    return Path(str(resources.files("csvae") / "configs"))


def preset_names() -> list[str]:
    """Every preset's name, sorted (``celeba/csvae``, ..., ``toy/vae``)."""
    root = presets_dir()
    return sorted(p.relative_to(root).with_suffix("").as_posix() for p in root.rglob("*.yaml"))


def preset_summary(name: str) -> str:
    """The first comment line of a preset, without its ``#``."""
    for line in (presets_dir() / f"{name}.yaml").read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
    return ""


def preset_path(name: str) -> Path:
    """The file of preset ``name`` (``.yaml`` optional); ConfigError listing the names when unknown."""
    key = name[:-len(".yaml")] if name.endswith(".yaml") else name
    names = preset_names()
    if key not in names:
        raise ConfigError(f"no config file or preset named {name!r}; presets: {', '.join(names)} "
                          f"(`csvae presets` describes them)")
    return presets_dir() / f"{key}.yaml"


def resolve_root(root: str) -> str:
    """A preset's relative data root made absolute: under the working directory if it is there,
    else under the clone csvae runs from if it is there, else under the working directory."""
    candidates = [Path.cwd() / root]
    clone = clone_root()
    if clone is not None:
        candidates.append(clone / root)
    found = next((c for c in candidates if c.exists()), candidates[0])
    return str(found.resolve())


def load_named_config(config: Optional[str]) -> tuple[RunConfig, str]:
    """(the config, where it came from) for ``--config``: a YAML file that exists, else a preset
    by name (its relative data root resolved by ``resolve_root``); None is ``DEFAULT_PRESET``."""
    if config is not None and Path(config).is_file():
        return load_config(config), str(config)
    name = config or DEFAULT_PRESET
    loaded = load_config(preset_path(name))
    root = loaded.data.root
    if root is not None and not os.path.isabs(root):
        loaded = dataclasses.replace(loaded, data=dataclasses.replace(loaded.data, root=resolve_root(root)))
    return loaded, f"preset {name}"
