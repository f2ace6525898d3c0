"""Declared settings: what a component tells the grid about each of its knobs.

A `Setting` is one grid setting's default, accepted types and check; ablations/config.py builds
its SCHEMA from them, and a component (e.g. a regularizer) declares its own, so that its name,
default ("off"), range and constructor argument live beside its code.
"""

import math
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Setting:
    default: object
    types: tuple  # accepted Python types (int is accepted where float is)
    check: Callable = None  # value -> error message or None
    optional: bool = False  # None allowed
    help: str = ""
    argument: str = None  # the component's constructor keyword it fills (None: the setting's name)


def number(low=None, high=None, low_open=False, high_open=False):
    """A check: finite, and within [low, high] (open at an end where `low_open`/`high_open`)."""

    def check(value):
        if not math.isfinite(value):
            return f"must be finite, got {value}"
        if low is not None and (value < low or (low_open and value == low)):
            return f"must be {'>' if low_open else '>='} {low}, got {value}"
        if high is not None and (value > high or (high_open and value == high)):
            return f"must be {'<' if high_open else '<='} {high}, got {value}"
        return None

    return check


def fraction(value):
    """A check for a rate in [0, 1)."""
    return number(0, 1, high_open=True)(value)
