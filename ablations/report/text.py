"""Markdown building blocks shared by the sections: tables, numbers with their intervals
("n/a" where an interval is undefined), p-values, and figure links."""
import numpy as np

from .frame import POINTS


def md_table(frame, floatfmt=".2f", parse_numbers=True):
    """A github markdown table; parse_numbers=False keeps preformatted strings ('0.0020') as
    they are instead of reformatting them with floatfmt."""
    if not len(frame):
        return "_no runs_"
    return frame.to_markdown(index=False, floatfmt=floatfmt, disable_numparse=not parse_numbers)


def number(value, fmt="+.2f"):
    return f"{value:{fmt}}" if np.isfinite(value) else "n/a"


def interval(low, high, fmt="+.2f"):
    """'[low, high]', or 'n/a' when either bound is undefined (fewer than 2 pairs or seeds)."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return "n/a"
    return f"[{low:{fmt}}, {high:{fmt}}]"


def p_value(p):
    if not np.isfinite(p):
        return "n/a"
    return f"{p:.4f}" if p >= 1e-4 else "< 0.0001"


def mean_std(values, scale=POINTS):
    values = np.asarray(values, float) * scale
    if len(values) == 0:
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{values.mean():.2f} ± {values.std(ddof=1):.2f}"


def figure_link(data, name):
    return f"![{name}](figures/{data.grid}/{name})"

