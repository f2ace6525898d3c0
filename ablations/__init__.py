"""The ablation harness: datasets, the grid, the parallel runner and the report.

`__version__` is the scratchbench distribution's version (pyproject.toml reads it from here).
"""
__version__ = "0.1.0"
