"""Markdown building blocks shared by the sections: the Section a section returns, tables,
numbers with their intervals ("n/a" where an interval is undefined), p-values, figure links."""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .columns import POINTS


@dataclass(frozen=True)
class Section:
    markdown: str
    figures: dict = field(default_factory=dict)  # file name -> matplotlib Figure
    files: dict = field(default_factory=dict)  # file name beside the report -> its text


def md_table(frame, floatfmt=".2f"):
    """A github markdown table: numbers formatted with floatfmt, text columns (labels such as
    lr '0.003', preformatted figures such as '0.0020') printed as they are."""
    if not len(frame):
        return "_no runs_"
    text = [
        i
        for i, column in enumerate(frame.columns)
        if not pd.api.types.is_numeric_dtype(frame[column])
    ]
    return frame.to_markdown(index=False, floatfmt=floatfmt, disable_numparse=text)


def number(value, fmt="+.2f"):
    """`value` formatted, 'n/a' if not finite; a rounding residue prints as 0, not -0.00."""
    if not np.isfinite(value):
        return "n/a"
    text = format(value, fmt)
    return format(0.0, fmt) if float(text) == 0 else text


def interval(low, high, fmt="+.2f"):
    """'[low, high]', or 'n/a' when either bound is undefined (fewer than 2 pairs or seeds)."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return "n/a"
    return f"[{number(low, fmt)}, {number(high, fmt)}]"


P_FLOOR = 1e-6  # smaller p-values print as this bound (their order lives in the CSV)


def p_value(p):
    """'0.0123' down to 1e-4, then '3.2e-05', then '< 1e-6': small p-values keep their order."""
    if not np.isfinite(p):
        return "n/a"
    if p >= 1e-4:
        return f"{p:.4f}"
    return f"{p:.1e}" if p >= P_FLOOR else f"< {P_FLOOR:.0e}"


def p_clause(name, p):
    """'name = 0.0020', 'name < 0.0001' or 'name n/a', for running text."""
    text = p_value(p)
    return f"{name} {text}" if text.startswith("<") else f"{name} = {text}"


def mean_std(values, scale=POINTS):
    values = np.asarray(values, float) * scale
    if len(values) == 0:
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{values.mean():.2f} ± {values.std(ddof=1):.2f}"


def figure_link(data, name):
    return f"![{name}](figures/{data.grid}/{name})"
