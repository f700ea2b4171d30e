"""Checks of config-like values, declared once: each config section has a table of its fields'
constraints (as scikit-learn's ``_parameter_constraints``) that ``check_section`` reads, after it
has checked every value against its field's annotation. Messages name the field (``model.z_dim``)
and what was expected."""

from __future__ import annotations

import ast
import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np


class ConfigError(ValueError):
    """A configuration value or key is wrong; the message names the field."""


def is_integer(value, numpy: bool = False) -> bool:
    """value is an int (with ``numpy``, also a numpy integer), and not a bool."""
    kinds = (int, np.integer) if numpy else int
    return isinstance(value, kinds) and not isinstance(value, bool)


def is_positive_integer(value) -> bool:
    """value is an int above 0, and not a bool."""
    return is_integer(value) and value > 0


def is_number(value) -> bool:
    """value is an int or a float, and not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class Finite:
    """A finite number."""

    def check(self, where: str, value) -> None:
        if not is_number(value):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{where} must be a finite number, got {value!r}")


@dataclass(frozen=True)
class Positive:
    """A finite number above 0 (or at least 0 with ``allow_zero``)."""

    allow_zero: bool = False

    def check(self, where: str, value) -> None:
        Finite().check(where, value)
        if value < 0 or (value == 0 and not self.allow_zero):
            bound = "non-negative" if self.allow_zero else "positive"
            raise ConfigError(f"{where} must be {bound}, got {value!r}")


NON_NEGATIVE = Positive(allow_zero=True)


@dataclass(frozen=True)
class Interval:
    """A number in an interval, written as in mathematics: ``Interval("(", 0, 1, "]")``."""

    left: str
    low: float
    high: float
    right: str
    finite: bool = False
    """Check first that the value is a finite number (its own message)."""

    def check(self, where: str, value) -> None:
        if self.finite:
            Finite().check(where, value)
        above = value >= self.low if self.left == "[" else value > self.low
        below = value <= self.high if self.right == "]" else value < self.high
        if not (above and below):
            raise ConfigError(f"{where} must be in {self.left}{self.low:g}, {self.high:g}{self.right}, "
                              f"got {value!r}")


@dataclass(frozen=True)
class Integer:
    """An integer (never a bool) in ``allowed``, described by ``text`` in the message (and
    ``note`` after the field's name). It checks the type itself, before the annotation."""

    allowed: Callable[[int], bool]
    text: str
    note: str = ""
    checks_type = True

    def check(self, where: str, value) -> None:
        if not is_integer(value) or not self.allowed(value):
            raise ConfigError(f"{where}{self.note} must be {self.text}, got {value!r}")


@dataclass(frozen=True)
class Matches:
    """A string matching ``pattern`` entirely, described by ``text``."""

    pattern: str
    text: str

    def check(self, where: str, value) -> None:
        if not isinstance(value, str) or not re.fullmatch(self.pattern, value):
            raise ConfigError(f"{where} must be {self.text}, got {value!r}")


@dataclass(frozen=True)
class OneOf:
    """One of ``choices`` (for a registry such as the model names)."""

    choices: tuple
    checks_type = True

    def check(self, where: str, value) -> None:
        if value not in self.choices:
            raise ConfigError(f"{where} must be one of {list(self.choices)}, got {value!r}")


@dataclass(frozen=True)
class Each:
    """Every item of a list meets ``rule`` (the message names the field)."""

    rule: object

    def check(self, where: str, value) -> None:
        for item in value:
            self.rule.check(where, item)


@dataclass(frozen=True)
class Rule:
    """A check written as a function (value -> bool), described by ``text``."""

    allowed: Callable[[object], bool]
    text: str

    def check(self, where: str, value) -> None:
        if not self.allowed(value):
            raise ConfigError(f"{where} must be {self.text}, got {value!r}")


def check_section(instance, section: str, constraints: Mapping[str, object]) -> None:
    """Check a config section: every field against its annotation, as YAML values are checked
    (an integer field refuses 1.5 however the section is built: YAML, CLI or Python keywords; an
    integer given for a float field is stored as a float), then against its entry in
    ``constraints`` (a field that may be empty is checked when set). A rule that ``checks_type``
    (``Integer``, ``OneOf``) runs before the annotation, so its message is the one given. A
    section nested in another (``model.betas``) passes the annotation check and has its own."""
    for f in dataclasses.fields(instance):
        where, rule = f"{section}.{f.name}", constraints.get(f.name)
        first = getattr(rule, "checks_type", False)
        if first and getattr(instance, f.name) is not None:
            rule.check(where, getattr(instance, f.name))
        setattr(instance, f.name, coerce(where, getattr(instance, f.name), str(f.type)))
        if rule is not None and not first and getattr(instance, f.name) is not None:
            rule.check(where, getattr(instance, f.name))


def check_keys(cls, values: dict, where: str) -> None:
    """``values`` is a mapping whose keys are fields of the dataclass ``cls``."""
    if not isinstance(values, dict):
        raise ConfigError(f"{where} must be a mapping, got {type(values).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown key {where}.{unknown[0]}; valid keys of {where}: {sorted(known)}")


def coerce(where: str, value, annotation: str):
    """Check a YAML value against a field's annotation (as a string; postponed evaluation)."""
    ann = annotation[len("Optional["):-1] if annotation.startswith("Optional[") else annotation
    if value is None:
        if annotation.startswith("Optional"):
            return None
        raise ConfigError(f"{where} must not be empty")
    if ann == "int":
        if not is_integer(value):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
    elif ann == "float":
        if not is_number(value):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        value = float(value)
    elif ann == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
    elif ann == "str":
        if not isinstance(value, str):
            hint = (" (YAML reads yes/no/on/off/true/false as booleans: quote the value, e.g. 'no')"
                    if isinstance(value, bool) else "")
            raise ConfigError(f"{where} must be a string, got {value!r}{hint}")
    elif ann.startswith("Literal["):
        OneOf(ast.literal_eval(f"({ann[len('Literal['):-1]},)")).check(where, value)
    elif ann.startswith("list["):
        item = ann[5:-1]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list of {item}, got {value!r}")
        value = [coerce(f"{where}[{i}]", v, item) for i, v in enumerate(value)]
    return value


def field_default(f: dataclasses.Field):
    """The default value of a dataclass field (from its default or its factory)."""
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()

