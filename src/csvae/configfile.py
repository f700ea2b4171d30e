"""Config files and overrides: YAML in and out, and a config with some fields changed (from the
command line or an experiment). ``RunConfig`` and its checks are in ``csvae.config``."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterable

import yaml

from csvae.config import ConfigError, RunConfig, config_from_dict, config_to_dict
from csvae.fileio import atomic_write_bytes
from csvae.safeio import read_bounded

MAX_CONFIG_BYTES = 1 << 20
"""Largest config file read."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (YAML would keep the last)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, (str, int, float, bool)):
                continue  # the base class reports keys that cannot be keys
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"key {key!r} is given twice",
                                                        key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


# YAML 1.1 reads 1e-3 (no dot, or an exponent without a sign) as a string; these forms are floats too
_UniqueKeyLoader.add_implicit_resolver("tag:yaml.org,2002:float",
                                       re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
                                       list("-+0123456789."))


def yaml_value(text: str):
    """A value written in YAML (a ``--section.field`` override), read as config files are:
    ``1e-3`` is a number."""
    return yaml.load(text, Loader=_UniqueKeyLoader)


def load_config(path: str | os.PathLike) -> RunConfig:
    """The checked RunConfig of a YAML file; ConfigError naming the file when it is unreadable or wrong."""
    path = Path(path)
    try:
        text = read_bounded(path, MAX_CONFIG_BYTES, "config file").decode("utf-8-sig")
    except OSError as err:
        raise ConfigError(f"cannot read config file {path}: {err.strerror}") from err
    except UnicodeDecodeError as err:
        raise ConfigError(f"config file {path} is not UTF-8 text (byte {err.object[err.start]:#04x} at offset "
                          f"{err.start})") from err
    except ValueError as err:  # not a regular file, or too large
        raise ConfigError(str(err)) from None
    try:
        values = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {err}") from err
    if values is None:
        raise ConfigError(f"config file {path} is empty; give at least one section (model, data, train), "
                          f"e.g. copy one of configs/")
    try:
        return config_from_dict(values)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from err


def save_config(config: RunConfig, path: str | os.PathLike) -> None:
    """Write ``config`` as YAML, atomically."""
    text = yaml.safe_dump(config_to_dict(config), sort_keys=False)
    atomic_write_bytes(path, text.encode())


def with_overrides(config: RunConfig, overrides: Iterable[tuple[str, Any]]) -> RunConfig:
    """A checked copy of ``config`` with each (dotted key, value) set, such as ("model.z_dim", 3);
    errors name the key."""
    values = config_to_dict(config)
    for key, value in overrides:
        *path, leaf = key.split(".")
        node = values
        for part in path:
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"unknown config section {'.'.join(path)!r} in --{key}")
            node = node[part]
        if leaf not in node:
            raise ConfigError(f"unknown config key {key!r}; valid keys of {'.'.join(path)}: {sorted(node)}")
        node[leaf] = value
    return config_from_dict(values)
