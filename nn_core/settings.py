"""Declared settings: what a component tells the grid about each of its knobs.

A `Setting` is one grid setting's default, accepted types and check; ablations/config.py builds
its SCHEMA from them, and a component (e.g. a regularizer) declares its own, so that its name,
default ("off": `is_off`), range and constructor argument live beside its code.
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


OFF_STRINGS = ("", "none")  # a text setting's "not set"
OFF_WORDS = "None, False, 0, '' or 'none', an empty list or dict"  # is_off, as messages say it


def is_off(value):
    """Whether a setting's `value` is "off", what a component's own setting must default to (a
    run that does not set it is then the run it was): None for any kind (an optional setting not
    set), False for a flag, 0 for a number, "" or "none" for text (the harness's `normalize`
    convention), and an empty list, tuple or dict for a container. Anything else (1.0, True,
    "on", [128]) is on."""
    if value is None or value is False:
        return True
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value == 0
    if isinstance(value, str):
        return value in OFF_STRINGS
    return isinstance(value, (list, tuple, dict)) and not value


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
